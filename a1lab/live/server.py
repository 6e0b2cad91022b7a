"""The streaming server: broadcasts every published message to every connected WebSocket client.

- Binds 127.0.0.1 unless told otherwise, and refuses any other address without a
  bearer token (``Authorization: Bearer ...`` header or ``?token=``); a browser's
  WebSocket from another origin is refused (403); without a token, a request whose
  ``Host`` is not a loopback name is refused (403: a page of another site that has
  its name resolve to 127.0.0.1, DNS rebinding, reads nothing); incoming messages
  above ``max_size`` close the connection.
- On connect a client gets ``{"type": "hello", "epoch", "seq", "snapshot"}``: the
  current prediction of every unsettled match. A client that sends ``?since=N``
  (and the ``epoch`` it knew) then gets the messages after N it missed; from
  another epoch (the server restarted), the whole history kept.
- Each message carries ``seq`` (its number in this epoch) and ``sent`` (server time).
- A client whose unsent data exceeds ``slow_bytes`` is dropped, with a log line,
  so it never slows the others (also while it catches up on the history); new
  clients are refused while all clients' unsent data exceeds ``total_bytes``.
- ``GET /health`` answers JSON: clients, seq, published, dropped, and from a loop in the same process
  its readiness (models loaded, source connected, last event age, lag); 503 while not ready.
- ``GET /metrics``: Prometheus text (a1lab.live.metrics); ``GET /``: the dashboard page (no network
  needed: hand-written JavaScript; open it with ``?token=`` when the server wants one).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from importlib.resources import files
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.connection import broadcast
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from a1lab.live.events import decode_object, line_text
from a1lab.live.metrics import LiveMetrics

log = logging.getLogger("a1lab.live.server")
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class PipelinedRequests(logging.Filter):
    """websockets answers the first of several HTTP requests a client sends at once, then fails an internal
    assertion and logs its traceback; this filter logs one line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, AssertionError) and record.getMessage() == "unexpected internal error":
            log.info("a client sent several HTTP requests at once: the first was answered, the connection closed")
            return False
        return True


class BindError(ValueError):
    """The server cannot or must not listen where it was told (a bad address, a port in use, no token off
    loopback)."""


def host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``:PORT``, host 127.0.0.1) as a pair.

    Raises:
        BindError: not of that form, or a port outside 0-65535.
    """
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise BindError(f"{text!r} is not HOST:PORT with a port from 0 to 65535 (e.g. 127.0.0.1:8765)")
    return host.strip("[]") or "127.0.0.1", int(port)


def dashboard_page() -> bytes:
    """The dashboard (read when asked, so an edited page shows without a restart)."""
    return files("a1lab.live").joinpath("dashboard.html").read_bytes()


def _response(code: HTTPStatus, body: bytes, content_type: str) -> Response:
    return Response(code, code.phrase, Headers({"Content-Type": content_type, "Content-Length": str(len(body)),
                                                "Cache-Control": "no-store"}), body)


class Broadcaster:
    """A WebSocket fan-out with a snapshot, a bounded history and slow-client dropping.

    Args:
        token: bearer token clients must present (None: no auth).
        history: messages kept for clients that resume with ``since``.
        slow_bytes: unsent bytes above which a client is dropped.
        max_size: largest message a client may send (bytes).
        max_message: largest message published; bigger ones are refused.
        total_bytes: unsent bytes of all clients together above which new clients are refused (503).
        origins: browser origins allowed besides the server's own (``http://host:port`` of the request).
        metrics: the process's Prometheus metrics (a new set when None).
        status: the loop's readiness and progress for ``/health`` (a dict with ``ready``); none: a plain relay.
    """

    def __init__(self, token: str | None = None, history: int = 100_000, slow_bytes: int = 4 * 2**20,
                 max_size: int = 2**16, max_message: int = 2**20, total_bytes: int = 256 * 2**20,
                 origins: tuple[str, ...] = (), metrics: LiveMetrics | None = None,
                 status: Callable[[], dict] | None = None):
        self.metrics = metrics or LiveMetrics()
        self.total_bytes, self.origins = total_bytes, tuple(origins)
        self.status = status
        self.token, self.slow_bytes, self.max_size, self.max_message = token, slow_bytes, max_size, max_message
        self.epoch = uuid.uuid4().hex[:12]
        self.seq = 0
        self.history: deque[tuple[int, str]] = deque(maxlen=history)
        self.current: dict[str, str] = {}
        self.clients: set[ServerConnection] = set()
        self.stats = {"published": 0, "dropped": 0, "refused": 0, "skipped": 0, "duplicates": 0, "connections": 0}
        self._server: Server | None = None

    @property
    def port(self) -> int:
        return self._server.sockets[0].getsockname()[1]

    async def start(self, host: str = "127.0.0.1", port: int = 8765) -> None:
        """Listen on host:port (port 0: any free port, see :attr:`port`).

        Raises:
            BindError: no token for an address other than loopback (anyone who reaches it could read the
                stream), or the address cannot be listened on (in use, unknown host, no permission).
        """
        library = logging.getLogger("websockets.server")
        if not any(isinstance(f, PipelinedRequests) for f in library.filters):
            library.addFilter(PipelinedRequests())
        if self.token is None and host not in LOOPBACK:
            raise BindError(f"refusing to serve on {host} without a token: anyone who reaches it could read the "
                            "stream; set the token variable (A1LAB_LIVE_TOKEN) or bind 127.0.0.1")
        try:
            self._server = await serve(self._handler, host, port, process_request=self._process_request,
                                       max_size=self.max_size, ping_interval=20, ping_timeout=20,
                                       write_limit=2**16)
        except OSError as exc:
            raise BindError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        log.info("serving on ws://%s:%d/ (epoch %s)", host, self.port, self.epoch)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def health(self) -> dict:
        """Readiness and counts: ``ready`` is the loop's (models loaded, source connected) or, for a plain relay,
        that the server listens."""
        loop = self.status() if self.status is not None else {"ready": self._server is not None}
        return {"status": "ok" if loop.get("ready") else "starting", **loop, "epoch": self.epoch,
                "clients": len(self.clients), "seq": self.seq, "token_required": self.token is not None, **self.stats}

    def publish(self, message: dict) -> int | None:
        """Send a message to every client; return its ``seq`` (None if refused as too big)."""
        self.seq += 1
        try:
            text = json.dumps({**message, "seq": self.seq, "sent": time.time()}, separators=(",", ":"),
                              allow_nan=False)
        except (ValueError, TypeError, RecursionError) as exc:
            text, why = "", f"not encodable ({type(exc).__name__})"
        else:
            why = f"{len(text)} bytes (max {self.max_message})" if len(text) > self.max_message else None
        if not text or why:
            self.seq -= 1
            self.stats["refused"] += 1
            log.error("refused a %s message: %s", str(message.get("type"))[:40], why)
            return None
        self.history.append((self.seq, text))
        kind, match = message.get("type"), message.get("match_id")
        if kind == "prediction" and match:
            self.current[match] = text
        elif kind == "settlement" and match:
            self.current.pop(match, None)
        self._drop_slow()
        broadcast(self.clients, text)
        self.stats["published"] += 1
        return self.seq

    def _drop_slow(self) -> None:
        for ws in list(self.clients):
            buffered = ws.transport.get_write_buffer_size()
            if buffered > self.slow_bytes:
                self.clients.discard(ws)
                self.stats["dropped"] += 1
                self.metrics.dropped.inc()
                self.metrics.clients.set(len(self.clients))
                log.warning("dropped slow client %s: %d bytes unsent", ws.remote_address, buffered)
                ws.transport.abort()

    def _authorised(self, request: Request) -> bool:
        if self.token is None:
            return True
        given = request.headers.get("Authorization", "")
        query = parse_qs(urlsplit(request.path).query).get("token", [""])[0]
        candidate = given[7:] if given.startswith("Bearer ") else query
        return hmac.compare_digest(candidate.encode(), self.token.encode())

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        host = request.headers.get("Host", "")
        if self.token is None and urlsplit(f"//{host}").hostname not in LOOPBACK:  # DNS rebinding
            return connection.respond(HTTPStatus.FORBIDDEN, f"host {host!r} is not this server's: open it as "
                                      "127.0.0.1 (or give the server a token)\n")
        upgrade = "websocket" in request.headers.get("Upgrade", "").lower()
        if path == "/health":
            health = self.health()
            code = HTTPStatus.OK if health["status"] == "ok" else HTTPStatus.SERVICE_UNAVAILABLE
            return _response(code, json.dumps(health, allow_nan=False, default=str).encode(), "application/json")
        if path == "/metrics":
            self.metrics.clients.set(len(self.clients))
            return _response(HTTPStatus.OK, self.metrics.text(), "text/plain; version=0.0.4; charset=utf-8")
        if path == "/" and not upgrade:  # the dashboard page holds no data: it connects with the token it is given
            return _response(HTTPStatus.OK, dashboard_page(), "text/html; charset=utf-8")
        if not self._authorised(request):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "a valid bearer token is required\n")
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc != request.headers.get("Host") and origin not in self.origins:
            return connection.respond(HTTPStatus.FORBIDDEN, f"origin {origin} is not allowed\n")
        if self.buffered() > self.total_bytes:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "too much unsent data: try again later\n")
        return None

    def buffered(self) -> int:
        """Bytes written to clients and not yet sent, all clients together."""
        return sum(ws.transport.get_write_buffer_size() for ws in self.clients if ws.transport is not None)

    async def _handler(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path).query)
        hello = {"type": "hello", "epoch": self.epoch, "seq": self.seq,
                 "snapshot": [json.loads(t) for t in self.current.values()]}
        # hello, backlog and registration happen without yielding, so no broadcast slips in between
        broadcast([ws], json.dumps(hello, separators=(",", ":")))
        if "since" in query:
            given = query["since"][0]
            since = int(given) if given.isascii() and given.isdigit() and len(given) < 19 else 0
            if query.get("epoch", [""])[0] != self.epoch:
                since = 0
            for seq, text in self.history:
                if seq > since:
                    broadcast([ws], text)
                    if ws.transport.get_write_buffer_size() > self.slow_bytes:  # a client that does not read
                        log.warning("dropped client %s while it caught up: %d bytes unsent", ws.remote_address,
                                    ws.transport.get_write_buffer_size())
                        self.stats["dropped"] += 1
                        self.metrics.dropped.inc()
                        ws.transport.abort()
                        return
        self.clients.add(ws)
        self.stats["connections"] += 1
        self.metrics.clients.set(len(self.clients))
        try:
            async for message in ws:  # clients have nothing to say but pings; a health request is answered
                if message == "health":
                    await ws.send(json.dumps({"type": "health", **self.health()}))
        except Exception as exc:  # noqa: BLE001 - one client's failure must not reach the others
            log.info("client %s closed: %s", ws.remote_address, exc)
        finally:
            self.clients.discard(ws)
            self.metrics.clients.set(len(self.clients))


async def serve_lines(broadcaster: Broadcaster, lines, rate: float = 0.0, dedupe: int = 0) -> int:
    """Publish each JSON object line of an async line source (``rate`` per second, 0: as they come).

    A line that is not a strict JSON object (not UTF-8, not JSON, NaN or Infinity, nested too deeply,
    not an object) is logged and skipped; with ``dedupe``, so is a line equal to one of the last ``dedupe`` lines
    published (scoring replicas write each message once each, byte for byte). Returns how many were published.
    """
    count, seen, order = 0, set(), deque(maxlen=dedupe or None)
    async for line in lines:
        if dedupe:
            digest = hashlib.blake2b(line if isinstance(line, bytes) else line.encode(), digest_size=16).digest()
            if digest in seen:
                broadcaster.stats["duplicates"] += 1
                continue
            if len(order) == dedupe:
                seen.discard(order[0])
            order.append(digest)
            seen.add(digest)
        message = decode_object(line)
        if isinstance(message, str):
            broadcaster.stats["skipped"] += 1
            log.error("skipped a line (%s): %.80s", message, line_text(line))
            continue
        broadcaster.publish(message)
        count += 1
        await asyncio.sleep(1.0 / rate if rate > 0 else 0)
    return count
