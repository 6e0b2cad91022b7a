"""The live event schema: ``fixture``, ``odds`` and ``result``, one JSON object per line.

Every event has an ``id`` (unique: a repeated id is a duplicate and changes
nothing) and a ``ts`` (when it happened, ISO 8601 with a UTC offset). A line
that does not parse or validate becomes a :class:`Rejection` that the loop
writes to the dead-letter file with the reason; the stream goes on.

Examples::

    {"type": "fixture", "id": "fx-1", "ts": "2025-08-08T19:00:00Z", "match_id": "E0-2025-08-15-liverpool-bournemouth",
     "league": "E0", "season": "2526", "home": "Liverpool", "away": "Bournemouth", "kickoff": "2025-08-15T19:00:00Z"}
    {"type": "odds", "id": "od-1", "ts": "2025-08-13T19:00:00Z", "match_id": "...", "bookmaker": "pinnacle",
     "market": "1x2", "timing": "open", "prices": {"home": 1.31, "draw": 6.1, "away": 9.5}}
    {"type": "result", "id": "rs-1", "ts": "2025-08-15T20:55:00Z", "match_id": "...", "home_goals": 4, "away_goals": 2,
     "stats": {"home_shots": 19, "away_shots": 10}}

An odds event without ``timing`` is a quote at ``ts``: a bookmaker's first
quote of a match counts as its opening price, any later one as its latest
(closing) price.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

STAT_KEYS = ("home_shots", "away_shots", "home_shots_on_target", "away_shots_on_target", "home_corners",
             "away_corners", "home_yellow", "away_yellow", "home_red", "away_red")


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=200)
    ts: AwareDatetime
    match_id: str = Field(min_length=1, max_length=200)


class Fixture(_Event):
    """A match is scheduled: league, season, teams and kick-off."""

    type: Literal["fixture"]
    league: str = Field(min_length=1)
    season: str = Field(pattern=r"^\d{4}$")
    home: str = Field(min_length=1)
    away: str = Field(min_length=1)
    kickoff: AwareDatetime


class Prices(BaseModel):
    """Decimal odds of the three outcomes; each above 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    home: float = Field(gt=1.0, allow_inf_nan=False)
    draw: float = Field(gt=1.0, allow_inf_nan=False)
    away: float = Field(gt=1.0, allow_inf_nan=False)


class Odds(_Event):
    """One bookmaker's 1x2 prices for a match, opening, closing or as of ``ts``."""

    type: Literal["odds"]
    bookmaker: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    market: Literal["1x2"] = "1x2"
    timing: Literal["open", "close"] | None = None
    prices: Prices


class Result(_Event):
    """Full-time goals, and optionally the match statistics the feature engine uses."""

    type: Literal["result"]
    home_goals: int = Field(ge=0, le=99)
    away_goals: int = Field(ge=0, le=99)
    stats: dict[str, float] = Field(default_factory=dict)

    @field_validator("stats")
    @classmethod
    def _known_stats(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(STAT_KEYS))
        if unknown:
            raise ValueError(f"unknown stats {unknown}; known: {list(STAT_KEYS)}")
        if any(v != v or v < 0 for v in value.values()):
            raise ValueError("stats must be non-negative numbers")
        return value


Event = Annotated[Fixture | Odds | Result, Field(discriminator="type")]
_ADAPTER = TypeAdapter(Event)


@dataclass(frozen=True)
class Rejection:
    """An input that the loop did not act on, and why (it goes to the dead-letter file)."""

    reason: str
    raw: str
    event_id: str | None = None

    def to_dict(self, received: datetime) -> dict:
        return {"reason": self.reason, "event_id": self.event_id, "raw": self.raw,
                "received": received.isoformat()}


def parse_event(raw: str | bytes | dict) -> Fixture | Odds | Result | Rejection:
    """Validate one event (a JSON line or a decoded object); a Rejection says what is wrong."""
    text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace") if isinstance(raw, bytes) else None
    if text is not None:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            return Rejection(f"not JSON: {exc.msg} at column {exc.colno}", text[:2000])
    else:
        text = json.dumps(raw, default=str)
    if not isinstance(raw, dict):
        return Rejection(f"an event must be a JSON object, got {type(raw).__name__}", text[:2000])
    try:
        return _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors()[:5])
        event_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        return Rejection(f"invalid event: {problems}", text[:2000], event_id)


def event_dict(event: Fixture | Odds | Result) -> dict:
    """The event as a JSON-safe dict (timestamps in ISO 8601, UTC)."""
    return event.model_dump(mode="json", exclude_none=True)
