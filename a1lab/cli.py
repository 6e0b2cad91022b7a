"""The ``a1lab`` command line: thin wrappers over the package, I/O at this edge."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from a1lab.data.quarantine import DataFileError, DataUnavailableError, LoadResult

DATA_ROOT_ENV = "A1LAB_DATA_ROOT"


def resolve_root(root: str | None) -> str:
    """The data base: an explicit root, else (``auto``) $A1LAB_DATA_ROOT, else the site's URL."""
    from a1lab.data.source import DEFAULT_BASE

    if root and root != "auto":
        return root
    return os.environ.get(DATA_ROOT_ENV) or DEFAULT_BASE


_SECTION_KEYS = {"provider", "root", "leagues", "seasons", "extra", "generic", "sport", "date_format", "synthetic"}
_SYNTHETIC_KEYS = {"leagues": "synthetic_leagues", "seasons": "synthetic_seasons", "seed": "seed"}


_FALLBACK = {"provider": "football-data", "root": "auto", "leagues": [], "seasons": [], "extra": [], "generic": [],
             "sport": "football", "date_format": None, "synthetic_leagues": 5, "synthetic_seasons": 11, "seed": 0}


def settle_data_args(args: argparse.Namespace) -> argparse.Namespace:
    """The data selection: flags given on the command line, else the params.yaml section (``--params``, or
    ./params.yaml when present), else neutral defaults. The code names no league or season of its own.

    Raises:
        DataFileError: an unreadable params file or section, or nothing selected to read.
    """
    path = args.params or ("params.yaml" if Path("params.yaml").is_file() else None)
    if path:
        apply_params(args, path, args.section)
    for key, value in _FALLBACK.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.provider != "synthetic" and not (args.leagues and args.seasons) and not args.extra and not args.generic:
        raise DataFileError("nothing to read: name the data set in params.yaml (--params) or with --leagues and "
                            "--seasons, --extra or --generic")
    return args


def apply_params(args: argparse.Namespace, path: str, section: str) -> argparse.Namespace:
    """Fill the data selection a params.yaml section gives, where the command line left it unset.

    Raises:
        DataFileError: no such file or section, or a key the section may not have.
    """
    import yaml

    try:
        params = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DataFileError(f"{path}: cannot be read as YAML ({exc})") from None
    values = params.get(section)
    if not isinstance(values, dict):
        raise DataFileError(f"{path}: no mapping section {section!r}")
    unknown = sorted(set(values) - _SECTION_KEYS) + sorted(
        f"synthetic.{k}" for k in set(values.get("synthetic") or {}) - set(_SYNTHETIC_KEYS))
    if unknown:
        raise DataFileError(f"{path}: unknown keys in {section!r}: {unknown}; known: {sorted(_SECTION_KEYS)}")
    given = {_SYNTHETIC_KEYS[k]: int(v) for k, v in (values.get("synthetic") or {}).items()}
    for key, value in values.items():
        if key != "synthetic":
            given[key] = [str(v) for v in value or []] if key in ("leagues", "seasons", "extra", "generic") else value
    for key, value in given.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    return args


def source_files(args: argparse.Namespace) -> list[str]:
    """The files a data selection reads: main-layout, extra-league (under the root) and generic paths."""
    if args.provider == "synthetic":
        return []
    return ([f"mmz4281/{s}/{lg}.csv" for s in args.seasons for lg in args.leagues]
            + [f"new/{code}.csv" for code in args.extra] + list(args.generic))


def cmd_manifest(args: argparse.Namespace) -> int:
    """Write the SHA-256 of every file the data selection reads, so DVC reruns ingest when one changes."""
    import hashlib

    settle_data_args(args)
    root = resolve_root(args.root)
    files = {}
    for rel in source_files(args):
        path = Path(rel) if rel in args.generic else Path(root) / rel
        if root.startswith(("http://", "https://")) and rel not in args.generic:
            files[rel] = "remote: not hashed"
        else:
            files[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"
    manifest = {"provider": args.provider, "files": files}
    if args.provider == "synthetic":
        manifest["synthetic"] = {"leagues": args.synthetic_leagues, "seasons": args.synthetic_seasons,
                                 "seed": args.seed}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return 0


def load(args: argparse.Namespace) -> LoadResult:
    """Run the loader that ``--provider`` names."""
    if args.provider == "synthetic":
        from a1lab.data.synthetic import LeagueSpec, simulate_league

        spec = LeagueSpec(leagues=args.synthetic_leagues, seasons=args.synthetic_seasons, seed=args.seed)
        league = simulate_league(spec)
        return LoadResult(league.matches, files=0, rows_read=len(league.matches))
    from a1lab.data.footballdata import load_extra_leagues, load_football_data
    from a1lab.data.quarantine import concat_results
    from a1lab.data.source import FileSource

    source = FileSource(resolve_root(args.root))
    parts = [load_football_data(source, args.leagues, args.seasons)]
    if args.extra:
        parts.append(load_extra_leagues(source, args.extra))
    if args.generic:
        from a1lab.data.generic import parse_generic
        from a1lab.data.source import read_file

        for path in args.generic:
            parts.append(parse_generic(read_file(path), path, args.sport, Path(path).stem,
                                       date_format=args.date_format))
    return concat_results(parts) if len(parts) > 1 else parts[0]


def cmd_ingest(args: argparse.Namespace) -> int:
    """Load matches, write the canonical table, the quarantine and the counts."""
    settle_data_args(args)
    result = load(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result.matches.to_parquet(out / "matches.parquet", index=False)
    result.rejected.astype({"line": "int64"}).to_parquet(out / "rejected.parquet", index=False)
    result.rejected_values.astype({"line": "int64"}).to_parquet(out / "rejected_values.parquet", index=False)
    counts = result.counts()
    if args.metrics:
        Path(args.metrics).parent.mkdir(parents=True, exist_ok=True)
        Path(args.metrics).write_text(json.dumps(counts, indent=2, sort_keys=True) + "\n")
    print(json.dumps(counts, indent=2, sort_keys=True))
    return 0


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    """The data selection, shared by ``ingest`` and ``manifest`` (unset flags come from params.yaml)."""
    parser.add_argument("--params", default=None, help="params.yaml naming the data set (default: ./params.yaml)")
    parser.add_argument("--section", default="data", help="the params.yaml section of the data set")
    parser.add_argument("--provider", choices=["football-data", "synthetic"], default=None)
    parser.add_argument("--root", default=None,
                        help=f"URL or local mirror of football-data.co.uk (auto: ${DATA_ROOT_ENV}, else the site)")
    parser.add_argument("--leagues", nargs="*", default=None, help="main-layout league codes")
    parser.add_argument("--seasons", nargs="*", default=None, help="main-layout season codes")
    parser.add_argument("--extra", nargs="*", default=None, help="extra-league codes (new/<CODE>.csv)")
    parser.add_argument("--generic", nargs="*", default=None, help="generic CSV files (date, home, away, ...)")
    parser.add_argument("--sport", default=None, help="sport of the --generic files (default football)")
    parser.add_argument("--date-format", default=None,
                        help="strptime format of the --generic files' dates (default: detected per file)")
    parser.add_argument("--synthetic-leagues", dest="synthetic_leagues", type=int, default=None)
    parser.add_argument("--synthetic-seasons", dest="synthetic_seasons", type=int, default=None)
    parser.add_argument("--seed", dest="seed", type=int, default=None)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``a1lab`` command."""
    parser = argparse.ArgumentParser(prog="a1lab", description="a1lab: sports forecasting research lab")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ingest = sub.add_parser("ingest", help="read match files into data/matches.parquet with a quarantine")
    _data_arguments(ingest)
    ingest.add_argument("--out", default="data", help="output folder")
    ingest.add_argument("--metrics", default="metrics/ingest.json", help="counts JSON ('' for none)")
    ingest.set_defaults(func=cmd_ingest)
    manifest = sub.add_parser("manifest", help="hash the files a data selection reads (the ingest stage's input)")
    _data_arguments(manifest)
    manifest.add_argument("--out", default="data/sources.json", help="manifest JSON")
    manifest.set_defaults(func=cmd_manifest)
    from a1lab.live.cli import add_parser

    add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; data errors become one clear line and exit code 2."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DataFileError, DataUnavailableError) as exc:
        print(f"a1lab {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
