"""Feature-engine benchmark: the real 18,752 matches, then 100k / 300k / 1M synthetic ones.

    python bench/bench_features.py [--sizes 100000 300000 1000000]

Prints seconds (interpreter start-up and data loading excluded), microseconds per
match, the ratio of each size's per-match time to the smallest (1.0 = linear),
peak memory of a fresh process per size, and as a reference measured in the same
run the time pandas takes for ONE vectorised rolling-mean family (goals for,
last 5, grouped by team), to show what the 262 incremental features cost.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from a1lab.data.synthetic import LeagueSpec, simulate_league
from a1lab.features import build_features

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record import record  # noqa: E402

from a1lab.testing import feature_config  # noqa: E402  (the shipped settings)

TEAMS, SEASONS = 20, 10


def pandas_reference(matches: pd.DataFrame) -> float:
    """Seconds for one vectorised rolling family: each team's mean goals over its last 5 matches."""
    started = time.perf_counter()
    long = pd.concat([
        matches[["kickoff", "home", "home_goals"]].set_axis(["kickoff", "team", "goals"], axis=1),
        matches[["kickoff", "away", "away_goals"]].set_axis(["kickoff", "team", "goals"], axis=1),
    ]).sort_values("kickoff", kind="mergesort")
    long.groupby("team")["goals"].transform(lambda s: s.shift(1).rolling(5, min_periods=1).mean())
    return time.perf_counter() - started


def one_size(n_matches: int) -> dict:
    """Build features for about n_matches synthetic matches in this process."""
    leagues = max(1, round(n_matches / (TEAMS * (TEAMS - 1) * SEASONS)))
    matches = simulate_league(LeagueSpec(leagues=leagues, teams=TEAMS, seasons=SEASONS, seed=1)).matches
    started = time.perf_counter()
    frame, _ = build_features(matches, feature_config(goal_books=()))
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"matches": len(matches), "features": frame.shape[1] - 7, "seconds": seconds, "peak_mb": peak_mb,
            "reference_seconds": pandas_reference(matches)}


def real() -> dict:
    root = os.environ.get("A1LAB_DATA_ROOT")
    if not root:
        print("real data: skipped (set A1LAB_DATA_ROOT)")
        return {}
    from a1lab.data.footballdata import load_football_data
    from a1lab.data.source import FileSource

    seasons = [f"{y % 100:02d}{(y + 1) % 100:02d}" for y in range(2015, 2026)]
    matches = load_football_data(FileSource(root), ["E0", "SP1", "I1", "D1", "F1"], seasons).matches
    build_features(matches.iloc[:500], feature_config(goal_books=()))  # warm imports and caches
    n_features = build_features(matches.iloc[:50], feature_config(goal_books=()))[0].shape[1] - 7
    seconds = {}
    for n_jobs in (1, 2):
        seconds[n_jobs] = best = min(_timed(matches, n_jobs) for _ in range(3))
        print(f"real: {len(matches):,} matches, n_jobs={n_jobs}: {best:.2f} s (best of 3; target < 3 s)")
    ref = pandas_reference(matches)
    print(f"real: pandas reference (one rolling family): {ref:.3f} s; engine / reference = {best / ref:.1f}x "
          f"for {n_features} features")
    return {"matches": len(matches), "features": n_features, "seconds_serial": round(seconds[1], 3),
            "seconds_2_jobs": round(seconds[2], 3), "pandas_reference_s": round(ref, 3)}


def _timed(matches: pd.DataFrame, n_jobs: int) -> float:
    started = time.perf_counter()
    build_features(matches, feature_config(goal_books=()), n_jobs=n_jobs)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", type=int, default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one)))
        return 0
    load_before = os.getloadavg()[0]
    figures = {"real": real(), "synthetic": []}
    base = None
    for size in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(size)], check=True, capture_output=True,
                             text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        per = r["seconds"] / r["matches"] * 1e6
        base = base or per
        print(f"synthetic: {r['matches']:>9,} matches: {r['seconds']:7.1f} s, {per:6.1f} us/match, "
              f"ratio to smallest {per / base:.2f}, peak {r['peak_mb']:,.0f} MB, "
              f"pandas reference {r['reference_seconds']:.2f} s")
        figures["synthetic"].append({**r, "us_per_match": round(per, 1), "ratio_to_smallest": round(per / base, 2)})
    record("features", figures, load_before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
