"""Notebooks find the project from notebooks/ (JupyterLab's working folder) and write to scratch by hand."""

import os
from pathlib import Path

import pytest

from a1lab.workspace import Outputs, enter, project_root

ROOT = Path(__file__).resolve().parents[2]


def test_the_project_is_found_from_the_notebooks_folder_and_anywhere_below():
    assert project_root(ROOT / "notebooks") == ROOT == project_root(ROOT / "a1lab" / "models")
    with pytest.raises(FileNotFoundError, match="open the notebook from the repo's notebooks/ folder"):
        project_root("/")


@pytest.fixture
def project(tmp_path):
    """A project folder with the repository's pipeline and params, and nothing run yet."""
    import shutil

    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "notebooks").mkdir()
    here = Path.cwd()
    yield tmp_path
    os.chdir(here)


def test_outside_the_pipeline_outputs_go_to_scratch(project, capsys):
    assert Outputs("train", pipeline=True).path("metrics") == "metrics"
    assert Outputs("train", pipeline=False).path("metrics") == os.path.join("scratch", "train", "metrics")
    for path in ("data/predictions", "data/features.parquet", "data/matches.parquet"):  # the ensemble's inputs
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).touch()
    os.chdir(project / "notebooks")
    out = enter("ensemble", pipeline=False)
    assert Path.cwd() == project and out.path("data/ensemble.parquet") == "scratch/ensemble/data/ensemble.parquet"
    assert (project / "scratch" / "ensemble" / "data").is_dir()  # ready to write into
    assert (project / out.path("reports/drift")).is_dir()  # a folder output is made itself
    assert "outputs go to scratch/ensemble/" in capsys.readouterr().out


def test_a_notebook_opened_before_its_inputs_exist_says_which_stage_to_run(project):
    """Before: a raw FileNotFoundError deep in pandas. Now one line, before anything is read."""
    os.chdir(project / "notebooks")
    with pytest.raises(SystemExit, match=r"^data/matches.parquet is not there yet: run `dvc repro ingest` first"):
        enter("data")
    (project / "data").mkdir()
    (project / "data" / "matches.parquet").touch()
    with pytest.raises(SystemExit, match=r"^data/features.parquet is not there yet: run `dvc repro features`"):
        enter("train")
