"""Soak benchmark: three seasons through the live loop in this process, memory at the start and after each.

    python bench/bench_soak.py [--model xgb] [--seasons 2324 2425 2526] [--horizon 400]

Prints the process's resident memory (VmRSS), the event ids the loop holds (``seen``), the settled matches it
remembers and the checkpoint's size after each season, for the configured horizon and for a 7-day one, so
the growth that pruning removes is visible beside it. Uses the registered model like bench_live.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_live import _model_and_matches  # noqa: E402
from record import record  # noqa: E402

from a1lab.testing import loop_config, shipped  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def soak(model, matches, config, seasons: list[str], horizon: float) -> list[dict]:
    import pandas as pd

    from a1lab.features import build_features
    from a1lab.live.events import parse_event
    from a1lab.live.loop import Loop
    from a1lab.live.replay import season_events

    streams = {s: [json.dumps(e) for e in season_events(matches, s)] for s in seasons}
    first = json.loads(streams[seasons[0]][0])["ts"]
    _, state = build_features(matches[matches["kickoff"] < pd.Timestamp(first)], config)
    loop = Loop([model], state, loop_config(horizon_days=horizon))
    rows = [{"after": "start", "rss_mb": rss_mb(), "seen": 0, "settled": 0, "checkpoint_mb": 0.0, "seconds": 0.0}]
    for season, lines in streams.items():
        t0 = time.perf_counter()
        for line in lines:
            loop.process(parse_event(line))
        rows.append({"after": season, "events": len(lines), "seconds": time.perf_counter() - t0, "rss_mb": rss_mb(),
                     "seen": len(loop.ledger.seen), "settled": len(loop.ledger.settled),
                     "checkpoint_mb": len(loop.to_json()) / 2**20})  # what the runtime writes
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="xgb", help="registered model (ensemble too)")
    parser.add_argument("--seasons", nargs="*", default=["2324", "2425", "2526"], help="seasons replayed in order")
    parser.add_argument("--horizon", type=float, default=None, help="default: params.yaml live.horizon_days")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    horizon_days = args.horizon or shipped().live.horizon_days
    with tempfile.TemporaryDirectory() as tmp:
        model, matches, config = _model_and_matches(Path(tmp), args.model)
    results = {}
    for horizon in (horizon_days, 7.0):
        rows = soak(model, matches, config, args.seasons, horizon)
        results[horizon] = rows
        print(f"horizon {horizon:g} days ({args.model}):")
        for r in rows:
            print(f"  after {r['after']:>5}: RSS {r['rss_mb']:7.1f} MB, {r['seen']:6d} event ids, "
                  f"{r['settled']:5d} settled matches held, checkpoint {r['checkpoint_mb']:5.1f} MB"
                  + (f", {r['events']} events in {r['seconds']:.1f} s" if "events" in r else ""))
    record("soak", {"model": args.model, "seasons": args.seasons,
                    "by_horizon_days": {str(k): v for k, v in results.items()}}, load_before)


if __name__ == "__main__":
    main()
