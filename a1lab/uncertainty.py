"""Uncertainty: conformal prediction sets and bootstrap intervals for probabilities."""

from __future__ import annotations

import numpy as np


class ConformalSets:
    """Split conformal sets of outcomes with coverage 1 - alpha (LAC score 1 - p_y).

    Args:
        alpha: miscoverage (0.1 for 90 % sets).
        mondrian: calibrate a threshold per true class (class-conditional coverage).
    """

    def __init__(self, alpha: float = 0.1, mondrian: bool = False):
        self.alpha = alpha
        self.mondrian = mondrian

    def fit(self, p: np.ndarray, y: np.ndarray) -> ConformalSets:
        """Calibrate the score threshold(s) on held-out predictions (the validation season)."""
        scores = 1.0 - p[np.arange(len(y)), y]
        groups = [y == k for k in range(p.shape[1])] if self.mondrian else [np.ones(len(y), bool)]
        self.thresholds_ = []
        for g in groups:
            s = np.sort(scores[g])
            rank = min(len(s) - 1, int(np.ceil((len(s) + 1) * (1 - self.alpha))) - 1)
            self.thresholds_.append(s[rank])
        return self

    def predict(self, p: np.ndarray) -> np.ndarray:
        """Boolean sets (n, k): outcome k is in the set when 1 - p_k is within its threshold."""
        t = np.array(self.thresholds_ if self.mondrian else self.thresholds_ * p.shape[1])
        return (1.0 - p) <= t[None, :]


def coverage_and_size(sets: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Share of matches whose outcome is in its set, and the mean set size."""
    return float(sets[np.arange(len(y)), y].mean()), float(sets.sum(axis=1).mean())


def bootstrap_interval(member_probs: np.ndarray, n_boot: int = 1000, level: float = 0.9, seed: int = 0,
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Interval of each ensemble probability by resampling members: arrays (n, k) low and high.

    Args:
        member_probs: (members, n, k).
    """
    rng = np.random.default_rng(seed)
    m = member_probs.shape[0]
    draws = np.stack([member_probs[rng.integers(0, m, m)].mean(axis=0) for _ in range(n_boot)])
    lo, hi = np.quantile(draws, [(1 - level) / 2, 1 - (1 - level) / 2], axis=0)
    return lo, hi


def adaptive_conformal_sets(p_cal: np.ndarray, y_cal: np.ndarray, p: np.ndarray, y: np.ndarray, day: np.ndarray,
                            alpha: float = 0.1, gamma: float = 0.005, window: int = 2000) -> np.ndarray:
    """Online conformal sets for a season in kick-off order (adaptive conformal inference, Gibbs & Candes 2021).

    Starts from split conformal on the calibration season, then, a day at a time,
    uses only results of earlier days: scores of settled matches join a rolling
    calibration window, and the working miscoverage moves by ``gamma`` against
    each miss, so coverage holds when the season drifts from the last.

    Args:
        p_cal, y_cal: held-out predictions and outcomes before the season.
        p, y: the season's predictions and outcomes, in kick-off order.
        day: each match's calendar day (sets of a day never see that day's results).
        alpha: target miscoverage.
        gamma: step size of the miscoverage update.
        window: most recent scores kept for the quantile.

    Returns:
        Boolean sets (n, k).
    """
    scores = list(1.0 - p_cal[np.arange(len(y_cal)), y_cal])[-window:]
    a = alpha
    sets = np.zeros(p.shape, dtype=bool)
    for d in np.unique(day):
        rows = np.flatnonzero(day == d)
        q = 1.0 if a <= 0 else np.quantile(scores, min(1.0, (1 - a) * (1 + 1 / len(scores))), method="higher")
        sets[rows] = (1.0 - p[rows]) <= q
        for i in rows:  # the day's results arrive after its sets were fixed
            a += gamma * (alpha - float(not sets[i, y[i]]))
            scores.append(1.0 - p[i, y[i]])
        scores = scores[-window:]
    return sets


def conformal_by_season(p: np.ndarray, y: np.ndarray, season: np.ndarray, day: np.ndarray,
                        calibration: dict, level: float, gamma: float = 0.005, window: int = 2000,
                        mondrian: bool = False) -> tuple[np.ndarray, dict]:
    """Adaptive sets for each season, with split and adaptive coverage and mean set size side by side.

    Args:
        p, y, season, day: the test rows' probabilities, outcomes, seasons and days (kick-off order).
        calibration: season -> (probabilities, outcomes) of the held-out season before it.
        level: nominal coverage.

    Returns:
        The adaptive sets (n, k) and ``{season: {"split": {...}, "adaptive": {...}}}``.
    """
    sets = np.zeros(p.shape, dtype=bool)
    summary = {}
    for name, (p_cal, y_cal) in calibration.items():
        rows = season == name
        split = ConformalSets(alpha=1 - level, mondrian=mondrian).fit(p_cal, y_cal).predict(p[rows])
        sets[rows] = adaptive_conformal_sets(p_cal, y_cal, p[rows], y[rows], day[rows], 1 - level, gamma, window)
        summary[name] = {}
        for kind, chosen in (("split", split), ("adaptive", sets[rows])):
            cov, size = coverage_and_size(chosen, y[rows])
            summary[name][kind] = {"coverage": round(cov, 4), "mean_set_size": round(size, 4)}
    return sets, summary
