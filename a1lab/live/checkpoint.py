"""Checkpoints of the live loop: everything needed to resume, as JSON-safe data, and its reading back."""

from __future__ import annotations

import copy

import numpy as np

from a1lab.features.state import FeatureState
from a1lab.live.ledger import Ledger
from a1lab.live.settlement import Window
from a1lab.live.standing import Standing
from a1lab.monitoring.alerts import AlertBook

CHECKPOINT_VERSION = 3  # 2: seen event ids keep a fingerprint of their content; 3: settled matches keep their time


class CheckpointError(ValueError):
    """A checkpoint that this loop cannot resume from (corrupt, another version, other models)."""


def write(model_ids: list[str], timing: str, standing: Standing, ledger: Ledger, counts: dict) -> dict:
    """A loop's checkpoint: feature state, open matches and the feature rows behind their predictions, seen ids,
    analytics, alert rules (JSON-safe)."""
    book = ledger.to_dict()
    return {"version": CHECKPOINT_VERSION, "models": model_ids, "timing": timing,
            "state": standing.features.to_dict(), "matches": standing.matches,
            "inputs": {k: v.tolist() for k, v in standing.inputs.items()}, "seen": book["seen"],
            "settled": book["settled"], "match_events": book["match_events"],
            "last_event_time": book["last_event_time"], "last_day": standing.last_day,
            "window": list(standing.window.rows), "counts": counts, "totals": standing.totals,
            "alerts": None if standing.alerts is None else standing.alerts.to_dict()}


def read(snapshot: dict, model_ids: list[str], timing: str, window: int, alerts: AlertBook | None,
         horizon_days: float) -> tuple[Standing, Ledger, dict]:
    """The standing, ledger and counts of a checkpoint written by a loop with the same models and timing.

    Args:
        snapshot: :func:`write`'s output.
        model_ids: the reading loop's models (``name:version``).
        timing: the reading loop's prediction time.
        window: the rolling window's size.
        alerts: the reading loop's alert rules; a copy takes the checkpoint's rule states.
        horizon_days: the ledger's horizon.

    Raises:
        CheckpointError: not a checkpoint of this version, written for other models or another timing, or
            damaged.
    """
    if not isinstance(snapshot, dict) or "version" not in snapshot:
        raise CheckpointError("not a live-loop checkpoint")
    if snapshot["version"] != CHECKPOINT_VERSION:
        raise CheckpointError(f"written by another a1lab (checkpoint version {snapshot['version']!r}; "
                              f"this one reads {CHECKPOINT_VERSION})")
    if snapshot.get("models") != model_ids or snapshot.get("timing") != timing:
        raise CheckpointError(f"checkpoint was written by {snapshot.get('models')} ({snapshot.get('timing')}); "
                              f"this loop runs {model_ids} ({timing})")
    try:
        rules = copy.deepcopy(alerts)
        if rules is not None and snapshot["alerts"] is not None:
            rules.restore(snapshot["alerts"])
        standing = Standing(
            features=FeatureState.from_dict(snapshot["state"]), alerts=rules,
            window=Window(window, [dict(r) for r in snapshot["window"]]),
            matches={str(k): dict(v) for k, v in snapshot["matches"].items()},
            # an older checkpoint has none: its open matches are scored again at the next result
            inputs={str(k): np.array(v, dtype=float) for k, v in snapshot.get("inputs", {}).items()},
            last_day={str(k): int(v) for k, v in snapshot["last_day"].items()},
            totals={str(k): float(v) for k, v in snapshot["totals"].items()})
        ledger = Ledger.from_dict(snapshot, horizon_days)
        counts = {str(k): int(v) for k, v in snapshot["counts"].items()}
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise CheckpointError(f"damaged checkpoint ({type(exc).__name__}: {exc})") from None
    return standing, ledger, counts
