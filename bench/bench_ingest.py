"""Ingest memory benchmark: one big main-layout file (a real E0 season's rows repeated, so all but the first
copy are duplicates, the worst case for the quarantine), parsed in a fresh process.

    A1LAB_DATA_ROOT=../shared/data/football-data python bench/bench_ingest.py [--mb 200]

Prints the file's size, seconds and peak resident memory, and as a reference measured in the same run the
same parse of a smaller file with the whole file read at once (no chunks), where memory is a multiple of the
file: peak memory / file size is the figure to compare. Writes reports/bench/ingest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record import record  # noqa: E402

PARSE = """
import json, resource, sys, time
from a1lab.data import csvrows
from a1lab.data.footballdata import parse_main
if sys.argv[2] == "whole":
    csvrows.CHUNK_ROWS = 10**9
data = open(sys.argv[1], "rb").read()
started = time.perf_counter()
result = parse_main(data, "big.csv", "E0", "2425")
counts = result.counts()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": time.perf_counter() - started, "peak_mb": peak, "rows_read": counts["rows_read"],
                  "rows_kept": counts["rows_kept"], "rejected": counts["rows_rejected"]}))
"""


def big_file(source: Path, megabytes: float, target: Path) -> int:
    """``source``'s header and its rows repeated until the file reaches ``megabytes``; returns its rows."""
    lines = source.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    body = "".join(rows)
    copies = max(1, int(megabytes * 2**20 // len(body.encode())))
    target.write_text(header + body * copies, encoding="utf-8")
    return len(rows) * copies


def parse(path: Path, mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PARSE, str(path), mode], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=200.0, help="size of the big file")
    parser.add_argument("--reference-mb", type=float, default=20.0, help="size of the file read whole, as reference")
    args = parser.parse_args(argv)
    root = Path(os.environ.get("A1LAB_DATA_ROOT", Path(__file__).resolve().parents[2] / "shared/data/football-data"))
    source = root / "mmz4281" / "2425" / "E0.csv"
    if not source.is_file():
        print(f"ingest: skipped (no {source}; set A1LAB_DATA_ROOT)")
        return 0
    load_before = os.getloadavg()[0]
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = (("reference_whole", args.reference_mb, "whole"), ("reference_chunked", args.reference_mb, "chunked"),
                ("big_chunked", args.mb, "chunked"))
        for label, mb, mode in runs:
            path = Path(tmp) / f"{label}.csv"
            rows = big_file(source, mb, path)
            size_mb = path.stat().st_size / 2**20
            started = time.perf_counter()
            result = parse(path, mode)
            result.update(file_mb=round(size_mb, 1), rows=rows, peak_per_file_mb=round(result["peak_mb"] / size_mb, 2),
                          wall=round(time.perf_counter() - started, 1), seconds=round(result["seconds"], 1),
                          peak_mb=round(result["peak_mb"], 1))
            assert result["rows_read"] == rows == result["rows_kept"] + result["rejected"]
            figures[label] = result
            print(f"{label}: {size_mb:.0f} MB, {rows:,} rows ({result['rows_kept']} kept), parsed in "
                  f"{result['seconds']} s, peak {result['peak_mb']:.0f} MB = {result['peak_per_file_mb']}x the file")
    whole, chunked = figures["reference_whole"], figures["reference_chunked"]
    print(f"reference ({args.reference_mb:g} MB): read whole {whole['peak_per_file_mb']}x the file, in chunks "
          f"{chunked['peak_per_file_mb']}x; the {args.mb:g} MB file in chunks "
          f"{figures['big_chunked']['peak_per_file_mb']}x")
    record("ingest", figures, load_before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
