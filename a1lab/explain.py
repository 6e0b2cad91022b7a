"""Explanations: exact tree SHAP for tree models, a model-agnostic (permutation) explainer for the others."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from a1lab.matrix import FeatureMatrix
from a1lab.outcomes import OUTCOMES


def load_shap():
    """shap, first imported with numba's JIT off for the duration of the import.

    The permutation explainer's helpers are numba functions that are not cached, so every new process
    compiled them again: about 10 s before the first explanation, against about 1 s to explain 40 rows
    with them as plain Python. Only shap's own functions are affected; the flag is restored at once.
    """
    import sys

    if "shap" not in sys.modules:
        import numba

        previous, numba.config.DISABLE_JIT = numba.config.DISABLE_JIT, True
        try:
            import shap  # noqa: F401
        finally:
            numba.config.DISABLE_JIT = previous
    return sys.modules["shap"]


def top_contributions(contribs: np.ndarray, values: pd.DataFrame | FeatureMatrix, outcome: np.ndarray,
                      k: int = 5) -> list[str]:
    """:func:`top_contribution_rows` as JSON strings (a column of the predictions table)."""
    return [json.dumps(row) for row in top_contribution_rows(contribs, values, outcome, k)]


def top_contribution_rows(contribs: np.ndarray, values: pd.DataFrame | FeatureMatrix, outcome: np.ndarray,
                          k: int = 5) -> list[list[dict]]:
    """Per row, the k features that pushed the given outcome most (by |SHAP|): feature, value, contribution.

    Args:
        contribs: (n, classes, features [+ bias]) contributions; a bias column is ignored.
        values: the rows' feature values (columns in contribution order).
        outcome: class index to explain for each row (usually the predicted one).
        k: how many features to keep.
    """
    n_feat = values.shape[1]
    rows = contribs[np.arange(len(outcome)), outcome, :n_feat]
    order = np.argsort(-np.abs(rows), axis=1, kind="stable")[:, :k]
    names = np.array(values.columns)
    vals = values.to_numpy(dtype=float)
    return [[{"feature": str(names[j]), "value": None if np.isnan(vals[i, j]) else float(vals[i, j]),
              "contribution": float(rows[i, j])} for j in idx] for i, idx in enumerate(order)]


def tree_shap_values(model, X: pd.DataFrame) -> np.ndarray:
    """Exact SHAP values of a tree model (``contributions``) as (n, features, classes), shap's layout."""
    c = model.contributions(X)
    return np.transpose(c[:, :, :-1], (0, 2, 1))


def swarm_offsets(values: np.ndarray, bins: int = 100, height: float = 0.4) -> np.ndarray:
    """Vertical offsets that spread points of similar value into a swarm (as shap's beeswarm does): values
    are binned, and the k-th point of a bin goes to layer ceil(k / 2), alternately above and below."""
    v = np.asarray(values, dtype=float)
    if not len(v):
        return v
    span = np.ptp(v)
    q = np.round(bins * (v - v.min()) / span) if span > 0 else np.zeros(len(v))
    order = np.argsort(q, kind="stable")
    sq = q[order]
    first = np.r_[0, np.flatnonzero(np.diff(sq)) + 1]
    rank = np.arange(len(v)) - np.repeat(first, np.diff(np.r_[first, len(v)]))  # place within its bin
    layer = np.ceil(rank / 2) * np.where(rank % 2 == 1, 1.0, -1.0)
    out = np.empty(len(v))
    out[order] = layer
    return out * (0.9 * height / max(np.abs(out).max(), 1.0))


def summary_plots(shap_values: np.ndarray, X: pd.DataFrame, folder: Path, prefix: str, max_display: int = 15,
                  outcomes: tuple[str, ...] = OUTCOMES) -> list[Path]:
    """One SHAP beeswarm summary PNG per outcome (``outcomes``: the names of the model's classes): the
    ``max_display`` features of largest mean |SHAP|, each match a dot at its SHAP value, coloured by the
    feature's value (its 5th to 95th percentile, grey where missing). Drawn here with matplotlib, without
    shap's plotting (its import and layout cost about a second and a half per model)."""
    import matplotlib.pyplot as plt  # any backend: the figures are saved and closed, never shown

    folder.mkdir(parents=True, exist_ok=True)
    values = X.to_numpy(dtype=float)
    paths = []
    for k, outcome in enumerate(outcomes[: shap_values.shape[2]]):
        sv = shap_values[:, :, k]
        top = np.argsort(-np.abs(sv).mean(axis=0), kind="stable")[:max_display][::-1]  # largest at the top
        fig, ax = plt.subplots(figsize=(8, 0.4 * len(top) + 1.6), layout="constrained")
        for row, j in enumerate(top):
            x, y, missing = values[:, j], row + swarm_offsets(sv[:, j]), np.isnan(values[:, j])
            known = x[~missing]
            lo, hi = np.percentile(known, [5, 95]) if len(known) else (0.0, 0.0)
            if hi <= lo and len(known):  # a feature mostly at one value (a flag): its whole range
                lo, hi = known.min(), known.max()
            colour = np.clip((x - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.full(len(x), 0.5)
            ax.scatter(sv[missing, j], y[missing], s=9, color="#888888", linewidths=0)
            dots = ax.scatter(sv[~missing, j], y[~missing], s=9, c=colour[~missing], cmap="coolwarm", vmin=0,
                              vmax=1, linewidths=0)
        ax.axvline(0.0, color="#999999", lw=0.8, zorder=0)
        ax.set_yticks(range(len(top)), [str(X.columns[j]) for j in top])
        ax.set_ylim(-0.6, len(top) - 0.4)
        ax.set_xlabel(f"SHAP value (impact on the model's {outcome} output)")
        ax.set_title(f"SHAP values for {outcome}: each dot a test match, right pushes {outcome} up")
        bar = fig.colorbar(dots, ax=ax, ticks=[0, 1], aspect=40, pad=0.01)
        bar.ax.set_yticklabels(["low", "high"])
        bar.set_label("feature value")
        path = folder / f"{prefix}_shap_{outcome}.png"
        fig.savefig(path, dpi=90, metadata={"Software": None})
        plt.close(fig)
        paths.append(path)
    return paths


def permutation_shap(predict_proba, X: pd.DataFrame, background: pd.DataFrame, seed: int = 0) -> np.ndarray:
    """Model-agnostic SHAP values (permutation explainer) as (n, classes, features)."""
    shap = load_shap()

    masker = shap.maskers.Independent(background.to_numpy(dtype=float), max_samples=len(background))
    explainer = shap.PermutationExplainer(lambda a: predict_proba(pd.DataFrame(a, columns=X.columns)), masker,
                                          seed=seed)
    values = explainer(X.to_numpy(dtype=float), max_evals=2 * X.shape[1] + 1, silent=True).values
    return np.transpose(values, (0, 2, 1))


def explain_folds(results, features: pd.DataFrame, top_k: int = 5, sample: int = 40, seed: int = 0,
                  folder: Path | None = None, prefix: str = "model", plot_rows: int = 600) -> list[Path]:
    """Store each test prediction's top SHAP contributions and plot the last fold's SHAP summaries.

    A model with exact contributions (``contributions(X)``: the tree models) explains every prediction
    of every fold; any other model is explained by the permutation explainer on the first ``sample``
    predictions of the last fold (against 50 validation-season rows), the others holding none.

    Args:
        results: walk-forward folds (``a1lab.training.FoldResult``); their ``predictions`` gain ``top_features``.
        features: the feature table the folds were fitted on (``match_id``, ``season`` and the model's columns).
        top_k: contributions kept per prediction.
        sample: rows the permutation explainer explains.
        seed: the permutation explainer's seed.
        folder: where the summary PNGs go (none written when None).
        prefix: file name prefix of the PNGs.
        plot_rows: the summary plots show a seeded sample of at most this many explained rows (a beeswarm
            of every test match costs seconds and shows the same).

    Returns:
        The PNG paths written.
    """
    from a1lab.columns import PRED_COLUMNS

    frame = features.set_index("match_id")
    last = results[-1]
    classes = np.asarray(last.model.classes_)

    def chosen_class(predictions: pd.DataFrame) -> np.ndarray:  # the likeliest outcome, as a column of the model
        return np.searchsorted(classes, predictions[PRED_COLUMNS].to_numpy().argmax(axis=1))

    if callable(getattr(last.model, "contributions", None)):
        for r in results:
            rows = frame.loc[r.predictions["match_id"]]  # features and offset columns
            chosen = chosen_class(r.predictions)
            r.predictions["top_features"] = top_contributions(r.model.contributions(rows), rows[r.model.features_],
                                                              chosen, top_k)
        rows = frame.loc[last.predictions["match_id"]]
        values, X = tree_shap_values(last.model, rows), rows[last.model.features_]
    else:
        for r in results:
            r.predictions["top_features"] = None
        offset = list(getattr(last.model, "offset", None) or [])
        cols = list(dict.fromkeys(last.model.features_ + offset))  # the model's features, then its offset columns
        X = frame.loc[last.predictions["match_id"].iloc[:sample], cols]
        background = frame.loc[frame["season"] == last.validation_season, cols].head(50)
        contribs = permutation_shap(last.model.predict_proba, X, background, seed=seed)
        chosen = chosen_class(last.predictions)[: len(X)]
        last.predictions.loc[: len(X) - 1, "top_features"] = top_contributions(contribs, X, chosen, top_k)
        values = np.transpose(contribs, (0, 2, 1))
    if folder is None:
        return []
    keep = np.arange(len(X))
    if len(keep) > plot_rows:
        keep = np.sort(np.random.default_rng(seed).choice(len(keep), plot_rows, replace=False))
    names = tuple(OUTCOMES[int(c)] for c in classes) if classes.dtype.kind in "iu" else tuple(map(str, classes))
    return summary_plots(values[keep], X.iloc[keep].reset_index(drop=True), Path(folder), prefix, outcomes=names)
