"""The outcome vocabulary: outcomes and their codes, shared by every sport.

Outcomes are coded home 0, draw 1, away 2 in every sport. A two-way sport (moneylines) has no draw
outcome: its forecasts keep the three columns with a draw probability of exactly 0, and a tie is a
push (neither trained on nor scored). A model fitted on codes 0 and 2 predicts two columns;
:func:`expand` puts them back in their places.
"""

from __future__ import annotations

import numpy as np

OUTCOMES = ("home", "draw", "away")
TWO_WAY = ("home", "away")
RESULT_CODES = {"H": 0, "D": 1, "A": 2}


def outcome_codes(outcomes: tuple[str, ...]) -> list[int]:
    """Result codes (:data:`RESULT_CODES`) of an outcome set; results outside it are pushes."""
    return [OUTCOMES.index(o) for o in outcomes]


def expand(proba, classes) -> np.ndarray:
    """Probabilities over ``classes`` (outcome codes) as (n, 3) columns home, draw, away; absent ones 0."""
    proba = np.asarray(proba, dtype=float)
    classes = np.asarray(classes)
    if proba.shape[1] == len(OUTCOMES) and list(classes) == [0, 1, 2]:
        return proba
    out = np.zeros((len(proba), len(OUTCOMES)))
    out[:, classes.astype(int)] = proba
    return out
