"""Generate the docs pages that hold figures, and the README's results, from what the pipeline wrote.

    python pipelines/docs.py           # write docs/results.md, docs/research.md, docs/performance.md, README results
    python pipelines/docs.py --check   # exit 1 if any of them is not what the files give now (the tests run it)

It writes only from committed outputs (a rerun or an applied experiment is committed, or stashed, first) and
lists only the shipped data sets (a committed ``datasets/<name>/config.yaml``).

Figures are never pasted by hand: the results come from `metrics/` (the main data set) and
`datasets/<name>/metrics/` (the other shipped data sets, each run in its folder by `pipelines/dataset.py`), the research
page from `reports/research/`, the performance page from the benches' JSON in `reports/bench/`.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- results:begin (pipelines/docs.py writes this) -->", "<!-- results:end -->"


def label(model: str) -> str:
    """A ``models`` entry's name in tables (its class's ``label``), or ``model`` itself (ensemble, market)."""
    return _labels().get(model, model)


def share_cell(f: dict | None) -> str:
    """A forecast's share of the open-to-close gap with its interval (``share``, ``low``, ``high``; an end None:
    unbounded) as a table cell; empty where there is none (no gap to share)."""
    if f is None:
        return ""
    interval = "unbounded" if f["low"] is None else f"[{f['low']:+.0%}, {f['high']:+.0%}]"
    return f"{f['share']:+.1%} {interval}"


@functools.cache
def _labels() -> dict[str, str]:
    from a1lab.params import load_params

    return load_params(ROOT / "params.yaml").labels()


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:+.1%}"


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def _ci(low: float, high: float, digits: int = 5) -> str:
    return f"[{low:+.{digits}f}, {high:+.{digits}f}]"


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def _share_ci(interval: list | None) -> str:
    """A gap share's interval; Fieller's is unbounded (None ends) while the gap itself is not significant."""
    if not interval:
        return ""
    if None in interval:
        return "unbounded"
    return f"[{interval[0]:+.0%}, {interval[1]:+.0%}]"


def forecasts_overall(metrics: Path) -> dict[str, dict]:
    """Every model's and the ensemble's ``overall`` scores (``metrics/train_<model>.json``, ``ensemble.json``), in
    the order of the headline files (``metrics/headline/``), the ensemble last."""
    out = {}
    for path in sorted((metrics / "headline").glob("*.json"), key=lambda p: (p.stem == "ensemble", p.stem)):
        out[path.stem] = _json(metrics / ("ensemble.json" if path.stem == "ensemble" else f"train_{path.stem}.json"))[
            "overall"]
    return out


def headline_table(metrics: Path) -> str:
    """Every model's scores beside the reference's close (and open, for forecasts made at the open: then also the
    ratio to the open and the share of the open-to-close gap with Fieller's 95 % and 99 % intervals), as
    markdown, from the data set's metrics."""
    ensemble = _json(metrics / "ensemble.json")
    return render_headline(ensemble["reference"]["book"], ensemble["overall"], forecasts_overall(metrics),
                           ensemble.get("best"), seed_spreads(metrics))


def seed_spreads(metrics: Path) -> dict[str, dict]:
    """Model -> its ``seeds`` block (``metrics/train_<model>.json``), for the models of several seeds."""
    out = {}
    for key in forecasts_overall(metrics):
        path = metrics / f"train_{key}.json"
        if path.is_file() and (spread := _json(path).get("seeds")):
            out[key] = spread
    return out


def render_headline(book: str, scored: dict, forecasts: dict[str, dict], kind: str | None,
                    seeds: dict[str, dict]) -> str:
    """The headline table from ``overall`` scores: ``scored`` holds the reference's (``market_close``, and
    ``market_open`` for an open forecast), ``forecasts`` each forecast's (:func:`a1lab.metrics.compare_with_market`,
    rounded), ``kind`` the ensemble's, ``seeds`` the spread of the models of several seeds (:func:`seed_spreads`)."""
    at_open = "market_open" in scored
    header = [f"forecast ({scored['n']:,} test matches)", "RPS", "log loss",
              *([f"RPS / {book} open"] if at_open else []), f"RPS / {book} close", f"RPS - {book} close, 95% CI",
              *(["share of the open-to-close gap, Fieller 95% CI", "its 99% CI (five forecasts: Bonferroni)"]
                if at_open else [])]
    close, opening = scored["market_close"], scored.get("market_open")
    rows = [[f"{book} close", f"{close['rps']:.6f}", f"{close['logloss']:.6f}", *([""] if at_open else []), "1.00000",
             "", *(["100 %", ""] if at_open else [])]]
    if at_open:
        rows.append([f"{book} open", f"{opening['rps']:.6f}", f"{opening['logloss']:.6f}", "1.00000",
                     f"{opening['rps'] / close['rps']:.5f}", "", "0 %", ""])
    for key, full in forecasts.items():
        chosen = f" ({kind}, chosen before the test seasons)" if key == "ensemble" and kind else ""
        spread = f" (mean of {seeds[key]['seeds']} seeds; one seed's RPS sd {seeds[key]['rps_sd']:.6f})" \
            if key in seeds else ""
        name = label(key) + chosen + spread
        rows.append([name, f"{full['rps']:.6f}", f"{full['logloss']:.6f}",
                     *([f"{full['rps_ratio_open']:.5f}"] if at_open else []), f"{full['rps_ratio_close']:.5f}",
                     _ci(*full["rps_diff_close_ci95"]),
                     *([f"{_pct(full.get('open_close_gap_closed'))} "
                        f"{_share_ci(full.get('open_close_gap_closed_ci95'))}",
                        _share_ci(full.get("open_close_gap_closed_ci99"))] if at_open else [])])
    return _table(header, rows)


def seeds_note(metrics: Path) -> str:
    """For models of several seeds (the network): each seed's own test RPS, their spread, and the tolerance a
    rerun on another CPU is held to (three standard errors of a mean of that many seeds)."""
    notes = []
    for key, spread in seed_spreads(metrics).items():
        tolerance = 3 * spread["rps_sd"] / spread["seeds"] ** 0.5
        share = (f"; share of the gap {spread['open_close_gap_closed_mean']:+.1%} on average, sd "
                 f"{spread['open_close_gap_closed_sd']:.1%}" if "open_close_gap_closed_sd" in spread else "")
        notes.append(f"{label(key)}: the mean of {spread['seeds']} networks' forecasts; one network's "
                     f"test RPS {min(spread['rps']):.6f} to {max(spread['rps']):.6f} (sd {spread['rps_sd']:.6f}"
                     f"{share}). Its RPS is held to within {tolerance:.6f} on another CPU (3 sd / "
                     f"sqrt({spread['seeds']})).")
    return "\n".join(notes)


def looks_note(folder: Path, test_seasons: list[str]) -> str:
    """How often the data set's test seasons have been scored (``reports/looks.jsonl``), and how many of those
    configurations came before the one these figures are from."""
    from a1lab import looks
    from a1lab.params import load_params

    entries = looks.read(folder / looks.LEDGER)
    seen = looks.summary(entries, test_seasons, looks.params_hash(load_params(folder / "params.yaml").in_effect()))
    history = len({(e["params"], e["code"], e["data"]) for e in entries
                   if e.get("from") == "git" and e["test_seasons"] == [str(s) for s in test_seasons]})
    when = ("these params were first scored after "
            f"{seen['before']} of them: choices made after a look at the same seasons" if seen["before"] else
            "these params were the first scored" if seen["before"] == 0 else "these params are not in the ledger")
    return (f"test seasons {', '.join(test_seasons)} scored under **{seen['looks']}** configurations (params, "
            f"code, data; {history} of them counted from git history, before the ledger); {when}.")


def _choice(score: dict) -> list[str]:
    """A candidate's selection score, its margin over the default kind with the interval, and its wins share."""
    if "ci95" not in score:
        return [f"{score['rps']:.6f}", "", ""]
    margin = f"{score['diff']:+.6f} {_ci(*score['ci95'], digits=6)}"
    return [f"{score['rps']:.6f}", margin, f"{score['wins_share']:.0%}"]


def truth_table(metrics: Path) -> str:
    """For a synthetic data set (``truth`` in ``ensemble.json``): every forecast's RPS against the results and
    against the true probabilities (what it can expect when outcomes are drawn from them; the truth's own is the
    floor). Empty for real data."""
    ensemble = _json(metrics / "ensemble.json")
    truth = ensemble.get("truth")
    if not truth:
        return ""
    floor = truth["truth"]["rps_truth"]
    market = f"{ensemble['reference']['book']} {ensemble['reference']['timings'][0]}"  # the member at forecast time
    rows = [[market if name == "market" else label(name), f"{v['rps_results']:.6f}", f"{v['rps_truth']:.6f}",
             f"{v['rps_truth'] - floor:.6f}"] for name, v in truth.items()]
    return ("Against the known truth (RPS expected under the true probabilities; the distance is the excess over "
            "the truth's own):\n\n" + _table(["forecast", "RPS against results", "RPS against the truth",
                                                "distance to the truth"], rows))


def division_table(metrics: Path) -> str:
    """Where the market is weakest (``by_league`` in ``ensemble.json``): per division, its test matches, the
    reference's open-to-close gap in RPS and each trained model's and the ensemble's share of it with Fieller's
    95 % interval."""
    rows = _json(metrics / "ensemble.json").get("by_league")
    if not rows:
        return ""
    names = list(rows[0]["forecasts"])

    def share(f: dict) -> str:
        if f["share"] is None:
            return "no gap"
        return f"{f['share']:+.0%} {_share_ci([f['low'], f['high']])}"

    body = [[r["group"], f"{r['n']:,}", f"{r['gap']:.5f}", *(share(r["forecasts"][n]) for n in names)]
            for r in sorted(rows, key=lambda r: -r["gap"])]
    return ("Where the market is weakest: per division, the open-to-close gap (opening minus closing RPS) and each "
            "forecast's share of it, with Fieller's 95 % interval (unbounded where the division's gap is not "
            "significant on its own):\n\n"
            + _table(["division", "n", "gap", *(label(n) for n in names)], body))


def _git(*args: str) -> list[str] | None:
    """The lines ``git ARGS`` prints in the project, or None outside a git checkout."""
    import subprocess

    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.splitlines() if done.returncode == 0 else None


def datasets() -> list[tuple[str, Path]]:
    """The shipped data sets with figures: the main one (``metrics/``) and each ``datasets/<name>/metrics/``
    whose ``config.yaml`` is committed (a data set made on the side is not in the docs)."""
    found = [("main leagues (`params.yaml`)", ROOT / "metrics")]
    tracked = _git("ls-files", "datasets/*/config.yaml")
    for folder in sorted((ROOT / "datasets").glob("*/metrics/")):
        shipped = tracked is None or f"datasets/{folder.parent.name}/config.yaml" in tracked
        if shipped and (folder / "ensemble.json").is_file():
            found.append((f"`{folder.parent.name}` (`datasets/{folder.parent.name}/config.yaml`)", folder))
    return found


SOURCES = ("params.yaml", "metrics", "reports", "datasets")  # what the pages are written from


def uncommitted() -> list[str]:
    """The outputs and settings the pages are written from that differ from the last commit (an applied
    experiment, a rerun not yet committed), but the pages' own generated files and ignored ones."""
    changed = _git("status", "--porcelain", "--untracked-files=all", "--", *SOURCES) or []
    return sorted(line[3:] for line in changed)


def test_seasons(metrics: Path) -> list[str]:
    """The data set's test seasons (its params file, beside ``metrics/``)."""
    from a1lab.params import load_params

    return load_params(metrics.parent / "params.yaml").protocol.test_seasons


def readme_results() -> str:
    parts = []
    for label, metrics in datasets():
        head = f"**{label}**: {looks_note(metrics.parent, test_seasons(metrics))}"
        parts.append("\n\n".join(filter(None, [head, headline_table(metrics), truth_table(metrics)])))
    return "\n\n".join(parts)


def results_page() -> str:
    metrics = ROOT / "metrics"
    ensemble, backtest = _json(metrics / "ensemble.json"), _json(metrics / "backtest.json")
    out = ["# Results", "",
           "Generated by `pipelines/docs.py` from `metrics/` and `datasets/<name>/metrics/`: every forecast is scored "
           "beside the reference market on the same test matches. RPS is the headline (lower is better); the "
           "share of the open-to-close gap is (open - model) / (open - close), with Fieller's interval (unbounded "
           "while the gap itself is not significant). Each data set's test forecasts are in its "
           "`reports/predictions.parquet`; a test recomputes these tables from them.",
           ""]
    for label, folder in datasets():
        extra = [table for table in (seeds_note(folder), truth_table(folder), division_table(folder)) if table]
        out += [f"## {label}", "", _sentence(looks_note(folder.parent, test_seasons(folder))), "",
                headline_table(folder), ""] \
            + [line for t in extra for line in (t, "")]
    selection = ensemble["selection"]
    out += ["## The ensemble's choice (main leagues)", "",
            f"Rule: {selection['rule']}, on seasons {', '.join(selection['seasons'])} (before the test seasons). "
            f"Chosen: **{ensemble['best']}**. Every candidate's score there and on the test seasons:", "",
            _table(["candidate", f"RPS {' + '.join(selection['seasons'])} (choice)", "minus the default, 95 % CI",
                    "wins over resamples", "test RPS", "test log loss"],
                   [[k, *(_choice(selection["scores"][k]) if k in selection["scores"] else ["", "", ""]),
                     f"{v['rps']:.6f}", f"{v['logloss']:.6f}"] for k, v in ensemble["candidates"].items()]), ""]
    conformal = [[level, season, f"{c['split']['coverage']:.1%}", f"{c['split']['mean_set_size']:.2f}",
                  f"{c['adaptive']['coverage']:.1%}", f"{c['adaptive']['mean_set_size']:.2f}"]
                 for level, seasons in ensemble["conformal"].items() for season, c in seasons.items()]
    out += ["## Conformal sets", "",
            _table(["level", "season", "split coverage", "split size", "adaptive coverage", "adaptive size"],
                   conformal), ""]
    power = ensemble["gap_power"]
    out += ["## How many matches would show it", "",
            f"The matches a test would need for the gap share's 95 % interval (Fieller's) to clear "
            f"{power['low']:.0%}, and to clear zero, with 80 % power, at each forecast's spread:", "",
            _table(["forecast", "n", "share", "95 % interval", f"matches for > {power['low']:.0%}", "for > 0 %"],
                   [[r["forecast"], f"{r['n']:,}", _pct(r["share"]), _share_ci([r["ci_low"], r["ci_high"]]),
                     r["matches_above_low"] or "never", r["matches_above_zero"] or "never"]
                    for r in power["rows"]]), ""]

    def strategy_rows(strategies: dict) -> list[list]:
        return [[name, s["bets"], f"{s['roi']:+.1%}", f"{_pct(s['roi_ci95'][0])} to {_pct(s['roi_ci95'][1])}",
                 f"{s['max_drawdown']:.0%}", _pct(s["clv_mean"]), _share(s["beat_close_share"]),
                 f"{s['risk_of_ruin']:.2f}"] for name, s in strategies.items()]

    header = ["strategy", "bets", "ROI", "ROI 95 % CI", "max drawdown", "mean CLV", "beat the close", "risk of ruin"]
    out += ["## Backtest (main leagues)", "",
            f"The {backtest['model']}'s value bets at {backtest['prices']} over {backtest['matches']:,} test matches; "
            f"{backtest['strategies_tried']} stakings tried, all shown:", "",
            _table(header, strategy_rows(backtest["strategies"])), "",
            f"The model-free consensus baseline on the same matches ({backtest['consensus']['rule']}):", "",
            _table(header, strategy_rows(backtest["consensus"]["strategies"])), ""]
    if clv := backtest.get("clv_by_method"):
        methods = list(next(iter(clv.values())))
        out += ["Closing-line value of the same bets under three margin removals of the reference's close "
                "(mean CLV, and the share of bets that beat the close):", "",
                _table(["bets of", *methods], [[who, *(f"{r[m]['clv_mean']:+.2%} ({r[m]['beat_close_share']:.0%})"
                                                       if r[m]["bets"] else "no bets" for m in methods)]
                                               for who, r in clv.items()]), ""]
    return "\n".join(out)


RESEARCH_INTRO = """# Research

An `open` forecast is worth what it knows before the market does: the share of the gap from the
reference's opening line to its close that it closes, (open - model) / (open - close). The levers are
params of the pipeline (close target, training window, more books, goal lines: see
[methods](methods.md)); `python pipelines/research.py` (after `dvc repro`; `make research`) runs every
variant of `pipelines/variants.yaml` through the train stage's own walk-forward for XGBoost, LightGBM and
the network. The rule, written in the plan before its results: the baseline stays unless another variant's
out-of-sample RPS (per match, the mean of the three models, on the two out-of-sample seasons before the test
period pooled) is lower with the 95 % paired bootstrap interval of the difference below zero; of those, the
lowest (`a1lab.research.choose`; a test alters the test scores and checks the choice stays). Each variant's
margin over the baseline, its interval and the share of resamples in which it is best (the choice's stability)
are in its rows. Its features are selected on the two seasons before the first out-of-sample one (nested),
never on a season it is ranked on. Every variant tried is reported with its test figures, not only the one
chosen. Tables from earlier runs (one out-of-sample season; before that the lowest mean, features selected
on the out-of-sample season) are in git history, and every one of them counts as looks in the ledgers.

This page is generated by `pipelines/docs.py` from `reports/research/`.
"""

GAP_CHECKS_NOTE = """The checks below are exploratory: the shrinkage values and the move forecast are scanned on the
test seasons without a correction for the number of looks, and nothing is chosen from them.
"""


ROLLING_NOTE = """`make rolling` (`pipelines/rolling.py`, `a1lab.rolling`): every season from the third on is a test
season, forecast by models fitted on earlier seasons only. Before each season its features are selected on the
two seasons before it, the calibration method is chosen on the two seasons before it pooled (for the first two
rolling seasons on the one before, by cross-validation), and the ensemble kind likewise (from the third rolling
season on); hyper-parameters, the training window and target, the members and the seeds stay as params.yaml
says. Those fixed settings were chosen on the out-of-sample seasons (2021/22 and 2022/23 for the football data
sets), so the seasons up to them are forecast under settings chosen with their results: a look-ahead in the
settings, never in the data. The test period's rows are the clean ones. A reader sees here whether an effect
found on the test period holds on the seasons before it.
"""


PLAYERS_NOTE = """`python pipelines/players.py` (after `dvc repro`; the plan is `pipelines/players.yaml`, fixed before
any test figure): the Fantasy Premier League files (`a1lab.data.fpl`: every row joined to a Premier League match or
quarantined with its reason, the clubs named from their fixtures) give player features known at a forecast time
(`a1lab.features.players`): at the open (48 h before kick-off), the share of each team's usual minutes and of its
usual XI's price that the last availability snapshot before it has injured, suspended, unavailable or doubtful;
at line-up time (an hour before kick-off), the announced XI against the usual one (overlap, minutes and price
shares, the usual goalkeeper, changes from the previous match, points per appearance). Each variant is the opening
price adjusted by a multinomial logit with the price as offset (`a1lab.adjustment`), fitted on the seasons before
the one it forecasts. Availability snapshots start in 2022/23 and starts in its second half, so the seasons before
carry no input of either time: the rolling seasons are 2023/24, 2024/25 and 2025/26 to the data's last match, each
fitted on at most three seasons.

The pipeline forecasts at line-up time too, on the `premier-lineup` data set (`protocol.prediction_time: lineup`):
its models see the open-time features, the player features of both times and the opening price, with the
selection, training and ensemble of every other data set; its figures are on the results page and, season by
season, in its rolling table above (before 2022/23 there is no player input, so those seasons' models are
open-time models). That is not the plan above: it chooses its features on the two seasons before each forecast
season, when the player columns exist only from 2022/23 (starts from its second half), and a study's figures are
the plan's.
"""


def players_sentence(csv: Path) -> str:
    """The study's pooled figures against the issue's goals, in words."""
    import pandas as pd

    row = pd.read_csv(csv).set_index("scope").loc["rolling, pooled"]
    names = [c.removesuffix("_share") for c in row.index if c.endswith("_share")]

    def shown(n: str) -> str:
        low, high = (None if pd.isna(row[f"{n}_{k}"]) else row[f"{n}_{k}"] for k in ("low", "high"))
        return f"`{n}` {share_cell({'share': row[f'{n}_share'], 'low': low, 'high': high})}"

    lineup = [n for n in names if n.startswith("lineup")]
    opened = [n for n in names if n.startswith("open") and n != "open_refit"]
    met_lineup = any(row[f"{n}_share"] >= 0.5 and row[f"{n}_low"] > 0.22 for n in lineup)
    met_open = any(row[f"{n}_low"] > 0 for n in opened)
    return (f"Pooled over the rolling seasons ({int(row['n']):,} matches, a gap of {row['gap']:+.6f} RPS): "
            f"{'; '.join(shown(n) for n in names)}. The goal at line-up time (half the gap, the interval's lower "
            f"end above 22 %) is {'met' if met_lineup else 'not met'}; at the open (an interval above zero) "
            f"{'met' if met_open else 'not met'}.")


def research_page() -> str:
    research = ROOT / "reports" / "research"
    out = [RESEARCH_INTRO]
    rolling = [(label, folder / "rolling.md") for label, folder in
               [("Main leagues", research), *((f"`{p.name}` data set", p) for p in sorted(research.glob("*/")))]
               if (folder / "rolling.md").is_file()]
    if rolling:
        out += ["## Every season a test (rolling origin)", "", ROLLING_NOTE]
        out += [line for label, path in rolling for line in (f"### {label}", "", path.read_text().strip(), "")]
    if (research / "players.md").is_file():
        out += ["## Premier League players: what moves the line", "", PLAYERS_NOTE,
                players_sentence(research / "players.csv"), "", (research / "players.md").read_text().strip(), ""]
    out += ["## Main leagues: the variants", "", _sentence(looks_note(ROOT, test_seasons(ROOT / "metrics"))), ""]
    out.append(_demote((research / "variants.md").read_text()))
    if (research / "gap_checks.md").is_file():
        out += ["## The open-to-close gap: two checks", "", GAP_CHECKS_NOTE, _demote((research / "gap_checks.md")
                                                                                    .read_text())]
    for folder in sorted(p for p in research.glob("*/") if (p / "variants.md").is_file()):
        data_set = ROOT / "datasets" / folder.name
        seen = [_sentence(looks_note(data_set, test_seasons(data_set / "metrics"))), ""] \
            if (data_set / "params.yaml").is_file() else []
        out += [f"## `{folder.name}` data set: the variants", "", *seen, _demote((folder / "variants.md").read_text())]
    if (research / "plans.json").is_file():
        plans = _json(research / "plans.json")
        out += ["## Plans", "", "The plan file (variants, the rule and who is eligible) whose SHA-256 heads each "
                "variants table, recorded when its test seasons are scored; `pipelines/research.py` refuses to "
                "score them again under an edited plan unless told to record it beside the old one (`--new-plan`).",
                "", _table(["plan", "sha256", "test seasons", "workspace", "recorded"],
                           [[e["plan"], e["sha256"], ", ".join(e["test_seasons"]), e["workspace"], e["recorded"]]
                            for e in plans]), ""]
    return "\n".join(out)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _demote(markdown: str) -> str:
    """A report's markdown under a page's own heading: its headings two levels down, its title dropped."""
    lines = [line for line in markdown.strip().splitlines()]
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join(("##" + line) if line.startswith("#") else line for line in lines).strip() + "\n"


def performance_page() -> str:
    out = ["# Performance", "",
           "Generated by `pipelines/docs.py` from the JSON the benches in `bench/` write to `reports/bench/` "
           "(`make bench`). Absolute times swing 3-4x with the machine's load; each file records the load "
           "average before and after its run (an idle 2-core machine reads about 0-1 before).", ""]
    bench = ROOT / "reports" / "bench"
    files = sorted(bench.glob("*.json"))
    if not files:
        return "\n".join(out + ["No bench has recorded figures yet: run `make bench`.", ""])
    out += goals_table({path.stem: _json(path) for path in files})
    load = _json(bench / "live.json").get("replay", {}).get("load") if (bench / "live.json").is_file() else None
    if load:
        out += ["## The live loop beside other work", "",
                "The replay of `live` at full speed, idle and beside busy processes (one spinning process each), "
                "at the loop's own priority (nice 0: work started the usual way) and at nice 10 (how "
                "`dvc repro`'s stages run). A fair scheduler gives one process of N+1 busy ones on C CPUs about "
                "C/(N+1) of a CPU, so at the same priority no single-threaded loop keeps half its idle speed "
                "beside two busy processes per CPU; at nice 10 the busy processes yield to it.", "",
                "![events/s and p99 against competing load](img/live_load.svg)", "",
                _table(["busy processes", "nice", "events/s", "x idle", "p50 ms", "p99 ms", "p99 x idle"],
                       [[str(x["busy"]), str(x["nice"]), f"{x['events_per_s']:,.0f}", f"{x['throughput_vs_idle']:.2f}",
                         f"{x['p50_ms']:.1f}", f"{x['p99_ms']:.1f}", f"{x['p99_vs_idle']:.1f}"] for x in load]), ""]
    for path in files:
        data = _json(path)
        out += [f"## `{path.stem}`", ""]
        if path.stem == "repro":
            out += [f"`dvc repro` of a fresh copy of the project, every stage: **{data['total_s']:.1f} s** "
                    f"(budget {data['budget_s']:.0f} s); the notebooks' cells {data['cells_s']:.1f} s of it. Load "
                    f"average {data['load_before']} before, {data['load_after']} after, on {data['cpus']} CPUs. "
                    f"Outputs that differ from the workspace's `dvc.lock`: "
                    f"{', '.join(data['outputs_that_differ']) or 'none'}.", "",
                    _table(["stage", "wall s", "cells s"],
                           [[k, f"{v['wall_s']:.1f}", "" if v["cells_s"] is None else f"{v['cells_s']:.1f}"]
                            for k, v in data["stages"].items()]), ""]
        elif path.stem.startswith("faults"):
            out += faults_section(data)
        else:
            out += [f"Load average {data.pop('load_before')} before, {data.pop('load_after')} after, on "
                    f"{data.pop('cpus')} CPUs.", "", _table(["figure", "value"], _flat(data)), ""]
    return "\n".join(out)


def faults_section(data: dict) -> list[str]:
    """The fault soak (bench/bench_faults.py): its figures, then each kill and the bad seconds after it."""
    kills, bad = data.pop("kills"), data.pop("bad_seconds")
    data.pop("bad_seconds_after_kill")
    rows = [[f"{k['at_s']:.0f}", k["process"], str(sum(int(k["at_s"]) <= s < int(k["at_s"]) + data["every_s"]
                                                      for s in bad))] for k in kills]
    return [f"`live cluster` with {data['replicas']} scoring process(es) per partition, fed {data['events']:,} "
            f"events of {data['season']} over {data['minutes']:g} minutes, a process killed every "
            f"{data['every_s']:g} s. Load average {data.pop('load_before')} before, {data.pop('load_after')} after, "
            f"on {data.pop('cpus')} CPUs. {data['seconds']} seconds resolve {100 / data['seconds']:.2f} % of the "
            "time: a single bad second is below 99.9 %.", "", _table(["figure", "value"], _flat(data)), "",
            _table(["killed at s", "process", "bad seconds in the next interval"], rows), ""]


def _figure(figures: dict, dotted: str):
    """The value at ``<bench>.<path>`` of the benches' figures (KeyError when a bench did not record it)."""
    value = figures
    for key in dotted.split("."):
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


def goals_table(figures: dict) -> list[str]:
    """Each figure of ``bench/goals.yaml`` beside its goal (a number, or another figure of the same run: its
    anchor) and whether the last run met it."""
    import yaml

    rows = []
    for goal in yaml.safe_load((ROOT / "bench" / "goals.yaml").read_text()):
        (kind, target), = ((k, goal[k]) for k in ("at_most", "at_least", "equals") if k in goal)
        try:
            value = _figure(figures, goal["figure"])
        except (KeyError, IndexError):
            rows.append([f"`{goal['figure']}`", "not measured", kind.replace("_", " "), "", goal["why"]])
            continue
        anchor = isinstance(target, str) and target.split(".")[0] in figures
        bound = _figure(figures, target) if anchor else target
        met = value <= bound if kind == "at_most" else value >= bound if kind == "at_least" else value == bound
        shown = f"{kind.replace('_', ' ')} {_value(bound)}" + (f" (`{target}`)" if anchor else "")
        rows.append([f"`{goal['figure']}`", _value(value), shown, "yes" if met else "**no**", goal["why"]])
    return ["## Goals", "", "Each figure the benches hold to a goal (`bench/goals.yaml`), from their last run.", "",
            _table(["figure", "measured", "goal", "met", "why"], rows), ""]


def _value(value) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return "none" if value == [] else str(value)


def _flat(data, prefix: str = "") -> list[list[str]]:
    """A bench's nested figures as (dotted name, value) rows."""
    if isinstance(data, dict):
        return [row for k, v in data.items() for row in _flat(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(data, list) and any(isinstance(v, dict | list) for v in data):
        return [row for i, v in enumerate(data) for row in _flat(v, f"{prefix}[{i}]")]
    return [[f"`{prefix}`", _value(data)]]


def readme_with_results(readme: str) -> str:
    if BEGIN not in readme or END not in readme:
        raise SystemExit(f"README.md has no {BEGIN} ... {END} block")
    head, rest = readme.split(BEGIN, 1)
    return head + BEGIN + "\n" + readme_results() + "\n" + END + rest.split(END, 1)[1]


def load_plot(replay: dict) -> str:
    """The live replay's events/s and p99 against the number of busy processes beside it, one line per nice
    value, idle at 0 and the goals dashed: an SVG with no date or random ids, so the same figures give the same
    bytes."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    for nice in sorted({x["nice"] for x in replay["load"]}):
        rows = [(0, replay["events_per_s"], replay["p99_ms"])] + [
            (x["busy"], x["events_per_s"], x["p99_ms"]) for x in replay["load"] if x["nice"] == nice]
        busy, rate, p99 = zip(*rows, strict=True)
        left.plot(busy, rate, marker="o", label=f"busy at nice {nice}")
        right.plot(busy, p99, marker="o", label=f"busy at nice {nice}")
    left.axhline(replay["events_per_s"] / 2, color="grey", ls="--", lw=1, label="goal: half of idle")
    right.axhline(replay["p99_ms"] * 3, color="grey", ls="--", lw=1, label="goal: 3x idle")
    left.set(xlabel="busy processes beside the loop", ylabel="events/s", ylim=(0, None))
    right.set(xlabel="busy processes beside the loop", ylabel="p99 of a scoring, ms", ylim=(0, None))
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    fig.tight_layout()
    out = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "a1lab", "svg.fonttype": "none"}):
        fig.savefig(out, format="svg", metadata={"Date": None})
    plt.close(fig)
    return out.getvalue()


def pages() -> dict[Path, str]:
    """Every generated file and what it should hold now."""
    out = {ROOT / "docs" / "results.md": results_page() + "\n",
           ROOT / "docs" / "research.md": research_page(),
           ROOT / "docs" / "performance.md": performance_page() + "\n",
           ROOT / "README.md": readme_with_results((ROOT / "README.md").read_text())}
    live = ROOT / "reports" / "bench" / "live.json"
    if live.is_file() and _json(live).get("replay", {}).get("load"):
        out[ROOT / "docs" / "img" / "live_load.svg"] = load_plot(_json(live)["replay"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated file is stale; write nothing")
    args = parser.parse_args(argv)
    if not args.check and (dirty := uncommitted()):
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        print(f"not written: the docs show committed figures only, and {shown} differ from the last commit; "
              "commit them (or `git stash` an experiment) first")
        return 1
    stale = []
    for path, text in pages().items():
        if not path.is_file() or path.read_text() != text:
            stale.append(str(path.relative_to(ROOT)))
            if not args.check:
                path.write_text(text)
    if args.check and stale:
        print(f"stale (run `python pipelines/docs.py`): {', '.join(stale)}")
        return 1
    print(f"{'checked' if args.check else 'wrote'}: {', '.join(stale) or 'nothing to change'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
