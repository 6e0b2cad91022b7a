"""The live loop's sources, sinks and checkpoints, opened by the scheme of their address.

A scheme's transport is a :class:`Transport` of openers; :data:`SCHEMES` names the built-in ones (an address
without a scheme is a file, ``-`` stdin or stdout; ``ws://`` and ``wss://`` a WebSocket feed; ``redis://`` a
Redis stream or key) and :func:`register` adds another. A transport is one module and one line here.

A commit makes the loop's work durable in this order: the sinks' messages, the checkpoint, the source's
acknowledgements. Every part names the ``store`` that commits it; consecutive parts on one store are committed
by one ``await store.commit(parts)``, which a store that can makes all or nothing (Redis: one MULTI/EXEC), so with
everything on one Redis server a commit is exactly once and otherwise at least once. A sink on a remote store of
its own is committed off the scoring path, behind a circuit breaker (:class:`Detached`).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

log = logging.getLogger("a1lab.live")
IDLE = object()  # a source's marker when it has caught up with its input: a commit point


class AddressError(ValueError):
    """An address that cannot be used (no transport serves its scheme, or it lacks a part), with what to write
    instead."""


class Store(Protocol):
    """Commits parts: all or nothing where it can."""

    async def commit(self, parts: list) -> None: ...


class Source(Protocol):
    """Raw event lines (str, or bytes not yet decoded) and, when it has caught up, :data:`IDLE`.
    A source that acknowledges what it read has a ``store`` (else None)."""

    store: Store | None

    def __aiter__(self) -> AsyncIterator[Any]: ...


class Sink(Protocol):
    """Messages out; what :meth:`write` takes is durable once its ``store`` committed it."""

    store: Store | None

    def write(self, message: dict) -> None: ...

    def close(self) -> None: ...


class Checkpoint(Protocol):
    """The loop's state: :meth:`load` at the start, :meth:`stage` at each commit, which its ``store`` writes."""

    store: Store

    async def load(self) -> bytes | None: ...

    def stage(self, payload: bytes) -> None: ...


class Opened:
    """What one run opened: the sources, sinks and checkpoint of its addresses, sharing one connection per
    server (a transport keeps them with :meth:`shared`); close it when the run ends.

    Args:
        token: bearer token for feeds that ask for one.
        attempts: attempts to reach a server before giving up (None: keep trying, as a long-running loop does).
    """

    def __init__(self, token: str | None = None, attempts: int | None = None):
        self.token, self.attempts = token, attempts
        self._shared: dict[Hashable, Any] = {}

    def shared(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The object kept under ``key``, made the first time (closed, if it has ``close``, with this)."""
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]

    def source(self, address: str) -> Source:
        return _opener(address, "source")(address, self)

    def follow(self, address: str) -> Source:
        """A source read without acknowledging anything (a fan-out's input)."""
        return _opener(address, "follow")(address, self)

    def sink(self, address: str) -> Sink:
        return _opener(address, "sink")(address, self)

    def checkpoint(self, address: str) -> Checkpoint | None:
        """None for ``''`` (no checkpoint)."""
        return _opener(address, "checkpoint")(address, self) if address else None

    async def close(self) -> None:
        for obj in self._shared.values():
            if hasattr(obj, "close"):
                await obj.close()
        self._shared.clear()


Opener = Callable[[str, Opened], Any]


@dataclass(frozen=True)
class Transport:
    """A scheme's openers, each ``(address, opened) -> part``; None where the scheme cannot serve."""

    source: Opener | None = None
    sink: Opener | None = None
    checkpoint: Opener | None = None
    follow: Opener | None = None  # default: ``source`` (for a scheme whose sources acknowledge nothing)


# scheme -> "module:attribute" of its Transport, imported when an address first names the scheme
SCHEMES: dict[str, str | Transport] = {"": "a1lab.live.streams:FILES", "file": "a1lab.live.streams:FILES",
                                       "ws": "a1lab.live.streams:WEBSOCKET", "wss": "a1lab.live.streams:WEBSOCKET",
                                       "redis": "a1lab.live.redis_streams:REDIS"}


def register(scheme: str, transport: Transport | str) -> None:
    """Serve addresses ``<scheme>://...`` with ``transport`` (or the ``"module:attribute"`` that holds it)."""
    SCHEMES[scheme] = transport


def scheme(address: str) -> str:
    """The address's scheme: '' for a file path (a one-letter scheme is a Windows drive)."""
    found = urlsplit(address).scheme if "://" in address else ""
    return "" if len(found) == 1 else found


def transport(address: str) -> Transport:
    """The transport of the address's scheme.

    Raises:
        AddressError: no transport serves it.
    """
    name = scheme(address)
    if name not in SCHEMES:
        known = ", ".join(f"{s}://" for s in sorted(SCHEMES) if s) + " or a file path"
        raise AddressError(f"{address!r}: no transport for {name}:// (known: {known})")
    found = SCHEMES[name]
    if isinstance(found, str):
        module, attribute = found.split(":")
        found = SCHEMES[name] = getattr(importlib.import_module(module), attribute)
    return found


def _opener(address: str, part: str) -> Opener:
    t = transport(address)
    opener = getattr(t, part) or (t.source if part == "follow" else None)
    if opener is None:
        raise AddressError(f"{address!r}: {scheme(address) or 'a file'}:// cannot be a {part}")
    return opener


async def commit(parts: list) -> None:
    """Commit ``parts`` (None and parts without a store skipped) in order, each run of consecutive parts on one
    store (compared with ``==``) by one ``store.commit``."""
    run: list = []
    for part in parts:
        store = getattr(part, "store", None)
        if store is None:
            continue
        if run and store != run[0].store:
            await run[0].store.commit(run)
            run = []
        run.append(part)
    if run:
        await run[0].store.commit(run)


class Detached:
    """A sink on a store that neither the checkpoint nor the source uses, committed off the scoring path: a hung
    or failing server never delays scoring.

    Each commit hands the messages written since the last one to a bounded queue of batches; a task sends them
    in order, each try within ``timeout`` seconds, through a circuit breaker (pybreaker) that opens after
    ``failures`` failed tries in a row and lets one try through ``reset`` seconds later. Past ``queue`` batches
    waiting, the oldest is dropped and counted. Delivery to such a sink is at least once while it answers (a try
    that timed out may have landed); the checkpoint does not wait for it, so a crash loses what the queue held.

    Args:
        sink: the sink (its ``store`` commits it).
        timeout: seconds per try.
        failures: failed tries in a row that open the breaker.
        reset: seconds an open breaker waits before a trial.
        queue: batches that may wait.
    """

    store = None  # the loop's commit never waits on it: see :meth:`hand_over`

    def __init__(self, sink: Sink, timeout: float, failures: int, reset: float, queue: int):
        import pybreaker

        self.sink, self.timeout, self.reset, self.queue = sink, timeout, reset, queue
        self.breaker = pybreaker.CircuitBreaker(fail_max=failures, reset_timeout=reset)
        self.buffer: list[dict] = []
        self.batches: deque[list[dict]] = deque()
        self.sent = self.dropped = 0
        self._trying = False  # the head batch is in the sink's buffer, its commit not yet through
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    def write(self, message: dict) -> None:
        self.buffer.append(message)

    def hand_over(self) -> None:
        """Queue what was written since the last call (called at each commit of the loop)."""
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.ensure_future(self._drain())
        if not self.buffer:
            return
        if len(self.batches) == self.queue:  # drop the oldest batch not being tried (the head may be in flight)
            if self._trying and len(self.batches) == 1:
                self.dropped, self.buffer = self.dropped + len(self.buffer), []
            else:
                self.dropped += len(self.batches[1] if self._trying else self.batches[0])
                del self.batches[1 if self._trying else 0]
            log.error("sink %s: %d messages dropped in all (its queue is full)", self.sink, self.dropped)
            if not self.buffer:
                return
        self.batches.append(self.buffer)
        self.buffer = []
        self._wake.set()

    async def _drain(self) -> None:
        import pybreaker

        while True:
            if not self.batches:
                self._wake.clear()
                await self._wake.wait()
                continue
            if not self._trying:  # the head batch goes into the sink's own buffer once, then waits for a commit
                for message in self.batches[0]:
                    self.sink.write(message)
                self._trying = True
            try:
                with self.breaker.calling():
                    await asyncio.wait_for(self.sink.store.commit([self.sink]), self.timeout)
            except pybreaker.CircuitBreakerError:
                await asyncio.sleep(min(1.0, self.reset))  # open: until the breaker lets a trial through
                continue
            except Exception as exc:  # noqa: BLE001 - any failure of the sink counts against its breaker
                log.warning("sink %s: %s", self.sink, str(exc) or f"no answer within {self.timeout:g} s")
                await asyncio.sleep(min(1.0, self.reset))
                continue
            self.sent += len(self.batches.popleft())
            self._trying = False

    @property
    def state(self) -> str:
        """The breaker's state: closed, open or half-open."""
        return self.breaker.current_state

    async def close(self, wait: float) -> None:
        """Hand over what is left, wait up to ``wait`` seconds for the queue to empty, then stop."""
        self.hand_over()
        deadline = asyncio.get_running_loop().time() + wait
        while self.batches and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        if self.batches:
            self.dropped += sum(map(len, self.batches))
            log.error("sink %s: %d messages not delivered at the end", self.sink, sum(map(len, self.batches)))
        self._task.cancel()
        self.sink.close()


def detach(sinks: list[Sink], checkpoint: Checkpoint | None, source: Source | None, settings) -> list[Sink]:
    """``sinks`` with each one on a remote store of its own (one that neither ``checkpoint`` nor ``source`` uses)
    wrapped in :class:`Detached`, with the breaker settings of the alert channels (``settings``: the validated
    ``monitoring`` section: ``timeout``, ``breaker``, ``queue``)."""
    own = {getattr(part, "store", None) for part in (checkpoint, source)}
    return [Detached(s, settings.timeout, settings.breaker.failures, settings.breaker.reset, settings.queue)
            if s.store not in own and not getattr(s.store, "local", False) else s for s in sinks]
