"""The canonical match table: declared columns, dtypes and checks.

Every loader (football-data files, the extra-league layout, the generic
two-way CSV, the synthetic league) writes this one table.
"""

from __future__ import annotations

import functools

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


def odds_columns(df: pd.DataFrame) -> list[str]:
    """The odds columns of a canonical table, in table order."""
    return [c for c in df.columns if ODDS_COLUMN.match(c)]


class SchemaError(ValueError):
    """The match table breaks the declared schema."""


def _utc(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.DatetimeTZDtype) and str(series.dtype.tz) == "UTC"


@functools.cache
def match_schema():
    """The canonical match table as a pandera schema: the core columns (types, no nulls, results H/D/A, goals not
    below zero, one row per match id), stat columns as floats, odds columns as floats above 1 or missing; other
    columns are allowed."""
    import pandera.pandas as pa

    columns = {name: pa.Column(str) for name in ("sport", "league", "season", "home", "away")}
    columns |= {
        "match_id": pa.Column(str, unique=True, report_duplicates="exclude_first"),
        "kickoff": pa.Column(checks=pa.Check(_utc, element_wise=False, error="kick-off times in UTC")),
        "home_goals": pa.Column("int64", pa.Check.ge(0)),
        "away_goals": pa.Column("int64", pa.Check.ge(0)),
        "result": pa.Column(str, pa.Check.isin(sorted(RESULTS))),
        ODDS_COLUMN.pattern: pa.Column(float, pa.Check.gt(1.0), nullable=True, regex=True, required=False),
    }
    columns |= {name: pa.Column(float, nullable=True, required=False) for name in STAT_COLUMNS}
    return pa.DataFrameSchema(columns, strict=False)


def schema_failures(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of a match table that break :func:`match_schema`: one row per failure with the row's ``index``,
    the ``column``, the ``check`` and the ``failure_case`` (empty when the table passes).

    Raises:
        SchemaError: the table itself breaks it (a missing column, a wrong dtype): no row is to blame.
    """
    import pandera.errors

    try:
        match_schema().validate(df, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        table = cases[cases["index"].isna()]
        if len(table):
            raise SchemaError("match table breaks the schema: " + "; ".join(
                dict.fromkeys(f"{c.column + ': ' if isinstance(c.column, str) else ''}{c.check} ({c.failure_case})"
                              for c in table.itertuples()))) from None
        return cases[["index", "column", "check", "failure_case"]].astype({"index": int})
    return pd.DataFrame({"index": pd.Series(dtype=int), "column": [], "check": [], "failure_case": []})


def validate_matches(df: pd.DataFrame) -> pd.DataFrame:
    """Check a canonical match table against :func:`match_schema`; return it unchanged.

    Raises:
        SchemaError: naming every broken rule and, for rows, how many break it.
    """
    cases = schema_failures(df)
    if len(cases):
        counts = cases.groupby(["column", "check"], sort=True).size()
        raise SchemaError("match table breaks the schema: " + "; ".join(
            f"{column}: {check} ({n} rows)" for (column, check), n in counts.items()))
    return df
