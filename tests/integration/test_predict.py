"""`a1lab predict`: upcoming fixtures in the site's layouts, scored from the feature state after the last
settled match, equal to the batch pipeline's forecasts; rows it cannot score get a reason."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from a1lab.fixtures import country_codes, read_fixtures

RESULT_COLUMNS = {"FTHG", "FTAG", "FTR", "HTHG", "HTAG", "HTR", "HS", "AS", "HST", "AST", "HF", "AF", "HC", "AC",
                  "HY", "AY", "HR", "AR", "Referee"}


def _without_results(path, keep_rows, extra_rows=()) -> str:
    """The site's fixtures.csv made from a real main file: the given rows, results and closing prices removed."""
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    header = rows[0]
    keep = [i for i, c in enumerate(header) if c not in RESULT_COLUMNS and not c.startswith(("PSC", "B365C", "MaxC",
                                                                                             "AvgC", "BFEC"))]
    lines = [[header[i] for i in keep]] + [[r[i] for i in keep] for r in keep_rows]
    lines += [list(r) + [""] * (len(keep) - len(r)) for r in extra_rows]
    return "\n".join(",".join(f'"{v}"' if "," in v else v for v in line) for line in lines) + "\n"


@pytest.fixture(scope="module")
def last_day(live_lab, data_root, tmp_path_factory):
    """The last day of E0 2025/26 as fixtures, the feature state before that day, and the batch forecasts."""
    from a1lab import registry

    tmp = tmp_path_factory.mktemp("predict")
    path = data_root / "mmz4281" / "2526" / "E0.csv"
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))[1:]
    last = rows[-1][1]
    day_rows = [r for r in rows if r[1] == last]
    matches = live_lab["matches"]
    e0 = matches[(matches["league"] == "E0") & (matches["season"] == "2526")]
    day = e0["kickoff"].max().normalize()
    from a1lab.features import build_features

    _, state = build_features(matches[matches["kickoff"] < day], live_lab["config"])
    state.save(tmp / "state.json")
    frame = live_lab["frame"]
    expected = frame[(frame["league"] == "E0") & (frame["kickoff"] >= day)].sort_values(["kickoff", "home"])
    model = registry.load("xgb", root=live_lab["registry"])
    batch = pd.DataFrame(model.predict_proba(expected), columns=["p_home", "p_draw", "p_away"])
    batch[["home", "away"]] = expected[["home", "away"]].to_numpy()
    extra = [["E0", last, "15:00", "Arsenal", "Chelsea"],  # no prices
             ["E0", last, "15:00", "Nowhere Town", "Arsenal"],
             ["ZZ9", last, "15:00", "Arsenal", "Chelsea"],
             ["E0", "31/02/2025", "15:00", "Arsenal", "Chelsea"],
             ["E0", last, "15:00", "Man Utd", "Chelsea"]]  # the league spells it Man United
    (tmp / "fixtures.csv").write_text(_without_results(path, day_rows, extra))
    return {"tmp": tmp, "n": len(day_rows), "batch": batch, "state": tmp / "state.json"}


def _predict(live_lab, last_day, *extra: str) -> subprocess.CompletedProcess:
    tmp = last_day["tmp"]
    return subprocess.run([sys.executable, "-m", "a1lab.cli", "predict", *extra, "--model", "xgb",
                           "--registry", str(live_lab["registry"]), "--state", str(last_day["state"]),
                           "--params", str(live_lab["params"])], capture_output=True, text=True, timeout=300,
                          cwd=tmp)


def test_predict_scores_fixtures_as_the_batch_pipeline_does(live_lab, last_day):
    proc = _predict(live_lab, last_day, str(last_day["tmp"] / "fixtures.csv"), "--out", "out.json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = pd.DataFrame(json.loads((last_day["tmp"] / "out.json").read_text()))
    n = last_day["n"]
    assert len(table) == n + 5
    scored = table[table["reason"].isna()].sort_values(["kickoff", "home"]).reset_index(drop=True)
    assert len(scored) == n
    batch = last_day["batch"]
    assert scored[["home", "away"]].values.tolist() == batch[["home", "away"]].values.tolist()
    np.testing.assert_allclose(scored[["p_home", "p_draw", "p_away"]].to_numpy(dtype=float),
                               batch[["p_home", "p_draw", "p_away"]].to_numpy(dtype=float), atol=1e-9)
    assert scored["market_p_home"].notna().all() and scored["reasons"].str.len().gt(0).all()
    bets = scored[scored["bet"].notna()]
    assert (bets["stake_share"] > 0).all() and (bets["edge"] > 0).all() and (bets["stake_share"] < 1).all()
    np.testing.assert_allclose(scored["fair_odds_home"] * scored["p_home"], 1.0)
    first = scored.iloc[0]  # every bookmaker's home price with its edge, the best price first
    home = first["offers"].split(" | ")[0]
    prices = [float(part.split()[-2]) for part in home.removeprefix("home: ").split(", ")]
    assert prices == sorted(prices, reverse=True) and len(prices) >= 3 and " pinnacle " in home
    assert f"{first['p_home'] * prices[0] - 1:+.1%}" in home
    assert scored["why"].str.contains(r"(?:raises|lowers) (?:home|draw|away) \(SHAP [+-]", regex=True).all()
    assert scored["why"].str.contains("team").any()  # a feature's meaning, not its column name
    reasons = table.set_index("home")["reason"]
    missing = table[(table["home"] == "Arsenal") & (table["away"] == "Chelsea")
                    & table["league"].eq("E0")]["reason"].dropna().iloc[0]
    assert missing.startswith("missing prices the model needs: ") and "PSH/PSD/PSA" in missing  # the file's names
    assert "AvgH/AvgD/AvgA" in missing and "avg open" not in missing
    assert "unknown team Nowhere Town" in reasons["Nowhere Town"]
    assert "unknown team Man Utd in E0 (did you mean Man United" in reasons["Man Utd"]
    assert "unknown league ZZ9" in table[table["league"] == "ZZ9"]["reason"].iloc[0]
    assert table["reason"].str.contains("unreadable date").sum() == 1
    assert f"{n + 5} fixtures, {n} scored" in proc.stderr
    assert "Arsenal" in proc.stdout and "offers (price, edge): home: " in proc.stdout  # the terminal table
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", proc.stdout)  # kick-off times name their zone


def test_predict_refuses_a_file_that_is_not_fixtures_in_one_line(live_lab, last_day):
    (last_day["tmp"] / "page.csv").write_text("<html><body>Not found</body></html>")
    proc = _predict(live_lab, last_day, "page.csv")
    assert proc.returncode == 2 and "HTML page" in proc.stderr and "Traceback" not in proc.stderr
    (last_day["tmp"] / "other.csv").write_text("a,b,c\n1,2,3\n")
    proc = _predict(live_lab, last_day, "other.csv")
    assert proc.returncode == 2 and "not a fixtures file" in proc.stderr


def test_extra_league_fixtures_map_countries_to_league_codes(data_root):
    files = {code: (data_root / "new" / f"{code}.csv").read_bytes() for code in ("ARG", "BRA")}
    countries = country_codes(files)
    assert countries == {"Argentina": "ARG", "Brazil": "BRA"}
    text = (data_root / "new" / "BRA.csv").read_text(encoding="utf-8-sig").splitlines()
    header = text[0].split(",")
    drop = {header.index(c) for c in ("Season", "HG", "AG", "Res")}
    rows = [",".join(v for i, v in enumerate(line.split(",")) if i not in drop) for line in [text[0], *text[-5:]]]
    rows.append("Atlantis,Liga,01/12/2020,20:00,A,B,2.0,3.0,4.0,,,,,,")
    fixtures = read_fixtures(("\n".join(rows) + "\n").encode(), "new_league_fixtures.csv", countries)
    assert fixtures["league"].tolist() == ["BRA"] * 5 + [""]
    assert fixtures["reason"].iloc[:5].isna().all() and "no league code" in fixtures["reason"].iloc[5]
    assert fixtures["odds_pinnacle_1x2_close_home"].iloc[:5].notna().all()
    assert not any("_open_" in c for c in fixtures.columns)


def test_the_sample_fixtures_file_scores_every_row(live_lab, last_day):
    """docs/fixtures.csv, the sample the docs point to, has every column the shipped models need."""
    from pathlib import Path

    sample = Path(__file__).resolve().parents[2] / "docs" / "fixtures.csv"
    proc = _predict(live_lab, last_day, str(sample), "--out", "sample.csv")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "3 fixtures, 3 scored" in proc.stderr
    table = pd.read_csv(last_day["tmp"] / "sample.csv")
    assert table["reason"].isna().all() and table["offers"].str.contains("bet365").all()
