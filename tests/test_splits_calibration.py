import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold, ShuffleSplit, TimeSeriesSplit

from a1lab.calibration import (
    IsotonicCalibration,
    TemperatureScaling,
    choose_calibration,
    load_calibrator,
    save_calibrator,
)
from a1lab.metrics import log_loss
from a1lab.splits import LeakageError, WalkForwardSplit, check_time_ordered


def frame(seasons=("1920", "2021", "2122", "2223")):
    rows = []
    for s in seasons:
        year = 2000 + int(s[:2])
        for month in (8, 9, 10):
            rows.append({"season": s, "kickoff": pd.Timestamp(f"{year}-{month:02d}-15", tz="UTC")})
    return pd.DataFrame(rows)


def test_walk_forward_by_season():
    f = frame()
    folds = list(WalkForwardSplit(("2122", "2223")).split(f))
    assert [fold.name for fold in folds] == ["2122", "2223"]
    first = folds[0]
    assert set(f.iloc[first.train]["season"]) == {"1920"} and first.validation_season == "2021"
    assert set(f.iloc[first.test]["season"]) == {"2122"}
    for fold in folds:  # never a row of the future in training or validation
        assert f.iloc[fold.train]["kickoff"].max() < f.iloc[fold.validation]["kickoff"].min()
        assert f.iloc[fold.validation]["kickoff"].max() < f.iloc[fold.test]["kickoff"].min()


def test_walk_forward_by_month():
    folds = list(WalkForwardSplit(("2223",), by="month").split(frame()))
    assert len(folds) == 3
    for fold in folds:
        f = frame()
        assert f.iloc[fold.train]["kickoff"].max() < f.iloc[fold.test]["kickoff"].min()
    assert len(folds[2].train) == len(folds[0].train) + 2


def test_needs_history_and_valid_mode():
    with pytest.raises(ValueError, match="two earlier seasons"):
        list(WalkForwardSplit(("2021",)).split(frame()))
    with pytest.raises(ValueError):
        list(WalkForwardSplit(("2223",), by="week").split(frame()))


@pytest.mark.parametrize("splitter", [KFold(5, shuffle=True, random_state=0), ShuffleSplit(3), KFold(5)])
def test_shuffled_splitters_are_refused(splitter):
    with pytest.raises(LeakageError, match="WalkForwardSplit"):
        check_time_ordered(splitter)


def test_time_ordered_splitters_pass():
    check_time_ordered(TimeSeriesSplit(5))
    check_time_ordered(WalkForwardSplit(("2223",)))


def overconfident(n=6000, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 0.7, (n, 3))
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=p) for p in truth])
    sharp = np.exp(logits * 2) / np.exp(logits * 2).sum(axis=1, keepdims=True)  # temperature 0.5
    return sharp, truth, y


def test_temperature_recovers_the_distortion():
    sharp, truth, y = overconfident()
    cal = TemperatureScaling().fit(sharp, y)
    assert cal.temperature == pytest.approx(2.0, rel=0.1)
    assert log_loss(cal.transform(sharp), y) < log_loss(sharp, y)
    assert cal.transform(sharp).sum(axis=1) == pytest.approx(np.ones(len(y)))


def test_choice_by_out_of_fold_validation(tmp_path):
    sharp, truth, y = overconfident()
    cal, losses = choose_calibration(sharp, y)
    assert cal.method in ("temperature", "isotonic") and losses["none"] > min(losses.values())
    cal, losses = choose_calibration(truth, y)  # already calibrated: nothing beats "none" by much
    assert losses["none"] <= losses["isotonic"]
    iso = IsotonicCalibration().fit(sharp, y)
    for c in (iso, TemperatureScaling().fit(sharp, y)):
        save_calibrator(c, tmp_path / "c.json")
        np.testing.assert_allclose(load_calibrator(tmp_path / "c.json").transform(sharp), c.transform(sharp))
