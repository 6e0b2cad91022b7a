"""Data sets as folders of datasets/: each one's params.yaml and dvc.yaml follow from its config.yaml and the
root, so a data set keeps its own outputs, lock and metrics without copying the repository."""

import sys
from pathlib import Path

import pytest
import yaml

from a1lab.testing import dataset_params

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "pipelines"))
import dataset  # noqa: E402

from a1lab.params import validate  # noqa: E402


def test_the_shipped_data_sets_are_folders_with_up_to_date_generated_files():
    assert {"demo", "extra", "main-close", "nba", "nhl"} <= set(dataset.shipped())
    assert dataset.stale() == [], "run `python pipelines/dataset.py --check` and regenerate"
    assert dataset.main(["--check"]) == 0


@pytest.mark.parametrize("name", ["main", *dataset.shipped()])
def test_every_data_set_has_valid_settings_and_a_test_season(name):
    params = validate(dataset_params(name))
    assert params.protocol.test_seasons


@pytest.mark.parametrize("name", dataset.shipped())
def test_a_data_set_pipeline_reads_the_repository_code_and_writes_only_into_its_folder(name):
    folder = ROOT / "datasets" / name
    mine = yaml.safe_load((folder / "dvc.yaml").read_text())["stages"]
    root = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert list(mine) == list(root)
    for stage in mine.values():
        body = stage.get("do", stage)
        for dep in body.get("deps", []):
            if "${" not in dep and dep.startswith("../"):
                assert (folder / dep).resolve().exists(), dep
        outs = [o if isinstance(o, str) else next(iter(o)) for key in ("outs", "metrics", "plots")
                for o in body.get(key, [])]
        assert outs and not any(o.startswith(("/", "..")) for o in outs)
        assert "pipelines/" not in body["cmd"] or "../../pipelines/" in body["cmd"]


def test_an_edited_config_makes_its_folder_stale_until_written_again(tmp_path, monkeypatch):
    """The check fails until the generated files are written again (the test suite runs it)."""
    features = dataset.params_for("demo")["features"]
    monkeypatch.setattr(dataset, "DATASETS", tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "config.yaml").write_text("protocol: {test_seasons: ['2425']}\n")
    assert dataset.stale() == ["mine"]
    dataset.write("mine")
    assert dataset.stale() == []
    params = yaml.safe_load((tmp_path / "mine" / "params.yaml").read_text())
    assert params["protocol"]["test_seasons"] == ["2425"] and params["features"] == features
    (tmp_path / "mine" / "config.yaml").write_text("protocol: {test_seasons: ['2324']}\n")
    assert dataset.stale() == ["mine"] and dataset.main(["--check"]) == 1


def test_the_command_refuses_an_unknown_data_set_and_a_bad_key_before_running(tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match="no data set 'nfl': the data sets are"):
        dataset.main(["nfl"])
    monkeypatch.setattr(dataset, "DATASETS", tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.yaml").write_text("protocol: {season_keys: by_label}\n")
    with pytest.raises(SystemExit, match="protocol.season_keys"):
        dataset.main(["bad"])
    assert sorted(p.name for p in (tmp_path / "bad").iterdir()) == ["config.yaml"]  # nothing written, nothing run


def test_a_data_set_derives_from_the_committed_root_params_not_an_applied_experiment(tmp_path, monkeypatch):
    import subprocess

    (tmp_path / "params.yaml").write_text("train: {seed: 1}\n")
    monkeypatch.setattr(dataset, "ROOT", tmp_path)
    assert dataset.committed_params() == {"train": {"seed": 1}}  # not a git checkout yet: the file
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "params.yaml"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "params"], cwd=tmp_path, check=True)
    (tmp_path / "params.yaml").write_text("train: {seed: 2}\n")  # `dvc exp apply` in the root's workspace
    assert dataset.committed_params() == {"train": {"seed": 1}}


def test_a_data_set_folder_is_a_dvc_project_sharing_the_root_cache():
    import configparser

    for name in dataset.shipped():
        folder = ROOT / "datasets" / name
        config = configparser.ConfigParser()
        config.read_string((folder / ".dvc" / "config").read_text())
        assert (folder / ".dvc" / config["cache"]["dir"]).resolve() == (ROOT / ".dvc" / "cache").resolve()
        assert (folder / ".dvc" / config["plots"]["html_template"]).resolve().is_file()
