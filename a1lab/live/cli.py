"""``a1lab live replay | run | serve``: the command-line edge of the live loop.

This is where params.yaml, environment variables, files, signals and the clock
are read; everything below takes explicit arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger("a1lab.live")
TOKEN_ENV = "A1LAB_LIVE_TOKEN"


def loop_params(path: str):
    """The params file, validated (:class:`a1lab.params.Params`): the loop's settings and their defaults live there.

    Raises:
        ParamsError: no such file, or a bad key (one line naming it).
    """
    from a1lab.params import ParamsError, load_params

    if not Path(path).is_file():
        raise ParamsError(f"no params file {path}: the live loop reads its settings from it (--params)")
    return load_params(path)


def _iso_time(text: str):
    """An ISO 8601 time with its UTC offset (argparse type: a bad one is argparse's one-line usage error)."""
    from datetime import datetime

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO time such as 2025-08-15T12:00:00+00:00") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset (add +00:00 or Z)")
    return value


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


# -- replay -------------------------------------------------------------------------------------
def cmd_replay(args: argparse.Namespace) -> int:
    """Write a season's events as JSONL to a sink (a file, stdout or a Redis stream), optionally paced."""
    import pandas as pd

    from a1lab.live.replay import latest_season, season_events
    from a1lab.usage import UsageError

    matches = pd.read_parquet(args.matches)
    args.season = args.season or latest_season(matches)
    try:
        events = season_events(matches, args.season, args.leagues or None)
    except ValueError as exc:  # no such season (or league) in the data
        raise UsageError(f"{exc}; the data's seasons: {', '.join(sorted(matches['season'].astype(str).unique()))}") \
            from None
    try:
        asyncio.run(_replay(events, args.out, args.speed))
    except BrokenPipeError:
        return 0
    print(f"a1lab live replay: {len(events)} events of season {args.season}", file=sys.stderr)
    return 0


async def _replay(events: list[dict], out: str, speed: float) -> None:
    """Write ``events`` to the sink at ``out``, committed at once when paced (``speed`` > 0), else every 1000."""
    from a1lab.live.transport import Opened, commit

    opened = Opened(attempts=3)  # a one-shot command: an unreachable server is an error, not a wait
    sink = opened.sink(out)
    started, first = time.monotonic(), datetime.fromisoformat(events[0]["ts"])
    try:
        for n, e in enumerate(events, 1):
            if speed > 0:
                due = (datetime.fromisoformat(e["ts"]) - first).total_seconds() / speed
                await asyncio.sleep(max(0.0, due - (time.monotonic() - started)))
            sink.write(e)
            if speed > 0 or n % 1000 == 0:
                await commit([sink])
        await commit([sink])
    finally:
        sink.close()
        await opened.close()


# -- run ----------------------------------------------------------------------------------------
async def _prepend(first: list, rest: AsyncIterator) -> AsyncIterator:
    for line in first:
        yield line
    async for line in rest:
        yield line


def resume(loop, data: bytes, where: str) -> None:
    """Resume ``loop`` from a checkpoint's bytes.

    Raises:
        CheckpointError: not JSON or not a checkpoint this loop can resume from, with how to start over.
    """
    from a1lab.live.checkpoint import CheckpointError

    try:
        loop.restore(json.loads(data))
    except (ValueError, RecursionError) as exc:
        why = str(exc) if isinstance(exc, CheckpointError) else f"unreadable ({type(exc).__name__}: {exc})"
        raise CheckpointError(f"checkpoint {where}: {why}. To start over, delete it or pass --checkpoint ''") from None


def history_state(matches_path: str | None, cutoff, config):
    """The feature state after every match of the history that kicked off before ``cutoff``."""
    import pandas as pd

    from a1lab.features import build_features
    from a1lab.features.state import FeatureState

    if not matches_path:
        log.warning("no --history: the feature state starts empty (cold start)")
        return FeatureState(config)
    matches = pd.read_parquet(matches_path)
    before = matches[matches["kickoff"] < pd.Timestamp(cutoff)]
    log.info("feature state from %d history matches before %s", len(before), cutoff)
    return build_features(before, config)[1]


class ModelChoiceError(ValueError):
    """The registered models cannot be scored live: different prediction times, or line-up time."""


def load_models(names: list[str] | None, version: str, registry_root: str, params) -> tuple[list, str]:
    """Registered models (default: params.yaml live.models) and the prediction time they share.

    Raises:
        ModelChoiceError: models trained for different prediction times, or for line-up time (no line-up event
            yet).
    """
    from a1lab import registry

    names = names or params.live.models
    models = [registry.load(n, version, root=registry_root) for n in names]
    timings = {m.metadata.get("prediction_time", "open") for m in models}
    if "lineup" in timings:
        raise ModelChoiceError(f"models {names} forecast at line-up time (protocol.prediction_time: lineup), "
                               "from player features the live loop cannot compute: it takes no line-up event yet")
    if len(timings) > 1:
        raise ModelChoiceError(f"models {names} were trained for different prediction times {sorted(timings)}")
    return models, timings.pop()


def loop_config(params):
    """The loop's settings from the validated params' live, backtest (value rule) and features (margin) sections."""
    from a1lab.live.loop import LoopConfig

    live, bt = params.live, params.backtest
    return LoopConfig(margin_method=params.features.margin_method, market_book=live.market_book,
                      value_rule=bt.value_rule(), staking=live.staking.staking(), window=live.window,
                      min_window=live.min_window, top_k=live.top_k, horizon_days=live.horizon_days)


async def _run(args: argparse.Namespace, params) -> int:
    from a1lab.live.transport import Opened
    from a1lab.monitoring.config import build_monitoring

    models, timing = load_models(args.model, args.version, args.registry, params)
    config = loop_config(params)
    alerts, dispatcher = (None, None) if args.no_alerts else build_monitoring(params.monitoring, os.environ)
    opened = Opened(token=os.environ.get(args.token_env) or None)
    try:
        return await _run_with(args, params, models, timing, config, alerts, dispatcher, params.features,
                               opened.source(args.source), opened.checkpoint(args.checkpoint), opened)
    finally:
        await opened.close()


async def _run_with(args, params, models, timing, config, alerts, dispatcher, feature_config, source, checkpoint,
                    opened) -> int:
    from a1lab.features.state import FeatureState
    from a1lab.live.events import Rejection, parse_event
    from a1lab.live.loop import Loop
    from a1lab.live.metrics import LiveMetrics
    from a1lab.live.runtime import LineReader, Outputs, commit_point, drive
    from a1lab.live.server import Broadcaster, host_port
    from a1lab.live.transport import IDLE, Detached, detach

    live = params.live
    stop = asyncio.Event()
    _stop_on_signals(stop)
    lines = source
    snapshot = None if checkpoint is None else await checkpoint.load()
    resumed = None
    if snapshot is not None:
        loop = Loop(models, FeatureState(feature_config), config, alerts, timing)
        resume(loop, snapshot, str(checkpoint))
        resumed = dict(loop.counts)
        log.info("resumed from %s: %s", args.checkpoint, loop.counts)
    else:
        # the stream starts at the first valid event (bad lines before it go to the dead letter as usual)
        head, cutoff = [], args.start
        with LineReader(lines, stop) as reader:
            while cutoff is None and (line := await reader.next()) is not None:
                if line is IDLE:
                    continue
                head.append(line)
                event = parse_event(line)
                cutoff = None if isinstance(event, Rejection) else event.ts
        if not head and cutoff is None:
            print("a1lab live run: the source is empty", file=sys.stderr)
            return 0
        if cutoff is None:
            log.warning("no valid event in the source: every line goes to the dead letter")
            state = FeatureState(feature_config)
        else:
            state = await asyncio.to_thread(history_state, args.history, cutoff, feature_config)
        loop = Loop(models, state, config, alerts, timing)
        lines = _prepend(head, reader.it)
    server, metrics, reading = None, LiveMetrics(), {"state": "reading"}

    sinks = detach([opened.sink(p) for p in args.out], checkpoint, source, params.monitoring)

    def status() -> dict:  # /health of `live run --serve`: ready once the models are loaded and the source open
        age = None if metrics.last_event is None else time.time() - metrics.last_event
        last = loop.ledger.last_event_time
        return {"ready": bool(loop.models) and reading["state"] != "failed", "models": loop.model_ids,
                "source": reading["state"], "events": loop.counts["events"], "last_event_age_s": age,
                "last_event_ts": None if last is None else last.isoformat(),
                "lag_s": None if last is None else time.time() - last.timestamp(),
                "sinks": {str(s.sink): s.state for s in sinks if isinstance(s, Detached)}}

    if args.serve:
        server = Broadcaster(token=os.environ.get(args.token_env) or None, metrics=metrics, status=status)
        await server.start(*host_port(args.serve))
    outputs = Outputs(sinks=sinks, dispatcher=dispatcher, server=server,
                      metrics=metrics, dead_letter=opened.sink(args.dead_letter) if args.dead_letter else None)

    async def commit(loop: Loop) -> None:
        await commit_point(loop, outputs, checkpoint, source)

    try:
        try:
            counts = await drive(loop, lines, outputs, stop, commit, live.checkpoint_every, live.quiet_check,
                                 commit_interval=args.commit_interval)
        except Exception:
            reading["state"] = "failed"
            raise
        reading["state"] = "ended"
        if server is not None and args.linger > 0 and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=args.linger)
    finally:
        await outputs.close(wait=params.monitoring.timeout)
        if server is not None:
            await server.close()
        if dispatcher is not None:  # what the channels hold, for at most one alert's tries
            m = params.monitoring
            await asyncio.to_thread(dispatcher.close, m.attempts * m.timeout + m.backoff * 2 ** m.attempts)
    if resumed is not None:  # the counts are the checkpoint's and this run's together
        new = {k: v - resumed.get(k, 0) for k, v in counts.items()}
        print(f"a1lab live run: resumed from {args.checkpoint}, which had {resumed.get('events', 0):,} events; this "
              f"run: {new.get('events', 0):,} new events, {new.get('predictions', 0):,} new predictions "
              f"({new.get('seen_before_restart', 0):,} lines the checkpoint had seen)", file=sys.stderr)
    print(f"a1lab live run: {json.dumps(counts)}", file=sys.stderr)
    for sink in (s for s in outputs.sinks if isinstance(s, Detached)):
        print(f"a1lab live run: sink {sink.sink}: {sink.sent:,} messages sent, {sink.dropped:,} dropped, breaker "
              f"{sink.state}", file=sys.stderr)
    if dispatcher is not None and dispatcher.deliveries:
        tally = Counter(d.status for d in dispatcher.deliveries)
        print(f"a1lab live run: alert deliveries {json.dumps(dict(sorted(tally.items())))}", file=sys.stderr)
    return 0


def _log_to_stderr(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    """Run the scoring loop until the source ends or a signal arrives; a checkpoint it cannot resume from,
    or a bad params file, is one line on stderr and exit code 2."""
    from a1lab.live.checkpoint import CheckpointError
    from a1lab.live.server import BindError, host_port
    from a1lab.live.transport import AddressError
    from a1lab.params import ParamsError

    _log_to_stderr(args.verbose)
    try:
        if args.serve:
            host_port(args.serve)  # a bad address is refused before the models load
        return asyncio.run(_run(args, loop_params(args.params)))
    except (CheckpointError, ParamsError, AddressError, BindError, ModelChoiceError) as exc:
        print(f"a1lab live run: {exc}", file=sys.stderr)
        return 2


# -- route --------------------------------------------------------------------------------------
async def _route(args: argparse.Namespace, countries: dict[str, str]) -> int:
    from a1lab.live.partition import route
    from a1lab.live.redis_streams import Connections, RedisTarget, StreamSource

    source_at, out = RedisTarget.parse(args.source, "stream"), RedisTarget.parse(args.out, "stream")
    source_at = RedisTarget(*source_at.server, source_at.name, {"group": "router", **source_at.params})
    stop = asyncio.Event()
    _stop_on_signals(stop)
    redis = Connections()
    try:
        routed = await route(StreamSource(redis.client(source_at), source_at), out, args.partitions, countries,
                             stop=stop)
    finally:
        await redis.close()
    print(f"a1lab live route: {routed:,} events into {out.name}.0 ... {out.name}.{args.partitions - 1}",
          file=sys.stderr)
    return 0


def cmd_route(args: argparse.Namespace) -> int:
    """Split a Redis stream of events by country into one stream per partition, until a signal arrives."""
    from a1lab.live.transport import AddressError
    from a1lab.params import ParamsError
    from a1lab.usage import UsageError

    _log_to_stderr(args.verbose)
    if args.partitions < 1:
        raise UsageError("--partitions must be at least 1")
    try:
        features = loop_params(args.params).features
        countries = {league: country for league, (country, _) in features.countries().items()}
        return asyncio.run(_route(args, countries))
    except (ParamsError, AddressError) as exc:
        print(f"a1lab live route: {exc}", file=sys.stderr)
        return 2


def cmd_cluster(args: argparse.Namespace) -> int:
    """Run redis-server, the router, the scoring processes and the fan-out under supervisord, in the foreground;
    Ctrl-C or SIGTERM stops them all."""
    import shutil

    from a1lab.live.cluster import supervisor_config
    from a1lab.usage import UsageError

    redis_server = shutil.which("redis-server")
    supervisord = shutil.which("supervisord", path=str(Path(sys.executable).parent)) or shutil.which("supervisord")
    if redis_server is None or supervisord is None:
        raise UsageError(f"{'redis-server' if redis_server is None else 'supervisord'} not found: "
                         "`make install` installs supervisor; Debian's redis-server: apt-get install redis-server")
    if min(args.partitions, args.replicas) < 1:
        raise UsageError("--partitions and --replicas must be at least 1")
    from a1lab import registry

    models = args.model or loop_params(args.params).live.models  # a bad params file is refused here, not in turn
    missing = [m for m in models if not registry.versions(m, args.registry)]  # by each program
    if missing:
        raise UsageError(f"no registered model {', '.join(missing)} under {args.registry} (`dvc repro` trains and "
                         "registers the models of params.yaml; --model names others)")
    folder = Path(args.folder).resolve()
    for sub in ("logs", "redis"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    config = folder / "supervisord.conf"
    config.write_text(supervisor_config(folder, redis_server, args.port, args.partitions, args.serve,
                                        str(Path(args.params).resolve()), str(Path(args.registry).resolve()),
                                        str(Path(args.history).resolve()), models, args.replicas))
    url = f"redis://127.0.0.1:{args.port}/0"
    print(f"a1lab live cluster: redis-server on 127.0.0.1:{args.port}, {args.partitions * args.replicas} scoring "
          f"processes ({args.partitions} partitions x {args.replicas}), "
          f"{len(args.serve)} servers ({', '.join(args.serve) or 'none'}) under supervisord ({config}); events in "
          f"{url}?stream=events, predictions in {url}?stream=predictions; logs in {folder / 'logs'}; Ctrl-C stops "
          "them all", file=sys.stderr, flush=True)
    os.execv(supervisord, [supervisord, "-c", str(config)])
    return 0  # not reached


# -- serve --------------------------------------------------------------------------------------
async def _serve(args: argparse.Namespace) -> int:
    from a1lab.live.server import Broadcaster, host_port, serve_lines
    from a1lab.live.transport import Opened

    stop = asyncio.Event()
    _stop_on_signals(stop)
    token = os.environ.get(args.token_env) or None
    opened = Opened(token=token)
    lines = opened.follow(args.input)  # a bad address is refused before the server listens
    server = Broadcaster(token=token, history=args.history)
    await server.start(*host_port(args.bind))
    print(f"a1lab live serve: ws://{host_port(args.bind)[0]}:{server.port}/", file=sys.stderr, flush=True)
    feeder = asyncio.ensure_future(serve_lines(server, lines, args.rate, args.dedupe))
    await asyncio.wait({feeder, asyncio.ensure_future(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
    if feeder.done() and not stop.is_set():
        log.info("input done: %d messages; serving until stopped", feeder.result())
        await stop.wait()
    feeder.cancel()
    await server.close()
    await opened.close()
    print(f"a1lab live serve: {json.dumps(server.health())}", file=sys.stderr)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print a running loop's readiness and metrics (from its server's /health and /metrics): 0 when ready,
    1 when not, 2 when nothing answers."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    from a1lab.usage import UsageError

    base = args.url.rstrip("/")
    if urlsplit(base).scheme not in ("http", "https"):
        raise UsageError(f"{args.url!r} is no http:// URL of a server (`a1lab live run --serve HOST:PORT` prints it)")
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=5) as answer:
            health = json.loads(answer.read())
    except urllib.error.HTTPError as exc:  # 503: not ready, with the same body
        health = json.loads(exc.read() or b"{}")
    except OSError as exc:
        print(f"a1lab live status: nothing answers at {base} ({exc}); start `a1lab live run --serve HOST:PORT`",
              file=sys.stderr)
        return 2
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as answer:
        families = {f.name: f for f in text_string_to_metric_families(answer.read().decode())}
    age = health.get("last_event_age_s")
    print(f"{'ready' if health.get('ready') else 'NOT READY'}: models {health.get('models', '-')}, source "
          f"{health.get('source', '-')}, {health.get('events', '-')} events, last "
          f"{'-' if age is None else f'{age:.1f} s ago'}; {health.get('clients')} clients, "
          f"{health.get('dropped')} dropped")
    for name, title in (("a1lab_live_events", "events"), ("a1lab_live_rejected", "rejected"),
                        ("a1lab_live_alerts", "alerts")):
        rows = [(s.labels, s.value) for s in families[name].samples if s.name.endswith("_total")] \
            if name in families else []
        if rows:
            print(f"{title}: " + ", ".join(f"{'/'.join(labels.values())} {value:.0f}" for labels, value in rows))
    buckets = [(float(s.labels["le"]), s.value) for s in families.get("a1lab_live_scoring_seconds").samples
               if s.name.endswith("_bucket")] if "a1lab_live_scoring_seconds" in families else []
    if buckets and buckets[-1][1] > 0:
        total = buckets[-1][1]
        bounds = [0.0] + [le for le, _ in buckets]

        def bucket(q: float) -> str:  # the histogram bucket that holds the quantile, as its bounds
            i = next(i for i, (_, n) in enumerate(buckets) if n >= q * total)
            return f"({bounds[i] * 1e3:g}, {bounds[i + 1] * 1e3:g}] ms"

        print(f"scoring latency over {total:.0f} events, from the histogram's buckets: p50 in {bucket(0.5)}, "
              f"p99 in {bucket(0.99)}")
    return 0 if health.get("ready") else 1


def cmd_serve(args: argparse.Namespace) -> int:
    """Broadcast JSON lines to WebSocket clients until a signal arrives; an address it cannot or must not
    listen on is one line and exit code 2."""
    from a1lab.live.server import BindError
    from a1lab.live.transport import AddressError

    _log_to_stderr(args.verbose)
    try:
        return asyncio.run(_serve(args))
    except (BindError, AddressError) as exc:
        print(f"a1lab live serve: {exc}", file=sys.stderr)
        return 2


def add_parser(sub) -> None:
    """Add ``live`` and its commands to the ``a1lab`` parser."""
    live = sub.add_parser("live", help="the live scoring loop: replay a season, run the loop, serve a stream")
    cmds = live.add_subparsers(dest="live_command", required=True, metavar="LIVE_COMMAND")

    rp = cmds.add_parser("replay", help="a season of the match table as time-ordered JSONL events")
    rp.add_argument("--matches", default="data/matches.parquet", help="the match table (a1lab ingest's output)")
    rp.add_argument("--season", default=None, help="season label (default: the season of the last kick-off)")
    rp.add_argument("--leagues", nargs="*", default=[], help="only these leagues (default: every league)")
    rp.add_argument("--out", default="-", help="JSONL file, - for stdout, or redis://HOST:PORT/DB?stream=NAME")
    rp.add_argument("--speed", type=float, default=0.0,
                    help="event-time seconds per wall-clock second (0: as fast as possible)")
    rp.set_defaults(func=cmd_replay)

    rn = cmds.add_parser("run", help="score events from a file, stdin or a WebSocket feed")
    rn.add_argument("--source", default="-", help="JSONL file, - for stdin, ws://host:port/ of a feed, or "
                    "redis://HOST:PORT/DB?stream=NAME&group=G&consumer=C (a consumer group; acknowledged at commits)")
    rn.add_argument("--out", nargs="*", default=["-"], help="sinks: JSONL files, - for stdout, "
                    "redis://HOST:PORT/DB?stream=NAME&maxlen=N; none: --out with no value")
    rn.add_argument("--dead-letter", default="data/live/dead_letter.jsonl", help="rejected events ('' for none)")
    rn.add_argument("--checkpoint", default="data/live/checkpoint.json",
                    help="resume file, or redis://HOST:PORT/DB?key=NAME ('' for none)")
    rn.add_argument("--history", default="data/matches.parquet",
                    help="matches before the stream's start initialise the feature state ('' for none)")
    rn.add_argument("--start", default=None, type=_iso_time,
                    help="ISO time the stream starts, e.g. 2025-08-15T12:00:00+00:00 (default: the first event's ts)")
    rn.add_argument("--model", action="append", help="registered model (repeat to average several); "
                                                     "default: params.yaml live.models")
    rn.add_argument("--version", default="latest", help="model version (v1, v2, ... or latest)")
    rn.add_argument("--registry", default="models", help="the model registry folder")
    rn.add_argument("--params", default="params.yaml", help="params file: its live, monitoring, features sections")
    rn.add_argument("--serve", default=None, help="also broadcast over WebSocket on HOST:PORT")
    rn.add_argument("--commit-interval", type=float, default=0.5,
                    help="seconds between commits while the source is idle (each writes the whole checkpoint)")
    rn.add_argument("--linger", type=float, default=0.0, help="with --serve: seconds to keep serving after the input")
    rn.add_argument("--token-env", default=TOKEN_ENV, help="environment variable holding the bearer token")
    rn.add_argument("--no-alerts", action="store_true", help="no alert rules or channels")
    rn.add_argument("-v", "--verbose", action="store_true", help="progress messages (INFO) on stderr")
    rn.set_defaults(func=cmd_run)

    ro = cmds.add_parser("route", help="split a Redis stream of events by country, one stream per scoring process")
    ro.add_argument("--source", required=True, help="redis://HOST:PORT/DB?stream=NAME (read with the group "
                                                    "'router' unless ?group= names another)")
    ro.add_argument("--out", required=True, help="redis://HOST:PORT/DB?stream=NAME: writes NAME.0 ... NAME.<N-1> "
                                                 "and the match table NAME.routes")
    ro.add_argument("--partitions", type=int, required=True, help="how many scoring processes share the events")
    ro.add_argument("--params", default="params.yaml", help="params file: features.divisions (a country's leagues)")
    ro.add_argument("-v", "--verbose", action="store_true", help="progress messages (INFO) on stderr")
    ro.set_defaults(func=cmd_route)

    cl = cmds.add_parser("cluster", help="redis-server, the router, N scoring processes and the fan-out under "
                                         "supervisord (each restarted when it dies)")
    cl.add_argument("--partitions", type=int, default=2, help="partitions of the events, by country")
    cl.add_argument("--replicas", type=int, default=1,
                    help="scoring processes per partition, each scoring all of it (the fan-out drops the copies)")
    cl.add_argument("--port", type=int, default=6390, help="Redis's port on 127.0.0.1")
    cl.add_argument("--serve", nargs="*", default=["127.0.0.1:8765"], help="HOST:PORT of each fan-out server")
    cl.add_argument("--folder", default="data/live/cluster", help="supervisor's and Redis's files, the logs")
    cl.add_argument("--params", default="params.yaml", help="the params file every program reads")
    cl.add_argument("--registry", default="models", help="the model registry folder")
    cl.add_argument("--model", action="append", help="registered model (repeat for several; default: live.models)")
    cl.add_argument("--history", default="data/matches.parquet", help="the match table the state starts from")
    cl.set_defaults(func=cmd_cluster)

    st = cmds.add_parser("status", help="a running loop's readiness, counts and latency (its /health, /metrics)")
    st.add_argument("url", nargs="?", default="http://127.0.0.1:8765",
                    help="the loop's server, as given to `live run --serve` (default http://127.0.0.1:8765)")
    st.set_defaults(func=cmd_status)

    sv = cmds.add_parser("serve", help="broadcast JSON lines (a feed, or run's output) to WebSocket clients")
    sv.add_argument("--input", default="-", help="JSONL file, - for stdin, or redis://HOST:PORT/DB?stream=NAME"
                    "&from=ID (read without a group; from 0 by default, $ for new entries only)")
    sv.add_argument("--bind", default="127.0.0.1:8765", help="HOST:PORT (port 0: any free port)")
    sv.add_argument("--rate", type=float, default=0.0, help="messages per second (0: as they come)")
    sv.add_argument("--history", type=int, default=100_000, help="messages kept for clients that resume")
    sv.add_argument("--dedupe", type=int, default=0,
                    help="skip a line equal to one of the last N (the input of scoring replicas; 0: none)")
    sv.add_argument("--token-env", default=TOKEN_ENV, help="environment variable holding the bearer token")
    sv.add_argument("-v", "--verbose", action="store_true", help="progress messages (INFO) on stderr")
    sv.set_defaults(func=cmd_serve)
