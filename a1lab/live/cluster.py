"""A local live cluster under supervisor: redis-server, the router, one scoring process per partition and the
fan-out servers, each restarted when it dies (``a1lab live cluster``).

The layout (events in, predictions out, all on one Redis server)::

    events --route--> part.0 ... part.<N-1> --live run (R each)--> predictions --live serve (M)--> clients

With R replicas, each partition is scored by R processes, each with its own consumer group and checkpoint, all
writing to ``predictions``: every message is written R times, byte for byte, and the fan-out servers drop the
copies (``live serve --dedupe``). A replica that dies costs nothing while another runs; one replica is one
process to restart, during which its partition's predictions wait.

On several machines it is the same programs with the Redis URLs pointing at one server: the router and each
scoring process anywhere (a partition's checkpoint and pending entries are in Redis, so its process can be
restarted on another machine), the fan-out servers next to their clients.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path


def supervisor_config(folder: Path, redis_server: str, port: int, partitions: int, serve: list[str],
                      params: str, registry: str, history: str, models: list[str], replicas: int = 1) -> str:
    """supervisord's configuration of the cluster (its logs, socket and Redis data under ``folder``).

    Args:
        folder: where supervisor and Redis keep their files.
        redis_server: the redis-server executable.
        port: Redis's port on 127.0.0.1.
        partitions: scoring processes (one per partition of the events by country).
        serve: HOST:PORT of each fan-out server.
        params: the params file every program reads.
        registry: the model registry folder.
        history: the match table the scoring processes start their state from.
        models: the registered models the scoring processes average.
        replicas: scoring processes per partition (``score-<k>``, ``score-<k>-1``, ...).

    A program that exits 0 or 2 (misuse: a bad address or setting, said in its log) stays down; one that dies
    otherwise is restarted.
    """
    url = f"redis://127.0.0.1:{port}/0"
    a1lab = [sys.executable, "-m", "a1lab.cli", "live"]
    programs = {"redis": ([redis_server, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder / "redis"),
                           "--appendonly", "yes", "--appendfsync", "always", "--save", ""], 1),
                "route": ([*a1lab, "route", "--source", f"{url}?stream=events", "--out", f"{url}?stream=part",
                           "--partitions", str(partitions), "--params", params], 10)}
    for k in range(partitions):
        for r in range(replicas):
            name, tail = (f"score-{k}", "") if r == 0 else (f"score-{k}-{r}", f"-{r}")
            source = f"{url}?stream=part.{k}&group=a1lab{tail}&consumer={name}"
            programs[name] = ([*a1lab, "run", "--source", source, "--out", f"{url}?stream=predictions",
                               "--checkpoint", f"{url}?key=a1lab:checkpoint:{k}{tail}", "--dead-letter",
                               str(folder / f"dead-letter-{k}{tail}.jsonl"), "--params", params, "--registry",
                               registry, "--history", history, *(a for m in models for a in ("--model", m))], 20)
    dedupe = ["--dedupe", "100000"] if replicas > 1 else []
    for m, bind in enumerate(serve):
        programs[f"serve-{m}"] = ([*a1lab, "serve", "--input", f"{url}?stream=predictions&from=$", "--bind", bind,
                                   *dedupe], 30)
    lines = ["[supervisord]", "nodaemon=true", f"logfile={folder / 'supervisord.log'}",
             f"pidfile={folder / 'supervisord.pid'}", f"childlogdir={folder / 'logs'}", f"directory={Path.cwd()}", "",
             "[unix_http_server]", f"file={folder / 'supervisor.sock'}", "",
             "[rpcinterface:supervisor]",
             "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
             "[supervisorctl]", f"serverurl=unix://{folder / 'supervisor.sock'}", ""]
    for name, (command, priority) in programs.items():
        lines += [f"[program:{name}]", f"command={shlex.join(command).replace('%', '%%')}", f"priority={priority}",
                  "autorestart=unexpected", "exitcodes=0,2", "startsecs=1", "startretries=100", "stopwaitsecs=30",
                  "stopasgroup=true", "killasgroup=true", f"stdout_logfile={folder / 'logs' / (name + '.log')}",
                  "redirect_stderr=true", ""]
    return "\n".join(lines)
