"""The live loop's ledger: which events it has applied, which matches have settled, and the horizon after
which both are forgotten.

The ledger changes only when an event has been applied whole, so a failed event needs nothing of it rolled
back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from a1lab.live.events import Fixture, Odds, Result


class Ledger:
    """Seen event ids (with a fingerprint of their content), settled matches and the newest event's time.

    Args:
        horizon_days: a match settled this long (event time) before the newest event is forgotten with the ids
            of its events; an event older than this for a match the loop does not hold is expired.
    """

    def __init__(self, horizon_days: float):
        self.horizon_days = horizon_days
        self.seen: dict[str, str] = {}  # event id -> fingerprint of its content
        self.seen_before_restart: set[str] = set()
        self.settled: dict[str, str] = {}  # match id -> when it settled (event time, ISO), oldest first
        self.match_events: dict[str, list[str]] = {}  # match id -> ids of its accepted events
        self.last_event_time: datetime | None = None  # ``ts`` of the newest applied event (for /health's lag)

    def repeat(self, event_id: str, content: str) -> str | None:
        """How an event id was seen before: ``conflict`` (with other content), ``seen_before_restart``,
        ``duplicates``, or None (new)."""
        if event_id not in self.seen:
            return None
        if self.seen[event_id] != content:
            return "conflict"
        return "seen_before_restart" if event_id in self.seen_before_restart else "duplicates"

    def expired(self, event: Fixture | Odds | Result, held: bool) -> bool:
        """Whether an event is older than the horizon for a match the loop does not hold (``held`` False)."""
        if self.last_event_time is None or held:
            return False
        return (event.kickoff if isinstance(event, Fixture) else event.ts) < self.horizon()

    def horizon(self) -> datetime:
        return self.last_event_time - timedelta(days=self.horizon_days)

    def record(self, event: Fixture | Odds | Result, content: str) -> None:
        """Note an applied event; a result settles its match and forgets matches settled before the horizon."""
        self.seen[event.id] = content
        self.match_events.setdefault(event.match_id, []).append(event.id)
        self.last_event_time = event.ts if self.last_event_time is None else max(self.last_event_time, event.ts)
        if isinstance(event, Result):
            self.settled[event.match_id] = event.ts.astimezone(UTC).isoformat()
            self._forget(self.horizon())

    def _forget(self, before: datetime) -> None:
        """Drop matches settled before ``before`` and the ids of their events (oldest first)."""
        while self.settled:
            mid, when = next(iter(self.settled.items()))
            if datetime.fromisoformat(when) >= before:
                return
            del self.settled[mid]
            for event_id in self.match_events.pop(mid, []):
                self.seen.pop(event_id, None)
                self.seen_before_restart.discard(event_id)

    def to_dict(self) -> dict:
        return {"seen": dict(sorted(self.seen.items())), "settled": self.settled, "match_events": self.match_events,
                "last_event_time": None if self.last_event_time is None else self.last_event_time.isoformat()}

    @classmethod
    def from_dict(cls, data: dict, horizon_days: float) -> Ledger:
        """A ledger from :meth:`to_dict`; every id it holds counts as seen before a restart."""
        ledger = cls(horizon_days)
        ledger.seen = {str(k): str(v) for k, v in data["seen"].items()}
        ledger.settled = {str(k): str(v) for k, v in data["settled"].items()}
        ledger.match_events = {str(k): [str(i) for i in v] for k, v in data["match_events"].items()}
        last = data["last_event_time"]
        ledger.last_event_time = None if last is None else datetime.fromisoformat(last)
        ledger.seen_before_restart = set(ledger.seen)
        return ledger
