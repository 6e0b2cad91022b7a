"""The real football-data files and every quirk the README lists, plus bad input."""

import json

import numpy as np
import pandas as pd
import pytest

from a1lab.data.footballdata import map_odds_columns, normalise_season, parse_main
from a1lab.data.quarantine import DataFileError, DataUnavailableError
from a1lab.data.schema import SchemaError, validate_matches
from a1lab.data.source import FileSource

HEADER = "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,PSH,PSD,PSA,PSCH,PSCD,PSCA,B365>2.5,B365<2.5\r\n"


def parse(body: str, header: str = HEADER):
    return parse_main((header + body).encode(), "test.csv", "E0", "2324")


def read(data_root, season, div):
    rel = f"mmz4281/{season}/{div}.csv"
    return parse_main(FileSource(str(data_root)).read(rel), rel, div, season)


@pytest.mark.realdata
def test_all_real_matches_kept_and_counts_add_up(real_load):
    c = real_load.counts()
    assert c["files"] == 55
    assert c["rows_kept"] == 18752
    assert c["rows_read"] == c["rows_kept"] + c["rows_rejected"]
    assert c["rejected_by_reason"] == {"empty_row": 2}
    # nulled single prices are logged, one line each
    assert c["values_nulled"] == len(real_load.rejected_values) > 0
    validate_matches(real_load.matches)
    assert real_load.matches["match_id"].is_unique
    assert real_load.matches["kickoff"].is_monotonic_increasing


@pytest.mark.realdata
def test_two_digit_and_four_digit_years(data_root):
    short = read(data_root, "1516", "F1").matches  # dd/mm/yy
    long = read(data_root, "1516", "E0").matches  # dd/mm/yyyy
    assert short["kickoff"].min().year == 2015 and short["kickoff"].max().year == 2016
    assert long["kickoff"].min() == pd.Timestamp("2015-08-08 14:00", tz="UTC")  # 15:00 BST default


@pytest.mark.realdata
def test_bom_crlf_and_kickoff_time_in_utc(data_root):
    m = read(data_root, "2425", "E0").matches  # BOM, CRLF, Time column
    first = m.iloc[0]
    assert first["league"] == "E0"  # the BOM did not mangle the first column
    assert (first["home"], first["away"]) == ("Man United", "Fulham")
    assert first["kickoff"] == pd.Timestamp("2024-08-16 19:00", tz="UTC")  # 20:00 BST
    winter = m[m["kickoff"].dt.month == 12].iloc[0]
    assert winter["kickoff"].minute in (0, 15, 30, 45)
    assert not any(c.endswith("\r") for c in m.columns)


@pytest.mark.realdata
def test_trailing_empty_row_is_quarantined_not_dropped(data_root):
    r = read(data_root, "1516", "I1")
    assert r.rows_read == 381 and len(r.matches) == 380
    assert r.rejected["reason"].tolist() == ["empty_row"]


@pytest.mark.realdata
def test_odds_columns_mapped_with_gt_lt_and_closing(data_root):
    m = read(data_root, "2425", "E0").matches
    row = m.iloc[0]
    assert row["odds_pinnacle_1x2_open_home"] == 1.63
    assert row["odds_pinnacle_1x2_close_home"] == 1.65
    assert row["odds_bet365_ou25_open_over"] == 1.53
    assert row["odds_pinnacle_ou25_close_under"] == 2.38
    assert row["odds_betfair_exchange_1x2_open_home"] == 1.66
    assert row["odds_1xbet_1x2_open_home"] == 1.68
    assert row["ah_line_open"] == -1.0 and row["ah_line_close"] == -0.75
    assert row["home_shots"] == 14 and row["referee"] == "R Jones"


@pytest.mark.realdata
def test_missing_pinnacle_odds_stay_missing(data_root, real_load):
    m = real_load.matches
    share = m["odds_pinnacle_1x2_close_home"].isna().groupby(m["source"]).mean()
    assert share.max() <= 0.008
    assert m["odds_pinnacle_1x2_close_home"].isna().sum() > 0


@pytest.mark.realdata
def test_real_odds_le_one_voids_the_quote_and_is_logged(real_load):
    log = real_load.rejected_values
    row = log[log["reason"] == "odds_le_1"].iloc[0]
    match = real_load.matches.set_index("match_id").loc[row["match_id"]]
    prefix = row["column"].rsplit("_", 1)[0]
    assert match.filter(like=prefix).isna().all()


def test_bookmaker_column_mapping():
    cols = ["B365H", "BFDH", "BFD", "BFEH", "BFCD", "PSCH", "P>2.5", "PC<2.5", "BbMxH", "BbAv<2.5", "PCAHH",
            "MaxCA", "1XBCH", "HS", "AHh", "Bb1X2"]
    m = map_odds_columns(cols)
    assert m["BFDH"] == "odds_betfred_1x2_open_home"
    assert m["BFD"] == "odds_betfair_1x2_open_draw"
    assert m["BFEH"] == "odds_betfair_exchange_1x2_open_home"
    assert m["BFCD"] == "odds_betfair_1x2_close_draw"
    assert m["PSCH"] == "odds_pinnacle_1x2_close_home"
    assert m["P>2.5"] == "odds_pinnacle_ou25_open_over"
    assert m["PC<2.5"] == "odds_pinnacle_ou25_close_under"
    assert m["BbMxH"] == "odds_max_1x2_open_home"
    assert m["BbAv<2.5"] == "odds_avg_ou25_open_under"
    assert m["PCAHH"] == "odds_pinnacle_ah_close_home"
    assert m["MaxCA"] == "odds_max_1x2_close_away"
    assert m["1XBCH"] == "odds_1xbet_1x2_close_home"
    assert "HS" not in m and "AHh" not in m and "Bb1X2" not in m


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("E0,32/13/2023,Arsenal,Chelsea,1,0,H,2,3,4,2,3,4,,\r\n", "bad_date"),
        ("E0,12/08/2023,,Chelsea,1,0,H,2,3,4,2,3,4,,\r\n", "missing_team"),
        ("E0,12/08/2023,Arsenal,Arsenal,1,0,H,2,3,4,2,3,4,,\r\n", "same_team"),
        ("E0,12/08/2023,Arsenal,Chelsea,-1,0,H,2,3,4,2,3,4,,\r\n", "impossible_score"),
        ("E0,12/08/2023,Arsenal,Chelsea,1.5,0,H,2,3,4,2,3,4,,\r\n", "impossible_score"),
        ("E0,12/08/2023,Arsenal,Chelsea,1,0,A,2,3,4,2,3,4,,\r\n", "impossible_score"),
        ("E0,12/08/2023,Arsenal,Chelsea,,,,2,3,4,2,3,4,,\r\n", "missing_score"),
        (",,,,,,,,,,,,,,\r\n", "empty_row"),
    ],
)
def test_bad_rows_are_quarantined_with_reason(line, reason):
    good = "E0,11/08/2023,Burnley,Man City,0,3,A,8,5,1.3,9,5,1.3,1.5,2.6\r\n"
    r = parse(good + line)
    assert len(r.matches) == 1 and r.rows_read == 2
    assert r.rejected["reason"].tolist() == [reason]
    assert r.rejected["line"].tolist() == [3]
    raw = json.loads(r.rejected["raw"].iloc[0])  # the row's own values, as written
    assert set(raw.values()) <= set(line.strip().split(",")) and (raw or reason == "empty_row")


def test_bad_price_voids_its_quote_only():
    r = parse("E0,11/08/2023,Burnley,Man City,0,3,A,8,1.0,1.3,9,5,1.3,abc,2.6\r\n")
    m = r.matches.iloc[0]
    assert np.isnan(m["odds_pinnacle_1x2_open_home"])  # whole open quote voided
    assert m["odds_pinnacle_1x2_close_home"] == 9.0  # closing quote kept
    assert np.isnan(m["odds_bet365_ou25_open_under"])
    assert sorted(r.rejected_values["reason"]) == ["odds_le_1", "odds_not_numeric"]
    assert r.counts()["rows_kept"] == 1


def test_duplicate_match_keeps_first_copy():
    a = "E0,11/08/2023,Burnley,Man City,0,3,A,8,5,1.3,9,5,1.3,,\r\n"
    b = "E0,11/08/2023,Burnley,Man City,1,3,A,8,5,1.3,9,5,1.3,,\r\n"
    r = parse(a + b)
    assert r.matches["home_goals"].tolist() == [0]
    assert r.rejected["reason"].tolist() == ["duplicate"]
    assert r.counts()["rows_read"] == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<!DOCTYPE html><html><body>404 Not Found</body></html>", "HTML"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary"),
        (b"\xff\xfeD\x00i\x00v\x00,\x00D\x00a\x00t\x00e\x00" * 20, "binary"),  # UTF-16
        (b"name,score\r\nfoo,1\r\n", "wrong columns"),
        (b"", "empty"),
    ],
)
def test_files_that_are_not_match_files(data, message):
    with pytest.raises(DataFileError, match=message) as info:
        parse_main(data, "mmz4281/2324/E0.csv", "E0", "2324")
    assert "mmz4281/2324/E0.csv" in str(info.value)


def test_missing_local_file_and_unreachable_url(tmp_path):
    with pytest.raises(DataUnavailableError, match="A1LAB_DATA_ROOT"):
        FileSource(str(tmp_path)).read("mmz4281/2324/E0.csv")
    with pytest.raises(DataUnavailableError, match="could not download"):
        FileSource("http://127.0.0.1:9", timeout=2).read("mmz4281/2324/E0.csv")


def test_url_source_reads_over_http(tmp_path):
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    folder = tmp_path / "mmz4281" / "2324"
    folder.mkdir(parents=True)
    (folder / "E0.csv").write_bytes((HEADER + "E0,11/08/2023,Burnley,Man City,0,3,A,8,5,1.3,9,5,1.3,,\r\n").encode())
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        source = FileSource(f"http://127.0.0.1:{server.server_port}")
        r = parse_main(source.read("mmz4281/2324/E0.csv"), "E0.csv", "E0", "2324")
        assert r.matches["away"].tolist() == ["Man City"]
    finally:
        server.shutdown()


def test_season_labels():
    assert normalise_season("2012/2013") == "1213"
    assert normalise_season("2012") == "2012"


def test_schema_rejects_broken_tables(synthetic):
    m = synthetic.matches.copy()
    m.loc[0, "result"] = "X"
    with pytest.raises(SchemaError, match="result"):
        validate_matches(m)
    with pytest.raises(SchemaError, match=r"column_in_dataframe \(home\)"):
        validate_matches(synthetic.matches.drop(columns=["home"]))
    m = synthetic.matches.copy()
    m.loc[0, "odds_pinnacle_1x2_open_home"] = 0.9
    m.loc[[1, 2], "match_id"] = m.loc[3, "match_id"]
    with pytest.raises(SchemaError, match=r"match_id: field_uniqueness \(2 rows\); odds_pinnacle_1x2_open_home: "
                                          r"greater_than\(1.0\) \(1 rows\)"):
        validate_matches(m)


def test_rows_that_break_the_schema_go_to_the_quarantine(monkeypatch, data_root):
    """The schema (pandera) is the last check of every loaded file: a row that breaks it is quarantined with the
    rule it breaks, and the counts still add up. Here the schema gains a rule the loader's own checks lack."""
    import pandera.pandas as pa

    from a1lab.data import schema

    strict = schema.match_schema()
    strict = strict.update_column("home_goals", checks=[pa.Check.ge(0), pa.Check.le(5)])
    monkeypatch.setattr(schema, "match_schema", lambda: strict)
    r = read(data_root, "2324", "E0")
    over = r.rejected[r.rejected["reason"].str.startswith("schema:")]
    assert len(over) > 0 and set(over["reason"]) == {"schema: home_goals less_than_or_equal_to(5)"}
    assert r.rows_read == len(r.matches) + len(r.rejected) and (r.matches["home_goals"] <= 5).all()
    assert json.loads(over["raw"].iloc[0])["home_goals"] in {str(g) for g in range(6, 11)}


def test_columns_the_layout_knows_that_are_missing_or_doubled_are_noted_per_file():
    """Before: a file without PSCH left the Pinnacle close partial, without Time every kick-off became 15:00,
    and a second FTHG header won, all silently. Each is now a note of its file in the counts."""
    header = "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTHG,FTR,PSH,PSD,PSA,PSCD,PSCA,PAHH,PAHA\r\n"
    result = parse("E0,12/08/2023,Arsenal,Chelsea,2,1,5,H,2.0,3.5,4.0,3.4,3.9,1.9,2.0\r\n", header)
    notes = result.counts()["notes"]["test.csv"]
    assert "column FTHG appears 2 times: the first is read" in notes
    assert "PSCH missing: the pinnacle close 1x2 quote is left out" in notes
    assert "no Time column: every kick-off is taken at 15:00 UK time" in notes
    assert "AHh missing: the open handicap prices have no line" in notes
    assert result.matches["home_goals"].tolist() == [2]
    assert parse("E0,12/08/2023,Arsenal,Chelsea,2,1,H,2.0,3.5,4.0,2.1,3.4,3.9,1.9,2.0\r\n").counts()["notes"] == {
        "test.csv": ["no Time column: every kick-off is taken at 15:00 UK time"]}


def test_the_same_match_in_two_league_files_and_one_team_under_two_spellings_are_found():
    """A file whose Div disagrees with its name repeats another league's matches: the second copy is
    quarantined. Names equal after Unicode normalisation and spacing are one team; names that differ only by
    case are noted."""
    from a1lab.data.quarantine import concat_results

    row = "E0,12/08/2023,{home},Chelsea,2,1,H,2.0,3.5,4.0,2.1,3.4,3.9,1.9,2.0\r\n"
    e0 = parse_main((HEADER + row.format(home="Atl\u00e9tico") + row.format(home="Arsenal").replace("12/08", "19/08")
                     + row.format(home="arsenal").replace("12/08", "26/08")).encode(), "mmz4281/2324/E0.csv",
                    "E0", "2324")
    e1 = parse_main((HEADER + row.format(home="Atle\u0301tico  ")).encode(), "mmz4281/2324/E1.csv", "E1", "2324")
    both = concat_results([e0, e1])
    assert both.matches["home"].tolist() == ["Atl\u00e9tico", "Arsenal", "arsenal"]  # NFD and spaces: one name
    assert both.rejected["reason"].tolist() == ["same_match_in_another_league"]
    assert both.rejected["source"].tolist() == ["mmz4281/2324/E1.csv"]
    notes = both.counts()["notes"]
    assert notes["mmz4281/2324/E1.csv"] == ["Div is E0 in 1 rows of a file of E1: read as E1",
                                            "no Time column: every kick-off is taken at 15:00 UK time"]
    assert notes["league E0"] == ["team names that differ only by case: 'Arsenal' (1 rows), 'arsenal' (1 rows)"]
    assert both.counts()["rows_read"] == len(both.matches) + len(both.rejected)


def test_ingest_refuses_what_the_live_loop_refuses_one_set_of_bounds():
    """Before: ingest kept odds above 10,000, statistics above 1,000 and 100,000-character names that the
    live schema refuses. Both now read a1lab.bounds."""
    from a1lab.bounds import MAX_NAME, MAX_ODDS, MAX_STAT
    from a1lab.live.events import Rejection, parse_event

    header = "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HS,PSH,PSD,PSA\r\n"
    rows = (f"E0,12/08/2023,Arsenal,Chelsea,2,1,H,{MAX_STAT * 5:g},{MAX_ODDS * 2:g},3.5,4.0\r\n"
            f"E0,13/08/2023,{'x' * (MAX_NAME + 1)},Chelsea,2,1,H,10,2.0,3.5,4.0\r\n")
    result = parse(rows, header)
    assert sorted(result.rejected_values["reason"]) == ["odds_too_high", "stat_invalid"]
    assert result.rejected["reason"].tolist() == ["team_name_too_long"]
    fixture = {"type": "fixture", "id": "f", "ts": "2025-08-08T19:00:00Z", "match_id": "m", "league": "E0",
               "season": "2526", "home": "x" * (MAX_NAME + 1), "away": "B", "kickoff": "2025-08-15T19:00:00Z"}
    odds = {"type": "odds", "id": "o", "ts": "2025-08-13T19:00:00Z", "match_id": "m", "bookmaker": "pinnacle",
            "timing": "open", "prices": {"home": MAX_ODDS * 2, "draw": 4.2, "away": 6.5}}
    result_event = {"type": "result", "id": "r", "ts": "2025-08-15T21:00:00Z", "match_id": "m", "home_goals": 1,
                    "away_goals": 0, "stats": {"home_shots": MAX_STAT * 5}}
    for event in (fixture, odds, result_event):
        assert isinstance(parse_event(json.dumps(event)), Rejection)
    assert not isinstance(parse_event(json.dumps({**fixture, "home": "x" * MAX_NAME})), Rejection)


def test_a_byte_of_another_encoding_or_a_nul_quarantines_its_line_not_the_file():
    """Before: one Windows-1252 byte anywhere, or one NUL byte in the first 4 KiB, refused the whole file."""
    body = ("E0,12/08/2023,Arsenal,Chelsea,2,1,H,2.0,3.5,4.0,2.1,3.4,3.9,1.9,2.0\r\n"
            "E0,13/08/2023,Atl\xe9tico,Chelsea,2,1,H,2.0,3.5,4.0,2.1,3.4,3.9,1.9,2.0\r\n"
            "E0,14/08/2023,Ars\x00enal,Spurs,2,1,H,2.0,3.5,4.0,2.1,3.4,3.9,1.9,2.0\r\n"
            "E0,15/08/2023,Spurs,Chelsea,0,0,D,2.0,3.5,4.0,2.1,3.4,3.9,1.9,2.0\r\n")
    data = HEADER.encode() + body.encode("latin-1")  # one e-acute as the single byte 0xE9
    result = parse_main(data, "test.csv", "E0", "2324")
    assert result.matches["home"].tolist() == ["Arsenal", "Spurs"]
    assert result.rejected[["line", "reason"]].values.tolist() == [[3, "not_utf8"], [4, "control_characters"]]
    assert "Atl\ufffdtico" in result.rejected["raw"].iloc[0]  # what the line held, shown readably
    notes = result.counts()["notes"]["test.csv"]
    assert any(n.startswith("lines that are not UTF-8 are quarantined (not_utf8): the file should be UTF-8")
               for n in notes)
    assert result.counts()["rows_read"] == 4


def test_a_file_read_in_chunks_gives_what_one_read_gives(monkeypatch):
    """Big files are parsed a chunk of lines at a time (bounded memory): line numbers, quarantine reasons and
    a duplicate across two chunks come out as in one read."""
    from a1lab.data import csvrows

    rows = [f"E0,{d:02d}/08/2023,Team{d},Chelsea,2,1,H,2.0,3.5,4.0,2.1,3.4,3.9,1.9,2.0\r\n" for d in range(1, 8)]
    rows[4] = "E0,05/08/2023,Team5\r\n"  # line 6: too few fields
    rows.append(rows[0])  # line 9: the match of line 2 again, in another chunk
    whole = parse("".join(rows))
    monkeypatch.setattr(csvrows, "CHUNK_ROWS", 3)
    chunked = parse("".join(rows))
    assert chunked.matches.equals(whole.matches) and len(chunked.matches) == 6
    assert chunked.rejected[["line", "reason"]].values.tolist()[0] == [6, "field_count"]
    assert sorted(chunked.rejected["reason"]) == sorted(whole.rejected["reason"]) == ["duplicate", "field_count"]
    assert chunked.counts()["rows_read"] == 8 == chunked.counts()["rows_kept"] + chunked.counts()["rows_rejected"]
    assert chunked.files == 1
