"""Variants of the pipeline as params changes, scored by the train stage's walk-forward (issue 17's protocol).

A variant is a set of dotted params keys (``{"train.target_close": 0.5}``, as ``dvc exp run -S`` takes them)
applied to params.yaml. Each is run through the same walk-forward as the train stage, and scored twice: on
the out-of-sample seasons (``protocol.oos_seasons``, before the test period: the only figure a choice may
use) and on the test seasons (reported for every variant tried, so a reader sees how many were tried).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from a1lab.betting import ValueRule, bet_table, closing_line_value
from a1lab.columns import PRED_COLUMNS, market_columns, quote_prices
from a1lab.metrics import paired_choice, rank_probability_score, rps_per_match
from a1lab.outcomes import RESULT_CODES
from a1lab.training import protocol_walk_forward, reference_timings, season_predictions


def apply_overrides(params: dict, overrides: dict) -> dict:
    """A copy of ``params`` with each dotted key of ``overrides`` set (``train.target_close``: 0.5).

    Raises:
        KeyError: a key whose section or parent is not in ``params`` (a typo would otherwise run the baseline).
    """
    out = copy.deepcopy(params)
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = out
        for key in parents:
            if not isinstance(node, dict) or key not in node:
                raise KeyError(f"variant key {dotted!r}: {key!r} is not in params.yaml")
            node = node[key]
        if not isinstance(node, dict) or (leaf not in node and parents[:1] != ["models"]):
            raise KeyError(f"variant key {dotted!r}: {leaf!r} is not in params.yaml")
        node[leaf] = copy.deepcopy(value)
    return out


def value_bet_clv(pred: pd.DataFrame, matches: pd.DataFrame, frame: pd.DataFrame, rule: ValueRule,
                  reference: str = "pinnacle", timing: str = "open") -> dict:
    """The forecast's value bets at the reference's ``timing`` prices: how many, and their mean closing-line
    value against the reference's de-vigged close (:func:`a1lab.betting.closing_line_value`)."""
    ids = pred["match_id"]
    odds = quote_prices(matches.set_index("match_id").loc[ids], reference, timing)
    close = frame.set_index("match_id").loc[ids, list(market_columns(reference, "close"))].to_numpy()
    bets = bet_table(pred, pred[PRED_COLUMNS].to_numpy(), odds, close, rule)
    clv = closing_line_value(bets["odds"], bets["close_odds"])
    return {"bets": len(bets), "clv_mean": float(np.nanmean(clv)) if len(bets) else None}


def variant_row(name: str, model: str, results: list, metrics: dict, oos_seasons: list[str], clv: dict,
                overrides: dict) -> dict:
    """One row of the variants table: the out-of-sample RPS (the choice's figure) and the test figures, and
    ``oos_losses``: the out-of-sample RPS of each match (by match id), what :func:`choose` compares."""
    oos = season_predictions(results, oos_seasons)
    y = oos["result"].map(RESULT_CODES).to_numpy()
    losses = pd.Series(rps_per_match(oos[PRED_COLUMNS].to_numpy(), y), index=oos["match_id"].to_numpy())
    overall = metrics["overall"]
    low, high = overall.get("open_close_gap_closed_ci95", [None, None])
    close_low, close_high = overall["rps_diff_close_ci95"]
    return {"variant": name, "model": model, "changes": ", ".join(f"{k}={v}" for k, v in overrides.items()) or "-",
            "oos_rps": rank_probability_score(oos[PRED_COLUMNS].to_numpy(), y), "oos_losses": losses,
            "test_n": overall["n"],
            "test_rps": overall["rps"], "test_logloss": overall["logloss"],
            "gap_closed": overall.get("open_close_gap_closed"), "gap_closed_low": low, "gap_closed_high": high,
            "diff_close_low": close_low, "diff_close_high": close_high,
            "value_bets": clv["bets"], "clv_mean": clv["clv_mean"],
            "iterations": ", ".join(str(getattr(r.model, "iterations_", "")) for r in results)}


def score_variant(item: dict, frames: dict, matches: pd.DataFrame) -> dict:
    """One (variant, model) walk-forward with the train stage's code, scored as a row of the variants table
    (a pure function of its inputs: a Dask task).

    Args:
        item: ``variant``, ``model``, ``overrides`` (the variant's own), ``params`` (params.yaml with the
            variant applied) and ``frame`` (the key of its feature table and selection in ``frames``).
        frames: key -> (feature table, ``{"open": [...], "close": [...]}`` selected features).
        matches: the match table (prices for the value bets).
    """
    from a1lab import registry
    from a1lab.models import hyperparameters

    params, model = item["params"], item["model"]
    protocol, train, bt = params["protocol"], params["train"], params["backtest"]
    frame, selected = frames[item["frame"]]
    settings = params["models"][model]
    estimator = registry.estimator_class(settings["estimator"])
    hyper = hyperparameters(settings)
    results, metrics = protocol_walk_forward(frame, estimator, hyper, selected[protocol["prediction_time"]], train,
                                             protocol)
    test = season_predictions(results, protocol["test_seasons"])
    timings = reference_timings(protocol["prediction_time"])
    rule = ValueRule(bt["min_edge"], bt["min_prob"], bt["max_prob"], bt["max_odds"])
    clv = value_bet_clv(test, matches, frame, rule, protocol["reference"], timings[0])
    return variant_row(item["variant"], model, results, metrics, protocol["oos_seasons"], clv, item["overrides"])


class PlanError(ValueError):
    """A research plan edited after its test seasons were first scored."""


def plan_hash(text: str) -> str:
    """The first 12 hex digits of a plan file's SHA-256 (what every results table of the plan shows)."""
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:12]


def record_plan(ledger: list[dict], plan: str, digest: str, test_seasons: list[str], workspace: str, when: str,
                new_plan: bool = False) -> list[dict]:
    """The ledger of plans whose test seasons were scored, with this run's plan in it.

    A plan is recorded the first time its test seasons are scored. Scoring the same test seasons (of the same
    workspace) again under another plan (the file edited after the results were seen) is refused, unless
    ``new_plan``: then it is recorded beside the old one, and both are reported.

    Raises:
        PlanError: the plan changed since its test seasons were first scored, and ``new_plan`` is False.
    """
    seasons = sorted(test_seasons)
    same = [e for e in ledger if e["test_seasons"] == seasons and e["workspace"] == workspace]
    if any(e["sha256"] == digest for e in same):
        return ledger
    if same and not new_plan:
        first = same[0]
        raise PlanError(f"{plan} is not the plan its test seasons {', '.join(seasons)} were first scored under "
                        f"(plan {first['sha256']}, {first['recorded']}): to score them under this one too, pass "
                        "--new-plan, and both plans are reported")
    return [*ledger, {"plan": plan, "sha256": digest, "test_seasons": seasons, "workspace": workspace,
                      "recorded": when}]


RULE = ("the first variant (the baseline) stays unless another's out-of-sample RPS, per match averaged over the "
        "models, is lower with the 95 % paired bootstrap interval of the difference below zero; of those, the lowest")


def choose(table: pd.DataFrame, n_boot: int, seed: int) -> pd.DataFrame:
    """Mark ``chosen`` the rows of one variant by :data:`RULE` (a variant is a pipeline-wide params change); the
    test columns play no part.

    Args:
        table: one row per variant and model with ``oos_losses`` (:func:`variant_row`); the baseline first.
        n_boot: bootstrap resamples of the out-of-sample matches.
        seed: the resamples' seed.

    Returns:
        The table without ``oos_losses``, with ``chosen`` and, per variant, ``oos_diff`` (its mean RPS over the
        models minus the baseline's) with ``oos_diff_low``/``oos_diff_high`` (95 % paired bootstrap) and
        ``wins_share`` (how often it is the best over the resamples: the choice's stability).

    Raises:
        ValueError: the variants' out-of-sample predictions are not of the same matches.
    """
    per_variant = {v: pd.concat(list(rows["oos_losses"]), axis=1).mean(axis=1).sort_index()
                   for v, rows in table.groupby("variant", sort=False)}
    first = next(iter(per_variant.values()))
    if any(not s.index.equals(first.index) for s in per_variant.values()):
        raise ValueError("variants predicted different out-of-sample matches; their RPS cannot be compared pairwise")
    best, scores = paired_choice({v: s.to_numpy() for v, s in per_variant.items()}, n_boot, seed)
    margins = {v: {"oos_diff": s["diff"], "oos_diff_low": s["ci95"][0], "oos_diff_high": s["ci95"][1],
                   "wins_share": s["wins_share"]} for v, s in scores.items()}
    out = table.drop(columns="oos_losses")
    return out.assign(chosen=out["variant"] == best,
                      **{col: out["variant"].map(lambda v, col=col: margins[v][col]) for col in margins[best]})


def nested_selection(frame: pd.DataFrame, config, selection: dict, protocol: dict) -> dict[str, list[str]]:
    """The features stage's selection (:func:`a1lab.features.rank_for_protocol`), nested: made on the season
    before the first out-of-sample season, on its matches before the first out-of-sample match, so a variant is
    never ranked on the season its features were chosen on.

    Raises:
        ValueError: no season starts before the first out-of-sample season.
    """
    from a1lab.features import chosen, rank_for_protocol
    from a1lab.splits import season_before, season_order

    first = min(protocol["oos_seasons"], key=season_order(frame).index)
    nested = {**protocol, "validation_season": season_before(frame, first), "test_seasons": protocol["oos_seasons"]}
    return chosen(rank_for_protocol(frame, config, selection, nested))


def shrink_toward(p_model: np.ndarray, p_anchor: np.ndarray, lam: float) -> np.ndarray:
    """The forecast ``anchor + lam x (model - anchor)``: lam 1 the model, 0 the anchor (e.g. the opening line);
    rows still sum to 1."""
    p_model, p_anchor = np.asarray(p_model, dtype=float), np.asarray(p_anchor, dtype=float)
    return p_anchor + lam * (p_model - p_anchor)


def move_forecast(p_open: np.ndarray, signals: np.ndarray, move: np.ndarray, fit_rows: np.ndarray) -> np.ndarray:
    """The opening line plus a least-squares forecast of its move to the close.

    Args:
        p_open: (n, 3) the reference's de-vigged opening probabilities (home, draw, away).
        signals: (n, k) what is known at the open (e.g. other books' opening probabilities minus the reference's).
        move: (n, 3) the reference's close minus its open; read on ``fit_rows`` only.
        fit_rows: (n,) the rows the fit may read (all before the rows forecast).

    Returns:
        (n, 3): the home and away moves fitted on the signals with an intercept, the draw's what keeps the sum,
        clipped at 1e-4 and renormalised.

    Raises:
        ValueError: fewer fitting rows than coefficients, or signals missing on them.
    """
    fit_rows = np.asarray(fit_rows, dtype=bool)
    design = np.column_stack([np.asarray(signals, dtype=float), np.ones(len(p_open))])
    if fit_rows.sum() <= design.shape[1] or not np.isfinite(design[fit_rows]).all():
        raise ValueError(f"{int(fit_rows.sum())} fitting rows for {design.shape[1]} coefficients, all signals needed")
    coef = np.linalg.lstsq(design[fit_rows], np.asarray(move, dtype=float)[fit_rows][:, [0, 2]], rcond=None)[0]
    home, away = (design @ coef).T
    p = np.asarray(p_open, dtype=float) + np.column_stack([home, -(home + away), away])
    p = np.clip(p, 1e-4, None)
    return p / p.sum(axis=1, keepdims=True)
