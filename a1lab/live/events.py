"""The live event schema: ``fixture``, ``odds`` and ``result``, one JSON object per line.

Every event has an ``id`` (unique: a repeated id is a duplicate and changes
nothing) and a ``ts`` (when it happened, ISO 8601 with a UTC offset). A line
that does not parse or validate becomes a :class:`Rejection` that the loop
writes to the dead-letter file with the reason; the stream goes on.

Examples::

    {"type": "fixture", "id": "fx-1", "ts": "2025-08-08T19:00:00Z", "match_id": "m-0001",
     "league": "<league>", "season": "<season>", "home": "Home FC", "away": "Away FC",
     "kickoff": "2025-08-15T19:00:00Z"}
    {"type": "odds", "id": "od-1", "ts": "2025-08-13T19:00:00Z", "match_id": "...", "bookmaker": "pinnacle",
     "market": "1x2", "timing": "open", "prices": {"home": 1.31, "draw": 6.1, "away": 9.5}}
    {"type": "odds", "id": "od-2", "ts": "2025-08-13T19:00:00Z", "match_id": "...", "bookmaker": "avg",
     "market": "ah", "timing": "open", "line": -1.5, "prices": {"home": 1.95, "away": 1.91}}
    {"type": "result", "id": "rs-1", "ts": "2025-08-15T20:55:00Z", "match_id": "...", "home_goals": 4, "away_goals": 2,
     "stats": {"home_shots": 19, "away_shots": 10}}

An odds event without ``timing`` is a quote at ``ts``: a bookmaker's first
quote of a match counts as its opening price, any later one as its latest
(closing) price.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
import orjson
from msgspec import Meta, Struct
from msgspec.structs import force_setattr

from a1lab.bounds import MAX_GOALS, MAX_NAME, MAX_ODDS, MAX_STAT

STAT_KEYS = ("home_shots", "away_shots", "home_shots_on_target", "away_shots_on_target", "home_corners",
             "away_corners", "home_yellow", "away_yellow", "home_red", "away_red")
MAX_LINE = 2**20  # bytes: a longer line is refused unread
RAW_LIMIT = 2000  # characters of a refused line kept in the dead letter
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)

# msgspec checks types and bounds while it decodes: an int is a float, a bool or a string is no number, JSON
# has no NaN and a number too large to be finite is refused; the checks a type cannot say are __post_init__'s
Instant = Annotated[datetime, Meta(tz=True)]  # ISO 8601 with a UTC offset
Price = Annotated[float, Meta(gt=1.0, le=MAX_ODDS)]
Goals = Annotated[int, Meta(ge=0, le=MAX_GOALS)]  # an integer: not true, not 2.0
HandicapLine = Annotated[float, Meta(ge=-20.0, le=20.0, multiple_of=0.25)]
_SEASON, _BOOKMAKER = re.compile(r"\d{4}"), re.compile(r"[a-z0-9_]+")


def _time(value: datetime, name: str) -> None:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{name}: time out of range") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError(f"{name}: time must lie in {EARLIEST.year}..{LATEST.year - 1}")


def _text(event: Struct, name: str, limit: int = MAX_NAME, pattern: re.Pattern | None = None) -> None:
    """Strip a string field of surrounding whitespace, then check its length (and pattern)."""
    value = getattr(event, name)
    stripped = value.strip()
    if not 1 <= len(stripped) <= limit:
        raise ValueError(f"{name}: must have 1 to {limit} characters (spaces around it stripped), got {len(stripped)}")
    if not stripped.isascii():
        try:
            stripped.encode()
        except UnicodeEncodeError:  # a lone surrogate, from a JSON escape such as \ud800
            raise ValueError(f"{name}: not valid Unicode") from None
    if pattern is not None and not pattern.fullmatch(stripped):
        raise ValueError(f"{name}: {stripped[:50]!r} does not match {pattern.pattern}")
    if stripped != value:
        force_setattr(event, name, stripped)


class _Event(Struct, frozen=True, kw_only=True, tag_field="type"):
    id: str
    ts: Instant
    match_id: str

    @property
    def type(self) -> str:
        """``fixture``, ``odds`` or ``result``: the tag the event came with."""
        return type(self).__struct_config__.tag

    def __post_init__(self) -> None:
        _text(self, "id")
        _text(self, "match_id")
        _time(self.ts, "ts")


class Fixture(_Event, frozen=True, kw_only=True, tag="fixture"):
    """A match is scheduled: league, season, teams and kick-off."""

    league: str
    season: str
    home: str
    away: str
    kickoff: Instant

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("league", "home", "away"):
            _text(self, name)
        _text(self, "season", 4, _SEASON)
        _time(self.kickoff, "kickoff")


class Prices(Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Decimal odds of a market's outcomes; each a number above 1 (and at most 10,000): ``1x2``: home, draw,
    away; ``ml`` (a two-way sport's moneyline) and ``ah`` (Asian handicap): home, away; ``ou25``: over,
    under 2.5 goals."""

    home: Price | None = None
    draw: Price | None = None
    away: Price | None = None
    over: Price | None = None
    under: Price | None = None


MARKET_OUTCOMES = {"1x2": ("home", "draw", "away"), "ml": ("home", "away"), "ah": ("home", "away"),
                   "ou25": ("over", "under")}


class Odds(_Event, frozen=True, kw_only=True, tag="odds"):
    """One bookmaker's prices for a match, opening, closing or as of ``ts``: its 1X2 (``1x2``), a two-way
    sport's moneyline (``ml``), over/under 2.5 goals (``ou25``) or Asian handicap (``ah``, with ``line``: the
    home side's handicap in goals, ``-0.5`` when home gives half a goal)."""

    bookmaker: str
    market: Literal["1x2", "ml", "ou25", "ah"] = "1x2"
    timing: Literal["open", "close"] | None = None
    prices: Prices
    line: HandicapLine | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _text(self, "bookmaker", 50, _BOOKMAKER)
        wanted = MARKET_OUTCOMES[self.market]
        given = tuple(o for o in Prices.__struct_fields__ if getattr(self.prices, o) is not None)  # in field order
        if given == wanted and (self.market == "ah") == (self.line is not None):
            return  # every event of a sound feed: the checks below say what is wrong with the others
        if self.market == "1x2" and given == MARKET_OUTCOMES["ml"]:
            raise ValueError("prices: a 1x2 quote needs prices.draw (a moneyline without one is market \"ml\")")
        if self.market == "ml" and "draw" in given:
            raise ValueError("prices: a moneyline (market \"ml\") has no draw price")
        if given != wanted:
            raise ValueError(f"prices: market {self.market} has prices {', '.join(wanted)}, "
                             f"not {', '.join(given) or 'none'}")
        raise ValueError("line: an Asian-handicap quote (market \"ah\") has a line, and only it")

    def quote(self) -> list:
        """The prices in the market's outcome order, then the handicap's line (``ah``); a moneyline's draw is
        None (what the loop stores per quote)."""
        outcomes = MARKET_OUTCOMES["1x2" if self.market == "ml" else self.market]
        return [getattr(self.prices, o) for o in outcomes] + ([self.line] if self.market == "ah" else [])


class Result(_Event, frozen=True, kw_only=True, tag="result"):
    """Full-time goals (integers, not booleans), and optionally the match statistics the feature engine uses
    (numbers from 0 to 1,000, read as floats)."""

    home_goals: Goals
    away_goals: Goals
    stats: dict[str, Any] = {}

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = sorted(set(self.stats) - set(STAT_KEYS))
        if unknown:
            raise ValueError(f"stats: unknown stats {unknown[:5]}; known: {list(STAT_KEYS)}")
        for key, value in self.stats.items():  # checked here to name the key (msgspec's path would not)
            if type(value) not in (int, float) or not 0.0 <= value <= MAX_STAT:  # NaN and 10**400 fail too
                raise ValueError(f"stats.{key}: must be a number from 0 to {MAX_STAT:g}, got {str(value)[:50]}")
        if any(type(v) is int for v in self.stats.values()):
            force_setattr(self, "stats", {k: float(v) for k, v in self.stats.items()})


Event = Fixture | Odds | Result
_DECODER = msgspec.json.Decoder(Event)
_WHERE = re.compile(r" - at `\$\.?(.*)`$")


@dataclass(frozen=True)
class Rejection:
    """An input that the loop did not act on, and why.

    Attributes:
        reason: what is wrong, for a person.
        raw: the input (cut to ``RAW_LIMIT`` characters).
        event_id: the event's id, when it has one.
        dead: False for an expected skip (a duplicate, an event seen before a restart) that is counted
            but not written to the dead-letter file.
    """

    reason: str
    raw: str
    event_id: str | None = None
    dead: bool = True

    def to_dict(self, received: datetime) -> dict:
        return {"reason": self.reason, "event_id": self.event_id, "raw": self.raw,
                "received": received.isoformat()}


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def line_text(raw: str | bytes) -> str:
    """A line for messages and the dead letter: undecodable bytes shown as escapes, cut to ``RAW_LIMIT``."""
    text = raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else raw
    return text.strip()[:RAW_LIMIT]


def decode_object(raw: str | bytes) -> dict | str:
    """One JSON object from a line, or the reason it is not one (never raises).

    Strict: UTF-8 only, no ``NaN``/``Infinity``, at most ``MAX_LINE`` bytes; nesting too deep to decode
    is refused like any other malformed line.
    """
    if len(raw) > MAX_LINE:
        return f"line of {len(raw)} bytes is longer than {MAX_LINE}"
    try:
        value = orjson.loads(raw)  # strict JSON and fast; what it refuses, the standard library reads or explains
    except orjson.JSONDecodeError:
        value, why = _decode_slowly(raw)
        if why is not None:
            return why
    if not isinstance(value, dict):
        return f"an event must be a JSON object, got {type(value).__name__}"
    return value


def _decode_slowly(raw: str | bytes) -> tuple[object, str | None]:
    """The standard library's reading of a line orjson refused (1e999 is infinity to it, and validation
    says which field), or None and what is wrong with it."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, f"not UTF-8: invalid byte at position {exc.start}"
    try:
        return json.loads(raw, parse_constant=_no_constant), None
    except json.JSONDecodeError as exc:
        return None, f"not JSON: {exc.msg} at column {exc.colno}"
    except RecursionError:
        return None, "not JSON: nested too deeply"
    except ValueError as exc:
        return None, f"not JSON: {exc}"


def parse_event(raw: str | bytes | dict) -> Fixture | Odds | Result | Rejection:
    """Validate one event (a JSON line or a decoded object); a Rejection says what is wrong. Never raises.

    A line is decoded and checked in one pass (msgspec: about 3 us for a quote called back to back, 6 us in a
    replay); a line that fails it takes the slow route, which reads what the standard library can and says what
    is wrong.
    """
    try:
        if not isinstance(raw, dict) and len(raw) <= MAX_LINE:
            try:
                return _DECODER.decode(raw)
            except Exception:  # noqa: BLE001, S110 - the route below says what is wrong
                pass
        obj = raw if isinstance(raw, dict) else decode_object(raw)
        if isinstance(obj, str):
            return Rejection(obj, line_text(raw))
        try:
            return msgspec.convert(_iso_times(obj), Event)
        except msgspec.ValidationError as exc:
            event_id = obj.get("id") if isinstance(obj.get("id"), str) else None
            text = line_text(json.dumps(raw, default=str) if isinstance(raw, dict) else raw)
            return Rejection(f"invalid event: {_problem(exc)}", text, event_id[:200] if event_id else None)
    except Exception as exc:  # noqa: BLE001 - one bad line must never stop the stream
        return Rejection(f"unreadable event: {type(exc).__name__}: {exc}"[:500], line_text(str(raw)))


def _iso_times(obj: dict) -> dict:
    """The object with its ``ts`` and ``kickoff`` strings read by Python's ISO 8601 parser, which takes the
    forms RFC 3339 (msgspec's) leaves out: no seconds (``2025-08-13T19:00Z``), the basic format."""
    times = {}
    for key in ("ts", "kickoff"):
        if isinstance(value := obj.get(key), str):
            try:
                times[key] = datetime.fromisoformat(value)
            except ValueError:
                pass  # msgspec says what is wrong with it
    return {**obj, **times} if times else obj


def _problem(exc: msgspec.ValidationError) -> str:
    """msgspec's message as ``field: what is wrong`` (its own checks' messages name their field already)."""
    text = str(exc)
    where = _WHERE.search(text)
    if where is None:
        return text
    message = text[:where.start()]
    return f"{where.group(1)}: {message}" if where.group(1) else message


def event_dict(event: Fixture | Odds | Result) -> dict:
    """The event as a JSON-safe dict: the fields given (None left out), timestamps in ISO 8601 with their
    offset (``Z`` for UTC)."""
    return {k: v for k, v in msgspec.to_builtins(event).items() if v is not None}


# where orjson's JSON may differ from the standard library's (a false alarm only costs the slow route): escapes,
# DEL, non-ASCII, exponents (after a digit: an id such as "pinnacle-open" is no exponent), and floats below 1e-4
# (the standard library writes 1e-05, orjson 0.00001); tested as plain substrings first, 5x faster than one regex
_EXPONENT = re.compile(rb"[0-9]e[-+]")


def _plain(text: bytes) -> bool:
    return (text.isascii() and b"\\" not in text and b"\x7f" not in text and b"0.0000" not in text
            and not ((b"e-" in text or b"e+" in text) and _EXPONENT.search(text)))


def fingerprint(event: Fixture | Odds | Result) -> str:
    """A short hash of the event's content: two events under one id either match or conflict.

    The hash of the standard library's compact, key-sorted, ASCII JSON (what checkpoints hold). orjson
    writes the same bytes for printable ASCII without escapes and for floats written without an exponent,
    at a third of the cost; any other event takes the standard library's route.
    """
    content = event_dict(event)
    text = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    if not _plain(text):
        text = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha1(text).hexdigest()[:16]
