"""What the tests and the benches share: real servers and browsers (a redis-server on 127.0.0.1, headless
Chromium), the shipped settings, copies of the project to run pipelines in. They work in a checkout of the
project (its params.yaml, pipelines/ and git), not in an installed package alone.

``--dump-dom`` and ``--screenshot`` run a page on virtual time, which ends before a live stream has moved;
:func:`watch` keeps the page open for real seconds and reads it over the Chrome DevTools Protocol.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the project's checkout


def pipeline_script(name: str):
    """``pipelines/<name>.py`` as a module (imported once, by its path)."""
    import importlib.util
    import sys

    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "pipelines" / f"{name}.py")
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


def find_chromium() -> str | None:
    """Debian's chromium (``make test`` installs it when run as root), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def watch(exe: str, url: str | list[str], at: tuple[float, ...], screenshot: bool = False, width: int = 1200,
          height: int = 1300, expression: str = "document.documentElement.outerHTML") -> list:
    """Open ``url`` (several: each in turn, in one browser) and, after each of ``at`` seconds of real time, read
    the page: ``expression`` evaluated in it (default its DOM, outerHTML) or, with ``screenshot``, a PNG; the
    readings of every page, in order."""
    from websockets.asyncio.client import connect

    browser = subprocess.Popen([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                f"--window-size={width},{height}", "--remote-debugging-port=0", "about:blank"],
                               stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while "DevTools listening on" not in line:
            line = browser.stderr.readline()
            if not line:
                raise RuntimeError("Chromium did not start its DevTools server")
        debug = line.split("ws://")[1].split("/")[0]
        pages = json.loads(urllib.request.urlopen(f"http://{debug}/json/list", timeout=10).read())
        target = next(t["webSocketDebuggerUrl"] for t in pages if t["type"] == "page")

        async def visit() -> list[str | bytes]:
            async with connect(target, max_size=2**26) as cdp:
                numbers = iter(range(1, 1000))

                async def call(method: str, **params) -> dict:
                    number = next(numbers)
                    await cdp.send(json.dumps({"id": number, "method": method, "params": params}))
                    while (reply := json.loads(await cdp.recv())).get("id") != number:
                        pass
                    return reply["result"]

                seen = []
                for page in [url] if isinstance(url, str) else url:
                    await call("Page.navigate", url=page)
                    waited = 0.0
                    for t in at:
                        await asyncio.sleep(t - waited)
                        waited = t
                        if screenshot:
                            png = (await call("Page.captureScreenshot", format="png"))["data"]
                            seen.append(base64.b64decode(png))
                        else:
                            result = await call("Runtime.evaluate", expression=expression, returnByValue=True)
                            seen.append(result["result"]["value"])
                return seen

        return asyncio.run(visit())
    finally:
        browser.kill()
        browser.wait()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a server a test or bench starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def health(port: int) -> dict | None:
    """The ``/health`` of an a1lab live server on 127.0.0.1, or None while nothing answers there."""
    try:
        return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read())
    except OSError:
        return None


def redis_up(port: int) -> bool:
    """Whether a Redis server on 127.0.0.1 answers PING."""
    import redis

    client = redis.Redis(port=port, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
    finally:
        client.close()


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    """Poll ``predicate`` every 0.1 s until it holds.

    Raises:
        AssertionError: ``timeout`` seconds passed, or ``proc`` ended first (with the end of its stderr).
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process ended (rc {proc.returncode}) before {what}: {proc.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def first_difference(got: list, expected: list) -> str | None:
    """None where two lists of messages are equal, else where they first differ, short enough to read in a CI
    log's last lines (pytest prints the whole of both lists otherwise)."""
    if got == expected:
        return None
    n = min(len(got), len(expected))
    i = next((i for i in range(n) if got[i] != expected[i]), n)
    at = [(json.dumps(x[i], default=str)[:1500] if i < len(x) else "(none)") for x in (got, expected)]
    return f"{len(got)} messages, {len(expected)} expected; first difference at {i}: got {at[0]}; expected {at[1]}"


def find_redis_server() -> str | None:
    """Debian's redis-server, if installed (``make test`` installs it when run as root)."""
    return shutil.which("redis-server")


class RedisServer:
    """Start, kill (SIGKILL) and restart one redis-server process; data survives in its AOF.

    Args:
        directory: where the server keeps its append-only file.
        fsync: ``always`` (every write on disk before the answer) or ``everysec``.
    """

    def __init__(self, directory: Path, fsync: str = "always"):
        self.directory, self.fsync = Path(directory), fsync
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [find_redis_server() or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.directory), "--save", "", "--appendonly", "yes", "--appendfsync", self.fsync,
             "--protected-mode", "yes"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def shipped():
    """The shipped params.yaml, validated: the settings (and defaults) every test starts from."""
    from a1lab.params import load_params

    return load_params(ROOT / "params.yaml")


def dataset_params(name: str, *overlays: dict) -> dict:
    """A data set's settings as its pipeline reads them (``datasets/<name>/config.yaml`` over params.yaml; ``main``
    is params.yaml itself), with ``overlays`` merged in order and relative source paths made absolute (from the
    data set's folder), so a copy of the repository elsewhere reads the same files."""
    import yaml

    root, dataset = ROOT, pipeline_script("dataset")
    params = yaml.safe_load((root / "params.yaml").read_text()) if name == "main" else dataset.params_for(name)
    for overlay in overlays:
        params = dataset.merge(params, overlay)
    folder = root if name == "main" else root / "datasets" / name
    params["data"]["sources"] = [
        {**s, "path": str((folder / s["path"]).resolve())} if s.get("path") and "://" not in s["path"] else s
        for s in params["data"]["sources"]]
    return params


def feature_config(**changes):
    """The shipped ``features`` settings, with ``changes`` (validated)."""
    return with_changes(shipped().features, **changes)


def with_changes(settings, **changes):
    """A validated settings section with ``changes`` over it (checked as params.yaml's would be)."""
    return type(settings).model_validate({**settings.model_dump(), **changes})


def value_rule(**changes):
    """The shipped backtest value rule, with ``changes``."""
    import dataclasses

    return dataclasses.replace(shipped().backtest.value_rule(), **changes)


def loop_config(**changes):
    """The live loop's shipped settings (``a1lab live run`` with params.yaml), with ``changes``."""
    import dataclasses

    from a1lab.live.cli import loop_config as from_params

    return dataclasses.replace(from_params(shipped()), **changes)


def imported_names(source: str) -> set[str]:
    """Every module name a Python source imports, lazy imports inside functions included (``from pkg import
    name`` also counts ``pkg.name``, which may be a module)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return names


def repo_copy(target: Path, overrides: dict | None = None) -> Path:
    """A copy of the project in ``target`` (files git tracks or would track, without the data set folders) with
    ``overrides`` merged into its params.yaml: a pipeline a test can run and change without touching this one."""
    import yaml

    root, merge = ROOT, pipeline_script("dataset").merge
    if target.exists():
        shutil.rmtree(target)
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=root, check=True,
                            capture_output=True, text=True).stdout.splitlines()
    for rel in listed:
        if rel and not rel.startswith("datasets/") and (root / rel).is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, target / rel)
    params = merge(yaml.safe_load((target / "params.yaml").read_text()), overrides or {})
    (target / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    return target


def repro_job(target: Path, *args: str) -> tuple[list[str], str, dict]:
    """``dvc repro`` in ``target`` (``pipelines/dataset.py``'s ``repro_job``), its DVC site cache inside the
    copy."""
    argv, cwd, env = pipeline_script("dataset").repro_job(target, *args)
    env.setdefault("DVC_SITE_CACHE_DIR", str(target / ".dvc-site-cache"))
    return argv, cwd, env


def repro(target: Path, *args: str, env: dict[str, str] | None = None) -> None:
    """Run ``dvc repro`` in ``target`` (:func:`repro_job`), with ``env`` over the environment."""
    argv, cwd, base = repro_job(target, *args)
    subprocess.run(argv, cwd=cwd, env={**base, **(env or {})}, check=True)
