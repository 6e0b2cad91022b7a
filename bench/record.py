"""Where a bench's figures go: reports/bench/<name>.json, which `pipelines/docs.py` turns into the docs'
performance page, with the machine's load around the run (absolute times swing 3-4x with it)."""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def record(name: str, figures: dict, load_before: float) -> Path:
    """Write ``figures`` with the load average before and now and the CPU count; return the file."""
    path = ROOT / "reports" / "bench" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    path.write_text(json.dumps({**figures, "load_before": round(load_before, 2), "load_after": round(load, 2),
                                "cpus": os.cpu_count()}, indent=1) + "\n")
    print(f"load average before / at the end: {load_before:.2f} / {load:.2f}; figures: {path}")
    return path
