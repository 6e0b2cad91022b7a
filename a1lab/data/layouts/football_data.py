"""football-data.co.uk main-layout files ``mmz4281/<season>/<league>.csv`` under ``data.root``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from a1lab.section import Section


class Source(Section):
    """Leagues by their football-data codes and seasons by their folder names (``2324``)."""

    layout: Literal["football-data"]
    leagues: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    seasons: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)

    def league_names(self) -> list[str]:
        return list(self.leagues)

    def files(self) -> list[tuple[str, str | None]]:
        return [(f"mmz4281/{season}/{league}.csv", None) for season in self.seasons for league in self.leagues]

    def load(self, root: str):
        from a1lab.data.footballdata import load_football_data
        from a1lab.data.source import FileSource

        return load_football_data(FileSource(root), self.leagues, self.seasons)
