"""Extra-league layout (new/<CODE>.csv, both namings) and the generic two-way CSV."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from a1lab.data.footballdata import load_extra_leagues, parse_extra
from a1lab.data.generic import parse_generic
from a1lab.data.quarantine import DataFileError
from a1lab.data.schema import validate_matches
from a1lab.data.source import FileSource

FIXTURES = Path(__file__).parent / "fixtures"


def test_extra_layout_old_naming_all_closing():
    r = parse_extra((FIXTURES / "USA.csv").read_bytes(), "new/USA.csv", "USA")
    m = r.matches
    assert r.counts()["rows_read"] == 5
    assert len(m) == 3 and sorted(r.rejected["reason"]) == ["bad_date", "missing_team"]
    assert set(m["season"]) == {"2012", "2013"}
    sea = m[m["home"] == "Seattle Sounders"].iloc[0]
    assert sea["odds_pinnacle_1x2_close_home"] == 1.91
    assert sea["odds_max_1x2_close_away"] == 4.75
    assert sea["odds_avg_1x2_close_draw"] == 3.45
    assert not [c for c in m.columns if "_open_" in c]
    assert sea["kickoff"] == pd.Timestamp("2012-03-10 22:30", tz="UTC")  # UK winter time = UTC
    validate_matches(m)


def test_extra_layout_new_naming_and_more_bookmakers():
    r = parse_extra((FIXTURES / "BRA.csv").read_bytes(), "new/BRA.csv", "BRA")
    m = r.matches
    assert set(m["season"]) == {"1213"}
    assert m.iloc[0]["odds_pinnacle_1x2_close_home"] == 1.75
    assert m.iloc[0]["odds_bet365_1x2_close_away"] == 5.0
    assert m.iloc[0]["odds_max_1x2_close_home"] == 1.76
    assert sorted(r.rejected["reason"]) == ["duplicate", "impossible_score"]
    assert r.counts()["rows_read"] == len(m) + len(r.rejected)


def test_extra_layout_read_through_a_source(tmp_path):
    (tmp_path / "new").mkdir()
    for code in ("USA", "BRA"):
        (tmp_path / "new" / f"{code}.csv").write_bytes((FIXTURES / f"{code}.csv").read_bytes())
    r = load_extra_leagues(FileSource(str(tmp_path)), ["USA", "BRA"])
    assert set(r.matches["league"]) == {"USA", "BRA"} and r.files == 2
    assert r.rows_read == len(r.matches) + len(r.rejected) == 9


def test_extra_layout_wrong_header():
    with pytest.raises(DataFileError, match="wrong columns"):
        parse_extra(b"Div,Date,HomeTeam\r\nE0,01/01/2020,A\r\n", "new/X.csv", "X")


def test_generic_two_way_american_and_decimal():
    r = parse_generic((FIXTURES / "nba.csv").read_bytes(), "nba.csv", "basketball", "NBA")
    m = r.matches.set_index("home")
    assert r.rows_read == 7 == len(m) + len(r.rejected)
    assert sorted(r.rejected["reason"]) == ["bad_date", "missing_team"]
    assert m.loc["Lakers", "odds_market_ml_close_home"] == pytest.approx(3.19)
    assert m.loc["Lakers", "odds_market_ml_close_away"] == pytest.approx(1 + 100 / 270)
    assert m.loc["Bulls", "odds_market_ml_close_home"] == 1.95
    assert np.isnan(m.loc["Heat", "odds_market_ml_close_home"])  # "-" is missing, not an error
    assert np.isnan(m.loc["Magic", "odds_market_ml_close_home"])  # "abc" voids the quote ...
    assert r.rejected_values["reason"].tolist() == ["odds_not_numeric"]  # ... and is logged
    assert m.loc["Lakers", "result"] == "H" and m.loc["Bulls", "result"] == "A" and m.loc["Suns", "result"] == "D"
    assert set(m["sport"]) == {"basketball"} and set(m["season"]) == {"2024"}
    assert not [c for c in m.columns if c.endswith("_draw")]


def test_generic_three_way_with_draw_odds():
    data = b"date,home,away,home_score,away_score,home_odds,away_odds,draw_odds\n2024-02-01,A,B,1,1,2.5,3.0,3.2\n"
    m = parse_generic(data, "x.csv", "hockey", "NHL", season="2324").matches
    assert m.iloc[0]["odds_market_1x2_close_draw"] == 3.2 and m.iloc[0]["season"] == "2324"


def test_generic_wrong_columns():
    with pytest.raises(DataFileError, match="missing"):
        parse_generic(b"date,home\n2024-01-01,A\n", "x.csv", "tennis", "ATP")
