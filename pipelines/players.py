"""The player-data study: what the players known before a forecast add to the Premier League's opening price.

    python pipelines/players.py [--plan pipelines/players.yaml] [--workspace .] [--out reports/research]

Runs the plan of ``pipelines/players.yaml`` (read it first: the variants, the forecast times and every setting are
fixed there) on a data set that has run (``data/matches.parquet``, ``data/features.parquet``: its league's
matches with Pinnacle's opening and closing prices) and the FPL files in the data folder. Each variant forecasts
each rolling season fitted on the seasons before it; writes ``players.md`` and ``players.csv`` under ``--out``:
per season, over the test period and pooled over the rolling seasons, each variant's share of the open-to-close
gap with Fieller's 95 % interval. Scoring the test seasons is a look: it is recorded in the data set's
``reports/looks.jsonl``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from docs import share_cell  # pipelines/docs.py: a gap share in tables

ROOT = Path(__file__).resolve().parents[1]
OPEN = [f"mkt_pinnacle_open_p_{o}" for o in ("home", "draw", "away")]
CLOSE = [f"mkt_pinnacle_close_p_{o}" for o in ("home", "draw", "away")]


def forecasts(games, features: dict, plan: dict):
    """Each variant's forecasts of the rolling seasons, every one fitted on the seasons before it."""
    import numpy as np
    import pandas as pd

    from a1lab.adjustment import MarketAdjustment
    from a1lab.outcomes import RESULT_CODES

    y = games["result"].map(RESULT_CODES).to_numpy()
    out = {}
    for name, variant in plan["variants"].items():
        table = features[variant["time"]]
        diffs = pd.DataFrame({f: table[f"home_{f}"].to_numpy() - table[f"away_{f}"].to_numpy()
                              for f in variant["features"]}, index=games.index)
        frame = pd.concat([games[OPEN], diffs], axis=1)
        p = np.full((len(games), 3), np.nan)
        for season in plan["rolling_seasons"]:
            train = ((games["season"] >= plan["first_training_season"]) & (games["season"] < season)).to_numpy()
            test = (games["season"] == season).to_numpy()
            model = MarketAdjustment(market=OPEN, features=list(diffs.columns), penalty=plan["penalty"])
            p[test] = model.fit(frame[train], y[train]).predict_proba(frame[test])
        out[name] = p
    return out


def gap_rows(games, predicted: dict, plan: dict) -> list[dict]:
    """Per rolling season, the test period and the rolling seasons pooled: :func:`a1lab.rolling.gap_table` of the
    variants beside Pinnacle's open and close."""
    import pandas as pd

    from a1lab.columns import PRED_COLUMNS
    from a1lab.rolling import gap_table

    rolling = games["season"].isin(plan["rolling_seasons"]).to_numpy()
    columns = {**{f"pinnacle_open_{c}": games[o] for c, o in zip(PRED_COLUMNS, OPEN, strict=True)},
               **{f"pinnacle_close_{c}": games[o] for c, o in zip(PRED_COLUMNS, CLOSE, strict=True)},
               **{f"{name}_{c}": p[:, k] for name, p in predicted.items() for k, c in enumerate(PRED_COLUMNS)}}
    forecasts = pd.concat([games[["season", "kickoff", "result"]], pd.DataFrame(columns, index=games.index)],
                          axis=1)[rolling]
    return gap_table(forecasts, "pinnacle", {"test period " + " + ".join(plan["test_seasons"]): plan["test_seasons"],
                                              "rolling, pooled": plan["rolling_seasons"]})


def markdown(rows: list[dict], names: list[str], digest: str, plan_path: str, counts: dict, seen: dict) -> str:
    header = ["seasons", "n", "open RPS", "gap (open - close)", *names]
    lines = [f"Plan `{plan_path}` (SHA-256 `{digest}`), fixed before any test figure. Matches: "
             f"{counts['games']:,} of the league with FPL rows and Pinnacle's opening and closing prices; FPL rows "
             f"read {counts['read']:,}, joined {counts['appearances']:,} appearances and {counts['news']:,} "
             f"availability rows, quarantined {counts['rejected']:,} ({counts['reasons']}). The test seasons have "
             f"been scored under {seen['looks']} configurations (reports/looks.jsonl). A season whose close did not "
             "beat its open has no gap to share (empty cells).", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        lines.append("| " + " | ".join([r["scope"], f"{r['n']:,}", f"{r['open']:.6f}", f"{r['gap']:+.6f}",
                                         *(share_cell(r[n]) for n in names)]) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", default=str(ROOT / "pipelines" / "players.yaml"), help="the study's plan")
    parser.add_argument("--workspace", default=str(ROOT), help="a data set's folder that has run (data/)")
    parser.add_argument("--out", default=None, help="default: WORKSPACE/reports/research")
    args = parser.parse_args(argv)
    from a1lab.cpu import on_baseline_cpu

    on_baseline_cpu()  # the pipeline's floats, whatever the CPU (restarts once to set them)

    import pandas as pd
    import yaml

    from a1lab import looks
    from a1lab.cli import resolve_root
    from a1lab.data.fpl import load_fpl
    from a1lab.features.players import player_features
    from a1lab.params import load_params
    from a1lab.research import plan_hash

    workspace = Path(args.workspace)
    plan_text = Path(args.plan).read_text()
    plan, digest = yaml.safe_load(plan_text), plan_hash(plan_text)
    params = load_params(workspace / "params.yaml")
    root = resolve_root(params.data.root)
    if root.startswith(("http://", "https://")):
        parser.error("the FPL files are read from the data folder: set A1LAB_DATA_ROOT to a local mirror")
    matches = pd.read_parquet(workspace / "data" / "matches.parquet")
    columns = ["match_id", "league", "season", "kickoff", "home", "away", "result", *OPEN, *CLOSE]
    frame = pd.read_parquet(workspace / "data" / "features.parquet", columns=columns)
    data = load_fpl(Path(root).resolve().parent / plan["fpl"], matches, plan["league"])
    games = frame[(frame["league"] == plan["league"]) & frame["match_id"].isin(data.appearances["match_id"])
                  & (frame["season"] >= plan["first_training_season"]) & frame[OPEN + CLOSE].notna().all(axis=1)]
    games = games.sort_values(["kickoff", "match_id"]).reset_index(drop=True)
    leads = {"open": pd.Timedelta(hours=plan["open_lead_hours"]),
             "lineup": pd.Timedelta(minutes=plan["lineup_lead_minutes"])}
    features = {time: player_features(data.appearances, data.news, games, games["kickoff"] - lead, plan["window"],
                                      lineup=time == "lineup")
                for time, lead in leads.items() if any(v["time"] == time for v in plan["variants"].values())}
    predicted = forecasts(games, features, plan)
    rows = gap_rows(games, predicted, plan)
    seen = looks.note(workspace, "players", {"plan": plan}, plan["test_seasons"], datetime.now(UTC))
    out = Path(args.out) if args.out else workspace / "reports" / "research"
    out.mkdir(parents=True, exist_ok=True)
    reasons = data.rejected["reason"].value_counts()
    counts = {"games": len(games), "read": data.rows_read, "appearances": len(data.appearances),
              "news": len(data.news), "rejected": len(data.rejected),
              "reasons": "; ".join(f"{k}: {v:,}" for k, v in reasons.items()) or "none"}
    names = list(plan["variants"])
    rel = Path(args.plan).resolve().relative_to(ROOT) if Path(args.plan).resolve().is_relative_to(ROOT) else args.plan
    (out / "players.md").write_text(markdown(rows, names, digest, str(rel), counts, seen))
    flat = [{"scope": r["scope"], "n": r["n"], "open": r["open"], "close": r["close"], "gap": r["gap"],
             **{f"{n}_{k}": (r[n] or {}).get(k) for n in names for k in ("share", "low", "high")}} for r in rows]
    pd.DataFrame(flat).to_csv(out / "players.csv", index=False)
    print((out / "players.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
