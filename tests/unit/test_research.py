"""Issue 17's research levers: the close as a training target, the training window, the gap's interval,
the consensus baseline, and the variants table's choice."""

import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from a1lab import registry
from a1lab.betting import consensus_bets
from a1lab.metrics import (
    gap_mix,
    gap_power,
    gap_share_fieller,
    interval_ends,
    log_loss,
    matches_to_show_share,
    rps_per_match,
)
from a1lab.models.base import soft_rows, soft_targets
from a1lab.research import apply_overrides, choose, move_forecast, shrink_toward
from a1lab.splits import WalkForwardSplit
from a1lab.testing import feature_config, value_rule
from a1lab.training import common_args, model_factory

CLOSE = ["close_home", "close_draw", "close_away"]
CLOSE_MODELS = sorted(name for name, cls in registry.estimator_classes().items()  # models of features
                      if {"close_weight", "features"} <= set(inspect.signature(cls).parameters))


def test_the_models_that_learn_the_close_are_the_pipelines_three():
    assert {"XGBModel", "LGBMModel", "LightningMLP"} <= set(CLOSE_MODELS)


def test_soft_targets_blend_the_result_with_the_close():
    X = pd.DataFrame({"close_home": [0.5, np.nan, 0.2], "close_draw": [0.3, np.nan, 0.3],
                      "close_away": [0.2, np.nan, 0.4]})  # the third row's close sums to 0.9: renormalised
    codes = np.array([0, 1, 2])
    assert soft_targets(X, codes, np.arange(3), CLOSE, 0.0) is None
    assert soft_targets(X, codes, np.arange(3), None, 0.5) is None
    target = soft_targets(X, codes, np.arange(3), CLOSE, 0.5)
    np.testing.assert_allclose(target[0], [0.75, 0.15, 0.1])
    np.testing.assert_allclose(target[1], [0.0, 1.0, 0.0])  # no close: the result alone
    np.testing.assert_allclose(target[2], 0.5 * np.array([0, 0, 1]) + 0.5 * np.array([2, 3, 4]) / 9)
    np.testing.assert_allclose(target.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="share in"):
        soft_targets(X, codes, np.arange(3), CLOSE, 1.5)


def test_weighted_rows_are_the_soft_cross_entropy():
    rng = np.random.default_rng(3)
    target = rng.dirichlet(np.ones(3), 50)
    target[0] = [0.0, 1.0, 0.0]
    p = rng.dirichlet(np.ones(3), 50)
    rows, labels, weights = soft_rows(target)
    assert len(rows) == 3 * 50 - 2  # zero weights are dropped
    soft = -(target * np.log(p)).sum(axis=1).sum()
    np.testing.assert_allclose(-(weights * np.log(p[rows, labels])).sum(), soft)


def _noise_league(n=3000, seed=5):
    """Results drawn from the base rates whatever x is, while the close moves with x: only the close can
    teach a model that x matters."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    logits = np.column_stack([0.8 * x, np.zeros(n), -0.8 * x])
    close = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = rng.choice(3, size=n, p=[0.45, 0.27, 0.28])
    frame = pd.DataFrame({"x": x, "noise": rng.normal(size=n), **dict(zip(CLOSE, close.T, strict=True))})
    return frame, y, close


@pytest.mark.parametrize("name", CLOSE_MODELS)
def test_a_model_learns_the_close_when_told_to_and_never_reads_it_to_predict(name):
    frame, y, close = _noise_league()
    cls = registry.estimator_classes()[name]
    fast = {"n_estimators": 60, "learning_rate": 0.1} if "n_estimators" in inspect.signature(cls).parameters \
        else {"max_epochs": 15, "lr": 0.01, "hidden": (16,), "dropout": 0.0}
    train, test = slice(0, 2000), slice(2000, None)
    fits = {w: cls(features=["x", "noise"], close=CLOSE, close_weight=w, seed=1, **fast).fit(frame[train], y[train])
            for w in (0.0, 1.0)}
    to_close = {w: log_loss(m.predict_proba(frame[test]), close[test].argmax(axis=1)) for w, m in fits.items()}
    slope = {w: np.corrcoef(m.predict_proba(frame[test])[:, 0], frame["x"][test])[0, 1] for w, m in fits.items()}
    assert slope[1.0] > 0.9 and abs(slope[0.0]) < slope[1.0] - 0.3  # results alone carry no signal in x
    assert to_close[1.0] < to_close[0.0]
    scrambled = frame[test].assign(**{c: np.nan for c in CLOSE})  # the close is a target, never an input
    np.testing.assert_array_equal(fits[1.0].predict_proba(scrambled), fits[1.0].predict_proba(frame[test]))


@pytest.mark.parametrize("name", CLOSE_MODELS)
def test_a_close_column_may_not_be_a_feature(name):
    frame, y, _ = _noise_league(200)
    cls = registry.estimator_classes()[name]
    with pytest.raises(ValueError, match="never an input"):
        cls(features=["x", "close_home"], close=CLOSE, close_weight=0.5).fit(frame, y)


def test_common_args_name_the_close_only_when_it_is_learned():
    protocol = {"prediction_time": "open", "reference": "pinnacle"}
    plain = common_args({"offset": "pinnacle", "seed": 1, "target_close": 0.0}, ["a"], protocol)
    assert plain["close"] is None and plain["close_weight"] == 0.0
    assert plain["offset"] == ["mkt_pinnacle_open_p_home", "mkt_pinnacle_open_p_draw", "mkt_pinnacle_open_p_away"]
    learned = common_args({"offset": "", "seed": 1, "target_close": 0.5}, ["a"], protocol)
    assert learned["offset"] is None and learned["close"][0] == "mkt_pinnacle_close_p_home"
    closing = common_args({"offset": "", "seed": 1, "target_close": 0.5}, ["a"],
                          {**protocol, "prediction_time": "close"})
    assert closing["close"] is None and closing["close_weight"] == 0.0  # a closing forecast sees the close itself
    from a1lab.models.market import MarketModel
    with pytest.raises(ValueError, match="cannot learn the close"):
        model_factory(MarketModel, {}, **learned)


def test_the_training_window_keeps_the_last_seasons():
    seasons = ["a1", "a2", "a3", "a4", "a5"]
    frame = pd.DataFrame({"season": np.repeat(seasons, 4),
                          "kickoff": pd.date_range("2020-01-01", periods=20, freq="30D", tz="UTC")})
    folds = {w: next(WalkForwardSplit(("a5",), window=w).split(frame)) for w in (0, 2, 9)}
    assert folds[0].train_seasons == ("a1", "a2", "a3") and folds[9].train_seasons == ("a1", "a2", "a3")
    assert folds[2].train_seasons == ("a2", "a3") and folds[2].validation_season == "a4"
    np.testing.assert_array_equal(folds[2].train, np.arange(4, 12))
    with pytest.raises(ValueError, match="number of seasons"):
        next(WalkForwardSplit(("a5",), window=-1).split(frame))


def _gap_losses(rng, n, share=0.5, noise=0.01):
    """Per-match RPS of an open, a close 0.01 better on average, and a forecast `share` of the way (own noise)."""
    opening = rng.normal(0.21, 0.05, n)
    closing = opening - 0.01 + rng.normal(0, 0.01, n)
    return opening - share * 0.01 + rng.normal(0, noise, n), opening, closing


def test_fiellers_interval_brackets_the_share_and_is_unbounded_when_the_gap_is_not_significant():
    own, opening, closing = _gap_losses(np.random.default_rng(0), 4000)
    fieller = gap_share_fieller(own, opening, closing)
    share = (opening.mean() - own.mean()) / (opening.mean() - closing.mean())
    assert fieller[0] < share < fieller[1] and 0.4 < fieller[0] and fieller[1] < 0.6
    wider = gap_share_fieller(own, opening, closing, n=400)  # the same matches' spread, a tenth of them
    assert wider[0] < fieller[0] and wider[1] > fieller[1]
    assert gap_share_fieller(own, opening, closing, n=3) == (float("-inf"), float("inf"))  # gap not significant
    assert interval_ends((float("-inf"), float("inf"))) == [None, None]
    with pytest.raises(ValueError, match="loss arrays"):
        gap_share_fieller(own[:10], opening, closing)


def test_fiellers_interval_covers_the_share_where_the_gap_is_near_the_noise():
    """A small gap, barely significant: a bootstrap of the ratio that leaves out the resamples where the close
    does not beat the open (those with the largest shares) falls short at the upper end. Fieller's interval
    covers the true share at about its level over fresh tests."""
    rng = np.random.default_rng(7)
    covered = []
    for _ in range(300):
        opening = rng.normal(0.21, 0.05, 1500)
        closing = opening - 0.0015 + rng.normal(0, 0.01, 1500)
        own = opening - 0.3 * 0.0015 + rng.normal(0, 0.01, 1500)
        low, high = gap_share_fieller(own, opening, closing)
        covered.append(low <= 0.3 <= high)
    assert np.mean(covered) >= 0.93


def test_the_matches_needed_show_the_share_with_the_asked_power():
    rng = np.random.default_rng(4)
    own, opening, closing = _gap_losses(rng, 400_000, share=0.4, noise=0.05)  # large: the estimates near the truth
    half = matches_to_show_share(own, opening, closing, low=0.2, power=0.5)
    needed = matches_to_show_share(own, opening, closing, low=0.2)  # 80 % power by default
    assert half is not None and 1000 < half < 10_000
    assert gap_share_fieller(own, opening, closing, n=half)[0] == pytest.approx(0.2, abs=0.01)
    assert needed == pytest.approx(half * (1.959964 + 0.841621) ** 2 / 1.959964 ** 2, rel=1e-3)  # about twice
    # fresh tests of each size from the same matches' distribution: the lower end clears 0.2 at the asked rate
    for n, rate in ((half, 0.5), (needed, 0.8)):
        cleared = [gap_share_fieller(*_gap_losses(rng, n, share=0.4, noise=0.05))[0] > 0.2 for _ in range(400)]
        assert rate - 0.08 < np.mean(cleared) < rate + 0.08
    assert matches_to_show_share(own, opening, closing, low=0.1) < needed  # a lower bar takes fewer
    assert matches_to_show_share(own, opening, closing, low=0.45) is None  # above the share: never


def test_the_gap_mix_closes_the_asked_share():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 3000)
    truth = rng.dirichlet([4, 3, 3], 3000)
    y = np.array([rng.choice(3, p=t) for t in truth])
    p_close = 0.7 * truth + 0.3 / 3
    p_open = 0.5 * p_close + 0.5 * rng.dirichlet([4, 3, 3], 3000)
    mix, w = gap_mix(p_open, p_close, y, 0.5)
    opening, closing = rps_per_match(p_open, y).mean(), rps_per_match(p_close, y).mean()
    assert 0 < w < 1 and (opening - rps_per_match(mix, y).mean()) / (opening - closing) == pytest.approx(0.5, abs=1e-9)
    rows = gap_power({"open": p_open}, p_open, p_close, y, low=0.22)
    assert [r["forecast"] for r in rows] == ["open", f"mix: {1 - w:.3f} open + {w:.3f} close", "close"]
    assert [round(r["share"], 9) for r in rows] == [0.0, 0.5, 1.0]
    assert rows[0]["matches_above_zero"] is None and rows[1]["matches_above_low"] >= rows[2]["matches_above_low"]
    with pytest.raises(ValueError, match="no mix"):
        gap_mix(p_close, p_open, y, 0.5)  # the "close" is the worse line
    reversed_ = gap_power({}, p_close, p_open, y, low=0.22)  # no gap to close: no mix, no number of matches
    assert [r["forecast"] for r in reversed_] == ["close"]
    assert reversed_[0]["share"] is None and reversed_[0]["matches_above_zero"] is None


def test_shrinking_moves_a_forecast_along_the_line_to_its_anchor():
    rng = np.random.default_rng(5)
    model, anchor = rng.dirichlet([3, 2, 3], 50), rng.dirichlet([3, 2, 3], 50)
    np.testing.assert_allclose(shrink_toward(model, anchor, 1.0), model, atol=1e-15)
    np.testing.assert_array_equal(shrink_toward(model, anchor, 0.0), anchor)
    half = shrink_toward(model, anchor, 0.5)
    np.testing.assert_allclose(half, (model + anchor) / 2)
    np.testing.assert_allclose(half.sum(axis=1), 1.0)


def test_the_move_forecast_learns_a_planted_move_from_its_fitting_rows_only():
    rng = np.random.default_rng(6)
    n = 4000
    p_open = rng.dirichlet([5, 3, 4], n)
    signal = rng.normal(0, 0.02, (n, 1))
    move = np.column_stack([0.5 * signal[:, 0], -0.2 * signal[:, 0], -0.3 * signal[:, 0]])  # sums to 0
    move += rng.normal(0, 0.001, (n, 3)) * [1, 0, 1]
    fit = np.arange(n) < 3000
    hidden = np.where(fit[:, None], move, np.nan)  # the forecast rows' moves are unknown to it
    p = move_forecast(p_open, signal, hidden, fit)
    np.testing.assert_allclose(p, move_forecast(p_open, signal, move, fit))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    close = p_open + move
    later = ~fit
    assert np.abs(p[later] - close[later]).max() < 0.01 < np.abs(p_open[later] - close[later]).max()
    with pytest.raises(ValueError, match="fitting rows"):
        move_forecast(p_open, signal, move, np.arange(n) < 2)


def test_consensus_bets_take_the_best_price_against_the_average():
    matches = pd.DataFrame({"match_id": ["m1", "m2"], "result": ["H", "A"],
                            "kickoff": pd.to_datetime(["2024-01-01", "2024-01-02"], utc=True)})
    consensus = np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]])
    best = np.array([[2.2, 3.0, 5.0], [2.05, 3.0, 5.2]])  # edges +10 %, -10 %, 0 and +2.5 %, -10 %, +4 %
    close = np.full((2, 3), 1 / 3)
    bets = consensus_bets(matches, consensus, best, close, margin=0.05, rule=value_rule())
    assert bets["match_id"].tolist() == ["m1"] and bets["outcome"].tolist() == ["home"]
    assert bets["won"].tolist() == [True] and bets["close_odds"].tolist() == [pytest.approx(3.0)]
    looser = consensus_bets(matches, consensus, best, close, margin=0.03, rule=value_rule())
    assert looser["outcome"].tolist() == ["home", "away"]
    bounded = consensus_bets(matches, consensus, best, close, margin=0.03, rule=value_rule(max_odds=5.0))
    assert bounded["outcome"].tolist() == ["home"]  # the value rule's bounds still apply


def test_the_consensus_table_runs_where_the_prices_are_and_says_why_not_elsewhere():
    from a1lab.betting import consensus_table

    pred = pd.DataFrame({"match_id": ["m1"], "result": ["H"], "kickoff": pd.to_datetime(["2024-01-01"], utc=True)})
    quotes = pd.DataFrame({"odds_max_1x2_open_home": [2.2], "odds_max_1x2_open_draw": [3.0],
                           "odds_max_1x2_open_away": [5.0]})
    features = pd.DataFrame({"mkt_avg_open_p_home": [0.5], "mkt_avg_open_p_draw": [0.3], "mkt_avg_open_p_away": [0.2]})
    rule, bounds = {"book": "avg", "prices": "max", "margin": 0.05}, value_rule()
    bets, skipped = consensus_table(pred, quotes, features, np.full((1, 3), 1 / 3), rule, "open", bounds)
    assert skipped is None and bets["outcome"].tolist() == ["home"]
    bets, skipped = consensus_table(pred, quotes.iloc[:, :0], features, np.full((1, 3), 1 / 3), rule, "open", bounds)
    assert bets is None and "no max open prices" in skipped
    bets, skipped = consensus_table(pred, quotes, features.iloc[:, :0], np.full((1, 3), 1 / 3), rule, "open", bounds)
    assert bets is None and "no avg de-vigged open probabilities" in skipped


def test_overrides_refuse_unknown_keys_and_leave_params_alone():
    params = {"train": {"target_close": 0.0}, "models": {"xgb": {"max_depth": 3}}}
    varied = apply_overrides(params, {"train.target_close": 0.5, "models.xgb.min_child_weight": 5})
    assert varied["train"]["target_close"] == 0.5 and varied["models"]["xgb"]["min_child_weight"] == 5
    assert params["train"]["target_close"] == 0.0
    for typo in ("train.target_clsoe", "trian.target_close"):
        with pytest.raises(KeyError, match="not in params"):
            apply_overrides(params, {typo: 1})


def variant_table(losses: dict[str, list[np.ndarray]], test_rps: list[float]) -> pd.DataFrame:
    """A variants table of two models per variant, each with its per-match out-of-sample RPS."""
    rows = [{"variant": v, "model": m, "oos_losses": pd.Series(loss, index=[f"m{i}" for i in range(len(loss))]),
             "oos_rps": float(np.mean(loss))} for v, per_model in losses.items()
            for m, loss in zip(("x", "y"), per_model, strict=True)]
    return pd.DataFrame(rows).assign(test_rps=test_rps)


def test_the_choice_keeps_the_baseline_unless_a_variant_wins_beyond_the_noise():
    """A variant ahead by a coin flip is not chosen (the old rule, the lowest mean, took it); one ahead by far
    more than its paired interval is; the test columns play no part."""
    rng = np.random.default_rng(0)
    base = rng.uniform(0.1, 0.3, 2000)
    noise = rng.normal(0, 0.05, 2000)
    lucky = [base + noise - 0.0005, base + noise - 0.0005]  # ahead by 0.0005, with an interval ten times wider
    table = variant_table({"baseline": [base, base], "lucky": lucky}, [0.2, 0.2, 0.1, 0.1])
    chosen = choose(table, 500, 1)
    assert chosen.loc[chosen["chosen"], "variant"].unique().tolist() == ["baseline"]
    lucky_row = chosen[chosen["variant"] == "lucky"].iloc[0]
    assert lucky_row["oos_diff"] == pytest.approx(float(np.mean(lucky[0] - base)))
    assert lucky_row["oos_diff_low"] < 0 < lucky_row["oos_diff_high"] and 0 < lucky_row["wins_share"] < 1
    assert "oos_losses" not in chosen

    better = [base - 0.01 + noise / 10, base - 0.01 + noise / 10]
    table = variant_table({"baseline": [base, base], "lucky": lucky, "better": better}, [0.2] * 4 + [0.3] * 2)
    chosen = choose(table, 500, 1)
    assert chosen.loc[chosen["chosen"], "variant"].unique().tolist() == ["better"]
    flipped = choose(table.assign(test_rps=table["test_rps"][::-1].to_numpy()), 500, 1)
    pd.testing.assert_series_equal(flipped["chosen"], chosen["chosen"])
    assert chosen.loc[chosen["variant"] == "better", "wins_share"].eq(1.0).all()


def test_variants_of_other_matches_cannot_be_compared():
    base = np.full(10, 0.2)
    table = variant_table({"baseline": [base, base], "short": [base[:9], base[:9]]}, [0.2] * 4)
    with pytest.raises(ValueError, match="different out-of-sample matches"):
        choose(table, 10, 0)


def test_a_variants_features_are_selected_before_the_season_it_is_ranked_on():
    """The nested selection reads the season before the out-of-sample one: a feature that knows the results of
    the out-of-sample season only is not chosen; one that knew the season before is."""
    from a1lab.data.synthetic import LeagueSpec, simulate_league
    from a1lab.features import build_features
    from a1lab.research import nested_selection

    matches = simulate_league(LeagueSpec(leagues=1, teams=10, seasons=4, seed=1)).matches
    config = feature_config(goal_books=())
    frame = build_features(matches, config)[0]
    order = sorted(frame["season"].unique())
    code = frame["result"].map({"H": 1.0, "D": 0.0, "A": -1.0})
    noise = np.random.default_rng(2).normal(size=len(frame))
    frame["home_elo"] = np.where(frame["season"] == order[2], code, noise)  # knows the out-of-sample results
    frame["away_elo"] = np.where(frame["season"] == order[1], code, noise[::-1])  # knew the season before's
    protocol = {"oos_seasons": [order[2]], "test_seasons": [order[3]], "validation_season": order[2]}
    picked = nested_selection(frame, config, {"top_k": 1, "corr_threshold": 0.95, "seed": 0, "seasons": 2}, protocol)
    assert picked == {"open": ["away_elo"], "close": ["away_elo"]}


def test_the_implied_total_inverts_the_poisson_over_price():
    from scipy.stats import poisson

    from a1lab.odds import implied_total_goals

    means = np.array([0.8, 2.5, 3.3, 5.0])
    np.testing.assert_allclose(implied_total_goals(poisson.sf(2, means)), means, rtol=1e-9)
    np.testing.assert_allclose(implied_total_goals(poisson.sf(1, means), line=1.5), means, rtol=1e-9)
    assert np.isnan(implied_total_goals(np.array([np.nan, 0.0, 1.0]))).all()
    p = np.random.default_rng(3).uniform(0.05, 0.95, 200)  # one row (the live path) gives the table's bits
    assert all(implied_total_goals(p[i:i + 1])[0] == v for i, v in enumerate(implied_total_goals(p)))
    assert np.isnan(implied_total_goals(np.array([1.0]))) and np.isnan(implied_total_goals(np.array([np.nan])))


def test_the_implied_supremacy_reads_the_handicap():
    from a1lab.odds import implied_supremacy

    got = implied_supremacy(np.array([0.5, 0.5, 0.5, 0.8, 0.2]), np.array([0.0, -0.5, 1.25, 0.0, 0.0]),
                            np.full(5, 2.5))
    np.testing.assert_allclose(got[:3], [0.0, 0.5, -1.25])  # an even price: the line is the expectation
    assert got[3] > 0 and got[3] == pytest.approx(-got[4])


def test_goal_features_match_the_goals_scored(real_load):
    """Over 20,000 real matches the goal expectations implied by the average book's opening over/under and
    handicap quotes are the goals then scored, on average, and follow them match by match."""
    from a1lab.features import feature_set
    from a1lab.features.market import market_features

    matches = real_load.matches
    config = feature_config(goal_books=("avg",))
    values = market_features(matches, config)
    total, supremacy = values["mkt_avg_open_goals_total"], values["mkt_avg_open_goals_supremacy"]
    ok = total.notna() & supremacy.notna()
    assert ok.mean() > 0.95
    goals = (matches["home_goals"] + matches["away_goals"])[ok]
    difference = (matches["home_goals"] - matches["away_goals"])[ok]
    assert abs(total[ok].mean() - goals.mean()) < 0.05 and abs(supremacy[ok].mean() - difference.mean()) < 0.05
    assert np.corrcoef(total[ok], goals)[0, 1] > 0.2 and np.corrcoef(supremacy[ok], difference)[0, 1] > 0.4
    assert "mkt_avg_open_goals_total" in feature_set(config, "open")
    assert "mkt_avg_close_goals_total" not in feature_set(config, "open")


def test_the_live_loop_waits_for_the_quotes_of_goal_line_features():
    from a1lab.live.scoring import required_quotes

    assert required_quotes(["mkt_pinnacle_open_p_home"]) == {("pinnacle", "open")}
    assert required_quotes(["mkt_pinnacle_open_p_home", "mkt_avg_open_goals_total"]) == {
        ("pinnacle", "open"), ("avg", "open", "ou25")}
    assert required_quotes(["mkt_avg_close_goals_supremacy"]) == {("avg", "close", "ou25"), ("avg", "close", "ah")}


def test_the_market_correction_recovers_a_known_bias(tmp_path):
    from scipy.special import softmax

    from a1lab.models.market import MarketCorrection

    rng = np.random.default_rng(1)
    n = 60000
    quote = rng.dirichlet([4.0, 2.5, 3.0], n)
    truth = softmax(1.15 * np.log(quote) + np.array([0.0, 0.12, -0.05]), axis=1)  # longshots overpriced, draws under
    y = (rng.random(n)[:, None] > truth.cumsum(axis=1)).sum(axis=1)
    names = ["mkt_pinnacle_open_p_home", "mkt_pinnacle_open_p_draw", "mkt_pinnacle_open_p_away"]
    X = pd.DataFrame(quote, columns=names)
    model = MarketCorrection(offset=names).fit(X[:50000], y[:50000])
    assert model.gamma_ == pytest.approx(1.15, abs=0.04) and model.beta_[1] == pytest.approx(0.12, abs=0.04)
    assert log_loss(model.predict_proba(X[50000:]), y[50000:]) < log_loss(quote[50000:], y[50000:])
    fair = (rng.random(n)[:, None] > quote.cumsum(axis=1)).sum(axis=1)  # an unbiased market: nothing to correct
    unbiased = MarketCorrection(offset=names).fit(X, fair)
    assert unbiased.gamma_ == pytest.approx(1.0, abs=0.03) and np.abs(unbiased.beta_).max() < 0.03
    model.save(tmp_path / "m")
    loaded = MarketCorrection.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_proba(X[:5]), model.predict_proba(X[:5]))
    unpriced = X[:3].assign(mkt_pinnacle_open_p_draw=np.nan)
    np.testing.assert_allclose(model.predict_proba(unpriced), np.tile(model.prior_, (3, 1)))


def test_the_market_correction_can_be_fitted_toward_the_close():
    from scipy.special import softmax

    from a1lab.models.market import MarketCorrection

    rng = np.random.default_rng(4)
    quote = rng.dirichlet([4.0, 2.5, 3.0], 20000)
    close = softmax(1.3 * np.log(quote), axis=1)  # the close sharpens the quote; results follow the quote
    y = (rng.random(len(quote))[:, None] > quote.cumsum(axis=1)).sum(axis=1)
    names = ["q_home", "q_draw", "q_away"]
    X = pd.DataFrame(np.hstack([quote, close]), columns=names + CLOSE)
    by_result = MarketCorrection(offset=names).fit(X, y)
    by_close = MarketCorrection(offset=names, close=CLOSE, close_weight=1.0).fit(X, y)
    assert by_result.gamma_ == pytest.approx(1.0, abs=0.05) and by_close.gamma_ == pytest.approx(1.3, abs=0.01)


def test_a_plan_edited_after_its_test_seasons_were_scored_is_refused_unless_recorded_as_new():
    from a1lab.research import PlanError, plan_hash, record_plan

    first, edited = plan_hash("variants: {a: {}}\n"), plan_hash("variants: {a: {}, b: {}}\n")
    assert len(first) == 12 and first != edited
    ledger = record_plan([], "pipelines/variants.yaml", first, ["2425", "2324"], ".", "2026-12-01")
    assert ledger == [{"plan": "pipelines/variants.yaml", "sha256": first, "test_seasons": ["2324", "2425"],
                       "workspace": ".", "recorded": "2026-12-01"}]
    assert record_plan(ledger, "pipelines/variants.yaml", first, ["2324", "2425"], ".", "2026-12-02") == ledger
    with pytest.raises(PlanError, match=f"first scored under \\(plan {first}, 2026-12-01\\): .* --new-plan"):
        record_plan(ledger, "pipelines/variants.yaml", edited, ["2324", "2425"], ".", "2026-12-02")
    both = record_plan(ledger, "pipelines/variants.yaml", edited, ["2324", "2425"], ".", "2026-12-02", new_plan=True)
    assert [e["sha256"] for e in both] == [first, edited]
    other = record_plan(ledger, "pipelines/variants.yaml", edited, ["2324", "2425"], "datasets/extra", "2026-12-02")
    assert len(other) == 2  # another data set's test seasons are scored for the first time


def test_the_plan_states_the_rule_the_runner_applies():
    import yaml

    from a1lab.research import RULE

    plan = yaml.safe_load((Path(__file__).resolve().parents[2] / "pipelines" / "variants.yaml").read_text())
    assert plan["rule"] == RULE
    assert next(iter(plan["variants"])) == "baseline"
