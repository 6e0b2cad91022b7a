"""LightGBM multiclass model, optionally boosting from the market's log-probabilities."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
from sklearn.utils.validation import check_is_fitted

from a1lab.models.base import (
    BoostedTrees,
    load_tree_state,
    save_tree_state,
)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class LGBMModel(BoostedTrees):
    """Leaf-wise gradient-boosted trees with early stopping on a validation set.

    Args:
        features: input columns (default: every column of X but ``offset``).
        offset: three probability columns (e.g. de-vigged opening odds) whose logs are the initial
            score, so the trees learn corrections to the market (added back at prediction time).
        n_estimators: most boosting rounds; early stopping picks fewer.
        learning_rate, num_leaves, min_child_samples, subsample, colsample_bytree, reg_lambda:
            LightGBM's hyper-parameters.
        early_stopping_rounds: rounds without validation improvement before stopping.
        seed: random seed (LightGBM runs in its deterministic mode).
        close: the reference's de-vigged closing probability columns, a training target beside the
            result (never an input; :func:`a1lab.models.base.soft_targets`).
        close_weight: the close's share of the target (0: results only, 1: the close only).
        n_jobs: threads.
    """

    label = "LightGBM"  # how tables and pages name it
    requires = ("lightgbm",)  # the distributions it imports (pyproject.toml dependencies)
    search_space = {
        "num_leaves": {"type": "int", "low": 3, "high": 31, "log": True},
        "learning_rate": {"low": 0.005, "high": 0.08, "log": True},
        "min_child_samples": {"type": "int", "low": 20, "high": 200, "log": True},
        "colsample_bytree": {"low": 0.3, "high": 1.0},
        "reg_lambda": {"low": 0.5, "high": 20.0, "log": True},
    }  # what `tune` searches (params.yaml tune.space.<name> replaces a range)

    def __init__(self, features=None, offset=None, n_estimators=1000, learning_rate=0.02, num_leaves=7,
                 min_child_samples=50, subsample=0.8, colsample_bytree=0.8, reg_lambda=5.0,
                 early_stopping_rounds=100, seed=0, n_jobs=2, close=None, close_weight=0.0):
        self.features = features
        self.offset = offset
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.seed = seed
        self.close = close
        self.close_weight = close_weight
        self.n_jobs = n_jobs

    def _params(self) -> dict:
        return {"objective": "multiclass", "num_class": len(self.classes_), "learning_rate": self.learning_rate,
                "num_leaves": self.num_leaves, "min_child_samples": self.min_child_samples,
                "bagging_fraction": self.subsample, "bagging_freq": 1 if self.subsample < 1 else 0,
                "feature_fraction": self.colsample_bytree, "lambda_l2": self.reg_lambda, "seed": self.seed,
                "num_threads": self.n_jobs, "deterministic": True, "force_col_wise": True, "verbosity": -1}

    @classmethod
    def get_test_params(cls) -> dict:
        """Settings small enough for the tests that every registered model goes through."""
        return {"n_estimators": 20, "min_child_samples": 5}

    def fit(self, X, y, eval_set=None):
        """Fit on (X, y); ``eval_set=(X_val, y_val)`` enables early stopping."""
        X, codes = self._start(X, y)
        values, margin, labels, weights = self._training_set(X, codes)
        names = [str(f) for f in self.features_]
        train = lgb.Dataset(values, labels, weight=weights, init_score=margin, feature_name=names,
                            free_raw_data=False)
        valid, callbacks = [], []
        if eval_set is not None:
            Xv, yv = eval_set
            v_values, v_margin = self._values(Xv)
            valid = [lgb.Dataset(v_values, np.searchsorted(self.classes_, np.asarray(yv)), init_score=v_margin,
                                 reference=train)]
            callbacks = [lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
        self.booster_ = lgb.train(self._params(), train, num_boost_round=self.n_estimators, valid_sets=valid,
                                  callbacks=callbacks)
        self.best_iteration_ = int(self.booster_.best_iteration or self.booster_.current_iteration())
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Outcome probabilities, columns in ``classes_`` order (home, draw, away)."""
        check_is_fitted(self, "booster_")
        values, margin = self._values(X)
        raw = self.booster_.predict(values, raw_score=True, num_iteration=self.best_iteration_,
                                    num_threads=self._threads(len(values)))
        raw = np.asarray(raw, dtype=float).reshape(len(values), len(self.classes_))
        return _softmax(raw if margin is None else raw + margin)

    def contributions(self, X) -> np.ndarray:
        """Exact tree SHAP values, shape (n, classes, features + 1); the last column is the bias
        (the market offset, when there is one, is not in it)."""
        check_is_fitted(self, "booster_")
        values, _ = self._values(X)
        out = self.booster_.predict(values, pred_contrib=True, num_iteration=self.best_iteration_,
                                    num_threads=self._threads(len(values)))
        return np.asarray(out, dtype=float).reshape(len(values), len(self.classes_), len(self.features_) + 1)

    @property
    def iterations_(self) -> int:
        """Boosting rounds kept (early stopping's choice)."""
        return self.best_iteration_

    def save(self, folder: Path) -> None:
        """Write the booster as LightGBM's text model plus the wrapper's fitted state as JSON."""
        folder.mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(str(folder / "model.txt"), num_iteration=self.best_iteration_)
        save_tree_state(self, folder)

    @classmethod
    def load(cls, folder: Path) -> LGBMModel:
        """Rebuild a model written by :meth:`save` (no pickle)."""
        model = load_tree_state(cls, folder)
        model.booster_ = lgb.Booster(model_file=str(folder / "model.txt"))
        return model
