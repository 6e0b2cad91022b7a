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
    """The fullest of the last days of E0 2025/26 as fixtures, the feature state before that day, and the batch
    forecasts of its matches."""
    from a1lab import registry

    tmp = tmp_path_factory.mktemp("predict")
    path = data_root / "mmz4281" / "2526" / "E0.csv"
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))[1:]
    recent = [r[1] for r in rows[-40:]]
    last = max(reversed(recent), key=recent.count)
    day_rows = [r for r in rows if r[1] == last]
    matches = live_lab["matches"]
    day = pd.Timestamp(pd.to_datetime(last, dayfirst=True), tz="UTC")
    from a1lab.features import build_features

    _, state = build_features(matches[matches["kickoff"] < day], live_lab["config"])
    state.save(tmp / "state.json")
    frame = live_lab["frame"]
    expected = frame[(frame["league"] == "E0") & (frame["kickoff"].dt.normalize() == day)]
    expected = expected.sort_values(["kickoff", "home"])
    model = registry.load("xgb", root=live_lab["registry"])
    batch = pd.DataFrame(model.predict_proba(expected), columns=["p_home", "p_draw", "p_away"])
    batch[["home", "away"]] = expected[["home", "away"]].to_numpy()
    extra = [["E0", last, "15:00", "Arsenal", "Chelsea"],  # no prices
             ["E0", last, "15:00", "Nowhere Town", "Arsenal"],
             ["ZZ9", last, "15:00", "Arsenal", "Chelsea"],
             ["E0", "31/02/2025", "15:00", "Arsenal", "Chelsea"],
             ["E0", last, "15:00", "Man Utd", "Chelsea"],  # the league spells it Man United
             ["E0", last, "15:00", "Barcelona", "Chelsea"],  # a club of SP1, which features.divisions does not link
             ["E0", "01/01/1900", "15:00", "Arsenal", "Chelsea"]]  # before the state's last result
    header = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))[0]
    first_price = header.index("AwayTeam") + 1  # Referee and the results go, the rest are prices
    fake = [v if i < first_price else "1.0" for i, v in enumerate(day_rows[0][:len(header)])]
    fake[header.index("Date")] = "01/06/2026"  # a later day, not a repeat: but its prices are no prices
    (tmp / "fixtures.csv").write_text(_without_results(path, [*day_rows, day_rows[0], fake], extra))
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
    assert len(table) == n + 9
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
    books = [c.removeprefix("odds_").removesuffix("_home") for c in table.columns
             if c.startswith("odds_") and c.endswith("_home")]
    assert {"pinnacle", "bet365", "max", "avg"} <= set(books)  # every bookmaker's prices, a column each
    for row in scored.to_dict("records"):  # the best price is a bookmaker's (not the max summary), and bets there
        offered = {b: row[f"odds_{b}_home"] for b in books if b not in ("max", "avg") and row[f"odds_{b}_home"] > 1}
        assert row["best_odds_home"] == max(offered.values()) == offered[row["best_book_home"]]
        assert row["best_edge_home"] == pytest.approx(row["p_home"] * row["best_odds_home"] - 1)
        if isinstance(row["bet"], str):
            assert row["book"] == row[f"best_book_{row['bet']}"] and row["odds"] == row[f"best_odds_{row['bet']}"]
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
    assert "plays in SP1; list both leagues in features.divisions" in reasons["Barcelona"]
    before = table[table["kickoff"].str.startswith("1900", na=False)]["reason"].iloc[0]
    assert re.match(r"kick-off 1900-01-01 is not after the feature state's last result \(\d{4}-\d\d-\d\d\)", before)
    first = table.iloc[0]
    assert table["reason"].eq(f"duplicate of line {first['line']}").sum() == 1  # the first fixture, twice
    fake = table[table["kickoff"].str.startswith("2026-06-01", na=False)]["reason"].iloc[0]
    assert fake.startswith("odds of 1 or below (not a price): ") and "PSH=1, PSD=1, PSA=1" in fake
    assert "; missing prices the model needs: " in fake
    assert f"{n + 9} fixtures, {n} scored" in proc.stderr
    assert "Arsenal" in proc.stdout and "offers (price, edge): home: " in proc.stdout  # the terminal table
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", proc.stdout)  # kick-off times name their zone


def test_predict_refuses_a_file_that_is_not_fixtures_in_one_line(live_lab, last_day):
    (last_day["tmp"] / "page.csv").write_text("<html><body>Not found</body></html>")
    proc = _predict(live_lab, last_day, "page.csv")
    assert proc.returncode == 2 and "HTML page" in proc.stderr and "Traceback" not in proc.stderr
    (last_day["tmp"] / "other.csv").write_text("a,b,c\n1,2,3\n")
    proc = _predict(live_lab, last_day, "other.csv")
    assert proc.returncode == 2 and "not a fixtures file" in proc.stderr


def test_a_bet_is_priced_at_the_book_that_gives_the_edge():
    from a1lab.fixtures import best_prices, value_bet
    from a1lab.testing import loop_config

    p = {"home": 0.5, "draw": 0.3, "away": 0.2}
    prices = {"pinnacle": {"home": 1.95, "draw": 3.2, "away": 4.6}, "bet365": {"home": 2.2, "draw": 3.2, "away": 4.4},
              "max": {"home": 2.4, "draw": 3.5, "away": 4.8}}  # the best of all books, which no one book offers
    best = best_prices(p, prices)
    assert (best["best_book_home"], best["best_odds_home"]) == ("bet365", 2.2)
    assert best["best_edge_home"] == pytest.approx(0.1)
    config = loop_config()
    bet = value_bet(p, prices, config)
    assert (bet["bet"], bet["book"], bet["odds"]) == ("home", "bet365", 2.2) and bet["edge"] == pytest.approx(0.1)
    assert bet["stake_share"] == pytest.approx(config.staking.fractions(np.array([0.5]), np.array([2.2]))[0])
    assert value_bet(p, {"pinnacle": prices["pinnacle"]}, config) == {}  # at Pinnacle's prices: no edge


def test_a_header_only_file_has_no_fixtures(live_lab, last_day):
    (last_day["tmp"] / "empty.csv").write_text("Div,Date,Time,HomeTeam,AwayTeam,PSH,PSD,PSA\n")
    proc = _predict(live_lab, last_day, "empty.csv")
    assert proc.returncode == 0 and "empty.csv has no fixtures (its header only)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_promoted_club_is_scored_from_its_other_division():
    """A club the league has not seen, but another division of its country has (``features.divisions``), is
    scored from the ratings it brings; in a league of another country it is refused, pointing at divisions."""
    from types import SimpleNamespace as NS

    from a1lab.fixtures import _unknown_team

    state = NS(leagues={"E0": NS(index={"Arsenal": 0}), "E1": NS(index={"Leeds": 0}), "SP1": NS(index={"Getafe": 0})},
               country={"E0": ("England", 0), "E1": ("England", 1)}, config=NS(divisions={"England": ["E0", "E1"]}))
    assert _unknown_team(state, "E0", "Arsenal") is None and _unknown_team(state, "E0", "Leeds") is None
    assert "plays in SP1; list both leagues in features.divisions" in _unknown_team(state, "E0", "Getafe")
    assert "(new? a club from a division the data set does not read" in _unknown_team(state, "E0", "Atlantis")


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
    assert table["reason"].isna().all() and table["odds_bet365_home"].notna().all()
