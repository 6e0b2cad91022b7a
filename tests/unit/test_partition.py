"""Routing events by country: a fixture goes to its country's partition, its odds and result follow it, and a
country's divisions stay together."""

from __future__ import annotations

import json

from a1lab.live.partition import Router, Routes, partition_of


def router(partitions=4, countries=None):
    return Router(partitions, countries or {}, Routes(None, None, {}))


def line(**event) -> bytes:
    return json.dumps(event).encode()


def test_a_match_follows_its_fixture_and_a_country_stays_together():
    r = router(countries={"E0": "England", "E1": "England"})
    england = partition_of("England", 4)
    assert r.partition(line(type="fixture", match_id="a", league="E0")) == england
    assert r.partition(line(type="fixture", match_id="b", league="E1")) == england  # one country, one state
    assert r.partition(line(type="odds", match_id="a")) == england
    assert r.partition(line(type="result", match_id="b")) == england
    assert r.partition(line(type="fixture", match_id="c", league="SP1")) == partition_of("SP1", 4)
    assert r.routes.buffer == {"a": england, "b": england, "c": partition_of("SP1", 4)}  # committed with the events


def test_what_names_no_known_fixture_still_lands_somewhere_the_scorer_rejects_it():
    r = router()
    assert r.partition(b"not json") == 0 and r.partition(line(type="odds")) == 0
    assert r.partition(line(type="odds", match_id="zz")) == partition_of("zz", 4)
    r.partition(line(type="fixture", match_id="a", league="E0"))
    again = r.partition(line(type="fixture", match_id="a", league="SP1"))  # a repeated fixture keeps its route
    assert again == partition_of("E0", 4)


def test_a_restarted_router_routes_as_the_one_before():
    first = router()
    first.partition(line(type="fixture", match_id="a", league="I1"))
    restarted = Router(4, {}, Routes(None, None, first.routes.known))
    assert restarted.partition(line(type="result", match_id="a")) == partition_of("I1", 4)
    assert partition_of("England", 7) == partition_of("England", 7) == 469191187 % 7  # CRC-32, not hash()
