"""The market as a forecast: de-vigged odds, with a fallback quote and base rates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from a1lab.columns import market_columns
from a1lab.models.base import as_frame, encode_labels, nan_tags


class MarketModel(ClassifierMixin, BaseEstimator):
    """Predicts the de-vigged probabilities of a quote (``fit`` learns only fallback base rates).

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
        """Store classes and base rates (used where no quote exists)."""
        self.classes_, codes = encode_labels(y, X)
        self.prior_ = np.bincount(codes, minlength=len(self.classes_)) / len(codes)
        self.n_features_in_ = as_frame(X).shape[1]
        return self

    def predict_proba(self, X) -> np.ndarray:
        """The quote's probabilities, else the fallback's, else base rates."""
        check_is_fitted(self, "prior_")
        X = as_frame(X)
        p = X[list(market_columns(self.book, self.timing))].to_numpy(dtype=float)
        if self.fallback:
            missing = ~np.isfinite(p).all(axis=1)
            p[missing] = X[list(market_columns(self.fallback, self.timing))].to_numpy(dtype=float)[missing]
        missing = ~np.isfinite(p).all(axis=1)
        p[missing] = self.prior_
        return p

    def predict(self, X) -> np.ndarray:
        """Most likely class."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "estimator.json").write_text(json.dumps(
            {"params": self.get_params(), "classes": self.classes_.tolist(), "prior": self.prior_.tolist()}))

    @classmethod
    def load(cls, folder: Path) -> MarketModel:
        state = json.loads((folder / "estimator.json").read_text())
        model = cls(**state["params"])
        model.classes_, model.prior_ = np.array(state["classes"]), np.array(state["prior"])
        return model
