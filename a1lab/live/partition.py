"""An event stream split by country, so that several scoring processes share the load and a club's state never
splits: ratings cross the divisions of a country (``features.divisions``), never countries.

``a1lab live route`` reads the events (a Redis stream with its own consumer group) and appends each to the stream
``<name>.<k>`` of its partition k (a stable hash of its league's country, modulo the partitions); odds and
results, which name only their match, follow the partition their fixture went to. The match-to-partition table
lives in Redis beside the streams (hash ``<name>.routes``), written with the events and the acknowledgements in
one transaction, so a restarted router routes as the one before it. Each partition is read by one ``a1lab live
run`` (its consumer group, its checkpoint); one that dies is restarted and resumes from its checkpoint, taking the
entries it left pending (:class:`a1lab.live.redis_streams.StreamSource`).

What is per partition: each process's rolling analytics and alert rules see its own matches, so alerts and the
analytics in settlements differ from one process's; predictions are the same, match for match.
"""

from __future__ import annotations

import asyncio
import json
import zlib

from a1lab.live.redis_streams import IDLE, RedisStore, RedisTarget, StreamSink, StreamSource
from a1lab.live.transport import commit


def partition_of(country: str, partitions: int) -> int:
    """A country's partition: CRC-32 of its name modulo ``partitions`` (the same on every machine and run)."""
    return zlib.crc32(country.encode()) % partitions


class Routes:
    """Match id -> partition, with the new entries buffered for the next commit (a part of
    :func:`a1lab.live.transport.commit`)."""

    def __init__(self, client, target: RedisTarget, known: dict[str, int]):
        self.client, self.target, self.known, self.buffer = client, target, dict(known), {}
        self.store = RedisStore(client)

    def add(self, match_id: str, partition: int) -> None:
        self.known[match_id] = partition
        self.buffer[match_id] = partition

    def pending(self) -> bool:
        return bool(self.buffer)

    def queue(self, pipe) -> None:
        if self.buffer:
            pipe.hset(self.target.name, mapping=self.buffer)

    def committed(self) -> None:
        self.buffer = {}


class Router:
    """Which partition an event line goes to.

    Args:
        partitions: how many.
        countries: league -> its country (leagues that are not named are countries of their own).
        routes: the match table (:class:`Routes`).
    """

    def __init__(self, partitions: int, countries: dict[str, str], routes: Routes):
        self.partitions, self.countries, self.routes = partitions, countries, routes

    def partition(self, line: bytes) -> int:
        """A fixture's partition from its league's country; any other event's from its match's fixture (a match
        with no fixture yet, or a line that is not an event, by its match id or to partition 0: the scoring
        process rejects it as one process would, with its reason)."""
        try:
            event = json.loads(line)
            match_id = str(event["match_id"])
        except (ValueError, KeyError, TypeError):
            return 0
        if event.get("type") == "fixture" and isinstance(event.get("league"), str):
            if match_id not in self.routes.known:
                league = event["league"].strip()
                self.routes.add(match_id, partition_of(self.countries.get(league, league), self.partitions))
            return self.routes.known[match_id]
        return self.routes.known.get(match_id, partition_of(match_id, self.partitions))


async def route(source: StreamSource, out: RedisTarget, partitions: int, countries: dict[str, str],
                commit_every: int = 1000, stop: asyncio.Event | None = None) -> int:
    """Route every event of ``source`` into ``<out.name>.<k>``; return how many were routed.

    Commits (the partitions' entries, the new routes and the source's acknowledgements, one transaction) every
    ``commit_every`` events and whenever the source has caught up; stops when ``stop`` is set (after a commit).
    """
    client = source.client
    routes_at = RedisTarget(out.host, out.port, out.db, f"{out.name}.routes")
    known = {k.decode(): int(v) for k, v in (await client.hgetall(routes_at.name)).items()}
    routes = Routes(client, routes_at, known)
    router = Router(partitions, countries, routes)
    sinks = [StreamSink(client, RedisTarget(out.host, out.port, out.db, f"{out.name}.{k}", out.params))
             for k in range(partitions)]
    routed = pending = 0
    async for line in source:
        if line is not IDLE:
            sinks[router.partition(line)].buffer.append(line)
            routed, pending = routed + 1, pending + 1
        if pending and (line is IDLE or pending >= commit_every):
            await commit([*sinks, routes, source])
            pending = 0
        if stop is not None and stop.is_set() and not pending:
            break
    return routed
