"""Loaders for football-data.co.uk files: the main-league and extra-league layouts.

Main layout (``mmz4281/<season>/<div>.csv``): one league season per file, 1X2
opening odds per bookmaker (``B365H``), closing odds (``PSCH``, ``B365CH``),
over/under 2.5 (``B365>2.5``, ``PC<2.5``) and Asian handicap (``PAHH``, ``AHh``).
Extra layout (``new/<CODE>.csv``): all seasons of one league, closing odds only
(``PH`` or ``PSCH`` for Pinnacle, ``MaxH``/``MaxCH``, ``AvgH``/``AvgCH``).

Kick-off times are UK local time; files without a ``Time`` column get
``DEFAULT_KICKOFF_TIME`` (15:00 UK), documented in the README.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from a1lab.data.csvrows import RawRows, read_chunks
from a1lab.data.quarantine import DataFileError, LoadResult, canonicalise, concat_results
from a1lab.data.schema import odds_column
from a1lab.data.source import FileSource

TIMEZONE = "Europe/London"
DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%y")
BOOKMAKERS = {
    "B365": "bet365", "BW": "bwin", "IW": "interwetten", "LB": "ladbrokes",
    "PS": "pinnacle", "P": "pinnacle", "WH": "williamhill", "VC": "vcbet",
    "BFE": "betfair_exchange", "BFD": "betfred", "BF": "betfair", "1XB": "1xbet",
    "BMGM": "betmgm", "BV": "betvictor", "CL": "coral", "GB": "gamebookers",
    "SB": "sportingbet", "SJ": "stanjames", "SY": "stanleybet", "BS": "bluesquare",
    "Max": "max", "Avg": "avg", "BbMx": "max", "BbAv": "avg",
}
_BOOK = "|".join(sorted(BOOKMAKERS, key=len, reverse=True))
_1X2 = re.compile(rf"^(?P<book>{_BOOK})(?P<close>C?)(?P<out>[HDA])$")
_OU = re.compile(rf"^(?P<book>{_BOOK})(?P<close>C?)(?P<out>[<>])2\.5$")
_AH = re.compile(rf"^(?P<book>{_BOOK})(?P<close>C?)AH(?P<out>[HA])$")
_AH_LINE = re.compile(r"^(?:Bb)?AH(?P<close>C?)h$")
_SITE_OUTCOMES = {"1x2": "HDA", "ou25": "><", "ah": "HA"}  # each market's outcome letters in the site's names
_OUTCOMES = {"H": "home", "D": "draw", "A": "away", ">": "over", "<": "under"}
_STATS = {
    "HTHG": "ht_home_goals", "HTAG": "ht_away_goals", "HS": "home_shots", "AS": "away_shots",
    "HST": "home_shots_on_target", "AST": "away_shots_on_target", "HF": "home_fouls",
    "AF": "away_fouls", "HC": "home_corners", "AC": "away_corners", "HY": "home_yellow",
    "AY": "away_yellow", "HR": "home_red", "AR": "away_red",
}
_SEASON_PAIR = re.compile(r"(\d{4})\s*[/-]\s*(\d{2}|\d{4})")  # 2012/2013, 2012-13
MAIN_REQUIRED = ("Date", "HomeTeam", "AwayTeam", "FTHG", "FTAG")
EXTRA_REQUIRED = ("Season", "Date", "Home", "Away", "HG", "AG")


def decode_csv(data: bytes, name: str) -> str:
    """Bytes of a CSV file to text, refusing what cannot be a match file.

    Raises:
        DataFileError: binary content (NUL bytes throughout its start, an image) or an HTML page.
    """
    head_bytes = data[:4096]
    if head_bytes.count(b"\x00") > max(8, len(head_bytes) // 100) or head_bytes.startswith(b"\x89PNG"):
        raise DataFileError(f"{name}: binary content, not a CSV match file")
    # bytes that are not UTF-8 (a Windows-1252 e-acute, say) become lone surrogates, so the line that holds
    # them is quarantined as not_utf8 by the row reader and the rest of the file is read (one NUL byte
    # likewise quarantines its line as control_characters)
    text = data.decode("utf-8-sig", errors="surrogateescape")
    head = text.lstrip()[:512].lower()
    if head.startswith("<") or "<html" in head or "<!doctype" in head:
        raise DataFileError(f"{name}: an HTML page, not a CSV match file (wrong URL or an error page?)")
    if not text.strip():
        raise DataFileError(f"{name}: empty file")
    return text


def map_odds_columns(columns: list[str], force_timing: str | None = None) -> dict[str, str]:
    """Map site column names to canonical odds names (``PSCH`` -> ``odds_pinnacle_1x2_close_home``).

    Args:
        columns: the file's column names.
        force_timing: ``"close"`` for the extra layout, whose prices are all closing.
    """
    mapping: dict[str, str] = {}
    for col in columns:
        for pattern, market in ((_1X2, "1x2"), (_OU, "ou25"), (_AH, "ah")):
            m = pattern.match(col)
            if m:
                timing = force_timing or ("close" if m["close"] else "open")
                name = odds_column(BOOKMAKERS[m["book"]], market, timing, _OUTCOMES[m["out"]])
                if name not in mapping.values():
                    mapping[col] = name
                break
    return mapping


_BLANK = re.compile(r"^Unnamed: \d+$")  # a header's empty name (the site's files end some rows with commas)
KNOWN_COLUMNS = {"line", "", "Div", "Date", "Time", "HomeTeam", "AwayTeam", "FTHG", "FTAG", "FTR", "Referee",
                 "Country", "League", "Season", "Home", "Away", "HG", "AG", "Res",  # read by the loaders
                 "HTR", "Bb1X2", "BbOU", "BbAH"}  # the half-time result (its goals are read), Betbrain's book counts


def column_notes(columns: list[str], force_timing: str | None = None) -> list[str]:
    """What a file's header lacks that the layout knows: no ``Time`` (every kick-off is taken at 15:00 UK
    time), a quote with some of its prices' columns (the quote is left out), handicap prices without their
    line; and the columns the layout does not know (a renamed price column is not read, and says so)."""
    notes = [] if "Time" in columns else ["no Time column: every kick-off is taken at 15:00 UK time"]
    mapped = set(map_odds_columns(columns, force_timing))
    unread = [c for c in columns if c not in mapped and c not in KNOWN_COLUMNS and c not in _STATS
              and not _AH_LINE.match(c) and not _BLANK.match(c)]
    if unread:
        notes.append(f"{len(unread)} columns not read (the layout does not know them): "
                     f"{', '.join(unread[:8])}{', ...' if len(unread) > 8 else ''}")
    found: dict[tuple[str, str, str], set[str]] = {}
    for col in columns:
        for pattern, market in ((_1X2, "1x2"), (_OU, "ou25"), (_AH, "ah")):
            if m := pattern.match(col):
                found.setdefault((m["book"], m["close"], market), set()).add(m["out"])
                break
    for (code, close, market), outs in sorted(found.items()):
        timing = force_timing or ("close" if close else "open")
        missing = [o for o in _SITE_OUTCOMES[market] if o not in outs]
        if missing:
            names = ", ".join(_site_name(code, close, market, o) for o in missing)
            notes.append(f"{names} missing: the {BOOKMAKERS[code]} {timing} {market} quote is left out")
    for close in sorted({close for (_, close, market) in found if market == "ah"}):
        if f"AH{close}h" not in columns and f"BbAH{close}h" not in columns:
            notes.append(f"AH{close}h missing: the {'close' if close else 'open'} handicap prices have no line")
    return notes


def site_columns(book: str, timing: str, market: str, extra: bool = False) -> list[str]:
    """The football-data.co.uk columns that hold one quote, as the site names them: ``avg`` ``open`` ``ou25`` ->
    ``Avg>2.5``, ``Avg<2.5``; ``pinnacle`` ``close`` ``1x2`` -> ``PSCH``, ``PSCD``, ``PSCA``; a handicap's line
    (``AHh``) comes first. ``extra``: the extra-league files, whose prices are all closing and carry no ``C``.
    A bookmaker the site does not name keeps its own name as the prefix."""
    codes = [code for code, name in BOOKMAKERS.items() if name == book] or [book]
    code = codes[0] if market == "1x2" and not extra else min(codes, key=len)  # PSH but P>2.5 and PAHH
    c = "C" if timing == "close" and not extra else ""
    return ([f"AH{c}h"] if market == "ah" else []) + [_site_name(code, c, market, o) for o in _SITE_OUTCOMES[market]]


def _site_name(code: str, close: str, market: str, outcome: str) -> str:
    """One price column as the site names it (``PSCH``, ``P>2.5``, ``AvgCAHA``): the patterns of _1X2, _OU, _AH."""
    return {"1x2": f"{code}{close}{outcome}", "ou25": f"{code}{close}{outcome}2.5",
            "ah": f"{code}{close}AH{outcome}"}[market]


def _frame(raw: RawRows, name: str, names: dict[str, str], odds: dict[str, str], **meta) -> pd.DataFrame:
    rows = raw.frame
    cols: dict = {"source": name, "line": rows["line"].to_numpy(), **meta}
    for src, dst in {**names, **_STATS, **odds}.items():
        if src in rows:
            cols[dst] = rows[src].to_numpy()
    return pd.DataFrame(cols, index=range(len(rows)))


def season_span(label: str, code: bool = False) -> tuple[pd.Timestamp, pd.Timestamp] | tuple[None, None]:
    """The dates a season label can hold: both calendar years of ``2012/2013`` (or of the site's code
    ``1213`` when ``code``), the one year of ``2012``; (None, None) for a label that is neither.

    The span is generous (seasons move: 2019/20 ended in August 2020), but a 2019 or 1900 date in a
    2023/24 file falls outside it.
    """
    text = str(label).strip()
    if m := _SEASON_PAIR.fullmatch(text):
        first, second = int(m[1]), int(m[2])
        last = first + 1 if len(m[2]) == 2 and second == (first + 1) % 100 else second
    elif code and (m := re.fullmatch(r"(\d{2})(\d{2})", text)) and int(m[2]) == (int(m[1]) + 1) % 100:
        first = (1900 if int(m[1]) >= 50 else 2000) + int(m[1])
        last = first + 1
    elif re.fullmatch(r"\d{4}", text):
        first = last = int(text)
    else:
        return None, None
    if not 1800 <= first <= last <= first + 1 <= 2200:
        return None, None
    return pd.Timestamp(first, 1, 1), pd.Timestamp(last, 12, 31)


def handicap_lines(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The Asian handicap's home line at the open (``AHh``, older files ``BbAHh``) and close (``AHCh``) as
    ``ah_line_open`` / ``ah_line_close`` floats (NaN where unreadable); only those the file has."""
    lines = {}
    for col, line_col in (("AHh", "ah_line_open"), ("BbAHh", "ah_line_open"), ("AHCh", "ah_line_close")):
        if col in frame and line_col not in lines:
            values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
            lines[line_col] = np.where(np.isfinite(values), values, np.nan)
    return lines


def parse_main(data: bytes, name: str, league: str, season: str) -> LoadResult:
    """Parse one main-layout file (``mmz4281/<season>/<div>.csv``), a chunk of rows at a time (bounded memory
    however big the file; a match repeated across chunks is quarantined as a duplicate like any other)."""
    names = {"Date": "date", "Time": "time", "HomeTeam": "home", "AwayTeam": "away",
             "FTHG": "home_goals", "FTAG": "away_goals", "FTR": "result", "Referee": "referee"}
    start, end = season_span(season, code=True)
    span = {} if start is None else {"season_start": start, "season_end": end}
    parts, notes, wrong_div = [], [], 0
    for raw in read_chunks(decode_csv(data, name), name, MAIN_REQUIRED):
        frame = _frame(raw, name, names, map_odds_columns(list(raw.frame.columns)),
                       sport="football", league=league, season=season, **handicap_lines(raw.frame), **span)
        parts.append(canonicalise(frame, DATE_FORMATS, TIMEZONE,
                                  extra_keep=("referee", "ah_line_open", "ah_line_close"), refused=raw.rejected))
        notes += raw.notes + ([] if parts[1:] else column_notes(list(raw.frame.columns)))
        if "Div" in raw.frame:
            div = raw.frame["Div"].fillna("").str.strip()
            wrong_div += int(((div != "") & (div != league)).sum())
            other = sorted(set(div[(div != "") & (div != league)]))
    if wrong_div:
        notes.append(f"Div is {', '.join(other)} in {wrong_div:,} rows of a file of {league}: read as {league}")
    return _one_file(parts, name, notes)


def _one_file(parts: list[LoadResult], name: str, notes: list[str]) -> LoadResult:
    """The chunks of one file as its load: duplicates across chunks quarantined, counted as one file."""
    result = concat_results(parts) if len(parts) > 1 else parts[0]
    result.files = 1
    result.notes += [(name, n) for n in dict.fromkeys(notes)]
    return result


def normalise_season(value: str) -> str:
    """``2012/2013`` -> ``1213`` (the site's code); a single year such as ``2012`` stays."""
    text = str(value).strip()
    if m := _SEASON_PAIR.fullmatch(text):
        return m[1][2:] + m[2][-2:]
    return text


def parse_extra(data: bytes, name: str, code: str) -> LoadResult:
    """Parse one extra-league file (``new/<CODE>.csv``); every price is a closing price.

    A row's season label must be a year (``2012``) or a pair (``2012/2013``) and its date must lie in it.
    """
    names = {"Date": "date", "Time": "time", "Home": "home", "Away": "away",
             "HG": "home_goals", "AG": "away_goals", "Res": "result"}
    parts, notes = [], []
    for raw in read_chunks(decode_csv(data, name), name, EXTRA_REQUIRED):
        labels = raw.frame["Season"].fillna("")
        spans = [season_span(label) for label in labels]
        frame = _frame(raw, name, names, map_odds_columns(list(raw.frame.columns), force_timing="close"),
                       sport="football", league=code, season=labels.map(normalise_season).to_numpy(),
                       season_start=pd.to_datetime([s[0] for s in spans]),
                       season_end=pd.to_datetime([s[1] for s in spans]))
        parts.append(canonicalise(frame, DATE_FORMATS, TIMEZONE, refused=raw.rejected))
        notes += raw.notes + ([] if parts[1:] else column_notes(list(raw.frame.columns), force_timing="close"))
    return _one_file(parts, name, notes)


def _parse(source: FileSource, rel: str, parse, *args) -> LoadResult:
    """One file parsed under its name relative to the data root (what the match table's ``source`` column and
    the quarantine record, the same on every machine); an error also names the root."""
    try:
        return parse(source.read(rel), rel, *args)
    except DataFileError as exc:
        raise DataFileError(f"{exc} (data root {source.base})") from None


def load_football_data(source: FileSource, leagues: list[str], seasons: list[str]) -> LoadResult:
    """Read every (season, league) main-layout file from a source into one table."""
    return concat_results([_parse(source, f"mmz4281/{season}/{league}.csv", parse_main, league, str(season))
                           for season in seasons for league in leagues])


def load_extra_leagues(source: FileSource, codes: list[str]) -> LoadResult:
    """Read extra-league files (``new/<CODE>.csv``) into one table."""
    return concat_results([_parse(source, f"new/{code}.csv", parse_extra, code) for code in codes])
