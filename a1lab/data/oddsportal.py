"""OddsPortal moneyline files (basketball, hockey and others): the market-average price of each game."""

from __future__ import annotations

import pandas as pd

from a1lab.data.errors import DataFileError
from a1lab.data.generic import canonical, read_named
from a1lab.data.quarantine import LoadResult

ODDSPORTAL_COLUMNS = {"home": "team_1", "away": "team_2", "home_score": "points_1", "away_score": "points_2",
                      "home_odds": "moneyline_1", "away_odds": "moneyline_2"}
NOT_COMPETITIVE = r"pre-?season|all[- ]?stars?|exhibition|friendl"  # season_type values that are no real games


def parse_oddsportal(data: bytes, name: str, sport: str, league: str, timezone: str = "UTC") -> LoadResult:
    """Parse an OddsPortal moneyline file (``date, season_type, neutral, team_1, team_2, points_1, points_2,
    moneyline_1, moneyline_2, game_url``) into the canonical table.

    Prices are the market average of unstated timing, in American odds whether signed or not (``163.0`` is
    +163), stored as ``market`` ``ml`` ``close``; the season comes from the game's URL (``<league>-YYYY-YYYY``:
    the last two digits of each year). Rows are refused, with their reason, when the URL names no season
    (``missing_season``), the game is no real game (``not_competitive``: pre-season, all-star, exhibition
    and friendly games) or is played at a neutral venue (``neutral_venue``: team_1 is then no home team).
    """
    rows, refused = read_named(data, name, ODDSPORTAL_COLUMNS)
    missing = [c for c in ("season_type", "neutral", "game_url") if c not in rows.columns]
    if missing:
        raise DataFileError(f"{name}: wrong columns for the OddsPortal layout, missing {missing}")
    years = rows["game_url"].astype("string").str.extract(r"-(\d{4})-(\d{4})/", expand=True)
    season = (years[0].str[2:] + years[1].str[2:]).fillna("")
    kind = rows["season_type"].astype("string").str.strip().str.lower()
    why = pd.Series(None, index=rows.index, dtype=object)
    why[(rows["neutral"].astype("string").str.strip().fillna("") == "1").to_numpy()] = "neutral_venue"
    why[kind.str.contains(NOT_COMPETITIVE, regex=True).fillna(False).astype(bool).to_numpy()] = "not_competitive"
    why[(season == "").to_numpy()] = "missing_season"  # the last word: the first reason of the three
    drop = why.notna().to_numpy()
    raw = [",".join(values) for values in rows.loc[drop].drop(columns=["line"]).astype(str).itertuples(index=False)]
    dropped = pd.DataFrame({"source": name, "line": rows["line"][drop].to_numpy(), "reason": why[drop].to_numpy(),
                            "raw": pd.Series(raw, dtype=object)})  # (a row-wise agg of no rows is a frame)
    refused = dropped if refused is None or refused.empty else pd.concat([refused, dropped], ignore_index=True)
    kept = rows.loc[~drop].reset_index(drop=True)
    return canonical(kept, refused, name, sport, league, season[~drop].reset_index(drop=True), "market", "close",
                      timezone, "%d %b %Y", "american")
