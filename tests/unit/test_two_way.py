"""Two-way sports (moneylines) without the real files: market features, outcome sets, k-class models, pushes."""

import numpy as np
import pandas as pd
import pytest

from a1lab.columns import outcome_set, quote_prices
from a1lab.features.market import market_features
from a1lab.models.base import offset_columns
from a1lab.models.xgb import XGBModel
from a1lab.outcomes import OUTCOMES, TWO_WAY, expand
from a1lab.splits import WalkForwardSplit
from a1lab.testing import feature_config
from a1lab.training import walk_forward

CONFIG = feature_config(market_books=("market",), move_books=(), goal_books=())


def moneylines(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Matches of a two-way sport over four seasons: home strength x, moneyline prices with a 4 % margin."""
    rng = np.random.default_rng(seed)
    x = np.clip(rng.normal(size=n), -2, 2)  # prices stay above 1
    p_home = 1 / (1 + np.exp(-(0.3 + x)))
    result = np.where(rng.random(n) < p_home, "H", "A")
    result[[5, 250]] = "D"  # two ties, in a training and a test season: pushes
    return pd.DataFrame({
        "match_id": [f"m{i}" for i in range(n)], "league": "L", "season": np.repeat(["21", "22", "23", "24"], n // 4),
        "kickoff": pd.date_range("2021-01-01", periods=n, freq="D", tz="UTC"), "home": "a", "away": "b",
        "result": result, "x": x,
        "odds_market_ml_close_home": 1 / (p_home * 1.04), "odds_market_ml_close_away": 1 / ((1 - p_home) * 1.04)})


def test_moneyline_market_features_have_a_zero_draw():
    m = moneylines()
    m.loc[3, "odds_market_ml_close_home"] = np.nan  # an unpriced match stays unknown, draw included
    f = market_features(m, CONFIG)
    p = f[["mkt_market_close_p_home", "mkt_market_close_p_draw", "mkt_market_close_p_away"]].to_numpy()
    priced = np.isfinite(p[:, 0])
    assert (p[priced, 1] == 0).all() and np.allclose(p[priced].sum(axis=1), 1.0)
    assert np.isnan(p[3]).all() and f["mkt_market_open_p_home"].isna().all()
    assert f["mkt_market_close_overround"][priced].round(6).eq(0.04).all()
    assert outcome_set(m) == TWO_WAY and outcome_set(pd.concat([m, f], axis=1)) == TWO_WAY
    assert outcome_set(f) == TWO_WAY and outcome_set(f.assign(mkt_market_close_p_draw=0.25)) == OUTCOMES
    prices = quote_prices(m, "market", "close")
    assert prices.shape == (len(m), 3) and np.isnan(prices[:, 1]).all()


def test_a_two_way_model_fits_two_classes_and_leaves_ties_out():
    m = moneylines()
    frame = pd.concat([m, market_features(m, CONFIG)], axis=1)
    offset = [f"mkt_market_close_p_{o}" for o in OUTCOMES]
    results = walk_forward(frame, lambda: XGBModel(features=["x"], offset=offset, n_estimators=30, seed=1),
                           WalkForwardSplit(("23", "24")), reference="market", timings=("close",))
    pred = pd.concat([r.predictions for r in results])
    assert all(r.model.classes_.tolist() == [0, 2] for r in results)
    assert (pred["p_draw"] == 0).all() and np.allclose(pred[["p_home", "p_away"]].sum(axis=1), 1.0)
    assert len(pred) == 199 and "m250" not in set(pred["match_id"])  # the test season's tie is not scored
    assert offset_columns(offset, [0, 2]) == ["mkt_market_close_p_home", "mkt_market_close_p_away"]


def test_expand_and_offset_columns():
    assert expand([[0.6, 0.4]], [0, 2]).tolist() == [[0.6, 0.0, 0.4]]
    assert expand([[0.5, 0.3, 0.2]], [0, 1, 2]).tolist() == [[0.5, 0.3, 0.2]]
    with pytest.raises(ValueError, match="offset has 3 columns for 2 classes"):
        offset_columns(["a", "b", "c"], np.array(["H", "A"]))
