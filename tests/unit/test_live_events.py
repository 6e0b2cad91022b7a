"""Live event schema, the season replay and the reconnect back-off."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import datetime

import pytest

from a1lab.live.events import Fixture, Odds, Rejection, Result, event_dict, fingerprint, parse_event
from a1lab.live.replay import latest_season, season_events
from a1lab.live.streams import Backoff

ODDS = {"type": "odds", "id": "o1", "ts": "2025-08-13T19:00:00Z", "match_id": "m1", "bookmaker": "pinnacle",
        "market": "1x2", "timing": "open", "prices": {"home": 1.5, "draw": 4.2, "away": 6.5}}


def test_valid_events_parse_to_their_types():
    fx = parse_event('{"type":"fixture","id":"f","ts":"2025-08-08T19:00:00+00:00","match_id":"m1","league":"E0",'
                     '"season":"2526","home":"A","away":"B","kickoff":"2025-08-15T19:00:00Z"}')
    assert isinstance(fx, Fixture) and fx.kickoff.utcoffset().total_seconds() == 0
    assert isinstance(parse_event(json.dumps(ODDS)), Odds)
    rs = parse_event({"type": "result", "id": "r", "ts": "2025-08-15T21:00:00Z", "match_id": "m1",
                      "home_goals": 2, "away_goals": 0, "stats": {"home_shots": 12}})
    assert isinstance(rs, Result) and rs.stats == {"home_shots": 12.0}


@pytest.mark.parametrize("raw, reason", [
    ("{not json", "not JSON"),
    ("[1, 2]", "must be a JSON object"),
    (json.dumps({**ODDS, "type": "bet"}), "type"),
    (json.dumps({k: v for k, v in ODDS.items() if k != "match_id"}), "match_id"),
    (json.dumps({**ODDS, "ts": "2025-08-13T19:00:00"}), "ts"),  # no time zone: ambiguous
    (json.dumps({**ODDS, "prices": {"home": 1.0, "draw": 4.2, "away": 6.5}}), "prices.home"),
    (json.dumps({**ODDS, "prices": {"home": "NaN", "draw": 4.2, "away": 6.5}}), "prices.home"),
    (json.dumps({**ODDS, "timing": "halftime"}), "timing"),
    (json.dumps({"type": "result", "id": "r", "ts": "2025-08-15T21:00:00Z", "match_id": "m", "home_goals": -1,
                 "away_goals": 0}), "home_goals"),
    (json.dumps({"type": "result", "id": "r", "ts": "2025-08-15T21:00:00Z", "match_id": "m", "home_goals": 1,
                 "away_goals": 0, "stats": {"xg": 1.2}}), "unknown stats"),
])
def test_bad_events_become_rejections_with_a_reason(raw, reason):
    out = parse_event(raw)
    assert isinstance(out, Rejection)
    assert reason in out.reason and out.raw
    record = out.to_dict(datetime(2025, 1, 1))
    assert set(record) == {"reason", "event_id", "raw", "received"}


def _stdlib_fingerprint(event) -> str:  # what checkpoints written before the orjson route hold
    text = json.dumps(event_dict(event), sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


RESULT = {"type": "result", "id": "r1", "ts": "2025-08-15T21:00:00Z", "match_id": "m1", "home_goals": 2,
          "away_goals": 0}


@pytest.mark.parametrize("event", [ODDS, {**ODDS, "id": "Zürich-1"}, {**ODDS, "match_id": "m\x7f"},
                                   {**ODDS, "id": 'q"uote\\'}, {**ODDS, "prices": {"home": 1.00001, "draw": 4.2,
                                                                                 "away": 9999.5}},
                                   {**RESULT, "stats": {"home_shots": 1e-05, "away_shots": 12.0}},
                                   {**RESULT, "stats": {"home_shots": 3e-09}}, {**ODDS, "id": "pinnacle-open-1e-5"},
                                   {**ODDS, "id": "m1e+3"}])
def test_fingerprint_is_the_standard_librarys_hash(event):
    parsed = parse_event(event)
    assert not isinstance(parsed, Rejection)
    assert fingerprint(parsed) == _stdlib_fingerprint(parsed)
    assert fingerprint(parse_event({**event, "ts": "2025-08-15T21:00:01Z"})) != fingerprint(parsed)


@pytest.mark.parametrize("event, expected", [
    (ODDS, "52e0bb9899c3e148"),
    ({**ODDS, "id": " o2 ", "ts": "2025-08-13T19:00:00.5+02:00", "bookmaker": "avg", "market": "ah", "timing": None,
      "line": -1, "prices": {"home": 2, "away": 1.5}}, "94a0cf40d8618b33"),
    ({**RESULT, "ts": "2025-08-15T21:00:00+00:00", "stats": {"home_shots": 12, "away_red": 1e-07}},
     "7d51ae4a05084713"),
    ({"type": "fixture", "id": "Zürich-1", "ts": "2025-08-08T19:00:00Z", "match_id": "m1", "league": "E0",
      "season": "2526", "home": "A", "away": "B", "kickoff": "2025-08-15T19:00:00-05:30"}, "01907ca5894777b1"),
])
def test_fingerprints_are_those_checkpoints_already_hold(event, expected):
    """Pinned from the pydantic schema the checkpoints of earlier releases were written with: the msgspec
    schema must read a padded id, an int price, microseconds, offsets and tiny floats into the same content."""
    assert fingerprint(parse_event({k: v for k, v in event.items() if v is not None})) == expected


def test_season_replay_is_time_ordered_with_stable_ids(real_load):
    matches = real_load.matches
    events = season_events(matches, "2526", ["E0", "D1"])
    again = season_events(matches, "2526", ["E0", "D1"])
    assert events == again
    assert len({e["id"] for e in events}) == len(events)
    ts = [datetime.fromisoformat(e["ts"]) for e in events]
    assert ts == sorted(ts)
    parsed = [parse_event(e) for e in events]
    assert all(not isinstance(e, Rejection) for e in parsed)
    assert all(fingerprint(e) == _stdlib_fingerprint(e) for e in parsed)
    season = matches[(matches["season"] == "2526") & matches["league"].isin(["E0", "D1"])]
    kinds = [e["type"] for e in events]
    assert kinds.count("fixture") == kinds.count("result") == len(season)
    for market, column in (("1x2", "odds_pinnacle_1x2_close_home"), ("ou25", "odds_pinnacle_ou25_close_over"),
                           ("ah", "odds_pinnacle_ah_close_home")):  # a quote per match where the file has it
        pin = [e for e in events if e["type"] == "odds" and e["bookmaker"] == "pinnacle" and e["timing"] == "close"
               and e["market"] == market]
        assert len(pin) == season[column].notna().sum() > 0
    lines = {e["line"] for e in events if e["type"] == "odds" and e["market"] == "ah"}
    assert {-0.5, 0.0, 0.25} <= lines and all(x % 0.25 == 0 for x in lines)
    first = {}
    for e in events:  # per match: fixture, opening odds, closing odds, then the result
        first.setdefault(e["match_id"], []).append((e["type"], e.get("timing")))
    for seq in first.values():
        order = [("fixture", None), ("odds", "open"), ("odds", "close"), ("result", None)]
        ranks = [order.index(s) for s in seq]
        assert ranks == sorted(ranks)
    assert latest_season(matches) == "2526"  # the mirror's newest season, found from the dates
    with pytest.raises(ValueError, match="no matches for season"):
        season_events(matches, "3031")


def test_backoff_grows_with_full_jitter_and_a_cap():
    b = Backoff(base=0.1, cap=2.0, rng=random.Random(3))
    for attempt in range(10):
        ceiling = min(2.0, 0.1 * 2 ** attempt)
        draws = [b.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in draws)
        assert max(draws) > 0.8 * ceiling  # jitter spans the range
