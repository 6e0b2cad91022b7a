"""Settling a live prediction: its scores against the result, the market's, the bet's profit and closing-line
value, and the rolling window of settled matches."""

from __future__ import annotations

import copy
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from a1lab.betting import closing_line_value
from a1lab.live.scoring import fair_quote
from a1lab.metrics import logloss_per_match, rps_per_match
from a1lab.outcomes import OUTCOMES, RESULT_CODES

WINDOW_KEYS = ("rps", "logloss", "market_rps", "market_logloss", "hit", "clv")


def settle(prediction: dict | None, result: str, close_quote: list | None,
           margin_method: str) -> tuple[dict, dict | None]:
    """Score a standing prediction against a result.

    Args:
        prediction: the match's prediction message (None: it was never scored).
        result: ``H``, ``D`` or ``A``; a draw in a two-way sport is a push (not scored, a bet on it void).
        close_quote: the market book's closing quote of the match, for the bet's closing-line value.
        margin_method: margin removal for the closing quote.

    Returns:
        The window row (``rps``, ``logloss``, ``market_rps``, ``market_logloss``, ``hit``, ``clv``; None where
        there is nothing to score) and the settled bet (None without one).
    """
    y = np.array([RESULT_CODES[result]])
    row: dict = dict.fromkeys(("hit", "rps", "logloss", "market_rps", "market_logloss", "clv"))
    if prediction is None or (prediction["p"]["draw"] == 0 and result == "D"):
        return row, None
    p = np.array([list(prediction["p"].values())])
    row.update(rps=float(rps_per_match(p, y)[0]), logloss=float(logloss_per_match(p, y)[0]),
               hit=float(p.argmax() == y[0]))
    if prediction["market"] is not None:
        q = np.array([list(prediction["market"]["p"].values())])
        row.update(market_rps=float(rps_per_match(q, y)[0]), market_logloss=float(logloss_per_match(q, y)[0]))
    bet = prediction["value"]
    if bet is None:
        return row, None
    k = OUTCOMES.index(bet["outcome"])
    won = k == y[0]
    clv = None
    if close_quote is not None:
        fair = 1.0 / fair_quote(close_quote, margin_method)[k]
        clv = float(closing_line_value(np.array([bet["odds"]]), np.array([fair]))[0])
    row["clv"] = clv
    profit = bet["stake"] * (bet["odds"] - 1.0) if won else -bet["stake"]
    return row, {**bet, "won": bool(won), "profit": profit, "clv": clv}


@dataclass
class Window:
    """Rolling analytics over the last ``size`` settled matches.

    Each key's values are kept in order beside the rows, so a summary is a few exactly rounded sums
    (``math.fsum``: the same figures whatever the window went through, a restored one included), not a
    pass over every row.
    """

    size: int
    rows: deque = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.rows = deque(self.rows)
        self._values = {k: deque(float(r[k]) for r in self.rows if r.get(k) is not None) for k in WINDOW_KEYS}
        while len(self.rows) > self.size:
            self._drop_oldest()

    def copy(self) -> Window:
        new = copy.copy(self)
        new.rows, new._values = self.rows.copy(), {k: v.copy() for k, v in self._values.items()}
        return new

    def add(self, row: dict) -> None:
        self.rows.append(row)
        for key in WINDOW_KEYS:
            if row.get(key) is not None:
                self._values[key].append(float(row[key]))
        while len(self.rows) > self.size:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        old = self.rows.popleft()
        for key in WINDOW_KEYS:
            if old.get(key) is not None:
                self._values[key].popleft()

    def summary(self) -> dict:
        mean = {k: math.fsum(v) / len(v) if v else None for k, v in self._values.items()}
        out = {"n": len(self.rows), **{k: mean[k] for k in WINDOW_KEYS[:-1]}}
        out["rps_gap"] = None if out["rps"] is None or out["market_rps"] is None else out["rps"] - out["market_rps"]
        out["bets"] = len(self._values["clv"])
        out["clv"] = mean["clv"]
        return out
