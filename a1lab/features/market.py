"""Market features: what the odds known at a prediction time say about a match.

A bookmaker's quote is its 1X2 prices, or its moneyline (home, away) where it has no 1X2: a
two-way quote's de-vigged draw probability is exactly 0. Pure and row-wise, so batch and live
compute them with the same call.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from a1lab.columns import (
    TIMINGS,
    ah_line_column,
    market_disagreement,
    market_goals,
    market_move,
    market_overround,
    market_prob,
    odds_column,
    quote,
)
from a1lab.matrix import FeatureMatrix, take_columns
from a1lab.odds import implied_supremacy, implied_total_goals, overround, remove_margin
from a1lab.outcomes import OUTCOMES
from a1lab.params import FeatureEngineParams


def _fair(prices: np.ndarray, codes: list[int], method: str) -> np.ndarray:
    """De-vigged probabilities as (n, 3) home, draw, away: a two-way quote's draw is 0 where it is priced."""
    p = remove_margin(prices, method)
    if len(codes) == len(OUTCOMES):
        return p
    out = np.where(np.isfinite(p).all(axis=1, keepdims=True), 0.0, np.nan) * np.ones((1, len(OUTCOMES)))
    out[:, codes] = p
    return out


def _columns(matches: pd.DataFrame | FeatureMatrix, names: list[str]) -> np.ndarray:
    """The named columns as floats; all NaN where any is absent (a data set without those quotes)."""
    if all(n in matches.columns for n in names):
        return take_columns(matches, names)
    return np.full((len(matches), len(names)), np.nan)


def goal_features(matches: pd.DataFrame | FeatureMatrix, book: str, timing: str, method: str) -> dict:
    """Expected total goals from a book's over/under 2.5 quote (:func:`a1lab.odds.implied_total_goals`) and
    expected goal difference from its Asian-handicap quote and line (:func:`a1lab.odds.implied_supremacy`),
    margins removed by ``method``."""
    ou = _columns(matches, [odds_column(book, "ou25", timing, o) for o in ("over", "under")])
    ah = _columns(matches, [odds_column(book, "ah", timing, o) for o in ("home", "away")])
    line = _columns(matches, [ah_line_column(timing)])[:, 0]
    total = implied_total_goals(remove_margin(ou, method)[:, 0])
    supremacy = implied_supremacy(remove_margin(ah, method)[:, 0], line, total)
    return {market_goals(book, timing, "total"): total, market_goals(book, timing, "supremacy"): supremacy}


def market_features(matches: pd.DataFrame, config: FeatureEngineParams) -> pd.DataFrame:
    """De-vigged probabilities and overround of ``config.market_books``, best-vs-average disagreement, and
    the open-to-close move of ``config.move_books`` (margins removed by ``config.margin_method``)."""
    return pd.DataFrame(market_feature_values(matches, config), index=matches.index)


def market_feature_values(matches: pd.DataFrame | FeatureMatrix, config: FeatureEngineParams,
                          timings: tuple[str, ...] = TIMINGS) -> dict[str, np.ndarray]:
    """:func:`market_features` as name -> values, of a DataFrame's or a FeatureMatrix's quote columns; only
    those of ``timings`` (the open-to-close moves need both), as the live loop asks for an ``open`` forecast."""
    out: dict[str, np.ndarray] = {}
    probs = {}

    def fair(book: str, timing: str) -> np.ndarray:
        if (book, timing) not in probs:
            probs[(book, timing)] = _fair(*quote(matches, book, timing), config.margin_method)
        return probs[(book, timing)]

    for timing in timings:
        for book in config.market_books:
            prices, _ = quote(matches, book, timing)
            p = fair(book, timing)
            for k, o in enumerate(OUTCOMES):
                out[market_prob(book, timing, o)] = p[:, k]
            with np.errstate(invalid="ignore"):
                out[market_overround(book, timing)] = np.where(np.isfinite(p[:, 0]), overround(prices), np.nan)
        (best, codes), (avg, avg_codes) = quote(matches, "max", timing), quote(matches, "avg", timing)
        spread = np.full((len(matches), len(OUTCOMES)), np.nan)
        if codes == avg_codes:
            spread[:, codes] = best / avg - 1.0
        for k, o in enumerate(OUTCOMES):
            out[market_disagreement(timing, o)] = spread[:, k]
        for book in config.goal_books:
            out.update(goal_features(matches, book, timing, config.margin_method))
    for book in config.move_books if set(TIMINGS) <= set(timings) else ():
        move = fair(book, "close") - fair(book, "open")
        for k, o in enumerate(OUTCOMES):
            out[market_move(book, o)] = move[:, k]
    return out
