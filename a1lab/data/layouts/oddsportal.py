"""An OddsPortal moneyline file (``date, season_type, neutral, team_1, team_2, points_1, points_2,
moneyline_1, moneyline_2, game_url``): market-average prices of unstated timing."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from a1lab.section import Section


class Source(Section):
    layout: Literal["oddsportal"]
    path: str = Field(min_length=1)
    sport: str = Field(min_length=1)
    league: str = Field(min_length=1)

    def league_names(self) -> list[str]:
        return [self.league]

    def files(self) -> list[tuple[str, str | None]]:
        return [(self.path, self.path)]

    def load(self, root: str):
        from a1lab.data.oddsportal import parse_oddsportal
        from a1lab.data.source import read_file

        return parse_oddsportal(read_file(self.path), self.path, self.sport, self.league)
