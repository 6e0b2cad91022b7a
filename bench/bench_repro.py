"""Pipeline benchmark: `dvc repro` of a fresh copy of the project, stage by stage.

    python bench/bench_repro.py [--dir build/bench_repro]
    # data: $A1LAB_DATA_ROOT or ../shared/data/football-data

Copies the project (tracked and untracked files, as `make demo` does) into DIR
and runs `dvc repro` there: every stage runs, as under `--force`, and this
workspace's outputs and dvc.lock are not touched. Prints each stage's wall time
(from DVC announcing it to DVC announcing the next), the time its notebook's
cells took (papermill's per-cell durations, kept by the runner in reports/timings/;
what remains is DVC, interpreter and kernel start, imports and the HTML export), the
total against the budget (the whole pipeline <= 120 s on an idle 2-core machine) and
whether every output matches this workspace's dvc.lock; writes the figures to
reports/bench/repro.json (the docs' performance page is generated from it).
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

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from record import record  # noqa: E402

from a1lab.testing import repo_copy  # noqa: E402  (a copy of the project)

BUDGET_ALL = 120.0


def notebook_seconds(repo: Path, stage: str) -> float | None:
    """The stage's notebook cells' seconds, as its runner recorded them (None for a stage without a notebook)."""
    path = repo / "reports" / "timings" / f"stage_{stage.replace('@', '_')}.json"
    return json.loads(path.read_text()).get("cells") if path.is_file() else None


def measure(target: Path, root: str, env: dict[str, str]) -> dict[str, float] | None:
    """``dvc repro`` in target: each stage's wall time (from DVC announcing it to DVC announcing the next) and,
    under "", the whole run's; None (with the log's end printed) where it failed."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               DVC_SITE_CACHE_DIR=str(target / ".dvc-site-cache"), A1LAB_DATA_ROOT=root, **env)
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
        return None
    ended = time.perf_counter()
    walls = {stage: stop - start for (stage, start), (_, stop) in zip(starts, starts[1:] + [("", ended)], strict=True)}
    return {**walls, "": ended - began}


def report(target: Path, walls: dict[str, float]) -> dict:
    """Print the stage table and the total against the budget; return them as a JSON-ready dict."""
    print(f"dvc repro of a fresh copy in {target}")
    print(f"{'stage':<18}{'wall s':>8}{'cells s':>9}")
    stages = {}
    for stage, wall in walls.items():
        if stage:
            cells = notebook_seconds(target, stage)
            stages[stage] = {"wall_s": round(wall, 2), "cells_s": None if cells is None else round(cells, 2)}
            print(f"{stage:<18}{wall:>8.1f}{'' if cells is None else f'{cells:.1f}':>9}")
    total = walls[""]
    cells = sum(notebook_seconds(target, s) or 0.0 for s in walls if s)
    print(f"all stages: {total:.1f} s (budget {BUDGET_ALL:.0f} s); notebook cells {cells:.1f} s "
          f"= {cells / total:.0%} of the wall time")
    return {"total_s": round(total, 2), "budget_s": BUDGET_ALL, "cells_s": round(cells, 2), "stages": stages}


def _outputs(target: Path) -> dict:
    lock = yaml.load((target / "dvc.lock").read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return {(stage, out["path"]): out.get("md5") for stage, entry in lock["stages"].items() for out in entry["outs"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=str(ROOT / "build" / "bench_repro"))
    args = parser.parse_args(argv)
    root = os.environ.get("A1LAB_DATA_ROOT", str(ROOT.parent / "shared" / "data" / "football-data"))
    if not Path(root).is_dir():
        print(f"pipeline: skipped (no football-data mirror at {root}; set A1LAB_DATA_ROOT)")
        return 0
    print(f"data: {root}")
    load_before = os.getloadavg()[0]
    target = Path(args.dir)
    walls = measure(repo_copy(target), root, {})
    if walls is None:
        return 1
    result = report(target, walls)
    differ = sorted(f"{stage}:{path}" for (stage, path), md5 in _outputs(target).items()
                    if _outputs(ROOT).get((stage, path)) != md5)
    print(f"outputs that differ from this workspace's dvc.lock: {differ or 'none'}")
    record("repro", {**result, "outputs_that_differ": differ}, load_before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
