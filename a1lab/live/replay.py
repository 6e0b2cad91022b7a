"""Replay: a season of the match table as the time-ordered event stream a live feed would send.

Each match gives a fixture (a week before kick-off), every bookmaker's opening
1x2 prices (two days before), closing prices (five minutes before) and the
result (115 minutes after kick-off). Event ids are derived from the match id,
so replaying twice gives the same ids (and the loop skips what it has seen).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from a1lab.columns import ODDS_COLUMN, quote_columns
from a1lab.live.events import STAT_KEYS
from a1lab.models import OUTCOMES, TWO_WAY


@dataclass(frozen=True)
class Offsets:
    """When each event of a match happens, relative to kick-off."""

    fixture: timedelta = timedelta(days=7)
    open: timedelta = timedelta(days=2)
    close: timedelta = timedelta(minutes=5)
    result: timedelta = timedelta(minutes=115)


def _iso(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").isoformat().replace("+00:00", "Z")


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
    books = sorted({(m["book"], m["timing"], m["market"]) for c in rows.columns
                    if (m := ODDS_COLUMN.match(c)) and m["market"] in ("1x2", "ml") and m["outcome"] == "home"})
    out = []
    for rank, r in enumerate(rows.itertuples(index=False)):
        mid, kickoff = r.match_id, r.kickoff
        out.append((kickoff - offsets.fixture, 0, rank, {
            "type": "fixture", "id": f"{mid}:fixture", "ts": _iso(kickoff - offsets.fixture), "match_id": mid,
            "league": r.league, "season": r.season, "home": r.home, "away": r.away, "kickoff": _iso(kickoff)}))
        for book, timing, market in books:
            outcomes = OUTCOMES if market == "1x2" else TWO_WAY
            prices = [getattr(r, c) for c in quote_columns(book, timing, market, outcomes)]
            if not all(p == p and p > 1.0 for p in prices):
                continue  # the file has no (valid) quote from this book
            at = kickoff - (offsets.open if timing == "open" else offsets.close)
            out.append((at, 1, rank, {
                "type": "odds", "id": f"{mid}:odds:{book}:{timing}", "ts": _iso(at), "match_id": mid,
                "bookmaker": book, "market": market, "timing": timing,
                "prices": dict(zip(outcomes, map(float, prices), strict=True))}))
        if r.home_goals == r.home_goals and r.away_goals == r.away_goals:
            stats = {k: float(v) for k in STAT_KEYS if (v := getattr(r, k, np.nan)) == v}
            out.append((kickoff + offsets.result, 2, rank, {
                "type": "result", "id": f"{mid}:result", "ts": _iso(kickoff + offsets.result), "match_id": mid,
                "home_goals": int(r.home_goals), "away_goals": int(r.away_goals), "stats": stats}))
    out.sort(key=lambda e: e[:3])  # stable: books keep their order within a match
    return [e[3] for e in out]
