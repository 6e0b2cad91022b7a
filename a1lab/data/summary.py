"""Overview tables of a canonical match table (for the data notebook)."""

from __future__ import annotations

import pandas as pd

from a1lab.data.schema import ODDS_COLUMN, odds_columns
from a1lab.odds import overround


def matches_per_league_season(matches: pd.DataFrame) -> pd.DataFrame:
    """Count of matches, leagues as rows and seasons as columns."""
    return matches.pivot_table(index="league", columns="season", values="match_id", aggfunc="count", fill_value=0)


def result_rates(matches: pd.DataFrame) -> pd.DataFrame:
    """Share of home wins, draws and away wins per league (and overall)."""
    rates = pd.crosstab(matches["league"], matches["result"], normalize="index")
    rates.loc["all"] = matches["result"].value_counts(normalize=True)
    return rates.reindex(columns=[c for c in ("H", "D", "A") if c in rates.columns])


def margin_by_bookmaker(matches: pd.DataFrame, market: str = "1x2") -> pd.DataFrame:
    """Mean overround and coverage of each bookmaker's quote, by timing."""
    quotes: dict[tuple[str, str], list[str]] = {}
    for col in odds_columns(matches):
        m = ODDS_COLUMN.match(col)
        if m["market"] == market:
            quotes.setdefault((m["book"], m["timing"]), []).append(col)
    rows = []
    for (book, timing), cols in sorted(quotes.items()):
        margin = overround(matches[cols].to_numpy())
        rows.append({"bookmaker": book, "timing": timing, "matches": int(pd.notna(margin).sum()),
                     "mean_margin": float(pd.Series(margin).mean())})
    return pd.DataFrame(rows, columns=["bookmaker", "timing", "matches", "mean_margin"])
