"""Sources, sinks and checkpoints of the live loop: JSONL files or stdin/stdout, and a WebSocket feed client
(the transports :data:`FILES` and :data:`WEBSOCKET`, see :mod:`a1lab.live.transport`).

A source yields raw lines (str, or bytes not yet decoded); validation is the loop's business. The
WebSocket client reconnects with exponential back-off and full jitter and asks
the server for what it missed (``since``), so a restart of either side costs no
event; events seen twice are skipped by id downstream.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus, WebSocketException

from a1lab.live.events import decode_object
from a1lab.live.transport import Transport

log = logging.getLogger("a1lab.live")


async def read_lines(path: str) -> AsyncIterator[bytes]:
    """Lines of a JSONL file, or of stdin for ``-``, as undecoded bytes (decoding is the reader's business,
    so a line of invalid UTF-8 is one bad line, not the end of the stream). Stdin is read by a daemon
    thread, so a stop never waits on it."""
    if path == "-":
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def pump() -> None:  # reads the file descriptor: a buffered reader's lock would hang interpreter exit
            fd, parts = sys.stdin.fileno(), []  # parts of the line being read (joined once: linear in its length)
            while chunk := os.read(fd, 1 << 16):
                *complete, rest = chunk.split(b"\n")
                for line in complete:
                    loop.call_soon_threadsafe(queue.put_nowait, b"".join([*parts, line, b"\n"]))
                    parts = []
                parts.append(rest)
            if any(parts):
                loop.call_soon_threadsafe(queue.put_nowait, b"".join(parts))
            loop.call_soon_threadsafe(queue.put_nowait, None)

        threading.Thread(target=pump, name="a1lab-stdin", daemon=True).start()
        while (line := await queue.get()) is not None:
            if line.strip():
                yield line
    else:
        with open(path, "rb") as f:
            for n, line in enumerate(f):
                if line.strip():
                    yield line
                if n % 256 == 0:
                    await asyncio.sleep(0)  # let signal handlers and the server run


@dataclass
class Backoff:
    """Exponential back-off with full jitter: a random wait in [0, min(cap, base * 2**attempt)].

    Attributes:
        base: first ceiling in seconds.
        cap: largest ceiling.
        rng: random source (seeded in tests).
        attempts: how many attempts in all before giving up (None: never give up).
    """

    base: float = 0.1
    cap: float = 10.0
    rng: random.Random = field(default_factory=random.Random)
    attempts: int | None = None

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt ``attempt + 1``."""
        return self.rng.uniform(0.0, min(self.cap, self.base * 2.0 ** attempt))

    def wait(self, state) -> float:
        """:meth:`delay` as a tenacity wait (its ``RetryCallState`` counts attempts from 1)."""
        return self.delay(state.attempt_number - 1)


def _with_query(url: str, **params) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update({k: str(v) for k, v in params.items() if v is not None})
    return urlunsplit(parts._replace(query=urlencode(query)))


async def websocket_lines(url: str, token: str | None = None, backoff: Backoff | None = None,
                          max_size: int = 2**24, max_attempts: int | None = None) -> AsyncIterator[str | bytes]:
    """Messages of a WebSocket feed served by :class:`a1lab.live.server.Broadcaster`, forever.

    On (re)connect it sends the last sequence number and server epoch it saw, so
    the server replays what was missed; a restarted server (new epoch) replays
    its history and the loop skips what it has seen.

    Args:
        url: ``ws://host:port/``.
        token: bearer token, if the server wants one.
        backoff: waits between attempts.
        max_size: largest message accepted (the hello carries a snapshot of every open prediction).
        max_attempts: give up after this many failed attempts in a row (None: never).
    """
    backoff = backoff or Backoff()
    headers = {"Authorization": f"Bearer {token}"} if token else None
    epoch, seq, failures = None, 0, 0
    while True:
        try:
            async with connect(_with_query(url, since=seq, epoch=epoch), additional_headers=headers,
                               max_size=max_size, open_timeout=5) as ws:
                failures = 0
                log.info("connected to %s", url)
                first = True
                async for message in ws:
                    obj = decode_object(message)
                    if first and isinstance(obj, dict) and obj.get("type") == "hello" \
                            and isinstance(obj.get("epoch"), str):  # the server's greeting: only ever the first
                        if obj["epoch"] != epoch:
                            epoch, seq = obj["epoch"], 0
                        first = False
                        continue
                    first = False
                    if isinstance(obj, dict) and type(obj.get("seq")) is int:
                        seq = obj["seq"]
                    yield message  # anything else is the loop's to validate (and dead-letter)
            log.warning("feed %s closed the connection; reconnecting", url)
        except InvalidStatus as exc:
            if exc.response.status_code in (401, 403):
                raise PermissionError(f"feed {url} refused the token (HTTP {exc.response.status_code})") from None
            log.warning("feed %s: %s", url, exc)
        except (TimeoutError, OSError, InvalidHandshake, WebSocketException) as exc:
            log.warning("feed %s unreachable: %s", url, exc)
        failures += 1
        if max_attempts is not None and failures >= max_attempts:
            raise ConnectionError(f"feed {url}: {failures} failed attempts in a row")
        wait = backoff.delay(failures - 1)
        log.info("reconnecting to %s in %.2f s (attempt %d)", url, wait, failures)
        await asyncio.sleep(wait)


class FileStore:
    """Commits file parts: flushes each in turn (a checkpoint is written whole, then renamed into place)."""

    local = True  # a sink here never waits on a server: it is never detached (a1lab.live.transport.detach)

    async def commit(self, parts: list) -> None:
        for part in parts:
            part.flush()


FILE_STORE = FileStore()


class JsonlSink:
    """Appends one JSON object per line to a file (or stdout for ``-``), line-buffered so readers see each
    message as it is emitted."""

    store = FILE_STORE

    def __init__(self, path: str):
        self.path = path
        if path == "-":
            self._file: TextIO = sys.stdout
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - closed in close()
        self.written = 0

    def write(self, message: dict) -> None:
        self._file.write(json.dumps(message, separators=(",", ":")) + "\n")
        if self._file is sys.stdout:
            self._file.flush()
        self.written += 1

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self.flush()
        if self._file is not sys.stdout:
            self._file.close()


class FileCheckpoint:
    """The loop's checkpoint in a file, replaced atomically (a temporary file, then a rename) at each commit.

    Raises:
        UsageError: the path is a folder (refused before the stream, not at its end).
    """

    store = FILE_STORE

    def __init__(self, path: str):
        from a1lab.usage import UsageError

        self.path, self.staged = Path(path), None
        if self.path.is_dir():
            raise UsageError(f"--checkpoint {path} is a folder: name a file (or '' for none)")

    def __str__(self) -> str:
        return str(self.path)

    async def load(self) -> bytes | None:
        """The file's bytes, or None when there is none yet.

        Raises:
            CheckpointError: the file is unreadable.
        """
        from a1lab.live.checkpoint import CheckpointError

        if not self.path.is_file():
            return None
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise CheckpointError(f"checkpoint {self.path}: unreadable ({exc}). To start over, delete it or pass "
                                  "--checkpoint ''") from None

    def stage(self, payload: bytes) -> None:
        self.staged = payload

    def flush(self) -> None:
        if self.staged is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_bytes(self.staged)
        os.replace(tmp, self.path)
        self.staged = None


def _path(address: str) -> str:
    return urlsplit(address).path if address.startswith("file://") else address


FILES = Transport(source=lambda address, opened: read_lines(_path(address)),
                  sink=lambda address, opened: JsonlSink(_path(address)),
                  checkpoint=lambda address, opened: FileCheckpoint(_path(address)))
WEBSOCKET = Transport(source=lambda address, opened: websocket_lines(address, opened.token,
                                                                    max_attempts=opened.attempts))
