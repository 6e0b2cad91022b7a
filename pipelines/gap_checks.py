"""Two checks on the open-to-close gap (issue 17) from the pipeline's outputs: shrinking each model toward the
opening line, and forecasting the line's move from the other books' opening prices.

    python pipelines/gap_checks.py [--workspace .] [--books avg max bet365 williamhill] [--out reports/research]

Needs `dvc repro` first (data/features.parquet, data/matches.parquet, data/predictions/) and an `open`
protocol. Neither check is a variant of the pipeline and nothing is chosen from them: each row shows its
out-of-sample RPS (``protocol.oos_seasons``, what a choice could read) beside its test figures (share of the
gap closed, Fieller's interval, the matches a test needs for it to clear ``ensemble.power_low``:
:func:`a1lab.metrics.gap_power`). The move is fitted on the seasons before the out-of-sample ones. Writes
``gap_checks.md`` under ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAMBDAS = (1.0, 0.8, 0.6, 0.5, 0.4, 0.3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default=str(ROOT), help="a pipeline's folder (params.yaml, data/)")
    parser.add_argument("--books", nargs="+", default=["avg", "max", "bet365", "williamhill"],
                        help="books whose opening prices (minus the reference's) may forecast the move")
    parser.add_argument("--out", default=None, help="default: WORKSPACE/reports/research")
    args = parser.parse_args(argv)
    from a1lab.cpu import on_baseline_cpu  # the pipeline's floats, whatever the CPU (restarts once to set them)

    on_baseline_cpu()

    import numpy as np
    import pandas as pd
    import yaml

    from a1lab.columns import market_columns, quote_prices
    from a1lab.metrics import gap_power, rank_probability_score
    from a1lab.odds import remove_margin
    from a1lab.outcomes import RESULT_CODES
    from a1lab.research import move_forecast, shrink_toward
    from a1lab.splits import season_order
    from a1lab.training import PRED_COLUMNS

    work = Path(args.workspace)
    params = yaml.safe_load((work / "params.yaml").read_text())
    protocol, low = params["protocol"], params["ensemble"]["power_low"]
    if protocol["prediction_time"] != "open":
        raise SystemExit("the gap checks need an `open` protocol (a close forecast has no gap to close)")
    features = pd.read_parquet(work / "data" / "features.parquet")
    frame = features.set_index("match_id")
    matches = pd.read_parquet(work / "data" / "matches.parquet").set_index("match_id").loc[frame.index]
    y = frame["result"].map(RESULT_CODES).to_numpy()
    ref = protocol["reference"]
    p_open, p_close = (frame[list(market_columns(ref, t))].to_numpy() for t in ("open", "close"))
    season = frame["season"].astype(str).to_numpy()
    test, oos = np.isin(season, protocol["test_seasons"]), np.isin(season, protocol["oos_seasons"])
    order = season_order(features)
    earlier = np.isin(season, order[: min(order.index(s) for s in protocol["oos_seasons"])])
    priced = np.isfinite(p_open).all(axis=1) & np.isfinite(p_close).all(axis=1)

    def rows_of(p: np.ndarray, name: str, keep: np.ndarray) -> dict:
        """A table row: the forecast's out-of-sample RPS, then its test share, interval and matches needed."""
        o, t = keep & oos, keep & test
        power = gap_power({name: p[t]}, p_open[t], p_close[t], y[t], low)[0]
        low_end, high_end = (None if v is None else f"{v:+.1%}" for v in (power["ci_low"], power["ci_high"]))
        return {"forecast": name, "RPS oos (choice)": f"{rank_probability_score(p[o], y[o]):.6f}",
                "share of the gap (test)": "no gap" if power["share"] is None else f"{power['share']:+.1%}",
                "Fieller 95 %": "unbounded" if low_end is None else f"{low_end} to {high_end}",
                f"matches for > {low:.0%}": power["matches_above_low"] or "never"}

    shrunk = []
    for model in [m for m in params["ensemble"]["members"] if m != "market"]:
        pred = pd.read_parquet(work / "data" / "predictions" / f"{model}.parquet").set_index("match_id")
        p = np.full_like(p_open, np.nan)
        at = frame.index.get_indexer(pred.index)
        if (at < 0).any():
            raise SystemExit(f"data/predictions/{model}.parquet has matches the feature table lacks: rerun `dvc repro`")
        p[at] = pred[PRED_COLUMNS].to_numpy()
        keep = priced & np.isfinite(p).all(axis=1)
        shrunk += [rows_of(shrink_toward(p, p_open, lam), f"{model}, lambda {lam:g}", keep) for lam in LAMBDAS]

    move = p_close - p_open
    method = params["features"]["margin_method"]
    signal = {b: remove_margin(quote_prices(matches, b, "open"), method) - p_open for b in args.books}
    moved = []
    for k in range(1, len(args.books) + 1):
        books = args.books[:k]
        x = np.column_stack([signal[b][:, [0, 2]] for b in books])
        keep = priced & np.isfinite(x).all(axis=1)
        if not (keep & earlier).any():
            continue
        p = move_forecast(p_open, np.where(keep[:, None], x, 0.0), move, keep & earlier)
        row = rows_of(p, f"open + move on {', '.join(books)}", keep)
        t = keep & test
        fitted, actual = (p - p_open)[t, 0], move[t, 0]
        r2 = 1 - ((actual - fitted) ** 2).sum() / ((actual - actual.mean()) ** 2).sum()
        row["R^2 of the home move (test)"] = f"{r2:+.4f}"
        moved.append(row)

    fitted_on = ", ".join(s for s in order if earlier[season == s].any())
    text = (f"# The open-to-close gap: two checks ({ref}, test {', '.join(protocol['test_seasons'])}, "
            f"choice {', '.join(protocol['oos_seasons'])})\n\n## Each model shrunk toward the open: "
            f"open + lambda x (model - open)\n\n{pd.DataFrame(shrunk).to_markdown(index=False)}\n\n"
            f"## The open plus a least-squares forecast of its move (fitted on {fitted_on})\n\n"
            f"{pd.DataFrame(moved).to_markdown(index=False)}\n")
    from datetime import datetime

    from a1lab import looks
    from a1lab.params import validate

    looks.note(work, "gap_checks", validate(params).in_effect(), protocol["test_seasons"], datetime.now(UTC))
    out = Path(args.out) if args.out else work / "reports" / "research"
    out.mkdir(parents=True, exist_ok=True)
    (out / "gap_checks.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
