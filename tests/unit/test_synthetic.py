import numpy as np
import pytest

from a1lab.data.schema import validate_matches
from a1lab.data.synthetic import LeagueSpec, outcome_probabilities, round_robin, simulate_league
from a1lab.odds import multiplicative


def _logloss(p, y):
    return float(-np.log(p[np.arange(len(y)), y]).mean())


def test_round_robin_is_a_double_round_robin():
    pairs = round_robin(6)
    assert pairs.shape == (10, 3, 2)
    games = {tuple(p) for p in pairs.reshape(-1, 2)}
    assert len(games) == 30  # every ordered pair once
    for rnd in pairs:
        assert len(set(rnd.ravel())) == 6  # each team plays once a round
    with pytest.raises(ValueError):
        round_robin(5)


def test_outcome_probabilities_by_hand():
    p = outcome_probabilities(np.array([1.0]), np.array([1.0]))[0]
    assert p[0] == pytest.approx(p[2])  # symmetric
    # P(draw) for two Poisson(1): sum_k e^-2 / (k!)^2 = e^-2 * I0(2)
    assert p[1] == pytest.approx(np.exp(-2) * 2.2795853023360673, rel=1e-6)
    assert p.sum() == pytest.approx(1.0)


def test_seeded_and_valid(synthetic):
    again = simulate_league(LeagueSpec(leagues=2, teams=20, seasons=4, seed=11))
    assert again.matches.equals(synthetic.matches)
    validate_matches(synthetic.matches)
    assert len(synthetic.matches) == 2 * 4 * 380
    assert simulate_league(LeagueSpec(leagues=1, seasons=1, seed=12)).matches["home_goals"].sum() != (
        simulate_league(LeagueSpec(leagues=1, seasons=1, seed=11)).matches["home_goals"].sum())


def test_results_follow_true_probabilities(synthetic):
    m = synthetic.matches
    truth = m[["true_prob_home", "true_prob_draw", "true_prob_away"]].to_numpy()
    observed = m["result"].value_counts(normalize=True)[["H", "D", "A"]].to_numpy()
    assert observed == pytest.approx(truth.mean(axis=0), abs=0.02)
    assert 0.3 < m["home_goals"].mean() + 0 < 3 and m["home_goals"].mean() > m["away_goals"].mean()


def test_closing_more_accurate_than_opening_and_truth_best():
    m = simulate_league(LeagueSpec(leagues=4, seasons=4, seed=3)).matches
    y = m["result"].map({"H": 0, "D": 1, "A": 2}).to_numpy()
    truth = m[["true_prob_home", "true_prob_draw", "true_prob_away"]].to_numpy()
    cols = lambda t: [f"odds_pinnacle_1x2_{t}_{o}" for o in ("home", "draw", "away")]  # noqa: E731
    p_open = multiplicative(m[cols("open")].to_numpy())
    p_close = multiplicative(m[cols("close")].to_numpy())
    assert _logloss(truth, y) < _logloss(p_close, y) < _logloss(p_open, y)


def test_bookmaker_margins(synthetic):
    m = synthetic.matches
    from a1lab.odds import overround

    pin = overround(m[[f"odds_pinnacle_1x2_close_{o}" for o in ("home", "draw", "away")]].to_numpy()).mean()
    b365 = overround(m[[f"odds_bet365_1x2_close_{o}" for o in ("home", "draw", "away")]].to_numpy()).mean()
    assert pin == pytest.approx(0.025, abs=0.01) and b365 == pytest.approx(0.06, abs=0.01)


def test_true_strengths_published(synthetic):
    t = synthetic.teams
    assert len(t) == 2 * 4 * 20 and {"attack", "defence", "strength"} <= set(t.columns)
