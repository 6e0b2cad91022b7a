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
from a1lab.models import OUTCOMES
from a1lab.odds import overround, remove_margin


def _quote(matches: pd.DataFrame, book: str, timing: str) -> np.ndarray:
    cols = quote_columns(book, timing)
    if not all(c in matches for c in cols):
        return np.full((len(matches), 3), np.nan)
    return np.column_stack([matches[c].to_numpy(dtype=float) for c in cols])  # cheaper than a frame take


def market_features(matches: pd.DataFrame, method: str = "multiplicative") -> pd.DataFrame:
    """De-vigged probabilities, overround, best-vs-average disagreement and the open-to-close move."""
    out: dict[str, np.ndarray] = {}
    probs = {}
    for timing in TIMINGS:
        for book in ("pinnacle", "avg"):
            quote = _quote(matches, book, timing)
            p = remove_margin(quote, method)
            probs[(book, timing)] = p
            for k, o in enumerate(OUTCOMES):
                out[market_prob(book, timing, o)] = p[:, k]
            with np.errstate(invalid="ignore"):
                out[market_overround(book, timing)] = np.where(np.isfinite(p[:, 0]), overround(quote), np.nan)
        best, avg = _quote(matches, "max", timing), _quote(matches, "avg", timing)
        for k, o in enumerate(OUTCOMES):
            out[market_disagreement(timing, o)] = best[:, k] / avg[:, k] - 1.0
    move = probs[("pinnacle", "close")] - probs[("pinnacle", "open")]
    for k, o in enumerate(OUTCOMES):
        out[market_move("pinnacle", o)] = move[:, k]
    return pd.DataFrame(out, index=matches.index)
