"""The canonical match table: declared columns, dtypes and checks.

Every loader (football-data files, the extra-league layout, the generic
two-way CSV, the synthetic league) writes this one table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from a1lab.columns import ODDS_COLUMN, odds_column  # noqa: F401 - the loaders' names

STAT_COLUMNS = [
    "ht_home_goals", "ht_away_goals",
    "home_shots", "away_shots", "home_shots_on_target", "away_shots_on_target",
    "home_fouls", "away_fouls", "home_corners", "away_corners",
    "home_yellow", "away_yellow", "home_red", "away_red",
]
RESULTS = {"H", "D", "A"}


def result_code(home_goals, away_goals) -> np.ndarray:
    """Full-time result(s) from goals: "H", "D" or "A" (scalars or arrays)."""
    return np.where(np.greater(home_goals, away_goals), "H", np.where(np.less(home_goals, away_goals), "A", "D"))


class SchemaError(ValueError):
    """The match table breaks the declared schema."""


@dataclass(frozen=True)
class Column:
    """One declared column: name, dtype family and whether nulls are allowed."""

    name: str
    kind: str  # "str", "int", "float", "datetime"
    nullable: bool = False


CORE_COLUMNS: tuple[Column, ...] = (
    Column("match_id", "str"),
    Column("sport", "str"),
    Column("league", "str"),
    Column("season", "str"),
    Column("kickoff", "datetime"),
    Column("home", "str"),
    Column("away", "str"),
    Column("home_goals", "int"),
    Column("away_goals", "int"),
    Column("result", "str"),
)


def odds_columns(df: pd.DataFrame) -> list[str]:
    """The odds columns of a canonical table, in table order."""
    return [c for c in df.columns if ODDS_COLUMN.match(c)]


def _kind_ok(series: pd.Series, kind: str) -> bool:
    if kind == "str":
        return pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)
    if kind == "int":
        return pd.api.types.is_integer_dtype(series)
    if kind == "float":
        return pd.api.types.is_float_dtype(series)
    if kind == "datetime":
        return isinstance(series.dtype, pd.DatetimeTZDtype) and str(series.dtype.tz) == "UTC"
    raise ValueError(kind)


def validate_matches(df: pd.DataFrame) -> pd.DataFrame:
    """Check a canonical match table; return it unchanged or raise SchemaError.

    Raises:
        SchemaError: listing every broken rule (missing column, wrong dtype,
            nulls, bad result codes, goals below zero, odds at or below 1,
            duplicate match ids).
    """
    problems: list[str] = []
    for col in CORE_COLUMNS:
        if col.name not in df.columns:
            problems.append(f"missing column {col.name!r}")
            continue
        if not _kind_ok(df[col.name], col.kind):
            problems.append(f"column {col.name!r} has dtype {df[col.name].dtype}, expected {col.kind}")
        if not col.nullable and df[col.name].isna().any():
            problems.append(f"column {col.name!r} has {int(df[col.name].isna().sum())} nulls")
    if not problems:
        bad_result = ~df["result"].isin(RESULTS)
        if bad_result.any():
            problems.append(f"{int(bad_result.sum())} rows with result outside H/D/A")
        if (df["home_goals"] < 0).any() or (df["away_goals"] < 0).any():
            problems.append("negative goals")
        if df["match_id"].duplicated().any():
            problems.append(f"{int(df['match_id'].duplicated().sum())} duplicate match_id values")
    dtypes = df.dtypes
    for col in STAT_COLUMNS:
        if col in dtypes and not pd.api.types.is_float_dtype(dtypes[col]):
            problems.append(f"stat column {col!r} must be float, got {dtypes[col]}")
    odds = odds_columns(df)
    floats = [c for c in odds if pd.api.types.is_float_dtype(dtypes[c])]
    problems += [f"odds column {c!r} must be float, got {dtypes[c]}" for c in odds if c not in floats]
    at_most_one = (df[floats].to_numpy(dtype=float) <= 1.0).any(axis=0) if floats else []
    problems += [f"odds column {c!r} has prices <= 1" for c, bad in zip(floats, at_most_one, strict=True) if bad]
    if problems:
        raise SchemaError("match table breaks the schema: " + "; ".join(problems))
    return df
