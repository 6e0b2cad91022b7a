"""Shared pieces of the estimators: inputs as frames, label encoding, market offsets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d

from a1lab.matrix import FeatureMatrix, take_columns

SMALL_BATCH = 256  # rows predicted in one thread: idle OpenMP threads keep spinning after a call (and wait on each
# other beside busy processes), which costs a live scoring milliseconds on a small machine; row results do not
# depend on the thread count


def as_frame(X, estimator=None) -> pd.DataFrame | FeatureMatrix:
    """A DataFrame view of X; array input is validated (2-D, numeric, NaN allowed) and named x0, x1, ...
    (a :class:`FeatureMatrix` passes as it is).

    Args:
        X: a feature frame or an array.
        estimator: a fitted estimator whose ``n_features_in_`` array input must match.
    """
    if isinstance(X, pd.DataFrame | FeatureMatrix):
        return X
    arr = check_array(X, ensure_all_finite="allow-nan", dtype="numeric")
    expected = getattr(estimator, "n_features_in_", None)
    if expected is not None and arr.shape[1] != expected:
        raise ValueError(f"X has {arr.shape[1]} features, but {type(estimator).__name__} "
                         f"is expecting {expected} features as input")
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])


def nan_tags(tags):
    """scikit-learn tags of an estimator that takes missing values."""
    tags.input_tags.allow_nan = True
    return tags


def feature_columns(X: pd.DataFrame, features, offset, close=None) -> list[str]:
    """The model's input columns: ``features`` if given, else every column but the offset and close ones.

    Raises:
        ValueError: a feature X lacks, or a ``close`` column among the features (:func:`check_close`).
    """
    if features is not None:
        missing = [c for c in features if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks {len(missing)} model features, e.g. {missing[:5]}")
        check_close(features, close)
        return list(features)
    return [c for c in X.columns if c not in {*(offset or ()), *(close or ())}]


def encode_labels(y, X=None) -> tuple[np.ndarray, np.ndarray]:
    """Classes (sorted) and y as indices into them; refuses regression targets and a single class."""
    if y is None:
        raise ValueError("this classifier requires y to be passed, but the target y is None")
    y = column_or_1d(y, warn=True)
    if X is not None:
        check_consistent_length(X, y)
    check_classification_targets(y)
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"need samples of at least two classes to fit; got 1 class: {classes.tolist()}")
    return classes, codes


def offset_columns(offset, classes) -> list[str]:
    """The offset's columns of the fitted classes: all of them when there is one per class, else those of
    the classes' outcome codes (a two-way model takes home and away of a home/draw/away offset)."""
    offset, classes = list(offset), np.asarray(classes)
    if len(offset) == len(classes):
        return offset
    if np.issubdtype(classes.dtype, np.integer) and classes.min() >= 0 and classes.max() < len(offset):
        return [offset[int(c)] for c in classes]
    raise ValueError(f"offset has {len(offset)} columns for {len(classes)} classes {classes.tolist()}")


def soft_targets(X, codes: np.ndarray, classes, close, weight: float) -> np.ndarray | None:
    """The training target of each row: ``(1 - weight)`` x the result's one-hot + ``weight`` x the closing
    probabilities (``close``: columns, like an offset's), renormalised over the fitted classes; rows
    without a close keep the one-hot. None when no ``close`` is named or ``weight`` is 0.

    The close is a target only: it is read from the training rows, which the walk-forward takes from
    matches before the fold's first test match, and never from the rows a model predicts.

    Raises:
        ValueError: ``weight`` outside [0, 1].
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"close_weight is a share in [0, 1], got {weight}")
    if not close or weight == 0.0:
        return None
    onehot = np.eye(len(classes))[codes]
    p = take_columns(X, offset_columns(close, classes))
    total = p.sum(axis=1)
    ok = np.isfinite(p).all(axis=1) & (total > 0)
    p = np.where(ok[:, None], p / np.where(ok, total, 1.0)[:, None], onehot)
    return (1.0 - weight) * onehot + weight * p


def soft_rows(target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A soft target as weighted hard labels: each row once per class it gives weight, returned as (row
    positions, class codes, weights). The weighted log loss of these rows is the soft target's cross-entropy."""
    n, k = target.shape
    rows, labels, weights = np.repeat(np.arange(n), k), np.tile(np.arange(k), n), target.ravel()
    keep = weights > 0
    return rows[keep], labels[keep], weights[keep]


def check_close(features: list[str], close) -> None:
    """A closing price is a training target, never an input.

    Raises:
        ValueError: a ``close`` column is among the features.
    """
    both = sorted(set(features) & set(close or ()))
    if both:
        raise ValueError(f"the close target's columns {both} are model features: a closing price may be a "
                         "training target, never an input")


def offset_logits(X: pd.DataFrame, offset, prior: np.ndarray, classes=None) -> np.ndarray | None:
    """Log market probabilities of the fitted classes to start from (rows without them use the training
    base rates)."""
    if not offset:
        return None
    if classes is not None:
        offset = offset_columns(offset, classes)
    p = take_columns(X, offset)
    missing = ~np.isfinite(p).all(axis=1)
    p[missing] = prior
    return np.log(np.clip(p, 1e-6, 1.0))


class BoostedTrees(ClassifierMixin, BaseEstimator):
    """What the boosted-tree wrappers share (subclasses list their own hyper-parameters in ``__init__``):
    the fitted columns, class codes and base rates, the feature matrix with its market offset, the close
    target, ``predict``."""

    def __sklearn_tags__(self):
        return nan_tags(super().__sklearn_tags__())

    def _start(self, X, y) -> tuple[pd.DataFrame, np.ndarray]:
        """Set ``classes_``, ``features_``, ``n_features_in_`` and ``prior_``; return X as a frame and y's codes."""
        X = as_frame(X)
        self.classes_, codes = encode_labels(y, X)
        self.features_ = feature_columns(X, self.features, self.offset, self.close)
        self.n_features_in_ = len(self.features_)
        self.prior_ = np.bincount(codes, minlength=len(self.classes_)) / len(codes)
        return X, codes

    def _training_set(self, X, codes: np.ndarray):
        """The feature matrix, offset, labels and weights to fit on: one row per match, or with a close
        target (``close_weight`` > 0) one per match and class (:func:`soft_rows`); weights None without."""
        values, margin = self._values(X)
        target = soft_targets(X, codes, self.classes_, self.close, self.close_weight)
        if target is None:
            return values, margin, codes, None
        rows, labels, weights = soft_rows(target)
        return values[rows], None if margin is None else margin[rows], labels, weights

    def _values(self, X) -> tuple[np.ndarray, np.ndarray | None]:
        """The feature matrix (no frame copy) and the offset's log-probabilities (None without one)."""
        X = as_frame(X, self)
        margin = offset_logits(X, self.offset, self.prior_, self.classes_) if self.offset else None
        return take_columns(X, self.features_), margin

    def _threads(self, rows: int) -> int:
        """Threads to predict ``rows`` rows with: one for a small batch (:data:`SMALL_BATCH`), else ``n_jobs``."""
        return 1 if rows <= SMALL_BATCH else self.n_jobs

    def predict(self, X) -> np.ndarray:
        """Most likely class."""
        proba = self.predict_proba(X)  # checks that the model is fitted
        return self.classes_[proba.argmax(axis=1)]


def proba_and_contributions(estimator, X) -> tuple[np.ndarray, np.ndarray]:
    """An estimator's probabilities and exact SHAP values (``contributions``) of the same rows: from its own
    shared pass where it has one (``proba_and_contributions``: XGBoost's one DMatrix), else the two calls."""
    shared = getattr(estimator, "proba_and_contributions", None)
    return shared(X) if shared is not None else (estimator.predict_proba(X), estimator.contributions(X))


def save_tree_state(model, folder: Path) -> None:
    """The fitted state a boosted-tree wrapper keeps beside its booster (``estimator.json``)."""
    state = {"params": model.get_params(), "classes": model.classes_.tolist(), "features": model.features_,
             "prior": model.prior_.tolist(), "best_iteration": model.best_iteration_}
    (folder / "estimator.json").write_text(json.dumps(state, indent=2))


def load_tree_state(cls, folder: Path):
    """A wrapper of ``cls`` with the state :func:`save_tree_state` wrote; the caller loads the booster."""
    state = json.loads((folder / "estimator.json").read_text())
    model = cls(**state["params"])
    model.classes_ = np.array(state["classes"])
    model.features_ = state["features"]
    model.n_features_in_ = len(model.features_)
    model.prior_ = np.array(state["prior"])
    model.best_iteration_ = state["best_iteration"]
    return model
