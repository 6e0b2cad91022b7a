"""Data drift reports with Evidently, PSI, an index page, and performance over time.

Evidently (0.7 API) runs a two-sample test per column (Kolmogorov-Smirnov for
numbers: a p-value below the threshold is drift) and writes a self-contained
HTML report for each season; a JSON summary and the population stability index
(PSI) of every column sit beside it, so figures compare between runs. Months get
the same test (scipy's ``ks_2samp`` on the finite values, as Evidently runs it)
without a 6 MB page each: one compact ``months.html`` lists them all.
"""

from __future__ import annotations

import html
import json
import re
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from a1lab.metrics import logloss_per_match, rps_per_match
from a1lab.outcomes import RESULT_CODES
from a1lab.progress import note


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index over the reference's quantile bins (0.1: some shift; 0.25: large)."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    if len(ref) == 0 or len(cur) == 0:
        return float("nan")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        return 0.0
    edges[0], edges[-1] = -np.inf, np.inf
    r = np.histogram(ref, edges)[0] / len(ref)
    c = np.histogram(cur, edges)[0] / len(cur)
    r, c = np.clip(r, 1e-4, None), np.clip(c, 1e-4, None)
    return float(((c - r) * np.log(c / r)).sum())


def ks_p_values(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]) -> dict[str, float]:
    """Two-sample Kolmogorov-Smirnov p-value per column on its finite values (NaN when a side has none):
    the test Evidently's ``num_method="ks"`` runs."""
    from scipy.stats import ks_2samp

    out = {}
    for c in columns:
        ref, cur = reference[c].to_numpy(dtype=float), current[c].to_numpy(dtype=float)
        ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
        out[c] = float(ks_2samp(ref, cur)[1]) if len(ref) and len(cur) else float("nan")
    return out


def _summary(name: str, reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], p_values: dict,
             threshold: float) -> dict:
    features = {c: {"test": "ks", "p_value": p_values.get(c, float("nan")),
                    "drifted": bool(p_values.get(c, 1.0) < threshold),
                    "psi": psi(reference[c].to_numpy(), current[c].to_numpy())} for c in columns}
    ranked = sorted(columns, key=lambda c: (features[c]["p_value"], -features[c]["psi"]))
    n_drifted = sum(f["drifted"] for f in features.values())
    return {"name": name, "rows_reference": len(reference), "rows_current": len(current),
            "n_drifted": n_drifted, "share_drifted": n_drifted / len(columns),
            "most_drifted": [c for c in ranked if features[c]["drifted"]][:5], "features": features}


STYLE = ("<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}ul{margin:0}"
         ".drifted{color:#b00020;font-weight:bold}</style>")


MEANING = ("What to do with it: drift says the inputs moved away from the training seasons, not that the "
           "forecasts got worse. Ratings, form and market features move every season, so many drifted columns "
           "are normal. The index page's lower panel, the rolling RPS of the model minus the market's, says whether "
           "it matters: while that gap stays where it was, keep the model; when it rises with the drift, look at "
           "the most drifted columns below and retrain on recent seasons.")


def describe(context: dict | None, threshold: float) -> str:
    """The line every page opens with: what is compared with what, and when a column drifts."""
    context = context or {}
    parts = [f"{html.escape(k)}: {html.escape(str(v))}" for k, v in context.items()]
    rule = (f"a column drifts when its Kolmogorov-Smirnov p-value is below {threshold}; PSI (population "
            "stability index) beside it: 0.1 some shift, 0.25 large")
    return "<p>" + "; ".join(parts + [rule]) + ".</p>"


def column_table(summary: dict) -> str:
    """Every column of a report, drifted first (lowest p-value, then highest PSI), with KS p-value and PSI."""
    features = summary["features"]
    order = sorted(features, key=lambda c: (not features[c]["drifted"], features[c]["p_value"], -features[c]["psi"]))
    marked = {True: ' class="drifted"', False: ""}
    rows = "".join(
        f"<tr{marked[features[c]['drifted']]}><td>{html.escape(c)}</td>"
        f"<td>{features[c]['p_value']:.3g}</td><td>{'yes' if features[c]['drifted'] else 'no'}</td>"
        f"<td>{features[c]['psi']:.3f}</td></tr>" for c in order)
    return ("<table class=\"columns\"><thead><tr><th>column</th><th>KS p-value</th><th>drifted</th><th>PSI</th>"
            "</tr></thead><tbody>" + rows + "</tbody></table>")


def title_page(page: Path, summary: dict, context: dict | None, threshold: float) -> None:
    """Put a1lab's title, context and drifted-first column table at the top of an Evidently page."""
    text = page.read_text(encoding="utf-8")
    name = summary["name"].replace("_", " ")
    header = ("<style>#a1lab-header{font-family:sans-serif;margin:1em 2em}#a1lab-header table{border-collapse:"
              "collapse}#a1lab-header td,#a1lab-header th{border:1px solid #ccc;padding:2px 8px;text-align:left}"
              "#a1lab-header .drifted{color:#b00020;font-weight:bold}</style><div id=\"a1lab-header\">"
              f"<h1>Drift: {html.escape(name)}</h1>{describe(context, threshold)}"
              f"<p>{summary['rows_current']:,} matches against {summary['rows_reference']:,} reference rows: "
              f"{summary['n_drifted']} of {len(summary['features'])} columns drifted "
              f"({summary['share_drifted']:.0%}). <a href=\"index.html\">All reports</a>. Evidently's own "
              f"report follows the table.</p><p>{MEANING}</p>{column_table(summary)}</div>")
    at = text.find(">", text.find("<body")) + 1
    page.write_text(text[:at] + header + text[at:], encoding="utf-8")


def drift_report(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], name: str,
                 html_path: Path | None = None, threshold: float = 0.05) -> dict:
    """Test every column for drift with Evidently; optionally write its HTML report.

    Returns:
        ``name``, row counts, ``share_drifted``, ``n_drifted``, per-column
        ``{"test": "ks", "p_value", "drifted", "psi"}`` and the five most drifted columns.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=list(columns))
    with warnings.catch_warnings():  # a constant column has no correlation: Evidently leaves it empty, and numpy's
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)  # warning named its path
        snapshot = Report([DataDriftPreset(num_method="ks", threshold=threshold)]).run(
            Dataset.from_pandas(current[columns], data_definition=definition),
            Dataset.from_pandas(reference[columns], data_definition=definition))
    p_values = {}
    for metric in snapshot.dict()["metrics"]:
        column = metric["config"].get("column")
        if metric["config"]["type"].endswith("ValueDrift") and column is not None:
            p_values[column] = float(metric["value"])
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        snapshot.save_html(str(html_path))
        share_script(html_path)
        slim_page(html_path)
        steady_ids(html_path)
    return _summary(name, reference, current, columns, p_values, threshold)


def share_script(page: Path) -> Path | None:
    """Move the largest inline script of a page that holds no report data (Evidently's 3.5 MB JavaScript
    bundle, the same in every report) to a file beside it named by its hash, so the season pages share one
    copy; the page still opens offline. Returns the script file (None when the page has no such script)."""
    import hashlib

    text = page.read_text(encoding="utf-8")
    blocks, pos = [], 0
    while (start := text.find("<script>", pos)) >= 0:  # sequential: a bundle's own "<script>" strings are skipped
        end = text.find("</script>", start + 8)
        if end < 0:
            break
        blocks.append((start, end + len("</script>")))
        pos = end + len("</script>")
    code = [(b, text[b[0] + 8:b[1] - 9]) for b in blocks]
    code = [(b, body) for b, body in code if not body.lstrip().startswith("var metric_")]
    if not code:
        return None
    (start, end), body = max(code, key=lambda item: len(item[1]))
    if len(body) < 100_000:
        return None
    script = page.parent / f"evidently-{hashlib.sha256(body.encode()).hexdigest()[:12]}.js"
    if not script.is_file():
        script.write_text(body, encoding="utf-8")
    page.write_text(text[:start] + f'<script src="{script.name}"></script>' + text[end:], encoding="utf-8")
    return script


_DATA = re.compile(r"var (?:additional_graphs_)?metric_\w+ = ")
_FONTS = re.compile(r"<style>\s*/\* fallback \*/\s*@font-face.*?</style>", re.S)


def slim_page(page: Path, digits: int = 4) -> None:
    """Make a report page lighter without changing what it draws: its data once (Evidently writes each column's
    detail graphs twice, in the table widget and in the map its JavaScript reads), its floats to ``digits``
    significant digits, and its icon font's style moved to a file beside it that every season shares."""
    import hashlib

    text = page.read_text(encoding="utf-8")
    if (fonts := _FONTS.search(text)) is not None:
        css = fonts.group(0).removeprefix("<style>").removesuffix("</style>")
        sheet = page.parent / f"evidently-{hashlib.sha256(css.encode()).hexdigest()[:12]}.css"
        if not sheet.is_file():
            sheet.write_text(css, encoding="utf-8")
        text = text[:fonts.start()] + f'<link rel="stylesheet" href="{sheet.name}">' + text[fonts.end():]

    def rounded(value: str) -> float:
        return float(f"{float(value):.{digits}g}")

    def without_copies(node):
        if isinstance(node, dict):
            return {k: without_copies(v) for k, v in node.items() if k != "additionalGraphs"}
        return [without_copies(v) for v in node] if isinstance(node, list) else node

    parts, pos = [], 0
    for match in _DATA.finditer(text):
        if match.start() < pos:
            continue
        data, end = json.JSONDecoder(parse_float=rounded).raw_decode(text, match.end())
        parts += [text[pos:match.end()], json.dumps(without_copies(data), separators=(",", ":"))]
        pos = end
    page.write_text("".join(parts) + text[pos:], encoding="utf-8")


_UUID = re.compile(r"(?<![0-9a-f])([0-9a-f]{8})(-?)([0-9a-f]{4})\2([0-9a-f]{4})\2([0-9a-f]{4})\2([0-9a-f]{12})"
                   r"(?![0-9a-f])")  # with dashes or without


def steady_ids(page: Path) -> None:
    """Replace the random UUIDs Evidently gives each widget (with or without dashes) by ones numbered in order of
    first appearance, so the same data gives the same page bytes (and DVC the same hash). The shared script
    (:func:`share_script`) is left alone."""
    numbers: dict[str, int] = {}

    def renumber(match: re.Match) -> str:
        first, sep, *rest = match.groups()
        new = f"{numbers.setdefault(first + ''.join(rest), len(numbers)):032x}"
        return sep.join((new[:8], new[8:12], new[12:16], new[16:20], new[20:]))

    page.write_text(_UUID.sub(renumber, page.read_text(encoding="utf-8")), encoding="utf-8")


def ks_report(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], name: str,
              threshold: float = 0.05) -> dict:
    """:func:`drift_report`'s summary from :func:`ks_p_values`, without Evidently or a page."""
    return _summary(name, reference, current, columns, ks_p_values(reference, current, columns), threshold)


def write_months(summaries: list[dict], folder: Path, threshold: float, context: dict | None = None) -> Path:
    """One compact page for the monthly tests: per month, the drifted columns with p-value and PSI."""
    rows = []
    for s in summaries:
        cells = "".join(f"<li>{html.escape(c)}: p={s['features'][c]['p_value']:.2g}, "
                        f"PSI={s['features'][c]['psi']:.3f}</li>" for c in s["most_drifted"]) or "none"
        season, month = s["name"][len("month_"):].rsplit("_", 1)
        rows.append(f"<tr id=\"{html.escape(s['name'])}\"><td>{html.escape(month)} ({html.escape(season)})</td>"
                    f"<td>{s['rows_current']}</td><td>{s['n_drifted']} / {len(s['features'])}</td>"
                    f"<td>{s['share_drifted']:.0%}</td><td><ul>{cells}</ul></td></tr>")
    page = ("<!doctype html><html><head><meta charset=\"utf-8\"><title>a1lab drift by month</title>"
            + STYLE + "</head><body><h1>Drift by month</h1>" + describe(context, threshold) +
            "<p>The five most drifted columns of each month (lowest p, then highest PSI).</p>"
            "<table id=\"months\"><thead><tr><th>month (season)</th>"
            "<th>matches</th><th>drifted columns</th><th>share</th><th>most drifted</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table><p><a href=\"index.html\">all reports</a></p></body></html>")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "months.html"
    path.write_text(page, encoding="utf-8")
    return path


def write_index(summaries: list[dict], folder: Path, title: str = "a1lab drift reports",
                context: dict | None = None, threshold: float = 0.05, figure: str | None = None) -> Path:
    """An offline index.html: what is compared, the overview figure (``figure``, a file beside it: drift
    share over time and the model-minus-market gap with alerts), and every report with its headline."""
    rows = []
    for s in summaries:
        page = "months.html#" + s["name"] if s["name"].startswith("month_") else f"{s['name']}.html"
        link = html.escape(page)
        most = ", ".join(html.escape(c) for c in s["most_drifted"]) or "none"
        rows.append(f"<tr><td><a href=\"{link}\">{html.escape(s['name'])}</a></td><td>{s['rows_current']}</td>"
                    f"<td>{s['n_drifted']} / {len(s['features'])}</td><td>{s['share_drifted']:.0%}</td>"
                    f"<td>{most}</td></tr>")
    overview = (f"<p><img src=\"{html.escape(figure)}\" alt=\"drift share by month and the rolling RPS gap of "
                f"model and market, alerts marked\" style=\"max-width:100%\"></p>") if figure else ""
    page = (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>" + STYLE +
            f"</head><body><h1>{html.escape(title)}</h1>" + describe(context, threshold) + overview +
            "<table id=\"reports\"><thead><tr><th>report</th><th>matches</th><th>drifted columns</th>"
            "<th>share</th><th>most drifted</th></tr></thead><tbody>" + "".join(rows) +
            "</tbody></table></body></html>")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def write_summary(summary: dict, folder: Path) -> Path:
    """The report's JSON summary beside its HTML."""
    path = folder / f"{summary['name']}.json"
    path.write_text(json.dumps(summary, indent=2, default=lambda v: None) + "\n")
    return path


def rolling_performance(predictions: pd.DataFrame, market: np.ndarray, window: int = 200) -> pd.DataFrame:
    """Rolling RPS and log loss of the model and the market, in kick-off order.

    Args:
        predictions: ``kickoff``, ``result`` and ``p_home``, ``p_draw``, ``p_away``.
        market: the market's probabilities on the same rows.
        window: matches per rolling mean.
    """
    order = predictions["kickoff"].argsort(kind="mergesort").to_numpy()
    pred = predictions.iloc[order]
    y = pred["result"].map(RESULT_CODES).to_numpy()
    p = pred[["p_home", "p_draw", "p_away"]].to_numpy()
    m = np.asarray(market)[order]
    frame = pd.DataFrame({"kickoff": pred["kickoff"].to_numpy(), "model_rps": rps_per_match(p, y),
                          "market_rps": rps_per_match(m, y), "model_logloss": logloss_per_match(p, y),
                          "market_logloss": logloss_per_match(m, y)})
    rolled = frame.drop(columns="kickoff").rolling(window, min_periods=window // 2).mean()
    return pd.concat([frame[["kickoff"]], rolled], axis=1)


def season_and_month_reports(reference: pd.DataFrame, frame: pd.DataFrame, seasons: list[str], columns: list[str],
                             folder: Path, threshold: float = 0.05, min_month_matches: int = 30,
                             context: dict | None = None, figure: str | None = None) -> list[dict]:
    """An Evidently report per season (HTML titled with ``context`` and a drifted-first column table, and
    JSON), the same test per month with enough matches (JSON, and all months on ``months.html``), and the
    index page (showing ``figure`` when given)."""
    summaries, months = [], []
    for season in seasons:
        current = frame[frame["season"] == season]
        if current.empty:
            continue
        page = folder / f"season_{season}.html"
        started = time.perf_counter()
        summary = drift_report(reference, current, columns, f"season_{season}", page, threshold)
        note(f"drift report of season {season}: {len(current):,} matches, {summary['n_drifted']} of {len(columns)} "
             f"columns drifted ({time.perf_counter() - started:.1f} s)")
        title_page(page, summary, context, threshold)
        write_summary(summary, folder)
        summaries.append(summary)
        for month, rows in current.groupby(current["kickoff"].dt.strftime("%Y-%m")):
            if len(rows) >= min_month_matches:
                summary = ks_report(reference, rows, columns, f"month_{season}_{month}", threshold)
                write_summary(summary, folder)
                summaries.append(summary)
                months.append(summary)
    write_months(months, folder, threshold, context)
    write_index(summaries, folder, context=context, threshold=threshold, figure=figure)
    return summaries


def overview_figure(summaries: list[dict], perf: pd.DataFrame, alerts: list, rules: list[dict], path: Path,
                    threshold: float = 0.05, reference: str = "the reference", model: str = "the model",
                    market: str = "the market", window: int = 200) -> Path:
    """The drift index's figure: the share of drifted columns by month above the rolling RPS gap of model minus
    market (``perf``'s ``kickoff`` and ``rps_gap``), with the ``rps_gap`` threshold rules drawn and their
    alerts (objects with ``rule``, ``at``, ``value``) marked."""
    import matplotlib.pyplot as plt  # any backend: the figure is saved and closed

    months = [(pd.Timestamp(s["name"].rsplit("_", 1)[-1] + "-01"), s["share_drifted"]) for s in summaries
              if s["name"].startswith("month_")]  # month_<season>_<YYYY-MM>: seasons may share a month
    gap_rules = [r for r in rules if r.get("metric") == "rps_gap"]
    fig, axes = plt.subplots(2, 1, figsize=(12, 7), sharex=True)
    if months:
        axes[0].bar([m for m, _ in months], [v for _, v in months], width=20, color="tab:blue")
    axes[0].set_ylabel("share of columns drifted")
    axes[0].set_ylim(0, 1)
    axes[0].set_title(f"Drift by month against {reference} (KS p < {threshold})")
    axes[1].plot(perf["kickoff"], perf["rps_gap"], color="tab:purple",
                 label=f"model minus market, rolling {window} matches")
    axes[1].axhline(0, color="k", lw=0.8)
    for limit in [r.get("threshold") for r in gap_rules if r.get("kind") == "threshold"]:
        axes[1].axhline(limit, color="tab:red", ls="--", lw=0.8, label=f"alert threshold {limit}")
    gap_alerts = [a for a in alerts if a.value is not None and a.rule in {r["name"] for r in gap_rules}]
    if gap_alerts:
        axes[1].scatter(pd.to_datetime([a.at for a in gap_alerts], unit="s", utc=True), [a.value for a in gap_alerts],
                        color="tab:red", marker="x", zorder=3, label=f"alerts ({len(gap_alerts)})")
    axes[1].set_ylabel("RPS gap (model minus market)")
    axes[1].set_xlabel("kick-off")
    axes[1].set_title(f"{model} against {market}: below 0 the model is better")
    axes[1].legend(loc="upper left")
    fig.savefig(path, dpi=80, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path
