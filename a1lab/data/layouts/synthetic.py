"""The simulated league (offline demo and tests): no file is read."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from a1lab.section import Section


class Source(Section):
    layout: Literal["synthetic"]
    leagues: int = Field(ge=1)
    seasons: int = Field(ge=2)
    seed: int

    def league_names(self) -> list[str]:
        return [f"SYN{i}" for i in range(self.leagues)]

    def files(self) -> list[tuple[str, str | None]]:
        return []

    def load(self, root: str):
        from a1lab.data.quarantine import LoadResult
        from a1lab.data.synthetic import LeagueSpec, simulate_league

        league = simulate_league(LeagueSpec(leagues=self.leagues, seasons=self.seasons, seed=self.seed))
        return LoadResult(league.matches, files=0, rows_read=len(league.matches))
