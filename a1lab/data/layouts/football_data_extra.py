"""football-data.co.uk extra-league files ``new/<league>.csv`` under ``data.root`` (closing odds only)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from a1lab.section import Section


class Source(Section):
    """Countries by their football-data codes (``ARG``, ``BRA``): every season each file holds."""

    layout: Literal["football-data-extra"]
    leagues: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)

    def league_names(self) -> list[str]:
        return list(self.leagues)

    def files(self) -> list[tuple[str, str | None]]:
        return [(f"new/{league}.csv", None) for league in self.leagues]

    def load(self, root: str):
        from a1lab.data.footballdata import load_extra_leagues
        from a1lab.data.source import FileSource

        return load_extra_leagues(FileSource(root), self.leagues)
