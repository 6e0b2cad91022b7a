"""Run issue 17's variants (params changes) through the train stage's walk-forward and tabulate them.

    python pipelines/research.py [--variants pipelines/variants.yaml] [--workspace .] [--out reports/research]
    python pipelines/research.py --workspace datasets/extra --out reports/research/extra --only ...

Every variant starts from the variants file's ``base`` overrides (the pipeline before issue 17), so the
table does not move when params.yaml takes a chosen variant. Needs the pipeline's data (``dvc repro``
first): data/matches.parquet, and data/features.parquet for variants that keep params.yaml's ``features`` and
``protocol`` sections (others rebuild the features in memory). Each variant
runs every model of the variants file with the train stage's code (:func:`a1lab.training.protocol_walk_forward`)
on features selected on the season before the out-of-sample one (nested: never the season it is ranked on); the
table gets one row per variant and model: the out-of-sample RPS (the only figure the choice uses, by a rule that
accounts for noise: :func:`a1lab.research.choose`), the variant's margin over the baseline with its paired
interval and how often it is best over resamples, and the test figures (RPS, log loss, share of the open-to-close
gap closed with its paired bootstrap CI, value bets and their CLV).
Writes ``variants.csv`` and ``variants.md`` (the README's table) under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
N_BOOT = 2000  # bootstrap resamples of the out-of-sample matches behind the choice


def features_for(params: dict, matches, shipped: tuple):
    """The feature table of a variant's features and protocol sections (the pipeline's own file when they are
    params.yaml's, else built as the features stage builds it) and its `open`/`close` selection, nested: made on
    the season before the out-of-sample season the variant is ranked on (:func:`a1lab.research.nested_selection`)."""
    from a1lab.features import build_features
    from a1lab.params import check_section
    from a1lab.research import nested_selection
    from a1lab.splits import season_keys

    frame, base = shipped
    section, protocol = params["features"], params["protocol"]
    config = check_section("features", section)
    if (section, protocol) != base:
        frame, _ = build_features(matches, config)
        frame["season"] = season_keys(frame, protocol["season_keys"])
    return frame, nested_selection(frame, config, section["selection"], protocol)


def markdown(table, oos_seasons: list[str]) -> str:
    """The variants table as the README shows it (a forecast without opening prices has no gap to close)."""
    import pandas as pd

    def pct(v, fmt="{:+.1%}"):
        return "" if v is None or v != v else fmt.format(v)

    shown = pd.DataFrame({
        "variant": table["variant"], "model": table["model"], "changes": table["changes"],
        f"RPS {', '.join(oos_seasons)} (choice)": table["oos_rps"].map("{:.6f}".format),
        "variant - baseline (mean of models), 95% CI": [f"{d:+.6f} ({lo:+.6f} to {hi:+.6f})" for d, lo, hi in
                                                        zip(table["oos_diff"], table["oos_diff_low"],
                                                            table["oos_diff_high"], strict=True)],
        "best in resamples": table["wins_share"].map("{:.0%}".format),
        "test RPS": table["test_rps"].map("{:.6f}".format), "test log loss": table["test_logloss"].map("{:.6f}".format),
        "RPS - close, 95% CI": [f"{lo:+.5f} to {hi:+.5f}" for lo, hi in
                                zip(table["diff_close_low"], table["diff_close_high"], strict=True)],
        "gap closed": table["gap_closed"].map(pct),
        "its 95% CI": [f"{pct(lo, '{:+.0%}')} to {pct(hi, '{:+.0%}')}" if lo == lo and lo is not None else ""
                       for lo, hi in zip(table["gap_closed_low"], table["gap_closed_high"], strict=True)],
        "value bets": table["value_bets"], "CLV": table["clv_mean"].map(lambda v: pct(v, "{:+.2%}")),
        "chosen": table["chosen"].map({True: "**chosen**", False: ""})})
    return shown.to_markdown(index=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=str(ROOT / "pipelines" / "variants.yaml"))
    parser.add_argument("--workspace", default=str(ROOT),
                        help="a pipeline's folder (its params.yaml and data/), e.g. datasets/extra")
    parser.add_argument("--out", default=None, help="default: WORKSPACE/reports/research")
    parser.add_argument("--only", nargs="*", help="run only these variants")
    parser.add_argument("--new-plan", action="store_true",
                        help="score the test seasons under an edited plan, recorded beside the old one")
    parser.add_argument("--parallel", action="store_true",
                        help="run the walk-forwards as Dask tasks where params.yaml's compute section says")
    args = parser.parse_args(argv)
    from a1lab.cpu import on_baseline_cpu  # the pipeline's floats, whatever the CPU (restarts once to set them)

    on_baseline_cpu()

    import pandas as pd
    import yaml

    from a1lab.compute import client, run_tasks
    from a1lab.params import check_section
    from a1lab.research import PlanError, apply_overrides, choose, plan_hash, record_plan, score_variant

    workspace = Path(args.workspace)
    outside = [p for p in (args.variants, workspace) if ROOT not in (Path(p).resolve(), *Path(p).resolve().parents)]
    if outside:  # the plan ledger names plans and data sets by their place in the project
        parser.error(f"{', '.join(map(str, outside))}: outside the project; the variants plan and the workspace "
                     f"are files of {ROOT} (copy the plan into pipelines/ or the data set's folder)")  # exit 2
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    plan_text = Path(args.variants).read_text()
    spec = yaml.safe_load(plan_text)
    ledger_path = ROOT / "reports" / "research" / "plans.json"
    ledger = json.loads(ledger_path.read_text()) if ledger_path.is_file() else []
    plan, where = (Path(p).resolve().relative_to(ROOT).as_posix() for p in (args.variants, workspace))
    try:  # before any test season is scored
        ledger = record_plan(ledger, plan, plan_hash(plan_text), params["protocol"]["test_seasons"], where,
                             time.strftime("%Y-%m-%d"), args.new_plan)
    except PlanError as exc:
        raise SystemExit(str(exc)) from None
    data = workspace / "data"
    matches = pd.read_parquet(data / "matches.parquet")
    shipped = (pd.read_parquet(data / "features.parquet"), (params["features"], params["protocol"]))
    out = Path(args.out or workspace / "reports" / "research")
    out.mkdir(parents=True, exist_ok=True)
    frames, items = {}, []
    for name, overrides in spec["variants"].items():
        if args.only and name not in args.only:
            continue
        varied = apply_overrides(params, {**(spec.get("base") or {}), **(overrides or {})})
        key = json.dumps([varied["features"], varied["protocol"]], sort_keys=True)
        if key not in frames:  # variants that share a feature set share its table
            frames[key] = features_for(varied, matches, shipped)
        items += [{"variant": name, "model": model, "overrides": overrides or {}, "params": varied, "frame": key}
                  for model in spec["models"]]
    started = time.perf_counter()
    config = check_section("compute", params["compute"]) if args.parallel else None
    with client(config) as dask_client:
        rows = run_tasks(score_variant, items, dask_client, shared={"frames": frames, "matches": matches})
    print(f"{len(items)} walk-forwards ({len(frames)} feature tables) in {time.perf_counter() - started:.0f} s on "
          f"{config.scheduler if config else 'serial'}")
    from datetime import datetime

    from a1lab import looks
    from a1lab.params import validate

    now = datetime.now(UTC)
    for name in dict.fromkeys(item["variant"] for item in items):  # each variant scored the test seasons
        varied = next(item["params"] for item in items if item["variant"] == name)
        seen = looks.note(workspace, f"research:{name}", validate(varied).in_effect(),
                          params["protocol"]["test_seasons"], now)
    print(f"test seasons {', '.join(params['protocol']['test_seasons'])}: scored under {seen['looks']} "
          f"configurations ({workspace / looks.LEDGER})")
    table = choose(pd.DataFrame(rows), N_BOOT, params["train"]["seed"])
    table.to_csv(out / "variants.csv", index=False, float_format="%.6f")
    (out / "variants.md").write_text(f"Plan `{plan}` {plan_hash(plan_text)} (rule: {spec['rule']}).\n\n"
                                     + markdown(table, params["protocol"]["oos_seasons"]) + "\n")
    ledger_path.write_text(json.dumps(ledger, indent=1) + "\n")
    print((out / "variants.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
