"""The market as a forecast: de-vigged odds, with a fallback quote; never base rates in its name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from a1lab.columns import market_columns
from a1lab.matrix import take_columns
from a1lab.models.base import as_frame, encode_labels, nan_tags, offset_columns


class MarketModel(ClassifierMixin, BaseEstimator):
    """Predicts the de-vigged probabilities of a quote (``fit`` learns only the classes).

    Args:
        timing: ``"open"`` or ``"close"``.
        book: bookmaker whose quote is the forecast (``pinnacle``).
        fallback: bookmaker used where the first quote is missing (``avg``).
    """

    def __init__(self, timing="open", book="pinnacle", fallback="avg"):
        self.timing = timing
        self.book = book
        self.fallback = fallback

    def __sklearn_tags__(self):
        return nan_tags(super().__sklearn_tags__())

    @classmethod
    def get_test_params(cls) -> dict:
        """Settings small enough for the tests that every registered model goes through."""
        return {}

    def fit(self, X, y):
        """Store the classes (the market needs no fitting)."""
        self.classes_, _ = encode_labels(y, X)
        self.n_features_in_ = as_frame(X).shape[1]
        return self

    def predict_proba(self, X) -> np.ndarray:
        """The quote's probabilities, else the fallback's.

        Raises:
            ValueError: rows with neither quote (or the columns absent): a market forecast that silently
                became base rates would make every comparison with "the market" meaningless.
        """
        check_is_fitted(self, "classes_")
        X = as_frame(X)
        p = np.full((len(X), len(self.classes_)), np.nan)
        books = [self.book] + ([self.fallback] if self.fallback else [])
        for book in books:
            cols = offset_columns(market_columns(book, self.timing), self.classes_)
            if all(c in X for c in cols):
                missing = ~np.isfinite(p).all(axis=1)
                p[missing] = take_columns(X, cols)[missing]
        missing = ~np.isfinite(p).all(axis=1)
        if missing.any():
            raise ValueError(f"{int(missing.sum())} of {len(X)} rows have no {' or '.join(books)} {self.timing} "
                             "quote: the market cannot forecast them")
        return p

    def predict(self, X) -> np.ndarray:
        """Most likely class."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "estimator.json").write_text(json.dumps(
            {"params": self.get_params(), "classes": self.classes_.tolist()}))

    @classmethod
    def load(cls, folder: Path) -> MarketModel:
        state = json.loads((folder / "estimator.json").read_text())
        model = cls(**state["params"])
        model.classes_ = np.array(state["classes"])
        return model
