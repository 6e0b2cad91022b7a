"""Value detection, staking arithmetic, the backtest's time rule, CLV, and truth vs a noisy book."""

import numpy as np
import pandas as pd
import pytest

from a1lab import betting
from a1lab.betting import Staking
from a1lab.data.synthetic import LeagueSpec, simulate_league
from a1lab.odds import multiplicative
from a1lab.testing import value_rule

DAY = pd.Timestamp("2024-01-06 15:00", tz="UTC")


def bets(rows):
    return pd.DataFrame(rows, columns=["kickoff", "prob", "odds", "won", "close_odds"])


def test_value_detection_by_hand():
    p = np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2], [0.02, 0.08, 0.9]])
    odds = np.array([[2.1, 3.0, 4.0], [1.9, 3.6, 4.5], [60.0, 11.0, 1.05]])
    picks = betting.value_bets(p, odds, value_rule(min_edge=0.02, max_odds=15))
    assert picks["outcome"].tolist() == [0, 1, -1]  # edges 0.05; 0.08 on the draw; the 60.0 longshot is over max_odds
    assert picks["edge"].iloc[0] == pytest.approx(0.05)


def test_kelly_by_hand():
    assert betting.kelly_fraction([0.5], [2.2])[0] == pytest.approx((0.5 * 2.2 - 1) / 1.2)
    assert betting.kelly_fraction([0.4], [2.0])[0] == 0.0  # no edge, no stake
    s = Staking("capped", fraction=0.5, cap=0.02)
    assert s.fractions(np.array([0.6]), np.array([2.0]))[0] == 0.02
    assert Staking("fractional", fraction=0.25).fractions(np.array([0.6]), np.array([2.0]))[0] == pytest.approx(0.05)


def test_simultaneous_kelly_single_bet_equals_kelly_and_shrinks_for_many():
    assert betting.simultaneous_kelly(np.array([0.6]), np.array([2.0]))[0] == pytest.approx(0.2, abs=1e-3)
    f = betting.simultaneous_kelly(np.full(4, 0.6), np.full(4, 2.0))
    assert f.sum() < 4 * 0.2 and np.allclose(f, f[0], atol=1e-3)


def test_simultaneous_kelly_is_the_growth_optimum_of_a_brute_force_grid():
    """The optimiser's analytic gradient: no point of a 0.005 grid over two bets grows faster than its answer."""
    p, odds = np.array([0.55, 0.3]), np.array([2.1, 4.5])
    wins = np.array([[1, 1], [1, 0], [0, 1], [0, 0]], dtype=float)
    prob = np.prod(np.where(wins == 1, p, 1 - p), axis=1)
    gain = np.where(wins == 1, odds - 1, -1.0)
    growth = lambda f: prob @ np.log(1 + gain @ f)  # noqa: E731
    grid = np.arange(0, 0.3, 0.005)
    best = max(growth(np.array([a, b])) for a in grid for b in grid)
    f = betting.simultaneous_kelly(p, odds)
    assert growth(f) >= best - 1e-12
    assert growth(f) <= best + 1e-4  # and the grid gets close to it: the objective is the one meant


def test_flat_staking_sequence_by_hand():
    log = betting.backtest(bets([
        (DAY, 0.5, 2.5, True, 2.4),
        (DAY + pd.Timedelta(days=1), 0.5, 2.0, False, 2.1),
        (DAY + pd.Timedelta(days=2), 0.5, 3.0, True, 2.8),
    ]), Staking("flat", unit=0.1), bankroll=100.0)
    assert log["stake"].tolist() == [10.0, 10.0, 10.0]
    assert log["profit"].tolist() == [15.0, -10.0, 20.0]
    assert log["bankroll"].tolist() == [115.0, 105.0, 125.0]
    s = betting.summarise(log, 100.0)
    assert s["roi"] == pytest.approx(25 / 30) and s["bets"] == 3 and s["turnover"] == 30
    assert s["max_drawdown"] == pytest.approx(10 / 115)
    assert s["clv_mean"] == pytest.approx(np.mean([2.5 / 2.4 - 1, 2.0 / 2.1 - 1, 3.0 / 2.8 - 1]))
    assert s["beat_close_share"] == pytest.approx(2 / 3)
    ret = np.array([15 / 100, -10 / 115, 20 / 105])  # each day's profit over the bankroll at its start
    assert s["days"] == 3
    assert s["sharpe"] == pytest.approx(ret.mean() / ret.std(ddof=1))
    assert s["sortino"] == pytest.approx(ret.mean() / np.sqrt(np.mean(np.minimum(ret, 0) ** 2)))
    assert s["calmar"] == pytest.approx(0.25 / (10 / 115))


def test_two_stakings_of_the_same_bets_have_different_risk_figures():
    rows = [(DAY + pd.Timedelta(days=i), 0.55, odds, won, odds)
            for i, (odds, won) in enumerate([(2.2, True), (2.5, False), (1.9, True), (3.0, False), (2.1, True),
                                             (2.4, True), (2.0, False), (2.6, True)])]
    flat = betting.summarise(betting.backtest(bets(rows), Staking("flat", unit=0.05)), 100.0)
    kelly = betting.summarise(betting.backtest(bets(rows), Staking("kelly")), 100.0)
    for key in ("roi", "sharpe", "sortino", "calmar", "max_drawdown"):
        assert flat[key] != pytest.approx(kelly[key]), key
    assert flat["bets"] == kelly["bets"] == 8 and flat["days"] == 8


def test_kelly_sequence_uses_bankroll_at_day_start():
    log = betting.backtest(bets([
        (DAY, 0.6, 2.0, False, 2.0),
        (DAY + pd.Timedelta(hours=2), 0.6, 2.0, True, 2.0),  # same day: sized on 100, not on 80
        (DAY + pd.Timedelta(days=1), 0.6, 2.0, True, 2.0),
    ]), Staking("kelly"), bankroll=100.0)
    assert log["stake"].iloc[:2].tolist() == pytest.approx([20.0, 20.0])  # same-day fractions sum <= 1
    assert log["bankroll"].iloc[1] == pytest.approx(100.0)
    assert log["stake"].iloc[2] == pytest.approx(20.0)


def test_bankroll_never_negative():
    rows = [(DAY + pd.Timedelta(days=i), 0.9, 5.0, False, 5.0) for i in range(30)]
    for method in ("kelly", "flat"):
        log = betting.backtest(bets(rows), Staking(method, unit=0.3), bankroll=100.0)
        assert (log["bankroll"] >= 0).all()
        s = Staking(method, unit=0.3)
        assert s.fractions(np.full(5, 0.9), np.full(5, 5.0)).sum() <= 1.0 + 1e-12


def test_closing_line_value_sign():
    assert betting.closing_line_value([2.2], [2.0])[0] > 0  # took a better price than the close
    assert betting.closing_line_value([1.9], [2.0])[0] < 0


def test_no_bet_depends_on_later_results():
    m = simulate_league(LeagueSpec(leagues=1, seasons=1, seed=3)).matches
    truth = m[["true_prob_home", "true_prob_draw", "true_prob_away"]].to_numpy()
    odds = m[[f"odds_bet365_1x2_open_{o}" for o in ("home", "draw", "away")]].to_numpy()
    close = multiplicative(m[[f"odds_pinnacle_1x2_close_{o}" for o in ("home", "draw", "away")]].to_numpy())
    rule, staking = value_rule(min_edge=0.0), Staking("fractional")
    log, _ = betting.run_strategy(m, truth, odds, close, rule, staking, stress=())
    cut = m["kickoff"].iloc[len(m) // 2]
    later = m["kickoff"] >= cut
    changed = m.copy()
    changed.loc[later, "result"] = changed.loc[later, "result"].map({"H": "A", "D": "H", "A": "D"})
    log2, _ = betting.run_strategy(changed, truth, odds, close, rule, staking, stress=())
    earlier = log["kickoff"] < cut
    assert earlier.any() and (~earlier).any()
    pd.testing.assert_frame_equal(log[earlier], log2[log2["kickoff"] < cut])
    assert not log[~earlier]["won"].equals(log2[log2["kickoff"] >= cut]["won"])


def test_true_probabilities_beat_a_noisy_book_with_margin():
    m = simulate_league(LeagueSpec(leagues=6, seasons=3, seed=5)).matches
    truth = m[["true_prob_home", "true_prob_draw", "true_prob_away"]].to_numpy()
    odds = m[[f"odds_bet365_1x2_open_{o}" for o in ("home", "draw", "away")]].to_numpy()
    picks = betting.value_bets(truth, odds, value_rule(min_edge=0.03))
    placed = picks[picks["outcome"] >= 0]
    assert len(placed) > 500
    assert placed["edge"].mean() > 0.03  # positive expected value per unit staked
    close = multiplicative(m[[f"odds_pinnacle_1x2_close_{o}" for o in ("home", "draw", "away")]].to_numpy())
    _, summary = betting.run_strategy(m, truth, odds, close, value_rule(min_edge=0.03), Staking("flat", unit=0.005))
    assert summary["roi"] > 0 and summary["clv_mean"] > 0
    assert summary["stress"]["3%"]["roi"] < summary["roi"]


def test_risk_of_ruin_counts_reshuffled_paths_below_the_line():
    rows = [(DAY + pd.Timedelta(days=i), 0.6, 2.0, won, 2.0) for i, won in enumerate([False] * 3 + [True] * 3)]
    log = betting.backtest(bets(rows), Staking("kelly"), bankroll=100.0)  # 20 % of the bankroll a bet
    # any order of 3 losses and 3 wins: the bankroll never falls below 0.8**3 = 51 % of the start
    assert betting.risk_of_ruin(log, 100.0, ruin=0.5, n_sims=200) == 0.0
    # ruin at 60 %: only orders that put all three losses before the third... count them exactly
    paths = 0
    from itertools import permutations
    for order in set(permutations([0.8] * 3 + [1.2] * 3)):
        paths += bool((np.cumprod(order) < 0.6).any())
    share = paths / len(set(permutations([0.8] * 3 + [1.2] * 3)))
    assert betting.risk_of_ruin(log, 100.0, ruin=0.6, n_sims=4000, seed=1) == pytest.approx(share, abs=0.03)


def test_clv_of_the_same_bets_under_three_margin_removals():
    """A bet at 2.10 on a 1.95 close favourite: its CLV depends on how the close is de-vigged, and each
    method's figure is the price over that method's fair close, minus 1."""
    from a1lab.odds import remove_margin

    close = pd.DataFrame({"home": [1.95, 2.9], "draw": [3.6, np.nan], "away": [4.2, 1.45]}, index=["m1", "m2"])
    bets = pd.DataFrame({"match_id": ["m1", "m2", "m3"], "outcome": ["home", "away", "home"],
                         "odds": [2.10, 1.50, 2.0]})
    table = betting.clv_by_method(bets, close.reindex(["m1", "m2", "m3"]))
    assert set(table) == {"multiplicative", "power", "shin"}
    for method, row in table.items():
        fair_home = 1 / remove_margin(close.loc[["m1"]].to_numpy(), method)[0, 0]
        fair_away = 1 / remove_margin(close.loc[["m2"], ["home", "away"]].to_numpy(), method)[0, 1]
        expected = [2.10 / fair_home - 1, 1.50 / fair_away - 1]
        assert row["bets"] == 2 and row["clv_mean"] == pytest.approx(np.mean(expected))
        assert row["beat_close_share"] == pytest.approx(np.mean([e > 0 for e in expected]))
    assert table["multiplicative"]["clv_mean"] != table["shin"]["clv_mean"]
