"""Odds conversion and bookmaker-margin removal.

Every margin-removal method takes decimal odds of shape (n, k) (one row per
market, one column per outcome) and returns probabilities of the same shape
that sum to 1 per row. Rows with a missing or invalid price give NaN rows.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np

_ITERATIONS = 80


def _as_odds(odds) -> np.ndarray:
    arr = np.asarray(odds, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError(f"odds must have shape (n, k>=2), got {arr.shape}")
    return arr


def _valid_rows(arr: np.ndarray) -> np.ndarray:
    return np.isfinite(arr).all(axis=1) & (arr > 1.0).all(axis=1)


def american_to_decimal(american) -> np.ndarray:
    """American odds (+219, -270) to decimal odds; 0 or |x| < 100 gives NaN."""
    a = np.asarray(american, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(a >= 100, 1.0 + a / 100.0, np.where(a <= -100, 1.0 + 100.0 / -a, np.nan))
    return out


def decimal_to_american(decimal) -> np.ndarray:
    """Decimal odds to American odds (positive for 2.0 and above)."""
    d = np.asarray(decimal, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(d >= 2.0, (d - 1.0) * 100.0, -100.0 / (d - 1.0))
    return np.where(d > 1.0, out, np.nan)


def fractional_to_decimal(fractional: str) -> float:
    """Fractional odds such as ``"5/2"`` (or ``"evs"``) to decimal odds."""
    text = fractional.strip().lower()
    if text in {"evs", "evens"}:
        return 2.0
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError) as exc:
        raise ValueError(f"not fractional odds: {fractional!r}") from exc
    if value <= 0:
        raise ValueError(f"fractional odds must be positive: {fractional!r}")
    return float(value) + 1.0


def decimal_to_fractional(decimal: float, max_denominator: int = 100) -> str:
    """Decimal odds to the nearest fractional odds string, e.g. 3.5 -> ``"5/2"``."""
    if not decimal > 1.0:
        raise ValueError(f"decimal odds must be > 1, got {decimal}")
    frac = Fraction(decimal - 1.0).limit_denominator(max_denominator)
    return f"{frac.numerator}/{frac.denominator}"


def implied_probability(decimal) -> np.ndarray:
    """Raw implied probabilities 1/odds (they include the margin)."""
    d = np.asarray(decimal, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 1.0, 1.0 / d, np.nan)


def overround(odds) -> np.ndarray:
    """Bookmaker margin per row: sum of implied probabilities minus 1."""
    return implied_probability(_as_odds(odds)).sum(axis=1) - 1.0


def _bisect(fn: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Vectorised bisection for a root of fn, which must be decreasing on [lo, hi]."""
    for _ in range(_ITERATIONS):
        mid = 0.5 * (lo + hi)
        positive = fn(mid) > 0
        lo = np.where(positive, mid, lo)
        hi = np.where(positive, hi, mid)
    return 0.5 * (lo + hi)


def _apply(odds, method: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    arr = _as_odds(odds)
    ok = _valid_rows(arr)
    if ok.all() and len(arr):  # every row priced (a live quote's one row): no copy in and out; rows are independent
        return method(1.0 / arr)
    out = np.full(arr.shape, np.nan)
    if ok.any():
        out[ok] = method(1.0 / arr[ok])
    return out


def multiplicative(odds) -> np.ndarray:
    """Normalise implied probabilities proportionally (the basic method)."""
    return _apply(odds, lambda pi: pi / pi.sum(axis=1, keepdims=True))


def additive(odds) -> np.ndarray:
    """Subtract an equal share of the margin from each outcome.

    Long shots can become negative under heavy margins; those are clipped to 0
    and the row renormalised.
    """

    def method(pi: np.ndarray) -> np.ndarray:
        p = pi - (pi.sum(axis=1, keepdims=True) - 1.0) / pi.shape[1]
        p = np.clip(p, 0.0, None)
        return p / p.sum(axis=1, keepdims=True)

    return _apply(odds, method)


def power(odds) -> np.ndarray:
    """p_i = pi_i ** k with k chosen so the row sums to 1 (favourite-longshot aware)."""

    def method(pi: np.ndarray) -> np.ndarray:
        n = len(pi)
        k = _bisect(
            lambda k: (pi ** k[:, None]).sum(axis=1) - 1.0,
            np.full(n, 0.01),
            np.full(n, 100.0),
        )
        return pi ** k[:, None]

    return _apply(odds, method)


def shin_probabilities(odds) -> tuple[np.ndarray, np.ndarray]:
    """Shin's method: probabilities and the insider-trading share z in [0, 1)."""
    arr = _as_odds(odds)
    probs = np.full(arr.shape, np.nan)
    z_out = np.full(arr.shape[0], np.nan)
    ok = _valid_rows(arr)
    if ok.any():
        pi = 1.0 / arr[ok]
        s = pi.sum(axis=1, keepdims=True)

        def probs_for(z: np.ndarray) -> np.ndarray:
            z = z[:, None]
            return (np.sqrt(z**2 + 4.0 * (1.0 - z) * pi**2 / s) - z) / (2.0 * (1.0 - z))

        n = len(pi)
        # sum of probs decreases in z; at z=0 it equals sqrt(sum pi^2 / s)*... >= 1 for overround
        z = _bisect(lambda z: probs_for(z).sum(axis=1) - 1.0, np.zeros(n), np.full(n, 0.999))
        z = np.where(s[:, 0] <= 1.0, 0.0, z)
        p = probs_for(z)
        probs[ok] = p / p.sum(axis=1, keepdims=True)
        z_out[ok] = z
    return probs, z_out


def shin(odds) -> np.ndarray:
    """Shin's method (probabilities only); see :func:`shin_probabilities`."""
    return shin_probabilities(odds)[0]


def odds_ratio(odds) -> np.ndarray:
    """Cheung's odds-ratio method: one odds ratio links each p_i to pi_i."""

    def method(pi: np.ndarray) -> np.ndarray:
        n = len(pi)

        def probs_for(ratio: np.ndarray) -> np.ndarray:
            r = ratio[:, None]
            return pi / (pi + r * (1.0 - pi))

        ratio = _bisect(
            lambda r: probs_for(r).sum(axis=1) - 1.0, np.full(n, 1e-3), np.full(n, 1e3)
        )
        return probs_for(ratio)

    return _apply(odds, method)


METHODS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "multiplicative": multiplicative,
    "additive": additive,
    "power": power,
    "shin": shin,
    "odds_ratio": odds_ratio,
}


def remove_margin(odds, method: str = "multiplicative") -> np.ndarray:
    """Fair probabilities from decimal odds by the named margin-removal method."""
    try:
        fn = METHODS[method]
    except KeyError:
        raise ValueError(f"unknown margin method {method!r}; choose one of {sorted(METHODS)}") from None
    return fn(odds)


def implied_total_goals(p_over: np.ndarray, line: float = 2.5, low: float = 0.05, high: float = 12.0) -> np.ndarray:
    """The Poisson mean of total goals that gives P(total > ``line``) = ``p_over`` (a de-vigged over/under
    price), by bisection; NaN where ``p_over`` is not a probability strictly inside the bracket's range."""
    from scipy.special import pdtrc  # P(X > k) of a Poisson: what scipy.stats.poisson.sf calls, without its overhead

    p = np.asarray(p_over, dtype=float)
    if not np.isfinite(p).any():  # no quote (a live match before its close): nothing to search
        return np.full(p.shape, np.nan)
    k = np.floor(line)
    if p.size == 1:  # a live scoring: the same steps on Python floats, without numpy's per-call overhead (4x)
        lo, hi, target = low, high, float(p.reshape(-1)[0])
        for _ in range(50):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if pdtrc(k, mid) < target else (lo, mid)
        lo, hi = np.full(p.shape, lo), np.full(p.shape, hi)
    else:
        lo, hi = np.full(p.shape, low), np.full(p.shape, high)
        for _ in range(50):  # P(over) rises with the mean: halve the bracket 50 times (1e-14 of its width)
            mid = (lo + hi) / 2
            over = pdtrc(k, mid)
            lo, hi = np.where(over < p, mid, lo), np.where(over < p, hi, mid)
    inside = np.isfinite(p) & (p > pdtrc(k, low)) & (p < pdtrc(k, high))
    return np.where(inside, (lo + hi) / 2, np.nan)


def implied_supremacy(p_cover: np.ndarray, line: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Expected goal difference (home minus away) implied by the Asian handicap: with the home side's
    ``line`` (-0.5: it gives half a goal) and its de-vigged chance ``p_cover`` of covering, the mean ``s``
    of a normal goal difference with variance ``total`` (as a Skellam's) for which
    P(difference + line > 0) = p_cover: ``s = sqrt(total) * Phi^-1(p_cover) - line``. An approximation
    (pushes and quarter lines are not modelled), meant as a feature."""
    from scipy.special import ndtri

    p, line, total = (np.asarray(a, dtype=float) for a in (p_cover, line, total))
    with np.errstate(invalid="ignore"):
        return np.sqrt(total) * ndtri(p) - line
