"""Every season a test: the rolling-origin evaluation forecasts each season from models fitted on earlier seasons,
its choices made on earlier seasons only, so a season's results never move an earlier season's forecast."""

import numpy as np
import pandas as pd
import pytest

from a1lab.data.synthetic import LeagueSpec, simulate_league
from a1lab.features import build_features
from a1lab.models.ensemble import ensemble_kinds
from a1lab.models.market import MarketCorrection
from a1lab.models.xgb import XGBModel
from a1lab.rolling import gap_table, rolling_forecasts, rolling_seasons, season_fold
from a1lab.testing import feature_config, shipped

SELECTION = {"top_k": 8, "corr_threshold": 0.95, "seed": 1, "seasons": 2}


@pytest.fixture(scope="module")
def league():
    matches = simulate_league(LeagueSpec(leagues=2, teams=10, seasons=5, seed=9)).matches
    frame, _ = build_features(matches, feature_config(goal_books=()))
    return frame


def _run(frame):
    params = shipped()
    protocol = {**params.protocol.model_dump(), "test_seasons": [sorted(frame["season"].unique())[-1]]}
    train = params.train.model_dump()
    seasons = rolling_seasons(frame, protocol["test_seasons"][-1])
    models = {"xgb": (XGBModel, {"n_estimators": 30, "max_depth": 2}), "market_fix": (MarketCorrection, {})}
    folds = {name: [season_fold({"season": s, "estimator": cls, "hyper": hyper}, frame, feature_config(goal_books=()),
                                SELECTION, protocol, train) for s in seasons] for name, (cls, hyper) in models.items()}
    return seasons, folds, rolling_forecasts(folds, frame, ["xgb", "market_fix", "market"], ensemble_kinds(1.0, 200),
                                             "open", protocol["reference"])


@pytest.fixture(scope="module")
def rolled(league):
    return _run(league)


def test_each_season_is_forecast_from_earlier_seasons_with_choices_made_before_it(league, rolled):
    order = sorted(league["season"].unique())
    seasons, folds, (forecasts, kinds) = rolled
    assert seasons == order[2:]
    for fold, season in zip(folds["xgb"], seasons, strict=True):
        assert fold.name == season and max(fold.train_seasons) < fold.validation_season < season
    assert list(kinds) == seasons[2:]  # the ensemble's kind needs two earlier seasons of member forecasts
    assert forecasts.loc[forecasts["season"].isin(seasons[:2]), "ensemble_p_home"].isna().all()
    assert forecasts.loc[forecasts["season"].isin(seasons[2:]), "ensemble_p_home"].notna().all()
    # a later season's results changed: every earlier season's forecasts (models and ensemble) stay to the bit
    flipped = league.copy()
    last = flipped["season"] == seasons[-1]
    flipped.loc[last, "result"] = flipped.loc[last, "result"].map({"H": "A", "A": "D", "D": "H"})
    _, _, (again, again_kinds) = _run(flipped)
    earlier = forecasts["season"] != seasons[-1]
    columns = [c for c in forecasts if c.endswith(("_p_home", "_p_draw", "_p_away"))]
    pd.testing.assert_frame_equal(forecasts.loc[earlier, columns], again.loc[earlier.to_numpy(), columns])
    assert again_kinds == kinds  # the last season's kind was chosen before its results


def test_the_gap_table_pools_seasons_and_leaves_an_unfitted_ensemble_out(league, rolled):
    seasons, _, (forecasts, _) = rolled
    rows = gap_table(forecasts, "pinnacle", {"all": seasons})
    assert [r["scope"] for r in rows] == [*seasons, "all"]
    pooled = rows[-1]
    assert pooled["n"] == len(forecasts) == sum(r["n"] for r in rows[:-1])
    assert rows[0]["ensemble"] is None  # no ensemble in the first rolling season
    if pooled["gap"] > 0:
        assert pooled["ensemble"]["n"] == int(forecasts["ensemble_p_home"].notna().sum())
        share = pooled["market_fix"]
        assert share["low"] is None or share["low"] < share["share"] < share["high"]
    with pytest.raises(ValueError, match="no season"):
        rolling_seasons(league, seasons[0], first=5)
    assert np.isfinite(forecasts[[c for c in forecasts if c.startswith("xgb_")]].to_numpy()).all()
