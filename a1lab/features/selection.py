"""Feature selection on the validation season and the seasons just before it, pooled.

Candidates are ranked by mutual information with the result on those seasons'
matches (``seasons`` of them, the validation season last); a candidate that
correlates above a threshold with one already chosen is dropped as a
near-duplicate. Nothing from later seasons is looked at, so the chosen list
cannot leak the test seasons.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import parallel_config
from sklearn.feature_selection import mutual_info_classif

from a1lab.features.registry import feature_set
from a1lab.outcomes import RESULT_CODES
from a1lab.params import FeatureEngineParams
from a1lab.splits import first_kickoff, season_order


@dataclass(frozen=True)
class SelectionConfig:
    """Which seasons to select on (the data set's validation season and the ``seasons - 1`` before it), how many
    features to keep, the near-duplicate threshold."""

    validation_season: str
    top_k: int
    corr_threshold: float
    seed: int
    seasons: int
    before: pd.Timestamp | None = None  # only validation matches that kick off before this (the first test match)


def rank_for_protocol(frame: pd.DataFrame, config: FeatureEngineParams, selection: dict, protocol: dict,
                      ) -> dict[str, pd.DataFrame]:
    """The features stage's selection: per prediction time (``open``, ``close`` and, with player data, ``lineup``)
    the ranking of its candidates
    (:func:`select_features`) on ``protocol``'s validation season, its matches before the first test match.

    Args:
        frame: the feature table, seasons named as the protocol names them.
        config: the feature settings (which candidates exist).
        selection: ``top_k``, ``corr_threshold``, ``seed`` and ``seasons`` (params.yaml's ``features.selection``).
        protocol: params.yaml's ``protocol`` section.
    """
    settings = SelectionConfig(validation_season=protocol["validation_season"], **selection,
                               before=first_kickoff(frame, protocol["test_seasons"]))
    times = ("open", "lineup", "close") if config.players is not None else ("open", "close")
    return {time: select_features(frame, feature_set(config, time), settings) for time in times}


def chosen(rankings: dict[str, pd.DataFrame]) -> dict[str, list[str]]:
    """The selected feature names per prediction time of :func:`rank_for_protocol`'s rankings."""
    return {time: r.loc[r["selected"], "feature"].tolist() for time, r in rankings.items()}


def select_features(frame: pd.DataFrame, candidates: list[str], config: SelectionConfig) -> pd.DataFrame:
    """Rank candidates on the selection seasons pooled (their matches before ``config.before``) and mark the
    chosen ones.

    Args:
        frame: the feature table (id columns, ``result`` and candidate columns).
        candidates: feature names allowed at the prediction time.
        config: selection settings.

    Returns:
        One row per candidate, best first: ``feature``, ``mutual_info``,
        ``selected`` (bool) and ``dropped_for`` (the chosen feature it duplicates).

    Raises:
        ValueError: the validation season has no matches.
    """
    order = season_order(frame)
    at = order.index(config.validation_season) + 1 if config.validation_season in order else 0
    val = frame[frame["season"].isin(order[max(0, at - config.seasons):at])]  # none: the error below
    if config.before is not None:  # seasons of other calendars may run on past the first test match
        val = val[val["kickoff"] < config.before]
    if val.empty:
        raise ValueError(f"validation season {config.validation_season!r} has no matches"
                         f"{'' if config.before is None else f' before {config.before}'}; "
                         f"seasons present: {sorted(frame['season'].unique())}")
    x = val[candidates].astype(float)
    x = x.fillna(x.median()).fillna(0.0)
    y = val["result"].map(RESULT_CODES).to_numpy()
    with parallel_config(backend="threading", n_jobs=2):  # the same values; kNN queries release the GIL
        mi = mutual_info_classif(x.to_numpy(), y, random_state=config.seed, n_jobs=2)
    ranked = pd.DataFrame({"feature": candidates, "mutual_info": mi})
    ranked = ranked.sort_values(["mutual_info", "feature"], ascending=[False, True], kind="mergesort")
    corr = x.corr().abs().fillna(0.0)
    chosen: list[str] = []
    dropped_for: dict[str, str] = {}
    for name in ranked["feature"]:
        if len(chosen) >= config.top_k:
            break
        twins = [c for c in chosen if corr.at[name, c] > config.corr_threshold]
        if twins:
            dropped_for[name] = twins[0]
        elif x[name].std() > 0:
            chosen.append(name)
    ranked["selected"] = ranked["feature"].isin(chosen)
    ranked["dropped_for"] = ranked["feature"].map(dropped_for)
    return ranked.reset_index(drop=True)


def elo_trajectories(frame: pd.DataFrame, teams: list[str]) -> pd.DataFrame:
    """Pre-match Elo of the given teams over time (kickoff x team), from the feature table."""
    parts = []
    for role in ("home", "away"):
        part = frame.loc[frame[role].isin(teams), ["kickoff", role, f"{role}_elo"]]
        parts.append(part.set_axis(["kickoff", "team", "elo"], axis=1))
    long = pd.concat(parts).sort_values("kickoff")
    return long.pivot_table(index="kickoff", columns="team", values="elo")


def top_correlations(frame: pd.DataFrame, features: list[str], n: int = 10) -> pd.DataFrame:
    """The n most correlated pairs among the given features."""
    corr = frame[features].astype(float).corr()
    upper = corr.where(np.triu(np.ones(corr.shape, dtype=bool), k=1)).stack()
    top = upper.abs().sort_values(ascending=False).head(n).index
    return pd.DataFrame({"pair": [f"{a} ~ {b}" for a, b in top], "corr": [upper[i] for i in top]})
