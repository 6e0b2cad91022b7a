"""Every season a test: the rolling-origin evaluation of a data set (after its `dvc repro`).

    python pipelines/rolling.py [--workspace .] [--out reports/research] [--parallel]
    python pipelines/rolling.py --workspace datasets/europe --out reports/research/europe --parallel

Each season from the third to the last test season is forecast by every model of params.yaml fitted on earlier
seasons only, its features, calibration method and ensemble kind chosen on the seasons before it
(:mod:`a1lab.rolling` says which choices are re-made and what stays fixed). Writes ``rolling.csv`` and
``rolling.md`` under ``--out``: each forecast's share of the open-to-close gap per season, with Fieller's
interval, and pooled over the seasons before the test period, over the test period and over all of them. The
scoring is a look at the test seasons: it is recorded in the data set's ``reports/looks.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC
from pathlib import Path

from docs import label, share_cell  # pipelines/docs.py: a model's name and a gap share in tables

ROOT = Path(__file__).resolve().parents[1]


def markdown(rows: list[dict], chosen: dict, names: list[str], seasons: list[str]) -> str:
    """The rolling table: a row per season and per pooled group, a column per forecast."""
    header = ["seasons", "n", "open RPS", "gap (open - close)", *(label(n) for n in names), "ensemble kind"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        kind = chosen.get(r["scope"], "")
        lines.append("| " + " | ".join([r["scope"], f"{r['n']:,}", f"{r['open']:.6f}", f"{r['gap']:+.6f}",
                                         *(share_cell(r.get(n)) for n in names), kind]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default=str(ROOT), help="a pipeline's folder (params.yaml, data/)")
    parser.add_argument("--out", default=None, help="default: WORKSPACE/reports/research")
    parser.add_argument("--parallel", action="store_true",
                        help="run the (model, season) fits as Dask tasks where params.yaml's compute section says")
    args = parser.parse_args(argv)
    from a1lab.cpu import on_baseline_cpu  # the pipeline's floats, whatever the CPU (restarts once to set them)

    on_baseline_cpu()

    from datetime import datetime

    import pandas as pd

    from a1lab import looks, registry
    from a1lab.columns import price_timing
    from a1lab.compute import client, run_tasks
    from a1lab.models import hyperparameters
    from a1lab.models.ensemble import ensemble_kinds
    from a1lab.params import load_params
    from a1lab.rolling import gap_table, rolling_forecasts, rolling_seasons, season_fold
    from a1lab.splits import season_order

    workspace = Path(args.workspace)
    params = load_params(workspace / "params.yaml")
    protocol, train = params.protocol.model_dump(), params.train.model_dump()
    if price_timing(protocol["prediction_time"]) != "open":
        raise SystemExit("the rolling evaluation scores the share of the open-to-close gap: it needs forecasts made "
                         "at the opening prices (protocol.prediction_time open or lineup)")
    frame = pd.read_parquet(workspace / "data" / "features.parquet")
    seasons = rolling_seasons(frame, protocol["test_seasons"][-1])
    items = []
    for model, entry in params.models.items():
        settings = entry.model_dump()
        tuned = workspace / "data" / "tuned" / f"{model}.json"
        hyper = json.loads(tuned.read_text())["chosen"] if tuned.is_file() else hyperparameters(settings)
        items += [{"model": model, "season": s, "estimator": registry.estimator_class(settings["estimator"]),
                   "hyper": hyper} for s in seasons]
    started = time.perf_counter()
    config = params.compute if args.parallel else None
    with client(config) as dask_client:
        fitted = run_tasks(season_fold, items, dask_client, shared={
            "frame": frame, "config": params.features,
            "selection": params.features.selection.model_dump(), "protocol": protocol, "train": train})
    print(f"{len(items)} fits ({len(seasons)} seasons) in {time.perf_counter() - started:.0f} s on {config.scheduler}")
    folds = {m: [f for i, f in zip(items, fitted, strict=True) if i["model"] == m] for m in params.models}
    ensemble = params.ensemble
    forecasts, chosen = rolling_forecasts(folds, frame, ensemble.members,
                                          ensemble_kinds(ensemble.stacking_c, ensemble.dynamic_window),
                                          protocol["prediction_time"], protocol["reference"])
    order = season_order(forecasts)
    tested = [s for s in order if s in protocol["test_seasons"]]
    before = [s for s in order if s not in tested]
    groups = {f"{before[0]}-{before[-1]} pooled": before, f"{tested[0]}-{tested[-1]} pooled (test period)": tested,
              f"all {len(order)} pooled": order,
              f"{order[2]}-{order[-1]} pooled (with the ensemble)": order[2:]}
    rows = gap_table(forecasts, protocol["reference"], groups)
    seen = looks.note(workspace, "rolling", params.in_effect(), protocol["test_seasons"], datetime.now(UTC))
    out = Path(args.out or workspace / "reports" / "research")
    out.mkdir(parents=True, exist_ok=True)
    names = [*folds, "ensemble"]
    flat = [{"scope": r["scope"], "n": r["n"], "open": r["open"], "close": r["close"], "gap": r["gap"],
             "forecast": n, **(r[n] or {})} for r in rows for n in names]
    pd.DataFrame(flat).to_csv(out / "rolling.csv", index=False, float_format="%.6f")
    text = (f"Rolling origin, {protocol['reference']} open to close: every season from {order[0]} to {order[-1]} "
            f"forecast by models fitted on earlier seasons only (features, calibration and ensemble kind chosen "
            f"on the seasons before each; hyper-parameters, training window and target, members and seeds as "
            f"params.yaml says). The ensemble forecasts from {order[2]} on (its kind needs two earlier seasons). "
            f"Share of the gap with Fieller's 95 % interval. The test period's seasons ({', '.join(tested)}) "
            f"have been scored under {seen['looks']} configurations (reports/looks.jsonl).\n\n"
            + markdown(rows, chosen, names, order) + "\n")
    (out / "rolling.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
