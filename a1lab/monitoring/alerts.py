"""Alert rules with severity, de-duplication, cooldown and escalation, and a health score.

Rules are evaluated with an explicit ``now`` (seconds), never the wall clock, so
tests and replays are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from a1lab.monitoring.anomaly import RollingIQR, RollingZScore

SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class Alert:
    """One alert raised by a rule."""

    rule: str
    severity: str
    message: str
    value: float | None
    at: float
    repeat: int = 1

    def to_dict(self) -> dict:
        return {"rule": self.rule, "severity": self.severity, "message": self.message, "value": self.value,
                "at": self.at, "repeat": self.repeat}


@dataclass
class Rule:
    """A condition on one metric.

    Attributes:
        name: unique rule name (also the de-duplication key).
        metric: the metric it watches.
        kind: ``threshold`` (value above ``threshold``; below when ``below``),
            ``anomaly`` (z-score or IQR detector) or ``staleness`` (no value for
            longer than ``max_age`` seconds).
        severity: initial severity.
        cooldown: seconds during which a repeat of a firing rule is suppressed.
        escalate_after: repeats (outside cooldown) after which severity rises one step.
    """

    name: str
    metric: str
    kind: str = "threshold"
    threshold: float = 0.0
    below: bool = False
    detector: str = "zscore"
    sensitivity: float = 3.0
    window: int = 50
    warmup: int = 20
    max_age: float = 3600.0
    severity: str = "warning"
    cooldown: float = 600.0
    escalate_after: int = 3
    _detector: object = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in ("threshold", "anomaly", "staleness"):
            raise ValueError(f"rule {self.name}: unknown kind {self.kind!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"rule {self.name}: severity must be one of {SEVERITIES}")
        if self.detector not in ("zscore", "iqr"):
            raise ValueError(f"rule {self.name}: detector must be zscore or iqr, not {self.detector!r}")
        if self.kind == "anomaly":
            cls = RollingZScore if self.detector == "zscore" else RollingIQR
            self._detector = cls(self.window, self.sensitivity, self.warmup)


class AlertBook:
    """Evaluates rules on metric values and keeps their state (firing, repeats, last sent)."""

    def __init__(self, rules: list[Rule]):
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate rule names: {names}")
        self.rules = rules
        self.last_seen: dict[str, float] = {}
        self.firing: dict[str, bool] = {r.name: False for r in rules}
        self.repeats: dict[str, int] = {r.name: 0 for r in rules}
        self.last_sent: dict[str, float] = {}
        self.level: dict[str, str] = {r.name: r.severity for r in rules}

    def observe(self, metric: str, value: float, now: float) -> list[Alert]:
        """Feed one metric value; return the alerts to send (after de-duplication and cooldown)."""
        self.last_seen[metric] = now
        out = []
        for rule in self.rules:
            if rule.metric != metric or rule.kind == "staleness":
                continue
            if rule.kind == "threshold":
                hit = value < rule.threshold if rule.below else value > rule.threshold
            else:
                hit = rule._detector.update(value)
            alert = self._transition(rule, hit, value, now, f"{metric}={value:.6g}")
            if alert:
                out.append(alert)
        return out

    def check_staleness(self, now: float) -> list[Alert]:
        """Fire staleness rules whose metric has been quiet longer than ``max_age``."""
        out = []
        for rule in self.rules:
            if rule.kind != "staleness":
                continue
            last = self.last_seen.get(rule.metric)
            age = None if last is None else now - last
            hit = last is not None and age > rule.max_age
            alert = self._transition(rule, hit, age, now, f"no {rule.metric} for {age or 0:.0f} s")
            if alert:
                out.append(alert)
        return out

    def _transition(self, rule: Rule, hit: bool, value, now: float, text: str) -> Alert | None:
        if not hit:
            self.firing[rule.name] = False
            self.repeats[rule.name] = 0
            return None
        self.firing[rule.name] = True
        last = self.last_sent.get(rule.name)
        if last is not None and now - last < rule.cooldown:
            return None  # a duplicate inside the cooldown: suppressed
        self.repeats[rule.name] += 1
        steps = (self.repeats[rule.name] - 1) // max(rule.escalate_after, 1)
        level = min(SEVERITIES.index(rule.severity) + steps, len(SEVERITIES) - 1)
        self.last_sent[rule.name] = now
        self.level[rule.name] = SEVERITIES[level]
        return Alert(rule.name, SEVERITIES[level], f"{rule.name}: {text}", value, now, self.repeats[rule.name])

    def to_dict(self) -> dict:
        """The rules' state (firing, repeats, last sent, levels, detector windows), JSON-safe, for a checkpoint."""
        return {"last_seen": self.last_seen, "firing": self.firing, "repeats": self.repeats,
                "last_sent": self.last_sent, "level": self.level,
                "detectors": {r.name: list(r._detector.values) for r in self.rules if r._detector is not None}}

    def restore(self, data: dict) -> None:
        """Resume from :meth:`to_dict` output; rules it does not know start fresh."""
        names = {r.name for r in self.rules}
        self.last_seen.update(data["last_seen"])
        for key in ("firing", "repeats", "last_sent", "level"):
            getattr(self, key).update({k: v for k, v in data[key].items() if k in names})
        for rule in self.rules:
            if rule._detector is not None and rule.name in data["detectors"]:
                rule._detector.values.extend(data["detectors"][rule.name])

    def health(self) -> float:
        """1.0 when no rule fires; each firing rule takes off its severity weight (floor 0)."""
        weights = {"info": 0.05, "warning": 0.2, "critical": 0.5}
        lost = sum(weights[self.level[r.name]] for r in self.rules if self.firing[r.name])
        return max(0.0, 1.0 - lost)
