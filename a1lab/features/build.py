"""Batch feature build: replay the match table through the incremental state.

Leagues share no state, except those of one country (``divisions``), so each league, or each country's
leagues together, may be replayed in parallel; the output is identical to a serial run (tested).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from a1lab.columns import ID_COLUMNS
from a1lab.compute import run_tasks
from a1lab.data.fpl import PlayerData
from a1lab.features.market import market_features
from a1lab.features.players import player_columns
from a1lab.features.registry import all_specs
from a1lab.features.state import FeatureState, day_number, team_match_stats
from a1lab.params import FeatureEngineParams


def replay(matches: pd.DataFrame, state: FeatureState) -> np.ndarray:
    """Feed matches (kick-off order) through a state: read each one's features, then queue its result.

    Rows without a result (fixtures) are read but not learned from.
    """
    home_stats, away_stats = team_match_stats(matches)
    days = day_number(matches["kickoff"])
    out = np.empty((len(matches), len(state.names)))
    cols = [matches[c].to_numpy() for c in ("league", "season", "home", "away", "home_goals", "away_goals")]
    for i, (league, season, home, away, hg, ag) in enumerate(zip(*cols, strict=True)):
        day = int(days[i])
        out[i] = state.features(league, season, day, home, away)
        if hg == hg and ag == ag:  # not NaN
            state.update(league, day, home, away, hg, ag, home_stats[i], away_stats[i])
    return out


def _replay_league(matches: pd.DataFrame, config: FeatureEngineParams) -> tuple[np.ndarray, dict]:
    state = FeatureState(config)
    values = replay(matches, state)
    return values, state.to_dict()


def build_features(matches: pd.DataFrame, config: FeatureEngineParams, n_jobs: int = 1,
                   dask_client=None, players: PlayerData | None = None) -> tuple[pd.DataFrame, FeatureState]:
    """Every candidate feature for every match, and the final state (for the live loop).

    Args:
        matches: canonical match table.
        config: feature settings.
        n_jobs: leagues (a country's together) replayed in parallel in this machine's processes (1 = serial; same
            output either way).
        dask_client: replay the leagues as Dask tasks instead (:mod:`a1lab.compute`; same output).
        players: the player data (:func:`a1lab.data.fpl.load_fpl`) where ``config.players`` is set.

    Returns:
        A frame with the id columns plus one column per registry feature, in the
        input's kick-off order, and the state after the last match.

    Raises:
        ValueError: ``config.players`` is set and ``players`` is not given.
    """
    if config.players is not None and players is None:
        raise ValueError("features.players is set: pass its player data (a1lab.data.fpl.load_fpl)")
    order = matches.sort_values(["kickoff", "league", "match_id"], kind="mergesort").reset_index(drop=True)
    countries = config.countries()
    group = order["league"].map(lambda league: f"country {countries[league][0]}" if league in countries else league)
    positions = list(order.groupby(group, sort=True).indices.values())
    groups = (order.iloc[p] for p in positions)
    if dask_client is not None:
        results = run_tasks(_replay_league, list(groups), dask_client, shared={"config": config})
    elif n_jobs == 1 or len(positions) == 1:
        results = (_replay_league(g, config) for g in groups)
    else:
        results = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(_replay_league)(g, config) for g in groups)
    state = FeatureState(config)
    values = np.empty((len(order), len(state.names)))
    for rows, (league_values, snapshot) in zip(positions, results, strict=True):
        values[rows] = league_values
        state.leagues.update(FeatureState.from_dict(snapshot).leagues)
    stateful = pd.DataFrame(values, columns=state.names, copy=False)
    del values
    parts = [order[ID_COLUMNS], stateful, market_features(order, config)]
    if config.players is not None:
        parts.append(player_columns(players, order, config.players))
    frame = pd.concat(parts, axis=1)
    expected = [s.name for s in all_specs(config)]
    assert list(frame.columns[len(ID_COLUMNS):]) == expected, "feature columns out of registry order"
    return frame, state
