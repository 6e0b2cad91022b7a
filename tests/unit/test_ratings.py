import math

import pytest

from a1lab.ratings import (
    EloParams,
    PiParams,
    elo_expected,
    elo_regress,
    elo_update,
    goal_difference_multiplier,
    pi_expected_goal_difference,
    pi_goal_difference,
    pi_update,
)


def test_elo_by_hand():
    p = EloParams(k=20, home_advantage=60, season_regression=0.2, promoted_gap=100)
    expected = 1 / (1 + 10 ** (-60 / 400))
    assert elo_expected(1500, 1500, 60) == pytest.approx(expected)
    home, away = elo_update(1500, 1500, 2, 0, p)  # two-goal win: multiplier 1.5
    assert home == pytest.approx(1500 + 20 * 1.5 * (1 - expected))
    assert away == pytest.approx(1500 - 20 * 1.5 * (1 - expected))
    home, away = elo_update(1600, 1500, 1, 1, p)  # favourite draws at home: loses points
    e = 1 / (1 + 10 ** (-(1600 + 60 - 1500) / 400))
    assert home == pytest.approx(1600 + 20 * (0.5 - e)) and home < 1600
    home, away = elo_update(1500, 1500, 0, 4, p)  # four-goal away win: (11 + 4) / 8
    assert away - 1500 == pytest.approx(20 * 15 / 8 * expected)


def test_goal_difference_multiplier():
    assert [goal_difference_multiplier(g) for g in (0, 1, -1, 2, 3, -5)] == [1, 1, 1, 1.5, 14 / 8, 16 / 8]


def test_elo_regression():
    assert elo_regress(1600, 1500, 0.2) == pytest.approx(1580)


def test_pi_rating_by_hand():
    p = PiParams(learning_rate=0.035, cross_rate=0.7, promoted_gap=0.2)
    # all ratings 0, home wins 1-0: expected 0, error 1, weighted 3 * log10(2)
    w = 3 * math.log10(2)
    hh, ha, ah, aa = pi_update(0, 0, 0, 0, 1, 0, p)
    assert hh == pytest.approx(0.035 * w)
    assert ha == pytest.approx(0.7 * 0.035 * w)
    assert aa == pytest.approx(-0.035 * w)
    assert ah == pytest.approx(-0.7 * 0.035 * w)
    # expected goal difference from ratings 0.6 (home at home) and -0.3 (away team away)
    g = (10 ** (0.6 / 3) - 1) - (-(10 ** (0.3 / 3) - 1))
    assert pi_expected_goal_difference(0.6, -0.3, p) == pytest.approx(g)
    # rating 1.8 expects a 10^0.6 - 1 = 2.98 goal win; a 2-0 win is an error of -0.98: the home rating drops
    hh, ha, ah, aa = pi_update(1.8, 0.5, 0.2, 0.0, 2, 0, p)
    e = 2 - pi_goal_difference(1.8, p) + pi_goal_difference(0.0, p)
    assert e == pytest.approx(2 - (10**0.6 - 1))
    w = math.copysign(3 * math.log10(1 + abs(e)), e)
    assert hh == pytest.approx(1.8 + 0.035 * w) and hh < 1.8 and aa > 0
