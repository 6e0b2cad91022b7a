"""Walk-forward splits: train on the past, validate on the season before, test on the next.

Never shuffled. A shuffled or random splitter handed to a1lab is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd


class LeakageError(ValueError):
    """A split that would let a model see the future."""


@dataclass(frozen=True)
class Fold:
    """Row positions of one walk-forward fold and its labels."""

    name: str
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    train_seasons: tuple[str, ...]
    validation_season: str


@dataclass(frozen=True)
class WalkForwardSplit:
    """For each test season: train on every earlier season but the last, validate on the last.

    Args:
        test_seasons: seasons to forecast, as the data set labels them.
        by: ``"season"`` (one fold per test season) or ``"month"`` (one fold per
            calendar month of a test season; earlier months of that season join
            the training rows).
    """

    test_seasons: tuple[str, ...]
    by: str = "season"

    def split(self, frame: pd.DataFrame) -> Iterator[Fold]:
        """Yield folds over a frame with ``season`` and ``kickoff`` columns."""
        if self.by not in ("season", "month"):
            raise ValueError(f"by must be 'season' or 'month', got {self.by!r}")
        seasons = sorted(frame["season"].unique())
        season = frame["season"].to_numpy()
        for test in self.test_seasons:
            earlier = [s for s in seasons if s < test]
            if len(earlier) < 2:
                raise ValueError(f"test season {test} needs at least two earlier seasons, has {earlier}")
            val, train = earlier[-1], earlier[:-1]
            train_rows = np.flatnonzero(np.isin(season, train))
            val_rows = np.flatnonzero(season == val)
            test_rows = np.flatnonzero(season == test)
            if self.by == "season":
                yield Fold(test, train_rows, val_rows, test_rows, tuple(train), val)
                continue
            months = frame["kickoff"].iloc[test_rows].dt.strftime("%Y-%m").to_numpy()
            for month in sorted(set(months)):
                before = test_rows[months < month]
                yield Fold(f"{test}-{month}", np.concatenate([train_rows, before]), val_rows,
                           test_rows[months == month], tuple(train), val)


def check_time_ordered(splitter: object) -> None:
    """Refuse splitters that shuffle or sample at random (KFold(shuffle=True), ShuffleSplit...).

    Raises:
        LeakageError: naming the splitter and what to use instead.
    """
    name = type(splitter).__name__
    shuffles = bool(getattr(splitter, "shuffle", False)) or "Shuffle" in name or name in {
        "RepeatedKFold", "RepeatedStratifiedKFold", "LeaveOneOut", "LeavePOut"}
    if shuffles or (name in {"KFold", "StratifiedKFold", "GroupKFold"}):
        raise LeakageError(
            f"{name} mixes future matches into training; use a1lab.splits.WalkForwardSplit (by season or month)")
