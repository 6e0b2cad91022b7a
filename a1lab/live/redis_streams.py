"""Redis Streams as the live loop's source, sink and checkpoint store (redis-py's asyncio client).

Addresses are URLs: ``redis://HOST:PORT/DB?stream=NAME&group=G&consumer=C`` for a source,
``redis://HOST:PORT/DB?stream=NAME&maxlen=N`` for a sink, ``redis://HOST:PORT/DB?key=NAME``
for a checkpoint. Every entry carries its JSON in one field, ``data``.

Delivery: the source reads with a consumer group (XREADGROUP) and acknowledges
nothing when it reads. At a commit point the loop's buffered messages, its
checkpoint and the acknowledgements of the entries behind them go to Redis
together; parts on one server are one MULTI/EXEC transaction, so with sinks,
checkpoint and source on one server a commit is all or nothing (exactly once);
across servers the order is sinks, checkpoint, acknowledgements (at least once).
A restart resumes from the checkpoint, re-reads its own pending entries first
and claims entries other consumers left pending longer than ``claim_idle_ms``;
the event ids make re-processing effectively once. A lost connection is retried
with back-off; a read or claim cut off with it may have handed entries over
(they wait in this consumer's pending list, where a read of new entries never
looks), so the next read takes the pending entries not yet yielded first; a
commit whose answer was lost is looked up by the commit number stored with the
checkpoint before it is sent again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, stop_never

from a1lab.data.errors import DataUnavailableError
from a1lab.live.streams import Backoff
from a1lab.live.transport import IDLE, AddressError, Transport

log = logging.getLogger("a1lab.live")
FIELD = b"data"
RETRY = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)


@dataclass(frozen=True)
class RedisTarget:
    """A stream or key on a Redis server, from a ``redis://`` URL.

    Attributes:
        host: server host.
        port: server port.
        db: database number.
        name: the stream (``?stream=``) or key (``?key=``).
        params: the other query parameters.
    """

    host: str
    port: int
    db: int
    name: str
    params: dict = field(default_factory=dict)

    @classmethod
    def parse(cls, url: str, kind: str = "stream") -> RedisTarget:
        """Read ``redis://HOST:PORT/DB?<kind>=NAME&...``.

        Raises:
            AddressError: not a redis URL, or without the stream or key name.
        """
        parts = urlsplit(url)
        if parts.scheme != "redis":
            raise AddressError(f"{url!r} is not a redis:// URL")
        params = dict(parse_qsl(parts.query))
        name = params.pop(kind, "")
        if not name:
            raise AddressError(f"{url!r} names no {kind}: add ?{kind}=NAME")
        db = parts.path.strip("/") or "0"
        if not db.isdigit():
            raise AddressError(f"{url!r}: the database must be a number, got {db!r}")
        try:
            port = parts.port or 6379
        except ValueError as exc:
            raise AddressError(f"{url!r}: {exc}") from None
        return cls(parts.hostname or "127.0.0.1", port, int(db), name, params)

    @property
    def server(self) -> tuple[str, int, int]:
        return self.host, self.port, self.db


class Connections:
    """One client per server, shared by source, sinks and checkpoint so that a commit can be one transaction."""

    def __init__(self) -> None:
        self._clients: dict[tuple, aioredis.Redis] = {}

    def client(self, target: RedisTarget) -> aioredis.Redis:
        if target.server not in self._clients:
            # no retries inside redis-py: a transaction resent blindly could apply twice (see commit)
            self._clients[target.server] = aioredis.Redis(host=target.host, port=target.port, db=target.db,
                                                          socket_connect_timeout=5, socket_timeout=30,
                                                          retry=Retry(NoBackoff(), 0))
        return self._clients[target.server]

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


async def _retrying(what: str, call, backoff: Backoff):
    """``await call()``, retried with back-off (tenacity) while the server is unreachable, for ``backoff.attempts``
    attempts (None: for ever).

    Raises:
        DataUnavailableError: the last attempt failed too.
    """
    def waiting(state):
        log.warning("redis %s: %s; retrying in %.2f s", what, state.outcome.exception(), state.next_action.sleep)

    async def attempt():  # tenacity calls a plain function (a lambda returning a coroutine) without awaiting it
        return await call()

    stop = stop_never if backoff.attempts is None else stop_after_attempt(backoff.attempts)
    try:
        return await AsyncRetrying(retry=retry_if_exception_type(RETRY), wait=backoff.wait, stop=stop,
                                   before_sleep=waiting, reraise=True)(attempt)
    except RETRY as exc:
        raise DataUnavailableError(f"redis {what}: {exc}") from None


@dataclass(frozen=True)
class RedisStore:
    """Commits the parts on one server (sinks' buffers, a checkpoint, a source's acknowledgements) as one MULTI/EXEC
    transaction, retried while the server is unreachable unless the checkpoint's commit number shows the server
    applied it (its answer was lost). Stores compare equal when their client is the same."""

    client: aioredis.Redis
    backoff: Backoff = field(default_factory=Backoff, compare=False)

    async def commit(self, parts: list) -> None:
        checkpoints = [p for p in parts if isinstance(p, RedisCheckpoint) and p.staged is not None]
        if not any(p.pending() for p in parts):
            return

        async def send() -> None:
            for cp in checkpoints:
                number = await self.client.get(cp.counter)
                if number is not None and int(number) == cp.commits + 1:
                    return  # the last attempt was applied; its answer was lost
            async with self.client.pipeline(transaction=True) as pipe:
                for part in parts:
                    part.queue(pipe)
                await pipe.execute()

        pool = self.client.connection_pool.connection_kwargs
        await _retrying(f"commit to {pool.get('host')}:{pool.get('port')}", send, self.backoff)
        for part in parts:
            part.committed()


class StreamSource:
    """Entries of a stream read with a consumer group: ``data`` fields as bytes, and :data:`IDLE` whenever it has
    caught up (a read returned less than a full batch), so a backlog is committed every ``commit_every`` events
    and a live feed at once.

    Args:
        client: the server's client.
        target: stream, with ``group`` (default ``a1lab``), ``consumer`` (default ``live``), ``count`` (entries
            per read, 256), ``block_ms`` (wait for new entries, 100: an idle source says so ten times a second,
            when the loop may commit, see ``commit_interval`` of :func:`a1lab.live.runtime.drive`),
            ``claim_idle_ms`` (claim other consumers' entries pending this long, 60000).
        backoff: waits between attempts while the server is unreachable.
    """

    def __init__(self, client: aioredis.Redis, target: RedisTarget, backoff: Backoff | None = None):
        self.client, self.target, self.backoff = client, target, backoff or Backoff()
        p = target.params
        self.group, self.consumer = p.get("group", "a1lab"), p.get("consumer", "live")
        self.count, self.block_ms = int(p.get("count", 256)), int(p.get("block_ms", 100))
        self.claim_idle_ms = int(p.get("claim_idle_ms", 60_000))
        self.unacked: list[bytes] = []  # ids yielded since the last commit
        self.read = 0
        self.store = RedisStore(client, self.backoff)
        self._cut = False  # a read or claim failed: the server may have handed out entries whose answer was lost

    async def _ensure_group(self) -> None:
        try:
            await self.client.xgroup_create(self.target.name, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read(self, start: bytes | str) -> list:
        async def call():
            try:
                if start == ">" and self._cut:  # first what a cut-off read or claim handed over, in stream order
                    lost = await self._lost()
                    self._cut = False
                    if lost:
                        return [[self.target.name, lost]]
                return await self.client.xreadgroup(self.group, self.consumer, {self.target.name: start},
                                                    count=self.count, block=None if start != ">" else self.block_ms)
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                await self._ensure_group()  # the server lost the group (no persistence): read from the start
                return []
            except RETRY:
                self._cut = True
                raise

        answer = await _retrying(f"read {self.target.name}", call, self.backoff)
        return answer[0][1] if answer else []

    async def _lost(self) -> list:
        """This consumer's pending entries not yielded since the last commit: what the server handed over in an
        answer that never arrived (a read or claim cut off with the connection)."""
        yielded, lost, last = set(self.unacked), [], b"0"
        while answer := await self.client.xreadgroup(self.group, self.consumer, {self.target.name: last},
                                                     count=self.count):
            entries = answer[0][1]
            if not entries:
                break
            lost += [e for e in entries if e[0] not in yielded]
            last = entries[-1][0]
        return lost

    async def _claim(self) -> list:
        entries, start = [], "0-0"

        async def call(s):
            try:
                return await self.client.xautoclaim(self.target.name, self.group, self.consumer, self.claim_idle_ms,
                                                    start_id=s, count=self.count)
            except RETRY:
                self._cut = True  # claimed entries whose answer was lost are this consumer's now: see _read
                raise

        while True:
            answer = await _retrying("claim", lambda s=start: call(s), self.backoff)
            start, claimed = answer[0], answer[1]
            entries += claimed
            if start in (b"0-0", "0-0") or not claimed:
                return entries

    def _entry(self, entry_id: bytes, fields: dict | None) -> bytes:
        self.unacked.append(entry_id)
        self.read += 1
        value = (fields or {}).get(FIELD)
        if value is None:
            return f"<stream entry {entry_id.decode()} has no 'data' field>".encode()
        return value

    async def __aiter__(self) -> AsyncIterator[bytes | object]:
        await _retrying("create group", self._ensure_group, self.backoff)
        last = b"0"  # first the entries this consumer was given before a restart and never acknowledged
        while entries := await self._read(last):
            for entry_id, fields in entries:
                yield self._entry(entry_id, fields)
            last = entries[-1][0]
        yield IDLE
        for entry_id, fields in await self._claim():
            yield self._entry(entry_id, fields)
        while True:
            entries = await self._read(">")
            for entry_id, fields in entries:
                yield self._entry(entry_id, fields)
            if len(entries) < self.count:
                yield IDLE

    def pending(self) -> bool:
        return bool(self.unacked)

    def queue(self, pipe) -> None:
        if self.unacked:
            pipe.xack(self.target.name, self.group, *self.unacked)

    def committed(self) -> None:
        self.unacked = []


class StreamSink:
    """Messages for a stream, buffered until the next commit, trimmed to about ``maxlen`` entries (default 100000;
    ``exact=1`` trims exactly)."""

    def __init__(self, client: aioredis.Redis, target: RedisTarget, backoff: Backoff | None = None):
        self.client, self.target, self.store = client, target, RedisStore(client, backoff or Backoff())
        self.maxlen = int(target.params.get("maxlen", 100_000))
        self.approximate = target.params.get("exact", "0") != "1"
        self.buffer: list[bytes] = []
        self.written = 0

    def __str__(self) -> str:
        return f"redis://{self.target.host}:{self.target.port}/{self.target.db}?stream={self.target.name}"

    def write(self, message: dict) -> None:
        self.buffer.append(json.dumps(message, separators=(",", ":")).encode())
        self.written += 1

    def close(self) -> None:
        """Nothing to close: the client is shared (:class:`Connections`)."""

    def pending(self) -> bool:
        return bool(self.buffer)

    def queue(self, pipe) -> None:
        for data in self.buffer:
            pipe.xadd(self.target.name, {FIELD: data}, maxlen=self.maxlen, approximate=self.approximate)

    def committed(self) -> None:
        self.buffer = []


class RedisCheckpoint:
    """The loop's checkpoint under a key, with the number of the commit that wrote it under ``KEY:commit``."""

    def __init__(self, client: aioredis.Redis, target: RedisTarget, backoff: Backoff | None = None):
        self.client, self.target, self.key, self.backoff = client, target, target.name, backoff or Backoff()
        self.counter, self.store = f"{self.key}:commit", RedisStore(client, self.backoff)
        self.commits, self.staged = 0, None

    def __str__(self) -> str:
        return f"redis://{self.target.host}:{self.target.port}/{self.target.db}?key={self.key}"

    async def load(self) -> bytes | None:
        data, number = await _retrying("load checkpoint", lambda: self.client.mget(self.key, self.counter),
                                       self.backoff)
        self.commits = int(number or 0)
        return data

    def stage(self, payload: bytes) -> None:
        self.staged = payload

    def pending(self) -> bool:
        return self.staged is not None

    def queue(self, pipe) -> None:
        if self.staged is not None:
            pipe.set(self.key, self.staged)
            pipe.set(self.counter, self.commits + 1)

    def committed(self) -> None:
        if self.staged is not None:
            self.commits, self.staged = self.commits + 1, None


async def stream_lines(client: aioredis.Redis, target: RedisTarget, backoff: Backoff | None = None
                       ) -> AsyncIterator[bytes]:
    """Entries of a stream without a group (XREAD), from ``?from=ID`` (default ``0``: the start; ``$``: only
    new ones), forever; reconnects with back-off and goes on after the last entry seen."""
    backoff = backoff or Backoff()
    last = target.params.get("from", "0")
    if last == "$":  # the newest entry now, so that nothing appended between two reads is missed
        newest = await _retrying("read", lambda: client.xrevrange(target.name, count=1), backoff)
        last = newest[0][0] if newest else "0-0"
    block = int(target.params.get("block_ms", 1000))
    while True:
        answer = await _retrying("read", lambda s=last: client.xread({target.name: s}, count=256, block=block),
                                 backoff)
        for entry_id, fields in answer[0][1] if answer else []:
            last = entry_id
            if fields and FIELD in fields:
                yield fields[FIELD]


def _connections(opened) -> Connections:
    return opened.shared("redis", Connections)


def _opener(make, kind: str = "stream"):
    def open_(address: str, opened):
        target = RedisTarget.parse(address, kind)
        return make(_connections(opened).client(target), target, Backoff(attempts=opened.attempts))
    return open_


REDIS = Transport(source=_opener(StreamSource), sink=_opener(StreamSink), checkpoint=_opener(RedisCheckpoint, "key"),
                  follow=_opener(stream_lines))
