"""Proper scoring rules and calibration figures for outcome probabilities.

Probabilities are arrays (n, k) with outcomes in their natural order (home,
draw, away); outcomes are integer codes 0..k-1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EPS = 1e-15


def _check(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=int)
    if p.ndim != 2 or len(p) != len(y):
        raise ValueError(f"probabilities must be (n, k) matching {len(y)} outcomes, got {p.shape}")
    if ((y < 0) | (y >= p.shape[1])).any():
        raise ValueError("outcome codes must lie in 0..k-1")
    return p, y


def one_hot(y: np.ndarray, k: int) -> np.ndarray:
    """Outcome codes as indicator rows."""
    out = np.zeros((len(y), k))
    out[np.arange(len(y)), y] = 1.0
    return out


def rps_per_match(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Ranked probability score of each forecast: squared CDF errors summed, divided by k - 1."""
    p, y = _check(p, y)
    k = p.shape[1]
    diff = np.cumsum(p, axis=1)[:, :-1] - np.cumsum(one_hot(y, k), axis=1)[:, :-1]
    return (diff**2).sum(axis=1) / (k - 1)


def rank_probability_score(p: np.ndarray, y: np.ndarray) -> float:
    """Mean RPS (lower is better; ordered outcomes)."""
    return float(rps_per_match(p, y).mean())


def logloss_per_match(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Negative log probability given to the outcome that happened."""
    p, y = _check(p, y)
    return -np.log(np.clip(p[np.arange(len(y)), y], EPS, 1.0))


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    """Mean log loss (natural log)."""
    return float(logloss_per_match(p, y).mean())


def brier_score(p: np.ndarray, y: np.ndarray) -> float:
    """Mean Brier score summed over outcomes (0 perfect, 2 worst)."""
    p, y = _check(p, y)
    return float(((p - one_hot(y, p.shape[1])) ** 2).sum(axis=1).mean())


def accuracy(p: np.ndarray, y: np.ndarray) -> float:
    """Share of matches whose most likely outcome happened."""
    p, y = _check(p, y)
    return float((p.argmax(axis=1) == y).mean())


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Top-label ECE: |accuracy - confidence| averaged over equal-width confidence bins."""
    p, y = _check(p, y)
    conf = p.max(axis=1)
    hit = (p.argmax(axis=1) == y).astype(float)
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.mean() * abs(hit[mask].mean() - conf[mask].mean())
    return float(total)


def reliability_table(p: np.ndarray, y: np.ndarray, bins: int = 10,
                      labels: tuple[str, ...] = ("home", "draw", "away")) -> pd.DataFrame:
    """Per outcome and probability bin: mean forecast, observed frequency, count."""
    p, y = _check(p, y)
    rows = []
    for k in range(p.shape[1]):
        idx = np.minimum((p[:, k] * bins).astype(int), bins - 1)
        for b in range(bins):
            mask = idx == b
            if mask.any():
                rows.append({"outcome": labels[k], "bin": b, "predicted": float(p[mask, k].mean()),
                             "observed": float((y[mask] == k).mean()), "count": int(mask.sum())})
    return pd.DataFrame(rows, columns=["outcome", "bin", "predicted", "observed", "count"])


def paired_bootstrap_ci(loss_a: np.ndarray, loss_b: np.ndarray, n_boot: int = 2000, seed: int = 0,
                        level: float = 0.95) -> tuple[float, float]:
    """Bootstrap interval of mean(loss_a - loss_b), resampling matches (pairs kept together)."""
    d = np.asarray(loss_a, dtype=float) - np.asarray(loss_b, dtype=float)
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for i in range(n_boot):
        means[i] = d[rng.integers(0, len(d), len(d))].mean()
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def gap_share_ci(own: np.ndarray, market_open: np.ndarray, market_close: np.ndarray, n_boot: int = 2000,
                 seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Bootstrap interval of the share of the open-to-close gap a forecast closes, (open - own) / (open - close)
    of mean per-match losses, resampling matches (the three losses of a match kept together). Resamples
    where the close does not beat the open are left out (the share is undefined there).

    Raises:
        ValueError: the three loss arrays differ in length.
    """
    own, mo, mc = (np.asarray(a, dtype=float) for a in (own, market_open, market_close))
    if not len(own) == len(mo) == len(mc):
        raise ValueError(f"loss arrays of {len(own)}, {len(mo)} and {len(mc)} matches")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(own), (n_boot, len(own)))
    o, m, c = own[picks].mean(axis=1), mo[picks].mean(axis=1), mc[picks].mean(axis=1)
    ok = m > c
    if not ok.any():
        return float("nan"), float("nan")
    share = (m[ok] - o[ok]) / (m[ok] - c[ok])
    lo, hi = np.quantile(share, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def scores(p: np.ndarray, y: np.ndarray) -> dict:
    """RPS, log loss, Brier and accuracy of one forecast."""
    return {"rps": rank_probability_score(p, y), "logloss": log_loss(p, y), "brier": brier_score(p, y),
            "accuracy": accuracy(p, y)}


def compare_with_market(p: np.ndarray, y: np.ndarray, market_open: np.ndarray | None, market_close: np.ndarray,
                        seed: int = 0) -> dict:
    """A model's scores beside the market's on the same matches (the metrics contract of docs/design.md);
    without opening prices (``market_open`` None: closing-only data, or a close-time forecast) the
    ``market_open``, ``rps_ratio_open``, ``rps_diff_open_ci95`` (model minus open, paired bootstrap) and
    ``open_close_gap_closed`` ((open - model) / (open - close): the share of the open-to-close gap the
    forecast closes) with its ``open_close_gap_closed_ci95`` (:func:`gap_share_ci`) keys are left out."""
    own = scores(p, y)
    mc = scores(market_close, y)
    out = {"n": int(len(y)), **own, "ece": expected_calibration_error(p, y)}
    if market_open is not None:
        mo = scores(market_open, y)
        out |= {"market_open": mo}
    out |= {"market_close": mc}
    own_rps = rps_per_match(p, y)
    if market_open is not None:
        gap = mo["rps"] - mc["rps"]
        out |= {"rps_ratio_open": own["rps"] / mo["rps"],
                "rps_diff_open_ci95": list(paired_bootstrap_ci(own_rps, rps_per_match(market_open, y), seed=seed)),
                "open_close_gap_closed": (mo["rps"] - own["rps"]) / gap if gap > 0 else None,
                "open_close_gap_closed_ci95": list(gap_share_ci(own_rps, rps_per_match(market_open, y),
                                                                rps_per_match(market_close, y), seed=seed))}
    out |= {"rps_ratio_close": own["rps"] / mc["rps"],
            "rps_diff_close_ci95": list(paired_bootstrap_ci(own_rps, rps_per_match(market_close, y), seed=seed))}
    return out


def rounded(value):
    """Floats (in dicts and lists too) rounded to 6 digits, once, where metrics are written."""
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v) for v in value]
    if isinstance(value, float | np.floating):
        return round(float(value), 6)
    return value
