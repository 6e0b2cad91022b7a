"""Live-loop benchmark: a full-speed replay of 2025/26, then 1,000 WebSocket clients on loopback.

    python bench/bench_live.py [--model xgb] [--clients 1000] [--messages 200] [--rate 20] [--busy 1 2 4]
                               [--nice 0 10]

1. Replay: the events of 2025/26 (five leagues; 32,588 with 1x2, over/under and handicap quotes) through the loop in
   this process at full speed. Prints events per second and the p50/p99 latency from
   reading an event's line to the emitted prediction(s), for the events that
   score a match; as a reference measured in the same run, the batch path
   (features of the whole table + one predict call) per match; and the time per event of each kind
   (fixtures, quotes, quotes that score, results). Then the same replay beside competing load: ``--busy``
   processes spinning on a CPU each, at each ``--nice`` value (0: the loop's own priority, as a training job
   started the usual way; 10: one started with ``nice``), with events/s and p99 against the idle run's.
2. Redis: the same events from a Redis stream (a real redis-server on 127.0.0.1, AOF with fsync always),
   read with a consumer group, predictions written to a stream and the checkpoint to a key, one
   transaction per commit: events per second beside the in-process replay's, same run.
3. Fan-out: ``a1lab live serve`` as its own process, the clients spread over 4
   processes; ``--messages`` prediction-sized messages at ``--rate`` per second.
   Prints p50/p99/max delivery latency (server send to client receive) and the
   lost count (every client must get every message). Bounded: it gives up
   after 120 s. ``--servers M`` is the fan-out tier: M servers each reading one Redis stream the messages
   are written to, latency from that write to the client's receipt, e.g. 10,000 clients::

       python bench/bench_live.py --skip-replay --no-redis --clients 10000 --servers 2 --client-processes 8 \
         --messages 60 --rate 1 \
         --name fanout

Uses the registered ``--model`` (``dvc repro``; ``ensemble`` is the fitted ensemble) when present, else
trains a small XGBoost model on the real files ($A1LAB_DATA_ROOT) into a temporary registry.
``--clients 0`` skips the fan-out, ``--no-redis`` the Redis run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


sys.path.insert(0, str(ROOT / "bench"))
from record import record  # noqa: E402

from a1lab.testing import loop_config  # noqa: E402  (the shipped settings)


def _model_and_matches(tmp: Path, name: str = "xgb"):
    import pandas as pd
    import yaml

    from a1lab import registry
    from a1lab.data.footballdata import load_football_data
    from a1lab.data.source import FileSource
    from a1lab.features import build_features
    from a1lab.models.xgb import XGBModel
    from a1lab.outcomes import RESULT_CODES
    from a1lab.params import check_section

    config = check_section("features", yaml.safe_load((ROOT / "params.yaml").read_text())["features"])
    if (ROOT / "data/matches.parquet").exists() and registry.versions(name, ROOT / "models"):
        return registry.load(name, root=ROOT / "models"), pd.read_parquet(ROOT / "data/matches.parquet"), config
    if name != "xgb":
        raise SystemExit(f"no registered model {name!r} in models/: run `dvc repro` first")
    root = os.environ.get("A1LAB_DATA_ROOT", str(ROOT.parent / "shared/data/football-data"))
    seasons = [f"{y % 100:02d}{y % 100 + 1:02d}" for y in range(2015, 2026)]
    matches = load_football_data(FileSource(root), ["E0", "SP1", "I1", "D1", "F1"], seasons).matches
    frame, _ = build_features(matches, config)
    offset = [f"mkt_pinnacle_open_p_{o}" for o in ("home", "draw", "away")]
    features = [c for c in frame.columns[7:] if "close" not in c and "move" not in c and c not in offset][::6]
    train, val = frame[frame["season"] <= "2324"], frame[frame["season"] == "2425"]
    model = XGBModel(features=features, offset=offset, n_estimators=200, early_stopping_rounds=30, seed=1)
    model.fit(train, train["result"].map(RESULT_CODES), eval_set=(val, val["result"].map(RESULT_CODES)))
    registry.register(model, "xgb", root=tmp, prediction_time="open")
    return registry.load("xgb", root=tmp), matches, config


def replay_bench(tmp: Path, name: str = "xgb", top_k: int = 3, loads: tuple = ()) -> dict:
    """The replay at full speed, idle and then beside each of ``loads``: (busy processes, their nice value)."""
    import copy

    import pandas as pd

    from a1lab.features import build_features
    from a1lab.live.replay import season_events

    model, matches, config = _model_and_matches(tmp, name)
    events = season_events(matches, "2526")
    lines = [json.dumps(e) for e in events]
    _, state = build_features(matches[matches["kickoff"] < pd.Timestamp(events[0]["ts"])], config)
    out = _replay(model, copy.deepcopy(state), lines, top_k)
    t0 = time.perf_counter()
    frame, _ = build_features(matches, config)
    season = frame[frame["season"] == "2526"]
    model.predict_proba(season)
    batch = time.perf_counter() - t0
    out |= {"batch_ms_per_match": batch / len(season) * 1000, "batch_seconds": batch}
    out["load"] = []
    for busy, nice in loads:
        with busy_processes(busy, nice):
            r = _replay(model, copy.deepcopy(state), lines, top_k)
        out["load"].append({"busy": busy, "nice": nice, **{k: r[k] for k in ("events_per_s", "p50_ms", "p99_ms")},
                            "p99_vs_idle": r["p99_ms"] / out["p99_ms"],
                            "throughput_vs_idle": r["events_per_s"] / out["events_per_s"]})
    return out


def _replay(model, state, lines: list[str], top_k: int) -> dict:
    from a1lab.live.events import parse_event
    from a1lab.live.loop import Loop

    loop = Loop([model], state, loop_config(top_k=top_k))
    latencies, started = [], time.perf_counter()
    by_kind: dict[str, list[float]] = {}  # where the replay's time goes: seconds and events of each kind
    for line in lines:
        t0 = time.perf_counter()
        event = parse_event(line)
        out = loop.process(event)
        spent = time.perf_counter() - t0
        scored = any(isinstance(m, dict) and m["type"] == "prediction" for m in out)
        if scored:
            latencies.append(spent)
        kind = by_kind.setdefault(f"{getattr(event, 'type', 'rejected')}{' scoring' if scored else ''}", [0.0, 0])
        kind[0] += spent
        kind[1] += 1
    seconds = time.perf_counter() - started
    lat = np.array(latencies) * 1000
    return {"events": len(lines), "seconds": seconds, "events_per_s": len(lines) / seconds,
            "scoring_events": len(lat), "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99)), "counts": loop.counts,
            "by_kind": {k: {"events": n, "seconds": t, "us_each": t / n * 1e6} for k, (t, n) in by_kind.items()}}


@contextlib.contextmanager
def busy_processes(n: int, nice: int):
    """``n`` processes spinning on a CPU each at the given nice value (competing load), killed on exit."""
    code = f"import os\nos.nice({nice})\nwhile True:\n    pass"
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]
    try:
        time.sleep(0.5)  # running before the measurement starts
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def redis_bench(tmp: Path, name: str = "xgb") -> dict:
    """The replay's events from a Redis stream through `drive` with Redis sink and checkpoint; events/s."""
    import pandas as pd
    import redis

    from a1lab.features import build_features
    from a1lab.live.loop import Loop
    from a1lab.live.replay import season_events
    from a1lab.live.runtime import Outputs, commit_point, drive
    from a1lab.live.transport import Opened
    from a1lab.testing import RedisServer

    model, matches, config = _model_and_matches(tmp, name)
    events = season_events(matches, "2526")
    _, state = build_features(matches[matches["kickoff"] < pd.Timestamp(events[0]["ts"])], config)
    server = RedisServer(tmp / "redis").start()
    try:
        client = redis.Redis(port=server.port)
        with client.pipeline(transaction=False) as pipe:
            for e in events:
                pipe.xadd("events", {"data": json.dumps(e)})
            pipe.execute()
        loop = Loop([model], state, loop_config())

        async def run() -> float:
            opened = Opened()
            source = opened.source(f"{server.url}?stream=events&group=bench")
            outputs = Outputs(sinks=[opened.sink(f"{server.url}?stream=out")])
            checkpoint = opened.checkpoint(f"{server.url}?key=cp")
            stop = asyncio.Event()

            async def commit(loop) -> None:
                await commit_point(loop, outputs, checkpoint, source)

            async def until_read() -> None:
                while source.read < len(events):
                    await asyncio.sleep(0.01)
                stop.set()

            t0 = time.perf_counter()
            await asyncio.gather(drive(loop, source, outputs, stop, commit), until_read())
            seconds = time.perf_counter() - t0
            await opened.close()
            return seconds

        seconds = asyncio.run(run())
        pending = client.xpending("events", "bench")["pending"]
        out = client.xlen("out")
        client.close()
    finally:
        server.kill()
    return {"events": len(events), "seconds": seconds, "events_per_s": len(events) / seconds, "pending": pending,
            "messages_out": out, "counts": loop.counts}


async def _clients(port: int, n: int, messages: int, deadline: float) -> dict:
    from websockets.asyncio.client import connect

    received = [0] * n
    latencies: list[float] = []

    async def one(k: int) -> None:
        async with connect(f"ws://127.0.0.1:{port}/", max_queue=None, open_timeout=60) as ws:
            await ws.recv()  # hello
            while received[k] < messages:
                msg = json.loads(await ws.recv())
                latencies.append(time.time() - msg.get("written", msg["sent"]))
                received[k] += 1

    tasks = [asyncio.ensure_future(one(k)) for k in range(n)]
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=deadline)
    except (TimeoutError, OSError) as exc:
        print(f"client process: {type(exc).__name__} {exc}", file=sys.stderr)
    return {"received": sum(received), "connected": n, "latencies": latencies}


def client_main(port: int, n: int, messages: int, deadline: float) -> None:
    result = asyncio.run(_clients(port, n, messages, deadline))
    print(json.dumps(result))


def fanout_bench(n_clients: int, messages: int, rate: float, processes: int = 4, servers: int = 1) -> dict:
    """``servers`` `live serve` processes, the clients spread over ``processes`` processes and over the servers.
    One server reads its stdin; several read one Redis stream (the fan-out tier), each message stamped when it is
    written there, so the latency runs from the write to the client's receipt."""
    from a1lab.testing import RedisServer, free_port, health, wait_for

    ports = [free_port() for _ in range(servers)]
    redis_server, folder = None, tempfile.TemporaryDirectory()
    if servers > 1:
        redis_server = RedisServer(Path(folder.name) / "redis", fsync="everysec").start()
        source = f"redis://127.0.0.1:{redis_server.port}/0?stream=predictions&from=$"
    procs = [subprocess.Popen([sys.executable, "-m", "a1lab.cli", "live", "serve", "--input",
                               "-" if servers == 1 else source, "--bind", f"127.0.0.1:{port}"],
                              stdin=subprocess.PIPE if servers == 1 else None, stderr=subprocess.DEVNULL, text=True)
             for port in ports]
    clients = []
    try:
        wait_for(lambda: all(health(p) is not None for p in ports), 60, "the servers")
        share = [n_clients // processes + (k < n_clients % processes) for k in range(processes)]
        clients = [subprocess.Popen([sys.executable, __file__, "--client", str(ports[k % servers]), str(n),
                                     str(messages)], stdout=subprocess.PIPE, text=True) for k, n in enumerate(share)]
        t0 = time.monotonic()
        while sum((health(p) or {}).get("clients", 0) for p in ports) < n_clients:
            if time.monotonic() - t0 > 120:
                connected = sum((health(p) or {}).get("clients", 0) for p in ports)
                raise RuntimeError(f"only {connected} of {n_clients} clients connected")
            time.sleep(0.2)
        connect_s = time.monotonic() - t0
        payload = {"type": "prediction", "match_id": "x" * 16, "p": {"home": 0.45, "draw": 0.27, "away": 0.28},
                   "shap": [{"feature": "home_elo_expected", "value": 0.61, "contribution": 0.031}] * 3,
                   "market": {"book": "pinnacle", "timing": "open", "p": {"home": 0.44, "draw": 0.28, "away": 0.28}}}
        if redis_server is not None:
            import redis

            writer = redis.Redis(port=redis_server.port)
        for i in range(messages):
            if redis_server is None:
                procs[0].stdin.write(json.dumps({**payload, "i": i}) + "\n")
                procs[0].stdin.flush()
            else:
                writer.xadd("predictions", {"data": json.dumps({**payload, "i": i, "written": time.time()})})
            time.sleep(1.0 / rate)
        results = [json.loads(c.communicate(timeout=180)[0]) for c in clients]
    finally:
        for c in clients:
            if c.poll() is None:
                c.kill()
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        if redis_server is not None:
            redis_server.kill()
        folder.cleanup()
    lat = np.concatenate([r["latencies"] for r in results]) * 1000
    received = sum(r["received"] for r in results)
    return {"clients": n_clients, "servers": servers, "client_processes": processes, "messages": messages,
            "rate": rate, "connect_s": connect_s, "expected": n_clients * messages, "received": received,
            "lost": n_clients * messages - received, "latency_from": "server send" if servers == 1 else "stream write",
            "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
            "max_ms": float(lat.max())}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        client_main(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), 120.0)
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="xgb", help="registered model the replay scores with (ensemble too)")
    parser.add_argument("--top-k", type=int, default=3, help="SHAP reasons per prediction (live.top_k; 0: none)")
    parser.add_argument("--clients", type=int, default=1000, help="WebSocket clients of the fan-out (0: skip it)")
    parser.add_argument("--messages", type=int, default=200, help="messages each client must receive")
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second")
    parser.add_argument("--servers", type=int, default=1,
                        help="fan-out servers (several: each reads one Redis stream, the fan-out tier)")
    parser.add_argument("--client-processes", type=int, default=4, help="processes the clients are spread over")
    parser.add_argument("--name", default="live", help="the figures go to reports/bench/NAME.json")
    parser.add_argument("--skip-replay", action="store_true", help="only the fan-out")
    parser.add_argument("--no-redis", action="store_true", help="skip the Redis stream run")
    cpus = os.cpu_count() or 1
    parser.add_argument("--busy", type=int, nargs="*",
                        default=sorted({max(1, cpus // 2), cpus, 3 * cpus // 2, 2 * cpus}),
                        help="replay again beside this many busy processes (competing load), each count in turn "
                             "(default: half, one, one and a half and two per CPU)")
    parser.add_argument("--nice", type=int, nargs="*", default=[0, 10],
                        help="the busy processes' nice values, each in turn (0: the loop's own priority)")
    args = parser.parse_args()
    load_before, figures = os.getloadavg()[0], {"model": args.model, "top_k": args.top_k}
    if not args.skip_replay:
        with tempfile.TemporaryDirectory() as tmp:
            r = replay_bench(Path(tmp), args.model, args.top_k,
                             tuple((b, n) for n in args.nice for b in args.busy if b > 0))
        print(f"replay 2025/26 ({args.model}, top_k {args.top_k}): {r['events']} events in {r['seconds']:.1f} s = "
              f"{r['events_per_s']:.0f} events/s; "
              f"{r['scoring_events']} scoring events, latency p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms")
        print(f"  reference (batch, same run): features of all matches + one predict = {r['batch_seconds']:.1f} s, "
              f"{r['batch_ms_per_match']:.2f} ms per 2025/26 match; live p50 / batch per match = "
              f"{r['p50_ms'] / r['batch_ms_per_match']:.1f}x")
        print("  by kind: " + "; ".join(f"{k} {v['events']} x {v['us_each']:.0f} us = {v['seconds']:.2f} s"
                                        for k, v in r["by_kind"].items()))
        r["two_per_core"] = {f"nice_{x['nice']}": x for x in r["load"] if x["busy"] == 2 * (os.cpu_count() or 1)}
        for x in r["load"]:
            print(f"  beside {x['busy']} busy processes at nice {x['nice']}: {x['events_per_s']:.0f} events/s "
                  f"({x['throughput_vs_idle']:.2f}x idle), p50 {x['p50_ms']:.1f} ms, p99 {x['p99_ms']:.1f} ms "
                  f"({x['p99_vs_idle']:.1f}x idle)")
        figures["replay"] = r
    if not args.skip_replay and not args.no_redis:
        with tempfile.TemporaryDirectory() as tmp:
            q = redis_bench(Path(tmp), args.model)
        ratio = q["events_per_s"] / r["events_per_s"]
        print(f"redis stream ({args.model}): {q['events']} events in {q['seconds']:.1f} s = {q['events_per_s']:.0f} "
              f"events/s (in-process replay {r['events_per_s']:.0f}/s, same run: {ratio:.2f}x); "
              f"{q['messages_out']} messages to the out stream, {q['pending']} unacknowledged")
        figures["redis"] = q
    if args.clients <= 0:
        record(args.name, figures, load_before)
        return
    f = fanout_bench(args.clients, args.messages, args.rate, args.client_processes, args.servers)
    print(f"fan-out: {f['clients']} clients on {f['servers']} servers (connected in {f['connect_s']:.1f} s), "
          f"{f['messages']} messages at "
          f"{f['rate']:.0f}/s: received {f['received']}/{f['expected']}, lost {f['lost']}, "
          f"latency p50 {f['p50_ms']:.1f} ms, p99 {f['p99_ms']:.1f} ms, max {f['max_ms']:.1f} ms")
    figures["fanout"] = f
    record(args.name, figures, load_before)
    if f["lost"] or f["p99_ms"] > 250:
        print("TARGET MISSED: 0 lost and p99 < 250 ms", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
