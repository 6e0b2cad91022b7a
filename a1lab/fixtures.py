"""Upcoming matches: football-data.co.uk's ``fixtures.csv`` and ``new_league_fixtures.csv``, scored as the live
loop scores them.

``fixtures.csv`` has the main files' columns without results (``Div``, ``Date``, ``Time``, ``HomeTeam``,
``AwayTeam``, prices such as ``PSH``: opening prices to the model); ``new_league_fixtures.csv`` the extra
leagues' (``Country``, ``League``, ``Date``, ``Time``, ``Home``, ``Away``, ``PH``..., closing prices), its
countries mapped to the data set's league codes. Each fixture goes through a :class:`a1lab.live.loop.Loop` as a
fixture event and one odds event per bookmaker, from the feature state after the last settled match, so a
prediction here is the one the live loop would make. A row the model cannot score gets a reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from types import SimpleNamespace

import numpy as np
import pandas as pd

from a1lab.data.csvrows import read_rows
from a1lab.data.footballdata import DATE_FORMATS, TIMEZONE, decode_csv, handicap_lines, map_odds_columns
from a1lab.data.quarantine import DataFileError, parse_dates, parse_times
from a1lab.live.events import Rejection, parse_event
from a1lab.live.loop import Loop
from a1lab.live.replay import quote_keys, row_quote
from a1lab.live.scoring import quote_key
from a1lab.outcomes import OUTCOMES

MAIN_COLUMNS = ("Div", "Date", "HomeTeam", "AwayTeam")
EXTRA_COLUMNS = ("Country", "Date", "Home", "Away")
QUOTE_LEAD = timedelta(hours=1)  # odds events are stamped this long before kick-off


def read_fixtures(data: bytes, name: str, countries: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The rows of a fixtures file: ``line``, ``league``, ``kickoff`` (UTC), ``home``, ``away``, canonical odds
    columns (floats) and ``reason`` (None, or why the row cannot be scored: unreadable date or time, a
    missing team, a country with no league code).

    Args:
        data: the file's bytes.
        name: its name or URL, for messages.
        countries: country -> league code for the extra layout (e.g. from :func:`country_codes`).

    Raises:
        DataFileError: not a CSV of either layout.
    """
    text = decode_csv(data, name)
    header = {h.strip() for h in text.splitlines()[0].split(",")}
    if set(MAIN_COLUMNS) <= header:
        raw = read_rows(text, name, MAIN_COLUMNS)
        rows, timing = raw.frame, None
        league = rows["Div"].fillna("").str.strip()
        home, away = rows["HomeTeam"], rows["AwayTeam"]
    elif set(EXTRA_COLUMNS) <= header:
        raw = read_rows(text, name, EXTRA_COLUMNS)
        rows, timing = raw.frame, "close"
        country = rows["Country"].fillna("").str.strip()
        league = country.map(dict(countries or {})).fillna("")
        home, away = rows["Home"], rows["Away"]
    else:
        raise DataFileError(f"{name}: not a fixtures file: it needs the columns {', '.join(MAIN_COLUMNS)} "
                            f"(fixtures.csv) or {', '.join(EXTRA_COLUMNS)} (new_league_fixtures.csv)")
    home, away = home.fillna("").str.strip(), away.fillna("").str.strip()
    day = parse_dates(rows["Date"].astype("string").str.strip(), DATE_FORMATS)
    tod = parse_times((rows["Time"] if "Time" in rows else pd.Series(None, index=rows.index)).astype("string"))
    reason = pd.Series(None, index=rows.index, dtype=object)
    for bad, why in ((day.isna(), "unreadable date"), (tod.isna(), "unreadable time"),
                     ((home == "") | (away == ""), "missing team"), (home == away, "home and away are the same team"),
                     (league == "", "no league code for this country (not in the data set)" if timing
                      else "missing league (Div)")):
        reason[bad & reason.isna()] = why
    local = (day + tod).dt.tz_localize(TIMEZONE, ambiguous=np.ones(len(rows), dtype=bool),
                                       nonexistent="shift_forward")
    out = pd.DataFrame({"line": rows["line"].to_numpy(), "league": league.to_numpy(),
                        "kickoff": local.dt.tz_convert("UTC").to_numpy(), "home": home.to_numpy(),
                        "away": away.to_numpy(), "reason": reason.to_numpy()})
    out["kickoff"] = pd.to_datetime(out["kickoff"], utc=True)
    prices = {dst: pd.to_numeric(rows[src].astype(object), errors="coerce").astype(float).to_numpy()
              for src, dst in map_odds_columns(list(rows.columns), force_timing=timing).items()}
    out = pd.concat([out, pd.DataFrame({**prices, **handicap_lines(rows)}, index=out.index)], axis=1)
    refused = raw.rejected
    if len(refused):
        lost = pd.DataFrame({"line": refused["line"].astype(int), "reason": refused["reason"].astype(str)})
        out = pd.concat([out, lost], ignore_index=True)
    return out.sort_values("line", kind="mergesort").reset_index(drop=True)


def country_codes(files: Mapping[str, bytes]) -> dict[str, str]:
    """Country -> league code from extra-layout files (code -> bytes, e.g. ``new/<CODE>.csv``): the
    ``Country`` of each file's first row."""
    out = {}
    for code, data in files.items():
        rows = read_rows(decode_csv(data, code), code, ("Country",)).frame
        if len(rows):
            out[str(rows["Country"].iloc[0]).strip()] = code
    return out


def score_fixtures(fixtures: pd.DataFrame, loop: Loop) -> pd.DataFrame:
    """Score each fixture with the loop (which it changes: use a fresh one).

    Returns:
        One row per fixture: league, kickoff, home, away, the model's ``p_home``/``p_draw``/``p_away``, the
        market's (``market_p_*``, the loop's market book at the model's timing), the value bet (``bet``,
        ``odds``, ``edge``, ``stake``), ``reasons`` (the top SHAP contributions) and ``reason`` when the
        row was not scored.
    """
    out = []
    for record in fixtures.to_dict("records"):
        row = SimpleNamespace(**{k: record[k] for k in ("line", "league", "kickoff", "home", "away", "reason")})
        item = {"line": row.line, "league": row.league, "kickoff": row.kickoff, "home": row.home, "away": row.away}
        out.append(item)
        if isinstance(row.reason, str):
            item["reason"] = row.reason
            continue
        state = loop.state.leagues.get(row.league)
        if state is None:
            item["reason"] = f"unknown league {row.league}: no settled match of it before the feature state"
            continue
        unknown = [t for t in (row.home, row.away) if t not in state.index]
        if unknown:
            item["reason"] = f"unknown team {' and '.join(unknown)} in {row.league} (new, or spelled otherwise?)"
            continue
        mid = f"{row.league}:{row.kickoff.isoformat()}:{row.home}:{row.away}"
        start = row.kickoff.to_pydatetime() - QUOTE_LEAD
        events = [{"type": "fixture", "id": f"fx:{mid}", "ts": start.isoformat(), "match_id": mid,
                   "league": row.league, "season": state.season, "home": row.home, "away": row.away,
                   "kickoff": row.kickoff.isoformat()}]
        quotes = {}  # every complete quote of the row: 1x2, and over/under and handicap where it has them
        for book, timing, market in quote_keys(record):
            if (fields := row_quote(record, book, timing, market)) is not None:
                quotes[quote_key(book, timing, market)] = fields
                events.append({"type": "odds", "id": f"od:{book}:{timing}:{market}:{mid}", "ts": start.isoformat(),
                               "match_id": mid, "bookmaker": book, "timing": timing, "market": market, **fields})
        problems = []
        for e in events:
            event = parse_event(e)
            for msg in [event] if isinstance(event, Rejection) else loop.process(event):
                if isinstance(msg, Rejection) and msg.dead:
                    problems.append(msg.reason)
        match = loop.matches.get(mid)
        prediction = None if match is None else match["prediction"]
        if prediction is None:
            missing = sorted(" ".join(q) for q in loop.needed - set(quotes))
            item["reason"] = "; ".join(problems) or f"no complete prices of {', '.join(missing)}"
            continue
        item.update({f"p_{o}": v for o, v in prediction["p"].items()})
        if prediction["market"] is not None:
            item.update({f"market_p_{o}": v for o, v in prediction["market"]["p"].items()})
        if prediction["value"] is not None:
            v = prediction["value"]
            item.update(bet=v["outcome"], odds=v["odds"], edge=v["edge"], stake=v["stake"])
        if prediction["shap"]:
            item["reasons"] = "; ".join(f"{r['feature']} {r['contribution']:+.3f}" for r in prediction["shap"])
    columns = ["line", "league", "kickoff", "home", "away", *(f"p_{o}" for o in OUTCOMES),
               *(f"market_p_{o}" for o in OUTCOMES), "bet", "odds", "edge", "stake", "reasons", "reason"]
    return pd.DataFrame(out).reindex(columns=columns)
