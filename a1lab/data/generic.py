"""A generic CSV layout for any sport, two-way (moneyline) or three-way.

Columns: ``date, home, away, home_score, away_score, home_odds, away_odds`` and
optionally ``draw_odds`` and ``time``. Odds are decimal (``2.19``) or American
(``+219``, ``-270``); a blank or ``-`` is a missing price.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from a1lab.data.footballdata import decode_csv
from a1lab.data.quarantine import DataFileError, LoadResult, canonicalise
from a1lab.data.schema import odds_column
from a1lab.odds import american_to_decimal

REQUIRED = ("date", "home", "away", "home_score", "away_score", "home_odds", "away_odds")
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%Y-%m-%dT%H:%M:%S")


def parse_price(values: pd.Series) -> pd.Series:
    """Odds strings to decimal odds as strings; American when signed, else decimal.

    Unparseable text is passed through unchanged so that the quarantine logs it.
    """
    text = values.astype("string").str.strip()
    text = text.mask(text.isin(["", "-"]))
    signed = text.str.match(r"^[+-]\d+(\.\d+)?$").fillna(False).astype(bool)
    out = text.astype(object)
    if signed.any():
        american = american_to_decimal(pd.to_numeric(text[signed]).to_numpy())
        out[signed] = np.where(np.isnan(american), "0", american.astype(str))
    return out.where(text.notna(), None)


def parse_generic(
    data: bytes,
    name: str,
    sport: str,
    league: str,
    season: str | None = None,
    bookmaker: str = "market",
    timing: str = "close",
    timezone: str = "UTC",
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
    """
    text = decode_csv(data, name)
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataFileError(f"{name}: not a readable CSV ({exc})") from None
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise DataFileError(f"{name}: wrong columns, missing {missing}; found {list(raw.columns)}")
    three_way = "draw_odds" in raw.columns
    market = "1x2" if three_way else "ml"
    cols = {
        "source": name,
        "line": range(2, len(raw) + 2),
        "sport": sport,
        "league": league,
        "date": raw["date"].to_numpy(),
        "home": raw["home"].to_numpy(),
        "away": raw["away"].to_numpy(),
        "home_goals": raw["home_score"].to_numpy(),
        "away_goals": raw["away_score"].to_numpy(),
        odds_column(bookmaker, market, timing, "home"): parse_price(raw["home_odds"]).to_numpy(),
        odds_column(bookmaker, market, timing, "away"): parse_price(raw["away_odds"]).to_numpy(),
    }
    if three_way:
        cols[odds_column(bookmaker, market, timing, "draw")] = parse_price(raw["draw_odds"]).to_numpy()
    if "time" in raw.columns:
        cols["time"] = raw["time"].to_numpy()
    if season is None:
        years = pd.to_datetime(raw["date"], errors="coerce", format="mixed", dayfirst=False).dt.year
        cols["season"] = years.astype("Int64").astype(str).replace("<NA>", "").to_numpy()
    else:
        cols["season"] = season
    return canonicalise(pd.DataFrame(cols, index=range(len(raw))), DATE_FORMATS, timezone)
