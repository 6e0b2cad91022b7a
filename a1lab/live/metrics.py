"""Prometheus metrics of the live loop and its server (prometheus-client), and the readiness it reports.

One :class:`LiveMetrics` per process, on its own registry (never the global one, so tests and several
loops in one process do not collide). ``GET /metrics`` on the live server returns :meth:`text`.
"""

from __future__ import annotations

import re
import time

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

# seconds from an event's line to the messages it causes: 0.1 ms to 1 s
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


def reason_label(reason: str) -> str:
    """A bounded label for a rejection reason: its leading words (``invalid event``, ``odds at``, ...),
    so the metric's label set stays small whatever the feed sends."""
    head = re.split(r"[:;(\d{]", reason, maxsplit=1)[0].strip().lower()
    return re.sub(r"[^a-z ]", "", head)[:40].strip().replace(" ", "_") or "other"


class LiveMetrics:
    """Counters, gauges and the latency histogram of one live process."""

    def __init__(self) -> None:
        disable_created_metrics()  # no *_created series: one line per counter, as Prometheus needs
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events = Counter("a1lab_live_events", "events by type and outcome", ["type", "outcome"], registry=r)
        self.rejected = Counter("a1lab_live_rejected", "rejected events by reason", ["reason"], registry=r)
        self.messages = Counter("a1lab_live_messages", "messages emitted by type", ["type"], registry=r)
        self.alerts = Counter("a1lab_live_alerts", "alerts raised by rule", ["rule", "severity"], registry=r)
        self.latency = Histogram("a1lab_live_scoring_seconds", "seconds from an event's line to its messages",
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.clients = Gauge("a1lab_live_clients", "connected WebSocket clients", registry=r)
        self.dropped = Counter("a1lab_live_dropped_clients", "slow WebSocket clients dropped", registry=r)
        self.checkpoint_age = Gauge("a1lab_live_checkpoint_age_seconds", "seconds since the last checkpoint",
                                    registry=r)
        self.last_event_age = Gauge("a1lab_live_last_event_age_seconds", "seconds since the last event was read",
                                    registry=r)
        self.last_checkpoint: float | None = None
        self.last_event: float | None = None
        self.checkpoint_age.set_function(lambda: self._age(self.last_checkpoint))
        self.last_event_age.set_function(lambda: self._age(self.last_event))

    @staticmethod
    def _age(since: float | None) -> float:
        return float("nan") if since is None else time.time() - since

    def event(self, kind: str, outcome: str, seconds: float | None = None, reason: str | None = None) -> None:
        """Count one event (``outcome``: accepted, duplicate, expired or rejected) and its processing time."""
        self.last_event = time.time()
        self.events.labels(kind, outcome).inc()
        if reason is not None:
            self.rejected.labels(reason_label(reason)).inc()
        if seconds is not None:
            self.latency.observe(seconds)

    def message(self, message: dict) -> None:
        self.messages.labels(str(message.get("type"))).inc()
        if message.get("type") == "alert":
            self.alerts.labels(str(message.get("rule")), str(message.get("severity"))).inc()

    def text(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
