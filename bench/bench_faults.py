"""Availability under faults: the live cluster fed a season at a steady rate while its processes are killed.

    python bench/bench_faults.py [--minutes 10] [--every 30] [--clients 100] [--replicas 2] [--model ensemble]

``a1lab live cluster`` (redis-server, the router, two partitions each scored by ``--replicas`` processes, two
fan-out servers, under supervisord) gets the latest season's events of ``data/matches.parquet`` at a steady rate
over ``--minutes``. Every ``--every`` seconds a random scoring, routing or fan-out process is killed with SIGKILL
(supervisord restarts it), and redis-server once, halfway. ``--clients`` WebSocket clients in separate processes
are each connected to every fan-out server (a client that loses one server still reads the other) and record
when each prediction first reaches them.

A prediction is due one second after the event that causes it was written to the events stream (the one-process
run of the same events says which event causes which prediction). A second is good when every client got every
prediction due from the events of that second on time. Figures, in ``reports/bench/faults.json``: the share of
good seconds (the seed's claim: 99.9 %), the bad seconds after each kind of kill, predictions lost (a client
never got one), and whether each replica's predictions equal the one-process run's, each once. Needs ``dvc repro``
(models/ and data/) and Debian's redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
A1LAB = [sys.executable, "-m", "a1lab.cli", "live"]

sys.path.insert(0, str(ROOT / "bench"))
from record import record  # noqa: E402

DUE_S = 1.0


async def _read(urls: list[str], clients: int) -> dict:
    """``clients`` clients, each reading every url; until SIGTERM. Per prediction: how many clients got it and
    when the last of them first did."""
    from a1lab.live.streams import Backoff, websocket_lines

    first: list[dict] = [{} for _ in range(clients)]

    async def one(k: int, url: str) -> None:
        async for message in websocket_lines(url, backoff=Backoff(base=0.05, cap=0.5)):
            m = json.loads(message)
            if m.get("type") == "prediction":
                first[k].setdefault(f"{m['match_id']}/{m['revision']}", time.time())

    logging.getLogger("a1lab.live").setLevel(logging.ERROR)  # a killed server's clients retry: expected here
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    tasks = [asyncio.ensure_future(one(k, url)) for k in range(clients) for url in urls]
    await stop.wait()
    for task in tasks:
        task.cancel()
    got: dict[str, list] = {}
    for seen in first:
        for key, at in seen.items():
            count, last = got.get(key, (0, 0.0))
            got[key] = [count + 1, max(last, at)]
    return got


def _ctl(folder: Path, *argv: str) -> str:
    ctl = Path(sys.executable).parent / "supervisorctl"
    return subprocess.run([str(ctl), "-c", str(folder / "supervisord.conf"), *argv], capture_output=True,
                          text=True).stdout.strip()


def _baseline(events_file: Path, tmp: Path, models: list[str]) -> dict:
    """The one-process run: (match_id, revision) -> (the event that caused it, its probabilities)."""
    out = tmp / "baseline.jsonl"
    subprocess.run([*A1LAB, "run", "--source", str(events_file), "--out", str(out), "--checkpoint", "",
                    "--dead-letter", "", "--history", str(ROOT / "data/matches.parquet"), "--registry",
                    str(ROOT / "models"), *(a for m in models for a in ("--model", m))], check=True,
                   capture_output=True, cwd=ROOT)
    return {f"{m['match_id']}/{m['revision']}": (m["event_id"], m["p"])
            for m in map(json.loads, out.read_text().splitlines()) if m["type"] == "prediction"}


def soak(minutes: float, every: float, n_clients: int, models: list[str], seed: int, warmup: int,
         replicas: int, client_processes: int = 2) -> dict:
    import pandas as pd
    import redis

    from a1lab.live.replay import latest_season, season_events
    from a1lab.testing import free_port, health, redis_up, wait_for

    matches = pd.read_parquet(ROOT / "data/matches.parquet")
    season = latest_season(matches)
    events = season_events(matches, season)
    tmp = Path(tempfile.mkdtemp(prefix="a1lab-faults-"))
    events_file = tmp / "events.jsonl"
    events_file.write_text("".join(json.dumps(e) + "\n" for e in events))
    expected = _baseline(events_file, tmp, models)
    port, serve = free_port(), [free_port(), free_port()]
    folder = tmp / "cluster"
    cluster = subprocess.Popen([*A1LAB, "cluster", "--partitions", "2", "--replicas", str(replicas), "--port",
                                str(port), "--folder", str(folder), "--serve", *(f"127.0.0.1:{p}" for p in serve),
                                "--history", str(ROOT / "data/matches.parquet"), "--registry", str(ROOT / "models"),
                                *(a for m in models for a in ("--model", m))], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_connect_timeout=1)
    readers: list[subprocess.Popen] = []
    published: dict[str, float] = {}
    kills: list[dict] = []
    try:
        wait_for(lambda: redis_up(port), 60, "redis-server")
        wait_for(lambda: all(health(p) for p in serve), 60, "the fan-out servers")
        share = [n_clients // client_processes + (k < n_clients % client_processes) for k in range(client_processes)]
        readers = [subprocess.Popen([sys.executable, __file__, "--read", str(n), *map(str, serve)],
                                    stdout=subprocess.PIPE, text=True) for n in share]
        wait_for(lambda: sum((health(p) or {}).get("clients", 0) for p in serve) == len(serve) * n_clients, 120,
                 "every client on every server")
        for e in events[:warmup]:  # the scoring processes start their state at the first event: not measured
            client.xadd("events", {"data": json.dumps(e)})
        wait_for(lambda: _caught_up(client), 300, "the warm-up events scored")
        rest = events[warmup:]
        rate = len(rest) / (minutes * 60)
        victims = ["route", "serve-0", "serve-1", *(f"score-{k}" + (f"-{r}" if r else "") for k in range(2)
                                                      for r in range(replicas))]
        rng = random.Random(seed)
        n_kills = int(np.ceil(minutes * 60 / every)) - 1  # every `every` seconds while the events are fed
        t0 = time.time()

        def killer() -> None:
            for n in range(1, n_kills + 1):
                time.sleep(max(0.0, t0 + n * every - time.time()))
                name = "redis" if n == (n_kills + 1) // 2 else rng.choice(victims)
                pid = _ctl(folder, "pid", name)
                if not pid.isdigit():
                    kills.append({"at_s": round(time.time() - t0, 1), "process": name, "error": pid})
                    continue
                os.kill(int(pid), signal.SIGKILL)
                killed = time.time()
                while _ctl(folder, "pid", name) in (pid, "0", "") and time.time() - killed < 60:
                    time.sleep(0.05)
                kills.append({"at_s": round(killed - t0, 2), "process": name,
                              "new_process_s": round(time.time() - killed, 2)})  # started, not yet ready

        threading.Thread(target=killer, daemon=True).start()
        for i, e in enumerate(rest):
            time.sleep(max(0.0, t0 + i / rate - time.time()))
            while True:
                try:
                    client.xadd("events", {"data": json.dumps(e)})
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)  # redis-server is being restarted: the event waits, and counts from here
            published[e["id"]] = time.time()
        ended = time.time()
        wait_for(lambda: _stream_len(client, "predictions") >= len(expected), 300, "every prediction in the stream")
        time.sleep(DUE_S + 2)
        for r in readers:
            r.send_signal(signal.SIGTERM)
        got: dict[str, list] = {}
        for r in readers:
            for key, (count, last) in json.loads(r.communicate(timeout=120)[0]).items():
                c, at = got.get(key, (0, 0.0))
                got[key] = [c + count, max(at, last)]
        stream = [json.loads(f[b"data"]) for _, f in client.xrange("predictions")]
    finally:
        for r in readers:
            if r.poll() is None:
                r.kill()
        cluster.send_signal(signal.SIGTERM)
        cluster.wait(timeout=120)
        left = subprocess.run(["pgrep", "-f", str(folder)], capture_output=True, text=True).stdout.split()
        shutil.rmtree(tmp, ignore_errors=True)  # the events, the one-process run and Redis's files
    return _figures(expected, published, got, stream, kills, t0, ended, n_clients, every, replicas) | {
        "minutes": minutes, "every_s": every, "clients": n_clients, "servers": len(serve), "partitions": 2,
        "replicas": replicas,
        "models": models, "season": season, "events": len(rest), "warmup_events": warmup,
        "events_per_s": round(rate, 1), "processes_left": len(left)}


def _stream_len(client, name: str) -> int:
    import redis

    try:
        return client.xlen(name)
    except redis.ConnectionError:
        return 0


def _caught_up(client) -> bool:
    """Both partitions' streams exist and each of their scoring processes has read and acknowledged every entry."""
    try:
        groups = [client.xinfo_groups(f"part.{k}") for k in range(2)]
    except Exception:  # noqa: BLE001 - a stream not created yet
        return False
    return all(g and all(x["pending"] == 0 and x.get("lag") == 0 for x in g) for g in groups)


def _figures(expected: dict, published: dict, got: dict, stream: list, kills: list, t0: float, ended: float,
             n_clients: int, every: float, replicas: int) -> dict:
    keys = [(key, published[event]) for key, (event, _) in expected.items() if event in published]
    late = {}
    lost = 0
    bad: set[int] = set()
    due_seconds: set[int] = set()
    for key, at in keys:
        count, last = got.get(key, (0, float("inf")))
        lost += n_clients - count
        second = int(at - t0)
        due_seconds.add(second)
        late[key] = last - at
        if count < n_clients or last - at > DUE_S:
            bad.add(second)
    seconds = int(np.ceil(ended - t0))
    written = Counter(f"{m['match_id']}/{m['revision']}" for m in stream if m["type"] == "prediction")
    same = {(f"{m['match_id']}/{m['revision']}", json.dumps(m["p"])) for m in stream if m["type"] == "prediction"} \
        == {(k, json.dumps(p)) for k, (_, p) in expected.items()}
    by_kind: dict[str, list] = defaultdict(list)
    for kill in kills:
        start = int(kill["at_s"])
        kind = kill["process"].split("-")[0]
        by_kind[kind].append(sum(start <= s < start + every for s in bad))
    lateness = np.array([v for v in late.values() if np.isfinite(v)]) * 1000
    return {"seconds": seconds, "good_seconds": seconds - len(bad), "availability": round(1 - len(bad) / seconds, 5),
            "seconds_with_predictions_due": len(due_seconds),
            "availability_of_seconds_with_predictions_due": round(1 - len(bad) / max(1, len(due_seconds)), 5),
            "predictions_measured": len(keys), "lost": lost,
            "written_other_than_once_per_replica": sum(written[k] != replicas for k in expected | written),
            "equal_to_one_process": bool(same), "p50_ms": float(np.percentile(lateness, 50)),
            "p99_ms": float(np.percentile(lateness, 99)), "max_ms": float(lateness.max()),
            "kills": kills, "bad_seconds_after_kill": {k: v for k, v in sorted(by_kind.items())},
            "bad_seconds": sorted(bad)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--read":
        n, ports = int(sys.argv[2]), sys.argv[3:]
        print(json.dumps(asyncio.run(_read([f"ws://127.0.0.1:{p}/" for p in ports], n))))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the events are fed")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between kills")
    parser.add_argument("--clients", type=int, default=100, help="WebSocket clients, each on every fan-out server")
    parser.add_argument("--model", action="append", help="registered models (default: params.yaml live.models)")
    parser.add_argument("--warmup", type=int, default=300, help="events fed before the clock starts")
    parser.add_argument("--seed", type=int, default=42, help="which processes are killed")
    parser.add_argument("--replicas", type=int, default=2, help="scoring processes per partition")
    parser.add_argument("--name", default="faults", help="the figures go to reports/bench/NAME.json")
    args = parser.parse_args()
    from a1lab.params import load_params

    models = args.model or load_params(ROOT / "params.yaml").live.models
    load_before = os.getloadavg()[0]
    figures = soak(args.minutes, args.every, args.clients, models, args.seed, args.warmup, args.replicas)
    print(json.dumps({k: v for k, v in figures.items() if k != "bad_seconds"}, indent=1))
    record(args.name, figures, load_before)


if __name__ == "__main__":
    main()
