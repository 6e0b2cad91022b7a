"""Team ratings updated match by match: Elo and pi-ratings.

Both are pure update rules over plain floats, so the feature state can apply
them one match at a time in batch replay and in the live loop alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class EloParams:
    """Elo settings: K factor, home advantage (rating points), season regression share and a promoted
    team's gap below the division's mean (params.yaml's ``features.elo_*``); every team starts at ``initial``."""

    k: float
    home_advantage: float
    season_regression: float
    promoted_gap: float
    initial: float = 1500.0  # the scale's origin, no setting: ratings are only compared with each other


def elo_expected(home: float, away: float, home_advantage: float) -> float:
    """Expected score of the home team (win 1, draw 0.5, loss 0)."""
    return 1.0 / (1.0 + 10.0 ** (-(home + home_advantage - away) / 400.0))


def home_score(home_goals: int, away_goals: int) -> float:
    """The home side's score: win 1, draw 0.5, loss 0."""
    return 1.0 if home_goals > away_goals else 0.5 if home_goals == away_goals else 0.0


def fitted_home_advantage(score_sum: float, matches: int, prior: float, prior_matches: float) -> float:
    """A league's Elo home advantage from its home sides' mean score, shrunk toward ``prior`` (rating points)
    as if ``prior_matches`` matches had scored what ``prior`` expects between equal teams.

    The mean home score p of a league whose ratings average out gives 400 x log10(p / (1 - p)).
    """
    p0 = elo_expected(0.0, 0.0, prior)
    p = (score_sum + prior_matches * p0) / (matches + prior_matches)
    p = min(max(p, 1e-6), 1 - 1e-6)
    return 400.0 * math.log10(p / (1.0 - p))


def goal_difference_multiplier(goal_difference: int) -> float:
    """World Football Elo multiplier: 1, 1.5 for a two-goal margin, (11 + n) / 8 beyond."""
    n = abs(goal_difference)
    if n <= 1:
        return 1.0
    if n == 2:
        return 1.5
    return (11.0 + n) / 8.0


def elo_update(home: float, away: float, home_goals: int, away_goals: int, params: EloParams,
               home_advantage: float | None = None) -> tuple[float, float]:
    """New (home, away) Elo ratings after a result; the change is zero-sum.

    Args:
        home_advantage: the league's own (rating points); None: ``params.home_advantage``.
    """
    score = home_score(home_goals, away_goals)
    advantage = params.home_advantage if home_advantage is None else home_advantage
    delta = params.k * goal_difference_multiplier(home_goals - away_goals) * (
        score - elo_expected(home, away, advantage)
    )
    return home + delta, away - delta


def elo_regress(rating: float, mean: float, share: float) -> float:
    """Pull a rating toward the league mean between seasons by ``share``."""
    return rating + share * (mean - rating)


@dataclass(frozen=True)
class PiParams:
    """Pi-rating settings (Constantinou & Fenton 2013): learning rates and a promoted team's gap (params.yaml's
    ``features.pi_*``); ``base`` and ``scale`` are the paper's goal-difference curve."""

    learning_rate: float
    cross_rate: float
    promoted_gap: float
    base: float = 10.0  # the paper's constants, no setting
    scale: float = 3.0


def pi_goal_difference(rating: float, params: PiParams) -> float:
    """Expected goal difference implied by one pi rating: sign(r) * (b^(|r|/c) - 1)."""
    return math.copysign(params.base ** (abs(rating) / params.scale) - 1.0, rating)


def pi_expected_goal_difference(home_home: float, away_away: float, params: PiParams) -> float:
    """Expected home-minus-away goals from the home team's home and the away team's away rating."""
    return pi_goal_difference(home_home, params) - pi_goal_difference(away_away, params)


def pi_update(
    home_home: float, home_away: float, away_home: float, away_away: float,
    home_goals: int, away_goals: int, params: PiParams,
) -> tuple[float, float, float, float]:
    """New (home team home, home team away, away team home, away team away) pi ratings.

    The error between observed and expected goal difference is damped by
    c * log_b(1 + |e|); the venue-specific rating moves by learning_rate times
    that, and the team's other rating by cross_rate times the first change.
    """
    expected = pi_expected_goal_difference(home_home, away_away, params)
    error = (home_goals - away_goals) - expected
    weighted = math.copysign(params.scale * math.log(1.0 + abs(error), params.base), error)
    d_home = weighted * params.learning_rate
    d_away = -weighted * params.learning_rate
    return (
        home_home + d_home,
        home_away + d_home * params.cross_rate,
        away_home + d_away * params.cross_rate,
        away_away + d_away,
    )
