"""Monitoring from configuration: rules and channels from params.yaml, secrets from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from a1lab.monitoring.alerts import AlertBook, Rule
from a1lab.monitoring.notify import Channel, Dispatcher

if TYPE_CHECKING:
    from a1lab.params import MonitoringParams


def build_monitoring(config: MonitoringParams, env: Mapping[str, str]) -> tuple[AlertBook, Dispatcher]:
    """An AlertBook and a Dispatcher from the validated ``monitoring:`` section.

    Each channel names the environment variable that holds its apprise URL (URLs carry tokens and
    passwords); a channel whose variable is unset or empty is skipped, so a checkout without secrets still
    runs. A rule's keys left out take :class:`a1lab.monitoring.alerts.Rule`'s defaults.

    Raises:
        ValueError: a variable holds a URL apprise knows no service for (the message names the variable).
    """
    rules = [Rule(**r.model_dump(exclude_none=True)) for r in config.rules]
    channels = []
    for name in config.channels:
        if url := env.get(name, "").strip():
            try:
                channels.append(Channel(url, config.timeout, config.breaker.failures, config.breaker.reset,
                                        config.queue))
            except ValueError as exc:
                raise ValueError(f"monitoring channel {name}: {exc}") from None
    return AlertBook(rules), Dispatcher(channels, attempts=config.attempts, backoff=config.backoff)
