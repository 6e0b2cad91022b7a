"""A data set is configuration: a list of sources (params.yaml ``data.sources``), each a layout and what to
read of it. Nothing is read that the list does not name."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from a1lab.params import (
    ExtraSource,
    GenericSource,
    MainSource,
    OddsPortalSource,
    SyntheticSource,
)

if TYPE_CHECKING:
    from a1lab.data.quarantine import LoadResult


def source_files(sources: list) -> list[tuple[str, str | None]]:
    """Every file the sources read: (name, local path) with football-data names relative to the data root
    (path None) and other files by their path."""
    files: list[tuple[str, str | None]] = []
    for s in sources:
        if isinstance(s, MainSource):
            files += [(f"mmz4281/{season}/{league}.csv", None) for season in s.seasons for league in s.leagues]
        elif isinstance(s, ExtraSource):
            files += [(f"new/{league}.csv", None) for league in s.leagues]
        elif isinstance(s, GenericSource | OddsPortalSource):
            files.append((s.path, s.path))
    return files


def manifest(root: str, sources: list) -> dict:
    """A fingerprint of every file the sources read (:meth:`a1lab.data.source.FileSource.fingerprint`: SHA-256
    of a local file, the server's validators of a remote one), and the sources themselves: what DVC's ingest
    stage depends on.

    Raises:
        DataUnavailableError: some file cannot be reached (one line: how many, and the first few), so a run
            that cannot reach its data stops before anything is rewritten.
    """
    from a1lab.data.errors import DataUnavailableError
    from a1lab.data.source import FileSource, read_file

    hashes, failed = {}, []
    for name, path in source_files(sources):
        try:
            hashes[name] = FileSource(root).fingerprint(name) if path is None else \
                hashlib.sha256(read_file(path)).hexdigest()
        except DataUnavailableError as exc:
            failed.append((name, str(exc)))
    if failed:
        others = [name for name, _ in failed[1:]]
        listed = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        also = f" (and {len(others)} more: {listed})" if others else ""
        raise DataUnavailableError(f"{len(failed)} of {len(hashes) + len(failed)} files the data set reads cannot be "
                                   f"reached{also}: {failed[0][1]}")
    return {"files": hashes, "sources": [s.model_dump() for s in sources]}


def load_dataset(root: str, sources: list) -> LoadResult:
    """Read every source into one canonical table with its quarantine.

    Args:
        root: the football-data base (a local mirror or the site's URL) for the football-data layouts.
        sources: validated sources (:class:`a1lab.params.DataParams` ``sources``).
    """
    from a1lab.data.quarantine import LoadResult, concat_results
    from a1lab.data.source import FileSource, read_file

    parts = []
    for s in sources:
        if isinstance(s, MainSource | ExtraSource):
            from a1lab.data.footballdata import load_extra_leagues, load_football_data

            source = FileSource(root)
            parts.append(load_football_data(source, s.leagues, s.seasons) if isinstance(s, MainSource)
                         else load_extra_leagues(source, s.leagues))
        elif isinstance(s, GenericSource):
            from a1lab.data.generic import parse_generic

            parts.append(parse_generic(read_file(s.path), s.path, s.sport, s.league or Path(s.path).stem, s.season,
                                       s.bookmaker, s.timing, date_format=s.date_format, columns=s.columns,
                                       odds_format=s.odds_format))
        elif isinstance(s, OddsPortalSource):
            from a1lab.data.generic import parse_oddsportal

            parts.append(parse_oddsportal(read_file(s.path), s.path, s.sport, s.league))
        elif isinstance(s, SyntheticSource):
            from a1lab.data.synthetic import LeagueSpec, simulate_league

            league = simulate_league(LeagueSpec(leagues=s.leagues, seasons=s.seasons, seed=s.seed))
            parts.append(LoadResult(league.matches, files=0, rows_read=len(league.matches)))
    return concat_results(parts) if len(parts) > 1 else parts[0]
