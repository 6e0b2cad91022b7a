"""The loop's asynchronous edge: read a source, write sinks and the server, checkpoint, stop cleanly.

Delivery: on a clean stop (end of input, SIGINT or SIGTERM) the event being
processed is finished and the outputs and the checkpoint committed, so a
restart continues exactly (seen event ids are skipped). After a crash the
restart resumes from the last periodic checkpoint: messages emitted after it
are emitted again (at least once), results are never counted twice in the
state because the state comes from the same checkpoint. A source that
acknowledges (a Redis stream) is acknowledged only at a commit, after the
outputs and the checkpoint (:func:`commit_point`); parts on one store commit
together, so with sinks, checkpoint and source on one Redis server even a
crash repeats no output (:mod:`a1lab.live.transport`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from a1lab.live.events import Rejection, line_text, parse_event
from a1lab.live.loop import Loop
from a1lab.live.metrics import LiveMetrics
from a1lab.live.server import Broadcaster
from a1lab.live.transport import IDLE, Checkpoint, Detached, Sink, commit
from a1lab.monitoring.alerts import Alert

if TYPE_CHECKING:
    from a1lab.monitoring.notify import Dispatcher

log = logging.getLogger("a1lab.live")


@dataclass
class Outputs:
    """Where the loop's messages go: sinks, the dead letter (a sink), a server, alert channels (queued:
    a slow or hung channel never delays scoring, see :mod:`a1lab.monitoring.notify`)."""

    sinks: list[Sink] = field(default_factory=list)
    dead_letter: Sink | None = None
    server: Broadcaster | None = None
    dispatcher: Dispatcher | None = None
    metrics: LiveMetrics | None = None

    def emit(self, message: dict) -> None:
        if self.metrics is not None:
            self.metrics.message(message)
        for sink in self.sinks:
            sink.write(message)
        if self.server is not None:
            self.server.publish(message)
        if message["type"] == "alert" and self.dispatcher is not None:
            alert = Alert(**{k: message[k] for k in ("rule", "severity", "message", "value", "at", "repeat")})
            self.dispatcher.submit(alert)

    def reject(self, rejection: Rejection) -> None:
        if self.dead_letter is not None:
            self.dead_letter.write(rejection.to_dict(datetime.now(UTC)))
        log.warning("rejected %s: %s", rejection.event_id or rejection.raw[:60], rejection.reason)

    async def close(self, wait: float = 0.0) -> None:
        """Close every sink; a detached one gets up to ``wait`` seconds to deliver what it holds."""
        for sink in [*self.sinks, self.dead_letter]:
            if isinstance(sink, Detached):
                await sink.close(wait)
            elif sink is not None:
                sink.close()


async def commit_point(loop: Loop, outputs: Outputs, checkpoint: Checkpoint | None = None,
                       source: object | None = None) -> None:
    """Make what the loop did so far durable: outputs first, then the checkpoint, then the source's
    acknowledgements (consecutive parts on one store together, see :func:`a1lab.live.transport.commit`)."""
    for sink in outputs.sinks:
        if isinstance(sink, Detached):
            sink.hand_over()  # sent by its own task, never waited on here
    if checkpoint is not None:
        checkpoint.stage(loop.to_json())
    await commit([*outputs.sinks, outputs.dead_letter, checkpoint, source])


class LineReader:
    """A source's lines, read in the task that processes them; a stop interrupts a read that waits, never the
    event in hand (of the task that calls :meth:`next`).

    The read is awaited directly, not raced against the stop in tasks of its own (two tasks and a wait per
    line cost 20 us, as much as seven events of an in-process replay); a watcher cancels the reading task
    only while it waits on the source, as cancelling such a read task did. Use as a context manager.
    """

    def __init__(self, lines: AsyncIterator[str | bytes | object], stop: asyncio.Event):
        self.it, self.stop, self.reading, self.task = aiter(lines), stop, False, None
        self.watcher = asyncio.ensure_future(self._interrupt())

    async def _interrupt(self) -> None:
        await self.stop.wait()
        if self.reading:
            self.task.cancel()

    async def next(self) -> str | bytes | object | None:
        """The next line, or None at the end of the source or when ``stop`` is set."""
        if self.stop.is_set():
            return None
        self.reading, self.task = True, asyncio.current_task()
        try:
            return await anext(self.it)
        except StopAsyncIteration:
            return None
        except asyncio.CancelledError:
            if not self.stop.is_set() or not self.task.cancelling():
                raise  # not the watcher's: the task itself is being cancelled
            self.task.uncancel()
            return None
        finally:
            self.reading = False

    def __enter__(self) -> LineReader:
        return self

    def __exit__(self, *exc) -> None:
        self.watcher.cancel()


async def drive(loop: Loop, lines: AsyncIterator[str | bytes | object], outputs: Outputs, stop: asyncio.Event,
                commit: Callable[[Loop], Awaitable[None]] | None = None, commit_every: int = 1000,
                quiet_check: float = 5.0, clock: Callable[[], float] = time.time,
                commit_interval: float = 0.0) -> dict:
    """Feed the loop until the source ends or ``stop`` is set; return the loop's counts.

    Args:
        loop: the scoring loop.
        lines: raw event lines (undecoded bytes from files and stdin); :data:`IDLE` from a source between reads.
        outputs: sinks, dead letter, server and alert dispatcher.
        stop: set it (e.g. from a signal handler) to stop after the event in hand.
        commit: makes the work so far durable (:func:`commit_point`); called every ``commit_every`` lines,
            when the source is idle and at the end (None: commit the outputs only).
        commit_interval: seconds between commits when the source is idle: a feed that trickles in would
            otherwise write the whole checkpoint after each event (a source that reports idle often, such as a
            Redis stream read with a short ``block_ms``, bounds the outputs' delay to about this).
        quiet_check: seconds between checks that the feed has not gone quiet.
        clock: wall clock for the quiet-feed rule.
    """

    async def watch_quiet() -> None:
        while True:
            await asyncio.sleep(quiet_check)
            for msg in loop.check_quiet(clock()):
                outputs.emit(msg)

    metrics = outputs.metrics
    dirty, last_commit = 0, time.monotonic()

    async def save() -> None:
        nonlocal dirty, last_commit
        if commit is None:
            await commit_point(loop, outputs)
            return
        await commit(loop)
        dirty, last_commit = 0, time.monotonic()
        if metrics is not None:
            metrics.last_checkpoint = time.time()

    watcher = asyncio.ensure_future(watch_quiet())
    try:
        with LineReader(lines, stop) as reader:
            while (line := await reader.next()) is not None:
                if line is IDLE:
                    if dirty and time.monotonic() - last_commit >= commit_interval:
                        await save()
                    continue
                dirty += 1
                started = time.perf_counter()
                event = parse_event(line)
                if isinstance(event, Rejection):
                    loop.counts["rejected"] += 1
                    outputs.reject(event)
                    if metrics is not None:
                        metrics.event("invalid", "rejected", reason=event.reason)
                    continue
                repeats = loop.counts["duplicates"] + loop.counts["seen_before_restart"]
                expired = loop.counts["expired"]
                outcome, reason = "accepted", None
                for msg in loop.heartbeat(clock()) + loop.process(event):
                    if isinstance(msg, Rejection):
                        if msg.dead:
                            outcome, reason = "rejected", msg.reason
                            outputs.reject(Rejection(msg.reason, line_text(line), msg.event_id))
                    else:
                        outputs.emit(msg)
                if metrics is not None:
                    if loop.counts["duplicates"] + loop.counts["seen_before_restart"] > repeats:
                        outcome = "duplicate"
                    elif loop.counts["expired"] > expired:
                        outcome = "expired"
                    metrics.event(event.type, outcome, time.perf_counter() - started, reason)
                if dirty >= commit_every:
                    await save()
                elif dirty % 64 == 0:
                    await asyncio.sleep(0)  # let the server and signal handlers run
    finally:
        watcher.cancel()
        await save()
    log.info("loop stopped: %s", loop.counts)
    return dict(loop.counts)
