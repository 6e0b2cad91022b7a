"""A real redis-server on 127.0.0.1 for tests and benchmarks: a free port, its own directory, AOF on."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


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
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
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
