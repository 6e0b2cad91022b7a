"""Alert channels: any apprise URL (``json://``, ``slack://``, ``mailtos://`` ...), each behind a circuit
breaker and a bounded queue.

A channel retries a failed send with exponential back-off (tenacity). After ``failures`` failed sends in a
row its breaker opens (pybreaker): alerts are refused at once until ``reset`` seconds have passed, when one
trial send half-opens it. :meth:`Dispatcher.submit` only queues: each channel sends from its own thread and
queue (a bulkhead), so a channel that hangs delays neither the caller nor the other channels, and a full
queue drops the alert and records that it did. Every outcome is a :class:`Delivery`; a channel never raises
into the caller. Secrets (tokens in URLs, passwords) never reach records, nor logs at INFO and above (at
DEBUG, apprise and urllib3 log the URLs they send to).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import apprise
import pybreaker
from tenacity import Retrying, retry_if_not_exception_type, stop_after_attempt, wait_exponential

from a1lab.monitoring.alerts import Alert

log = logging.getLogger(__name__)

NOTIFY_TYPES = {"info": apprise.NotifyType.INFO, "warning": apprise.NotifyType.WARNING,
                "critical": apprise.NotifyType.FAILURE}


def redact_url(url: str) -> str:
    """scheme://host[:port] only: paths, users and queries of alert URLs carry tokens."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}/..."


@dataclass
class Delivery:
    """What happened to one alert on one channel: ``sent``, ``failed`` (after every attempt), ``refused``
    (the channel's breaker was open) or ``dropped`` (the channel's queue was full)."""

    channel: str
    rule: str
    status: str
    attempts: int
    error: str | None = None


class _ThisThreadsWarnings(logging.Handler):
    """Collects what apprise logs at WARNING and above from the current thread (why a send failed)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.thread, self.lines = threading.get_ident(), []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.lines.append(record.getMessage())

    def __enter__(self):
        logging.getLogger("apprise").addHandler(self)
        return self

    def __exit__(self, *exc):
        logging.getLogger("apprise").removeHandler(self)


class Channel:
    """One apprise URL with its breaker and its queue.

    Args:
        url: an apprise URL (a secret: only ``scheme://host/...`` is ever shown).
        timeout: seconds to connect and to read, per attempt.
        failures: failed sends in a row that open the breaker.
        reset: seconds an open breaker waits before a trial send.
        queue_size: alerts waiting to be sent; one more is dropped.

    Raises:
        ValueError: apprise knows no service for the URL.
    """

    def __init__(self, url: str, timeout: float, failures: int, reset: float, queue_size: int):
        plugin = apprise.Apprise.instantiate(url)
        if plugin is None:
            raise ValueError(f"not an alert URL apprise knows ({redact_url(url)}): see "
                             "https://github.com/caronc/apprise/wiki for json://, slack://, mailtos:// ...")
        plugin.socket_connect_timeout = plugin.socket_read_timeout = timeout
        self.plugin, self.name = plugin, redact_url(plugin.url(privacy=True))
        self.breaker = pybreaker.CircuitBreaker(fail_max=failures, reset_timeout=reset,
                                                throw_new_error_on_trip=False, name=self.name)
        self.queue, self.queue_size = queue.SimpleQueue(), queue_size
        self.thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"Channel({self.name})"

    def send(self, alert: Alert) -> None:
        """One attempt. Raises OSError with apprise's reason when the service did not take the alert."""
        with _ThisThreadsWarnings() as warnings:
            ok = self.plugin.notify(title=f"[a1lab {alert.severity}] {alert.rule}", body=body(alert),
                                    notify_type=NOTIFY_TYPES[alert.severity])
        if not ok:
            raise OSError("; ".join(warnings.lines) or "not delivered")


def body(alert: Alert) -> str:
    """An alert as the text a channel sends."""
    return (f"{alert.message}\nrule {alert.rule}, severity {alert.severity}, value {alert.value:.6g}, "
            f"at {alert.at}, repeat {alert.repeat}")


class Dispatcher:
    """Sends alerts to every channel; records each delivery; never raises.

    Args:
        channels: the channels.
        attempts: tries per alert and channel.
        backoff: first wait in seconds, doubled after each failure.
        sleep: the wait function (tests pass a recorder).
    """

    def __init__(self, channels: list[Channel], attempts: int, backoff: float,
                 sleep: Callable[[float], None] = time.sleep):
        self.channels, self.attempts, self.backoff, self.sleep = channels, attempts, backoff, sleep
        self.deliveries: list[Delivery] = []

    def deliver(self, channel: Channel, alert: Alert) -> Delivery:
        """Send one alert on one channel, through its breaker, with retries; record and return the outcome."""
        def failed(state):
            log.warning("alert %s to %s failed (attempt %d/%d): %s", alert.rule, channel.name, state.attempt_number,
                        self.attempts, state.outcome.exception())

        retrying = Retrying(stop=stop_after_attempt(self.attempts), wait=wait_exponential(multiplier=self.backoff),
                            retry=retry_if_not_exception_type(pybreaker.CircuitBreakerError), sleep=self.sleep,
                            after=failed, reraise=True)
        try:
            retrying(channel.breaker.call, channel.send, alert)
            out = Delivery(channel.name, alert.rule, "sent", retrying.statistics["attempt_number"])
        except pybreaker.CircuitBreakerError:
            out = Delivery(channel.name, alert.rule, "refused", retrying.statistics["attempt_number"] - 1,
                           f"circuit open after {channel.breaker.fail_max} failed sends")
        except Exception as exc:  # noqa: BLE001 - a channel must never take the caller down
            out = Delivery(channel.name, alert.rule, "failed", self.attempts, str(exc))
        if out.status != "sent":
            log.error("alert %s to %s %s: %s", alert.rule, channel.name, out.status, out.error)
        self.deliveries.append(out)
        return out

    def dispatch(self, alert: Alert) -> list[Delivery]:
        """Send an alert on every channel, one after another, and wait (batch use: the drift stage)."""
        return [self.deliver(channel, alert) for channel in self.channels]

    def submit(self, alert: Alert) -> None:
        """Queue an alert on every channel and return at once; each channel sends from its own thread."""
        for channel in self.channels:
            if channel.thread is None:
                channel.thread = threading.Thread(target=self._work, args=(channel,), daemon=True,
                                                  name=f"alerts {channel.name}")
                channel.thread.start()
            if channel.queue.qsize() < channel.queue_size:
                channel.queue.put(alert)
            else:
                out = Delivery(channel.name, alert.rule, "dropped", 0, f"queue full ({channel.queue_size} waiting)")
                log.error("alert %s to %s dropped: %s", alert.rule, channel.name, out.error)
                self.deliveries.append(out)

    def _work(self, channel: Channel) -> None:
        while (alert := channel.queue.get()) is not None:
            self.deliver(channel, alert)

    def close(self, timeout: float) -> None:
        """Let each channel send what it holds, waiting at most ``timeout`` seconds in all."""
        started = [c for c in self.channels if c.thread is not None]
        for channel in started:
            channel.queue.put(None)
        deadline = time.monotonic() + timeout
        for channel in started:
            channel.thread.join(max(0.0, deadline - time.monotonic()))
            if channel.thread.is_alive():
                log.error("alerts to %s still sending after %.0f s; %d left unsent", channel.name, timeout,
                          channel.queue.qsize())
            channel.thread = None
