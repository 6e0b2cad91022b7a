"""Feature rows as one float array with named columns: what the live loop scores, without a DataFrame per event.

A :class:`FeatureMatrix` answers the few questions the models ask of their input (``name in X``, ``X[name]``,
``X[names]``, ``X.columns``, ``X.to_numpy()``, ``len(X)``) with numpy only; :func:`take_columns` reads columns
of either it or a DataFrame, so batch and live share every line of model code after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd


class FeatureMatrix:
    """Rows of named float columns.

    Args:
        values: (n, k) floats.
        columns: the k column names, unique.
    """

    def __init__(self, values: np.ndarray, columns: Iterable[str]):
        self.values = np.asarray(values, dtype=float)
        self.columns = list(columns)
        if self.values.ndim != 2 or self.values.shape[1] != len(self.columns):
            raise ValueError(f"{self.values.shape} values for {len(self.columns)} columns")
        self._position = {c: i for i, c in enumerate(self.columns)}
        if len(self._position) != len(self.columns):
            raise ValueError("column names must be unique")

    @classmethod
    def from_columns(cls, columns: Mapping[str, np.ndarray]) -> FeatureMatrix:
        """From name -> 1-D array, all of one length."""
        names = list(columns)
        return cls(np.column_stack([columns[c] for c in names]) if names else np.empty((0, 0)), names)

    def __len__(self) -> int:
        return self.values.shape[0]

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape

    def __contains__(self, name: object) -> bool:
        return name in self._position

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.values[:, self._position[key]]
        names = list(key)
        return FeatureMatrix(self.take(names), names)

    def take(self, names: Iterable[str]) -> np.ndarray:
        """The named columns as (n, len(names)), a copy.

        Raises:
            KeyError: a name that is not a column.
        """
        return self.values[:, [self._position[c] for c in names]]

    def to_numpy(self, dtype=float) -> np.ndarray:
        return self.values.astype(dtype, copy=False)


def take_columns(X: pd.DataFrame | FeatureMatrix, names: Iterable[str]) -> np.ndarray:
    """Columns of a DataFrame or a FeatureMatrix as one float array (n, len(names))."""
    names = list(names)
    if isinstance(X, FeatureMatrix):
        return X.take(names)
    if not names:
        return np.empty((len(X), 0))
    return np.column_stack([X[c].to_numpy(dtype=float) for c in names])  # cheaper than a take of a wide frame
