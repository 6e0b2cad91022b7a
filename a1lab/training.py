"""Walk-forward fitting and evaluation against the market on the same matches."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from a1lab.calibration import CALIBRATORS, Identity, choose_calibration
from a1lab.columns import ID_COLUMNS, PRED_COLUMNS, TIMINGS, market_columns, outcome_set, price_timing, quotes_behind
from a1lab.metrics import compare_with_market, logloss_per_match, paired_choice, rounded, rps_per_match
from a1lab.outcomes import RESULT_CODES, expand, outcome_codes
from a1lab.progress import note
from a1lab.splits import WalkForwardSplit, check_time_ordered


def reference_timings(prediction_time: str) -> tuple[str, ...]:
    """The reference prices a test match needs: an opening or line-up forecast is scored beside the open and the
    close; a closing forecast beside the close only (so closing-only data can be tested)."""
    return TIMINGS if price_timing(prediction_time) == "open" else ("close",)


def has_market(frame: pd.DataFrame, reference: str = "pinnacle", timings: tuple[str, ...] = TIMINGS) -> pd.Series:
    """Rows with the reference bookmaker's probabilities at the given timings: the protocol's test matches.

    Raises:
        ValueError: the frame has no such columns (the message lists the bookmakers it has).
    """
    cols = [c for t in timings for c in market_columns(reference, t)]
    if not all(c in frame for c in cols):
        books = sorted({book for c in frame.columns if c.startswith("mkt_") and c.endswith("_p_home")
                        for book, _ in quotes_behind(c)})  # names with underscores parse whole
        raise ValueError(f"the reference bookmaker {reference!r} (protocol.reference) has no market columns; "
                         f"the features have: {books}")
    return frame[cols].notna().all(axis=1)


@dataclass
class FoldResult:
    """One walk-forward fold: the fitted model and calibrator, and its test predictions."""

    name: str
    train_seasons: tuple[str, ...]
    validation_season: str
    model: object
    calibrator: object
    calibration_losses: dict
    predictions: pd.DataFrame
    seconds: float
    extra: dict = field(default_factory=dict)
    left_out: dict = field(default_factory=dict)  # test matches not scored, by reason
    calibrators: dict = field(default_factory=dict)  # every method, fitted on the validation season


def model_factory(estimator: type, hyper: dict | None = None, **common) -> Callable[[], object]:
    """A function returning a fresh, unfitted ``estimator(**hyper)``, given those of the ``common``
    arguments (e.g. ``features``, ``offset``, ``seed``) its constructor accepts."""
    import inspect

    accepted = inspect.signature(estimator).parameters
    if common.get("close_weight") and "close_weight" not in accepted:
        raise ValueError(f"{estimator.__name__} cannot learn the close (train.target_close); set it to 0 for it")
    args = {**{k: v for k, v in common.items() if k in accepted}, **(hyper or {})}
    return lambda: estimator(**args)


def common_args(train: dict, selected: list[str], protocol: dict) -> dict:
    """What every model of the pipeline gets from the ``train`` section (:func:`model_factory`'s ``common``):
    the selected features, the market offset at the prediction time, the seed and the close target
    (``target_close``: the share of the reference's de-vigged close in the training target; 0: results only;
    only for ``open`` and ``lineup`` forecasts: a closing forecast sees the close as a feature)."""
    timing = price_timing(protocol["prediction_time"])
    weight = float(train["target_close"]) if timing == "open" else 0.0
    offset = train.get("offset")
    return {"features": list(selected), "seed": train["seed"],
            "offset": list(market_columns(offset, timing)) if offset else None,
            "close": list(market_columns(protocol["reference"], "close")) if weight else None,
            "close_weight": weight}


def walk_forward(frame: pd.DataFrame, make_model: Callable[[], object], splitter: WalkForwardSplit,
                 calibrate: bool = True, early_stopping: bool | None = None,
                 reference: str = "pinnacle", timings: tuple[str, ...] = TIMINGS,
                 dask_client=None, calibrate_on: tuple[str, ...] = ()) -> list[FoldResult]:
    """Fit a fresh model per fold on earlier seasons, calibrate on the validation season, predict the test season.

    The calibration method is chosen per fold on its validation season or, with ``calibrate_on``, once for every
    fold on those folds' forecasts pooled (:func:`pooled_calibration`).

    The outcomes are the sport's (:func:`a1lab.models.outcome_set`): in a two-way sport a tie is a push,
    left out of fitting, calibration and the test predictions. Predictions always have the three
    probability columns (a two-way model's draw is 0).

    Args:
        frame: feature table with ``result`` (the label) and the model's columns.
        make_model: returns an unfitted estimator.
        splitter: the walk-forward split.
        calibrate: choose and fit a calibrator on the validation season.
        early_stopping: pass the validation season as ``eval_set`` to ``fit``; None: when ``fit`` takes one.
        reference: the bookmaker whose prices a test match needs (:func:`has_market`).
        timings: the reference's timings a test match needs (:func:`reference_timings`).
        dask_client: fit the folds as Dask tasks (:mod:`a1lab.compute`); the results are the serial run's.
        calibrate_on: folds (names) whose test seasons, all before the first scored one, choose the method.

    Raises:
        ValueError: a test season without a match that has the reference's prices.
    """
    from a1lab.compute import run_tasks

    check_time_ordered(splitter)
    folds = list(splitter.split(frame))
    results = run_tasks(fit_fold, folds, dask_client, shared={
        "frame": frame, "make_model": make_model, "calibrate": calibrate, "early_stopping": early_stopping,
        "reference": reference, "timings": timings, "choose": not calibrate_on})
    if calibrate and calibrate_on:
        method, scores = pooled_calibration(results, calibrate_on)
        choice = {"method": method, "seasons": list(calibrate_on), "scores": rounded(scores)}
        results = [calibrated_fold(r, choice) for r in results]
    return results


def pooled_calibration(results: list[FoldResult], seasons: tuple[str, ...], n_boot: int = 1000,
                       seed: int = 0) -> tuple[str, dict]:
    """The calibration method for every fold, chosen on the forecasts of the folds ``seasons`` pooled (each
    fold's calibrators fitted on its validation season, scored out of sample on its test season) by the
    noise-aware rule (:func:`a1lab.metrics.paired_choice`): none stays unless another method's per-match log
    loss is lower with the 95 % paired interval below zero.

    Returns:
        (the method, method -> ``mean`` log loss, ``diff`` from none with its ``ci95``, ``wins_share``).

    Raises:
        ValueError: a season of ``seasons`` is no fold's.
    """
    chosen = [r for r in results if r.name in seasons]
    if missing := sorted(set(seasons) - {r.name for r in chosen}):
        raise ValueError(f"no fold forecasts {missing}: the calibration is chosen on folds of the walk-forward")
    losses = {}
    for method in CALIBRATORS:
        parts = []
        for r in chosen:
            classes = np.asarray(r.model.classes_)
            raw = r.predictions[[f"raw_{PRED_COLUMNS[c]}" for c in classes]].to_numpy()
            codes = np.searchsorted(classes, r.predictions["result"].map(RESULT_CODES).to_numpy())
            parts.append(logloss_per_match(r.calibrators[method].transform(raw), codes))
        losses[method] = np.concatenate(parts)
    return paired_choice(losses, n_boot, seed)


def calibrated_fold(result: FoldResult, choice: dict) -> FoldResult:
    """A fold's forecasts through its calibrator of the chosen method (``choice``, kept in ``extra``)."""
    method = choice["method"]
    classes = np.asarray(result.model.classes_)
    raw = result.predictions[[f"raw_{PRED_COLUMNS[c]}" for c in classes]].to_numpy()
    pred = result.predictions.copy()
    pred[PRED_COLUMNS] = expand(result.calibrators[method].transform(raw), classes)
    return replace(result, calibrator=result.calibrators[method], predictions=pred,
                   calibration_losses={k: v["mean"] for k, v in choice["scores"].items()},
                   extra={**result.extra, "calibration": choice})


def fit_fold(fold, frame: pd.DataFrame, make_model: Callable[[], object], calibrate: bool = True,
             early_stopping: bool | None = None, reference: str = "pinnacle",
             timings: tuple[str, ...] = TIMINGS, choose: bool = True) -> FoldResult:
    """One fold of :func:`walk_forward` (a pure function of its inputs, so it can run anywhere). Every
    calibration method is fitted on the validation season; ``choose`` picks one there (else: none, until
    :func:`pooled_calibration` picks one across folds)."""
    import inspect

    started = time.perf_counter()
    codes = outcome_codes(outcome_set(frame))
    y = frame["result"].map(RESULT_CODES).to_numpy()
    scored = np.isin(y, codes)  # a tie in a two-way sport is a push: neither learned from nor scored
    fit_rows, val_rows = fold.train[scored[fold.train]], fold.validation[scored[fold.validation]]
    train, val = frame.iloc[fit_rows], frame.iloc[val_rows]
    model = make_model()
    if early_stopping or (early_stopping is None and "eval_set" in inspect.signature(model.fit).parameters):
        model.fit(train, y[fit_rows], eval_set=(val, y[val_rows]))
    else:
        model.fit(train, y[fit_rows])
    classes = np.asarray(model.classes_)
    calibrator, losses, calibrators = Identity(), {}, {}
    if calibrate:  # in the model's own class space (a two-way model's two columns)
        p_val, y_val = model.predict_proba(val), np.searchsorted(classes, y[val_rows])
        calibrators = {name: cls().fit(p_val, y_val) for name, cls in CALIBRATORS.items()}
        if choose:
            calibrator, losses = choose_calibration(p_val, y_val)
    test = frame.iloc[fold.test[scored[fold.test]]]
    priced = has_market(test, reference, timings)
    left_out = {"push (a tie in a two-way sport)": int((~scored[fold.test]).sum()),
                f"no {reference} {' and '.join(timings)} prices": int((~priced).sum())}
    test = test[priced]
    if test.empty:
        raise ValueError(f"test season {fold.name}: no match has {reference} {' and '.join(timings)} prices "
                         "(protocol.reference names the market every model is compared with; closing-only "
                         "data needs protocol.prediction_time: close)")
    raw = model.predict_proba(test)
    p = calibrator.transform(raw)
    pred = test[ID_COLUMNS].reset_index(drop=True)
    pred[PRED_COLUMNS] = expand(p, classes)
    pred[[f"raw_{c}" for c in PRED_COLUMNS]] = expand(raw, classes)
    seconds = time.perf_counter() - started
    rounds = getattr(model, "iterations_", None)
    note(f"fold {fold.name}: fitted on {len(fit_rows):,} matches{f', {rounds} iterations' if rounds else ''}, "
         f"{len(pred):,} forecast, {seconds:.1f} s")
    return FoldResult(fold.name, fold.train_seasons, fold.validation_season, model, calibrator, losses, pred, seconds,
                      left_out={k: v for k, v in left_out.items() if v}, calibrators=calibrators)


def season_predictions(results: list[FoldResult], seasons=None) -> pd.DataFrame:
    """The folds' predictions as one table: those of ``seasons`` (fold names), or of every fold when None."""
    return pd.concat([r.predictions for r in results if seasons is None or r.name in seasons], ignore_index=True)


def protocol_walk_forward(frame: pd.DataFrame, estimator: type, hyper: dict, selected: list[str], train: dict,
                          protocol: dict, dask_client=None) -> tuple[list[FoldResult], dict]:
    """One model's walk-forward as the train stage runs it: every out-of-sample and test season of
    ``protocol`` forecast by a model of ``estimator(**hyper)`` on ``selected`` features, fitted within
    ``train``'s window (``window_seasons``) with its offset, seed and close target (:func:`common_args`), the
    calibration method chosen on the out-of-sample seasons pooled (:func:`pooled_calibration`).

    Returns:
        The folds and the scores of the test seasons' forecasts (:func:`evaluate`).
    """
    timings = reference_timings(protocol["prediction_time"])
    splitter = WalkForwardSplit(tuple(protocol["oos_seasons"]) + tuple(protocol["test_seasons"]),
                                window=train["window_seasons"])
    make_model = model_factory(estimator, hyper, **common_args(train, selected, protocol))
    results = walk_forward(frame, make_model, splitter, reference=protocol["reference"], timings=timings,
                           dask_client=dask_client, calibrate_on=tuple(protocol["oos_seasons"]))
    test = season_predictions(results, protocol["test_seasons"])
    metrics = evaluate(test, frame, seed=train["seed"], reference=protocol["reference"], timings=timings)
    spread = seed_spread(results, frame, protocol["test_seasons"], protocol["reference"], timings)
    return results, {**metrics, "left_out": unscored(results, protocol["test_seasons"]),
                     "calibration": results[0].extra["calibration"], **({"seeds": spread} if spread else {})}


def seed_spread(results: list[FoldResult], frame: pd.DataFrame, seasons, reference: str = "pinnacle",
                timings: tuple[str, ...] = TIMINGS) -> dict | None:
    """For a model of several seeds (``predict_proba_each``): each seed's own forecast of the test seasons
    (through the fold's calibrator) scored on the same matches, RPS and, for ``open`` forecasts, the share of
    the open-to-close gap, each seed's and their mean and standard deviation: how much one training run's score
    says. None for a model of one seed."""
    folds = [r for r in results if r.name in seasons]
    if not all(len(getattr(r.model, "modules_", ())) > 1 for r in folds):
        return None
    rows = frame.set_index("match_id")
    each = np.concatenate([np.stack([expand(r.calibrator.transform(p), np.asarray(r.model.classes_))
                                     for p in r.model.predict_proba_each(rows.loc[r.predictions["match_id"]])])
                           for r in folds], axis=1)  # (seeds, test rows, 3)
    test = season_predictions(folds)
    y = test["result"].map(RESULT_CODES).to_numpy()
    market = rows.loc[test["match_id"]]
    close = rps_per_match(market[list(market_columns(reference, "close"))].to_numpy(), y).mean()
    rps = [float(rps_per_match(p, y).mean()) for p in each]
    out = {"seeds": len(each), "rps": rps, "rps_mean": float(np.mean(rps)), "rps_sd": float(np.std(rps, ddof=1))}
    if "open" in timings:
        opening = rps_per_match(market[list(market_columns(reference, "open"))].to_numpy(), y).mean()
        shares = [(opening - r) / (opening - close) if opening > close else None for r in rps]
        if None not in shares:
            out |= {"open_close_gap_closed": shares, "open_close_gap_closed_mean": float(np.mean(shares)),
                    "open_close_gap_closed_sd": float(np.std(shares, ddof=1))}
    return rounded(out)


def unscored(results: list[FoldResult], seasons) -> dict:
    """How many matches of the test seasons were not scored, and why (never silently)."""
    reasons: dict[str, int] = {}
    for r in results:
        if r.name in seasons:
            for why, n in r.left_out.items():
                reasons[why] = reasons.get(why, 0) + n
    scored = sum(len(r.predictions) for r in results if r.name in seasons)
    return {"matches": scored + sum(reasons.values()), "scored": scored, "reasons": dict(sorted(reasons.items()))}


def evaluate(predictions: pd.DataFrame, frame: pd.DataFrame, seed: int = 0, reference: str = "pinnacle",
             timings: tuple[str, ...] = TIMINGS) -> dict:
    """``overall`` and ``by_season`` scores beside the reference bookmaker's forecasts at the given timings
    on the same matches, which ``reference`` names (the metrics contract of docs/design.md). Matches are
    scored in kick-off order (then ``match_id``), whatever order they come in.

    Raises:
        ValueError: no predictions, or predictions of matches without the reference's prices.
    """
    if predictions.empty:
        raise ValueError("no predictions to evaluate")
    # one order for every forecast (the bootstrap resamples positions): the published table rescores the same
    predictions = predictions.sort_values(["kickoff", "match_id"], kind="mergesort").reset_index(drop=True)
    market = frame.set_index("match_id").loc[predictions["match_id"]]
    if not (covered := has_market(market, reference, timings)).all():
        raise ValueError(f"{int((~covered).sum())} predictions are of matches without {reference} "
                         f"{' and '.join(timings)} prices: they cannot be compared with the market")
    y = predictions["result"].map(RESULT_CODES).to_numpy()
    p = predictions[PRED_COLUMNS].to_numpy()
    mo = market[list(market_columns(reference, "open"))].to_numpy() if "open" in timings else None
    mc = market[list(market_columns(reference, "close"))].to_numpy()
    out = {"reference": {"book": reference, "timings": list(timings), "n": int(len(predictions))},
           "overall": rounded(compare_with_market(p, y, mo, mc, seed)), "by_season": {}}
    for season in sorted(predictions["season"].unique()):
        m = (predictions["season"] == season).to_numpy()
        out["by_season"][str(season)] = rounded(compare_with_market(p[m], y[m], None if mo is None else mo[m],
                                                                     mc[m], seed))
    return out


HEADLINE_KEYS = ("n", "rps", "logloss", "rps_ratio_open", "rps_ratio_close", "open_close_gap_closed")


def headline(metrics: dict) -> dict:
    """The few figures of an :func:`evaluate` result that ``dvc metrics show`` prints as one row per model:
    n, RPS, log loss, the ratios to the reference's open and close, the share of the open-to-close gap
    closed, and the 95 % interval of RPS minus the close (keys absent without opening prices are left out)."""
    overall = metrics["overall"]
    low, high = overall["rps_diff_close_ci95"]
    return {**{k: overall[k] for k in HEADLINE_KEYS if overall.get(k) is not None},
            "rps_diff_close_low": low, "rps_diff_close_high": high}


def write_headline(name: str, metrics: dict, folder: str | Path) -> None:
    """``<folder>/<name>.json``: :func:`headline` of a model's or ensemble's metrics."""
    import json

    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / f"{name}.json").write_text(json.dumps(headline(metrics), indent=2) + "\n")


def plot_tables(name: str, scored: pd.DataFrame, frame: pd.DataFrame, reference: str = "pinnacle",
                timings: tuple[str, ...] = TIMINGS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tables ``dvc plots`` draws: reliability per outcome and RPS per season, of the model (``name``)
    and of the reference at each timing on the same matches (columns ``forecast``, its name, and ``role``:
    ``model``, ``reference open``, ``reference close``). Outcomes no forecast
    gives a chance (a two-way sport's draw) are left out."""
    from a1lab.metrics import rank_probability_score, reliability_table
    from a1lab.splits import season_order

    market = frame.set_index("match_id").loc[scored["match_id"]]
    y = scored["result"].map(RESULT_CODES).to_numpy()
    forecasts = {name: scored[PRED_COLUMNS].to_numpy(),
                 **{f"{reference} {t}": market[list(market_columns(reference, t))].to_numpy() for t in timings}}
    possible = [o for k, o in enumerate(PRED_COLUMNS) if any((p[:, k] > 0).any() for p in forecasts.values())]
    roles = dict(zip(forecasts, ["model", *(f"reference {t}" for t in timings)], strict=True))  # fixed plot colours
    reliability = pd.concat([reliability_table(p, y).assign(forecast=f, role=roles[f]) for f, p in forecasts.items()],
                            ignore_index=True)
    reliability = reliability[reliability["outcome"].isin([c.removeprefix("p_") for c in possible])]
    season = scored["season"].astype(str).to_numpy()
    rps = pd.DataFrame([{"season": s, "forecast": f, "role": roles[f],
                         "rps": rank_probability_score(p[season == s], y[season == s])}
                        for s in season_order(scored) for f, p in forecasts.items()])
    return reliability.reset_index(drop=True), rps


def write_outputs(name: str, results: list[FoldResult], metrics: dict, predictions_dir: str, metrics_path: str,
                  report_dir: str, scored_seasons: list[str] | None = None, frame: pd.DataFrame | None = None,
                  reference: str = "pinnacle", timings: tuple[str, ...] = TIMINGS) -> pd.DataFrame:
    """Write walk-forward predictions (every fold), the metrics JSON and its headline (``headline/<name>.json``
    beside it), the plot tables of the scored seasons (``reliability.csv`` and, given the feature
    ``frame``, ``rps_by_season.csv``; :func:`plot_tables`), the calibration each fold chose, and (out
    of git) the fold timings."""
    import json

    from a1lab.metrics import reliability_table

    pred = season_predictions(results)
    Path(predictions_dir).mkdir(parents=True, exist_ok=True)
    pred.to_parquet(Path(predictions_dir) / f"{name}.parquet", index=False)
    Path(metrics_path).parent.mkdir(parents=True, exist_ok=True)
    Path(metrics_path).write_text(json.dumps(metrics, indent=2) + "\n")
    write_headline(name, metrics, Path(metrics_path).parent / "headline")
    report = Path(report_dir)
    report.mkdir(parents=True, exist_ok=True)
    scored = pred if scored_seasons is None else pred[pred["season"].isin(scored_seasons)]
    if frame is None:
        y = scored["result"].map(RESULT_CODES).to_numpy()
        reliability_table(scored[PRED_COLUMNS].to_numpy(), y).assign(forecast=name).to_csv(
            report / "reliability.csv", index=False)
    else:
        reliability, rps = plot_tables(name, scored, frame, reference, timings)
        reliability.to_csv(report / "reliability.csv", index=False, float_format="%.6f")
        rps.to_csv(report / "rps_by_season.csv", index=False, float_format="%.6f")
    calibration = {r.name: {"calibration": r.calibrator.to_dict()["method"],
                            "calibration_oof_logloss": rounded(r.calibration_losses)} for r in results}
    (report / "calibration.json").write_text(json.dumps(calibration, indent=2) + "\n")
    write_timing(name, {r.name: r.seconds for r in results})
    return pred


def write_timing(stage: str, seconds: dict, folder: str = "reports/timings") -> None:
    """Wall-clock seconds of a stage's steps, kept out of git and DVC (they change on every run)."""
    import json

    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / f"{stage}.json").write_text(json.dumps({k: round(v, 2) for k, v in seconds.items()}) + "\n")
