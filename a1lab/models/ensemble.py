"""Ensembles over members' out-of-sample probabilities.

X is a frame with columns ``<member>_p_home``, ``<member>_p_draw``,
``<member>_p_away`` (the walk-forward predictions of each member); every
ensemble is fitted only on predictions made before the season it forecasts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from a1lab.columns import ID_COLUMNS
from a1lab.matrix import take_columns
from a1lab.metrics import log_loss, paired_choice, rps_per_match
from a1lab.models.base import encode_labels
from a1lab.outcomes import OUTCOMES, RESULT_CODES, expand
from a1lab.splits import season_order


def member_columns(member: str) -> list[str]:
    return [f"{member}_p_{o}" for o in OUTCOMES]


def stack_members(X, members) -> np.ndarray:
    """Member probabilities as an array (members, n, 3)."""
    return np.stack([take_columns(X, member_columns(m)) for m in members])


class _Ensemble(ClassifierMixin, BaseEstimator):
    def _start(self, X, y):
        """Members' probabilities and y's outcome codes: an ensemble works on the three outcome columns
        whatever the sport (a two-way sport's draw column is 0 in every member)."""
        encode_labels(y, X)  # refuses regression targets and a single class
        codes = np.asarray(y).astype(int)
        if codes.min() < 0 or codes.max() >= len(OUTCOMES):
            raise ValueError(f"outcome codes must lie in 0..{len(OUTCOMES) - 1} (a1lab.models.RESULT_CODES)")
        self.classes_ = np.arange(len(OUTCOMES))
        self.n_features_in_ = len(OUTCOMES) * len(self.members)
        return stack_members(X, self.members), codes

    def predict(self, X):
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def needed_members(self) -> list[str]:
        """The members whose probabilities can move the ensemble's; the others' columns may be zeros (the live
        loop and ``a1lab predict`` do not evaluate them)."""
        return list(self.members)


NEGLIGIBLE_WEIGHT = 1e-15  # a linear pool's member below it moves no probability by more than 1e-15


class WeightedAverage(_Ensemble):
    """Linear pool with weights on the simplex, fitted by log loss."""

    def __init__(self, members=()):
        self.members = members

    def fit(self, X, y):
        P, codes = self._start(X, y)

        def loss(z):
            w = np.exp(z - z.max())
            w /= w.sum()
            return log_loss(np.tensordot(w, P, axes=1), codes)

        z = minimize(loss, np.zeros(len(self.members)), method="Nelder-Mead",
                     options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 4000}).x
        w = np.exp(z - z.max())
        self.weights_ = w / w.sum()
        return self

    def predict_proba(self, X):
        check_is_fitted(self, "weights_")
        return np.tensordot(self.weights_, stack_members(X, self.members), axes=1)

    def needed_members(self) -> list[str]:
        """Members weighted at least :data:`NEGLIGIBLE_WEIGHT` (log-loss weights often push the rest to 1e-16
        and below: 2025/26's fitted pool weighs XGBoost 1 - 5e-16)."""
        check_is_fitted(self, "weights_")
        return [m for m, w in zip(self.members, self.weights_, strict=True) if w >= NEGLIGIBLE_WEIGHT]

    def state(self) -> dict:
        return {"weights": self.weights_.tolist()}

    def set_state(self, state: dict) -> WeightedAverage:
        self.weights_ = np.array(state["weights"], dtype=float)
        return self


class SoftVoting(_Ensemble):
    """Equal-weight average of the members' probabilities."""

    def __init__(self, members=()):
        self.members = members

    def fit(self, X, y):
        self._start(X, y)
        self.weights_ = np.full(len(self.members), 1.0 / len(self.members))
        return self

    def predict_proba(self, X):
        check_is_fitted(self, "weights_")
        return stack_members(X, self.members).mean(axis=0)

    def state(self) -> dict:
        return {"weights": self.weights_.tolist()}

    def set_state(self, state: dict) -> SoftVoting:
        self.weights_ = np.array(state["weights"], dtype=float)
        return self


class Stacking(_Ensemble):
    """Multinomial logistic regression over the members' log-probabilities."""

    def __init__(self, members=(), C=1.0):
        self.members = members
        self.C = C

    @staticmethod
    def _design(P: np.ndarray) -> np.ndarray:
        return np.log(np.clip(P, 1e-6, 1.0)).transpose(1, 0, 2).reshape(P.shape[1], -1)

    def fit(self, X, y):
        P, codes = self._start(X, y)
        self.logit_ = LogisticRegression(C=self.C, max_iter=2000).fit(self._design(P), codes)
        return self

    def predict_proba(self, X):
        check_is_fitted(self, "logit_")
        return expand(self.logit_.predict_proba(self._design(stack_members(X, self.members))), self.logit_.classes_)

    def state(self) -> dict:
        return {"coef": self.logit_.coef_.tolist(), "intercept": self.logit_.intercept_.tolist(),
                "classes": self.logit_.classes_.tolist()}

    def set_state(self, state: dict) -> Stacking:
        logit = LogisticRegression(C=self.C)
        logit.coef_, logit.intercept_ = np.array(state["coef"]), np.array(state["intercept"])
        logit.classes_ = np.array(state["classes"])
        logit.n_features_in_ = logit.coef_.shape[1]
        self.logit_ = logit
        return self


class DynamicSelection(_Ensemble):
    """Use the candidate (a member or the equal blend) with the best RPS on the last ``window`` fitting matches."""

    def __init__(self, members=(), window=500):
        self.members = members
        self.window = window

    def fit(self, X, y):
        P, codes = self._start(X, y)
        candidates = np.concatenate([P, P.mean(axis=0, keepdims=True)])
        recent = slice(max(0, len(codes) - self.window), len(codes))
        scores = [rps_per_match(c[recent], codes[recent]).mean() for c in candidates]
        self.choice_ = int(np.argmin(scores))
        self.chosen_ = (list(self.members) + ["blend"])[self.choice_]
        return self

    def predict_proba(self, X):
        check_is_fitted(self, "choice_")
        P = stack_members(X, self.members)
        return P.mean(axis=0) if self.choice_ == len(self.members) else P[self.choice_]

    def needed_members(self) -> list[str]:
        """The chosen member, or every member for the blend."""
        check_is_fitted(self, "choice_")
        return list(self.members) if self.choice_ == len(self.members) else [self.members[self.choice_]]

    def state(self) -> dict:
        return {"choice": self.choice_, "chosen": self.chosen_}

    def set_state(self, state: dict) -> DynamicSelection:
        self.choice_, self.chosen_ = int(state["choice"]), state["chosen"]
        return self


ENSEMBLES = {"weighted": WeightedAverage, "voting": SoftVoting, "stacking": Stacking, "dynamic": DynamicSelection}


def ensemble_state(kind: str, model) -> dict:
    """A fitted ensemble as JSON-able data: its kind, members, settings and fitted state (no pickle)."""
    return {"kind": kind, "members": list(model.members), "params": {k: v for k, v in model.get_params().items()
                                                                       if k != "members"},
            "state": model.state()}


def ensemble_from_state(data: dict):
    """The fitted ensemble :func:`ensemble_state` wrote."""
    cls = ENSEMBLES[data["kind"]]
    model = cls(members=tuple(data["members"]), **data["params"])
    model.classes_ = np.arange(len(OUTCOMES))
    model.n_features_in_ = len(OUTCOMES) * len(model.members)
    return model.set_state(data["state"])


def member_frame(predictions: dict, id_columns=tuple(ID_COLUMNS)) -> pd.DataFrame:
    """One row per match predicted by every member, with ``<member>_p_*`` columns.

    Args:
        predictions: member name -> frame with id columns and ``p_home``, ``p_draw``, ``p_away``.
    """
    wide = None
    for name, pred in predictions.items():
        part = pred[list(id_columns) + [f"p_{o}" for o in OUTCOMES]].rename(
            columns={f"p_{o}": f"{name}_p_{o}" for o in OUTCOMES})
        wide = part if wide is None else wide.merge(part, on=list(id_columns), how="inner")
    return wide.sort_values(["kickoff", "match_id"], kind="mergesort").reset_index(drop=True) if wide is not None \
        else pd.DataFrame()


def walk_forward_ensembles(wide, members, test_seasons, make: dict) -> tuple[dict, dict]:
    """Fit each ensemble on the season before each test season; predict the test season.

    Args:
        wide: output of :func:`member_frame` (members' walk-forward predictions).
        members: member names.
        test_seasons: seasons to forecast; each needs the previous season's predictions.
        make: ensemble name -> callable(members) returning an unfitted ensemble.

    Returns:
        (name -> probabilities on the test rows (n, 3) in ``wide`` order restricted to the
        test seasons, name -> {test season: fitted ensemble}).
    """
    seasons = season_order(wide)
    y = wide["result"].map(RESULT_CODES).to_numpy()
    test_mask = wide["season"].isin(test_seasons).to_numpy()
    out = {name: np.full((len(wide), 3), np.nan) for name in make}
    fitted: dict = {name: {} for name in make}
    for season in test_seasons:
        earlier = seasons[:seasons.index(season)] if season in seasons else []
        if not earlier:
            raise ValueError(f"no member predictions before {season}: add it to the train stages' oos_seasons")
        first = wide.loc[(wide["season"] == season).to_numpy(), "kickoff"].min()
        fit_rows = ((wide["season"] == earlier[-1]) & (wide["kickoff"] < first)).to_numpy()
        rows = (wide["season"] == season).to_numpy()
        for name, factory in make.items():
            model = factory(tuple(members)).fit(wide[fit_rows], y[fit_rows])
            out[name][rows] = model.predict_proba(wide[rows])
            fitted[name][season] = model
    return {k: v[test_mask] for k, v in out.items()}, fitted


def ensemble_kinds(stacking_c: float, dynamic_window: int) -> dict:
    """The ensemble kinds, name -> callable(members) returning an unfitted one; the simplest (voting) first, the
    default a choice keeps unless another wins by more than the noise (:func:`select_ensemble`)."""
    return {"voting": lambda m: SoftVoting(members=m), "weighted": lambda m: WeightedAverage(members=m),
            "stacking": lambda m: Stacking(members=m, C=stacking_c),
            "dynamic": lambda m: DynamicSelection(members=m, window=dynamic_window)}


SELECTION_RULE = ("fitted on the first half of each selection season, scored on its second, the seasons pooled; "
                  "the simplest kind "
                  "(the first listed) is kept unless another has a lower RPS by more than the 95 % paired bootstrap "
                  "interval of the difference, in which case the lowest such RPS wins")


def select_ensemble(wide: pd.DataFrame, members, seasons: list[str], make: dict, n_boot: int = 1000,
                    seed: int = 0) -> tuple[str, dict]:
    """Choose the ensemble kind on seasons before the test period, never on the test seasons, by a rule
    that accounts for noise (:data:`SELECTION_RULE`).

    Each kind is fitted on the first half of each of ``seasons`` (by kick-off day) and scored (RPS) on its
    second; the scored matches of every season are pooled. The first kind of ``make`` is the simplest and the
    default: another replaces it only when the 95 % paired bootstrap interval of its RPS minus the default's
    lies below zero, so a win by a coin flip does not count.

    Args:
        wide: output of :func:`member_frame`; only the rows of ``seasons`` are read.
        members: member names.
        seasons: the selection seasons (the out-of-sample seasons before the first test season).
        make: ensemble name -> callable(members) returning an unfitted ensemble; the simplest first.
        n_boot: bootstrap resamples of the scored matches.
        seed: the resamples' seed.

    Returns:
        (the chosen kind, name -> ``rps``, ``logloss``, ``diff`` (RPS minus the default's) with its ``ci95``,
        and ``wins_share``: how often it has the lowest RPS over resamples of the scored matches, the choice's
        stability).

    Raises:
        ValueError: a season with too few out-of-sample predictions.
    """
    losses: dict[str, list] = {name: [] for name in make}
    probs: dict[str, list] = {name: [] for name in make}
    outcomes = []
    for season in seasons:
        rows = wide[wide["season"] == season].sort_values(["kickoff", "match_id"], kind="mergesort")
        if len(rows) < 100:
            raise ValueError(f"season {season} has {len(rows)} out-of-sample predictions; too few to choose an "
                             "ensemble")
        day = rows["kickoff"].dt.floor("D")
        fit = (day < day.iloc[len(rows) // 2]).to_numpy()
        y = rows["result"].map(RESULT_CODES).to_numpy()
        outcomes.append(y[~fit])
        for name, factory in make.items():
            p = factory(tuple(members)).fit(rows[fit], y[fit]).predict_proba(rows[~fit])
            probs[name].append(p)
            losses[name].append(rps_per_match(p, y[~fit]))
    y = np.concatenate(outcomes)
    losses = {name: np.concatenate(parts) for name, parts in losses.items()}
    scores = {name: {"rps": float(losses[name].mean()), "logloss": float(log_loss(np.concatenate(probs[name]), y))}
              for name in make}
    best, margins = paired_choice(losses, n_boot, seed)
    for name, score in scores.items():
        score.update({k: margins[name][k] for k in ("diff", "ci95", "wins_share")})
    return best, scores
