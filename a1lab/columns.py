"""Column names: the one place that spells them, and parses them back.

- Prices in the match table: ``odds_<book>_<market>_<timing>_<outcome>``
  (``odds_pinnacle_1x2_close_home``).
- Market features: ``mkt_<book>_<timing>_p_<outcome>``, ``mkt_<book>_<timing>_overround``,
  ``mkt_<timing>_disagreement_<outcome>`` (best over average price) and
  ``mkt_<book>_move_<outcome>`` (open to close), ``mkt_<book>_<timing>_goals_<total|supremacy>``
  (goal expectations implied by the over/under 2.5 and Asian-handicap quotes; the handicap's line is
  ``ah_line_<timing>``).
- Ids of a match in feature tables and predictions (``ID_COLUMNS``) and the
  probability columns of a prediction (``PRED_COLUMNS``).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from a1lab.matrix import take_columns
from a1lab.outcomes import OUTCOMES, TWO_WAY, outcome_codes

ID_COLUMNS = ["match_id", "league", "season", "kickoff", "home", "away", "result"]
PRED_COLUMNS = [f"p_{o}" for o in OUTCOMES]
TIMINGS = ("open", "close")


def price_timing(prediction_time: str) -> str:
    """The prices known at a prediction time: a line-up forecast (after the line-ups, before the close) has the
    opening prices, as an opening forecast does."""
    return "close" if prediction_time == "close" else "open"


ODDS_COLUMN = re.compile(
    r"^odds_(?P<book>[a-z0-9_]+?)_(?P<market>1x2|ml|ou25|ah)_(?P<timing>open|close)_"
    r"(?P<outcome>home|draw|away|over|under)$"
)
_BOOK_FEATURE = re.compile(r"^mkt_(?P<book>[a-z0-9_]+?)_(?P<timing>open|close)_(?:p_[a-z]+|overround)$")
_GOALS_FEATURE = re.compile(r"^mkt_(?P<book>[a-z0-9_]+?)_(?P<timing>open|close)_goals_(?P<kind>total|supremacy)$")
GOAL_KINDS = ("total", "supremacy")
_SPREAD_FEATURE = re.compile(r"^mkt_(?P<timing>open|close)_disagreement_[a-z]+$")
_MOVE_FEATURE = re.compile(r"^mkt_(?P<book>[a-z0-9_]+?)_move_[a-z]+$")
SPREAD_BOOKS = ("max", "avg")  # the disagreement features compare the best price with the average


def odds_column(book: str, market: str, timing: str, outcome: str) -> str:
    """Name of one price, e.g. ``odds_pinnacle_1x2_close_home``."""
    return f"odds_{book}_{market}_{timing}_{outcome}"


def quote_columns(book: str, timing: str, market: str = "1x2", outcomes: tuple[str, ...] = OUTCOMES) -> list[str]:
    """The prices of one quote (a bookmaker's 1X2, or with ``market="ml"`` and two outcomes its moneyline,
    at a timing), in outcome order."""
    return [odds_column(book, market, timing, o) for o in outcomes]


def quote(matches: pd.DataFrame, book: str, timing: str) -> tuple[np.ndarray, list[int]]:
    """A bookmaker's prices at a timing (n, k) and the outcome codes of their columns: its 1X2, else its
    moneyline (home, away), else NaN."""
    for market, outcomes in (("1x2", OUTCOMES), ("ml", TWO_WAY)):
        cols = quote_columns(book, timing, market, outcomes)
        if all(c in matches for c in cols):
            return take_columns(matches, cols), outcome_codes(outcomes)
    return np.full((len(matches), 3), np.nan), outcome_codes(OUTCOMES)


def quote_prices(matches: pd.DataFrame, book: str, timing: str) -> np.ndarray:
    """A bookmaker's prices at a timing as (n, 3) home, draw, away: its 1X2, else its moneyline with no
    draw price (NaN), else all NaN."""
    prices, codes = quote(matches, book, timing)
    out = np.full((len(matches), len(OUTCOMES)), np.nan)
    out[:, codes] = prices
    return out


def market_prob(book: str, timing: str, outcome: str) -> str:
    return f"mkt_{book}_{timing}_p_{outcome}"


def market_columns(book: str, timing: str) -> tuple[str, str, str]:
    """Feature-table columns of a bookmaker's de-vigged probabilities, in outcome order."""
    return tuple(market_prob(book, timing, o) for o in OUTCOMES)


def market_overround(book: str, timing: str) -> str:
    return f"mkt_{book}_{timing}_overround"


def market_disagreement(timing: str, outcome: str) -> str:
    return f"mkt_{timing}_disagreement_{outcome}"


def market_move(book: str, outcome: str) -> str:
    return f"mkt_{book}_move_{outcome}"


def market_goals(book: str, timing: str, kind: str) -> str:
    return f"mkt_{book}_{timing}_goals_{kind}"


def ah_line_column(timing: str) -> str:
    """The Asian handicap's line for the home side at a timing (``-0.5``: home gives half a goal)."""
    return f"ah_line_{timing}"


def quotes_behind(column: str) -> set[tuple[str, ...]]:
    """The quotes a market feature is computed from: (bookmaker, timing) of 1X2 (or moneyline) quotes,
    (bookmaker, timing, market) of over/under 2.5 (``ou25``) and Asian-handicap (``ah``) ones; empty for
    other columns."""
    if m := _BOOK_FEATURE.match(column):
        return {(m["book"], m["timing"])}
    if m := _SPREAD_FEATURE.match(column):
        return {(book, m["timing"]) for book in SPREAD_BOOKS}
    if m := _MOVE_FEATURE.match(column):
        return {(m["book"], timing) for timing in TIMINGS}
    if m := _GOALS_FEATURE.match(column):  # the handicap's expected goal difference also needs the total
        return {(m["book"], m["timing"], market) for market in ("ou25", "ah")[:1 if m["kind"] == "total" else 2]}
    return set()


def outcome_set(frame) -> tuple[str, ...]:
    """The outcomes of a data set's sport, read from its market: :data:`TWO_WAY` when every quote is a
    moneyline (``odds_*_ml_*`` prices in a match table, or de-vigged draw probabilities that are all
    exactly 0 in a feature table), else :data:`OUTCOMES`."""
    markets = {m["market"] for c in frame.columns if (m := ODDS_COLUMN.match(str(c)))}
    if markets & {"1x2"}:
        return OUTCOMES
    if "ml" in markets:
        return TWO_WAY
    draws = [c for c in frame.columns if str(c).startswith("mkt_") and str(c).endswith("_p_draw")]
    values = np.concatenate([frame[c].to_numpy(dtype=float) for c in draws]) if draws else np.array([])
    values = values[np.isfinite(values)]
    return TWO_WAY if len(values) and not values.any() else OUTCOMES
