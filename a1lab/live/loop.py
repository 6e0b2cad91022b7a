"""The live scoring loop: events in, predictions, settlements and alerts out.

The loop is synchronous and clock-free: ``process(event)`` returns the messages
the event causes, with the event's own time. A match is scored once the quotes
its model needs (at the model's prediction time) are in, and re-scored when a
result of an earlier day arrives before its kick-off, so the prediction standing
at kick-off uses the same information as the batch pipeline's. Results settle
predictions, feed the :class:`FeatureState` and the rolling analytics.

Idempotent: an event id seen before with the same content is skipped (with other
content it is a conflict and rejected), and a second result for a settled match,
odds after kick-off and events for unknown matches are rejected with a reason.
Atomic: an exception while applying one event rolls the loop back to where it
was before that event, which is rejected with the exception as its reason.

Bounded: a match settled more than ``horizon_days`` (event time) before the
newest event is forgotten with the ids of its events, so memory and checkpoints
stop growing once the stream is longer than the horizon. An event older than
the horizon for a match the loop does not hold (a fixture kicking off before it,
odds or a result stamped before it) is skipped and counted as ``expired``: a
forgotten match can never count twice.
"""

from __future__ import annotations

import copy
import functools
import math
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson

from a1lab.betting import Staking, ValueRule, closing_line_value, value_bet_arrays
from a1lab.columns import ah_line_column, odds_column, quote_columns, quotes_behind
from a1lab.data.schema import result_code
from a1lab.explain import top_contribution_rows
from a1lab.features.market import market_feature_values
from a1lab.features.state import FeatureState, day_of, team_match_stats
from a1lab.live.events import MARKET_OUTCOMES, Fixture, Odds, Rejection, Result, fingerprint
from a1lab.matrix import FeatureMatrix
from a1lab.metrics import logloss_per_match, rps_per_match
from a1lab.monitoring.alerts import Alert, AlertBook
from a1lab.odds import remove_margin
from a1lab.outcomes import OUTCOMES, RESULT_CODES, TWO_WAY

CHECKPOINT_VERSION = 3  # 2: seen event ids keep a fingerprint of their content; 3: settled matches keep their time


@dataclass(frozen=True)
class LoopConfig:
    """Settings of the loop.

    Attributes:
        margin_method: margin removal for the market's probabilities.
        market_book: bookmaker the model is compared with and whose price bets take.
        value_rule: when a price is a value bet.
        staking: suggested stake (a fraction of the bankroll).
        window: settled matches in the rolling analytics.
        min_window: settled matches before rolling metrics feed the alert rules.
        top_k: SHAP contributions sent with each prediction.
        horizon_days: settled matches (and their event ids) are forgotten this long after settling; events
            older than this for matches not held are skipped (a feed resending history further back than
            the horizon).
    """

    margin_method: str
    market_book: str
    value_rule: ValueRule
    staking: Staking
    window: int
    min_window: int
    top_k: int
    horizon_days: float


class CheckpointError(ValueError):
    """A checkpoint that this loop cannot resume from (corrupt, another version, other models)."""


def required_quotes(columns: list[str]) -> set[tuple[str, ...]]:
    """The quotes the given market feature columns are computed from (:func:`a1lab.columns.quotes_behind`):
    (bookmaker, timing) of 1X2 or moneyline quotes, (bookmaker, timing, market) of ``ou25`` and ``ah`` ones."""
    return set().union(*(quotes_behind(c) for c in columns))


def quote_key(book: str, timing: str, market: str) -> tuple[str, ...]:
    """How :func:`required_quotes` names a quote: a 1X2 or moneyline quote by (book, timing), the others
    with their market too. A match stores each quote under these parts joined by ``/``."""
    return (book, timing) if market in ("1x2", "ml") else (book, timing, market)


def fair_quote(quote: list, method: str) -> np.ndarray:
    """De-vigged probabilities (home, draw, away) of a stored quote; a moneyline's missing draw is 0."""
    q = np.asarray(quote, dtype=float)
    priced = np.isfinite(q)
    p = np.zeros(len(q))
    p[priced] = remove_margin(q[priced][None, :], method)[0]
    return p


def _quote_prices(key: str, quote: list):
    """(column, price) pairs of a stored quote: ``book/timing`` (1X2, or a moneyline when it has no draw),
    ``book/timing/ou25`` (over, under) or ``book/timing/ah`` (home, away, then the line, which the match table
    holds once per timing)."""
    two_way = key.count("/") == 1 and quote[1] is None
    return zip(_price_columns(key, two_way), (quote[0], quote[2]) if two_way else quote, strict=True)


@functools.lru_cache(maxsize=4096)
def _price_columns(key: str, two_way: bool) -> tuple[str, ...]:
    """The columns of a stored quote's prices (see :func:`_quote_prices`); named once per key, not per scoring."""
    book, timing, *market = key.split("/")
    if market:
        columns = [odds_column(book, market[0], timing, o) for o in MARKET_OUTCOMES[market[0]]]
        return (*columns, ah_line_column(timing)) if market[0] == "ah" else tuple(columns)
    return tuple(quote_columns(book, timing, "ml", TWO_WAY) if two_way else quote_columns(book, timing))


def _outcomes(p) -> dict:
    return {o: float(v) for o, v in zip(OUTCOMES, p, strict=True)}


WINDOW_KEYS = ("rps", "logloss", "market_rps", "market_logloss", "hit", "clv")


@dataclass
class Window:
    """Rolling analytics over the last ``size`` settled matches.

    Each key's values are kept in order beside the rows, so a summary is a few exactly rounded sums
    (``math.fsum``: the same figures whatever the window went through, a restored one included), not a
    pass over every row.
    """

    size: int
    rows: deque = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.rows = deque(self.rows)
        self._values = {k: deque(float(r[k]) for r in self.rows if r.get(k) is not None) for k in WINDOW_KEYS}
        while len(self.rows) > self.size:
            self._drop_oldest()

    def copy(self) -> Window:
        new = copy.copy(self)
        new.rows, new._values = self.rows.copy(), {k: v.copy() for k, v in self._values.items()}
        return new

    def add(self, row: dict) -> None:
        self.rows.append(row)
        for key in WINDOW_KEYS:
            if row.get(key) is not None:
                self._values[key].append(float(row[key]))
        while len(self.rows) > self.size:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        old = self.rows.popleft()
        for key in WINDOW_KEYS:
            if old.get(key) is not None:
                self._values[key].popleft()

    def summary(self) -> dict:
        mean = {k: math.fsum(v) / len(v) if v else None for k, v in self._values.items()}
        out = {"n": len(self.rows), **{k: mean[k] for k in WINDOW_KEYS[:-1]}}
        out["rps_gap"] = None if out["rps"] is None or out["market_rps"] is None else out["rps"] - out["market_rps"]
        out["bets"] = len(self._values["clv"])
        out["clv"] = mean["clv"]
        return out


class Loop:
    """Scores matches from a stream of events.

    Args:
        models: registered models (``a1lab.registry.load``); several are averaged (soft voting).
        state: the feature state after the history before the stream's start.
        config: loop settings.
        alerts: rules on ``rps_gap`` (rolling model minus market RPS), ``odds_move``
            (largest move of the market's de-vigged probabilities from open to close)
            and ``events`` (staleness: a feed gone quiet, see :meth:`heartbeat`).
        timing: the models' prediction time, ``open`` or ``close``.
    """

    def __init__(self, models: list, state: FeatureState, config: LoopConfig, alerts: AlertBook | None = None,
                 timing: str = "open"):
        if not models:
            raise ValueError("the loop needs at least one model")
        if timing not in ("open", "close"):
            raise ValueError(f"timing must be open or close, got {timing!r}")
        self.models, self.state, self.config, self.alerts, self.timing = models, state, config, alerts, timing
        columns = [c for m in models for c in m.features + list(getattr(m.estimator, "offset", None) or [])]
        self.needed = {q for q in required_quotes(columns) if q[1] == timing} or {(config.market_book, timing)}
        # whose exact SHAP values give the reasons: the first model that has them (none with top_k 0)
        self.explainer = next((m for m in models if hasattr(m.estimator, "contributions")), None) \
            if config.top_k > 0 else None
        self.seen: dict[str, str] = {}  # event id -> fingerprint of its content
        self.seen_before_restart: set[str] = set()
        self.matches: dict[str, dict] = {}
        self.settled: dict[str, str] = {}  # match id -> when it settled (event time, ISO), oldest first
        self.match_events: dict[str, list[str]] = {}  # match id -> ids of its accepted events
        self.last_day: dict[str, int] = {}
        self.last_event_time: datetime | None = None  # ``ts`` of the newest applied event (for /health's lag)
        self._inputs: dict[str, np.ndarray] = {}  # state features behind each standing prediction
        self.window = Window(config.window)
        self.counts = {"events": 0, "duplicates": 0, "seen_before_restart": 0, "expired": 0, "rejected": 0,
                       "predictions": 0, "settled": 0, "alerts": 0}
        self.totals = {"staked": 0.0, "profit": 0.0}
        self._saved: dict | None = None  # the savepoint of the event being applied

    @property
    def model_ids(self) -> list[str]:
        return [f"{m.metadata['name']}:{m.metadata['version']}" for m in self.models]

    # -- events ---------------------------------------------------------------------------------
    def process(self, event: Fixture | Odds | Result) -> list[dict | Rejection]:
        """Apply one validated event; return the messages (and rejections) it causes.

        Never raises: an exception while applying the event leaves the loop as it was before the event
        and comes back as a Rejection naming it.
        """
        content = fingerprint(event)
        if event.id in self.seen:
            if self.seen[event.id] != content:
                self.counts["rejected"] += 1
                return [Rejection(f"conflicting duplicate: event id {event.id} was seen with other content; "
                                  "the first version stands", "", event.id)]
            key = "seen_before_restart" if event.id in self.seen_before_restart else "duplicates"
            self.counts[key] += 1
            return [Rejection(key.replace("_", " "), "", event.id, dead=False)]
        if self._expired(event):
            self.counts["expired"] += 1
            return [Rejection(f"older than the {self.config.horizon_days:g}-day horizon before the newest event "
                              f"({self.last_event_time.isoformat()}) for a match not held", "", event.id, dead=False)]
        saved = self._savepoint(event)
        try:
            out = self._fixture(event) if isinstance(event, Fixture) else (
                self._odds(event) if isinstance(event, Odds) else self._result(event))
        except Exception as exc:  # noqa: BLE001 - one poisonous event must not stop the stream
            self._rollback(saved)
            out = [Rejection(f"failed to apply: {type(exc).__name__}: {exc}"[:500], "", event.id)]
        finally:
            self._saved = None
        if not (out and isinstance(out[0], Rejection)):
            self.seen[event.id] = content
            self.match_events.setdefault(event.match_id, []).append(event.id)
            self.counts["events"] += 1
            self.last_event_time = event.ts if self.last_event_time is None else max(self.last_event_time, event.ts)
            if isinstance(event, Result):
                self._forget(self.last_event_time - timedelta(days=self.config.horizon_days))
        for msg in out:
            key = "rejected" if isinstance(msg, Rejection) else {"prediction": "predictions", "settlement": "settled",
                                                                    "alert": "alerts"}.get(msg["type"])
            if key:
                self.counts[key] += 1
        return out

    def _expired(self, event: Fixture | Odds | Result) -> bool:
        if self.last_event_time is None or event.match_id in self.matches:
            return False
        horizon = self.last_event_time - timedelta(days=self.config.horizon_days)
        return (event.kickoff if isinstance(event, Fixture) else event.ts) < horizon

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

    def _savepoint(self, event) -> dict:
        """What applying ``event`` may change, copied before it is applied (see :meth:`_rollback`).

        A result may settle its match, re-score others and move the analytics: every open match is copied. A
        fixture or a quote changes its own match only, so only that one is; a league's feature state is
        copied when it is first touched (:meth:`_touch_league`: scoring may flush queued results or start a
        season), since most quotes score nothing. Shallow copies where the loop replaces values rather than
        mutating them (predictions, inputs).
        """
        mid, whole = event.match_id, isinstance(event, Result)

        def match(k: str) -> dict | None:
            m = self.matches.get(k)
            return None if m is None else {**m, "quotes": dict(m["quotes"])}

        saved = {"whole": whole, "leagues": {}, "match_id": mid, "was_settled": mid in self.settled,
                 "matches": {k: match(k) for k in (self.matches if whole else [mid])},
                 "inputs": dict(self._inputs) if whole else {mid: self._inputs.get(mid)},
                 "last_day": dict(self.last_day), "counts": dict(self.counts), "totals": dict(self.totals),
                 "window": self.window.copy() if whole else None,
                 "alerts": copy.deepcopy(self.alerts) if self._may_alert(event) else self.alerts}
        self._saved = saved
        return saved

    def _touch_league(self, league: str) -> None:
        """Copy ``league``'s feature state into the savepoint before its first change by the current event."""
        if self._saved is not None and league not in self._saved["leagues"]:
            state = self.state.leagues.get(league)
            self._saved["leagues"][league] = None if state is None else state.copy()

    def _may_alert(self, event) -> bool:
        """Whether applying ``event`` can change the alert rules' state (a result's rolling gap, the market
        book's move); copying the rules for every event cost ~90 us with the shipped monitoring rules."""
        return self.alerts is not None and (isinstance(event, Result) or (
            isinstance(event, Odds) and event.bookmaker == self.config.market_book and event.market in ("1x2", "ml")))

    def _rollback(self, saved: dict) -> None:
        for league, state in saved["leagues"].items():
            if state is None:
                self.state.leagues.pop(league, None)
            else:
                self.state.leagues[league] = state
        if not saved["was_settled"]:
            self.settled.pop(saved["match_id"], None)
        if saved["whole"]:
            self.matches, self._inputs, self.window = saved["matches"], saved["inputs"], saved["window"]
        else:
            for restore, saved_part in ((self.matches, saved["matches"]), (self._inputs, saved["inputs"])):
                for k, v in saved_part.items():
                    if v is None:
                        restore.pop(k, None)
                    else:
                        restore[k] = v
        self.last_day, self.counts, self.totals = saved["last_day"], saved["counts"], saved["totals"]
        self.alerts = saved["alerts"]

    def heartbeat(self, now: float) -> list[dict]:
        """Note that the feed is alive at ``now`` (seconds) and check staleness rules; return alerts."""
        if self.alerts is None:
            return []
        return [self._alert(a) for a in self.alerts.observe("events", 1.0, now) + self.alerts.check_staleness(now)]

    def check_quiet(self, now: float) -> list[dict]:
        """Fire staleness alerts if the feed has been quiet too long at ``now``."""
        return [] if self.alerts is None else [self._alert(a) for a in self.alerts.check_staleness(now)]

    def _reject(self, event, reason: str) -> list[Rejection]:
        return [Rejection(reason, "", event.id)]

    def _fixture(self, ev: Fixture) -> list:
        if ev.match_id in self.settled or ev.match_id in self.matches:
            return self._reject(ev, f"match {ev.match_id} is already known")
        if ev.home == ev.away:
            return self._reject(ev, "home and away are the same team")
        kickoff = ev.kickoff.astimezone(UTC)
        day = day_of(kickoff)
        self.matches[ev.match_id] = {"league": ev.league, "season": ev.season, "home": ev.home, "away": ev.away,
                                     "kickoff": kickoff.isoformat(), "day": day, "quotes": {},
                                     "prediction": None, "revision": 0}
        return []

    def _odds(self, ev: Odds) -> list:
        m = self.matches.get(ev.match_id)
        if m is None:
            why = "already settled" if ev.match_id in self.settled else "no fixture for this match"
            return self._reject(ev, f"odds for match {ev.match_id}: {why}")
        if ev.ts >= datetime.fromisoformat(m["kickoff"]):
            return self._reject(ev, f"odds at {ev.ts.isoformat()} are not before kick-off {m['kickoff']}")
        main = ev.market in ("1x2", "ml")  # the outcome market, which the model forecasts and bets take
        timing = ev.timing or ("open" if "/".join(quote_key(ev.bookmaker, "open", ev.market)) not in m["quotes"]
                               else "close")
        key = quote_key(ev.bookmaker, timing, ev.market)
        m["quotes"]["/".join(key)] = ev.quote()  # a moneyline's draw is None; a handicap's line comes last
        out = []
        if main and timing == "close" and ev.bookmaker == self.config.market_book:
            move = self._odds_move(m)
            if move is not None and self.alerts is not None:
                out += [self._alert(a, m, ev.match_id) for a in self.alerts.observe("odds_move", move,
                                                                                  ev.ts.timestamp())]
        late = main and self.timing == "open" and timing == "close" and m["prediction"] is None
        if late or (key in self.needed and self.needed <= {tuple(k.split("/")) for k in m["quotes"]}):
            out += self._score([ev.match_id], ev.ts, ev.id)
        return out

    def _odds_move(self, m: dict) -> float | None:
        book = self.config.market_book
        q_open, q_close = m["quotes"].get(f"{book}/open"), m["quotes"].get(f"{book}/close")
        if q_open is None or q_close is None:
            return None
        p = [fair_quote(q, self.config.margin_method) for q in (q_open, q_close)]
        return float(np.abs(p[1] - p[0]).max())

    def _result(self, ev: Result) -> list:
        if ev.match_id in self.settled:
            return self._reject(ev, f"match {ev.match_id} is already settled")
        m = self.matches.get(ev.match_id)
        if m is None:
            return self._reject(ev, f"result for match {ev.match_id}: no fixture for this match")
        if ev.ts < datetime.fromisoformat(m["kickoff"]):
            return self._reject(ev, f"result at {ev.ts.isoformat()} is before kick-off {m['kickoff']}")
        late = m["day"] < self.last_day.get(m["league"], m["day"])  # a later day has settled already
        self.last_day[m["league"]] = max(m["day"], self.last_day.get(m["league"], m["day"]))
        row = {k: [v] for k, v in {"home_goals": ev.home_goals, "away_goals": ev.away_goals, **ev.stats}.items()}
        home_stats, away_stats = team_match_stats(row)
        self._touch_league(m["league"])
        self.state.update(m["league"], m["day"], m["home"], m["away"], ev.home_goals, ev.away_goals,
                          home_stats[0], away_stats[0])
        out = [self._settle(ev, m, late)]
        del self.matches[ev.match_id]
        self._inputs.pop(ev.match_id, None)
        self.settled[ev.match_id] = ev.ts.astimezone(UTC).isoformat()
        summary = out[0]["window"]
        if self.alerts is not None and summary["n"] >= self.config.min_window and summary["rps_gap"] is not None:
            out += [self._alert(a) for a in self.alerts.observe("rps_gap", summary["rps_gap"], ev.ts.timestamp())]
        stale = [k for k, o in self.matches.items() if o["league"] == m["league"] and o["day"] > m["day"]
                 and o["prediction"] is not None and datetime.fromisoformat(o["kickoff"]) > ev.ts]
        if stale:
            out += self._score(stale, ev.ts, ev.id, quotes_changed=False)
        return out

    # -- scoring --------------------------------------------------------------------------------
    def _frame(self, ids: list[str], rows: list[np.ndarray]) -> FeatureMatrix:
        """The matches' features as the batch table has them: state features, then market features of their quotes."""
        odds = [{c: v for k, q in self.matches[mid]["quotes"].items() for c, v in _quote_prices(k, q)}
                for mid in ids]
        names = list(dict.fromkeys(c for o in odds for c in o))
        quotes = FeatureMatrix(np.array([[o.get(c, np.nan) for c in names] for o in odds],
                                        dtype=float).reshape(len(ids), len(names)), names)
        market = market_feature_values(quotes, self.state.config,  # an open forecast reads no closing quote
                                       ("open",) if self.timing == "open" else ("open", "close"))
        return FeatureMatrix(np.column_stack([np.array(rows), *market.values()]), [*self.state.names, *market])

    def _score(self, ids: list[str], ts: datetime, event_id: str, quotes_changed: bool = True) -> list[dict]:
        rows, changed = [], []
        for mid in ids:
            m = self.matches[mid]
            self._touch_league(m["league"])  # reading features may flush queued results or start a season
            row = self.state.features(m["league"], m["season"], m["day"], m["home"], m["away"])
            if not quotes_changed and np.array_equal(row, self._inputs.get(mid), equal_nan=True):
                continue  # same inputs as its standing prediction: nothing to redo
            self._inputs[mid] = row
            rows.append(row)
            changed.append(mid)
        if not changed:
            return []
        ids = changed
        frame = self._frame(ids, rows)
        bad = [c for c, v in zip(frame.columns, np.isinf(frame.values).any(axis=0), strict=True) if v]
        if bad:
            raise ValueError(f"infinite feature values in {bad[:5]}")
        probs, contributions = self._predict(frame)
        if not (np.isfinite(probs).all() and np.allclose(probs.sum(axis=1), 1.0, atol=1e-6)):
            raise ValueError("the model returned probabilities that are not finite or do not sum to 1")
        shap = self._explain(frame, probs, contributions)
        book, rule = self.config.market_book, self.config.value_rule
        out = []
        for i, mid in enumerate(ids):
            m = self.matches[mid]
            p = probs[i]
            old = m["prediction"]
            if old is not None and list(old["p"].values()) == p.tolist():
                continue  # nothing new to say
            quote = m["quotes"].get(f"{book}/{self.timing}")
            market, value = None, None
            if quote is not None:
                market = _outcomes(fair_quote(quote, self.config.margin_method))
                bet = {k: v[0] for k, v in value_bet_arrays(p[None, :], np.array([quote], dtype=float), rule).items()}
                if bet["outcome"] >= 0:
                    k = int(bet["outcome"])
                    stake = float(self.config.staking.fractions(p[[k]], np.array([quote[k]]))[0])
                    value = {"outcome": OUTCOMES[k], "odds": float(bet["odds"]), "edge": float(bet["edge"]),
                             "stake": stake}
            m["revision"] += 1
            m["prediction"] = {
                "type": "prediction", "match_id": mid, "league": m["league"], "season": m["season"],
                "home": m["home"], "away": m["away"], "kickoff": m["kickoff"], "revision": m["revision"],
                "at": ts.astimezone(UTC).isoformat(), "event_id": event_id, "models": self.model_ids,
                "p": _outcomes(p), "market": None if market is None else {"book": book, "timing": self.timing,
                                                                          "p": market},
                "value": value, "shap": shap[i]}
            out.append(m["prediction"])
        return out

    def _predict(self, frame: FeatureMatrix) -> tuple[np.ndarray, np.ndarray | None]:
        """The models' mean probabilities, and the explainer's exact SHAP values (None without one), taken in the
        same pass as its probabilities."""
        probs, contributions = [], None
        for m in self.models:
            if m is self.explainer:
                p, contributions = m.proba_and_contributions(frame)
            else:
                p = m.predict_proba(frame)
            probs.append(p)
        return np.mean(probs, axis=0), contributions

    def _explain(self, frame: FeatureMatrix, probs: np.ndarray, contributions: np.ndarray | None) -> list:
        if contributions is None:
            return [None] * len(frame)
        est = self.explainer.estimator
        chosen = np.searchsorted(est.classes_, probs.argmax(axis=1))  # the model's column of the likeliest outcome
        return top_contribution_rows(contributions, frame[est.features_], chosen, k=self.config.top_k)

    # -- settling -------------------------------------------------------------------------------
    def _settle(self, ev: Result, m: dict, late: bool) -> dict:
        result = str(result_code(ev.home_goals, ev.away_goals))
        y = np.array([RESULT_CODES[result]])
        pred = m["prediction"]
        if pred is not None and pred["p"]["draw"] == 0 and result == "D":
            pred = None  # a tie in a two-way sport is a push: not scored, a bet on it is void
        row: dict = {"hit": None, "rps": None, "logloss": None, "market_rps": None, "market_logloss": None,
                     "clv": None}
        bet_out = None
        if pred is not None:
            p = np.array([list(pred["p"].values())])
            row.update(rps=float(rps_per_match(p, y)[0]), logloss=float(logloss_per_match(p, y)[0]),
                       hit=float(p.argmax() == y[0]))
            if pred["market"] is not None:
                q = np.array([list(pred["market"]["p"].values())])
                row.update(market_rps=float(rps_per_match(q, y)[0]), market_logloss=float(logloss_per_match(q, y)[0]))
            bet = pred["value"]
            if bet is not None:
                k = OUTCOMES.index(bet["outcome"])
                won = k == y[0]
                profit = bet["stake"] * (bet["odds"] - 1.0) if won else -bet["stake"]
                close = m["quotes"].get(f"{self.config.market_book}/close")
                clv = None
                if close is not None:
                    fair = 1.0 / fair_quote(close, self.config.margin_method)[k]
                    clv = float(closing_line_value(np.array([bet["odds"]]), np.array([fair]))[0])
                row["clv"] = clv
                self.totals["staked"] += bet["stake"]
                self.totals["profit"] += profit
                bet_out = {**bet, "won": bool(won), "profit": profit, "clv": clv}
        self.window.add(row)
        return {"type": "settlement", "match_id": ev.match_id, "league": m["league"], "home": m["home"],
                "away": m["away"], "at": ev.ts.astimezone(UTC).isoformat(), "event_id": ev.id,
                "home_goals": ev.home_goals, "away_goals": ev.away_goals, "result": result, "late": late,
                "predicted": pred is not None, **{k: row[k] for k in ("rps", "logloss", "market_rps",
                                                                       "market_logloss")},
                "bet": bet_out, "window": self.window.summary(), "totals": dict(self.totals)}

    def _alert(self, alert: Alert, match: dict | None = None, match_id: str | None = None) -> dict:
        if match is not None:  # say which match, in the text that notifiers send too
            alert = replace(alert, message=f"{alert.message} ({match['home']} v {match['away']}, "
                                           f"{match['kickoff']}, {match_id})")
        return {"type": "alert", **alert.to_dict(), **({"match_id": match_id} if match_id else {})}

    # -- checkpoint -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Everything needed to resume: feature state, open matches, seen ids, analytics, alert rules (JSON-safe)."""
        return {"version": CHECKPOINT_VERSION, "models": self.model_ids, "timing": self.timing,
                "state": self.state.to_dict(), "matches": self.matches, "seen": dict(sorted(self.seen.items())),
                "settled": self.settled, "match_events": self.match_events,
                "last_event_time": None if self.last_event_time is None else self.last_event_time.isoformat(),
                "last_day": self.last_day, "window": list(self.window.rows),
                "counts": self.counts, "totals": self.totals,
                "alerts": None if self.alerts is None else self.alerts.to_dict()}

    def to_json(self) -> bytes:
        """:meth:`to_dict` as compact JSON, what checkpoints hold: orjson, 6x the standard library's speed on a
        2-8 MB checkpoint. NaN, which only the feature state's float arrays hold (rolling buffers, queued
        results' missing statistics), is written as null, which :meth:`restore` reads back into those arrays
        as NaN."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)

    def restore(self, snapshot: dict) -> None:
        """Resume from :meth:`to_dict` output written by a loop with the same models.

        Everything is read and checked before the loop changes, so a bad checkpoint leaves it as it was.

        Raises:
            CheckpointError: not a checkpoint of this version, written for other models or another timing,
                or damaged.
        """
        if not isinstance(snapshot, dict) or "version" not in snapshot:
            raise CheckpointError("not a live-loop checkpoint")
        if snapshot["version"] != CHECKPOINT_VERSION:
            raise CheckpointError(f"written by another a1lab (checkpoint version {snapshot['version']!r}; "
                                  f"this one reads {CHECKPOINT_VERSION})")
        if snapshot.get("models") != self.model_ids or snapshot.get("timing") != self.timing:
            raise CheckpointError(f"checkpoint was written by {snapshot.get('models')} ({snapshot.get('timing')}); "
                                  f"this loop runs {self.model_ids} ({self.timing})")
        try:
            state = FeatureState.from_dict(snapshot["state"])
            matches = {str(k): dict(v) for k, v in snapshot["matches"].items()}
            seen = {str(k): str(v) for k, v in snapshot["seen"].items()}
            settled = {str(k): str(v) for k, v in snapshot["settled"].items()}
            match_events = {str(k): [str(i) for i in v] for k, v in snapshot["match_events"].items()}
            last = snapshot["last_event_time"]
            last = None if last is None else datetime.fromisoformat(last)
            last_day = {str(k): int(v) for k, v in snapshot["last_day"].items()}
            window = Window(self.config.window, [dict(r) for r in snapshot["window"]])
            counts = {str(k): int(v) for k, v in snapshot["counts"].items()}
            totals = {str(k): float(v) for k, v in snapshot["totals"].items()}
            alerts = copy.deepcopy(self.alerts)
            if alerts is not None and snapshot["alerts"] is not None:
                alerts.restore(snapshot["alerts"])
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise CheckpointError(f"damaged checkpoint ({type(exc).__name__}: {exc})") from None
        self.state, self.matches, self.seen, self.settled, self.last_day = state, matches, seen, settled, last_day
        self.match_events, self.last_event_time = match_events, last
        self.seen_before_restart = set(seen)
        self.window = window
        self.counts.update(counts)
        self.totals.update(totals)
        self.alerts = alerts
