"""The workspace's DVC experiments as one table that fits a terminal (120 columns).

    python pipelines/experiments.py            # or `make exp`: after `dvc exp run -n NAME -S key=value`
    python pipelines/experiments.py --json F   # from a saved `dvc exp show --json`

One row per experiment (and the workspace and its commit): each model's test RPS and the ensemble's share of
the open-to-close gap, from the main pipeline's `metrics/headline/`, then the params that differ between the
rows. `dvc exp show` itself prints every params key and every metric of every data set folder, whose long
names do not fit a terminal.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

HEADLINE = "metrics/headline/"


def flatten(values: dict, prefix: str = "") -> dict:
    """Nested params as ``dotted.key: value`` (lists as their text)."""
    out = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = json.dumps(value) if isinstance(value, list) else value
    return out


def rows(shown: list[dict]) -> list[dict]:
    """``dvc exp show --json`` as rows: name, params (flat) and the headline metrics by model."""
    def row(entry: dict, name: str) -> dict:
        data = entry.get("data") or {}
        params = (data.get("params") or {}).get("params.yaml", {}).get("data", {})
        metrics = {path[len(HEADLINE):-len(".json")]: (m or {}).get("data", {})
                   for path, m in (data.get("metrics") or {}).items() if path.startswith(HEADLINE)}
        return {"name": name, "params": flatten(params), "metrics": metrics}

    out = []
    for commit in shown:
        rev = commit["rev"]
        out.append(row(commit, commit.get("name") or (rev if rev == "workspace" else rev[:7])))
        for experiment in commit.get("experiments") or []:
            for rev in experiment.get("revs") or []:
                out.append(row(rev, experiment.get("name") or rev.get("name") or rev["rev"][:7]))
    return out


def table(rows: list[dict], width: int = 120) -> str:
    """The rows as text: name, RPS per model, the ensemble's gap share, then the params that differ."""
    models = list(dict.fromkeys(m for r in rows for m in r["metrics"]))
    keys = sorted({k for r in rows for k in r["params"]})
    changed = [k for k in keys if len({json.dumps(r["params"].get(k), default=str) for r in rows}) > 1]
    name_width = max(10, *(len(r["name"]) for r in rows))
    head = f"{'experiment':<{name_width}}" + "".join(f" {m[:9]:>9}" for m in models) + "  gap %  params that differ"
    lines = [head, "-" * min(width, max(len(head), 40))]
    for r in rows:
        rps = "".join(f" {r['metrics'][m]['rps']:9.6f}" if "rps" in r["metrics"].get(m, {}) else f" {'':>9}"
                      for m in models)
        gap = r["metrics"].get("ensemble", {}).get("open_close_gap_closed")
        text = f"{r['name']:<{name_width}}{rps}  {'' if gap is None else f'{100 * gap:5.1f}'}  "
        params = ", ".join(f"{k}={r['params'].get(k)}" for k in changed)
        lines.append((text + params)[:width])
    return "\n".join(lines) + f"\nRPS of the test seasons, lower is better; gap %: the ensemble's share of the " \
        f"open-to-close gap; {len(changed)} params differ"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="a saved `dvc exp show --json` (default: run it)")
    parser.add_argument("--width", type=int, default=120, help="columns to fit")
    args = parser.parse_args(argv)
    if args.json:
        text = open(args.json).read()
    else:
        done = subprocess.run(["dvc", "exp", "show", "--json"], capture_output=True, text=True)
        if done.returncode != 0:
            print(f"dvc exp show failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            return done.returncode
        text = done.stdout
    print(table(rows(json.loads(text)), args.width))
    return 0


if __name__ == "__main__":
    sys.exit(main())
