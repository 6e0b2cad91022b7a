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


def expected_rps(p: np.ndarray, q: np.ndarray) -> float:
    """Mean RPS that forecasts ``p`` can expect when each outcome is drawn from the true probabilities ``q``.

    Per match and cumulative outcome j it is (P_j - Q_j)^2 + Q_j (1 - Q_j): the distance to the truth plus
    the truth's own noise, so ``q`` itself scores lowest and the gap to it is the forecast's distance. Unlike RPS
    against results it has no sampling noise of outcomes (only a synthetic league knows ``q``).
    """
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if p.shape != q.shape or p.ndim != 2:
        raise ValueError(f"forecasts and true probabilities must have the same (n, k) shape, got {p.shape}, {q.shape}")
    big_p, big_q = np.cumsum(p, axis=1)[:, :-1], np.cumsum(q, axis=1)[:, :-1]
    return float((((big_p - big_q) ** 2 + big_q * (1 - big_q)).sum(axis=1) / (p.shape[1] - 1)).mean())


def truth_scores(forecasts: dict[str, np.ndarray], truth: np.ndarray, y: np.ndarray) -> dict[str, dict]:
    """Each forecast's RPS against the results beside its RPS against the truth (:func:`expected_rps`), with the
    truth itself as the last row (its RPS against the truth is the floor every forecast sits above)."""
    return {name: {"rps_results": rank_probability_score(p, y), "rps_truth": expected_rps(p, truth)}
            for name, p in {**forecasts, "truth": truth}.items()}


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


def resampled_means(losses: list[np.ndarray], n_boot: int, seed: int) -> np.ndarray:
    """Each loss array's mean over ``n_boot`` resamples of the matches, the arrays resampled together (the
    same matches each time: paired), by ``scipy.stats.bootstrap``; shape (arrays, resamples)."""
    from scipy.stats import bootstrap

    data = [np.asarray(v, dtype=float) for v in losses]
    result = bootstrap(data, lambda *xs, axis=-1: np.stack([x.mean(axis=axis) for x in xs]), paired=len(data) > 1,
                       vectorized=True, n_resamples=n_boot, batch=max(1, 8_000_000 // (len(data) * len(data[0]))),
                       method="percentile", rng=np.random.default_rng(seed))
    return np.atleast_2d(result.bootstrap_distribution)


def paired_bootstrap_ci(loss_a: np.ndarray, loss_b: np.ndarray, n_boot: int = 2000, seed: int = 0,
                        level: float = 0.95) -> tuple[float, float]:
    """Bootstrap interval of mean(loss_a - loss_b), resampling matches (pairs kept together)."""
    means = resampled_means([np.asarray(loss_a, dtype=float) - np.asarray(loss_b, dtype=float)], n_boot, seed)[0]
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def paired_choice(losses: dict[str, np.ndarray], n_boot: int, seed: int) -> tuple[str, dict]:
    """Choose among candidates scored on the same matches, by a rule that accounts for noise: the first
    (the default, the simplest) stays unless another's mean loss is lower with the 95 % paired bootstrap
    interval of the difference below zero; of those, the lowest mean.

    Args:
        losses: candidate -> per-match losses, the same matches in the same order; the default first.
        n_boot: bootstrap resamples of the matches.
        seed: the resamples' seed.

    Returns:
        (the chosen candidate, candidate -> ``mean``, ``diff`` (mean minus the default's) with its ``ci95``, and
        ``wins_share``: how often it has the lowest mean over the resamples, the choice's stability).
    """
    names = list(losses)
    means = resampled_means([losses[k] for k in names], n_boot, seed)  # (candidates, resamples)
    wins = np.bincount(means.argmin(axis=0), minlength=len(names)) / n_boot
    scores = {}
    for k, name in enumerate(names):
        mean = float(np.mean(losses[name]))
        scores[name] = {"mean": mean, "diff": mean - float(np.mean(losses[names[0]])),
                        "ci95": [float(v) for v in np.quantile(means[k] - means[0], [0.025, 0.975])],
                        "wins_share": float(wins[k])}
    beaten = [k for k in names[1:] if scores[k]["ci95"][1] < 0]
    return min(beaten, key=lambda k: scores[k]["mean"]) if beaten else names[0], scores


def _gap_parts(own: np.ndarray, market_open: np.ndarray, market_close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per match: what the forecast gains on the open, and what the close gains on it."""
    own, mo, mc = (np.asarray(a, dtype=float) for a in (own, market_open, market_close))
    if not len(own) == len(mo) == len(mc) or len(own) < 2:
        raise ValueError(f"loss arrays of {len(own)}, {len(mo)} and {len(mc)} matches (two or more, alike)")
    return mo - own, mo - mc


def _z(level: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(1 - (1 - level) / 2))


def interval_ends(interval: tuple[float, float]) -> list[float | None]:
    """An interval as written to JSON: an unbounded end (infinite) is None."""
    return [float(v) if np.isfinite(v) else None for v in interval]


def gap_share_fieller(own: np.ndarray, market_open: np.ndarray, market_close: np.ndarray, level: float = 0.95,
                      n: int | None = None) -> tuple[float, float]:
    """Fieller's interval for the share of the open-to-close gap a forecast closes, for ``n`` matches (default:
    as many as given) whose per-match losses have these means and covariance.

    The share is a ratio of two mean differences, A / B (A: open minus forecast, B: open minus close); the
    interval is every s for which A - s B is within ``level``'s normal quantile of zero. It is bounded only
    while the gap B itself is significant at that ``n``: otherwise ``(-inf, inf)`` (where the exact set is two
    rays, the whole line is returned: wider, never narrower). Unlike a bootstrap of the ratio it leaves
    out no resample in which the close does not beat the open, so its ends are not understated.

    Raises:
        ValueError: the loss arrays differ in length or hold fewer than two matches.
    """
    a, b = _gap_parts(own, market_open, market_close)
    n = len(a) if n is None else n
    z2 = _z(level) ** 2 / n
    cov = np.cov(a, b)
    big_a, big_b = a.mean(), b.mean()
    q = big_b**2 - z2 * cov[1, 1]
    r = big_a * big_b - z2 * cov[0, 1]
    disc = r**2 - q * (big_a**2 - z2 * cov[0, 0])
    if q <= 0 or disc < 0:
        return float("-inf"), float("inf")
    return float((r - np.sqrt(disc)) / q), float((r + np.sqrt(disc)) / q)


def matches_to_show_share(own: np.ndarray, market_open: np.ndarray, market_close: np.ndarray, low: float,
                          level: float = 0.95, power: float = 0.8) -> int | None:
    """How many matches like these a test needs for the share's interval (:func:`gap_share_fieller`) to lie
    above ``low`` with probability ``power``, if the forecast's share and the per-match spread stay as observed.

    The lower end clears ``low`` when d = (open - forecast) - low x (open - close) has a mean significantly
    above zero: (z + z_power)^2 var(d) / mean(d)^2 matches, with z the interval's normal quantile and z_power
    the one-sided quantile of ``power`` (0 at 50 %); the gap itself must be significant too, the same with B.

    Returns:
        The number of matches, or None when the observed share is not above ``low`` (no number suffices).
    """
    from scipy.stats import norm

    a, b = _gap_parts(own, market_open, market_close)
    d = a - low * b
    if b.mean() <= 0 or d.mean() <= 0:
        return None
    z2 = (_z(level) + float(norm.ppf(power))) ** 2
    return int(np.ceil(max(z2 * d.var(ddof=1) / d.mean() ** 2, z2 * b.var(ddof=1) / b.mean() ** 2)))


def gap_mix(p_open: np.ndarray, p_close: np.ndarray, y: np.ndarray, share: float) -> tuple[np.ndarray, float]:
    """The forecast (1 - w) x open + w x close that closes exactly ``share`` (in 0..1) of the open-to-close RPS
    gap on these matches, and its w: a forecast that knows that part of the market's move.

    Raises:
        ValueError: the close does not beat the open on these matches, or ``share`` is outside 0..1.
    """
    p_open, p_close = np.asarray(p_open, dtype=float), np.asarray(p_close, dtype=float)
    rps_open, rps_close = rps_per_match(p_open, y).mean(), rps_per_match(p_close, y).mean()
    if not rps_close < rps_open or not 0 <= share <= 1:
        raise ValueError(f"no mix closes {share} of a gap from RPS {rps_open:.6f} (open) to {rps_close:.6f} (close)")

    def closed(w: float) -> float:  # concave in w, 0 at w = 0 and 1 at w = 1: one crossing of `share`
        return (rps_open - rps_per_match((1 - w) * p_open + w * p_close, y).mean()) / (rps_open - rps_close)

    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if closed(mid) < share else (lo, mid)
    w = (lo + hi) / 2
    return (1 - w) * p_open + w * p_close, w


def gap_by_group(forecasts: dict[str, np.ndarray], p_open: np.ndarray, p_close: np.ndarray, y: np.ndarray,
                 groups: np.ndarray) -> list[dict]:
    """Where the market is weakest: per group (a division), its matches, the open's and the close's RPS, the gap
    between them, and each forecast's share of that gap with Fieller's 95 % interval (:func:`gap_share_fieller`;
    an unbounded end None; share and interval None where the close does not beat the open)."""
    y, groups = np.asarray(y), np.asarray(groups)
    rows = []
    for group in sorted(set(groups.tolist())):
        m = groups == group
        opening, closing = rps_per_match(p_open[m], y[m]), rps_per_match(p_close[m], y[m])
        gap = float(opening.mean() - closing.mean())
        row = {"group": str(group), "n": int(m.sum()), "open": float(opening.mean()), "close": float(closing.mean()),
               "gap": gap, "forecasts": {}}
        for name, p in forecasts.items():
            own = rps_per_match(p[m], y[m])
            share, low, high = None, None, None
            if gap > 0:
                share = float((opening.mean() - own.mean()) / gap)
                low, high = interval_ends(gap_share_fieller(own, opening, closing))
            row["forecasts"][name] = {"share": share, "low": low, "high": high}
        rows.append(row)
    return rows


def gap_power(forecasts: dict[str, np.ndarray], p_open: np.ndarray, p_close: np.ndarray, y: np.ndarray,
              low: float, share: float = 0.5, level: float = 0.95) -> list[dict]:
    """How far a test of this size can tell shares of the open-to-close gap apart.

    One row (a dict) per forecast, then the open-close mix that closes exactly ``share`` (:func:`gap_mix`;
    none where the close does not beat the open) and the close itself: the share closed on these matches,
    its Fieller interval (:func:`gap_share_fieller`), and the matches a test needs, at the same per-match
    spread, for the interval to lie above ``low`` and above zero with 80 % power (:func:`matches_to_show_share`;
    None where the share is not above it; an unbounded interval's ends, and the share without a gap, are
    None too).
    """
    y = np.asarray(y)
    opening, closing = rps_per_match(p_open, y), rps_per_match(p_close, y)
    gap = opening.mean() - closing.mean()
    rows = dict(forecasts)
    if gap > 0:  # else there is no gap to close: no share, no mix
        mix, weight = gap_mix(p_open, p_close, y, share)
        rows[f"mix: {1 - weight:.3f} open + {weight:.3f} close"] = mix
    rows["close"] = p_close
    out = []
    for name, p in rows.items():
        own = rps_per_match(np.asarray(p, dtype=float), y)
        ci_low, ci_high = interval_ends(gap_share_fieller(own, opening, closing, level))
        out.append({"forecast": name, "n": len(y), "share": (opening.mean() - own.mean()) / gap if gap > 0 else None,
                    "ci_low": ci_low, "ci_high": ci_high,
                    "matches_above_low": matches_to_show_share(own, opening, closing, low, level),
                    "matches_above_zero": matches_to_show_share(own, opening, closing, 0.0, level)})
    return out


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
    forecast closes) with its ``open_close_gap_closed_ci95`` and ``_ci99`` (Fieller's, :func:`gap_share_fieller`;
    an unbounded end None) keys are left out. The 99 % interval is the one to read when five forecasts are
    scored side by side (Bonferroni: 0.05 / 5)."""
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
                **{f"open_close_gap_closed_ci{round(level * 100)}": interval_ends(gap_share_fieller(
                    own_rps, rps_per_match(market_open, y), rps_per_match(market_close, y), level=level))
                   for level in (0.95, 0.99)}}
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
