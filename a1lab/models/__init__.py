"""Estimators with scikit-learn's contract; predict_proba columns are home, draw, away."""

OUTCOMES = ("home", "draw", "away")
RESULT_CODES = {"H": 0, "D": 1, "A": 2}
