"""Anomaly detectors on metric streams: rolling z-score and IQR, with a warm-up."""

from __future__ import annotations

from collections import deque

import numpy as np


class RollingZScore:
    """Flags a value more than ``threshold`` standard deviations from the rolling mean of earlier values.

    Args:
        window: earlier values kept.
        threshold: sensitivity in standard deviations.
        warmup: values seen before anything can be flagged.
    """

    def __init__(self, window: int = 50, threshold: float = 3.0, warmup: int = 20):
        self.window, self.threshold, self.warmup = window, threshold, warmup
        self.values: deque[float] = deque(maxlen=window)

    def score(self, value: float) -> float:
        """|z| of a value against the current window (0 during warm-up)."""
        if len(self.values) < self.warmup:
            return 0.0
        arr = np.fromiter(self.values, float)
        sd = arr.std()
        return float(abs(value - arr.mean()) / sd) if sd > 0 else (0.0 if value == arr.mean() else float("inf"))

    def update(self, value: float) -> bool:
        """Score the value, then add it to the window; True when it is an anomaly."""
        flagged = self.score(value) > self.threshold
        self.values.append(float(value))
        return flagged


class RollingIQR:
    """Flags a value outside [Q1 - k IQR, Q3 + k IQR] of the rolling window of earlier values."""

    def __init__(self, window: int = 50, k: float = 3.0, warmup: int = 20):
        self.window, self.k, self.warmup = window, k, warmup
        self.values: deque[float] = deque(maxlen=window)

    def update(self, value: float) -> bool:
        flagged = False
        if len(self.values) >= self.warmup:
            q1, q3 = np.quantile(np.fromiter(self.values, float), [0.25, 0.75])
            spread = q3 - q1
            flagged = value < q1 - self.k * spread or value > q3 + self.k * spread
        self.values.append(float(value))
        return bool(flagged)
