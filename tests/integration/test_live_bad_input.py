"""Hostile input to the live event schema and loop, in-process: strict types, conflicting duplicates,
atomic events (an exception rolls the loop back) and properties over arbitrary input (issue 11)."""

from __future__ import annotations

import copy
import json
import math
from datetime import timedelta

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from a1lab import registry
from a1lab.features import build_features
from a1lab.live.events import Fixture, Odds, Rejection, Result, fingerprint, parse_event
from a1lab.live.loop import Loop
from a1lab.live.replay import Offsets, season_events
from a1lab.testing import first_difference, loop_config

RESULT = {"type": "result", "id": "r", "ts": "2025-08-15T21:00:00Z", "match_id": "m", "home_goals": 1,
          "away_goals": 0, "stats": {"home_shots": 12}}
ODDS = {"type": "odds", "id": "o", "ts": "2025-08-13T19:00:00Z", "match_id": "m", "bookmaker": "pinnacle",
        "timing": "open", "prices": {"home": 1.5, "draw": 4.2, "away": 6.5}}
FIXTURE = {"type": "fixture", "id": "f", "ts": "2025-08-08T19:00:00Z", "match_id": "m", "league": "E0",
           "season": "2526", "home": "A", "away": "B", "kickoff": "2025-08-15T19:00:00Z"}


@pytest.mark.parametrize("raw, words", [
    (json.dumps(RESULT).replace("12}", "Infinity}"), "Infinity"),
    (json.dumps(RESULT).replace("12}", "1e999}"), "stats.home_shots"),
    (json.dumps({**RESULT, "home_goals": True}), "home_goals: Expected `int`, got `bool`"),
    (json.dumps({**RESULT, "away_goals": False}), "away_goals: Expected `int`, got `bool`"),
    (json.dumps({**RESULT, "home_goals": 1.0}), "home_goals: Expected `int`, got `float`"),
    (json.dumps({**RESULT, "stats": {"home_shots": True}}), "stats.home_shots"),
    (json.dumps({**ODDS, "prices": {"home": True, "draw": 4.2, "away": 6.5}}), "prices.home"),
    (json.dumps({**ODDS, "prices": {"home": "2.0", "draw": 4.2, "away": 6.5}}), "prices.home"),
    (json.dumps({**FIXTURE, "kickoff": "9999-12-31T23:59:59-23:59"}), "kickoff"),
    (json.dumps({**FIXTURE, "kickoff": "0001-01-01T00:00:00Z"}), "kickoff"),
    (json.dumps({**FIXTURE, "ts": "1600-01-01T00:00:00Z"}), "ts"),
    (json.dumps({**FIXTURE, "home": "x" * 500}), "home"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    (b'{"id": "\xc3\x28"}', "not UTF-8"),
    ('{"type": "hello"}', "hello"),
    (json.dumps({**FIXTURE, "home": "\ud800"}), "home: not valid Unicode"),  # what no fingerprint can hash
    (json.dumps({**FIXTURE, "season": " 25/26"}), "season"),
    (json.dumps({**FIXTURE, "id": "   "}), "id: must have 1 to 200 characters"),
    (json.dumps({**ODDS, "bookmaker": "Pinnacle"}), "bookmaker"),
    (json.dumps({**ODDS, "prices": {**ODDS["prices"], "x2": 3.0}}), "unknown field `x2`"),
    (json.dumps({**RESULT, "stats": {"home_shots": 10**400}}), "stats.home_shots: must be a number"),
    (json.dumps({**RESULT, "ts": 1755111600}), "ts: Expected `datetime`, got `int`"),  # ISO 8601, not epochs
    (json.dumps({**RESULT, "ts": "2025-08-15T21:00"}), "ts: Expected `datetime` with a timezone"),
])
def test_hostile_events_are_rejections_with_a_reason(raw, words):
    out = parse_event(raw)
    assert isinstance(out, Rejection) and words in out.reason


@pytest.mark.parametrize("ts", ["2025-08-15T21:00Z", "2025-08-15 21:00:00+00:00", "20250815T210000Z",
                                "2025-08-15T23:00+02:00"])
def test_iso_8601_times_beyond_rfc_3339_are_read(ts):
    """A time without seconds or in the basic format is ISO 8601 (what the schema promises) but not RFC 3339,
    which the one-pass decoder reads: the slow route reads it, as a line and as an object."""
    expected = parse_event(json.dumps(RESULT))
    for raw in (json.dumps({**RESULT, "ts": ts}), {**RESULT, "ts": ts}):
        out = parse_event(raw)
        assert isinstance(out, Result) and out.ts == expected.ts
        assert (fingerprint(out) == fingerprint(expected)) == (ts != "2025-08-15T23:00+02:00")  # offset kept


def test_names_are_stripped_and_unknown_fields_ignored():
    out = parse_event(json.dumps({**FIXTURE, "id": " f ", "home": "\tA FC ", "referee": "X"}))
    assert isinstance(out, Fixture) and (out.id, out.home, out.type) == ("f", "A FC", "fixture")
    assert fingerprint(out) == fingerprint(parse_event(json.dumps({**FIXTURE, "id": "f", "home": "A FC"})))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20)


def _finite_event(event) -> bool:
    numbers = [event.home_goals, event.away_goals, *event.stats.values()] if isinstance(event, Result) else (
        [v for v in event.quote() if v is not None] if isinstance(event, Odds) else [])
    return all(type(n) in (int, float) and math.isfinite(n) for n in numbers)


@settings(max_examples=500, deadline=None)
@given(st.one_of(JSON, st.binary(max_size=200), st.text(max_size=200)))
def test_parse_event_never_raises_on_arbitrary_input(raw):
    inputs = [raw] if isinstance(raw, (str, bytes)) else [json.dumps(raw), *([raw] if isinstance(raw, dict) else [])]
    for value in inputs:
        assert isinstance(parse_event(value), (Rejection, Fixture, Odds, Result))


@settings(max_examples=500, deadline=None)
@given(st.sampled_from([RESULT, ODDS, FIXTURE]), st.text(max_size=12), JSON)
def test_any_field_set_to_any_value_gives_a_finite_event_or_a_rejection(base, key, value):
    """And the same event whether it comes as a line or as a decoded object."""
    for target in (base, {**base, "prices": {**ODDS["prices"]}, "stats": {**RESULT["stats"]}}):
        event = {**target}
        if key in ("home", "draw", "away") and "prices" in base:
            event["prices"] = {**base["prices"], key: value}
        else:
            event[key or "id"] = value
        outs = [parse_event(raw) for raw in (event, json.dumps(event, default=str))]
        for out in outs:
            assert isinstance(out, Rejection) or _finite_event(out)
        if not isinstance(outs[1], Rejection):  # a line's one-pass route agrees with the decoded object's
            assert outs[1] == outs[0] and fingerprint(outs[1]) == fingerprint(outs[0])


@pytest.fixture(scope="module")
def lab_loop(live_lab):
    """A loop factory over E0 2025/26 with opening odds six days early (so results revise predictions):
    the feature state after the history is built once and copied."""
    events = season_events(live_lab["matches"], "2526", ["E0"], offsets=Offsets(open=timedelta(days=6)))
    history = live_lab["matches"][live_lab["matches"]["kickoff"] < pd.Timestamp(events[0]["ts"])]
    _, state = build_features(history, live_lab["config"])
    model = registry.load("xgb", root=live_lab["registry"])
    return lambda models=None: Loop(models or [model], copy.deepcopy(state), loop_config()), events


def _feed(loop: Loop, events) -> list:
    out = []
    for e in events:
        out += loop.process(parse_event(json.dumps(e)))
    return [m for m in out if isinstance(m, dict)]


def test_a_conflicting_duplicate_is_rejected_and_an_identical_one_skipped(lab_loop):
    make, events = lab_loop
    loop = make()
    _feed(loop, events[:40])
    odds = next(e for e in events[:40] if e["type"] == "odds")
    fake = {**odds, "prices": {"home": 1.01, "draw": 40.0, "away": 80.0}}
    out = loop.process(parse_event(fake))
    assert isinstance(out[0], Rejection) and out[0].dead and "conflicting duplicate" in out[0].reason
    same = loop.process(parse_event(odds))
    assert isinstance(same[0], Rejection) and not same[0].dead
    assert loop.counts["duplicates"] == 1 and loop.counts["rejected"] == 1


class _Failing:
    """A registered model that raises on demand: stands in for any fault while an event is applied."""

    def __init__(self, model):
        self.model, self.fail = model, False

    def __getattr__(self, name):
        return getattr(self.model, name)

    def predict_proba(self, frame):
        self._maybe_crash()
        return self.model.predict_proba(frame)

    def proba_and_contributions(self, frame):
        self._maybe_crash()
        return self.model.proba_and_contributions(frame)

    def _maybe_crash(self):
        if self.fail:
            raise RuntimeError("model crashed")


@pytest.mark.parametrize("kind", ["result", "odds"])
def test_an_exception_while_applying_an_event_leaves_the_loop_as_it_was(lab_loop, kind):
    """A result that re-scores later matches (the state is updated before the model is called), or a quote
    that scores its match after a day of results (reading its features flushes them into the league's
    state first): the model fails, and the loop is as before the event, feature state included."""
    make, events = lab_loop
    reference = make()
    expected = _feed(reference, events)
    scoring = {m["event_id"] for m in expected if m["type"] == "prediction"}
    probe, k = make(), None
    for i, e in enumerate(events):  # the first such event whose success changes the feature state
        before = json.dumps(probe.state.to_dict(), sort_keys=True) if e["id"] in scoring else None
        probe.process(parse_event(json.dumps(e)))
        if e["type"] == kind and before is not None and json.dumps(probe.state.to_dict(), sort_keys=True) != before:
            k = i
            break
    assert k is not None
    failing = _Failing(reference.models[0])
    loop = make([failing])
    got = _feed(loop, events[:k])
    before = json.dumps(loop.to_dict(), sort_keys=True)
    failing.fail = True
    out = loop.process(parse_event(events[k]))
    assert len(out) == 1 and isinstance(out[0], Rejection) and "RuntimeError: model crashed" in out[0].reason
    after = loop.to_dict()
    after["counts"]["rejected"] -= 1
    assert json.dumps(after, sort_keys=True) == before
    failing.fail = False
    got += _feed(loop, events[k:])  # the same event again, now that it can be applied
    assert first_difference(got, expected) is None


ANY_LINE = st.one_of(st.binary(max_size=80), st.text(max_size=80), JSON.map(lambda v: json.dumps(v)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_stream_is_accounted_for_and_never_crashes_the_loop(lab_loop, data):
    make, events = lab_loop
    good = [json.dumps(e) for e in events[:120]]
    picks = data.draw(st.lists(st.integers(0, len(good) - 1), max_size=60))
    mutated = data.draw(st.lists(st.tuples(st.integers(0, len(good) - 1), st.text(max_size=8), JSON), max_size=10))
    lines = [good[i] for i in sorted(picks)]
    for i, key, value in mutated:
        lines.append(json.dumps({**json.loads(good[i]), key or "id": value}, default=str))
    lines += data.draw(st.lists(ANY_LINE, max_size=10))
    lines = data.draw(st.permutations(lines))
    loop = make()
    rejected = 0
    for line in lines:
        event = parse_event(line)
        if isinstance(event, Rejection):
            rejected += 1
            continue
        for msg in loop.process(event):
            assert isinstance(msg, (Rejection, dict))
            if isinstance(msg, dict):
                assert all(math.isfinite(v) for v in (msg.get("p") or {}).values())
    c = loop.counts
    assert c["events"] + c["duplicates"] + c["seen_before_restart"] + c["rejected"] + rejected == len(lines)
    make().restore(json.loads(json.dumps(loop.to_dict())))  # and its checkpoint can be resumed from


def test_stdin_lines_are_read_whole_across_chunks_and_without_a_final_newline():
    """The stdin reader splits on newlines itself (it reads the descriptor): long lines, lines across
    64 KiB reads and a last line without a newline all come through once, blank lines do not."""
    import subprocess
    import sys

    code = ("import asyncio\nfrom a1lab.live.streams import read_lines\n"
            "async def main():\n    print([len(x) async for x in read_lines('-')])\nasyncio.run(main())\n")
    data = b"a\n" + b"x" * (3 * 2**20) + b"\n\n\xff\xfe\n" + b"y" * 70_000 + b"\ntail"
    out = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, timeout=60, check=True)
    assert out.stdout.decode().strip() == str([2, 3 * 2**20 + 1, 3, 70_001, 4])


def test_a_failed_closing_quote_of_the_market_book_rolls_back_the_alert_rules(lab_loop):
    """Only events that can move the alert rules (results, the market book's quotes) have them copied before
    they are applied; such an event that fails after a rule has moved leaves the rules as they were."""
    from a1lab.monitoring.alerts import AlertBook, Rule

    class FailingBook(AlertBook):  # a rule's state moves, then the event fails
        armed = False

        def observe(self, metric, value, now):
            out = super().observe(metric, value, now)
            if self.armed:
                raise RuntimeError("alert channel crashed")
            return out

    make, events = lab_loop
    loop = make()
    loop.alerts = FailingBook([Rule("move", "odds_move", kind="anomaly", detector="zscore", sensitivity=4.0,
                                    warmup=5, cooldown=0)])
    closes = [i for i, e in enumerate(events) if e["type"] == "odds" and e["timing"] == "close"
              and e["bookmaker"] == loop.config.market_book and e["market"] == "1x2"]
    k = closes[20]
    _feed(loop, events[:k])
    before = json.dumps(loop.to_dict(), sort_keys=True)
    loop.alerts.armed = True
    out = loop.process(parse_event(events[k]))
    assert isinstance(out[0], Rejection) and "alert channel crashed" in out[0].reason
    after = loop.to_dict()
    after["counts"]["rejected"] -= 1
    assert json.dumps(after, sort_keys=True) == before
    other = next(e for e in events[k:] if e["type"] == "odds" and e["bookmaker"] != loop.config.market_book)
    goals = next(e for e in events[k:] if e["type"] == "odds" and e["bookmaker"] == loop.config.market_book
                 and e["market"] != "1x2")  # over/under and handicap quotes move no rule
    assert not loop._may_alert(parse_event(other)) and loop._may_alert(parse_event(events[k]))
    assert not loop._may_alert(parse_event(goals))


def test_a_result_that_fails_while_rescoring_leaves_the_loop_as_it_was(lab_loop):
    """A result settles its match, feeds the feature state, the window and the totals, then re-scores later
    matches of its league; a failure there puts every one of those back (the whole savepoint)."""
    from a1lab.live.scoring import Scorer

    class FailingScorer(Scorer):
        def predict(self, frame):
            raise RuntimeError("scoring crashed")

    make, events = lab_loop
    loop = make()
    results = [i for i, e in enumerate(events) if e["type"] == "result"]
    start = results[60]
    _feed(loop, events[:start])

    def rescores(event) -> bool:  # a later match of one of its teams has a prediction
        m = loop.matches[event["match_id"]]
        teams = {m["home"], m["away"]}
        return any(o["prediction"] is not None and o["day"] > m["day"] and teams & {o["home"], o["away"]}
                   for o in loop.matches.values())

    k = start
    while events[k]["type"] != "result" or not rescores(events[k]):
        loop.process(parse_event(events[k]))
        k += 1
    before = json.dumps(loop.to_dict(), sort_keys=True)
    inputs = {k: v.copy() for k, v in loop.standing.inputs.items()}
    good = loop.scorer
    loop.scorer = FailingScorer(loop.models, loop.config, loop.timing)
    out = loop.process(parse_event(events[k]))
    assert isinstance(out[0], Rejection) and "scoring crashed" in out[0].reason
    after = loop.to_dict()
    after["counts"]["rejected"] -= 1
    assert json.dumps(after, sort_keys=True) == before
    assert inputs.keys() == loop.standing.inputs.keys()
    assert all((inputs[k] == v).all() or pd.isna(inputs[k]).all() for k, v in loop.standing.inputs.items())
    loop.scorer = good  # and the same result applies once the scorer works
    settled = [m for m in loop.process(parse_event(events[k])) if isinstance(m, dict) and m["type"] == "settlement"]
    assert len(settled) == 1 and loop.counts["settled"] == sum(1 for i in results if i <= k)


def test_a_savepoint_copies_every_field_of_the_standing():
    """Whatever an event may change lives in Standing; a field added there without its copy in the
    savepoint would not be rolled back."""
    from dataclasses import fields

    from a1lab.live.standing import Savepoint, Standing

    assert {f.name for f in fields(Standing)} == {f.name for f in fields(Savepoint)} - {"match_id"}
