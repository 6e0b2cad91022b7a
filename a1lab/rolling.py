"""Rolling-origin evaluation: every season from the third on is a test season, forecast by models fitted on
earlier seasons only, with the data-driven choices re-made before it.

For a season ``s`` (the one before it ``v``): the features are selected on ``v`` and the season before it
pooled (their matches before ``s`` starts); each model is fitted on the seasons before ``v`` (the training
window), early-stopped on ``v`` and its calibrators are fitted on ``v``; the calibration method is chosen on
the two seasons before ``s`` pooled (on ``v`` alone, by cross-validation, for the first two); the ensemble kind
is chosen on the two seasons before ``s`` pooled, fitted on ``v``, and forecasts ``s`` (from the third rolling
season on). What stays fixed is what params.yaml says: hyper-parameters, the training window and target, the
feature families, the members, the seeds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from a1lab.columns import ID_COLUMNS, PRED_COLUMNS, market_columns, price_timing
from a1lab.metrics import gap_share_fieller, interval_ends, rps_per_match
from a1lab.outcomes import RESULT_CODES, expand
from a1lab.splits import WalkForwardSplit, season_before, season_order
from a1lab.training import (
    FoldResult,
    calibrated_fold,
    common_args,
    model_factory,
    pooled_calibration,
    reference_timings,
    walk_forward,
)


def rolling_seasons(frame: pd.DataFrame, last: str, first: int = 2) -> list[str]:
    """The seasons a rolling evaluation forecasts: from the ``first``-th (0-based: the third) to ``last``."""
    order = season_order(frame)
    if last not in order or order.index(last) < first:
        raise ValueError(f"no season from the {first + 1}th to {last!r}; seasons in time order: {order}")
    return order[first:order.index(last) + 1]


def season_fold(item: dict, frame: pd.DataFrame, config, selection: dict, protocol: dict,
                train: dict) -> FoldResult:
    """One model's forecast of one season (``item``: ``season``, ``estimator``, ``hyper``), its features selected
    on the two seasons before it (a pure function of its inputs: a Dask task)."""
    from a1lab.features import chosen, rank_for_protocol

    season = item["season"]
    nested = {**protocol, "validation_season": season_before(frame, season), "test_seasons": [season]}
    selected = chosen(rank_for_protocol(frame, config, selection, nested))[protocol["prediction_time"]]
    make = model_factory(item["estimator"], item["hyper"], **common_args(train, selected, protocol))
    return walk_forward(frame, make, WalkForwardSplit((season,), window=train["window_seasons"]),
                        reference=protocol["reference"], timings=reference_timings(protocol["prediction_time"]))[0]


def recalibrated(folds: list[FoldResult]) -> list[FoldResult]:
    """A model's folds in season order, each from the third on through the calibration method chosen on the two
    folds before it pooled (:func:`a1lab.training.pooled_calibration`); the first two keep their own choice."""
    out = list(folds[:2])
    for k in range(2, len(folds)):
        method, scores = pooled_calibration(folds[k - 2:k], (folds[k - 2].name, folds[k - 1].name))
        out.append(calibrated_fold(folds[k], {"method": method, "seasons": [folds[k - 2].name, folds[k - 1].name],
                                          "scores": scores}))
    return out


def rolling_forecasts(folds: dict[str, list[FoldResult]], frame: pd.DataFrame, members: list[str],
                      kinds: dict[str, Callable], prediction_time: str, reference: str) -> tuple[pd.DataFrame, dict]:
    """Every season's forecasts side by side: the reference's open and close, each model's (calibrated as
    :func:`recalibrated` says) and, from the third season on, the ensemble's, its kind chosen on the two seasons
    before (:func:`a1lab.models.ensemble.select_ensemble`) and fitted on the one before.

    Returns:
        (one row per match forecast by every model: id columns, ``<reference>_<timing>_p_*``, ``<model>_p_*`` and
        ``ensemble_p_*``, NaN where no ensemble was fitted; season -> the ensemble kind chosen for it).
    """
    from a1lab.models.ensemble import member_frame, select_ensemble, walk_forward_ensembles
    from a1lab.models.market import MarketModel

    preds = {name: pd.concat([f.predictions for f in recalibrated(model_folds)], ignore_index=True)
             for name, model_folds in folds.items()}
    wide = member_frame(preds)
    by_id = frame.set_index("match_id").loc[wide["match_id"]]
    out = wide[ID_COLUMNS].copy()
    for timing in reference_timings(prediction_time):
        columns = list(market_columns(reference, timing))
        out[[f"{reference}_{timing}_{c}" for c in PRED_COLUMNS]] = by_id[columns].to_numpy()
    for name in folds:
        out[[f"{name}_{c}" for c in PRED_COLUMNS]] = wide[[f"{name}_{c}" for c in PRED_COLUMNS]].to_numpy()
    if "market" in members:
        market = MarketModel(price_timing(prediction_time), book=reference).fit(by_id, wide["result"].map(RESULT_CODES))
        p = expand(market.predict_proba(by_id), market.classes_)
        wide[[f"market_{c}" for c in PRED_COLUMNS]] = p
    out[[f"ensemble_{c}" for c in PRED_COLUMNS]] = np.nan
    seasons = season_order(wide)
    chosen = {}
    for k in range(2, len(seasons)):
        kind, _ = select_ensemble(wide, members, seasons[k - 2:k], kinds)
        probs, _ = walk_forward_ensembles(wide, members, [seasons[k]], {kind: kinds[kind]})
        out.loc[(wide["season"] == seasons[k]).to_numpy(), [f"ensemble_{c}" for c in PRED_COLUMNS]] = probs[kind]
        chosen[seasons[k]] = kind
    return out, chosen


def gap_table(forecasts: pd.DataFrame, reference: str, groups: dict[str, list[str]]) -> list[dict]:
    """Per season (and per group of seasons pooled, e.g. ``{"all": [...]}``): matches, the reference's open and
    close RPS, the gap, and each forecast's share of it with Fieller's 95 % interval (None ends: unbounded)."""
    market = {f"{reference}_{timing}_p_home" for timing in ("open", "close")}
    names = [c.removesuffix("_p_home") for c in forecasts if c.endswith("_p_home") and c not in market]
    scopes = {str(s): [str(s)] for s in season_order(forecasts)} | groups
    rows = []
    for scope, seasons in scopes.items():
        part = forecasts[forecasts["season"].astype(str).isin(seasons)]
        y = part["result"].map(RESULT_CODES).to_numpy()
        opening, closing = (rps_per_match(part[[f"{reference}_{t}_{c}" for c in PRED_COLUMNS]].to_numpy(), y)
                            for t in ("open", "close"))
        gap = opening.mean() - closing.mean()
        row = {"scope": scope, "n": len(part), "open": opening.mean(), "close": closing.mean(), "gap": gap}
        for name in names:
            p = part[[f"{name}_{c}" for c in PRED_COLUMNS]].to_numpy()
            keep = ~np.isnan(p).any(axis=1)
            if not keep.any() or gap <= 0:
                row[name] = None
                continue
            own = rps_per_match(p[keep], y[keep])
            low, high = interval_ends(gap_share_fieller(own, opening[keep], closing[keep]))
            share = (opening[keep].mean() - own.mean()) / (opening[keep].mean() - closing[keep].mean())
            row[name] = {"n": int(keep.sum()), "share": share, "low": low, "high": high}
        rows.append(row)
    return rows
