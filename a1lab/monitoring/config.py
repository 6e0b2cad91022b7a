"""Monitoring from configuration: rules and channels from params.yaml, secrets from the environment."""

from __future__ import annotations

from collections.abc import Mapping

from a1lab.monitoring.alerts import AlertBook, Rule
from a1lab.monitoring.notify import Dispatcher, EmailNotifier, SlackNotifier, WebhookNotifier


def build_monitoring(config: Mapping, env: Mapping[str, str]) -> tuple[AlertBook, Dispatcher]:
    """An AlertBook and a Dispatcher from a ``monitoring:`` section.

    Channels name the environment variables that hold their secrets
    (``url_env``, ``password_env``); a channel whose variable is unset is
    skipped, so a checkout without secrets still runs.

    Raises:
        ValueError: an unknown channel type.
    """
    rules = [Rule(**r) for r in config["rules"]]
    channels = []
    for ch in config["channels"]:
        kind = ch.get("type")
        if kind in ("webhook", "slack"):
            url = env.get(ch.get("url_env", ""))
            if url:
                channels.append((WebhookNotifier if kind == "webhook" else SlackNotifier)(url))
        elif kind == "email":
            host = ch.get("host") or env.get(ch.get("host_env", ""), "")
            if host:
                channels.append(EmailNotifier(host, int(ch.get("port", 25)), ch["sender"], list(ch["recipients"]),
                                              starttls=bool(ch.get("starttls", False)), username=ch.get("username"),
                                              password=env.get(ch.get("password_env", ""))))
        else:
            raise ValueError(f"unknown monitoring channel type {kind!r}; use webhook, slack or email")
    return AlertBook(rules), Dispatcher(channels, attempts=int(config["attempts"]), backoff=float(config["backoff"]))
