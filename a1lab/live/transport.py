"""The live loop's sources, sinks and checkpoints, opened by the scheme of their address.

A scheme's transport is a :class:`Transport` of openers; :data:`SCHEMES` names the built-in ones (an address
without a scheme is a file, ``-`` stdin or stdout; ``ws://`` and ``wss://`` a WebSocket feed; ``redis://`` a
Redis stream or key) and :func:`register` adds another. A transport is one module and one line here.

A commit makes the loop's work durable in this order: the sinks' messages, the checkpoint, the source's
acknowledgements. Every part names the ``store`` that commits it; consecutive parts on one store are committed
by one ``await store.commit(parts)``, which a store that can makes all or nothing (Redis: one MULTI/EXEC), so with
everything on one Redis server a commit is exactly once and otherwise at least once.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

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
