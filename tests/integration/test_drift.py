"""Drift reports: a planted shift is flagged exactly; the index renders offline in headless Chromium."""

import json
import re
import subprocess

import numpy as np
import pandas as pd
import pytest

from a1lab.drift import (
    drift_report,
    ks_report,
    psi,
    rolling_performance,
    season_and_month_reports,
    write_index,
    write_months,
    write_summary,
)


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(0)
    cols = [f"f{i}" for i in range(6)]
    reference = pd.DataFrame(rng.normal(0, 1, (3000, 6)), columns=cols)
    current = pd.DataFrame(rng.normal(0, 1, (600, 6)), columns=cols)
    shifted = current.copy()
    shifted["f3"] = shifted["f3"] + 0.8
    return reference, current, shifted, cols


def test_season_pages_are_titled_with_drifted_columns_first(frames, tmp_path):
    reference, current, shifted, cols = frames
    shifted = shifted.assign(season="2425", kickoff=pd.Timestamp("2024-09-01", tz="UTC"))
    context = {"model": "xgb v3", "reference": "its training seasons 1516 to 2223"}
    summaries = season_and_month_reports(reference.assign(season="x"), shifted, ["2425"], cols, tmp_path, 0.01,
                                         min_month_matches=100, context=context, figure="performance.png")
    page = (tmp_path / "season_2425.html").read_text()
    assert page.index("<h1>Drift: season 2425</h1>") < page.index("</body>") and page.count("<h1>Drift") == 1
    assert "model: xgb v3; reference: its training seasons 1516 to 2223" in page and "below 0.01" in page
    assert "What to do with it" in page and "model minus the market" in page
    table = page[page.index('<table class="columns">'):page.index("</table>")]
    assert re.findall(r"<tr[^>]*><td>(f\d)</td>", table)[0] == "f3" and table.count('class="drifted"') == 1
    assert "PSI" in table and f"{summaries[0]['features']['f3']['psi']:.3f}" in table
    index = (tmp_path / "index.html").read_text()
    assert '<img src="performance.png"' in index and "xgb v3" in index
    assert 'href="months.html#month_2425_2024-09"' in index


def test_shifted_feature_is_flagged_exactly(frames, tmp_path):
    reference, current, shifted, cols = frames
    summary = drift_report(reference, shifted, cols, "shifted", tmp_path / "shifted.html", threshold=0.01)
    assert [c for c, f in summary["features"].items() if f["drifted"]] == ["f3"]
    assert summary["most_drifted"] == ["f3"] and summary["share_drifted"] == pytest.approx(1 / 6)
    assert summary["features"]["f3"]["psi"] > 0.25 > max(summary["features"][c]["psi"] for c in cols if c != "f3")
    clean = drift_report(reference, current, cols, "clean", None, threshold=0.01)
    assert clean["n_drifted"] == 0
    html = (tmp_path / "shifted.html").read_text()
    assert len(html) > 100_000 and "<script" in html  # self-contained report
    # the same data, the same bytes: Evidently's random widget ids are renumbered (dvc.lock stays as it was)
    drift_report(reference, shifted, cols, "shifted", tmp_path / "again" / "shifted.html", threshold=0.01)
    assert (tmp_path / "again" / "shifted.html").read_text() == html and "00000000-0000-0000-0000-000000000001" in html


def test_monthly_test_is_evidentlys_test_without_the_page(frames):
    reference, _, shifted, cols = frames
    reference, shifted = reference.copy(), shifted.copy()
    reference.loc[:99, "f1"] = np.nan
    shifted.loc[:9, "f2"] = np.inf  # Evidently drops non-finite values before its test; so must we
    ours = ks_report(reference, shifted, cols, "m", threshold=0.01)
    theirs = drift_report(reference, shifted, cols, "m", None, threshold=0.01)
    for c in cols:
        assert ours["features"][c]["p_value"] == pytest.approx(theirs["features"][c]["p_value"], rel=1e-9, abs=1e-300)
    assert {k: v for k, v in ours.items() if k != "features"} == {k: v for k, v in theirs.items() if k != "features"}


def test_one_page_per_season_and_one_for_all_months(frames, tmp_path):
    reference, current, shifted, cols = frames
    frame = pd.concat([current, shifted], ignore_index=True)
    frame["season"] = "2425"
    frame["kickoff"] = pd.Timestamp("2024-09-01", tz="UTC") + pd.to_timedelta(np.arange(len(frame)) // 600 * 40, "D")
    summaries = season_and_month_reports(reference, frame, ["2425", "2526"], cols, tmp_path, 0.01, 30)
    assert [s["name"] for s in summaries] == ["season_2425", "month_2425_2024-09", "month_2425_2024-10"]
    assert sorted(p.name for p in tmp_path.glob("*.html")) == ["index.html", "months.html", "season_2425.html"]
    assert [s["most_drifted"] for s in summaries[1:]] == [[], ["f3"]]
    months = (tmp_path / "months.html").read_text()
    assert 'id="month_2425_2024-10"' in months and "f3: p=" in months
    assert 'href="months.html#month_2425_2024-10"' in (tmp_path / "index.html").read_text()


def test_two_seasons_sharing_a_calendar_month_keep_a_report_each(frames, tmp_path):
    """Leagues on different calendars: season keys whose months overlap. No report overwrites another, and
    the summaries, the JSON files and the index all count the same reports."""
    reference, current, shifted, cols = frames
    frame = pd.concat([current.assign(season="2020"), shifted.assign(season="1920")], ignore_index=True)
    frame["kickoff"] = pd.Timestamp("2020-06-01", tz="UTC")
    summaries = season_and_month_reports(reference, frame, ["1920", "2020"], cols, tmp_path, 0.01, 30)
    names = [s["name"] for s in summaries]
    assert len(set(names)) == len(names) == 4
    assert sorted(p.stem for p in tmp_path.glob("*.json")) == sorted(names)
    months = {s["name"]: s for s in summaries if s["name"].startswith("month_")}
    assert months["month_1920_2020-06"]["most_drifted"] == ["f3"] and months["month_2020_2020-06"]["n_drifted"] == 0
    assert sum(s["rows_current"] for s in months.values()) == len(frame)
    index = (tmp_path / "index.html").read_text()
    assert all(f'href="months.html#{n}"' in index for n in months)


def test_psi_by_construction():
    x = np.random.default_rng(1).normal(0, 1, 5000)
    assert psi(x, x) == pytest.approx(0.0, abs=1e-9)
    assert psi(x, x + 1) > psi(x, x + 0.2) > 0


def test_rolling_performance_columns():
    pred = pd.DataFrame({"kickoff": pd.date_range("2024-01-01", periods=50, tz="UTC"), "result": ["H", "D"] * 25,
                         "p_home": 0.5, "p_draw": 0.3, "p_away": 0.2})
    perf = rolling_performance(pred, np.tile([1 / 3, 1 / 3, 1 / 3], (50, 1)), window=10)
    assert list(perf.columns) == ["kickoff", "model_rps", "market_rps", "model_logloss", "market_logloss"]
    assert perf["market_logloss"].dropna().iloc[-1] == pytest.approx(np.log(3))


def dump_dom(exe: str, url: str) -> str:
    out = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=15000",
                          "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_index_renders_offline_and_every_link_resolves(frames, tmp_path, chromium):
    exe = chromium
    reference, current, shifted, cols = frames
    summaries = [drift_report(reference, shifted, cols, "season_2425", tmp_path / "season_2425.html", threshold=0.01),
                 ks_report(reference, shifted, cols, "month_2425_2024-09", threshold=0.01)]
    for s in summaries:
        write_summary(s, tmp_path)
    write_months(summaries[1:], tmp_path, 0.01)
    index = write_index(summaries, tmp_path)
    dom = dump_dom(exe, index.as_uri())
    links = re.findall(r'href="([^"]+)"', dom)
    assert sorted(links) == ["months.html#month_2425_2024-09", "season_2425.html"]
    assert dom.count("<tr>") == 3 and "f3" in dom
    for link in links:
        target = (index.parent / link.split("#")[0]).resolve()
        assert target.is_file()
        report = dump_dom(exe, target.as_uri())
        assert "f3" in report
        if link.startswith("season_"):  # Evidently's JavaScript (shared, beside the page) ran offline and drew
            assert "MuiTypography" in report and "MuiTypography" not in target.read_text()
            assert len(list(tmp_path.glob("evidently-*.js"))) == 1 and '<script src="evidently-' in target.read_text()
            assert len(list(tmp_path.glob("evidently-*.css"))) == 1 and "@font-face" not in target.read_text()
    assert json.loads((tmp_path / "season_2425.json").read_text())["most_drifted"] == ["f3"]


def test_a_season_page_of_a_real_size_stays_under_a_megabyte(tmp_path):
    """43 columns, 4,000 reference rows and a season of 1,900 (the main data set's drift stage): Evidently's page
    was 3.1 MB (its detail graphs twice, floats to 17 digits, an icon font inlined); every detail graph the
    table opens is still in the map Evidently's JavaScript reads."""
    rng = np.random.default_rng(1)
    cols = [f"c{i}" for i in range(43)]
    reference = pd.DataFrame(rng.normal(0, 1, (4000, 43)), columns=cols)
    current = pd.DataFrame(rng.normal(0.1, 1, (1900, 43)), columns=cols)
    page = tmp_path / "season_2526.html"
    drift_report(reference, current, cols, "season_2526", page)
    text = page.read_text()
    assert page.stat().st_size <= 1_000_000 and "additionalGraphs" not in text
    graphs = re.search(r"var additional_graphs_metric_\w+ = (\{.*?\});\n", text, re.S)
    details = set(re.findall(r'"id":"([0-9a-f-]{36})","type":"widget"', text))
    assert len(details) == 2 * 43 and details <= set(json.loads(graphs.group(1)))


def test_overview_figure_draws_monthly_drift_over_the_gap_with_alerts(tmp_path):
    from types import SimpleNamespace

    from a1lab.drift import overview_figure

    perf = pd.DataFrame({"kickoff": pd.date_range("2024-08-01", periods=90, tz="UTC"),
                         "rps_gap": np.linspace(-0.002, 0.006, 90)})
    summaries = [{"name": "season_x", "share_drifted": 0.5}, {"name": "month_x_2024-08", "share_drifted": 0.3},
                 {"name": "month_x_2024-09", "share_drifted": 0.1}]
    rules = [{"name": "worse", "metric": "rps_gap", "kind": "threshold", "threshold": 0.005},
             {"name": "moves", "metric": "odds_move", "kind": "anomaly"}]
    alerts = [SimpleNamespace(rule="worse", at=perf["kickoff"].iloc[-1].timestamp(), value=0.006),
              SimpleNamespace(rule="moves", at=perf["kickoff"].iloc[0].timestamp(), value=0.2)]
    path = overview_figure(summaries, perf, alerts, rules, tmp_path / "performance.png", model="xgb v1")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000


def test_a_constant_column_leaves_no_numpy_warning_with_a_machine_path(frames, tmp_path):
    """A column constant in both frames (NBA's draw odds) has no correlation; numpy's warning carried the
    virtualenv's path into the executed drift notebook."""
    import warnings

    reference, current, _, cols = frames
    reference, current = reference.assign(flat=1.0), current.assign(flat=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        summary = drift_report(reference, current, [*cols, "flat"], "flat", tmp_path / "flat.html")
    assert summary["features"]["flat"]["drifted"] is False
