"""Hyper-parameter search on seasons before the test period only (Optuna, trials as Dask tasks).

The objective of a trial is nested walk-forward: each of the ``inner`` seasons just before the first test
season is forecast by a model fitted on the seasons before it (the last of them validating, for early
stopping and calibration), and the trial scores the mean RPS of those forecasts. No test-season row is
ever fitted, validated or scored: the search sees only ``seasons_before(first test season)``, so altering a
test-season result cannot change the choice (tested).

Trials are asked from a seeded TPE sampler in rounds of ``batch`` (the number of workers, say), evaluated
as Dask tasks (:func:`a1lab.compute.run_tasks`) and told back in trial order, so a search is reproducible
for a given batch size wherever its trials run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from a1lab.compute import run_tasks
from a1lab.metrics import paired_choice, rounded, rps_per_match
from a1lab.outcomes import RESULT_CODES
from a1lab.progress import note
from a1lab.splits import WalkForwardSplit, season_order
from a1lab.training import model_factory, season_predictions, walk_forward


@dataclass(frozen=True)
class Dimension:
    """One hyper-parameter's range: ``int`` or ``float`` between ``low`` and ``high`` (``log`` scale), or one of
    ``choices``."""

    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple | None = None

    @classmethod
    def from_dict(cls, values: Mapping) -> Dimension:
        """One ``tune.space`` entry, checked (and its defaults filled) by :class:`a1lab.params.DimensionParams`.

        Raises:
            ValueError: no low < high and no choices, or a log range from a low of 0 or less.
        """
        from a1lab.params import DimensionParams

        dim = DimensionParams.model_validate(dict(values))
        if dim.choices is not None:
            return cls("categorical", choices=tuple(dim.choices))
        return cls(dim.type, dim.low, dim.high, dim.log)

    def suggest(self, trial, name: str):
        if self.kind == "categorical":
            return trial.suggest_categorical(name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(name, float(self.low), float(self.high), log=self.log)


def inner_seasons(frame: pd.DataFrame, first_test: str, inner: int) -> list[str]:
    """The ``inner`` seasons just before ``first_test`` that the search forecasts (each needs two seasons
    before it to fit and validate on).

    Raises:
        ValueError: too few seasons before the first test season.
    """
    seasons = season_order(frame)
    if first_test not in seasons:
        raise ValueError(f"first test season {first_test!r} has no matches; seasons: {seasons}")
    before = seasons[:seasons.index(first_test)]
    if len(before) < inner + 2:
        raise ValueError(f"tuning needs {inner + 2} seasons before {first_test}, has {before}")
    return before[-inner:]


RULE = ("the written hyper-parameters stay unless a trial's RPS on the inner seasons pooled (per match) is lower "
        "with the 95 % paired bootstrap interval of the difference below zero; of those, the lowest")


def trial_losses(params: dict, frame: pd.DataFrame, estimator: type, common: dict, seasons: list[str],
                 reference: str, timings: tuple[str, ...], window: int = 0) -> np.ndarray:
    """Per-match RPS of nested walk-forward forecasts of ``seasons`` with hyper-parameters ``params`` (one Dask
    task), the seasons pooled in kick-off order."""
    make = model_factory(estimator, params, **common)
    results = walk_forward(frame, make, WalkForwardSplit(tuple(seasons), window=window), reference=reference,
                           timings=timings)
    pred = season_predictions(results).sort_values(["kickoff", "match_id"], kind="mergesort")
    y = pred["result"].map(RESULT_CODES).to_numpy()
    return rps_per_match(pred[["p_home", "p_draw", "p_away"]].to_numpy(), y)


def tune(frame: pd.DataFrame, estimator: type, base: dict, space: Mapping[str, Mapping], first_test: str,
         common: dict, trials: int = 40, inner: int = 2, seed: int = 0, batch: int = 1, dask_client=None,
         reference: str = "pinnacle", timings: tuple[str, ...] = ("open", "close"), window: int = 0) -> dict:
    """Search ``space`` around the ``base`` hyper-parameters on seasons before ``first_test``.

    Args:
        frame: the feature table (only seasons before ``first_test`` are used; the rest is dropped here).
        estimator: the model class.
        base: its hyper-parameters from params.yaml; the search overrides those named in ``space``.
        space: name -> dimension (:meth:`Dimension.from_dict`).
        first_test: the first test season.
        common: the arguments every model of the pipeline gets (:func:`a1lab.training.common_args`).
        trials: how many trials (0: no search, ``base`` is the choice).
        inner: seasons forecast per trial.
        seed: the sampler's seed.
        batch: trials asked at once (run in parallel on Dask).
        dask_client: from :func:`a1lab.compute.client`; None runs here.
        reference, timings: the market a forecast match needs (as in :func:`a1lab.training.walk_forward`).
        window: the training window in seasons (``train.window_seasons``; 0: all).

    Returns:
        ``chosen`` (the hyper-parameters to train with, by :data:`RULE`: ``base`` unless a trial beats it beyond
        the noise), ``best`` (its mean RPS, None without trials), ``trials`` (number, params, value: mean RPS,
        and the margin over ``base`` with its interval and share of resamples won), ``base`` (the written
        hyper-parameters' mean RPS), ``seasons`` (those forecast) and ``settings``.
    """
    import optuna

    dims = {name: Dimension.from_dict(d) for name, d in space.items()}
    unknown = [n for n in dims if n not in base]
    if unknown:
        raise ValueError(f"search space names {unknown}, which are not hyper-parameters of the model ({sorted(base)})")
    settings = {"trials": trials, "inner": inner, "seed": seed, "batch": batch, "first_test": first_test}
    if trials <= 0:  # no search: nothing is asked of the data (a short history is fine)
        return {"chosen": dict(base), "best": None, "trials": [], "seasons": [], "settings": settings}
    seasons = inner_seasons(frame, first_test, inner)
    order = season_order(frame)
    before = frame[frame["season"].astype(str).isin(order[:order.index(first_test)])]
    before = before[before["kickoff"] < frame.loc[frame["season"].astype(str) == first_test, "kickoff"].min()]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    history = []
    shared = {"frame": before, "estimator": estimator, "common": common, "seasons": seasons,
              "reference": reference, "timings": timings, "window": window}
    losses = {"base": run_tasks(trial_losses, [dict(base)], dask_client, shared=shared)[0]}
    while len(history) < trials:
        asked = [study.ask() for _ in range(min(batch, trials - len(history)))]
        params = [{**base, **{n: d.suggest(t, n) for n, d in dims.items()}} for t in asked]
        for t, p, loss in zip(asked, params, run_tasks(trial_losses, params, dask_client, shared=shared),
                              strict=True):
            v = float(np.mean(loss))
            study.tell(t, v if math.isfinite(v) else None, state=None if math.isfinite(v) else
                       optuna.trial.TrialState.FAIL)
            history.append({"number": t.number, "params": {n: p[n] for n in dims}, "value": v})
            losses[t.number] = loss
        note(f"tuning: {len(history)} of {trials} trials done, best mean RPS so far "
             f"{min(h['value'] for h in history):.6f}")
    kept, margins = paired_choice(losses, 1000, seed)
    for h in history:
        h |= {k: margins[h["number"]][k] for k in ("diff", "ci95", "wins_share")}
    chosen = dict(base) if kept == "base" else {**base, **next(h for h in history if h["number"] == kept)["params"]}
    return {"chosen": chosen, "best": margins[kept]["mean"], "base": margins["base"]["mean"], "trials": history,
            "seasons": seasons, "settings": settings}


def trial_table(result: dict) -> pd.DataFrame:
    """One row per trial: number, value (mean RPS), the best value so far, the hyper-parameters tried and the
    margin over the written hyper-parameters with its 95 % interval."""
    table = pd.DataFrame([{"trial": h["number"], "value": h["value"], **h["params"],
                           "minus_base": h["diff"], "low": h["ci95"][0], "high": h["ci95"][1]}
                          for h in result["trials"]])
    if table.empty:
        return pd.DataFrame(columns=["trial", "value", "best"])
    table.insert(2, "best", np.minimum.accumulate(table["value"].to_numpy()))
    return table


def tuning_metrics(result: dict) -> dict:
    """One model's entry of ``metrics/tune.json``: the choice (exact), its score and the written
    hyper-parameters', the rule, the seasons, the settings and every trial (scores rounded once)."""
    return {"chosen": result["chosen"], "best_rps": rounded(result["best"]), "base_rps": rounded(result.get("base")),
            "rule": RULE, "seasons": result["seasons"], "settings": result["settings"],
            "trials": [{**rounded(t), "params": t["params"]} for t in result["trials"]]}


def write_outputs(results: Mapping[str, dict], tuned_dir: str | Path, metrics_path: str | Path,
                  reports_dir: str | Path) -> None:
    """The tune stage's files, for every model of ``results`` (name -> :func:`tune`'s result):
    ``<tuned_dir>/<model>.json`` (what training reads), ``metrics_path`` (model -> :func:`tuning_metrics`) and
    ``<reports_dir>/<model>_trials.csv`` (one row per trial)."""
    for folder in (Path(tuned_dir), Path(metrics_path).parent, Path(reports_dir)):
        folder.mkdir(parents=True, exist_ok=True)
    for model, result in results.items():
        chosen = {"chosen": result["chosen"], "settings": result["settings"]}
        (Path(tuned_dir) / f"{model}.json").write_text(json.dumps(chosen, indent=1, sort_keys=True) + "\n")
        trial_table(result).round(6).to_csv(Path(reports_dir) / f"{model}_trials.csv", index=False)
    metrics = {model: tuning_metrics(result) for model, result in results.items()}
    Path(metrics_path).write_text(json.dumps(metrics, indent=1, sort_keys=True) + "\n")
