import numpy as np
import pytest

from a1lab import metrics
from a1lab.data.synthetic import LeagueSpec, simulate_league
from a1lab.odds import multiplicative
from a1lab.outcomes import RESULT_CODES

P = np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [1 / 3, 1 / 3, 1 / 3]])
Y = np.array([0, 1, 2])


def test_rps_by_hand():
    # match 1: home wins; cdf (0.5, 0.8) vs (1, 1): (0.25 + 0.04) / 2
    # match 2: draw; cdf (0.2, 0.5) vs (0, 1): (0.04 + 0.25) / 2
    # match 3: away; cdf (1/3, 2/3) vs (0, 0): (1/9 + 4/9) / 2
    expected = [0.145, 0.145, 5 / 18]
    assert metrics.rps_per_match(P, Y) == pytest.approx(expected)
    assert metrics.rank_probability_score(P, Y) == pytest.approx(np.mean(expected))
    assert metrics.rank_probability_score(np.eye(3), Y) == 0.0
    # ordered: predicting away when home happens is worse than predicting a draw
    assert metrics.rps_per_match([[0, 0, 1]], [0])[0] > metrics.rps_per_match([[0, 1, 0]], [0])[0]


def test_logloss_brier_accuracy_by_hand():
    assert metrics.log_loss(P, Y) == pytest.approx(-(np.log(0.5) + np.log(0.3) + np.log(1 / 3)) / 3)
    b1 = 0.25 + 0.09 + 0.04
    b2 = 0.04 + 0.49 + 0.25
    b3 = 1 / 9 + 1 / 9 + 4 / 9
    assert metrics.brier_score(P, Y) == pytest.approx((b1 + b2 + b3) / 3)
    assert metrics.accuracy(P, Y) == pytest.approx(1 / 3)  # argmax of a tie is home: wrong for match 3


def test_ece_and_reliability_by_hand():
    p = np.array([[0.8, 0.1, 0.1]] * 10)
    y = np.array([0] * 6 + [1] * 4)
    assert metrics.expected_calibration_error(p, y) == pytest.approx(0.2)
    table = metrics.reliability_table(p, y)
    home = table[table["outcome"] == "home"].iloc[0]
    assert home["predicted"] == pytest.approx(0.8) and home["observed"] == pytest.approx(0.6)
    assert home["count"] == 10


def test_paired_bootstrap_ci():
    rng = np.random.default_rng(1)
    a = rng.normal(1.0, 0.1, 500)
    lo, hi = metrics.paired_bootstrap_ci(a, a - 0.05, seed=3)
    assert lo == pytest.approx(0.05) and hi == pytest.approx(0.05)
    lo, hi = metrics.paired_bootstrap_ci(a, rng.normal(1.0, 0.1, 500), seed=3)
    assert lo < 0 < hi
    lo, hi = metrics.paired_bootstrap_ci(a, a * 0.9, seed=3)  # the mean difference is 0.1 x mean(a)
    assert lo < 0.1 * a.mean() < hi and hi - lo < 0.01


def test_bad_input():
    with pytest.raises(ValueError):
        metrics.rank_probability_score(P, [0, 1, 3])
    with pytest.raises(ValueError):
        metrics.log_loss(P[:2], Y)


def test_truth_scores_best_on_synthetic_league():
    m = simulate_league(LeagueSpec(leagues=5, seasons=4, seed=21)).matches
    y = m["result"].map(RESULT_CODES).to_numpy()
    truth = m[["true_prob_home", "true_prob_draw", "true_prob_away"]].to_numpy()
    opening = multiplicative(m[[f"odds_pinnacle_1x2_open_{o}" for o in ("home", "draw", "away")]].to_numpy())
    rates = np.tile(np.bincount(y) / len(y), (len(y), 1))
    for score in (metrics.rank_probability_score, metrics.log_loss, metrics.brier_score):
        assert score(truth, y) < score(opening, y) < score(rates, y)
    # proper scoring: the expected RPS under the truth matches the realised mean closely
    expected = sum(metrics.rps_per_match(truth, np.full(len(y), k)) * truth[:, k] for k in range(3)).mean()
    assert metrics.rank_probability_score(truth, y) == pytest.approx(expected, rel=0.03)
    comparison = metrics.compare_with_market(truth, y, opening, opening)
    assert comparison["rps_ratio_open"] < 1 and comparison["rps_diff_close_ci95"][1] < 0
    assert comparison["n"] == len(y) and comparison["market_open"]["rps"] == comparison["market_close"]["rps"]
    assert comparison["rps_diff_open_ci95"] == comparison["rps_diff_close_ci95"]
    assert comparison["open_close_gap_closed"] is None  # no gap between an open and a close that coincide
    closing = 0.5 * truth + 0.5 * opening  # a close halfway to the truth; the truth closes more than all the gap
    share = metrics.compare_with_market(closing, y, opening, closing)["open_close_gap_closed"]
    assert share == pytest.approx(1.0)
    share = metrics.compare_with_market(truth, y, opening, closing)["open_close_gap_closed"]
    expected = (metrics.rank_probability_score(opening, y) - metrics.rank_probability_score(truth, y)) / (
        metrics.rank_probability_score(opening, y) - metrics.rank_probability_score(closing, y))
    assert share == pytest.approx(expected) and share > 1


def test_two_outcomes_rps_is_the_published_two_way_brier():
    """For a two-way sport RPS reduces to (p_home - home_won)^2, the Brier score the NBA/NHL references
    quote (0.199 / 0.236 for the market); a1lab's `brier` sums over outcomes, twice that."""
    from a1lab.metrics import rank_probability_score, scores

    p = np.array([[0.7, 0.3], [0.4, 0.6], [0.55, 0.45]])
    y = np.array([0, 0, 1])  # home won, home won, away won
    published = np.mean((p[:, 0] - (y == 0)) ** 2)
    assert rank_probability_score(p, y) == pytest.approx(published)
    assert scores(p, y)["brier"] == pytest.approx(2 * published)


def test_expected_rps_under_the_truth_is_the_mean_over_drawn_outcomes_and_lowest_for_the_truth():
    rng = np.random.default_rng(3)
    q = rng.dirichlet([3, 2, 3], size=200)
    p = rng.dirichlet([3, 2, 3], size=200)
    u = rng.random((200, 4000))  # outcomes drawn from the truth
    draws = (u[:, :, None] > np.cumsum(q, axis=1)[:, None, :-1]).sum(axis=2)
    monte_carlo = np.mean([metrics.rank_probability_score(p, draws[:, j]) for j in range(draws.shape[1])])
    assert metrics.expected_rps(p, q) == pytest.approx(monte_carlo, rel=2e-3)
    assert metrics.expected_rps(q, q) < metrics.expected_rps(p, q)
    y = draws[:, 0]
    table = metrics.truth_scores({"p": p}, q, y)
    assert list(table) == ["p", "truth"] and table["p"]["rps_results"] == metrics.rank_probability_score(p, y)
    with pytest.raises(ValueError, match="same"):
        metrics.expected_rps(p, q[:, :2])


def test_the_gap_by_division_is_each_divisions_own_share_of_its_own_gap():
    rng = np.random.default_rng(4)
    n = 600
    truth = rng.dirichlet([4, 3, 3], size=n)
    u = rng.random(n)
    y = (u[:, None] > np.cumsum(truth, axis=1)[:, :-1]).sum(axis=1)
    noise = lambda s: truth * np.exp(rng.normal(0, s, truth.shape))  # noqa: E731
    p_open, p_close = (p / p.sum(axis=1, keepdims=True) for p in (noise(0.4), noise(0.05)))
    groups = np.array(["A"] * 400 + ["B"] * 200)
    half = 0.5 * p_open + 0.5 * p_close
    rows = metrics.gap_by_group({"half": half, "open": p_open}, p_open, p_close, y, groups)
    assert [r["group"] for r in rows] == ["A", "B"] and [r["n"] for r in rows] == [400, 200]
    bounded = []
    for r, m in zip(rows, (groups == "A", groups == "B"), strict=True):
        opening = metrics.rank_probability_score(p_open[m], y[m])
        closing = metrics.rank_probability_score(p_close[m], y[m])
        assert r["gap"] == pytest.approx(opening - closing)
        own = metrics.rank_probability_score(half[m], y[m])
        assert r["forecasts"]["half"]["share"] == pytest.approx((opening - own) / (opening - closing))
        assert r["forecasts"]["open"]["share"] == pytest.approx(0.0)
        low, high = r["forecasts"]["half"]["low"], r["forecasts"]["half"]["high"]
        bounded.append(low is not None)
        assert (low is None) == (high is None)  # Fieller's: unbounded both ways while the gap is not significant
        assert low is None or low < r["forecasts"]["half"]["share"] < high
    assert sorted(bounded) == [False, True]  # one division shows its gap, the other does not


def test_the_bootstrap_resamples_the_matches_together_as_numpy_draws_them():
    """scipy's bootstrap (paired, in batches) draws the matches that ``default_rng(seed).integers`` draws, each
    resample the same matches for every loss array: the intervals and choices are those of the hand-written
    loops it replaced (to the last bits), whatever the batches."""
    rng = np.random.default_rng(0)
    losses = [rng.random(700), rng.random(700)]
    picks = np.random.default_rng(11).integers(0, 700, (300, 700))
    expected = np.stack([v[picks].mean(axis=1) for v in losses])
    np.testing.assert_allclose(metrics.resampled_means(losses, 300, 11), expected, rtol=0, atol=1e-15)
    lo, hi = metrics.paired_bootstrap_ci(losses[0], losses[1], n_boot=300, seed=11)
    d = losses[0] - losses[1]  # the loop it replaced, to the last bits (numpy sums a row of a 2-D array its own way)
    np.testing.assert_allclose((lo, hi), np.quantile([d[p].mean() for p in picks], [0.025, 0.975]), rtol=0, atol=1e-15)
