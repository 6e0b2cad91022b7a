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
from a1lab.splits import (
    LeakageError,
    WalkForwardSplit,
    check_time_ordered,
    first_kickoff,
    season_before,
    season_keys,
    season_order,
)


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


def test_seasons_are_ordered_by_their_dates_not_their_labels():
    """Before: labels were compared as text, so 1999/2000 ("9900") came after 2000/01 ("0001")."""
    rows = [{"season": s, "kickoff": pd.Timestamp(f"{y}-09-01", tz="UTC") + pd.Timedelta(days=d)}
            for s, y in (("9899", 1998), ("9900", 1999), ("0001", 2000), ("0102", 2001)) for d in (0, 30, 60)]
    f = pd.DataFrame(rows)
    assert season_order(f) == ["9899", "9900", "0001", "0102"] and season_before(f, "0001") == "9900"
    fold = next(WalkForwardSplit(("0001",)).split(f))
    assert fold.train_seasons == ("9899",) and fold.validation_season == "9900"
    with pytest.raises(ValueError, match="no season before '9899'"):
        season_before(f, "9899")


def test_overlapping_seasons_never_leak_into_training():
    """A calendar-year league (2019) beside an autumn-spring one (1920): rows of earlier-starting seasons
    that kick off after the first test match stay out of training and validation."""
    f = pd.DataFrame({
        "season": ["1718"] * 2 + ["1819"] * 2 + ["2019"] * 3 + ["1920"] * 2,
        "kickoff": pd.to_datetime(["2017-09-01", "2018-04-01", "2018-09-01", "2019-04-01", "2019-02-01",
                                   "2019-06-01", "2019-11-01", "2019-09-01", "2020-04-01"], utc=True)})
    fold = next(WalkForwardSplit(("1920",)).split(f))
    assert fold.validation_season == "2019" and fold.train_seasons == ("1718", "1819")
    assert list(f.iloc[fold.validation]["kickoff"].dt.month) == [2, 6]  # November 2019 is after the test starts
    assert f.iloc[np.concatenate([fold.train, fold.validation])]["kickoff"].max() < f.iloc[fold.test]["kickoff"].min()


@pytest.mark.realdata
def test_no_fold_trains_on_the_future_on_real_data_sets(data_root):
    """Every fold of every season on the main leagues and on the extra leagues (ARG switches from
    2012/2013 labels to calendar years) uses only matches before the fold's first test match."""
    from a1lab.data.footballdata import load_extra_leagues, load_football_data
    from a1lab.data.source import FileSource

    source = FileSource(str(data_root))
    extra = load_extra_leagues(source, ["ARG", "BRA", "USA"]).matches
    main = load_football_data(source, ["E0", "D1"], ["1516", "1617", "1718", "1819", "1920", "2021"]).matches
    for matches in (extra, main, pd.concat([main, extra], ignore_index=True)):
        order = season_order(matches)
        for test in order[2:]:
            for fold in WalkForwardSplit((test,)).split(matches):
                used = matches.iloc[np.concatenate([fold.train, fold.validation])]["kickoff"]
                assert used.max() < matches.iloc[fold.test]["kickoff"].min(), (test, fold.validation_season)
    assert order.index("2019") > order.index("1819")  # a calendar year sorts by its dates


def test_season_keys_count_back_from_each_leagues_newest():
    f = pd.DataFrame({
        "league": ["AUT"] * 3 + ["BRA"] * 3 + ["ARG"] * 3,
        "season": ["1819", "1920", "2021", "2018", "2019", "2020", "1617", "2017", "1718"],
        "kickoff": pd.to_datetime(["2018-08-01", "2019-08-01", "2020-08-01", "2018-04-01", "2019-04-01",
                                   "2020-08-01", "2016-08-01", "2017-02-01", "2017-08-01"], utc=True)})
    keys = season_keys(f, "last")
    assert keys.tolist() == ["last3", "last2", "last1"] * 3  # ARG's 2017 sits between 1617 and 1718 in time
    assert season_keys(f).tolist() == f["season"].tolist()
    assert first_kickoff(f.assign(season=keys), ["last1"]) == pd.Timestamp("2017-08-01", tz="UTC")
    with pytest.raises(ValueError, match="season keys must be one of"):
        season_keys(f, "year")


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["main", "extra", "nba", "nhl"])
def test_shipped_data_sets_never_train_or_select_after_a_folds_first_test_match(name, data_root):
    """Each shipped configuration as the pipeline reads it: every fold's training and validation rows, and
    the rows features are selected on, kick off before the fold's first test match (ARG included)."""
    from pathlib import Path

    from a1lab.data.dataset import load_dataset
    from a1lab.params import validate
    from a1lab.testing import dataset_params

    params = validate(dataset_params(name))
    paths = [Path(s.path) for s in params.data.sources if getattr(s, "path", None)]
    if not all(p.is_file() for p in paths):
        pytest.skip(f"no {paths} here")
    matches = load_dataset(str(data_root), params.data.sources).matches
    protocol = params.protocol
    matches["season"] = season_keys(matches, protocol.season_keys)
    folds = list(WalkForwardSplit(tuple(protocol.oos_seasons) + tuple(protocol.test_seasons)).split(matches))
    assert [f.name for f in folds] == list(protocol.oos_seasons) + list(protocol.test_seasons)
    kickoff = matches["kickoff"]
    for fold in folds:
        first = kickoff.iloc[fold.test].min()
        assert len(fold.train) and len(fold.validation) and len(fold.test)
        assert kickoff.iloc[np.concatenate([fold.train, fold.validation])].max() < first, fold.name
    before = first_kickoff(matches, protocol.test_seasons)
    selection = matches[(matches["season"] == protocol.validation_season) & (kickoff < before)]
    assert len(selection) > 100 and before <= min(kickoff.iloc[f.test].min() for f in folds[len(protocol.oos_seasons):])
    if name == "extra":  # the label styles really are mixed, so labels alone would leak
        labels = load_dataset(str(data_root), params.data.sources).matches["season"]
        assert {"2019", "1819"} <= set(labels)


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


def test_a_calibration_that_wins_by_less_than_the_noise_is_not_taken():
    """Slightly overconfident forecasts (temperature 0.9): temperature scaling has the lower out-of-fold loss,
    by less than its paired interval, so no calibration stays (the lowest mean took it before)."""
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1, (3000, 3))
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=p) for p in truth])
    sharp = np.exp(logits / 0.9) / np.exp(logits / 0.9).sum(axis=1, keepdims=True)
    cal, losses = choose_calibration(sharp, y)
    assert losses["temperature"] < losses["none"] and cal.method == "none"


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
