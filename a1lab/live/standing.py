"""What the live loop holds between events and puts back when one fails: open matches, the features behind
their predictions, the feature state, the rolling window, the betting totals and the alert rules.

Every field of :class:`Standing` has its counterpart in :class:`Savepoint`, so whatever an event may change
is copied before it is applied by construction, not by discipline (a test checks that the two agree)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from a1lab.features.state import FeatureState
from a1lab.live.settlement import Window
from a1lab.monitoring.alerts import AlertBook


@dataclass
class Savepoint:
    """Copies taken before one event is applied.

    Attributes:
        match_id: the one match the event may change; None when it may change all (a result: it settles its
            match and re-scores others).
        features: each league's feature state as it was before the event first touched it (None: it had none).
    """

    match_id: str | None
    features: dict
    matches: dict
    inputs: dict
    last_day: dict
    window: Window | None
    totals: dict
    alerts: AlertBook | None


@dataclass
class Standing:
    """The loop's state that events change.

    Attributes:
        features: ratings and rolling windows of every league, fed by results.
        alerts: alert rules (None: no monitoring).
        window: rolling analytics of settled matches.
        matches: open matches by id: league, season, teams, kick-off, day, stored quotes, standing prediction.
        inputs: the feature-state row behind each standing prediction.
        last_day: each league's latest settled day.
        totals: stake and profit of settled bets.
    """

    features: FeatureState
    alerts: AlertBook | None
    window: Window
    matches: dict[str, dict] = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    last_day: dict[str, int] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=lambda: {"staked": 0.0, "profit": 0.0})

    def __post_init__(self) -> None:
        self._saved: Savepoint | None = None

    def begin(self, match_id: str | None, alerts: bool) -> None:
        """Take the savepoint of one event.

        Args:
            match_id: the match a fixture or a quote changes; None for a result, which may change every open
                match and the analytics. Shallow copies where the loop replaces values rather than mutating
                them (predictions, inputs).
            alerts: whether the event can move the alert rules (copying them for every event cost ~90 us with
                the shipped rules).
        """
        def match(k: str) -> dict | None:
            m = self.matches.get(k)
            return None if m is None else {**m, "quotes": dict(m["quotes"])}

        whole = match_id is None
        self._saved = Savepoint(
            match_id=match_id, features={},
            matches={k: match(k) for k in (self.matches if whole else [match_id])},
            inputs=dict(self.inputs) if whole else {match_id: self.inputs.get(match_id)},
            last_day=dict(self.last_day), window=self.window.copy() if whole else None, totals=dict(self.totals),
            alerts=copy.deepcopy(self.alerts) if alerts else self.alerts)

    def touch(self, league: str) -> None:
        """Copy ``league``'s feature state into the savepoint before the current event first changes it (scoring
        may flush queued results or start a season; most quotes score nothing, so it is copied lazily)."""
        if self._saved is not None and league not in self._saved.features:
            state = self.features.leagues.get(league)
            self._saved.features[league] = None if state is None else state.copy()

    def commit(self) -> None:
        """The event applied: drop its savepoint."""
        self._saved = None

    def rollback(self) -> None:
        """Put back what the savepoint holds."""
        saved, self._saved = self._saved, None
        for league, state in saved.features.items():
            if state is None:
                self.features.leagues.pop(league, None)
            else:
                self.features.leagues[league] = state
        if saved.match_id is None:
            self.matches, self.inputs, self.window = saved.matches, saved.inputs, saved.window
        else:
            for current, before in ((self.matches, saved.matches), (self.inputs, saved.inputs)):
                for k, v in before.items():
                    if v is None:
                        current.pop(k, None)
                    else:
                        current[k] = v
        self.last_day, self.totals, self.alerts = saved.last_day, saved.totals, saved.alerts
