"""Shared fixtures (the real football-data mirror, a synthetic league, real servers) and the two tiers:
tests/unit is marked ``unit`` (fast, `make test-fast`), tests/integration ``integration`` (pipelines,
processes, servers, browsers)."""

from __future__ import annotations

import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from a1lab.data.synthetic import LeagueSpec, simulate_league
from a1lab.testing import RedisServer, find_chromium, find_redis_server


def pytest_collection_modifyitems(items):
    for item in items:
        tier = Path(str(item.fspath)).parent.name
        if tier in ("unit", "integration"):
            item.add_marker(getattr(pytest.mark, tier))


LEAGUES = ["E0", "SP1", "I1", "D1", "F1"]
SEASONS = ["1516", "1617", "1718", "1819", "1920", "2021", "2122", "2223", "2324", "2425", "2526"]


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The local football-data mirror named by $A1LAB_DATA_ROOT (.ci/run sets it)."""
    root = os.environ.get("A1LAB_DATA_ROOT")
    if not root or not (Path(root) / "mmz4281").is_dir():
        pytest.skip("set A1LAB_DATA_ROOT to the football-data mirror (../shared/data/football-data)")
    return Path(root)


@pytest.fixture(scope="session")
def real_load(data_root):
    """All 55 real files loaded once."""
    from a1lab.data.footballdata import load_football_data
    from a1lab.data.source import FileSource

    return load_football_data(FileSource(str(data_root)), LEAGUES, SEASONS)


@pytest.fixture(scope="session")
def synthetic():
    """A small seeded synthetic league with known truth."""
    return simulate_league(LeagueSpec(leagues=2, teams=20, seasons=4, seed=11))


class _Collector(BaseHTTPRequestHandler):
    """Records each POST's path and JSON body on its server; answers 503 to the first ``fail_first``."""

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.server.fail_first > 0:
            self.server.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        self.server.received.append((self.path, json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture()
def http_server():
    """A real HTTP server on 127.0.0.1 collecting webhook posts in ``.received``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    server.received, server.fail_first = [], 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def live_lab(real_load, tmp_path_factory):
    """What the live loop needs, from the real files: a model trained on seasons up to 2024/25 in a
    temporary registry, the batch features, the match table on disk and the 2025/26 events."""
    import yaml

    from a1lab import registry
    from a1lab.features import build_features
    from a1lab.live.replay import season_events
    from a1lab.models.xgb import XGBModel
    from a1lab.outcomes import RESULT_CODES
    from a1lab.params import check_section

    root = tmp_path_factory.mktemp("live")
    params = Path(__file__).parents[1] / "params.yaml"
    config = check_section("features", yaml.safe_load(params.read_text())["features"])
    matches = real_load.matches
    frame, _ = build_features(matches, config)
    offset = [f"mkt_pinnacle_open_p_{o}" for o in ("home", "draw", "away")]
    features = [c for c in frame.columns[7:] if "close" not in c and "move" not in c and c not in offset]
    train = frame[frame["season"] <= "2324"]
    val = frame[frame["season"] == "2425"]
    model = XGBModel(features=features, offset=offset, n_estimators=80, learning_rate=0.05,
                     early_stopping_rounds=20, seed=7)
    model.fit(train, train["result"].map(RESULT_CODES), eval_set=(val, val["result"].map(RESULT_CODES)))
    registry.register(model, "xgb", root=root / "models", prediction_time="open",
                      training_seasons=sorted(train["season"].unique()), validation_season="2425")
    matches.to_parquet(root / "matches.parquet", index=False)
    events = season_events(matches, "2526")
    (root / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    e0 = season_events(matches, "2526", ["E0"])
    (root / "events_e0.jsonl").write_text("".join(json.dumps(e) + "\n" for e in e0))
    return {"root": root, "registry": root / "models", "matches": matches, "frame": frame, "config": config,
            "events": events, "events_e0": e0, "params": params, "features": features, "offset": offset}


@pytest.fixture(scope="session")
def chromium() -> str:
    """Headless Chromium's executable; the tests that open pages skip without it (in CI they fail)."""
    exe = find_chromium()
    if not exe:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed (make test installs Debian's chromium as root)")
        pytest.skip("Chromium not installed (make test installs Debian's chromium when run as root)")
    return exe


@pytest.fixture()
def redis_server(tmp_path):
    """A real redis-server on a free port with AOF on, killed at the end; skips without Debian's redis-server
    (in CI, where `make test` installs it, its absence is a failure)."""
    if not find_redis_server():
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (make test installs Debian's redis-server as root)")
        pytest.skip("redis-server not installed (make test installs Debian's redis-server when run as root)")
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.kill()


@pytest.fixture()
def silent_server():
    """A TCP server on 127.0.0.1 that accepts every connection and never answers (a hung webhook)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()
