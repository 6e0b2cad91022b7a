"""Walk-forward splits: train on the past, validate on the season before, test on the next.

Seasons are ordered by their dates (each label's first kick-off), never by their text: a label that
sorts first as text may start later in time. Never shuffled. A shuffled or random splitter handed to
a1lab is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd


class LeakageError(ValueError):
    """A split that would let a model see the future."""


def season_order(frame: pd.DataFrame) -> list[str]:
    """The season labels of a frame (``season``, ``kickoff``) in time order: by first kick-off, then label."""
    first = frame.groupby("season", sort=False)["kickoff"].min()
    return [str(s) for s in sorted(first.index, key=lambda s: (first[s], str(s)))]


SEASON_KEYS = ("label", "last")


def season_keys(frame: pd.DataFrame, by: str = "label") -> pd.Series:
    """The season key the protocol names seasons by (``league``, ``season``, ``kickoff`` columns).

    Args:
        frame: matches or features.
        by: ``label``: the data set's own labels, for data sets whose leagues share a calendar;
            ``last``: each league's seasons counted back from its newest in time (``last1`` is every league's
            newest season, ``last2`` the one before), so "the last two seasons of each league" is
            ``["last2", "last1"]`` whatever the leagues call them (a calendar-year label beside a two-year
            one, or a league that switches).
    """
    if by not in SEASON_KEYS:
        raise ValueError(f"season keys must be one of {SEASON_KEYS}, got {by!r}")
    if by == "label":
        return frame["season"].astype(str)
    first = frame.groupby(["league", "season"], sort=False)["kickoff"].min().reset_index()
    first = first.sort_values(["league", "kickoff", "season"], ascending=[True, False, True], kind="mergesort")
    first["key"] = "last" + (first.groupby("league").cumcount() + 1).astype(str)
    keys = frame[["league", "season"]].merge(first[["league", "season", "key"]], on=["league", "season"], how="left")
    return pd.Series(keys["key"].to_numpy(), index=frame.index, name="season")


def first_kickoff(frame: pd.DataFrame, seasons) -> pd.Timestamp:
    """The first kick-off of the given seasons: nothing after it may train or select for them.

    Raises:
        ValueError: none of the seasons has a match.
    """
    kickoffs = frame.loc[frame["season"].astype(str).isin([str(s) for s in seasons]), "kickoff"]
    if kickoffs.empty:
        raise ValueError(f"no match in seasons {list(seasons)}; seasons in time order: {season_order(frame)}")
    return kickoffs.min()


def season_before(frame: pd.DataFrame, season: str) -> str:
    """The season that starts last before ``season`` starts.

    Raises:
        ValueError: ``season`` is not in the frame or is its first.
    """
    order = season_order(frame)
    if season not in order or order.index(season) == 0:
        raise ValueError(f"no season before {season!r}; seasons in time order: {order}")
    return order[order.index(season) - 1]


def protocol_problems(matches: pd.DataFrame, protocol, drift_seasons=()) -> list[str]:
    """Why the evaluation protocol cannot run on these matches: one line per problem, naming the key and what
    the data offers (empty: it can run).

    Every test and out-of-sample season is forecast walk-forward, so it needs two earlier seasons (one to fit on,
    the one before it to validate on); the validation season starts before the first test season; the ensemble
    is fitted on out-of-sample seasons before the first test season; drift compares seasons the data holds.

    Args:
        matches: ``league``, ``season`` and ``kickoff`` of every match.
        protocol: the ``protocol`` settings (:class:`a1lab.params.ProtocolParams`).
        drift_seasons: the ``drift.seasons`` settings.
    """
    frame = pd.DataFrame({"season": season_keys(matches, protocol.season_keys), "kickoff": matches["kickoff"]})
    order = season_order(frame)
    counts = frame["season"].value_counts()
    offered = "the data's seasons in time order: " + ", ".join(f"{s} ({counts[s]:,} matches)" for s in order)
    problems = []
    at = {s: i for i, s in enumerate(order)}
    keys = (("protocol.test_seasons", protocol.test_seasons), ("protocol.oos_seasons", protocol.oos_seasons),
            ("drift.seasons", drift_seasons))
    for key, seasons in keys:
        for season in seasons:
            if season not in at:
                problems.append(f"{key}: {season} has no matches; {offered}")
            elif key != "drift.seasons" and at[season] < 2:
                problems.append(f"{key}: {season} is forecast walk-forward and needs two earlier seasons (fit, "
                                f"validate), the data has {order[:at[season]] or 'none'}; {offered}")
    first = min((at[s] for s in protocol.test_seasons if s in at), default=None)
    if protocol.validation_season not in at:
        problems.append(f"protocol.validation_season: {protocol.validation_season} has no matches; {offered}")
    elif first is not None and at[protocol.validation_season] >= first:
        problems.append(f"protocol.validation_season: {protocol.validation_season} does not start before the first "
                        f"test season {order[first]}; {offered}")
    if first is not None and not any(at.get(s, first) < first for s in protocol.oos_seasons):
        problems.append(f"protocol.oos_seasons: none of {list(protocol.oos_seasons)} starts before the first test "
                        f"season {order[first]}, and the ensemble is fitted on them; {offered}")
    return problems


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
        window: fit on at most this many seasons before the validation season (0: all of them).
    """

    test_seasons: tuple[str, ...]
    by: str = "season"
    window: int = 0

    def split(self, frame: pd.DataFrame) -> Iterator[Fold]:
        """Yield folds over a frame with ``season`` and ``kickoff`` columns.

        Earlier seasons are those that start before the test season (:func:`season_order`), and only their
        matches that kick off before the test season's first match are used, so seasons that overlap in
        time (a calendar-year league beside an autumn-to-spring one) cannot leak results.
        """
        if self.by not in ("season", "month"):
            raise ValueError(f"by must be 'season' or 'month', got {self.by!r}")
        if not isinstance(self.window, int) or self.window < 0:
            raise ValueError(f"window is a number of seasons (0: all), got {self.window!r}")
        seasons = season_order(frame)
        season = frame["season"].astype(str).to_numpy()
        kickoff = frame["kickoff"].to_numpy()
        for test in self.test_seasons:
            if test not in seasons:
                raise ValueError(f"test season {test!r} has no matches; seasons in time order: {seasons}")
            earlier = seasons[:seasons.index(test)]
            if len(earlier) < 2:
                raise ValueError(f"test season {test} needs at least two earlier seasons, has {earlier}")
            val, train = earlier[-1], earlier[:-1]
            train = train[-self.window:] if self.window > 0 else train
            test_rows = np.flatnonzero(season == test)
            before = kickoff < kickoff[test_rows].min()
            train_rows = np.flatnonzero(np.isin(season, train) & before)
            val_rows = np.flatnonzero((season == val) & before)
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
