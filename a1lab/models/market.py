"""The market as a forecast: de-vigged odds, with a fallback quote; never base rates in its name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from a1lab.columns import market_columns
from a1lab.matrix import take_columns
from a1lab.models.base import as_frame, check_close, encode_labels, nan_tags, offset_columns, soft_targets


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


class MarketCorrection(ClassifierMixin, BaseEstimator):
    """The market with its known biases corrected: ``p_k`` proportional to ``q_k ** gamma * exp(beta_k)``, where
    ``q`` are a quote's de-vigged probabilities (``offset``), ``gamma`` > 1 shrinks long shots toward
    nothing and favourites up (the favourite-longshot bias) and ``beta`` (0 for the first class) moves
    the draw and the away win as a whole (draw pricing). Fitted by maximum likelihood on the training rows
    that have the quote; rows without it are forecast at the training base rates.

    Args:
        offset: the quote's probability columns (the pipeline's ``train.offset``, e.g. Pinnacle open).
        l2: ridge penalty on ``gamma - 1`` and ``beta`` per training row (0: plain maximum likelihood).
        close, close_weight: the close as a training target beside the result, as the other models take it
            (:func:`a1lab.models.base.soft_targets`): the correction is then fitted toward the close.
    """

    label = "bias-corrected market"  # how tables and pages name it
    requires = ()  # the distributions it imports (pyproject.toml dependencies)
    search_space = {}  # what `tune` searches (params.yaml tune.space.<name> replaces a range)

    def __init__(self, offset=tuple(market_columns("pinnacle", "open")), l2=0.0, close=None, close_weight=0.0):
        self.offset = offset
        self.l2 = l2
        self.close = close
        self.close_weight = close_weight

    def __sklearn_tags__(self):
        return nan_tags(super().__sklearn_tags__())

    @classmethod
    def get_test_params(cls) -> dict:
        """Settings small enough for the tests that every registered model goes through."""
        return {}

    def _log_quote(self, X) -> tuple[np.ndarray, np.ndarray]:
        q = take_columns(as_frame(X), offset_columns(self.offset, self.classes_))
        priced = np.isfinite(q).all(axis=1) & (q > 0).all(axis=1)
        return np.log(np.where(priced[:, None], q, 1.0)), priced

    def fit(self, X, y):
        """Fit ``gamma`` and ``beta`` (L-BFGS on the mean log loss of the priced rows)."""
        from scipy.optimize import minimize
        from scipy.special import log_softmax

        X = as_frame(X)
        self.classes_, codes = encode_labels(y, X)
        self.n_features_in_ = X.shape[1]
        self.prior_ = np.bincount(codes, minlength=len(self.classes_)) / len(codes)
        self.features_ = offset_columns(self.offset, self.classes_)  # what it reads (the registry records it)
        check_close(self.features_, self.close)
        logq, priced = self._log_quote(X)
        if not priced.any():
            raise ValueError(f"no training row has the quote {list(self.offset)}: nothing to correct")
        target = soft_targets(X, codes, self.classes_, self.close, self.close_weight)
        target = (np.eye(len(self.classes_))[codes] if target is None else target)[priced]
        logq = logq[priced]

        def loss(theta):
            gamma, beta = theta[0], np.r_[0.0, theta[1:]]
            z = log_softmax(gamma * logq + beta, axis=1)
            value = -(target * z).sum(axis=1).mean() + self.l2 * ((gamma - 1.0) ** 2 + (beta ** 2).sum())
            grad_z = (np.exp(z) - target) / len(target)  # d(cross-entropy)/dz
            return value, np.r_[(grad_z * logq).sum() + 2 * self.l2 * (gamma - 1.0),
                                grad_z[:, 1:].sum(axis=0) + 2 * self.l2 * beta[1:]]

        start = np.r_[1.0, np.zeros(len(self.classes_) - 1)]
        theta = minimize(loss, start, jac=True, method="L-BFGS-B").x
        self.gamma_, self.beta_ = float(theta[0]), np.r_[0.0, theta[1:]]
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Corrected probabilities, columns in ``classes_`` order."""
        from scipy.special import softmax

        check_is_fitted(self, "gamma_")
        logq, priced = self._log_quote(X)
        p = softmax(self.gamma_ * logq + self.beta_, axis=1)
        p[~priced] = self.prior_
        return p

    def predict(self, X) -> np.ndarray:
        """Most likely class."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "estimator.json").write_text(json.dumps(
            {"params": {**self.get_params(), "offset": list(self.offset)}, "classes": self.classes_.tolist(),
             "prior": self.prior_.tolist(), "gamma": self.gamma_, "beta": self.beta_.tolist(),
             "n_features_in": self.n_features_in_}))

    @classmethod
    def load(cls, folder: Path) -> MarketCorrection:
        state = json.loads((folder / "estimator.json").read_text())
        model = cls(**state["params"])
        model.classes_, model.prior_ = np.array(state["classes"]), np.array(state["prior"])
        model.gamma_, model.beta_ = state["gamma"], np.array(state["beta"])
        model.n_features_in_ = state["n_features_in"]
        model.features_ = offset_columns(model.offset, model.classes_)
        return model
