"""A CSV of the generic layout (``date, home, away, home_score, away_score, home_odds, away_odds`` and
optionally ``draw_odds``, ``time``), ``columns`` naming the file's own names where they differ."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from a1lab.section import Section


class Source(Section):
    layout: Literal["generic"]
    path: str = Field(min_length=1)
    sport: str = Field(min_length=1)
    league: str | None = None  # default: the file's stem
    season: str | None = None  # default: the year of each date
    date_format: str | None = None  # default: detected per file
    columns: dict[str, str] | None = None
    bookmaker: str = "market"
    timing: Literal["open", "close"] = "close"
    odds_format: Literal["auto", "american", "decimal"] = "auto"  # auto: American when signed, else decimal

    def league_names(self) -> list[str]:
        return [self.league or Path(self.path).stem]

    def files(self) -> list[tuple[str, str | None]]:
        return [(self.path, self.path)]

    def load(self, root: str):
        from a1lab.data.generic import parse_generic
        from a1lab.data.source import read_file

        return parse_generic(read_file(self.path), self.path, self.sport, self.league or Path(self.path).stem,
                             self.season, self.bookmaker, self.timing, date_format=self.date_format,
                             columns=self.columns, odds_format=self.odds_format)
