"""The live loop as real processes on 127.0.0.1: dead letters, SIGTERM, checkpoint restart, a feed server
that is killed and restarted, and the loop's own broadcast server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

A1LAB = [sys.executable, "-m", "a1lab.cli"]


def _run_args(lab, tmp: Path, source: str, *extra: str) -> list[str]:
    return [*A1LAB, "live", "run", "--source", source, "--out", str(tmp / "out.jsonl"),
            "--dead-letter", str(tmp / "dead.jsonl"), "--checkpoint", str(tmp / "checkpoint.json"),
            "--history", str(lab["root"] / "matches.parquet"), "--registry", str(lab["registry"]),
            "--model", "xgb", "--params", str(lab["params"]), *extra]


def _lines(path: Path) -> list[dict]:
    """Complete lines written so far (a line being written by the running loop is left for later)."""
    text = path.read_text() if path.exists() else ""
    return [json.loads(x) for x in text[:text.rfind("\n") + 1].splitlines()]


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process ended (rc {proc.returncode}) before {what}: {proc.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def baseline(live_lab, tmp_path_factory):
    """The E0 2025/26 replay through an uninterrupted `a1lab live run` from the file."""
    tmp = tmp_path_factory.mktemp("baseline")
    proc = subprocess.run(_run_args(live_lab, tmp, str(live_lab["root"] / "events_e0.jsonl")),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = _lines(tmp / "out.jsonl")
    assert sum(m["type"] == "settlement" for m in out) == sum(e["type"] == "result" for e in live_lab["events_e0"])
    return out


def test_malformed_lines_go_to_the_dead_letter_and_counts_add_up(live_lab, tmp_path):
    good = (live_lab["root"] / "events_e0.jsonl").read_text().splitlines()[:400]
    bad = ['{"type": "fixture", "id": "broken"', "[]",
           json.dumps({"type": "odds", "id": "o", "ts": "2025-08-10T12:00:00Z", "match_id": "m",
                       "bookmaker": "pinnacle", "prices": {"home": 0.5, "draw": 3, "away": 4}}),
           json.dumps({"type": "result", "id": "r-unknown", "ts": "2025-08-10T12:00:00Z", "match_id": "nobody",
                       "home_goals": 1, "away_goals": 1})]
    lines = good[:100] + bad[:2] + good[100:300] + bad[2:] + good[300:] + good[:50]  # 50 duplicates at the end
    src = tmp_path / "events.jsonl"
    src.write_text("\n".join(lines) + "\n")
    proc = subprocess.run(_run_args(live_lab, tmp_path, str(src)), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = json.loads(proc.stderr.strip().splitlines()[-1].split(": ", 1)[1])
    dead = _lines(tmp_path / "dead.jsonl")
    reasons = [d["reason"] for d in dead]
    assert len(dead) == 4 and counts["rejected"] == 4
    assert reasons[0].startswith("not JSON") and "JSON object" in reasons[1]
    assert "prices.home" in reasons[2] and "no fixture" in reasons[3]
    assert all(d["raw"] for d in dead)
    assert counts["events"] + counts["duplicates"] + counts["rejected"] == len(lines)
    assert counts["duplicates"] == 50


def test_sigterm_mid_stream_loses_nothing_and_a_restart_resumes(live_lab, baseline, tmp_path):
    lines = (live_lab["root"] / "events_e0.jsonl").read_text().splitlines(keepends=True)
    proc = subprocess.Popen(_run_args(live_lab, tmp_path, "-"), stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    half = len(lines) // 2
    proc.stdin.writelines(lines[:half])
    proc.stdin.flush()
    out = tmp_path / "out.jsonl"
    # stdin stays open: the loop waits for more when the signal comes
    _wait_for(lambda: sum(m["type"] == "settlement" for m in _lines(out)) >= 40, 120, "settlements", proc)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()[-3000:]
    first = _lines(out)
    checkpoint = json.loads((tmp_path / "checkpoint.json").read_text())
    assert len(checkpoint["seen"]) == checkpoint["counts"]["events"] > 0
    assert checkpoint["counts"]["events"] <= half
    # restart on the whole stream: what was seen is skipped, the rest is scored
    proc = subprocess.run(_run_args(live_lab, tmp_path, str(live_lab["root"] / "events_e0.jsonl")),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _lines(out) == baseline, "outputs of stop + restart differ from one uninterrupted run"
    assert len(_lines(out)) > len(first)


def test_loop_survives_its_feed_server_being_killed_and_restarted(live_lab, baseline, tmp_path):
    port = _free_port()
    env = {**os.environ, "A1LAB_LIVE_TOKEN": "feed-token"}
    events = str(live_lab["root"] / "events_e0.jsonl")
    serve = [*A1LAB, "live", "serve", "--input", events, "--bind", f"127.0.0.1:{port}"]
    feed = subprocess.Popen([*serve, "--rate", "300"], env=env, stderr=subprocess.PIPE, text=True)
    loop = subprocess.Popen(_run_args(live_lab, tmp_path, f"ws://127.0.0.1:{port}/", "-v"), env=env,
                            stderr=subprocess.PIPE, text=True)
    out = tmp_path / "out.jsonl"
    try:
        _wait_for(lambda: sum(m["type"] == "prediction" for m in _lines(out)) >= 5, 120, "first predictions", loop)
        feed.kill()  # the feed dies mid-stream
        feed.wait(timeout=10)
        time.sleep(1.5)
        feed = subprocess.Popen(serve, env=env, stderr=subprocess.PIPE, text=True)  # back, replaying from the start
        n_results = sum(e["type"] == "result" for e in live_lab["events_e0"])
        _wait_for(lambda: sum(m["type"] == "settlement" for m in _lines(out)) >= n_results, 180, "all results",
                  loop)
        time.sleep(1.0)
        loop.send_signal(signal.SIGTERM)
        assert loop.wait(timeout=60) == 0
        log = loop.stderr.read()
    finally:
        for p in (feed, loop):
            if p.poll() is None:
                p.kill()
    assert "reconnecting" in log
    assert _lines(out) == baseline
    counts = json.loads(log.strip().splitlines()[-1].split(": ", 1)[1])
    assert counts["duplicates"] > 0 and counts["rejected"] == 0


def test_run_broadcasts_its_predictions_over_websocket(live_lab, baseline, tmp_path):
    port = _free_port()
    lines = (live_lab["root"] / "events_e0.jsonl").read_text().splitlines()[:1200]
    src = tmp_path / "events.jsonl"
    src.write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen(_run_args(live_lab, tmp_path, str(src), "--serve", f"127.0.0.1:{port}",
                                      "--linger", "120"), stderr=subprocess.PIPE, text=True)

    def health() -> dict | None:
        try:
            return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read())
        except OSError:
            return None

    try:
        def finished() -> bool:  # the final checkpoint is written once the file is done
            cp = tmp_path / "checkpoint.json"
            return cp.exists() and json.loads(cp.read_text())["counts"]["events"] == len(lines)

        _wait_for(finished, 120, "the loop to finish the file", proc)
        assert health()["seq"] == len(_lines(tmp_path / "out.jsonl"))

        async def collect():
            async with connect(f"ws://127.0.0.1:{port}/?since=0") as ws:
                hello = json.loads(await ws.recv())
                got = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(hello["seq"])]
                return hello, got

        hello, got = asyncio.run(collect())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    written = _lines(tmp_path / "out.jsonl")
    assert [{k: v for k, v in m.items() if k not in ("seq", "sent")} for m in got] == written
    open_matches = {m["match_id"] for m in written if m["type"] == "prediction"} - {
        m["match_id"] for m in written if m["type"] == "settlement"}
    assert {m["match_id"] for m in hello["snapshot"]} == open_matches and open_matches
    assert written == baseline[:len(written)]


def test_alerts_of_the_running_loop_reach_a_webhook(live_lab, tmp_path, http_server):
    import yaml

    params = yaml.safe_load(live_lab["params"].read_text())
    params["live"]["min_window"] = 5
    params["monitoring"] = {"attempts": 2, "backoff": 0.1, "channels": [{"type": "webhook", "url_env": "HOOK"}],
                            "rules": [{"name": "gap", "metric": "rps_gap", "threshold": -1.0, "cooldown": 1e12}]}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    args = _run_args(live_lab, tmp_path, str(live_lab["root"] / "events_e0.jsonl"))
    args[args.index("--params") + 1] = str(tmp_path / "params.yaml")
    env = {**os.environ, "HOOK": f"http://127.0.0.1:{http_server.server_port}/alerts"}
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    alerts = [m for m in _lines(tmp_path / "out.jsonl") if m["type"] == "alert"]
    assert len(alerts) == 1 and alerts[0]["rule"] == "gap"  # fires once, then the cooldown holds it
    received = [body for _, body in http_server.received]
    assert len(received) == 1 and received[0]["rule"] == "gap"
