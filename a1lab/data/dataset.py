"""A data set is configuration: a list of sources (params.yaml ``data.sources``), each a layout and what to
read of it. Nothing is read that the list does not name."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from a1lab.data.quarantine import LoadResult


def source_files(sources: list) -> list[tuple[str, str | None]]:
    """Every file the sources read: (name, local path) with football-data names relative to the data root
    (path None) and other files by their path."""
    return [file for s in sources for file in s.files()]


def outside(sources: list, root: str, project: Path, base: Path | None = None) -> list[str]:
    """The paths the sources read (relative ones from ``base``, default the working folder) that lie outside
    both the project and the data folder (the folder that holds a local data root: the mirror and the data
    beside it). A data set's settings read nothing else: no ``../../params.yaml``, no ``/etc/hostname``."""
    allowed = [project.resolve()]
    if not root.startswith(("http://", "https://")):
        allowed.append(Path(root).resolve().parent)
    base = Path.cwd() if base is None else base
    return [path for _, path in source_files(sources) if path is not None
            and not any((base / path).resolve().is_relative_to(folder) for folder in allowed)]


def manifest(root: str, sources: list, timeout: float | None = None) -> dict:
    """A fingerprint of every file the sources read (:meth:`a1lab.data.source.FileSource.fingerprint`: SHA-256
    of a local file, the server's validators of a remote one), and the sources themselves: what DVC's ingest
    stage depends on. ``timeout``: seconds to connect and to read, per request (None: FileSource's).

    Raises:
        DataUnavailableError: some file cannot be reached (one line: how many, and the first few), so a run
            that cannot reach its data stops before anything is rewritten; at once when the base does not
            answer within the timeout (DataTimeoutError).
    """
    from a1lab.data.errors import DataTimeoutError, DataUnavailableError
    from a1lab.data.source import FileSource, read_file

    base = FileSource(root) if timeout is None else FileSource(root, timeout)
    hashes, failed = {}, []
    for name, path in source_files(sources):
        try:
            hashes[name] = base.fingerprint(name) if path is None else hashlib.sha256(read_file(path)).hexdigest()
        except DataTimeoutError:
            raise
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
    from a1lab.data.quarantine import concat_results

    parts = [s.load(root) for s in sources]
    return concat_results(parts) if len(parts) > 1 else parts[0]
