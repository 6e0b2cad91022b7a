"""The ledger of looks at a data set's test seasons: every scoring of them, counted.

A look is a scoring of the test seasons under one configuration: the settings in effect, the code that
scores (``a1lab/``, ``notebooks/``, ``pipelines/`` but what never scores: the live loop, the docs
generator, ...) and the data manifest, each by its SHA-256. The ledger is a committed JSON-lines file,
``reports/looks.jsonl`` in the data set's folder; a scoring appends a line only when its configuration (with
what was scored) is new there, so a rerun of the same configuration, on any machine, leaves it as it was.
Each results table shows how many distinct configurations scored its test seasons, and how many of them came
before the configuration the table shows was first scored: choices made after those looks.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

LEDGER = Path("reports") / "looks.jsonl"
CODE_FOLDERS = ("a1lab", "notebooks", "pipelines")
CODE_SUFFIXES = (".py", ".ipynb", ".html", ".yaml")
# code that never scores a test season: the live loop, the test helpers, the generators of data set folders
# and of the docs, the experiments table; an edit there is no new configuration
NOT_SCORING = ("a1lab/live/", "a1lab/testing.py", "pipelines/dataset.py", "pipelines/docs.py",
               "pipelines/experiments.py")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def params_hash(params: dict) -> str:
    """The resolved params' hash, without ``data.root`` (where the files are is not what they hold: the
    manifest's hash says that)."""
    params = json.loads(json.dumps(params, default=str))
    params.get("data", {}).pop("root", None)
    return _sha(json.dumps(params, sort_keys=True).encode())


def code_hash(repo: str | Path) -> str:
    """The hash of the code that scores (paths and contents): every source file under ``a1lab/``,
    ``notebooks/`` and ``pipelines/`` of ``repo`` but :data:`NOT_SCORING` (caches and checkpoints left out)."""
    digest = hashlib.sha256()
    repo = Path(repo)
    for folder in CODE_FOLDERS:
        for path in sorted((repo / folder).rglob("*")):
            name = path.relative_to(repo).as_posix()
            if path.suffix in CODE_SUFFIXES and path.is_file() and not name.startswith(NOT_SCORING) \
                    and not {"__pycache__", ".ipynb_checkpoints"} & set(path.parts):
                digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def data_hash(manifest: str | Path) -> str:
    """The data manifest's hash (``data/sources.json``: a fingerprint of every file the data set reads)."""
    return _sha(Path(manifest).read_bytes())


def record(ledger: str | Path, *, what: str, test_seasons: list[str], params: str, code: str, data: str,
           when: datetime) -> bool:
    """Append a look at ``test_seasons`` (``what``: the stage or script that scored them) unless the ledger holds
    it already with the same configuration.

    Returns:
        True when the line was appended.
    """
    ledger = Path(ledger)
    entry = {"what": what, "test_seasons": [str(s) for s in test_seasons], "params": params, "code": code,
             "data": data}
    for line in read(ledger):
        if {k: line.get(k) for k in entry} == entry:
            return False
    ledger.parent.mkdir(parents=True, exist_ok=True)
    with ledger.open("a") as out:
        out.write(json.dumps({"recorded": when.isoformat(timespec="seconds"), **entry}) + "\n")
    return True


def read(ledger: str | Path) -> list[dict]:
    """The ledger's entries, oldest first (none when there is no ledger yet)."""
    ledger = Path(ledger)
    if not ledger.is_file():
        return []
    return [json.loads(line) for line in ledger.read_text().splitlines() if line.strip()]


def summary(entries: list[dict], test_seasons: list[str], params: str | None = None) -> dict:
    """How often ``test_seasons`` were looked at: ``looks``, the distinct configurations that scored them
    (params, code and data; entries from before the ledger, ``"from": "git"``, count one each), and
    ``before``, how many of those were first scored before ``params`` was (the choices in ``params`` were made
    after them; None when ``params`` was never recorded)."""
    seasons = [str(s) for s in test_seasons]
    firsts: dict[tuple, str] = {}
    for e in entries:
        if e["test_seasons"] == seasons:
            firsts.setdefault((e["params"], e["code"], e["data"]), e["recorded"])
    current = [when for (p, _, _), when in firsts.items() if p == params]
    before = sum(when < min(current) for when in firsts.values()) if current else None
    return {"looks": len(firsts), "before": before}


def note(project: str | Path, what: str, params: dict, test_seasons: list[str], when: datetime) -> dict:
    """Record a look from a data set's folder (``project``: where its params and ``data/sources.json`` are; the
    code is the repository's at or above it) and return :func:`summary` after it.

    Raises:
        FileNotFoundError: no ``a1lab/`` at or above ``project``, or no data manifest yet.
    """
    project = Path(project).resolve()
    repo = next((p for p in (project, *project.parents) if (p / "a1lab" / "__init__.py").is_file()), None)
    if repo is None:
        raise FileNotFoundError(f"no a1lab/ at or above {project}")
    hashes = {"params": params_hash(params), "code": code_hash(repo),
              "data": data_hash(project / "data" / "sources.json")}
    record(project / LEDGER, what=what, test_seasons=test_seasons, when=when, **hashes)
    return summary(read(project / LEDGER), test_seasons, hashes["params"])
