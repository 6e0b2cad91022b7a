"""Scale-out benchmark on a local Dask cluster of two worker processes (this 2-core machine).

    python bench/bench_dask.py [--trials 40] [--matches 1000000] [--skip-xgb]

1. Tuning: ``--trials`` trials of the pipeline's XGBoost search (params.yaml tune.space.xgb, nested
   walk-forward on the seasons before the first test season, data/features.parquet from `dvc repro`)
   run serially and on the cluster, both asking the sampler two trials at a time so both make the same
   choice; prints the times, the ratio and whether the choices are equal.
2. Scheduler overhead: 200 empty tasks through the cluster, per task.
3. xgboost.dask: about ``--matches`` synthetic matches, features built with the leagues fanned out on the
   cluster, then XGBoost fitted across the two workers (one partition each): time and peak memory of each
   worker. The features are the rating and form columns (the synthetic league has no market columns
   beyond its two books).

Prints a projection of the tuning workload on a 16-worker cluster from the measured per-trial cost and
scheduler overhead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from record import record  # noqa: E402

from a1lab.testing import feature_config  # noqa: E402  (the shipped settings)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _noop(i: int) -> int:
    return i


def tuning_bench(trials: int, cluster) -> dict:
    import pandas as pd
    import yaml

    from a1lab.columns import market_columns
    from a1lab.models import hyperparameters
    from a1lab.models.xgb import XGBModel
    from a1lab.tuning import tune

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    frame = pd.read_parquet(ROOT / "data/features.parquet")
    selected = json.loads((ROOT / "data/features_selected.json").read_text())["open"]
    base = hyperparameters(params["models"]["xgb"])
    common = {"features": selected, "offset": list(market_columns("pinnacle", "open")), "seed": params["train"]["seed"]}
    args = dict(base=base, space=params["tune"]["space"]["xgb"], first_test=params["protocol"]["test_seasons"][0],
                common=common, trials=trials, inner=params["tune"]["inner"], seed=params["tune"]["seed"], batch=2,
                timings=("open",))
    t0 = time.perf_counter()
    serial = tune(frame, XGBModel, **args)
    serial_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    fanned = tune(frame, XGBModel, dask_client=cluster, **args)
    fanned_s = time.perf_counter() - t0
    return {"trials": trials, "serial_s": serial_s, "dask_s": fanned_s, "ratio": serial_s / fanned_s,
            "same_choice": serial["chosen"] == fanned["chosen"] and serial["trials"] == fanned["trials"],
            "best_rps": serial["best"], "chosen": serial["chosen"], "per_trial_s": serial_s / trials}


def overhead_bench(cluster, n: int = 200) -> float:
    from a1lab.compute import run_tasks

    run_tasks(_noop, list(range(10)), cluster)
    t0 = time.perf_counter()
    run_tasks(_noop, list(range(n)), cluster)
    return (time.perf_counter() - t0) / n


def xgb_dask_bench(n_matches: int, cluster) -> dict:
    import xgboost.dask as dxgb

    from a1lab.compute import scatter_rows
    from a1lab.data.synthetic import LeagueSpec, simulate_league
    from a1lab.features import build_features
    from a1lab.outcomes import RESULT_CODES

    teams, seasons = 20, 10
    leagues = max(1, round(n_matches / (teams * (teams - 1) * seasons)))
    matches = simulate_league(LeagueSpec(leagues=leagues, teams=teams, seasons=seasons, seed=1)).matches
    t0 = time.perf_counter()
    frame, _ = build_features(matches, feature_config(goal_books=()), dask_client=cluster)
    build_s = time.perf_counter() - t0
    columns = [c for c in frame.columns[7:] if not c.startswith("mkt_")]
    x = frame[columns].to_numpy(dtype=np.float32)
    y = frame["result"].map(RESULT_CODES).to_numpy()
    del frame
    t0 = time.perf_counter()
    dtrain = dxgb.DaskDMatrix(cluster, scatter_rows(cluster, x), scatter_rows(cluster, y))
    out = dxgb.train(cluster, {"objective": "multi:softprob", "num_class": 3, "tree_method": "hist", "max_depth": 3,
                               "eta": 0.1, "nthread": 1}, dtrain, num_boost_round=100)
    train_s = time.perf_counter() - t0
    peaks = cluster.run(_peak_mb)
    return {"matches": len(x), "features": len(columns), "build_s": build_s, "train_s": train_s, "rounds": 100,
            "worker_peak_mb": sorted(peaks.values()), "client_peak_mb": _peak_mb(),
            "trees": out["booster"].num_boosted_rounds()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--matches", type=int, default=1_000_000)
    parser.add_argument("--skip-xgb", action="store_true", help="only the tuning and the overhead")
    args = parser.parse_args()
    from a1lab.compute import client
    from a1lab.params import ComputeParams

    load_before = os.getloadavg()[0]
    with client(ComputeParams(scheduler="local", workers=2, threads_per_worker=1, memory_limit="auto")) as cluster:
        overhead = overhead_bench(cluster)
        print(f"scheduler overhead: {overhead * 1e3:.2f} ms per task (200 empty tasks, 2 workers)")
        t = tuning_bench(args.trials, cluster)
        print(f"tuning, {t['trials']} XGBoost trials: serial {t['serial_s']:.1f} s, 2 workers {t['dask_s']:.1f} s "
              f"({t['ratio']:.2f}x, same run); same choice: {t['same_choice']}; best mean RPS {t['best_rps']:.6f}")
        per_round = t["dask_s"] / math.ceil(t["trials"] / 2)  # a trial on one single-threaded worker, as measured
        workers16 = math.ceil(t["trials"] / 16) * per_round + t["trials"] * overhead
        print(f"projection, 16 workers: about {workers16:.0f} s for the same {t['trials']} trials "
              f"({per_round:.1f} s a trial on one worker, {math.ceil(t['trials'] / 16)} rounds of 16, "
              f"{overhead * 1e3:.1f} ms scheduling a task; the sampler then asks 16 at a time, so the search "
              f"itself differs from a 2-at-a-time one)")
        figures = {"overhead_s": overhead, "tuning": t}
        if not args.skip_xgb:
            x = xgb_dask_bench(args.matches, cluster)
            print(f"xgboost.dask: {x['matches']:,} synthetic matches x {x['features']} features; features built "
                  f"on the cluster in {x['build_s']:.1f} s; {x['rounds']} rounds across 2 workers in "
                  f"{x['train_s']:.1f} s; "
                  f"peak memory per worker {x['worker_peak_mb'][0]:.0f} / {x['worker_peak_mb'][-1]:.0f} MB "
                  f"(client {x['client_peak_mb']:.0f} MB)")
            figures["xgboost_dask"] = x
    record("dask", figures, load_before)


if __name__ == "__main__":
    main()
