"""The market adjusted by features: it recovers a planted effect, adds nothing where the features carry nothing,
and leaves the market as it is when the market is right and there is no feature."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from a1lab.adjustment import MarketAdjustment
from a1lab.metrics import rank_probability_score

MARKET = ["p_home", "p_draw", "p_away"]


def draw(n: int, effect: float, seed: int):
    """A market's probabilities, a feature that moves the truth by ``effect`` logits on the home outcome, and
    outcomes drawn from the truth."""
    rng = np.random.default_rng(seed)
    logits = rng.normal([0.3, -0.2, 0.0], 0.6, (n, 3))
    market = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    x = rng.normal(0, 1, n)
    truth_logits = np.log(market) + np.column_stack([effect * x, np.zeros(n), np.zeros(n)])
    truth = np.exp(truth_logits) / np.exp(truth_logits).sum(axis=1, keepdims=True)
    y = (rng.random(n)[:, None] > truth.cumsum(axis=1)).sum(axis=1)
    frame = pd.DataFrame(market, columns=MARKET).assign(news=x, noise=rng.normal(0, 1, n))
    return frame, y, truth


def test_it_recovers_a_planted_effect_and_beats_the_market_out_of_sample():
    train, y, _ = draw(20_000, effect=0.5, seed=1)
    test, y_test, truth = draw(20_000, effect=0.5, seed=2)
    model = MarketAdjustment(market=MARKET, features=["news", "noise"], penalty=1e-3).fit(train, y)
    # the home logit against draw and away: -0.5 per standard deviation for both (home is the fixed reference)
    np.testing.assert_allclose(model.coef_[0] * -1, [0.5, 0.5], atol=0.06)
    assert np.abs(model.coef_[1]).max() < 0.05  # the noise carries nothing
    p = model.predict_proba(test)
    assert rank_probability_score(p, y_test) < rank_probability_score(test[MARKET].to_numpy(), y_test) - 0.002
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_a_right_market_with_no_feature_is_left_as_it_is():
    train, y, _ = draw(20_000, effect=0.0, seed=3)
    model = MarketAdjustment(market=MARKET, features=[]).fit(train, y)
    np.testing.assert_allclose(model.predict_proba(train), train[MARKET].to_numpy(), atol=0.02)


def test_a_missing_feature_is_read_as_no_information():
    train, y, _ = draw(5_000, effect=0.5, seed=4)
    model = MarketAdjustment(market=MARKET, features=["news"]).fit(train, y)
    unknown = train.assign(news=np.nan).iloc[:5]
    at_mean = train.assign(news=model.mean_[0]).iloc[:5]
    np.testing.assert_allclose(model.predict_proba(unknown), model.predict_proba(at_mean))
    with pytest.raises(Exception, match="not fitted"):
        MarketAdjustment(market=MARKET, features=[]).predict_proba(train)
