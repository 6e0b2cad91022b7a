"""Pipeline benchmark: `dvc repro` of a fresh copy of the project, stage by stage.

    python bench/bench_repro.py [--dir build/bench_repro] [--reference]
    # data: $A1LAB_DATA_ROOT or ../shared/data/football-data

Copies the project (tracked and untracked files, as `make demo` does) into DIR
and runs `dvc repro` there: every stage runs, as under `--force`, and this
workspace's outputs and dvc.lock are not touched. Prints each stage's wall time
(from DVC announcing it to DVC announcing the next), the time its notebook's
cells took (papermill's per-cell durations, kept by the runner in reports/timings/;
what remains is DVC, interpreter start, imports and the HTML export), and the
totals against issue 12's budgets (all stages but drift <= 40 s, all <= 90 s). With
`--reference` it then runs a second copy with the stage server off (every notebook
stage imports for itself, pipelines/stage_server.py), prints the ratio of the two
and checks that both gave every output to the byte.
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
sys.path.insert(0, str(ROOT / "pipelines"))
import demo  # noqa: E402

BUDGET_ALL, BUDGET_BUT_DRIFT = 90.0, 40.0


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


def report(label: str, target: Path, walls: dict[str, float]) -> None:
    """The stage table and the totals against the budgets."""
    print(f"{label}: dvc repro of a fresh copy in {target}")
    print(f"{'stage':<18}{'wall s':>8}{'cells s':>9}")
    for stage, wall in walls.items():
        if stage:
            cells = notebook_seconds(target, stage)
            print(f"{stage:<18}{wall:>8.1f}{'' if cells is None else f'{cells:.1f}':>9}")
    total, but_drift = walls[""], sum(v for k, v in walls.items() if k not in ("", "drift"))
    cells = sum(notebook_seconds(target, s) or 0.0 for s in walls if s)
    print(f"all stages: {total:.1f} s (budget {BUDGET_ALL:.0f} s); all but drift: {but_drift:.1f} s "
          f"(budget {BUDGET_BUT_DRIFT:.0f} s); notebook cells {cells:.1f} s = {cells / total:.0%} of the wall time")


def _outputs(target: Path) -> dict:
    lock = yaml.load((target / "dvc.lock").read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return {(stage, out["path"]): out.get("md5") for stage, entry in lock["stages"].items() for out in entry["outs"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=str(ROOT / "build" / "bench_repro"))
    parser.add_argument("--reference", action="store_true",
                        help="then again in DIR_cold with A1LAB_STAGE_SERVER=0 (every stage imports for itself): "
                             "the ratio, and whether every output is the same")
    args = parser.parse_args(argv)
    root = os.environ.get("A1LAB_DATA_ROOT", str(ROOT.parent / "shared" / "data" / "football-data"))
    if not Path(root).is_dir():
        print(f"pipeline: skipped (no football-data mirror at {root}; set A1LAB_DATA_ROOT)")
        return 0
    runs = [("stage server", Path(args.dir), {"A1LAB_STAGE_SERVER": "1"})]
    if args.reference:
        runs.append(("reference, no stage server", Path(f"{args.dir}_cold"), {"A1LAB_STAGE_SERVER": "0"}))
    print(f"data: {root}")
    results = []
    for label, target, env in runs:
        walls = measure(demo.prepare(target), root, env)
        if walls is None:
            return 1
        report(label, target, walls)
        results.append((target, walls))
    if args.reference:
        (served, fast), (cold, slow) = results
        but_drift = [sum(v for k, v in w.items() if k not in ("", "drift")) for w in (fast, slow)]
        differ = sorted(k for k, v in _outputs(served).items() if _outputs(cold).get(k) != v)
        print(f"with the stage server / without: all stages {fast[''] / slow['']:.2f}, all but drift "
              f"{but_drift[0] / but_drift[1]:.2f}; outputs that differ: {differ or 'none'}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (an idle machine reads ~0-1 beside this run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
