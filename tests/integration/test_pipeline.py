"""The DVC pipeline end to end, in a copy of the repo, on the synthetic league."""

import json
import platform
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from a1lab.cpu import X86_64

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "pipelines"))
import dataset  # noqa: E402
import run_notebook  # noqa: E402

from a1lab.testing import repo_copy, repro, repro_job  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_repo(tmp_path_factory):
    target = tmp_path_factory.mktemp("demo") / "repo"
    repo_copy(target, {
        "data": {"sources": [{"layout": "synthetic", "leagues": 2, "seasons": 4, "seed": 5}]},
        "protocol": {"test_seasons": ["1819"], "oos_seasons": ["1718"], "validation_season": "1617"},
        "features": {"selection": {"top_k": 20, "corr_threshold": 0.95, "seed": 1}},
        "train": {"explain_sample": 5},
        "models": {"xgb": {"n_estimators": 200}, "nn": {"max_epochs": 4, "seeds": 2}, "lgbm": {"n_estimators": 200}},
        "drift": {"seasons": ["1819"], "min_month_matches": 100, "reference_sample": 1000},
    })
    repro(target)
    return target


def test_repro_writes_every_output(demo_repo):
    metrics = json.loads((demo_repo / "metrics" / "ingest.json").read_text())
    assert metrics["rows_kept"] == 2 * 4 * 380 == metrics["rows_read"]
    assert (demo_repo / "data" / "matches.parquet").is_file()
    html = (demo_repo / "reports" / "notebooks" / "data.html").read_text()
    assert "Result base rates" in html and "<img" in html  # executed, with its plot
    features = json.loads((demo_repo / "metrics" / "features.json").read_text())
    assert features["rows"] == metrics["rows_kept"] and features["features_selected_open"] == 20
    selected = json.loads((demo_repo / "data" / "features_selected.json").read_text())
    assert len(selected["open"]) == 20 and not [f for f in selected["open"] if "close" in f]
    assert "Elo trajectories" in (demo_repo / "reports" / "notebooks" / "features.html").read_text()
    executed = json.loads((demo_repo / "reports" / "notebooks" / "data.ipynb").read_text())
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and "".join(injected[0]["source"]) == '# Parameters\nparams_path = "params.yaml"\npipeline = True\n'
    printed = "".join("".join(o.get("text", "")) for c in executed["cells"] for o in c.get("outputs", []))
    assert "sources: ['synthetic']" in printed  # the settings come from the copy's params.yaml
    for path in (demo_repo / "reports" / "notebooks").glob("*.ipynb"):  # no machine's paths in what is published
        text = path.read_text()
        assert "site-packages" not in text and str(Path(sys.executable).parent.parent) not in text, path.name


def test_models_are_trained_registered_and_scored(demo_repo):
    for name in ("xgb", "nn", "lgbm"):  # one stage per entry of params.yaml `models`
        metrics = json.loads((demo_repo / "metrics" / f"train_{name}.json").read_text())
        assert metrics["overall"]["n"] == metrics["by_season"]["1819"]["n"] == 2 * 380
        assert 0.9 < metrics["overall"]["rps_ratio_open"] < 1.1
        meta = json.loads((demo_repo / "models" / name / "v1" / "metadata.json").read_text())
        assert meta["training_seasons"] == ["1516", "1617"] and meta["validation_season"] == "1718"
        assert len(meta["features"]) == 20
        assert len(list((demo_repo / "reports" / f"train_{name}" / "shap").glob("*.png"))) == 3
        predictions = pd.read_parquet(demo_repo / "data" / "predictions" / f"{name}.parquet")
        explained = predictions["top_features"].notna()
        assert explained.all() if name != "nn" else explained.sum() == 5  # tree SHAP for all, else a sample
    assert json.loads((demo_repo / "models" / "lgbm" / "v1" / "metadata.json").read_text())["estimator"] == "LGBMModel"


def test_ensemble_and_backtest_outputs(demo_repo):
    ens = json.loads((demo_repo / "metrics" / "ensemble.json").read_text())
    assert ens["best"] in ("weighted", "voting", "stacking", "dynamic")
    assert set(ens["candidates"]) == {"xgb", "nn", "lgbm", "market", "weighted", "voting", "stacking", "dynamic"}
    assert ens["overall"]["n"] == 2 * 380 and ens["overall"]["rps"] == ens["candidates"][ens["best"]]["rps"]
    for level in ("0.8", "0.9"):
        assert abs(ens["conformal"][level]["1819"]["adaptive"]["coverage"] - float(level)) < 0.06
    bt = json.loads((demo_repo / "metrics" / "backtest.json").read_text())
    assert bt["strategies_tried"] == len(bt["strategies"]) == 5
    for summary in bt["strategies"].values():
        assert {"bets", "roi", "roi_ci95", "max_drawdown", "sharpe", "clv_mean", "beat_close_share", "stress",
                "risk_of_ruin"} <= set(summary)
        assert set(summary["stress"]) == {"1%", "2%", "3%"}
    assert "no max open prices" in bt["consensus"]["skipped"]  # the synthetic books have no best price: said so
    bets = pd.read_parquet(demo_repo / "data" / "bets.parquet")
    assert (bets["bankroll"] >= 0).all() and set(bets["strategy"]) <= set(bt["strategies"])
    assert (demo_repo / "reports" / "backtest" / "bankroll.png").stat().st_size > 1000


def test_drift_reports_and_index(demo_repo):
    drift = json.loads((demo_repo / "metrics" / "drift.json").read_text())
    assert drift["reference_seasons"] == ["1516", "1617"] and drift["reports"] == len(drift["headlines"]) >= 2
    assert "season_1819" in drift["headlines"]
    folder = demo_repo / "reports" / "drift"
    index = (folder / "index.html").read_text()
    for name in drift["headlines"]:
        page = f"months.html#{name}" if name.startswith("month_") else f"{name}.html"
        assert f'href="{page}"' in index and (folder / page.split("#")[0]).is_file()
        assert json.loads((folder / f"{name}.json").read_text())["name"] == name
    assert len(list(folder.glob("*.html"))) == 3  # index, months, one Evidently page for the one season
    assert (folder / "performance.png").is_file()


def _outputs(repo: Path) -> dict:
    """Every stage output's hash in dvc.lock."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {(stage, out["path"]): out["md5"] for stage, entry in lock["stages"].items() for out in entry["outs"]}


@pytest.fixture(scope="module")
def reruns(demo_repo, tmp_path_factory) -> dict:
    """The demo's metrics and output hashes, then side by side (two processes for two cores): the demo forced to
    rerun every stage, and a copy of it forecasting at the close (``protocol.prediction_time: close``)."""
    import shutil

    names = ["ingest", "train_xgb", "train_nn", "train_lgbm", "ensemble", "backtest"]
    before = {n: (demo_repo / "metrics" / f"{n}.json").read_text() for n in names}
    hashes = _outputs(demo_repo)
    repro(demo_repo)  # nothing changed: a no-op
    close = tmp_path_factory.mktemp("close") / "repo"
    shutil.copytree(demo_repo, close, symlinks=True)
    params = yaml.safe_load((close / "params.yaml").read_text())
    params["protocol"]["prediction_time"] = "close"
    (close / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    jobs = [subprocess.Popen(argv, cwd=cwd, env=env) for argv, cwd, env in
            (repro_job(demo_repo, "--force"), repro_job(close))]
    assert [job.wait() for job in jobs] == [0, 0]
    return {"before": before, "hashes": hashes, "close": close}


def test_forced_repro_gives_identical_outputs(demo_repo, reruns):
    after = {n: (demo_repo / "metrics" / f"{n}.json").read_text() for n in reruns["before"]}
    assert after == reruns["before"]
    # every output to the byte (executed notebooks, registered models, drift pages, plots): what a fresh clone's
    # `dvc repro` must do to leave dvc.lock, and so `git status`, as committed
    changed = {k for k, v in _outputs(demo_repo).items() if reruns["hashes"].get(k) != v}
    assert not changed and len(reruns["hashes"]) > 30


def _stale(repo: Path) -> set[str]:
    """The stages `dvc status` says would rerun (sources always does: it hashes the data files)."""
    import subprocess

    argv, cwd, env = repro_job(repo)
    out = subprocess.run([argv[0], "status", "--json"], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout)) - {"sources"}


def test_dependencies_follow_use(demo_repo):
    """A new model (one module, one params entry) or an edit of one model's module reruns its own train stage
    and the stages that consume every model, never the other models' training; an edit of the live loop or
    of the docs reruns nothing."""
    import yaml

    assert _stale(demo_repo) == set()
    models = demo_repo / "a1lab" / "models"
    params_text = (demo_repo / "params.yaml").read_text()
    consumers = {"tune", "ensemble", "backtest", "drift"}
    try:
        module = models / "xgb_copy.py"
        module.write_text((models / "xgb.py").read_text().replace("class XGBModel", "class XGBCopy"))
        params = yaml.safe_load(params_text)
        params["models"]["xgb_copy"] = {**params["models"]["xgb"], "estimator": "XGBCopy", "module": "xgb_copy"}
        (demo_repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        added = _stale(demo_repo)
        assert "train@xgb_copy" in added and added <= {"train@xgb_copy"} | consumers, added
        module.unlink()
        (demo_repo / "params.yaml").write_text(params_text)
        assert _stale(demo_repo) == set()

        lgbm = (models / "lgbm.py").read_text()
        (models / "lgbm.py").write_text(lgbm + "\n# an edit\n")
        edited = _stale(demo_repo)
        (models / "lgbm.py").write_text(lgbm)
        assert "train@lgbm" in edited and edited <= {"train@lgbm"} | consumers, edited

        loop = demo_repo / "a1lab" / "live" / "loop.py"
        text = loop.read_text()
        loop.write_text(text + "\n# an edit\n")
        (demo_repo / "README.md").write_text((demo_repo / "README.md").read_text() + "\nan edit\n")
        assert _stale(demo_repo) == set()
        loop.write_text(text)
    finally:
        (demo_repo / "a1lab" / "models" / "xgb_copy.py").unlink(missing_ok=True)
        (demo_repo / "params.yaml").write_text(params_text)


@pytest.mark.realdata
def test_the_data_root_leaves_no_trace_in_the_outputs(data_root, tmp_path):
    """The same files under two data roots give the same dvc.lock: sources are recorded relative to the root."""
    import shutil

    roots = []
    for name in ("first", "second"):
        root = tmp_path / name / "football-data"
        for season in ("1920", "2021", "2122", "2223"):
            (root / "mmz4281" / season).mkdir(parents=True)
            shutil.copy2(data_root / "mmz4281" / season / "E0.csv", root / "mmz4281" / season / "E0.csv")
        roots.append(root)
    repo = repo_copy(tmp_path / "repo", {
        "data": {"root": "auto", "sources": [{"layout": "football-data", "leagues": ["E0"],
                                              "seasons": ["1920", "2021", "2122", "2223"]}]},
        "protocol": {"test_seasons": ["2223"], "oos_seasons": ["2122"], "validation_season": "2122"},
        "drift": {"seasons": ["2223"]},
        "features": {"selection": {"top_k": 10, "corr_threshold": 0.95, "seed": 1}}})
    locks = []
    for root in roots:
        repro(repo, "--force", "features", env={"A1LAB_DATA_ROOT": str(root)})
        locks.append((repo / "dvc.lock").read_text())
    assert locks[0] == locks[1]
    matches = pd.read_parquet(repo / "data" / "matches.parquet")
    assert set(matches["source"]) == {f"mmz4281/{s}/E0.csv" for s in ("1920", "2021", "2122", "2223")}
    # a run that cannot reach its data (the mirror gone) fails at the manifest and changes nothing
    kept = ["dvc.lock", "data/sources.json", "data/matches.parquet", "data/rejected.parquet", "metrics/ingest.json"]
    before = {path: (repo / path).read_bytes() for path in kept}
    with pytest.raises(subprocess.CalledProcessError):
        repro(repo, "features", env={"A1LAB_DATA_ROOT": str(tmp_path / "gone")})
    assert {path: (repo / path).read_bytes() for path in kept} == before
    # a protocol the data cannot run is refused by ingest, and the last good outputs stay (DVC keeps them)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["protocol"]["test_seasons"] = ["9999"]
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.raises(subprocess.CalledProcessError):
        repro(repo, "ingest", env={"A1LAB_DATA_ROOT": str(roots[0])})
    assert {path: (repo / path).read_bytes() for path in kept if path != "data/sources.json"} == \
        {path: data for path, data in before.items() if path != "data/sources.json"}


@pytest.mark.skipif(platform.machine() not in X86_64, reason="the pins are x86-64's")
def test_the_runner_pins_the_cpu_code_paths_over_the_environment():
    """What a stage (and its kernel or Dask workers) runs with: the baseline code paths whatever the machine
    presets (these machines set OPENBLAS_CORETYPE=Haswell; the test presets kernels every x86-64 CPU runs),
    unless A1LAB_NATIVE_CPU=1."""
    import os
    import subprocess

    probe = ("import os; from a1lab.cpu import baseline_cpu; baseline_cpu(); "
             "import numpy, threadpoolctl; print(os.environ.get('ATEN_CPU_CAPABILITY'), "
             "sorted({i['architecture'] for i in threadpoolctl.threadpool_info() if i['internal_api'] == 'openblas'}), "
             "numpy._core._multiarray_umath.__cpu_features__['X86_V4'])")
    root = Path(run_notebook.ROOT)
    env = {**os.environ, "OPENBLAS_CORETYPE": "Prescott"}
    env.pop("A1LAB_NATIVE_CPU", None)
    pinned = subprocess.run([sys.executable, "-c", probe], cwd=root, env=env, capture_output=True, text=True,
                            check=True).stdout.split(None, 1)
    assert pinned[0] == "default" and "['Nehalem'] False" in pinned[1]
    native = subprocess.run([sys.executable, "-c", probe], cwd=root, env={**env, "A1LAB_NATIVE_CPU": "1"},
                            capture_output=True, text=True, check=True).stdout
    assert native.startswith("None [") and "Nehalem" not in native


def test_overrides_merge_nested_sections():
    base = {"models": {"xgb": {"estimator": "XGBModel", "max_depth": 3}}, "train": {"seed": 1}}
    merged = dataset.merge(base, {"models": {"xgb": {"max_depth": 2}, "lgbm": {"estimator": "LGBMModel"}}})
    assert merged == {"models": {"xgb": {"estimator": "XGBModel", "max_depth": 2}, "lgbm": {"estimator": "LGBMModel"}},
                      "train": {"seed": 1}}


def test_close_time_forecasts_run_and_are_scored_against_the_close(demo_repo, reruns):
    """protocol.prediction_time: close reruns the stages after ingest with closing-time features, a
    closing-price offset and the close as the ensemble's market member."""
    repo = reruns["close"]
    xgb = json.loads((repo / "metrics" / "train_xgb.json").read_text())["overall"]
    opening = json.loads((demo_repo / "metrics" / "train_xgb.json").read_text())["overall"]
    assert abs(xgb["rps_ratio_close"] - 1) < abs(opening["rps_ratio_close"] - 1)  # it starts from the close now
    assert "market_open" not in xgb and "rps_ratio_open" not in xgb  # scored beside the close only
    assert json.loads((repo / "metrics" / "train_xgb.json").read_text())["reference"]["timings"] == ["close"]
    meta = json.loads((repo / "models" / "xgb" / "v1" / "metadata.json").read_text())
    assert meta["prediction_time"] == "close" and any("close" in f for f in meta["features"])
    ens = json.loads((repo / "metrics" / "ensemble.json").read_text())
    assert ens["candidates"]["market"]["rps"] == ens["overall"]["market_close"]["rps"]


def test_a_stage_without_its_inputs_fails_in_one_line_with_a_hint(tmp_path):
    import subprocess

    repo = repo_copy(tmp_path / "repo")  # nothing has run: no data/
    out = subprocess.run([sys.executable, "pipelines/run_notebook.py", "ensemble"], cwd=repo,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("ensemble: cell ") and "data/features.parquet is not there yet" in line
    assert "run `dvc repro features` first" in line and "reports/notebooks/ensemble.ipynb" in line


def test_every_command_line_option_has_help():
    import argparse
    import ast

    import run_notebook

    from a1lab.cli import build_parser

    def parsers(parser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from parsers(sub)

    missing = [f"{p.prog} {a.option_strings or a.dest}" for root in (build_parser(),) for p in parsers(root)
               for a in p._actions if not isinstance(a, argparse._SubParsersAction | argparse._HelpAction)
               and not a.help]
    assert not missing
    for script in (run_notebook, dataset):  # the pipelines' own command lines
        calls = [n for n in ast.walk(ast.parse(Path(script.__file__).read_text())) if isinstance(n, ast.Call)
                 and getattr(n.func, "attr", "") == "add_argument"]
        assert calls and all(any(k.arg == "help" for k in c.keywords) for c in calls), script.__name__


def test_a_data_set_that_cannot_run_fails_in_its_own_folder_with_one_line(tmp_path):
    """A data set whose protocol the data cannot run stops at ingest with the reason, its folder holds no
    outputs of another data set (no metrics at all), and the command ends with one line, no traceback."""
    import subprocess

    repo = repo_copy(tmp_path / "repo")
    folder = repo / "datasets" / "tiny"
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("data: {sources: [{layout: synthetic, leagues: 1, seasons: 3, seed: 2}]}\n")
    argv, cwd, env = repro_job(repo)
    out = subprocess.run([sys.executable, "pipelines/dataset.py", "tiny"], cwd=repo, env=env, capture_output=True,
                         text=True, timeout=600)
    text = out.stdout + out.stderr
    assert out.returncode != 0 and "Traceback" not in text
    assert "protocol.test_seasons: 2324 has no matches" in text  # ingest's reason, streamed from DVC's run
    assert out.stdout.strip().splitlines()[-1].startswith("datasets/tiny: the pipeline failed")
    assert not (folder / "metrics").exists() and not (folder / "data" / "matches.parquet").exists()
    assert (repo / "metrics" / "ingest.json").is_file()  # the root's own metrics are where they were


def test_a_killed_parent_takes_the_notebook_runner_and_its_kernel_with_it(tmp_path):
    """`kill -9` of `dvc repro` (here: of the process that started the runner) ends the runner and its kernel:
    nothing keeps writing outputs beside an immediate rerun."""
    import os
    import signal
    import time

    import nbformat
    import psutil

    repo = repo_copy(tmp_path / "repo")
    cells = [nbformat.v4.new_code_cell('params_path = "params.yaml"\npipeline = False',
                                       metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell("import time\nfrom a1lab.workspace import enter\nenter('sleep', pipeline)\n"
                                       "time.sleep(300)")]
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
              "language_info": {"name": "python"}}
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata=kernel), repo / "notebooks" / "sleep.ipynb")
    runner = [sys.executable, "pipelines/run_notebook.py", "sleep", "--out", str(tmp_path / "out")]
    env = {**os.environ, "PYTHONPATH": str(repo)}  # the copy's code
    parent = subprocess.Popen([sys.executable, "-c", f"import subprocess; subprocess.run({runner!r})"], cwd=repo,
                              env=env)
    deadline, family = time.monotonic() + 90, []
    while time.monotonic() < deadline:
        family = psutil.Process(parent.pid).children(recursive=True)
        if any("ipykernel" in " ".join(p.cmdline()) for p in family if p.is_running()):
            break
        time.sleep(0.5)
    else:
        parent.kill()
        raise AssertionError("the kernel never started")
    time.sleep(2)  # the kernel is in the cell that sleeps
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    names = {p.pid: " ".join(p.cmdline())[:80] for p in family}
    _, alive = psutil.wait_procs(family, timeout=30)
    alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]  # ended, not yet reaped by init
    for p in alive:
        p.kill()
    assert not alive, [names[p.pid] for p in alive]
