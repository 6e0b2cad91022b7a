"""params.yaml validated: bad keys fail at once by name, sections agree, notebooks default to params.yaml."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from a1lab.monitoring.alerts import Rule
from a1lab.params import ParamsError, check_section, load_params, validate

ROOT = Path(__file__).resolve().parents[2]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def changed(path: str, value) -> dict:
    """A deep copy of params.yaml with one dotted key set (or removed when value is ...)."""
    params = json.loads(json.dumps(PARAMS))
    *parents, last = path.split(".")
    node = params
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is ...:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return params


def test_the_shipped_params_are_valid():
    params = load_params(ROOT / "params.yaml")
    assert params.models["lgbm"].estimator == "LGBMModel" and params.protocol.test_seasons == ["2324", "2425"]


@pytest.mark.parametrize("path, value, message", [
    ("train.tets_seasons", ["2324"], "train.tets_seasons: Extra inputs are not permitted"),
    ("monitoring.rules.1.detector", "zcore", "monitoring.rules.1.detector: Input should be 'zscore' or 'iqr'"),
    ("protocol.test_seasons", [2324], "protocol.test_seasons.0: Input should be a valid string"),
    ("protocol.prediction_time", "kickoff", "protocol.prediction_time: Input should be 'open' or 'close'"),
    ("backtest.strategies.kelly.method", "martingale", "backtest.strategies.kelly.method"),
    ("ensemble.conformal_levels", [0.8, 1.5], "ensemble.conformal_levels.1: Input should be less than 1"),
    ("features.margin_method", "proportional", "features.margin_method"),
    ("drift.threshold", ..., "drift.threshold: Field required"),
    ("models.xgb.max_dept", 4, "models.xgb: Value error, XGBModel takes no ['max_dept']"),
    ("models.xgb.estimator", "XGBoost", "no model 'XGBoost' in a1lab.models; known: ['LGBMModel'"),
    ("monitoring.channels.0.type", "pager", "monitoring.channels.0: Input tag 'pager' found using 'type' does not"),
])
def test_a_bad_key_fails_at_once_by_name(path, value, message):
    with pytest.raises(ParamsError, match="^params.yaml: .*" + message.replace("[", r"\[").replace("(", r"\(")):
        validate(changed(path, value))


@pytest.mark.parametrize("path, value, message", [
    ("ensemble.members", ["xgb", "catboost"], "ensemble.members ['catboost'] are not entries of models"),
    ("protocol.validation_season", "2324", "is a test season: features would be chosen on test results"),
    ("protocol.oos_seasons", ["2324"], "protocol: Value error, oos_seasons and test_seasons share ['2324']"),
    ("ensemble.test_seasons", ["2425"], "ensemble.test_seasons: Extra inputs are not permitted"),
    ("drift.model", "rf", "drift.model 'rf' is not an entry of models"),
    ("backtest.model", "rf", "backtest.model 'rf' is neither ensemble nor an entry of models"),
])
def test_sections_must_agree(path, value, message):
    with pytest.raises(ParamsError, match=message.replace("[", r"\[").replace("(", r"\(")):
        validate(changed(path, value))


def test_one_section_on_its_own():
    assert check_section("live", PARAMS["live"]).staking.staking().fraction == 0.25
    with pytest.raises(ParamsError, match="no section 'lvie'"):
        check_section("lvie", {})


def test_an_unknown_detector_is_refused_by_the_rule_too():
    """Before: any detector but zscore silently became the IQR detector."""
    with pytest.raises(ValueError, match="detector must be zscore or iqr, not 'zcore'"):
        Rule("gap", "rps_gap", kind="anomaly", detector="zcore")


def parameters_cell(stage: str) -> dict:
    name = stage.split("@")[0]
    notebook = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    cell = next(c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", []))
    values = {}
    for node in ast.parse("".join(cell["source"])).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


NOTEBOOK_STAGES = sorted(n for n, s in STAGES.items() if "run_notebook.py" in s.get("do", s)["cmd"])


@pytest.mark.parametrize("stage", NOTEBOOK_STAGES)
def test_each_notebook_defaults_to_params_yaml(stage):
    """A notebook opened by hand runs with the pipeline's values: its parameters cell equals params.yaml
    (None where the cell reads the value from params.yaml itself)."""
    cmd = STAGES[stage].get("do", STAGES[stage])["cmd"].split()
    section = cmd[cmd.index("--section") + 1] if "--section" in cmd else cmd[2]
    extra = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--with"]
    cell = parameters_cell(stage)
    expected = {**PARAMS[section], **{s: PARAMS[s] for s in extra}}
    if "--model" in cmd:
        expected |= {"model": cell["model"], "settings": PARAMS["models"][cell["model"]]}
    for key, value in expected.items():
        assert key in cell, f"{stage}: the parameters cell lacks {key}"
        assert cell[key] is None or cell[key] == value, f"{stage}: {key} = {cell[key]!r}, params.yaml: {value!r}"


def test_a_stage_refuses_bad_params_in_one_line(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(changed("monitoring.rules.1.detector", "zcore")))
    out = subprocess.run([sys.executable, str(ROOT / "pipelines" / "run_notebook.py"), "data", "--params",
                          str(tmp_path / "params.yaml"), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        f"{tmp_path / 'params.yaml'}: monitoring.rules.1.detector: Input should be 'zscore' or 'iqr'"]
    assert not (tmp_path / "out").exists()
