"""The hyper-parameter search sees only seasons before the first test season, and is reproducible."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from a1lab.models.xgb import XGBModel
from a1lab.tuning import Dimension, inner_seasons, trial_table, tune, tuning_metrics, write_outputs

SPACE = {"max_depth": {"type": "int", "low": 2, "high": 4},
         "learning_rate": {"low": 0.02, "high": 0.2, "log": True}}
BASE = {"n_estimators": 60, "learning_rate": 0.05, "max_depth": 3, "early_stopping_rounds": 10}


@pytest.fixture(scope="module")
def common(live_lab) -> dict:
    """Every eighth open-time feature of the shared lab and the Pinnacle offset."""
    return {"features": live_lab["features"][::8], "offset": live_lab["offset"], "seed": 3}


def _search(frame, common, trials=4):
    return tune(frame, XGBModel, BASE, SPACE, "2324", common, trials=trials, inner=1, seed=11, batch=2,
                timings=("open",))


def _flip(frame, seasons) -> object:
    """The frame with every result of ``seasons`` changed (home wins become away wins and so on)."""
    out = frame.copy()
    rows = out["season"].isin(seasons)
    out.loc[rows, "result"] = out.loc[rows, "result"].map({"H": "A", "A": "D", "D": "H"})
    return out


def test_the_choice_ignores_test_season_results_but_not_earlier_ones(live_lab, common):
    frame = live_lab["frame"]
    first = _search(frame, common)
    assert len(first["trials"]) == 4 and first["seasons"] == ["2223"]
    beaten = [t for t in first["trials"] if t["ci95"][1] < 0]  # the noise-aware rule: BASE unless beaten clearly
    assert first["chosen"] == ({**BASE, **min(beaten, key=lambda t: t["value"])["params"]} if beaten else BASE)
    assert first["best"] == (min(t["value"] for t in beaten) if beaten else first["base"])
    later = _flip(frame, ["2324", "2425", "2526"])
    assert _search(later, common) == first, "a test-season result changed the search"
    earlier = _flip(frame, ["2223"])  # the season the search forecasts: it must matter
    assert [t["value"] for t in _search(earlier, common)["trials"]] != [t["value"] for t in first["trials"]]


def test_no_trials_keeps_the_written_hyper_parameters(live_lab, common):
    result = _search(live_lab["frame"], common, trials=0)
    assert result["chosen"] == BASE and result["best"] is None and trial_table(result).empty
    short = live_lab["frame"][live_lab["frame"]["season"] >= "2122"]  # too short a history for a search
    assert _search(short, common, trials=0)["chosen"] == BASE
    with pytest.raises(ValueError, match="needs 3 seasons before 2324"):
        _search(short, common, trials=1)


def test_outputs_of_a_search(live_lab, common):
    result = _search(live_lab["frame"], common, trials=2)
    table = trial_table(result)
    assert list(table.columns[:3]) == ["trial", "value", "best"]
    assert np.all(np.diff(table["best"]) <= 0) and table["best"].iloc[-1] == min(t["value"] for t in result["trials"])
    assert (table["low"] <= table["minus_base"]).all() and (table["minus_base"] <= table["high"]).all()
    metrics = tuning_metrics(result)
    assert metrics["chosen"] == result["chosen"] and len(metrics["trials"]) == 2


def test_the_stage_files_of_a_search(live_lab, common, tmp_path):
    result = _search(live_lab["frame"], common, trials=2)
    none = _search(live_lab["frame"], common, trials=0)
    write_outputs({"xgb": result, "nn": none}, tmp_path / "tuned", tmp_path / "metrics" / "tune.json",
                  tmp_path / "tune")
    assert json.loads((tmp_path / "tuned" / "xgb.json").read_text())["chosen"] == result["chosen"]
    assert json.loads((tmp_path / "tuned" / "nn.json").read_text())["chosen"] == BASE
    metrics = json.loads((tmp_path / "metrics" / "tune.json").read_text())
    assert metrics["xgb"]["best_rps"] == round(result["best"], 6) and metrics["nn"]["trials"] == []
    trials = pd.read_csv(tmp_path / "tune" / "xgb_trials.csv")
    assert trials["trial"].tolist() == [0, 1]
    assert trials["best"].iloc[-1] == round(min(t["value"] for t in result["trials"]), 6)
    assert metrics["xgb"]["base_rps"] == round(result["base"], 6) and "95 %" in metrics["xgb"]["rule"]


def test_search_settings_are_checked(live_lab):
    with pytest.raises(ValueError, match="not hyper-parameters"):
        tune(live_lab["frame"], XGBModel, BASE, {"gamma": {"low": 0, "high": 1}}, "2324", {}, trials=1)
    with pytest.raises(ValueError, match="give low < high, or choices"):
        Dimension.from_dict({"low": 2, "high": 1})
    with pytest.raises(ValueError, match="needs 12 seasons"):
        inner_seasons(live_lab["frame"], "2324", 10)


def test_a_trial_replaces_the_written_hyper_parameters_only_when_it_wins_beyond_the_noise(live_lab, common):
    """The written values (a deliberately poor learning rate) against trials: kept only while no trial's paired
    interval lies below zero. Before the rule, the lowest mean won, however small its lead."""
    poor = {**BASE, "learning_rate": 0.001, "n_estimators": 20}  # barely moves off the market offset
    result = tune(live_lab["frame"], XGBModel, poor, SPACE, "2324", common, trials=4, inner=1, seed=11, batch=2,
                  timings=("open",))
    beaten = [t for t in result["trials"] if t["ci95"][1] < 0]
    assert result["chosen"] == ({**poor, **min(beaten, key=lambda t: t["value"])["params"]} if beaten else poor)
    for t in result["trials"]:
        assert t["diff"] == pytest.approx(t["value"] - result["base"], abs=1e-12)
