"""Ratings baseline: multinomial logistic regression on rating differences."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from a1lab.models.base import as_frame, encode_labels, feature_columns, nan_tags


class RatingsLogit(ClassifierMixin, BaseEstimator):
    """Standardised rating differences into a multinomial logit.

    Args:
        features: columns to use (default ``elo_diff`` and ``pi_expected_gd``;
            None uses every column of X).
        C: inverse regularisation strength.
    """

    def __init__(self, features=("elo_diff", "pi_expected_gd"), C=1.0):
        self.features = features
        self.C = C

    def _x(self, X) -> np.ndarray:
        x = as_frame(X, self)[self.features_].to_numpy(dtype=float)
        return (np.nan_to_num(x - self.mean_) if x.size else x) / self.scale_

    def __sklearn_tags__(self):
        return nan_tags(super().__sklearn_tags__())

    @classmethod
    def get_test_params(cls) -> dict:
        """Settings small enough for the tests that every registered model goes through."""
        return {}

    def fit(self, X, y):
        """Fit the logit on standardised inputs."""
        X = as_frame(X)
        self.classes_, codes = encode_labels(y, X)
        self.features_ = feature_columns(X, list(self.features) if self.features else None, None)
        self.n_features_in_ = len(self.features_)
        raw = X[self.features_].to_numpy(dtype=float)
        self.mean_ = np.nanmean(raw, axis=0)
        std = np.nanstd(raw, axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        self.logit_ = LogisticRegression(C=self.C, max_iter=1000).fit(self._x(X), codes)
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "logit_")
        return self.logit_.predict_proba(self._x(X))

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        state = {"params": {**self.get_params(), "features": list(self.features) if self.features else None},
                 "classes": self.classes_.tolist(), "features": self.features_, "mean": self.mean_.tolist(),
                 "scale": self.scale_.tolist(), "coef": self.logit_.coef_.tolist(),
                 "intercept": self.logit_.intercept_.tolist()}
        (folder / "estimator.json").write_text(json.dumps(state))

    @classmethod
    def load(cls, folder: Path) -> RatingsLogit:
        s = json.loads((folder / "estimator.json").read_text())
        model = cls(**s["params"])
        model.classes_, model.features_ = np.array(s["classes"]), s["features"]
        model.n_features_in_ = len(model.features_)
        model.mean_, model.scale_ = np.array(s["mean"]), np.array(s["scale"])
        logit = LogisticRegression(C=model.C)
        logit.classes_ = np.arange(len(model.classes_))
        logit.coef_, logit.intercept_ = np.array(s["coef"]), np.array(s["intercept"])
        model.logit_ = logit
        return model
