"""Market features: what the odds known at a prediction time say about a match.

Pure and row-wise, so batch and live compute them with the same call.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from a1lab.columns import (
    TIMINGS,
    market_disagreement,
    market_move,
    market_overround,
    market_prob,
    quote_columns,
)
from a1lab.features.registry import FeatureConfig
from a1lab.models import OUTCOMES
from a1lab.odds import overround, remove_margin


def _quote(matches: pd.DataFrame, book: str, timing: str) -> np.ndarray:
    cols = quote_columns(book, timing)
    if not all(c in matches for c in cols):
        return np.full((len(matches), 3), np.nan)
    return np.column_stack([matches[c].to_numpy(dtype=float) for c in cols])  # cheaper than a frame take


def market_features(matches: pd.DataFrame, config: FeatureConfig) -> pd.DataFrame:
    """De-vigged probabilities and overround of ``config.market_books``, best-vs-average disagreement, and
    the open-to-close move of ``config.move_books`` (margins removed by ``config.margin_method``)."""
    out: dict[str, np.ndarray] = {}
    probs = {}

    def fair(book: str, timing: str) -> np.ndarray:
        if (book, timing) not in probs:
            probs[(book, timing)] = remove_margin(_quote(matches, book, timing), config.margin_method)
        return probs[(book, timing)]

    for timing in TIMINGS:
        for book in config.market_books:
            quote = _quote(matches, book, timing)
            p = fair(book, timing)
            for k, o in enumerate(OUTCOMES):
                out[market_prob(book, timing, o)] = p[:, k]
            with np.errstate(invalid="ignore"):
                out[market_overround(book, timing)] = np.where(np.isfinite(p[:, 0]), overround(quote), np.nan)
        best, avg = _quote(matches, "max", timing), _quote(matches, "avg", timing)
        for k, o in enumerate(OUTCOMES):
            out[market_disagreement(timing, o)] = best[:, k] / avg[:, k] - 1.0
    for book in config.move_books:
        move = fair(book, "close") - fair(book, "open")
        for k, o in enumerate(OUTCOMES):
            out[market_move(book, o)] = move[:, k]
    return pd.DataFrame(out, index=matches.index)
