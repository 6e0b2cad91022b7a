"""Pipeline benchmark: `dvc repro` of a fresh copy of the project, stage by stage.

    python bench/bench_repro.py [--dir build/bench_repro]   # data: $A1LAB_DATA_ROOT or ../shared/data/football-data

Copies the project (tracked and untracked files, as `make demo` does) into DIR
and runs `dvc repro` there: every stage runs, as under `--force`, and this
workspace's outputs and dvc.lock are not touched. Prints each stage's wall time
(from DVC announcing it to DVC announcing the next), the time its notebook's
cells took (papermill's per-cell durations, kept by the runner in reports/timings/;
the reference measured in the same run: the rest is interpreter start, imports,
DVC and the HTML export), and the
totals against issue 12's budgets (all stages but drift <= 40 s, all <= 90 s).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "pipelines"))
import demo  # noqa: E402

BUDGET_ALL, BUDGET_BUT_DRIFT = 90.0, 40.0


def notebook_seconds(repo: Path, stage: str) -> float | None:
    """The stage's notebook cells' seconds, as its runner recorded them (None for a stage without a notebook)."""
    path = repo / "reports" / "timings" / f"stage_{stage.replace('@', '_')}.json"
    return json.loads(path.read_text()).get("cells") if path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=str(ROOT / "build" / "bench_repro"))
    args = parser.parse_args(argv)
    root = os.environ.get("A1LAB_DATA_ROOT", str(ROOT.parent / "shared" / "data" / "football-data"))
    if not Path(root).is_dir():
        print(f"pipeline: skipped (no football-data mirror at {root}; set A1LAB_DATA_ROOT)")
        return 0
    target = demo.prepare(Path(args.dir))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               DVC_SITE_CACHE_DIR=str(target / ".dvc-site-cache"), A1LAB_DATA_ROOT=root)
    starts: list[tuple[str, float]] = []
    began = time.perf_counter()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "dvc"), "repro"], cwd=target, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = []
    for line in proc.stdout:
        log.append(line)
        found = re.match(r"Running stage '([^']+)'", line)
        if found:
            starts.append((found.group(1), time.perf_counter()))
    if proc.wait() != 0:
        print("".join(log[-40:]))
        return 1
    ended = time.perf_counter()
    print(f"dvc repro of a fresh copy in {target} on {root}")
    print(f"{'stage':<14}{'wall s':>8}{'cells s':>9}")
    walls = {}
    for (stage, start), (_, stop) in zip(starts, starts[1:] + [("", ended)], strict=True):
        walls[stage] = stop - start
        cells = notebook_seconds(target, stage)
        print(f"{stage:<14}{walls[stage]:>8.1f}{'' if cells is None else f'{cells:.1f}':>9}")
    total = ended - began
    but_drift = sum(v for k, v in walls.items() if k != "drift")
    cells = sum(notebook_seconds(target, s) or 0.0 for s in walls)
    print(f"all stages: {total:.1f} s (budget {BUDGET_ALL:.0f} s); all but drift: {but_drift:.1f} s "
          f"(budget {BUDGET_BUT_DRIFT:.0f} s); notebook cells {cells:.1f} s = {cells / total:.0%} of the wall time")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (an idle machine reads ~0-1 beside this run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
