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

from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
import orjson

from a1lab.betting import Staking, ValueRule
from a1lab.data.schema import result_code
from a1lab.features.state import FeatureState, day_of, team_match_stats
from a1lab.live import checkpoint
from a1lab.live.events import Fixture, Odds, Rejection, Result, fingerprint
from a1lab.live.ledger import Ledger
from a1lab.live.scoring import Scorer, fair_quote, quote_key
from a1lab.live.settlement import Window, settle
from a1lab.live.standing import Standing
from a1lab.monitoring.alerts import Alert, AlertBook


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


class Loop:
    """Scores matches from a stream of events.

    The work is split by job: a :class:`~a1lab.live.ledger.Ledger` of seen ids and the horizon, a
    :class:`~a1lab.live.scoring.Scorer`, :func:`~a1lab.live.settlement.settle` and
    :mod:`~a1lab.live.checkpoint`; what an event may change is the :class:`~a1lab.live.standing.Standing`,
    which takes a savepoint before each event.

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
        self.scorer = Scorer(models, config, timing, state.config)
        self.models, self.config, self.timing = models, config, timing
        self.standing = Standing(state, alerts, Window(config.window))
        self.ledger = Ledger(config.horizon_days)
        self.counts = {"events": 0, "duplicates": 0, "seen_before_restart": 0, "expired": 0, "rejected": 0,
                       "predictions": 0, "settled": 0, "alerts": 0}

    @property
    def model_ids(self) -> list[str]:
        return self.scorer.model_ids

    @property
    def needed(self) -> set[tuple[str, ...]]:
        """The quotes the models need at their prediction time."""
        return self.scorer.needed

    @property
    def state(self) -> FeatureState:
        return self.standing.features

    @property
    def matches(self) -> dict[str, dict]:
        return self.standing.matches

    @property
    def alerts(self) -> AlertBook | None:
        return self.standing.alerts

    @alerts.setter
    def alerts(self, alerts: AlertBook | None) -> None:
        self.standing.alerts = alerts

    # -- events ---------------------------------------------------------------------------------
    def process(self, event: Fixture | Odds | Result) -> list[dict | Rejection]:
        """Apply one validated event; return the messages (and rejections) it causes.

        Never raises: an exception while applying the event leaves the loop as it was before the event
        and comes back as a Rejection naming it.
        """
        content = fingerprint(event)
        repeat = self.ledger.repeat(event.id, content)
        if repeat == "conflict":
            self.counts["rejected"] += 1
            return [Rejection(f"conflicting duplicate: event id {event.id} was seen with other content; "
                              "the first version stands", "", event.id)]
        if repeat is not None:
            self.counts[repeat] += 1
            return [Rejection(repeat.replace("_", " "), "", event.id, dead=False)]
        if self.ledger.expired(event, event.match_id in self.matches):
            self.counts["expired"] += 1
            return [Rejection(f"older than the {self.config.horizon_days:g}-day horizon before the newest event "
                              f"({self.ledger.last_event_time.isoformat()}) for a match not held", "", event.id,
                              dead=False)]
        self.standing.begin(None if isinstance(event, Result) else event.match_id, self._may_alert(event))
        try:
            out = self._fixture(event) if isinstance(event, Fixture) else (
                self._odds(event) if isinstance(event, Odds) else self._result(event))
        except Exception as exc:  # noqa: BLE001 - one poisonous event must not stop the stream
            self.standing.rollback()
            out = [Rejection(f"failed to apply: {type(exc).__name__}: {exc}"[:500], "", event.id)]
        else:
            self.standing.commit()
        if not (out and isinstance(out[0], Rejection)):
            self.ledger.record(event, content)
            self.counts["events"] += 1
        for msg in out:
            key = "rejected" if isinstance(msg, Rejection) else {"prediction": "predictions", "settlement": "settled",
                                                                    "alert": "alerts"}.get(msg["type"])
            if key:
                self.counts[key] += 1
        return out

    def _may_alert(self, event) -> bool:
        """Whether applying ``event`` can change the alert rules' state (a result's rolling gap, the market
        book's move)."""
        return self.alerts is not None and (isinstance(event, Result) or (
            isinstance(event, Odds) and event.bookmaker == self.config.market_book and event.market in ("1x2", "ml")))

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
        if ev.match_id in self.ledger.settled or ev.match_id in self.matches:
            return self._reject(ev, f"match {ev.match_id} is already known")
        if ev.home == ev.away:
            return self._reject(ev, "home and away are the same team")
        kickoff = ev.kickoff.astimezone(UTC)
        self.matches[ev.match_id] = {"league": ev.league, "season": ev.season, "home": ev.home, "away": ev.away,
                                     "kickoff": kickoff.isoformat(), "day": day_of(kickoff), "quotes": {},
                                     "prediction": None, "revision": 0}
        return []

    def _odds(self, ev: Odds) -> list:
        m = self.matches.get(ev.match_id)
        if m is None:
            why = "already settled" if ev.match_id in self.ledger.settled else "no fixture for this match"
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
        if late or (key in self.needed and self.scorer.ready(m["quotes"])):
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
        if ev.match_id in self.ledger.settled:
            return self._reject(ev, f"match {ev.match_id} is already settled")
        m = self.matches.get(ev.match_id)
        if m is None:
            return self._reject(ev, f"result for match {ev.match_id}: no fixture for this match")
        if ev.ts < datetime.fromisoformat(m["kickoff"]):
            return self._reject(ev, f"result at {ev.ts.isoformat()} is before kick-off {m['kickoff']}")
        last_day = self.standing.last_day
        late = m["day"] < last_day.get(m["league"], m["day"])  # a later day has settled already
        last_day[m["league"]] = max(m["day"], last_day.get(m["league"], m["day"]))
        row = {k: [v] for k, v in {"home_goals": ev.home_goals, "away_goals": ev.away_goals, **ev.stats}.items()}
        home_stats, away_stats = team_match_stats(row)
        self.standing.touch(m["league"])
        self.state.update(m["league"], m["day"], m["home"], m["away"], ev.home_goals, ev.away_goals,
                          home_stats[0], away_stats[0])
        out = [self._settle(ev, m, late)]
        del self.matches[ev.match_id]
        self.standing.inputs.pop(ev.match_id, None)
        summary = out[0]["window"]
        if self.alerts is not None and summary["n"] >= self.config.min_window and summary["rps_gap"] is not None:
            out += [self._alert(a) for a in self.alerts.observe("rps_gap", summary["rps_gap"], ev.ts.timestamp())]
        stale = [k for k, o in self.matches.items() if o["league"] == m["league"] and o["day"] > m["day"]
                 and o["prediction"] is not None and datetime.fromisoformat(o["kickoff"]) > ev.ts]
        if stale:
            out += self._score(stale, ev.ts, ev.id, quotes_changed=False)
        return out

    def _score(self, ids: list[str], ts: datetime, event_id: str, quotes_changed: bool = True) -> list[dict]:
        inputs, rows, changed = self.standing.inputs, [], []
        for mid in ids:
            m = self.matches[mid]
            self.standing.touch(m["league"])  # reading features may flush queued results or start a season
            row = self.state.features(m["league"], m["season"], m["day"], m["home"], m["away"])
            if not quotes_changed and np.array_equal(row, inputs.get(mid), equal_nan=True):
                continue  # same inputs as its standing prediction: nothing to redo
            inputs[mid] = row
            rows.append(row)
            changed.append(mid)
        if not changed:
            return []
        frame = self.scorer.frame([self.matches[mid]["quotes"] for mid in changed], rows, self.state)
        probs, shap = self.scorer.predict(frame)
        out = []
        for mid, p, reasons in zip(changed, probs, shap, strict=True):
            m = self.matches[mid]
            old = m["prediction"]
            if old is not None and list(old["p"].values()) == p.tolist():
                continue  # nothing new to say
            m["revision"] += 1
            m["prediction"] = self.scorer.prediction(mid, m, p, reasons, ts, event_id)
            out.append(m["prediction"])
        return out

    def _settle(self, ev: Result, m: dict, late: bool) -> dict:
        result = str(result_code(ev.home_goals, ev.away_goals))
        pred = m["prediction"]
        row, bet = settle(pred, result, m["quotes"].get(f"{self.config.market_book}/close"), self.config.margin_method)
        totals = self.standing.totals
        if bet is not None:
            totals["staked"] += bet["stake"]
            totals["profit"] += bet["profit"]
        self.standing.window.add(row)
        return {"type": "settlement", "match_id": ev.match_id, "league": m["league"], "home": m["home"],
                "away": m["away"], "at": ev.ts.astimezone(UTC).isoformat(), "event_id": ev.id,
                "home_goals": ev.home_goals, "away_goals": ev.away_goals, "result": result, "late": late,
                "predicted": row["rps"] is not None, **{k: row[k] for k in ("rps", "logloss", "market_rps",
                                                                             "market_logloss")},
                "bet": bet, "window": self.standing.window.summary(), "totals": dict(totals)}

    def _alert(self, alert: Alert, match: dict | None = None, match_id: str | None = None) -> dict:
        if match is not None:  # say which match, in the text that notifiers send too
            alert = replace(alert, message=f"{alert.message} ({match['home']} v {match['away']}, "
                                           f"{match['kickoff']}, {match_id})")
        return {"type": "alert", **alert.to_dict(), **({"match_id": match_id} if match_id else {})}

    # -- checkpoint -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Everything needed to resume: feature state, open matches, seen ids, analytics, alert rules (JSON-safe)."""
        return checkpoint.write(self.model_ids, self.timing, self.standing, self.ledger, self.counts)

    def to_json(self) -> bytes:
        """:meth:`to_dict` as compact JSON, what checkpoints hold: orjson, 6x the standard library's speed on a
        2-8 MB checkpoint. NaN, which only float arrays hold (the feature state's rolling buffers and queued
        results' missing statistics, the feature rows behind the predictions), is written as null, which
        :meth:`restore` reads back into those arrays as NaN."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)

    def restore(self, snapshot: dict) -> None:
        """Resume from :meth:`to_dict` output written by a loop with the same models.

        Everything is read and checked before the loop changes, so a bad checkpoint leaves it as it was.

        Raises:
            a1lab.live.checkpoint.CheckpointError: not a checkpoint of this version, written for other models
                or another timing, or damaged.
        """
        self.standing, self.ledger, counts = checkpoint.read(snapshot, self.model_ids, self.timing,
                                                             self.config.window, self.alerts,
                                                             self.config.horizon_days)
        self.counts.update(counts)
