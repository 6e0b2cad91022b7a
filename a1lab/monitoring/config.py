"""Monitoring from configuration: rules and channels from params.yaml, secrets from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from a1lab.monitoring.alerts import AlertBook, Rule
from a1lab.monitoring.notify import Dispatcher, EmailNotifier, SlackNotifier, WebhookNotifier

if TYPE_CHECKING:
    from a1lab.params import MonitoringParams


def build_monitoring(config: MonitoringParams, env: Mapping[str, str]) -> tuple[AlertBook, Dispatcher]:
    """An AlertBook and a Dispatcher from the validated ``monitoring:`` section.

    Channels name the environment variables that hold their secrets
    (``url_env``, ``password_env``); a channel whose variable is unset is
    skipped, so a checkout without secrets still runs. A rule's keys left out
    take :class:`a1lab.monitoring.alerts.Rule`'s defaults.
    """
    rules = [Rule(**r.model_dump(exclude_none=True)) for r in config.rules]
    channels = []
    for ch in config.channels:
        if ch.type in ("webhook", "slack"):
            if url := env.get(ch.url_env):
                channels.append((WebhookNotifier if ch.type == "webhook" else SlackNotifier)(url))
        elif host := ch.host or env.get(ch.host_env or ""):
            channels.append(EmailNotifier(host, ch.port, ch.sender, list(ch.recipients), starttls=ch.starttls,
                                          username=ch.username, password=env.get(ch.password_env or "")))
    return AlertBook(rules), Dispatcher(channels, attempts=config.attempts, backoff=config.backoff)
