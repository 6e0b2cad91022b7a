"""The ``a1lab`` command line: thin wrappers over the package, I/O at this edge."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from a1lab.data.errors import DataFileError, DataUnavailableError
from a1lab.data.source import DATA_ROOT_ENV, resolve_root
from a1lab.usage import UsageError

if TYPE_CHECKING:
    from a1lab.data.quarantine import LoadResult
    from a1lab.params import DataParams, Source


def params_path(args: argparse.Namespace) -> str | None:
    """The params file a data command reads: ``--params``, else ./params.yaml when present (None: none)."""
    return args.params or ("params.yaml" if Path("params.yaml").is_file() else None)


def data_selection(args: argparse.Namespace) -> DataParams:
    """The data set: sources named by flags (``--leagues``/``--seasons``, ``--extra``, ``--generic``,
    ``--provider synthetic``) replace those of the params file (``--params``, or ./params.yaml when present);
    ``--root`` overrides its root. The code names no league, season or file of its own.

    Raises:
        DataFileError: an unreadable or invalid params file, or nothing selected to read.
    """
    from a1lab.params import DataParams, ParamsError, check_section, read_params

    path = params_path(args)
    data = None
    if path:
        try:
            values = read_params(path)
            if args.section not in values:
                raise ParamsError(f"{path}: no section {args.section!r}")
            data = check_section("data", values[args.section], path)
        except ParamsError as exc:
            raise DataFileError(str(exc)) from None
    flagged = _flag_sources(args)
    sources = flagged if flagged else (list(data.sources) if data else [])
    root = args.root or (data.root if data else "auto")
    try:
        urlsplit(root)  # an unclosed IPv6 bracket and the like fail here, not in the middle of a download
    except ValueError as exc:
        raise UsageError(f"--root {root!r} is no path or URL ({exc})") from None
    if not sources:
        raise DataFileError("nothing to read: name the data set's sources in params.yaml (data.sources, --params) "
                            "or with --leagues and --seasons, --extra, --generic or --provider synthetic")
    if not flagged:  # a path typed on the command line is the user's own choice; a settings file's is confined
        from a1lab.data.dataset import outside

        project = next((p for p in [Path.cwd(), *Path.cwd().parents] if (p / ".git").exists()), Path.cwd())
        if bad := outside(sources, resolve_root(root), project):
            raise DataFileError(f"{path}: data.sources reads {', '.join(bad)}: outside the project ({project}) and "
                                "the data folder (the folder holding the data root, $A1LAB_DATA_ROOT); put the "
                                "file in one of them")
    return DataParams(root=root, sources=sources)


def _flag_sources(args: argparse.Namespace) -> list[Source]:
    from pydantic import ValidationError

    from a1lab.data.layouts import football_data, football_data_extra, generic, synthetic

    if (args.leagues is None) != (args.seasons is None):
        raise UsageError("--leagues and --seasons go together: the main-layout files are named by both")
    if args.provider != "synthetic" and (args.synthetic_leagues, args.synthetic_seasons) != (None, None):
        raise UsageError("--synthetic-leagues and --synthetic-seasons need --provider synthetic")
    sources: list[Source] = []
    if args.provider == "synthetic":
        leagues = 5 if args.synthetic_leagues is None else args.synthetic_leagues  # 0 is refused, not ignored
        seasons = 11 if args.synthetic_seasons is None else args.synthetic_seasons
        try:
            sources.append(synthetic.Source(layout="synthetic", leagues=leagues, seasons=seasons, seed=args.seed or 0))
        except ValidationError as exc:
            bad = "; ".join(f"--synthetic-{e['loc'][0]}: {e['msg']}" for e in exc.errors())
            raise UsageError(bad) from None
    if args.leagues and args.seasons:
        sources.append(football_data.Source(layout="football-data", leagues=args.leagues, seasons=args.seasons))
    if args.extra:
        sources.append(football_data_extra.Source(layout="football-data-extra", leagues=args.extra))
    for path in args.generic or []:
        sources.append(generic.Source(layout="generic", path=path, sport=args.sport or "football",
                                      date_format=args.date_format))
    return sources


def cmd_manifest(args: argparse.Namespace) -> int:
    """Write the SHA-256 of every file the data selection reads, so DVC reruns ingest when one changes."""
    from a1lab.data.dataset import manifest

    data = data_selection(args)
    out = manifest(resolve_root(data.root), data.sources)
    path = params_path(args)
    if players := _players(path, args.section):  # the player files the features stage reads
        from a1lab.data.fpl import player_files, player_root

        out["players"] = player_files(player_root(players.path, resolve_root(data.root)))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    return 0


def _players(path: str | None, section: str):
    """The ``features.players`` settings of a pipeline's params file (None: none, or not the data section's).

    Raises:
        DataFileError: the params file's features section is invalid.
    """
    from a1lab.params import ParamsError, check_section, read_params

    values = read_params(path) if path and section == "data" else {}
    if "features" not in values:
        return None
    try:
        return check_section("features", values["features"], path).players
    except ParamsError as exc:
        raise DataFileError(str(exc)) from None


def load(args: argparse.Namespace) -> LoadResult:
    """Read the data set the flags or the params file name."""
    from a1lab.data.dataset import load_dataset

    data = data_selection(args)
    return load_dataset(resolve_root(data.root), data.sources)


def cmd_ingest(args: argparse.Namespace) -> int:
    """Load matches, check the params file's protocol against them (before any later stage runs), write the
    canonical table, the quarantine and the counts.

    Raises:
        DataFileError: the protocol cannot run on these matches (one line per problem).
    """
    from a1lab.params import read_params

    result = load(args)
    path = params_path(args)
    if path and not _flag_sources(args) and args.section == "data" and "protocol" in read_params(path):
        from a1lab.params import load_params  # a pipeline's params file: its protocol must fit the data
        from a1lab.splits import protocol_problems

        params = load_params(path)
        if problems := protocol_problems(result.matches, params.protocol, params.drift.seasons):
            raise DataFileError(f"{path}: the protocol cannot run on this data:\n  " + "\n  ".join(problems))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    counts = result.counts()
    written = {out / "matches.parquet": result.matches,
               out / "rejected.parquet": result.rejected.astype({"line": "int64"}),
               out / "rejected_values.parquet": result.rejected_values.astype({"line": "int64"})}
    for path, frame in written.items():  # every file whole, then all renamed: a failure leaves the last ones
        frame.to_parquet(path.with_name(path.name + ".tmp"), index=False)
    if args.metrics:
        Path(args.metrics).parent.mkdir(parents=True, exist_ok=True)
        Path(args.metrics + ".tmp").write_text(json.dumps(counts, indent=2, sort_keys=True) + "\n")
        written[Path(args.metrics)] = None
    for path in written:
        os.replace(path.with_name(path.name + ".tmp"), path)
    reasons = lambda d: ", ".join(f"{k} {v:,}" for k, v in sorted(d.items()))  # noqa: E731
    print(f"ingest: {counts['files']} files, {counts['rows_read']:,} rows read, {counts['rows_kept']:,} kept, "
          f"{counts['rows_rejected']:,} rejected ({reasons(counts['rejected_by_reason']) or 'none'}), "
          f"{counts['values_nulled']:,} values nulled ({reasons(counts['values_nulled_by_reason']) or 'none'}) "
          f"-> {out / 'matches.parquet'}")
    if counts["notes"]:
        source, notes = next(iter(counts["notes"].items()))
        print(f"ingest: notes on {len(counts['notes'])} files or leagues (metrics/ingest.json `notes`), the first: "
              f"{source}: {notes[0]}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Score upcoming fixtures with a registered model from the feature state after the last settled match:
    a table on the terminal, CSV or JSON with ``--out``."""
    from a1lab.data.errors import DataUnavailableError as Unavailable
    from a1lab.data.source import FileSource, read_file
    from a1lab.features.state import FeatureState
    from a1lab.fixtures import EXTRA_COLUMNS, country_codes, offers, read_fixtures, score_fixtures
    from a1lab.live.cli import load_models, loop_config, loop_params
    from a1lab.live.loop import Loop

    params = loop_params(args.params)
    root = resolve_root(args.root or params.data.root)
    where = args.source or FileSource(root).locate("fixtures.csv")
    if where.startswith(("http://", "https://")):
        base, _, name = where.rpartition("/")
        data = FileSource(base).read(name)
    else:
        data = read_file(where)
    state_path = Path(args.state)
    if not state_path.is_file():
        raise FileNotFoundError(2, "no feature state", str(state_path))
    state = FeatureState.load(state_path)
    countries = {}
    if all(c.encode() in data.split(b"\n", 1)[0] for c in EXTRA_COLUMNS):  # extra layout: country -> league code
        files = {}
        for code in state.leagues:
            try:
                files[code] = FileSource(root).read(f"new/{code}.csv")
            except Unavailable:
                continue
        countries = country_codes(files)
    fixtures = read_fixtures(data, where, countries)
    if fixtures.empty:
        print(f"a1lab predict: {where} has no fixtures (its header only)", file=sys.stderr)
        return 0
    models, timing = load_models(args.model, args.version, args.registry, params)
    loop = Loop(models, state, loop_config(params), timing=timing)
    table = score_fixtures(fixtures, loop, extra=bool(countries))
    scored = int(table["reason"].isna().sum())
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        if args.out.endswith(".json"):
            table.to_json(args.out, orient="records", date_format="iso", indent=1)
        else:
            table.to_csv(args.out, index=False)
    shown = table.assign(kickoff=table["kickoff"].dt.tz_convert("UTC").dt.strftime("%Y-%m-%d %H:%M UTC"))
    cols = ["league", "kickoff", "home", "away", "p_home", "p_draw", "p_away", "fair_odds_home", "fair_odds_draw",
            "fair_odds_away", "bet", "book", "odds", "edge", "stake_share", "reason"]
    with pd_options():
        print(shown[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep=""))
    for row in shown[shown["reason"].isna()].to_dict("records"):  # each scored fixture: the prices on offer, why
        print(f"\n{row['home']} v {row['away']} ({row['league']}, {row['kickoff']})\n  offers (price, edge): "
              f"{offers(row)}" + (f"\n  why: {row['why']}" if isinstance(row["why"], str) else ""))
    print(f"a1lab predict: {len(table)} fixtures, {scored} scored with {', '.join(loop.model_ids)}, "
          f"{len(table) - scored} with a reason" + (f" -> {args.out}" if args.out else ""), file=sys.stderr)
    return 0


def pd_options():
    """Print a whole table: every column and row, wide."""
    import pandas as pd

    return pd.option_context("display.max_columns", None, "display.width", 250, "display.max_colwidth", 60,
                             "display.max_rows", None)


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    """The data selection, shared by ``ingest`` and ``manifest`` (without source flags: params.yaml's)."""
    parser.add_argument("--params", default=None, help="params.yaml naming the data set (default: ./params.yaml)")
    parser.add_argument("--section", default="data", help="the params.yaml section of the data set")
    parser.add_argument("--provider", choices=["football-data", "synthetic"], default=None,
                        help="synthetic: the simulated league (with --synthetic-leagues/-seasons, --seed)")
    parser.add_argument("--root", default=None,
                        help=f"URL or local mirror of football-data.co.uk (auto: ${DATA_ROOT_ENV}, else the site)")
    parser.add_argument("--leagues", nargs="*", default=None, help="main-layout league codes (with --seasons)")
    parser.add_argument("--seasons", nargs="*", default=None, help="main-layout season codes (with --leagues)")
    parser.add_argument("--extra", nargs="*", default=None, help="extra-league codes (new/<CODE>.csv)")
    parser.add_argument("--generic", nargs="*", default=None, help="generic CSV files (date, home, away, ...)")
    parser.add_argument("--sport", default=None, help="sport of the --generic files (default football)")
    parser.add_argument("--date-format", default=None,
                        help="strptime format of the --generic files' dates (default: detected per file)")
    parser.add_argument("--synthetic-leagues", dest="synthetic_leagues", type=int, default=None,
                        help="leagues of the synthetic data set (default 5)")
    parser.add_argument("--synthetic-seasons", dest="synthetic_seasons", type=int, default=None,
                        help="seasons of the synthetic data set (default 11)")
    parser.add_argument("--seed", dest="seed", type=int, default=None, help="seed of the synthetic data set")


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
    predict = sub.add_parser("predict", help="score upcoming fixtures (fixtures.csv, new_league_fixtures.csv) "
                                             "with the registered model")
    predict.add_argument("source", nargs="?", default=None,
                         help="fixtures file or URL (default: fixtures.csv under the data root)")
    predict.add_argument("--model", action="append", help="registered model (default: params.yaml live.models)")
    predict.add_argument("--version", default="latest", help="model version (v1, v2, ... or latest)")
    predict.add_argument("--registry", default="models", help="the model registry folder")
    predict.add_argument("--state", default="data/feature_state.json",
                         help="feature state after the last settled match (the features stage's output)")
    predict.add_argument("--params", default="params.yaml", help="params file: live, backtest, features, data.root")
    predict.add_argument("--root", default=None, help="data root for the default file and the extra leagues' "
                                                      f"countries (default: params.yaml data.root, ${DATA_ROOT_ENV})")
    predict.add_argument("--out", default=None, help="also write the table: FILE.csv, or FILE.json")
    predict.set_defaults(func=cmd_predict)
    from a1lab.live.cli import add_parser

    add_parser(sub)
    return parser


PIPELINE_OUTPUTS = ("data", "models", "metrics", "reports")


def main(argv: list[str] | None = None) -> int:
    """Entry point; expected errors (bad data, bad params, a missing input or model) become one clear line
    with a hint and exit code 2, never a traceback."""
    args = build_parser().parse_args(argv)
    command = " ".join(filter(None, [args.command, getattr(args, "live_command", None)]))
    try:
        return args.func(args)
    except (DataUnavailableError, ValueError) as exc:  # DataFileError, ParamsError and AddressError are ValueErrors
        from a1lab.params import ParamsError

        # a bad live address, where a command loaded the transports (importing them here would cost
        # `a1lab manifest`, which every `dvc repro` runs, 0.1 s)
        transport = sys.modules.get("a1lab.live.transport")
        expected = (DataFileError, DataUnavailableError, ParamsError, UsageError,
                    *([transport.AddressError] if transport else []))
        if not isinstance(exc, expected):
            raise
        print(f"a1lab {command}: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        missing = Path(str(exc.filename or "")).parts[:1]
        hint = ("; `dvc repro` (or `make run`) writes data/, models/ and reports/"
                if set(missing) & set(PIPELINE_OUTPUTS) else "")
        print(f"a1lab {command}: {exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}{hint}",
              file=sys.stderr)
        return 2
    except OSError as exc:  # a folder where a file is due, no permission, a full disk, a feed refusing the token
        print(f"a1lab {command}: {exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
