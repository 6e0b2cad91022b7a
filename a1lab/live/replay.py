"""Replay: a season of the match table as the time-ordered event stream a live feed would send.

Each match gives a fixture (a week before kick-off), every bookmaker's opening
quotes (two days before: 1x2 or moneyline, and over/under 2.5 and Asian handicap
where the file has them), closing quotes (five minutes before) and the result
(115 minutes after kick-off). Event ids are derived from the match id,
so replaying twice gives the same ids (and the loop skips what it has seen).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from a1lab.columns import ODDS_COLUMN, ah_line_column, odds_column
from a1lab.live.events import MARKET_OUTCOMES, STAT_KEYS


@dataclass(frozen=True)
class Offsets:
    """When each event of a match happens, relative to kick-off."""

    fixture: timedelta = timedelta(days=7)
    open: timedelta = timedelta(days=2)
    close: timedelta = timedelta(minutes=5)
    result: timedelta = timedelta(minutes=115)


def _iso(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").isoformat().replace("+00:00", "Z")


def quote_keys(columns: Iterable[str]) -> list[tuple[str, str, str]]:
    """(bookmaker, timing, market) of every quote a match table's columns hold, sorted."""
    return sorted({(m["book"], m["timing"], m["market"]) for c in columns
                   if (m := ODDS_COLUMN.match(c)) and m["outcome"] == MARKET_OUTCOMES[m["market"]][0]})


def row_quote(row: Mapping, book: str, timing: str, market: str) -> dict | None:
    """The odds event fields of one quote of a match row: ``prices`` (and ``line``, the handicap's, from the
    row's one line per timing); None where the row lacks a price, a price is not above 1 or the line is
    missing."""
    outcomes = MARKET_OUTCOMES[market]
    prices = [row.get(odds_column(book, market, timing, o)) for o in outcomes]
    if not all(p is not None and p == p and p > 1.0 for p in prices):
        return None
    fields = {"prices": dict(zip(outcomes, map(float, prices), strict=True))}
    if market == "ah":
        line = row.get(ah_line_column(timing))
        if line is None or line != line:
            return None
        fields["line"] = float(line)
    return fields


def latest_season(matches: pd.DataFrame) -> str:
    """The season of the table's last kick-off (the data's latest, whatever its labels)."""
    if matches.empty:
        raise ValueError("the match table is empty")
    return str(matches.loc[matches["kickoff"].idxmax(), "season"])


def season_events(matches: pd.DataFrame, season: str, leagues: list[str] | None = None,
                  offsets: Offsets = Offsets()) -> list[dict]:
    """The events of one season, ordered by time (then fixture, odds, result; then kick-off order).

    Args:
        matches: canonical match table (``a1lab ingest`` output).
        season: a season label of the table (see :func:`latest_season`).
        leagues: restrict to these leagues (default: all in the season).
        offsets: event times relative to kick-off.

    Raises:
        ValueError: the season has no matches.
    """
    rows = matches[matches["season"] == season]
    if leagues:
        rows = rows[rows["league"].isin(leagues)]
    if rows.empty:
        raise ValueError(f"no matches for season {season!r}" + (f" in leagues {leagues}" if leagues else ""))
    rows = rows.sort_values(["kickoff", "league", "match_id"], kind="mergesort")
    quotes = quote_keys(rows.columns)
    out = []
    for rank, row in enumerate(rows.to_dict("records")):
        mid, kickoff, home_goals, away_goals = row["match_id"], row["kickoff"], row["home_goals"], row["away_goals"]
        out.append((kickoff - offsets.fixture, 0, rank, {
            "type": "fixture", "id": f"{mid}:fixture", "ts": _iso(kickoff - offsets.fixture), "match_id": mid,
            "league": row["league"], "season": row["season"], "home": row["home"], "away": row["away"],
            "kickoff": _iso(kickoff)}))
        for book, timing, market in quotes:
            fields = row_quote(row, book, timing, market)
            if fields is None:
                continue  # the file has no (valid) quote from this book
            at = kickoff - (offsets.open if timing == "open" else offsets.close)
            suffix = "" if market in ("1x2", "ml") else f":{market}"
            out.append((at, 1, rank, {
                "type": "odds", "id": f"{mid}:odds:{book}:{timing}{suffix}", "ts": _iso(at), "match_id": mid,
                "bookmaker": book, "market": market, "timing": timing, **fields}))
        if home_goals == home_goals and away_goals == away_goals:
            stats = {k: float(v) for k in STAT_KEYS if (v := row.get(k, np.nan)) == v}
            out.append((kickoff + offsets.result, 2, rank, {
                "type": "result", "id": f"{mid}:result", "ts": _iso(kickoff + offsets.result), "match_id": mid,
                "home_goals": int(home_goals), "away_goals": int(away_goals), "stats": stats}))
    out.sort(key=lambda e: e[:3])  # stable: books keep their order within a match
    return [e[3] for e in out]
