"""The feature registry: every feature's name, group, prediction time and meaning.

Rolling-window candidates come from a grid (stat x window x aggregation x side x
role); selection later picks from them on the validation season only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

from a1lab.columns import GOAL_KINDS, market_disagreement, market_goals, market_move, market_overround, market_prob
from a1lab.features.players import feature_names
from a1lab.params import FeatureEngineParams

# per team-match, from the team's point of view
STATS: tuple[tuple[str, str], ...] = (
    ("goals_for", "goals scored"),
    ("goals_against", "goals conceded"),
    ("points", "league points (3 win, 1 draw)"),
    ("shots_for", "shots taken"),
    ("shots_against", "shots faced"),
    ("sot_for", "shots on target taken"),
    ("sot_against", "shots on target faced"),
    ("corners_for", "corners won"),
    ("corners_against", "corners conceded"),
    ("cards_for", "yellow plus red cards received"),
    ("cards_against", "yellow plus red cards of the opponent"),
)
STAT_NAMES = tuple(s for s, _ in STATS)
# prior for a league's very first match day, before any team-match is seen
STAT_PRIORS = {"goals_for": 1.4, "goals_against": 1.4, "points": 1.4, "shots_for": 12.0, "shots_against": 12.0,
               "sot_for": 4.5, "sot_against": 4.5, "corners_for": 5.0, "corners_against": 5.0,
               "cards_for": 2.0, "cards_against": 2.0}


@dataclass(frozen=True)
class FeatureSpec:
    """One feature: name, group, the prediction time it is valid for, a one-line description."""

    name: str
    group: str
    time: str  # "open": known when opening odds are; "lineup": after the line-ups; "close": only at the close
    description: str
    params: dict = field(default_factory=dict, compare=False)


def rolling_specs(config: FeatureEngineParams) -> list[FeatureSpec]:
    """The rolling-window candidate grid: role x stat x (mean over N | EWM span) x side."""
    specs = []
    for role in ("home", "away"):
        for stat, meaning in STATS:
            for side in ("all", "venue"):
                where = "all matches" if side == "all" else f"{role} matches only"
                for n in config.windows:
                    specs.append(FeatureSpec(
                        f"{role}_{stat}_mean{n}_{side}", "form", "open",
                        f"{role} team: mean {meaning} over its last {n} {where}",
                        {"role": role, "stat": stat, "agg": "mean", "window": n, "side": side}))
                for span in config.ewm_spans:
                    specs.append(FeatureSpec(
                        f"{role}_{stat}_ewm{span}_{side}", "form", "open",
                        f"{role} team: exponentially weighted mean {meaning} (span {span}), {where}",
                        {"role": role, "stat": stat, "agg": "ewm", "window": span, "side": side}))
    return specs


STATE_SPECS: tuple[FeatureSpec, ...] = (
    FeatureSpec("home_elo", "elo", "open", "home team's Elo rating before the match"),
    FeatureSpec("away_elo", "elo", "open", "away team's Elo rating before the match"),
    FeatureSpec("elo_diff", "elo", "open", "home minus away Elo plus home advantage"),
    FeatureSpec("elo_expected_home", "elo", "open", "Elo expected score of the home team"),
    FeatureSpec("home_pi_home", "pi", "open", "home team's pi rating at home"),
    FeatureSpec("home_pi_away", "pi", "open", "home team's pi rating away"),
    FeatureSpec("away_pi_home", "pi", "open", "away team's pi rating at home"),
    FeatureSpec("away_pi_away", "pi", "open", "away team's pi rating away"),
    FeatureSpec("pi_expected_gd", "pi", "open", "pi-rating expected goal difference (home minus away)"),
    FeatureSpec("home_rest_days", "schedule", "open", "days since the home team's last match (prior 7, cap 30)"),
    FeatureSpec("away_rest_days", "schedule", "open", "days since the away team's last match (prior 7, cap 30)"),
    FeatureSpec("home_played_season", "schedule", "open", "home team's matches so far this season"),
    FeatureSpec("away_played_season", "schedule", "open", "away team's matches so far this season"),
    FeatureSpec("home_history", "schedule", "open", "home team's matches seen in this league (all seasons)"),
    FeatureSpec("away_history", "schedule", "open", "away team's matches seen in this league (all seasons)"),
    FeatureSpec("home_promoted", "schedule", "open", "1 if the home team is new to the league this season"),
    FeatureSpec("away_promoted", "schedule", "open", "1 if the away team is new to the league this season"),
)


def market_specs(config: FeatureEngineParams) -> list[FeatureSpec]:
    """Features from odds known at the prediction time; closing ones only for ``close``."""
    specs = []
    for timing in ("open", "close"):
        for book in config.market_books:
            for o in ("home", "draw", "away"):
                specs.append(FeatureSpec(market_prob(book, timing, o), "market", timing,
                                         f"de-vigged {book} {timing} probability of {o}"))
            specs.append(FeatureSpec(market_overround(book, timing), "market", timing,
                                     f"{book} {timing} 1X2 overround (margin)"))
        for o in ("home", "draw", "away"):
            specs.append(FeatureSpec(market_disagreement(timing, o), "market", timing,
                                     f"best price over average price minus 1 at {timing} ({o})"))
        for book in config.goal_books:
            for kind, meaning in zip(GOAL_KINDS, ("total goals (Poisson, from over/under 2.5)",
                                                  "goal difference, home minus away (from the Asian handicap)"),
                                     strict=True):
                specs.append(FeatureSpec(market_goals(book, timing, kind), "market", timing,
                                         f"{book} {timing}: expected {meaning}"))
    for book in config.move_books:
        for o in ("home", "draw", "away"):
            specs.append(FeatureSpec(market_move(book, o), "market", "close",
                                     f"{book} de-vigged probability move open to close ({o})"))
    return specs


PLAYER_MEANINGS = {
    "unavailable_minutes": "share of the team's usual minutes injured, suspended or out of the squad",
    "doubtful_minutes": "share of the usual minutes doubtful, weighted by the chance of missing the match",
    "unavailable_price": "share of the usual XI's price injured, suspended or out of the squad",
    "news_age_hours": "hours since the availability snapshot read",
    "xi_usual": "share of the announced XI in the usual XI",
    "xi_minutes": "the announced XI's usual minutes over the usual XI's",
    "xi_price": "the announced XI's price over the usual XI's",
    "gk_usual": "1 if the usual goalkeeper starts",
    "xi_changes": "starters who did not start the previous match",
    "xi_points": "points per appearance of the announced XI minus the usual XI's",
}


def player_specs(config: FeatureEngineParams) -> list[FeatureSpec]:
    """The player features (:mod:`a1lab.features.players`) where ``players`` is set: availability known at the
    open (``pl_open_``), and availability and the announced XI known at line-up time (``pl_lineup_``)."""
    if config.players is None:
        return []
    leads = {"open": f"{config.players.open_lead_hours:g} h", "lineup": f"{config.players.lineup_lead_minutes:g} min"}
    return [FeatureSpec(f"pl_{time}_{name}", "players", time,
                        f"{name.split('_')[0]} team, {leads[time]} before kick-off: "
                        f"{PLAYER_MEANINGS[name.split('_', 1)[1]]}")
            for time in ("open", "lineup") for name in feature_names(time == "lineup")]


def all_specs(config: FeatureEngineParams) -> list[FeatureSpec]:
    """Every candidate feature the engine computes, in column order."""
    return [*STATE_SPECS, *rolling_specs(config), *market_specs(config), *player_specs(config)]


ALLOWED = {"open": {"open"}, "lineup": {"open", "lineup"}, "close": {"open", "lineup", "close"}}


def feature_set(config: FeatureEngineParams, time: str) -> list[str]:
    """Names valid at a prediction time: ``open`` excludes every closing-odds and line-up feature, ``lineup``
    every closing-odds one."""
    if time not in ALLOWED:
        raise ValueError(f"prediction time must be one of {list(ALLOWED)}, got {time!r}")
    return [s.name for s in all_specs(config) if s.time in ALLOWED[time]]


def registry_table(config: FeatureEngineParams) -> pd.DataFrame:
    """The registry as a table (name, group, time, description) for notebooks and outputs."""
    rows = [{k: v for k, v in asdict(s).items() if k != "params"} for s in all_specs(config)]
    return pd.DataFrame(rows, columns=["name", "group", "time", "description"])
