"""Post-hoc calibration fitted on the validation season only: temperature or isotonic.

The method is chosen by validation log loss measured out of fold (contiguous
blocks of the validation season, in time order), so the isotonic fit cannot
win merely by memorising the rows it was fitted on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from a1lab.metrics import log_loss, logloss_per_match, paired_choice

EPS = 1e-6


class Identity:
    """No calibration (a candidate the others must beat)."""

    method = "none"

    def fit(self, p: np.ndarray, y: np.ndarray) -> Identity:
        return self

    def transform(self, p: np.ndarray) -> np.ndarray:
        return np.asarray(p, dtype=float)

    def to_dict(self) -> dict:
        return {"method": self.method}


class TemperatureScaling:
    """Divide log-probabilities by one temperature T (> 1 softens, < 1 sharpens)."""

    method = "temperature"

    def __init__(self, temperature: float = 1.0):
        self.temperature = temperature

    def fit(self, p: np.ndarray, y: np.ndarray) -> TemperatureScaling:
        from scipy.optimize import minimize_scalar  # here: loading a calibrator needs neither SciPy nor sklearn

        logp = np.log(np.clip(p, EPS, 1.0))
        result = minimize_scalar(lambda t: log_loss(_soften(logp, t), y), bounds=(0.25, 4.0), method="bounded")
        self.temperature = float(result.x)
        return self

    def transform(self, p: np.ndarray) -> np.ndarray:
        return _soften(np.log(np.clip(p, EPS, 1.0)), self.temperature)

    def to_dict(self) -> dict:
        return {"method": self.method, "temperature": self.temperature}


def _soften(logp: np.ndarray, t: float) -> np.ndarray:
    z = logp / t
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


class IsotonicCalibration:
    """One isotonic map per outcome (one-vs-rest), then renormalised to sum to 1."""

    method = "isotonic"

    def fit(self, p: np.ndarray, y: np.ndarray) -> IsotonicCalibration:
        from sklearn.isotonic import IsotonicRegression

        self.maps_ = [
            IsotonicRegression(y_min=EPS, y_max=1.0, out_of_bounds="clip").fit(p[:, k], (y == k).astype(float))
            for k in range(p.shape[1])
        ]
        return self

    def transform(self, p: np.ndarray) -> np.ndarray:
        q = np.column_stack([m.predict(p[:, k]) for k, m in enumerate(self.maps_)])
        q = np.clip(q, EPS, None)
        return q / q.sum(axis=1, keepdims=True)

    def to_dict(self) -> dict:
        return {"method": self.method, "maps": [{"x": m.X_thresholds_.tolist(), "y": m.y_thresholds_.tolist()}
                                                for m in self.maps_]}


CALIBRATORS = {"none": Identity, "temperature": TemperatureScaling, "isotonic": IsotonicCalibration}


def choose_calibration(p_val: np.ndarray, y_val: np.ndarray, methods=("none", "temperature", "isotonic"),
                       folds: int = 5, n_boot: int = 1000, seed: int = 0) -> tuple[object, dict]:
    """Pick a method by its out-of-fold validation log loss, by a rule that accounts for noise
    (:func:`a1lab.metrics.paired_choice`): the first (``none``) stays unless another's per-match loss is lower
    with the 95 % paired bootstrap interval below zero; refit the choice on all validation rows.

    Returns:
        The fitted calibrator and ``{method: out-of-fold log loss}``.
    """
    p_val, y_val = np.asarray(p_val, dtype=float), np.asarray(y_val, dtype=int)
    blocks = np.array_split(np.arange(len(y_val)), folds)
    per_match = {}
    for name in methods:
        out = np.empty_like(p_val)
        for block in blocks:
            rest = np.setdiff1d(np.arange(len(y_val)), block)
            out[block] = CALIBRATORS[name]().fit(p_val[rest], y_val[rest]).transform(p_val[block])
        per_match[name] = logloss_per_match(out, y_val)
    best, _ = paired_choice(per_match, n_boot, seed)
    return CALIBRATORS[best]().fit(p_val, y_val), {name: float(loss.mean()) for name, loss in per_match.items()}


def save_calibrator(calibrator, path: Path) -> None:
    """Write a calibrator as JSON."""
    path.write_text(json.dumps(calibrator.to_dict()))


def load_calibrator(path: Path):
    """Read a calibrator written by :func:`save_calibrator`."""
    data = json.loads(path.read_text())
    if data["method"] == "temperature":
        return TemperatureScaling(data["temperature"])
    if data["method"] == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        cal = IsotonicCalibration()
        cal.maps_ = []
        for m in data["maps"]:
            iso = IsotonicRegression(y_min=EPS, y_max=1.0, out_of_bounds="clip")
            iso.fit(np.array(m["x"]), np.array(m["y"]))
            cal.maps_.append(iso)
        return cal
    return Identity()
