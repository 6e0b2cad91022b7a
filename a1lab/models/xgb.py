"""XGBoost multiclass model, optionally boosting from the market's log-probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xgboost as xgb
from sklearn.utils.validation import check_is_fitted

from a1lab.models.base import (
    BoostedTrees,
    load_tree_state,
    save_tree_state,
)


class XGBModel(BoostedTrees):
    """Gradient-boosted trees (hist) with early stopping on a validation set.

    Args:
        features: input columns (default: every column of X but ``offset``).
        offset: three probability columns (e.g. de-vigged opening odds) whose logs
            are the starting margin, so the trees learn corrections to the market.
        n_estimators: most boosting rounds; early stopping picks fewer.
        learning_rate, max_depth, min_child_weight, subsample, colsample_bytree,
            reg_lambda: XGBoost's hyper-parameters.
        early_stopping_rounds: rounds without validation improvement before stopping.
        seed: random seed.
        close: the reference's de-vigged closing probability columns, a training target beside the
            result (never an input; :func:`a1lab.models.base.soft_targets`).
        close_weight: the close's share of the target (0: results only, 1: the close only).
        n_jobs: threads.
        distributed: fit with ``xgboost.dask`` on the workers of the current Dask client (the rows split
            into one partition per worker); the booster is then an ordinary one. Close to, not equal to,
            a single-process fit: each worker sketches the histogram bins of its own rows.
    """

    label = "XGBoost"  # how tables and pages name it
    requires = ("xgboost",)  # the distributions it imports (pyproject.toml dependencies)
    search_space = {
        "max_depth": {"type": "int", "low": 2, "high": 5},
        "learning_rate": {"low": 0.005, "high": 0.08, "log": True},
        "min_child_weight": {"type": "int", "low": 5, "high": 80, "log": True},
        "colsample_bytree": {"low": 0.3, "high": 1.0},
        "reg_lambda": {"low": 0.5, "high": 20.0, "log": True},
    }  # what `tune` searches (params.yaml tune.space.<name> replaces a range)

    def __init__(self, features=None, offset=None, n_estimators=1000, learning_rate=0.02, max_depth=3,
                 min_child_weight=20.0, subsample=0.8, colsample_bytree=0.8, reg_lambda=5.0,
                 early_stopping_rounds=100, seed=0, n_jobs=2, distributed=False, close=None, close_weight=0.0):
        self.features = features
        self.offset = offset
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.seed = seed
        self.close = close
        self.close_weight = close_weight
        self.n_jobs = n_jobs
        self.distributed = distributed

    def _params(self) -> dict:
        return {"objective": "multi:softprob", "num_class": len(self.classes_), "tree_method": "hist",
                "eta": self.learning_rate, "max_depth": self.max_depth, "min_child_weight": self.min_child_weight,
                "subsample": self.subsample, "colsample_bytree": self.colsample_bytree, "lambda": self.reg_lambda,
                "eval_metric": "mlogloss", "seed": self.seed, "nthread": self.n_jobs}

    def _matrix(self, X, label=None) -> xgb.DMatrix:
        values, margin = self._values(X)
        return xgb.DMatrix(values, label=label, base_margin=margin,
                           feature_names=[str(f) for f in self.features_])

    @classmethod
    def get_test_params(cls) -> dict:
        """Settings small enough for the tests that every registered model goes through."""
        return {"n_estimators": 20}

    def fit(self, X, y, eval_set=None):
        """Fit on (X, y); ``eval_set=(X_val, y_val)`` enables early stopping."""
        if self.distributed:
            return self._fit_dask(X, y, eval_set)
        X, codes = self._start(X, y)
        values, margin, labels, weights = self._training_set(X, codes)
        train = xgb.DMatrix(values, label=labels, weight=weights, base_margin=margin,
                            feature_names=[str(f) for f in self.features_])
        evals, stop = [], None
        if eval_set is not None:
            Xv, yv = eval_set
            evals = [(self._matrix(Xv, np.searchsorted(self.classes_, np.asarray(yv))), "validation")]
            stop = self.early_stopping_rounds
        self.booster_ = xgb.train(self._params(), train, num_boost_round=self.n_estimators, evals=evals,
                                  early_stopping_rounds=stop, verbose_eval=False)
        self.best_iteration_ = int(getattr(self.booster_, "best_iteration", self.n_estimators - 1)
                                   if stop else self.n_estimators - 1)
        return self

    def _fit_dask(self, X, y, eval_set=None):
        """:meth:`fit` through ``xgboost.dask`` on the current client's workers."""
        import xgboost.dask as dxgb
        from distributed import get_client

        from a1lab.compute import scatter_rows

        client = get_client()  # raises ValueError without one: distributed=True needs a compute section

        def matrix(values, margin, label):
            return dxgb.DaskDMatrix(client, scatter_rows(client, values), scatter_rows(client, label),
                                    base_margin=None if margin is None else scatter_rows(client, margin),
                                    feature_names=[str(f) for f in self.features_])

        X, codes = self._start(X, y)
        if self.close_weight:
            raise ValueError("a close target (close_weight) is not supported with distributed=True")
        train = matrix(*self._values(X), codes)
        evals, stop = [], None
        if eval_set is not None:
            Xv, yv = eval_set
            evals = [(matrix(*self._values(Xv), np.searchsorted(self.classes_, np.asarray(yv))), "validation")]
            stop = self.early_stopping_rounds
        out = dxgb.train(client, self._params(), train, num_boost_round=self.n_estimators, evals=evals,
                         early_stopping_rounds=stop, verbose_eval=False)
        self.booster_ = out["booster"]
        self.best_iteration_ = int(getattr(self.booster_, "best_iteration", self.n_estimators - 1)
                                   if stop else self.n_estimators - 1)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Outcome probabilities, columns in ``classes_`` order (home, draw, away)."""
        check_is_fitted(self, "booster_")
        values, margin = self._values(X)  # columns in features_ order: no names to check, no DMatrix to build
        self._use_threads(len(values))
        return self.booster_.inplace_predict(values, iteration_range=(0, self.best_iteration_ + 1),
                                             base_margin=margin, validate_features=False)

    def contributions(self, X) -> np.ndarray:
        """Exact tree SHAP values, shape (n, classes, features + 1); the last column is the bias."""
        return self._contributions(self._scoring_matrix(X))

    def proba_and_contributions(self, X) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict_proba` and :meth:`contributions` from one DMatrix: the same floats, and a one-row call
        (the live loop's) costs about 0.35 ms less than the two apart, most of it converting the data twice."""
        data = self._scoring_matrix(X)
        proba = self.booster_.predict(data, iteration_range=(0, self.best_iteration_ + 1), validate_features=False)
        return proba, self._contributions(data)

    def _scoring_matrix(self, X) -> xgb.DMatrix:
        check_is_fitted(self, "booster_")
        values, margin = self._values(X)  # in features_ order: naming the columns cost ~0.25 ms a live scoring
        self._use_threads(len(values))
        return xgb.DMatrix(values, base_margin=margin, nthread=self._threads(len(values)))

    def _use_threads(self, rows: int) -> None:
        """Set the booster's threads for a prediction of ``rows`` rows (:meth:`_threads`; 3 us a call)."""
        self.booster_.set_param({"nthread": self._threads(rows)})

    def _contributions(self, data: xgb.DMatrix) -> np.ndarray:
        return self.booster_.predict(data, pred_contribs=True, iteration_range=(0, self.best_iteration_ + 1),
                                     validate_features=False)

    @property
    def iterations_(self) -> int:
        """Boosting rounds kept (early stopping's choice)."""
        return self.best_iteration_ + 1

    def save(self, folder: Path) -> None:
        """Write the booster as JSON plus the wrapper's fitted state as JSON."""
        folder.mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(folder / "model.json")
        save_tree_state(self, folder)

    @classmethod
    def load(cls, folder: Path) -> XGBModel:
        """Rebuild a model written by :meth:`save` (no pickle)."""
        model = load_tree_state(cls, folder)
        model.booster_ = xgb.Booster()
        model.booster_.load_model(folder / "model.json")
        return model
