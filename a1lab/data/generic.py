"""A generic CSV layout for any sport, two-way (moneyline) or three-way.

Columns (names case-free): ``date, home, away, home_score, away_score,
home_odds, away_odds`` and optionally ``draw_odds`` and ``time``. Odds are
decimal (``2.19``) or American (``+219``, ``-270``); a blank or ``-`` is a
missing price. The date format is one per file: named by the source, or
detected (an ambiguous file, day-first or month-first, is refused).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from a1lab.data.csvrows import read_rows
from a1lab.data.footballdata import decode_csv
from a1lab.data.quarantine import DataFileError, LoadResult, canonicalise
from a1lab.data.schema import odds_column
from a1lab.odds import american_to_decimal

REQUIRED = ("date", "home", "away", "home_score", "away_score", "home_odds", "away_odds")
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%Y-%m-%dT%H:%M:%S")


ODDS_FORMATS = ("auto", "american", "decimal")


def parse_price(values: pd.Series, odds_format: str = "auto") -> pd.Series:
    """Odds text to decimal odds.

    Args:
        values: the price text.
        odds_format: ``auto``: American when signed (``+219``, ``-270``), else decimal; ``american``: every
            number is American, signed or not (``163.0`` is +163); ``decimal``: every number is decimal.

    Anything unreadable, and American odds between -100 and +100, give NaN (the
    quarantine logs the text).
    """
    if odds_format not in ODDS_FORMATS:
        raise ValueError(f"odds_format must be one of {ODDS_FORMATS}, got {odds_format!r}")
    text = values.astype("string").str.strip()
    signed = text.str.match(r"^[+-]\d+(\.\d+)?$").fillna(False).astype(bool).to_numpy()
    american = np.full(len(text), odds_format == "american") | (signed & (odds_format == "auto"))
    number = pd.to_numeric(text.astype(object), errors="coerce").to_numpy(dtype=float)
    return pd.Series(np.where(american, american_to_decimal(number), number), index=values.index)


def _price_text(values: pd.Series) -> np.ndarray:
    """Price text with ``-`` (the layout's missing price) as a blank."""
    return values.mask(values.astype("string").str.strip() == "-").to_numpy()


def detect_date_format(dates: pd.Series, formats: tuple[str, ...], name: str) -> str:
    """The one format of a file's dates: the format that reads the most of them.

    Raises:
        DataFileError: two formats read as many dates but disagree on some (day-first or month-first
            cannot be told apart): the source must name its format.
    """
    text = dates.dropna().astype(str).str.strip()
    parsed = {fmt: pd.to_datetime(text, format=fmt, errors="coerce") for fmt in formats}
    counts = {fmt: int(p.notna().sum()) for fmt, p in parsed.items()}
    best = max(formats, key=lambda f: counts[f])
    for fmt in formats:
        if fmt != best and counts[fmt] == counts[best] > 0 and not parsed[fmt].equals(parsed[best]):
            raise DataFileError(f"{name}: dates fit both {best!r} and {fmt!r} (e.g. {text.iloc[0]!r}); "
                                "name the file's date format (date_format / --date-format)")
    return best


def parse_generic(
    data: bytes,
    name: str,
    sport: str,
    league: str,
    season: str | None = None,
    bookmaker: str = "market",
    timing: str = "close",
    timezone: str = "UTC",
    date_format: str | None = None,
    columns: dict[str, str] | None = None,
    odds_format: str = "auto",
) -> LoadResult:
    """Parse a generic CSV into the canonical table.

    Args:
        data: the file's bytes.
        name: a name for messages and the quarantine (usually the path).
        sport: e.g. ``"basketball"``.
        league: league code stored in the table.
        season: season label; default the year of each match's date.
        bookmaker: whose odds these are.
        timing: ``"open"`` or ``"close"``.
        timezone: zone of dates and times.
        date_format: strptime format of the ``date`` column; default: detected once for the whole file
            (rows that do not fit it are quarantined as ``bad_date``).
        columns: the file's name for each layout column that it names differently (``{"home": "team_1"}``).
        odds_format: ``auto`` (American when signed, else decimal), ``american`` or ``decimal``
            (:func:`parse_price`).
    """
    rows, refused = read_named(data, name, columns)
    return canonical(rows, refused, name, sport, league, rows["season"] if season is None and "season" in rows
                      else season, bookmaker, timing, timezone, date_format, odds_format)


def read_named(data: bytes, name: str, columns: dict[str, str] | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The file's rows under the layout's column names (a mapping renames the file's own)."""
    mapping = {layout: str(theirs).strip().lower() for layout, theirs in (columns or {}).items()}
    unknown = sorted(set(mapping) - set(REQUIRED) - {"draw_odds", "time", "season"})
    if unknown:
        raise DataFileError(f"{name}: the column mapping names {unknown}, which the generic layout does not have; "
                            f"it has {list(REQUIRED) + ['draw_odds', 'time', 'season']}")
    raw = read_rows(decode_csv(data, name), name, tuple(mapping.get(c, c) for c in REQUIRED), lower=True)
    rows = raw.frame.rename(columns={theirs: layout for layout, theirs in mapping.items()})
    return rows, raw.rejected


def canonical(rows: pd.DataFrame, refused: pd.DataFrame, name: str, sport: str, league: str, season,
               bookmaker: str, timing: str, timezone: str, date_format: str | None,
               odds_format: str = "auto") -> LoadResult:
    fmt = date_format or detect_date_format(rows["date"], DATE_FORMATS, name)
    three_way = "draw_odds" in rows.columns
    market = "1x2" if three_way else "ml"
    cols = {
        "source": name,
        "line": rows["line"].to_numpy(),
        "sport": sport,
        "league": league,
        "date": rows["date"].to_numpy(),
        "home": rows["home"].to_numpy(),
        "away": rows["away"].to_numpy(),
        "home_goals": rows["home_score"].to_numpy(),
        "away_goals": rows["away_score"].to_numpy(),
        odds_column(bookmaker, market, timing, "home"): _price_text(rows["home_odds"]),
        odds_column(bookmaker, market, timing, "away"): _price_text(rows["away_odds"]),
    }
    if three_way:
        cols[odds_column(bookmaker, market, timing, "draw")] = _price_text(rows["draw_odds"])
    if "time" in rows.columns:
        cols["time"] = rows["time"].to_numpy()
    if season is None:
        years = pd.to_datetime(rows["date"].astype("string").str.strip(), format=fmt, errors="coerce").dt.year
        cols["season"] = years.astype("Int64").astype(str).replace("<NA>", "").to_numpy()
    else:
        cols["season"] = season.to_numpy() if isinstance(season, pd.Series) else season
    return canonicalise(pd.DataFrame(cols, index=range(len(rows))), (fmt,), timezone, refused=refused,
                        price=lambda values: parse_price(values, odds_format))
