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

from a1lab.betting import value_bet_arrays
from a1lab.columns import SPREAD_BOOKS, odds_column
from a1lab.data.csvrows import read_rows
from a1lab.data.footballdata import DATE_FORMATS, TIMEZONE, decode_csv, handicap_lines, map_odds_columns, site_columns
from a1lab.data.quarantine import DataFileError, parse_dates, parse_times, team_name
from a1lab.features.state import EPOCH, day_of
from a1lab.live.events import MARKET_OUTCOMES, Rejection, parse_event
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
    missing team, a country with no league code, a repeat of an earlier row's league, kick-off and teams).

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
    home, away = team_name(home), team_name(away)  # spelled as ingest spells them (NFC, one space)
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
    key = ["league", "kickoff", "home", "away"]
    readable = out["reason"].isna()
    first = out[readable].groupby(key, dropna=False)["line"].transform("first")
    again = first[first != out.loc[readable, "line"]]
    out.loc[again.index, "reason"] = [f"duplicate of line {line}" for line in again]
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


def missing_prices(needed: set[tuple[str, ...]], have: set[tuple[str, ...]], extra: bool = False) -> str:
    """The quotes a model needs that a fixtures row lacks, in the file's own column names
    (``AvgH/AvgD/AvgA, Avg>2.5/Avg<2.5``)."""
    return ", ".join("/".join(site_columns(q[0], q[1], q[2] if len(q) > 2 else "1x2", extra))
                     for q in sorted(needed - have))


def close_spellings(name: str, known) -> str:
    """`` (did you mean Man United?)`` for a team the league has under a close spelling, else ``""``."""
    import difflib

    known = list(known)
    lowered = {k.lower(): k for k in known}
    words = [w for w in name.lower().replace(".", " ").split() if len(w) > 1]
    close = difflib.get_close_matches(name.lower(), lowered, n=3, cutoff=0.6)
    close += [k.lower() for k in known if words and all(any(t.startswith(w[:3]) for t in k.lower().split())
                                                         for w in words)]
    found = list(dict.fromkeys(lowered[c] for c in close))[:3]
    return f" (did you mean {' or '.join(found)}?)" if found else ""


def score_fixtures(fixtures: pd.DataFrame, loop: Loop, extra: bool = False) -> pd.DataFrame:
    """Score each fixture with the loop (which it changes: use a fresh one).

    Returns:
        One row per fixture: league, kickoff, home, away, the model's ``p_home``/``p_draw``/``p_away`` and
        ``fair_odds_*`` (1 / p), the market's (``market_p_*``, the loop's market book at the model's timing),
        every bookmaker's price (``odds_<book>_<outcome>``) and the best one with its book and edge
        (``best_odds_*``, ``best_book_*``, ``best_edge_*``), the value bet at the book that gives it (``bet``,
        ``book``, ``odds``, ``edge``, ``stake_share``: the suggested stake as a share of the bankroll), ``why``
        (the top SHAP contributions as phrases), ``reasons`` (the same, raw) and ``reason`` when the row was not
        scored.
    """
    from a1lab.features.registry import all_specs

    described = {spec.name: spec.description for spec in all_specs(loop.state.config)}
    known = _last_result_day(loop.state)
    horizon = loop.config.horizon_days
    out = []
    for record in fixtures.to_dict("records"):
        row = SimpleNamespace(**{k: record[k] for k in ("line", "league", "kickoff", "home", "away", "reason")})
        item = {"line": row.line, "league": row.league, "kickoff": row.kickoff, "home": row.home, "away": row.away}
        out.append(item)
        if isinstance(row.reason, str):
            item["reason"] = row.reason
            continue
        day = day_of(row.kickoff.to_pydatetime())
        if known is not None and not known < day <= known + horizon:
            last = (EPOCH + timedelta(days=known)).date()
            item["reason"] = (f"kick-off {row.kickoff:%Y-%m-%d} is not after the feature state's last result "
                              f"({last}): it would be scored with later results" if day <= known else
                              f"kick-off {row.kickoff:%Y-%m-%d} is more than live.horizon_days ({horizon}) after "
                              f"the feature state's last result ({last})")
            continue
        state = loop.state.leagues.get(row.league)
        if state is None:
            item["reason"] = f"unknown league {row.league}: no settled match of it before the feature state"
            continue
        unknown = [why for t in (row.home, row.away) if (why := _unknown_team(loop.state, row.league, t))]
        if unknown:
            item["reason"] = "; ".join(unknown)
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
            lacking = loop.needed - set(quotes)
            item["reason"] = "; ".join(problems) or "; ".join(
                x for x in (_not_above_one(record, lacking, extra),
                            f"missing prices the model needs: {missing_prices(lacking, set(), extra)}") if x)
            continue
        p = prediction["p"]
        item.update({f"p_{o}": v for o, v in p.items()})
        item.update({f"fair_odds_{o}": 1.0 / v for o, v in p.items() if v > 0})
        if prediction["market"] is not None:
            item.update({f"market_p_{o}": v for o, v in prediction["market"]["p"].items()})
        prices = {k[0]: q["prices"] for k, q in quotes.items() if len(k) == 2 and k[1] == loop.timing}
        item.update({f"odds_{book}_{o}": price for book, q in prices.items() for o, price in q.items()})
        item.update(best_prices(p, prices))
        item.update(value_bet(p, prices, loop.config))
        if prediction["shap"]:
            item["reasons"] = "; ".join(f"{r['feature']} {r['contribution']:+.3f}" for r in prediction["shap"])
            item["why"] = reason_phrases(prediction["shap"], max(p, key=p.get), described)
    table = pd.DataFrame(out)
    books = sorted({c.removeprefix("odds_").rsplit("_", 1)[0] for c in table.columns if c.startswith("odds_")})
    columns = ["line", "league", "kickoff", "home", "away", *(f"p_{o}" for o in OUTCOMES),
               *(f"fair_odds_{o}" for o in OUTCOMES), *(f"market_p_{o}" for o in OUTCOMES),
               *(f"{k}_{o}" for k in ("best_odds", "best_book", "best_edge") for o in OUTCOMES),
               "bet", "book", "odds", "edge", "stake_share", "why", "reasons", "reason",
               *(f"odds_{b}_{o}" for b in books for o in OUTCOMES)]
    return table.reindex(columns=columns)


def _last_result_day(state) -> int | None:
    """The day (:func:`a1lab.features.state.day_of`) of the state's last result, pending ones included."""
    days = [d for lg in state.leagues.values() for d in [*lg.last_day, lg.pending_day] if d is not None]
    return max(days, default=None)


def _unknown_team(state, league: str, team: str) -> str | None:
    """Why a team cannot be scored in a league, or None: it has played there, or it plays in another division
    of the league's country (``features.divisions``), whose ratings it brings."""
    if team in state.leagues[league].index:
        return None
    elsewhere = sorted(other for other, lg in state.leagues.items() if other != league and team in lg.index)
    country = state.country.get(league, (None,))[0]
    if country is not None and set(elsewhere) & set(state.config.divisions[country]):
        return None
    if elsewhere:
        return (f"unknown team {team} in {league}: it plays in {', '.join(elsewhere)}; list both leagues in "
                "features.divisions (a country's leagues, top division first) to score it from its ratings there")
    return (f"unknown team {team} in {league}" + (close_spellings(team, state.leagues[league].index)
            or " (new? a club from a division the data set does not read: add that division's files and "
                "features.divisions)"))


def _not_above_one(record: Mapping, lacking: set[tuple[str, ...]], extra: bool) -> str:
    """The prices of the lacking quotes that the row has but that are 1 or below, in the file's column names."""
    bad = []
    for q in sorted(lacking):
        market = q[2] if len(q) > 2 else "1x2"
        names = site_columns(q[0], q[1], market, extra)
        values = [record.get(odds_column(q[0], market, q[1], o)) for o in MARKET_OUTCOMES[market]]
        bad += [f"{n}={v:g}" for n, v in zip(names, values, strict=False) if v is not None and v == v and v <= 1]
    return f"odds of 1 or below (not a price): {', '.join(bad)}" if bad else ""


def best_prices(p: Mapping[str, float], prices: Mapping[str, Mapping[str, float]]) -> dict:
    """Each outcome's best price among the bookmakers (not the ``max`` and ``avg`` summaries, which no book
    offers), its book and its edge (p x price - 1)."""
    out = {}
    for outcome, prob in p.items():
        offered = [(q[outcome], book) for book, q in prices.items() if book not in SPREAD_BOOKS and q.get(outcome)]
        if offered:
            price, book = max(offered)
            out |= {f"best_odds_{outcome}": price, f"best_book_{outcome}": book,
                    f"best_edge_{outcome}": prob * price - 1.0}
    return out


def value_bet(p: Mapping[str, float], prices: Mapping[str, Mapping[str, float]], config) -> dict:
    """The value bet (the backtest's rule) at each outcome's best price, with the book that offers it and its
    stake (the live loop's staking), or nothing."""
    best = best_prices(p, prices)
    if not best:
        return {}
    probs = np.array([[p[o] for o in OUTCOMES]])
    odds = np.array([[best.get(f"best_odds_{o}", np.nan) for o in OUTCOMES]])
    bet = value_bet_arrays(probs, odds, config.value_rule)
    k = int(bet["outcome"][0])
    if k < 0:
        return {}
    stake = float(config.staking.fractions(probs[0, [k]], odds[0, [k]])[0])
    return {"bet": OUTCOMES[k], "book": best[f"best_book_{OUTCOMES[k]}"], "odds": float(odds[0, k]),
            "edge": float(bet["edge"][0]), "stake_share": stake}


def offers(row: Mapping) -> str:
    """A scored row's prices as a line: every bookmaker's price of each outcome with its edge (p x price - 1),
    the best first (``home: bet365 2.10 +4.1%, pinnacle 2.05 +1.6% | draw: ...``)."""
    parts = []
    for outcome in OUTCOMES:
        prob = row.get(f"p_{outcome}")
        offered = sorted(((v, k.removeprefix("odds_").rsplit("_", 1)[0]) for k, v in row.items()
                          if k.startswith("odds_") and k.endswith(f"_{outcome}") and v == v), reverse=True)
        if offered and prob and prob > 0:
            parts.append(f"{outcome}: " + ", ".join(f"{book} {price:.2f} {prob * price - 1:+.1%}"
                                                    for price, book in offered))
    return " | ".join(parts)


def reason_phrases(shap: list[dict], outcome: str, described: Mapping[str, str]) -> str:
    """The top SHAP contributions as phrases: what the feature means, its value, and whether it raised or
    lowered the likeliest outcome (``home team: Elo rating = 1.61e+03: raises home (SHAP +0.031)``)."""
    phrases = []
    for r in shap:
        value = "missing" if r["value"] is None else f"{r['value']:,.3g}"
        verb = "raises" if r["contribution"] > 0 else "lowers"
        phrases.append(f"{described.get(r['feature'], r['feature'])} = {value}: {verb} {outcome} "
                       f"(SHAP {r['contribution']:+.3f})")
    return "; ".join(phrases)
