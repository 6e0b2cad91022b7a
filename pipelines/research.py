"""Run issue 17's variants (params changes) through the train stage's walk-forward and tabulate them.

    python pipelines/research.py [--variants pipelines/variants.yaml] [--out reports/research]

Every variant starts from the variants file's ``base`` overrides (the pipeline before issue 17), so the
table does not move when params.yaml takes a chosen variant. Needs the pipeline's data (``dvc repro``
first): data/matches.parquet, and data/features.parquet with its selection for variants that keep
params.yaml's ``features`` and ``protocol`` sections (others rebuild the features in memory). Each variant
runs every model of the variants file with the train stage's code (:func:`a1lab.training.common_args`,
:func:`a1lab.training.walk_forward`); the table gets one row per variant and model: the out-of-sample
RPS (the only figure the choice uses: :func:`a1lab.research.choose`) and the test figures (RPS, log loss,
share of the open-to-close gap closed with its paired bootstrap CI, value bets and their CLV).
Writes ``variants.csv`` and ``variants.md`` (the README's table) under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def features_for(params: dict, matches, shipped: tuple):
    """The feature table and its `open`/`close` selection for a variant's features and protocol sections
    (the pipeline's own files when they are params.yaml's)."""
    from a1lab.features import FeatureConfig, SelectionConfig, build_features, feature_set, select_features
    from a1lab.splits import first_kickoff, season_keys

    frame, selected, base = shipped
    section, protocol = params["features"], params["protocol"]
    if (section, protocol) == base:
        return frame, selected
    config = FeatureConfig.from_dict({k: v for k, v in section.items() if k not in ("parallel", "selection")})
    frame, _ = build_features(matches, config)
    frame["season"] = season_keys(frame, protocol["season_keys"])
    selection = SelectionConfig(validation_season=protocol["validation_season"], **section["selection"],
                                before=first_kickoff(frame, protocol["test_seasons"]))
    selected = {}
    for time_ in ("open", "close"):
        ranking = select_features(frame, feature_set(config, time_), selection)
        selected[time_] = ranking.loc[ranking["selected"], "feature"].tolist()
    return frame, selected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=str(ROOT / "pipelines" / "variants.yaml"))
    parser.add_argument("--params", default=str(ROOT / "params.yaml"))
    parser.add_argument("--out", default=str(ROOT / "reports" / "research"))
    parser.add_argument("--only", nargs="*", help="run only these variants")
    args = parser.parse_args(argv)

    import pandas as pd
    import yaml

    from a1lab import registry
    from a1lab.betting import ValueRule
    from a1lab.research import apply_overrides, choose, value_bet_clv, variant_row
    from a1lab.splits import WalkForwardSplit
    from a1lab.training import common_args, evaluate, model_factory, reference_timings, walk_forward

    params = yaml.safe_load(Path(args.params).read_text())
    spec = yaml.safe_load(Path(args.variants).read_text())
    data = ROOT / "data"
    matches = pd.read_parquet(data / "matches.parquet")
    shipped = (pd.read_parquet(data / "features.parquet"), json.loads((data / "features_selected.json").read_text()),
               (params["features"], params["protocol"]))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, overrides in spec["variants"].items():
        if args.only and name not in args.only:
            continue
        varied = apply_overrides(params, {**(spec.get("base") or {}), **(overrides or {})})
        protocol, train, bt = varied["protocol"], varied["train"], varied["backtest"]
        frame, selected = features_for(varied, matches, shipped)
        timings = reference_timings(protocol["prediction_time"])
        rule = ValueRule(bt["min_edge"], bt["min_prob"], bt["max_prob"], bt["max_odds"])
        for model in spec["models"]:
            started = time.perf_counter()
            settings = varied["models"][model]
            estimator = registry.estimator_class(settings["estimator"])
            hyper = {k: v for k, v in settings.items() if k != "estimator"}
            common = common_args(train, selected[protocol["prediction_time"]], protocol)
            splitter = WalkForwardSplit(tuple(protocol["oos_seasons"]) + tuple(protocol["test_seasons"]),
                                        window=train["window_seasons"])
            results = walk_forward(frame, model_factory(estimator, hyper, **common), splitter,
                                   reference=protocol["reference"], timings=timings)
            test = pd.concat([r.predictions for r in results if r.name in protocol["test_seasons"]],
                             ignore_index=True)
            metrics = evaluate(test, frame, seed=train["seed"], reference=protocol["reference"], timings=timings)
            clv = value_bet_clv(test, matches, frame, rule, protocol["reference"], timings[0])
            rows.append(variant_row(name, model, results, metrics, protocol["oos_seasons"], clv, overrides or {}))
            print(f"{name:>18} {model:>5}: oos {rows[-1]['oos_rps']:.6f}  test {rows[-1]['test_rps']:.6f}  "
                  f"gap {rows[-1]['gap_closed']:+.3f}  ({time.perf_counter() - started:.0f} s)", flush=True)
    table = choose(pd.DataFrame(rows))
    table.to_csv(out / "variants.csv", index=False, float_format="%.6f")
    shown = pd.DataFrame({
        "variant": table["variant"], "model": table["model"], "changes": table["changes"],
        "RPS 2022/23 (choice)": table["oos_rps"].map("{:.6f}".format),
        "test RPS": table["test_rps"].map("{:.6f}".format), "test log loss": table["test_logloss"].map("{:.6f}".format),
        "gap closed": table["gap_closed"].map("{:+.1%}".format),
        "95% CI": [f"{lo:+.0%} to {hi:+.0%}" for lo, hi in zip(table["gap_closed_low"], table["gap_closed_high"],
                                                                strict=True)],
        "value bets": table["value_bets"], "CLV": table["clv_mean"].map("{:+.2%}".format),
        "chosen": table["chosen"].map({True: "**chosen**", False: ""})})
    (out / "variants.md").write_text(shown.to_markdown(index=False) + "\n")
    print(shown.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
