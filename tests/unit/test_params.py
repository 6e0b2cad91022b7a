"""params.yaml validated: bad keys fail at once by name, sections agree, every setting is written once."""

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
    ("protocol.prediction_time", "kickoff",
     "protocol.prediction_time: Input should be 'open', 'lineup' or 'close'"),
    ("features.players", {"layout": "fpl", "path": "fpl", "league": "E0", "window": 0, "open_lead_hours": 48,
                          "lineup_lead_minutes": 60}, "features.players.window: Input should be greater than or equal"),
    ("backtest.strategies.kelly.method", "martingale", "backtest.strategies.kelly.method"),
    ("ensemble.conformal_levels", [0.8, 1.5], "ensemble.conformal_levels.1: Input should be less than 1"),
    ("features.margin_method", "proportional", "features.margin_method"),
    ("drift.threshold", ..., "drift.threshold: Field required"),
    ("models.xgb.max_dept", 4, "models.xgb: Value error, XGBModel takes no ['max_dept']"),
    ("models.xgb.estimator", "XGBoost", "no model 'XGBoost' in a1lab.models; known: ['LGBMModel'"),
    ("monitoring.channels.0", "https://hooks.example/T0/SECRET", "monitoring.channels: Value error, "
     "'https://hooks.example/T0/SECRET' is not an environment variable's name"),
])
def test_a_bad_key_fails_at_once_by_name(path, value, message):
    with pytest.raises(ParamsError, match="^params.yaml: .*" + message.replace("[", r"\[").replace("(", r"\(")):
        validate(changed(path, value))


@pytest.mark.parametrize("path, value, message", [
    ("ensemble.members", ["xgb", "catboost"], "ensemble.members ['catboost'] are not entries of models"),
    ("tune.space", {"xgb": {"max_dept": {"low": 1, "high": 3}}}, "the search space of models.xgb names ['max_dept']"),
    ("protocol.validation_season", "2324", "is a test season: features would be chosen on test results"),
    ("protocol.oos_seasons", ["2324"], "protocol: Value error, oos_seasons and test_seasons share ['2324']"),
    ("ensemble.test_seasons", ["2425"], "ensemble.test_seasons: Extra inputs are not permitted"),
    ("drift.model", "rf", "drift.model 'rf' is not an entry of models"),
    ("backtest.model", "rf", "backtest.model 'rf' is neither ensemble nor an entry of models"),
    ("protocol.prediction_time", "lineup", "protocol.prediction_time lineup needs player data"),
    ("features.players", {"layout": "fpl", "path": "fpl", "league": "SC0", "window": 5, "open_lead_hours": 48,
                          "lineup_lead_minutes": 60}, "features.players.league 'SC0' is not read by data.sources"),
    ("backtest.odds_timing", "close", "backtest.odds_timing close with protocol.prediction_time open: the closing"),
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


def _keys(node) -> set[str]:
    """Every key name of a params mapping, at any depth (list items and user-chosen names excluded)."""
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _keys(v)}
    return set()


SETTINGS = (_keys(PARAMS) - set(PARAMS["models"]) - set(PARAMS["backtest"]["strategies"])
            - {r["name"] for r in PARAMS["monitoring"]["rules"]})
# dataclasses that carry a params.yaml section's settings into the package
MIRRORS = {"a1lab/live/loop.py": "LoopConfig", "a1lab/monitoring/notify.py": "Dispatcher",
           "a1lab/betting.py": "ValueRule", "a1lab/features/selection.py": "SelectionConfig"}


def test_a_default_is_written_once():
    """params.yaml and the pydantic models of a1lab.params hold every setting and default; nothing else does:
    no notebook's parameters cell, no `.get(key, default)` of a params key in the package, the pipelines or
    the notebooks, and no default on a dataclass field that carries a params key."""
    twice = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        cell = next(c for c in cells if "parameters" in c["metadata"].get("tags", []))
        names = {n.targets[0].id for n in ast.parse("".join(cell["source"])).body if isinstance(n, ast.Assign)}
        twice += [f"{path.name} parameters cell: {k}" for k in sorted(names & SETTINGS - {"model"})]  # --model NAME
    sources = {p: p.read_text() for d in ("a1lab", "pipelines") for p in (ROOT / d).rglob("*.py")}
    sources |= {p: "\n".join("".join(c["source"]) for c in json.loads(p.read_text())["cells"]
                             if c["cell_type"] == "code") for p in (ROOT / "notebooks").glob("*.ipynb")}
    elsewhere = {("cli.py", "prediction_time")}  # a registered model's metadata, which older models lack
    for path, text in sources.items():
        if path.name == "params.py":
            continue
        for node in ast.walk(ast.parse(text)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                    and len(node.args) == 2 and isinstance(node.args[0], ast.Constant)
                    and node.args[0].value in SETTINGS - set(PARAMS)  # a section's name may name other things
                    and (path.name, node.args[0].value) not in elsewhere):
                twice.append(f"{path.relative_to(ROOT)}:{node.lineno} .get({node.args[0].value!r}, default)")
    for rel, name in MIRRORS.items():
        tree = ast.parse((ROOT / rel).read_text())
        cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)
        twice += [f"{rel} {name}.{f.target.id} = ..." for f in cls.body
                  if isinstance(f, ast.AnnAssign) and f.value is not None and f.target.id in SETTINGS]
    assert not twice, "written outside params.yaml and a1lab.params: " + "; ".join(twice)


def test_a_stage_refuses_bad_params_in_one_line(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(changed("monitoring.rules.1.detector", "zcore")))
    out = subprocess.run([sys.executable, str(ROOT / "pipelines" / "run_notebook.py"), "data", "--params",
                          str(tmp_path / "params.yaml"), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        f"{tmp_path / 'params.yaml'}: monitoring.rules.1.detector: Input should be 'zscore' or 'iqr'"]
    assert not (tmp_path / "out").exists()


def test_a_model_class_declares_its_label_and_search_space_and_params_override_a_range():
    params = load_params(ROOT / "params.yaml")
    assert params.labels() == {"xgb": "XGBoost", "nn": "Lightning MLP", "lgbm": "LightGBM",
                               "market_fix": "bias-corrected market"}
    space = params.search_space("xgb")
    assert space["max_depth"].type == "int" and (space["max_depth"].low, space["max_depth"].high) == (2, 5)
    assert params.search_space("market_fix") == {}
    narrowed = validate(changed("tune.space", {"xgb": {"max_depth": {"type": "int", "low": 2, "high": 3}}}))
    assert narrowed.search_space("xgb")["max_depth"].high == 3 and "reg_lambda" in narrowed.search_space("xgb")


def test_members_default_to_every_model_but_those_marked_otherwise():
    params = load_params(ROOT / "params.yaml")
    assert params.ensemble.members == [n for n, e in params.models.items() if e.member] + ["market"]
    assert "market_fix" not in params.ensemble.members  # `member: false` in its entry
    listed = validate(changed("ensemble.members", ["xgb", "market"]))
    assert listed.ensemble.members == ["xgb", "market"]


def test_the_ledger_hashes_the_settings_in_effect_not_how_they_are_written():
    """Members listed or derived, a search space in the class or restated in params.yaml: one hash, so a
    change of how params.yaml writes a setting is not a new configuration in the ledger of looks."""
    from a1lab.looks import params_hash

    params = load_params(ROOT / "params.yaml")
    written = changed("ensemble.members", params.ensemble.members)
    written["models"]["market_fix"].pop("member")
    written["tune"]["space"] = {n: {k: d.model_dump(exclude_none=True) for k, d in params.search_space(n).items()}
                                for n in params.models if params.search_space(n)}
    assert params_hash(validate(written).in_effect()) == params_hash(params.in_effect())
    moved = validate(changed("tune.space", {"xgb": {"max_depth": {"type": "int", "low": 2, "high": 4}}}))
    assert params_hash(moved.in_effect()) != params_hash(params.in_effect())


def test_a_division_no_source_reads_is_refused_before_any_stage():
    """`features.divisions` naming a league the sources never read (a typo, E9) ran every stage with it
    silently empty; each layout says which leagues its rows name."""
    europe = changed("features.divisions", {"England": ["E0", "E9"]})
    with pytest.raises(ParamsError, match=r"features.divisions names \['E9'\], which no source"):
        validate(europe)
    assert validate(changed("features.divisions", {"England": ["E0"]})).features.divisions == {"England": ["E0"]}
