"""A market price adjusted by a few features: a multinomial logit whose offset is the market's log-probabilities.

``p = softmax(log p_market + b + X W)``, ``b`` one intercept per outcome and ``W`` one weight per feature and
outcome (the home outcome's fixed at 0), features standardised on the training rows, an L2 penalty on ``W``.
With no feature it only re-centres the market; the weights say what the features add to the price.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted


class MarketAdjustment(ClassifierMixin, BaseEstimator):
    """The market's forecast adjusted by features (scikit-learn's estimator contract).

    Args:
        market: the columns of the market's probabilities, in outcome order (home, draw, away).
        features: the feature columns (NaN is read as the training mean: no information).
        penalty: L2 penalty on the standardised features' weights, per training match.
    """

    def __init__(self, market=None, features=None, penalty=1.0):
        self.market = market
        self.features = features
        self.penalty = penalty

    def _inputs(self, X) -> tuple[np.ndarray, np.ndarray]:
        offset = np.log(np.clip(X[list(self.market)].to_numpy(dtype=float), 1e-9, 1.0))
        values = X[list(self.features or [])].to_numpy(dtype=float)
        return offset, values

    def fit(self, X, y):
        """Fit the intercepts and weights on (X, y); y holds class indices 0..k-1 in ``market``'s order."""
        offset, values = self._inputs(X)
        y = np.asarray(y, dtype=int)
        k, n = offset.shape[1], len(y)
        self.classes_ = np.arange(k)
        self.mean_ = np.nanmean(values, axis=0) if values.shape[1] else np.zeros(0)
        self.scale_ = np.nanstd(values, axis=0) if values.shape[1] else np.zeros(0)
        self.scale_[~(self.scale_ > 0)] = 1.0
        z = self._standard(values)
        onehot = np.eye(k)[y]

        def loss(theta):
            b, w = theta[:k - 1], theta[k - 1:].reshape(z.shape[1], k - 1)
            logits = offset + np.column_stack([np.zeros(n), np.tile(b, (n, 1)) + z @ w])
            logp = log_softmax(logits, axis=1)
            p = np.exp(logp)
            grad_logits = (p - onehot)[:, 1:] / n
            value = -(onehot * logp).sum() / n + 0.5 * self.penalty * (w ** 2).sum()
            grad = np.concatenate([grad_logits.sum(axis=0), (z.T @ grad_logits + self.penalty * w).ravel()])
            return value, grad

        theta = np.zeros((k - 1) * (1 + z.shape[1]))
        result = minimize(loss, theta, jac=True, method="L-BFGS-B", options={"maxiter": 500, "gtol": 1e-9})
        self.intercept_ = result.x[:k - 1]
        self.coef_ = result.x[k - 1:].reshape(z.shape[1], k - 1)
        self.n_features_in_ = len(self.market) + z.shape[1]
        return self

    def _standard(self, values: np.ndarray) -> np.ndarray:
        z = (values - self.mean_) / self.scale_
        return np.nan_to_num(z, nan=0.0)

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities in ``market``'s outcome order."""
        check_is_fitted(self, "coef_")
        offset, values = self._inputs(X)
        n = len(offset)
        logits = offset + np.column_stack([np.zeros(n), np.tile(self.intercept_, (n, 1))
                                           + self._standard(values) @ self.coef_])
        return np.exp(log_softmax(logits, axis=1))

    def predict(self, X) -> np.ndarray:
        """Most likely class."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
