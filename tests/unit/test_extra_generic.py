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

FIXTURES = Path(__file__).parents[1] / "fixtures"


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


ODDSPORTAL_HEADER = "date,season_type,neutral,team_1,team_2,points_1,points_2,moneyline_1,moneyline_2,game_url\n"


def test_oddsportal_layout_seasons_from_urls_and_reasons():
    from a1lab.data.oddsportal import parse_oddsportal

    url = "https://www.oddsportal.com/basketball/usa/nba-{}/a-b-X/"
    text = ODDSPORTAL_HEADER + "".join([
        f"22 Jun 2025,Play Offs,0,Thunder,Pacers,103,91,-270,+219,{url.format('2024-2025')}\n",
        f"02 Jan 2009,Regular,0,Nets,Knicks,99,101,+150,-170,{url.format('2008-2009')}\n",
        f"05 Oct 2024,Pre-season,0,Nets,Knicks,99,101,-,-,{url.format('2024-2025')}\n",
        f"16 Feb 2025,All Stars,1,East,West,150,160,+110,-130,{url.format('2024-2025')}\n",
        f"10 Jan 2025,Regular,1,Spurs,Magic,110,100,+110,-130,{url.format('2024-2025')}\n",
        "11 Jan 2025,Regular,0,Spurs,Magic,110,100,+110,-130,https://example.com/no-season/\n",
        f"12 Jan 2025,Regular,0,Spurs,Magic,110,100,+11x,-130,{url.format('2024-2025')}\n",
    ])
    result = parse_oddsportal(text.encode(), "nba.csv", "basketball", "NBA")
    counts = result.counts()
    assert counts["rows_read"] == 7 == counts["rows_kept"] + counts["rows_rejected"]
    assert counts["rejected_by_reason"] == {"not_competitive": 2, "neutral_venue": 1, "missing_season": 1}
    m = result.matches.sort_values("kickoff")
    assert list(m["season"]) == ["0809", "2425", "2425"] and set(m["result"]) == {"H", "A"}
    home = m["odds_market_ml_close_home"].round(3).tolist()
    assert home[0] == 2.5 and np.isnan(home[1]) and home[2] == 1.37  # "+11x" nulled, logged with its text
    assert "+11x" in set(result.rejected_values["value"].astype(str))


def test_oddsportal_unsigned_moneylines_are_american():
    """The NHL file writes "-198.0" and "163.0": the unsigned one is +163 (2.63), not decimal 163.0."""
    from a1lab.data.generic import parse_price
    from a1lab.data.oddsportal import parse_oddsportal

    url = "https://www.oddsportal.com/hockey/usa/nhl-2024-2025/a-b-X/"
    text = ODDSPORTAL_HEADER + f"17 Apr 2025,Regular,0,Kings,Flames,1,5,-198.0,163.0,{url}\n"
    m = parse_oddsportal(text.encode(), "nhl.csv", "hockey", "NHL").matches
    assert m["odds_market_ml_close_home"].round(4).tolist() == [1.5051]
    assert m["odds_market_ml_close_away"].round(4).tolist() == [2.63]
    prices = pd.Series(["163.0", "+163", "1.8", "-50"])
    assert parse_price(prices).round(2).tolist()[:3] == [163.0, 2.63, 1.8]  # auto: American only when signed
    assert parse_price(prices, "american").round(2).tolist()[:2] == [2.63, 2.63]
    assert np.isnan(parse_price(prices, "american").iloc[2:]).all()  # 1.8 and -50 are no American odds
    with pytest.raises(ValueError, match="odds_format must be one of"):
        parse_price(prices, "fractional")


def test_oddsportal_missing_column_is_named():
    from a1lab.data.oddsportal import parse_oddsportal
    from a1lab.data.quarantine import DataFileError

    text = ODDSPORTAL_HEADER.replace(",game_url", "") + "22 Jun 2025,Play Offs,0,A,B,1,2,-270,+219\n"
    with pytest.raises(DataFileError, match=r"nba.csv: wrong columns for the OddsPortal layout, missing \['game_url"):
        parse_oddsportal(text.encode(), "nba.csv", "basketball", "NBA")
    with pytest.raises(DataFileError, match=r"nba.csv: wrong columns, missing \['team_2'\]"):
        parse_oddsportal(ODDSPORTAL_HEADER.replace("team_2", "team2").encode(), "nba.csv", "basketball", "NBA")


def test_generic_column_mapping():
    from a1lab.data.generic import parse_generic
    from a1lab.data.quarantine import DataFileError

    text = "Day,Host,Guest,HS,GS,HO,GO\n2024-01-05,A,B,3,1,1.8,2.1\n"
    columns = {"date": "Day", "home": "Host", "away": "Guest", "home_score": "HS", "away_score": "GS",
               "home_odds": "HO", "away_odds": "GO"}
    m = parse_generic(text.encode(), "x.csv", "handball", "HB", columns=columns).matches
    assert (m["home"].iloc[0], m["result"].iloc[0], m["odds_market_ml_close_away"].iloc[0]) == ("A", "H", 2.1)
    with pytest.raises(DataFileError, match=r"the column mapping names \['hosts'\]"):
        parse_generic(text.encode(), "x.csv", "handball", "HB", columns={"hosts": "Host"})
