"""Betting: value detection, staking, a walk-forward backtest settled in kick-off order.

Bets are decided on the odds available at prediction time (Pinnacle opening by
default) and judged against the de-vigged Pinnacle close (closing-line value).
Stakes are fractions of the bankroll at the start of the bet's day, so a day's
results never size that day's bets, and the bankroll cannot go negative.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from a1lab.outcomes import OUTCOMES, RESULT_CODES


@dataclass(frozen=True)
class ValueRule:
    """When a price is a bet: edge = p * odds - 1 at least ``min_edge``, p within bounds."""

    min_edge: float
    min_prob: float
    max_prob: float
    max_odds: float


def value_bets(p: np.ndarray, odds: np.ndarray, rule: ValueRule) -> pd.DataFrame:
    """The best-edge outcome of each match when it passes the rule.

    Returns:
        One row per input match: ``outcome`` (index, -1 for no bet), ``prob``, ``odds``, ``edge``.
    """
    return pd.DataFrame(value_bet_arrays(p, odds, rule))


def value_bet_arrays(p: np.ndarray, odds: np.ndarray, rule: ValueRule) -> dict[str, np.ndarray]:
    """:func:`value_bets` as column name -> array (no frame: the live loop's path)."""
    p, odds = np.asarray(p, dtype=float), np.asarray(odds, dtype=float)
    with np.errstate(invalid="ignore"):
        edge = p * odds - 1.0
        ok = (edge >= rule.min_edge) & (p >= rule.min_prob) & (p <= rule.max_prob) & (odds <= rule.max_odds)
    edge_ok = np.where(ok & np.isfinite(edge), edge, -np.inf)
    best = edge_ok.argmax(axis=1)
    rows = np.arange(len(p))
    has = np.isfinite(edge_ok[rows, best])
    return {"outcome": np.where(has, best, -1), "prob": p[rows, best], "odds": odds[rows, best],
            "edge": np.where(has, edge[rows, best], np.nan)}


def kelly_fraction(p: np.ndarray, odds: np.ndarray) -> np.ndarray:
    """Kelly stake as a bankroll fraction: (p * o - 1) / (o - 1), never below 0."""
    p, odds = np.asarray(p, dtype=float), np.asarray(odds, dtype=float)
    return np.clip((p * odds - 1.0) / (odds - 1.0), 0.0, None)


def simultaneous_kelly(p: np.ndarray, odds: np.ndarray, cap: float = 1.0, max_bets: int = 10) -> np.ndarray:
    """Fractions maximising expected log wealth for independent bets settled together.

    Exact over all win/lose combinations up to ``max_bets`` bets; beyond that the
    independent Kelly fractions are scaled to sum to at most ``cap``.
    """
    p, odds = np.asarray(p, dtype=float), np.asarray(odds, dtype=float)
    single = kelly_fraction(p, odds)
    n = len(p)
    if n == 0:
        return single
    if n > max_bets:
        total = single.sum()
        return single * min(1.0, cap / total) if total > 0 else single
    wins = np.array(list(itertools.product((1.0, 0.0), repeat=n)))
    prob = np.prod(np.where(wins == 1.0, p, 1.0 - p), axis=1)
    gain = np.where(wins == 1.0, odds - 1.0, -1.0)

    def neg_growth(f: np.ndarray) -> tuple[float, np.ndarray]:  # and its exact gradient, for SLSQP
        wealth = np.clip(1.0 + gain @ f, 1e-12, None)
        return -float(prob @ np.log(wealth)), -(gain.T @ (prob / wealth))

    start = np.clip(single / max(1.0, single.sum() / cap * 1.01), 0.0, None)
    result = minimize(neg_growth, start, jac=True, method="SLSQP", bounds=[(0.0, cap)] * n,
                      constraints=[{"type": "ineq", "fun": lambda f: cap * 0.999 - f.sum(),
                                    "jac": lambda f: -np.ones(n)}],
                      options={"ftol": 1e-14, "maxiter": 500})
    return np.clip(result.x, 0.0, None)


@dataclass(frozen=True)
class Staking:
    """How much to stake: ``flat`` (units), ``kelly``, ``fractional`` or ``capped`` Kelly, or ``simultaneous``.

    Attributes:
        method: one of the names above.
        unit: flat stake as a fraction of the starting bankroll.
        fraction: Kelly multiplier for fractional / capped / simultaneous.
        cap: largest fraction of the bankroll on one bet (capped) or on one day (simultaneous).
    """

    method: str = "fractional"
    unit: float = 0.01
    fraction: float = 0.25
    cap: float = 0.05

    def fractions(self, p: np.ndarray, odds: np.ndarray) -> np.ndarray:
        """Stake fractions for one day's bets (of the bankroll at the day's start)."""
        kelly = kelly_fraction(p, odds)
        if self.method == "kelly":
            out = kelly
        elif self.method == "fractional":
            out = self.fraction * kelly
        elif self.method == "capped":
            out = np.minimum(self.fraction * kelly, self.cap)
        elif self.method == "simultaneous":
            out = self.fraction * simultaneous_kelly(p, odds, cap=1.0)
            out = out * min(1.0, self.cap * len(out) / out.sum()) if out.sum() > 0 else out
        elif self.method == "flat":
            out = np.full(len(p), self.unit)
        else:
            raise ValueError(f"unknown staking method {self.method!r}")
        total = out.sum()
        return out / total if total > 1.0 else out  # never more than the whole bankroll on one day


def backtest(bets: pd.DataFrame, staking: Staking, bankroll: float = 100.0) -> pd.DataFrame:
    """Settle bets in kick-off order, a day at a time; return the bet log with bankroll after each bet.

    Args:
        bets: one row per bet with ``kickoff``, ``prob``, ``odds``, ``won`` (bool) and
            optionally ``close_odds`` (fair closing odds of the chosen outcome).
        staking: the staking rule.
        bankroll: starting bankroll.
    """
    log = bets.sort_values("kickoff", kind="mergesort").reset_index(drop=True).copy()
    n = len(log)
    stake, profit, after = np.zeros(n), np.zeros(n), np.zeros(n)
    if n:  # kick-offs are sorted, so each UTC day is one run of rows
        day = log["kickoff"].dt.tz_convert("UTC").dt.normalize().to_numpy()
        prob, odds = log["prob"].to_numpy(dtype=float), log["odds"].to_numpy(dtype=float)
        won = log["won"].to_numpy(dtype=bool)
        bounds = np.append(np.flatnonzero(np.r_[True, day[1:] != day[:-1]]), n)
        start = bankroll
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            frac = staking.fractions(prob[lo:hi], odds[lo:hi])
            stakes = frac * (start if staking.method == "flat" else bankroll)
            if stakes.sum() > bankroll:  # flat units can exceed a shrunken bankroll
                stakes *= bankroll / stakes.sum()
            day_profit = np.where(won[lo:hi], stakes * (odds[lo:hi] - 1.0), -stakes)
            stake[lo:hi], profit[lo:hi] = stakes, day_profit
            after[lo:hi] = bankroll + np.cumsum(day_profit)
            bankroll = max(bankroll + day_profit.sum(), 0.0)
    log["stake"], log["profit"], log["bankroll"] = stake, profit, after
    return log


def max_drawdown(bankroll: np.ndarray, start: float) -> float:
    """Largest fall from a running peak, as a fraction of that peak."""
    curve = np.concatenate([[start], np.asarray(bankroll, dtype=float)])
    peak = np.maximum.accumulate(curve)
    return float(((peak - curve) / peak).max())


def closing_line_value(odds_taken: np.ndarray, fair_close_odds: np.ndarray) -> np.ndarray:
    """odds_taken / fair closing odds - 1 per bet: positive means the bet beat the close."""
    return np.asarray(odds_taken, dtype=float) / np.asarray(fair_close_odds, dtype=float) - 1.0


def daily_returns(log: pd.DataFrame, start: float = 100.0) -> pd.DataFrame:
    """Per betting day (UTC date of kick-off): stake, profit, bankroll at the day's start and its return.

    The return is the day's profit over the bankroll at the day's start, so it depends on the staking:
    the same bets staked two ways give two return series.
    """
    staked = log[log["stake"] > 0]
    if staked.empty:
        return pd.DataFrame(columns=["day", "stake", "profit", "bankroll_start", "ret"])
    day = staked["kickoff"].dt.tz_convert("UTC").dt.normalize()
    days = staked.groupby(day, sort=True).agg(stake=("stake", "sum"), profit=("profit", "sum"))
    days["bankroll_start"] = start + days["profit"].cumsum().shift(1, fill_value=0.0)
    days["ret"] = days["profit"] / days["bankroll_start"].where(days["bankroll_start"] > 0)
    return days.rename_axis("day").reset_index()


def risk_ratios(ret: np.ndarray, total_return: float, drawdown: float) -> dict:
    """Sharpe and Sortino of per-day returns (not annualised) and Calmar (total return over max drawdown)."""
    ret = np.asarray(ret, dtype=float)
    ret = ret[np.isfinite(ret)]
    sd = ret.std(ddof=1) if len(ret) > 1 else 0.0
    downside = np.sqrt(np.mean(np.minimum(ret, 0.0) ** 2)) if len(ret) else 0.0
    return {"sharpe": float(ret.mean() / sd) if sd > 0 else 0.0,
            "sortino": float(ret.mean() / downside) if downside > 0 else 0.0,
            "calmar": float(total_return / drawdown) if drawdown > 0 else 0.0}


def summarise(log: pd.DataFrame, start: float = 100.0, n_boot: int = 2000, seed: int = 0) -> dict:
    """Bets, betting days, turnover, profit, ROI with a 95% CI from resampling betting days, drawdown,
    Sharpe/Sortino/Calmar on the bankroll's per-day returns, CLV."""
    staked = log[log["stake"] > 0]
    if staked.empty:
        return {"bets": 0, "days": 0, "turnover": 0.0, "profit": 0.0, "roi": 0.0, "roi_ci95": [0.0, 0.0],
                "max_drawdown": 0.0, "sharpe": 0.0, "sortino": 0.0, "calmar": 0.0, "clv_mean": None,
                "beat_close_share": None, "final_bankroll": start}
    days = daily_returns(log, start)
    stake, profit = days["stake"].to_numpy(), days["profit"].to_numpy()
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(days), (n_boot, len(days)))
    boots = profit[picks].sum(axis=1) / stake[picks].sum(axis=1)
    final = float(log["bankroll"].iloc[-1])
    drawdown = max_drawdown(log["bankroll"].to_numpy(), start)
    out = {"bets": int(len(staked)), "days": int(len(days)), "turnover": float(stake.sum()),
           "profit": float(profit.sum()), "roi": float(profit.sum() / stake.sum()),
           "roi_ci95": [float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))],
           "max_drawdown": drawdown, **risk_ratios(days["ret"].to_numpy(), final / start - 1.0, drawdown),
           "final_bankroll": final}
    if "close_odds" in staked:
        clv = closing_line_value(staked["odds"], staked["close_odds"])
        out["clv_mean"] = float(np.nanmean(clv))
        out["beat_close_share"] = float(np.nanmean(clv > 0))
    return out


def risk_of_ruin(log: pd.DataFrame, start: float = 100.0, ruin: float = 0.5, n_sims: int = 2000, seed: int = 0,
                 ) -> float:
    """Share of reshuffled bet sequences whose bankroll ever falls below ``ruin`` x start.

    Each bet keeps its stake as a fraction of the bankroll and its outcome; only the order changes.
    """
    staked = log[log["stake"] > 0]
    if staked.empty:
        return 0.0
    before = staked["bankroll"].to_numpy() - staked["profit"].to_numpy()
    growth = 1.0 + staked["profit"].to_numpy() / np.where(before > 0, before, np.nan)
    growth = np.nan_to_num(growth, nan=1.0)
    rng = np.random.default_rng(seed)
    ruined = 0
    for _ in range(n_sims):
        path = start * np.cumprod(rng.permutation(growth))
        ruined += bool((path < ruin * start).any())
    return ruined / n_sims


def bet_table(matches: pd.DataFrame, p: np.ndarray, odds: np.ndarray, close_p: np.ndarray, rule: ValueRule,
              ) -> pd.DataFrame:
    """The value bets of a set of matches, one row per bet, ready for :func:`backtest`.

    Args:
        matches: ``match_id``, ``kickoff`` and ``result`` (H/D/A) of each match.
        p: model probabilities (n, 3).
        odds: prices available at prediction time (n, 3).
        close_p: de-vigged closing probabilities (n, 3), for closing-line value.
        rule: the value rule.
    """
    picks = value_bets(p, odds, rule)
    chosen = picks["outcome"].to_numpy() >= 0
    outcome = picks["outcome"].to_numpy()[chosen]
    rows = np.flatnonzero(chosen)
    result = matches["result"].map(RESULT_CODES).to_numpy()[rows]
    return pd.DataFrame({
        "match_id": matches["match_id"].to_numpy()[rows], "kickoff": matches["kickoff"].iloc[rows].to_numpy(),
        "outcome": np.array(OUTCOMES)[outcome], "prob": picks["prob"].to_numpy()[chosen],
        "odds": picks["odds"].to_numpy()[chosen], "edge": picks["edge"].to_numpy()[chosen],
        "won": result == outcome, "close_odds": 1.0 / close_p[rows, outcome],
    })


def run_strategy(matches: pd.DataFrame, p: np.ndarray, odds: np.ndarray, close_p: np.ndarray, rule: ValueRule,
                 staking: Staking, bankroll: float = 100.0, stress: tuple[float, ...] = (0.01, 0.02, 0.03),
                 ruin: float = 0.5, n_sims: int = 1000, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Backtest one strategy, with its stress test (all odds worse by each share) and risk of ruin."""
    log, summary = run_bets(bet_table(matches, p, odds, close_p, rule), staking, bankroll, ruin, n_sims, seed)
    summary["stress"] = {}
    for worse in stress:
        stressed = backtest(bet_table(matches, p, odds * (1.0 - worse), close_p, rule), staking, bankroll)
        s = summarise(stressed, bankroll, n_boot=200, seed=seed)
        summary["stress"][f"{worse:.0%}"] = {k: s[k] for k in ("bets", "roi", "profit", "final_bankroll")}
    return log, summary


def consensus_bets(matches: pd.DataFrame, consensus_p: np.ndarray, best_odds: np.ndarray, close_p: np.ndarray,
                   margin: float, rule: ValueRule) -> pd.DataFrame:
    """The model-free baseline of Kaunitz, Zhong and Kreiner ("Beating the bookies with their own numbers",
    2017): bet at the best available price when it beats the market consensus, i.e. when
    ``consensus_p`` x ``best_odds`` - 1 >= ``margin``, with the consensus the average book's de-vigged
    probability. The bets of :func:`bet_table` (same columns, same CLV), with the value rule's probability
    and odds bounds kept and its edge replaced by ``margin``.
    """
    from dataclasses import replace

    return bet_table(matches, consensus_p, best_odds, close_p, replace(rule, min_edge=margin))


def consensus_table(pred: pd.DataFrame, quotes: pd.DataFrame, features: pd.DataFrame, close_p: np.ndarray,
                    consensus: dict, timing: str, rule: ValueRule,
                    ) -> tuple[pd.DataFrame | None, str | None]:
    """The consensus baseline's bets (:func:`consensus_bets`) on the backtested matches, or None and the reason
    when the data set lacks its prices (a baseline that cannot run is reported, not an error).

    Args:
        pred: the matches in backtest order (``match_id``, ``kickoff``, ``result``).
        quotes: the same rows of the match table (prices); ``features``: the same rows of the feature table.
        close_p: de-vigged closing probabilities of the rows (closing-line value).
        consensus: ``book`` (its de-vigged probabilities are the consensus), ``prices`` (the best price's book),
            ``margin`` (params.yaml's ``backtest.consensus``).
        timing: the prices' timing (``backtest.odds_timing``).
    """
    from a1lab.columns import market_columns, quote_prices

    cols = list(market_columns(consensus["book"], timing))
    best = quote_prices(quotes, consensus["prices"], timing)
    if not set(cols) <= set(features.columns) or not np.isfinite(best).any():
        return None, (f"the data set has no {consensus['book']} de-vigged {timing} probabilities "
                      f"(features.market_books) or no {consensus['prices']} {timing} prices")
    return consensus_bets(pred, features[cols].to_numpy(), best, close_p, consensus["margin"], rule), None


def run_bets(bets: pd.DataFrame, staking: Staking, bankroll: float = 100.0, ruin: float = 0.5, n_sims: int = 1000,
             seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Backtest a ready bet table with one staking (:func:`backtest`), summarised with its risk of ruin."""
    log = backtest(bets, staking, bankroll)
    summary = summarise(log, bankroll, seed=seed)
    summary["risk_of_ruin"] = risk_of_ruin(log, bankroll, ruin, n_sims, seed)
    return log, summary


CLV_METHODS = ("multiplicative", "power", "shin")


def clv_by_method(bets: pd.DataFrame, close_odds: pd.DataFrame, methods: tuple[str, ...] = CLV_METHODS) -> dict:
    """Closing-line value of the same bets under several margin removals of the reference's closing prices.

    CLV is the price taken over the de-vigged closing price of the outcome bet on, minus 1; which margin removal
    de-vigs the close changes it (multiplicative gives favourites' close too little of the margin, Shin and
    power more), so a claim about CLV should hold under each.

    Args:
        bets: ``match_id``, ``outcome`` (home, draw, away) and ``odds`` of each bet.
        close_odds: the reference's closing prices by match id (columns ``home``, ``draw``, ``away``; a
            moneyline's draw NaN).
        methods: margin removals (:func:`a1lab.odds.remove_margin`).

    Returns:
        Per method: ``bets`` (with a closing price), ``clv_mean`` and ``beat_close_share``.
    """
    from a1lab.odds import remove_margin

    quotes = close_odds.loc[bets["match_id"]].to_numpy(dtype=float)
    k = bets["outcome"].map({o: i for i, o in enumerate(OUTCOMES)}).to_numpy()
    priced = np.isfinite(quotes[:, [0, 2]]).all(axis=1)
    two_way = priced & np.isnan(quotes[:, 1])
    three_way = priced & np.isfinite(quotes[:, 1])
    out = {}
    for method in methods:
        fair = np.full(len(bets), np.nan)
        if three_way.any():
            p = remove_margin(quotes[three_way], method)
            fair[three_way] = 1.0 / p[np.arange(len(p)), k[three_way]]
        if two_way.any():
            p = remove_margin(quotes[two_way][:, [0, 2]], method)
            fair[two_way] = 1.0 / p[np.arange(len(p)), np.where(k[two_way] == 2, 1, 0)]
        clv = closing_line_value(bets["odds"].to_numpy(dtype=float), fair)
        known = np.isfinite(clv)
        out[method] = {"bets": int(known.sum()), "clv_mean": float(clv[known].mean()) if known.any() else None,
                       "beat_close_share": float((clv[known] > 0).mean()) if known.any() else None}
    return out
