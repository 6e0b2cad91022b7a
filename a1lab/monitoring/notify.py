"""Notifiers: webhook (JSON POST), Slack-compatible incoming webhook, e-mail over SMTP.

A failing channel is retried with exponential back-off and logged; it never
raises into the caller, and every outcome (sent or failed) is recorded.
Secrets (webhook URLs with tokens, SMTP passwords) never reach logs or records.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import urlsplit

from tenacity import Retrying, stop_after_attempt, wait_exponential

from a1lab.monitoring.alerts import Alert

log = logging.getLogger(__name__)


def redact_url(url: str) -> str:
    """scheme://host[:port] only: paths and queries of webhook URLs carry tokens."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}/..."


@dataclass
class Delivery:
    """What happened to one alert on one channel."""

    channel: str
    rule: str
    status: str  # "sent" or "failed"
    attempts: int
    error: str | None = None


class WebhookNotifier:
    """POST the alert as JSON to a URL (the URL is a secret: never logged)."""

    kind = "webhook"

    def __init__(self, url: str, timeout: float = 5.0, headers: dict | None = None):
        self.url, self.timeout, self.headers = url, timeout, headers or {}

    @property
    def name(self) -> str:
        return f"{self.kind} {redact_url(self.url)}"

    def payload(self, alert: Alert) -> dict:
        return alert.to_dict()

    def send(self, alert: Alert) -> None:
        body = json.dumps(self.payload(alert)).encode()
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json", **self.headers})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                if response.status >= 300:
                    raise OSError(f"HTTP {response.status}")
        except urllib.error.HTTPError as exc:
            raise OSError(f"HTTP {exc.code}") from None
        except urllib.error.URLError as exc:
            raise OSError(f"unreachable: {exc.reason}") from None


class SlackNotifier(WebhookNotifier):
    """Slack-compatible incoming webhook: ``{"text": ..., "blocks": [...]}``."""

    kind = "slack"
    ICONS = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}

    def payload(self, alert: Alert) -> dict:
        text = f"{self.ICONS[alert.severity]} [{alert.severity.upper()}] {alert.message}"
        return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


class EmailNotifier:
    """Send the alert as a plain-text e-mail over SMTP (optionally STARTTLS and login)."""

    kind = "email"

    def __init__(self, host: str, port: int, sender: str, recipients: list[str], starttls: bool = False,
                 username: str | None = None, password: str | None = None, timeout: float = 5.0,
                 ssl_context: ssl.SSLContext | None = None):
        self.host, self.port, self.sender, self.recipients = host, port, sender, recipients
        self.starttls, self.username, self.timeout = starttls, username, timeout
        self._password = password
        self.ssl_context = ssl_context

    @property
    def name(self) -> str:
        return f"email {self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"EmailNotifier({self.host}:{self.port}, starttls={self.starttls}, password=***)"

    def send(self, alert: Alert) -> None:
        msg = EmailMessage()
        msg["Subject"] = f"[a1lab {alert.severity}] {alert.rule}"
        msg["From"], msg["To"] = self.sender, ", ".join(self.recipients)
        msg.set_content(json.dumps(alert.to_dict(), indent=2))
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self._password or "")
                smtp.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            text = str(exc)
            if self._password:
                text = text.replace(self._password, "***")
            raise OSError(f"{type(exc).__name__}: {text}") from None


@dataclass
class Dispatcher:
    """Sends alerts to every channel with retries; records each delivery; never raises.

    Attributes:
        channels: notifiers.
        attempts: tries per channel.
        backoff: first wait in seconds, doubled after each failure (tenacity's exponential wait).
        sleep: the wait function (tests pass a recorder).
    """

    channels: list
    attempts: int
    backoff: float
    sleep: Callable[[float], None] = time.sleep
    deliveries: list[Delivery] = field(default_factory=list)

    def dispatch(self, alert: Alert) -> list[Delivery]:
        out = []
        for channel in self.channels:
            def failed(state, name=channel.name):
                log.warning("alert %s to %s failed (attempt %d/%d): %s", alert.rule, name, state.attempt_number,
                            self.attempts, state.outcome.exception())

            retrying = Retrying(stop=stop_after_attempt(self.attempts), wait=wait_exponential(multiplier=self.backoff),
                                sleep=self.sleep, after=failed, reraise=True)
            try:
                retrying(channel.send, alert)
                out.append(Delivery(channel.name, alert.rule, "sent", retrying.statistics["attempt_number"]))
            except Exception as exc:  # noqa: BLE001 - a notifier must never take the caller down
                out.append(Delivery(channel.name, alert.rule, "failed", self.attempts, str(exc)))
                log.error("alert %s to %s failed after %d attempts", alert.rule, channel.name, self.attempts)
        self.deliveries.extend(out)
        return out
