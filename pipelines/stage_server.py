"""A warm process that runs the stage notebooks, so that `dvc repro` pays the imports once, not per stage.

    python pipelines/stage_server.py --start   # start one (dvc.yaml's sources stage does) and return at once
    python pipelines/stage_server.py SOCKET     # the server itself, as started

Every notebook stage is its own `python pipelines/run_notebook.py` process (DVC runs one command per stage),
and on a 2-core machine each spent 2-8 s importing papermill, nbconvert, IPython, pandas, matplotlib,
scikit-learn, the models' libraries and a1lab before its first cell. The sources stage, which every
`dvc repro` runs first, starts this server (`--start` returns at once; the server imports beside sources and
ingest), or the first runner that finds none does (and runs its own stage as before). A runner sends the
server its arguments, working folder, environment and standard streams over a Unix socket; the server forks a
child that runs the stage with everything already imported (:func:`run_notebook.main`, the same code path) and
reports its exit status, which the runner exits with. Ctrl-C in the runner reaches the child. The slowest
imports (torch, Lightning, Evidently) are a forked successor's, which takes over when they are done, so the
first stages never wait for them.

A server serves one fingerprint (:func:`fingerprint`): the interpreter, the working folder, the environment
variables that libraries read when they load, the size and modification time of every a1lab and pipeline
source file, and of the installed packages' folder. Edit a module or install a package and the next runner
starts a new server (the old one exits when idle), so a stage never runs code older than its files. A server
exits after :data:`IDLE_SECONDS` idle. ``A1LAB_STAGE_SERVER=0`` turns it off (every stage imports for
itself); the outputs are the same bytes either way (tests/test_pipeline.py runs the demo pipeline both ways).
"""

from __future__ import annotations

import gc
import hashlib
import importlib
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import sysconfig
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path

PIPELINES = Path(__file__).resolve().parent
IDLE_SECONDS = 60.0  # a server with nothing to import and no stage running for this long exits (DVC starts
# the next stage within a second of the last; the first stage runs beside the imports, and may take a while)
START_SECONDS = 120.0  # how long a runner waits for a server that is still importing before running cold
# Environment variables read when a library loads (thread pools, CPU code paths, allocators, time zone): a
# server's imports saw its own values, so a runner whose values differ gets another server.
LOAD_TIME_ENV = ("OMP_", "MKL_", "OPENBLAS_", "GOTO", "BLIS_", "NPY_", "NUMPY_", "ATEN_", "ONEDNN_", "DNNL_", "KMP_",
                 "TORCH", "CUDA", "PYTHON", "LD_", "MALLOC", "MPL", "NUMBA_", "TZ", "LANG", "LC_", "A1LAB_NATIVE_CPU")
# Imported while the server waits for requests, in the order stages need them: the notebooks' machinery and the
# data libraries, a1lab's modules but the models and the live loop, then the models' libraries and the rest that
# a1lab imports inside functions (shap as a1lab loads it: numba's JIT off). A module missing here costs its import in
# the stage, not a result.
FIRST = ("numpy", "pandas", "pyarrow.parquet", "pyarrow.dataset", "pyarrow.pandas_compat", "matplotlib.pyplot",
         "matplotlib_inline.backend_inline", "pandas.plotting._matplotlib", "pandas.io.formats.style", "PIL.Image:init",
         "pandas.io.formats.html", "IPython.core.interactiveshell", "IPython.core.magics",
         "IPython.core.magics.execution", "IPython.core.completer", "IPython.core.completerlib",
         "IPython.core.application", "IPython.core.oinspect",
         "sqlite3", "nbformat", "papermill", "nbconvert")  # (IPython's shell keeps its history in SQLite)
LAST = ("scipy.optimize", "scipy.special", "scipy.stats", "sklearn.isotonic", "sklearn.linear_model", "xgboost",
        "lightgbm", "optuna", "a1lab.explain:load_shap")
# An import cannot be interrupted by a request, and these take 1.5-2.5 s each on a 2-core machine: a successor
# process imports them (and the models) while this one serves the first stages, and takes over when done.
SLOW = ("torch", "torch.utils.data", "pytorch_lightning", "evidently", "evidently.presets")


def enabled() -> bool:
    """Whether runners use a server: on POSIX systems with fork, unless ``A1LAB_STAGE_SERVER=0``."""
    return (os.environ.get("A1LAB_STAGE_SERVER", "1") != "0" and hasattr(os, "fork")
            and hasattr(socket, "AF_UNIX") and hasattr(socket, "send_fds"))


def _sources() -> list[Path]:
    """The source files whose code a stage runs: the a1lab package as it would be imported, and the pipeline."""
    spec = find_spec("a1lab")
    roots = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    files = [PIPELINES / "run_notebook.py", PIPELINES / "stage_server.py"]
    for root in roots:
        files.extend(sorted(root.rglob("*.py")))
    return files


def fingerprint() -> str:
    """What a server's imports depend on, as a hash (see the module docstring)."""
    parts = [sys.executable, sys.version, os.getcwd()]
    parts += sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith(LOAD_TIME_ENV))
    for path in _sources() + [Path(p) for p in {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}]:
        try:
            stat = path.stat()
            parts.append(f"{path}:{stat.st_mtime_ns}:{stat.st_size}")
        except OSError:
            parts.append(f"{path}:missing")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def socket_path(key: str) -> Path | None:
    """Where the server of this fingerprint listens: a folder of the temporary one that only this user may
    enter (whoever can connect runs code as the server's user), or None where that folder is not so."""
    folder = Path(tempfile.gettempdir()) / f"a1lab-stage-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        stat = folder.stat()
    except OSError:
        return None
    if stat.st_uid != os.getuid() or stat.st_mode & 0o077:
        return None
    return folder / f"{key}.sock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _start(path: Path) -> None:
    """Start a detached server (its own session, no inherited streams: a caller capturing this runner's
    output does not wait for it) and note its pid beside the socket."""
    log = path.with_suffix(".log")
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, str(PIPELINES / "stage_server.py"), str(path)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    path.with_suffix(".pid").write_text(str(proc.pid))


def _connect(path: Path) -> socket.socket | None:
    """A connection to the server at ``path`` (waits while a started one is not listening yet), or None
    where none is running: one is started for the next stage, and this runner runs its stage itself."""
    pid_file = path.with_suffix(".pid")
    deadline = time.monotonic() + START_SECONDS
    while True:
        if path.exists():
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                conn.connect(str(path))
                return conn
            except OSError:  # a server that exited (idle, killed) and left its socket
                conn.close()
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            pid = 0
        if not pid or not _alive(pid):  # none running (or it died): start one; this stage runs here
            path.unlink(missing_ok=True)
            _start(path)
            return None
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def start() -> None:
    """Start this fingerprint's server unless one is running, and return at once (it imports meanwhile): the
    sources stage does, so that the first notebook stage finds the imports done."""
    key = fingerprint()
    path = socket_path(key)
    conn = _connect(path) if path else None
    if conn is not None:
        conn.close()


def submit(argv: list[str]) -> int | None:
    """Run ``run_notebook.main(argv)`` in a forked child of this fingerprint's server, with this process's
    folder, environment and standard streams; its exit status, or None where no server could take it
    (none running yet: one is started for the next stage; the caller runs the stage itself)."""
    key = fingerprint()
    path = socket_path(key)
    conn = _connect(path) if path else None
    if conn is None:
        return None
    with conn:
        request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        try:
            socket.send_fds(conn, [struct.pack("!I", len(request))], [0, 1, 2])
            conn.sendall(request)
        except OSError:  # e.g. a closed standard stream: run here
            return None
        reader = conn.makefile("r")
        first = reader.readline().split()
        if first[:1] != ["pid"]:
            return None  # the server could not take it: run here
        child = int(first[1])

        def forward(signum, _frame):
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, forward)
        last = reader.readline().split()
    if last[:1] != ["exit"]:
        print(f"stage server: the stage's process (pid {child}) ended without a status", file=sys.stderr)
        return 1
    return int(last[1])


def _child(conn: socket.socket, listener: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked child: take the runner's streams, folder and environment, run the stage, report."""
    listener.close()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdout = sys.__stdout__ = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.stderr = sys.__stderr__ = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.stdin = sys.__stdin__ = open(0, closefd=False)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # KeyboardInterrupt, as in a process of its own
    import run_notebook

    print(f"  (run by the warm stage server: pid {os.getpid()}, forked from {os.getppid()})", flush=True)
    sys.argv = [str(PIPELINES / "run_notebook.py"), *request["argv"]]
    try:
        code = run_notebook.main(request["argv"], serve=False)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, int | None):
            print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - reported as a process of its own would
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        conn.sendall(f"exit {code}\n".encode())
    finally:
        os._exit(code)


def _accept(listener: socket.socket) -> int | None:
    """Take one request and fork its child (the parent keeps nothing of it); the child's pid."""
    conn, _ = listener.accept()
    with conn:
        header, fds, _, _ = socket.recv_fds(conn, 4, 3)
        if len(header) < 4 or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            return None
        size = struct.unpack("!I", header)[0]
        body = b""
        while len(body) < size:
            chunk = conn.recv(size - len(body))
            if not chunk:
                break
            body += chunk
        gc.freeze()  # the imported objects out of the collector's sight: a child's collections would touch (and so
        pid = os.fork()  # copy) every page of the parent's heap
        if pid == 0:
            _child(conn, listener, json.loads(body), fds)
        for fd in fds:
            os.close(fd)
        conn.sendall(f"pid {pid}\n".encode())
    return pid


def _reap(children: set[int]) -> None:
    """Collect the children that ended."""
    for pid in list(children):
        if os.waitpid(pid, os.WNOHANG)[0]:
            children.discard(pid)


def _warm_steps() -> tuple[list, list]:
    """What the server imports while it waits for requests (:data:`FIRST`, the HTML exporter, a1lab's modules,
    :data:`LAST`), and what its successor imports (:data:`SLOW`, the models); a ``module:function`` entry also
    calls that function."""
    import pkgutil

    import a1lab

    ours = [m.name for m in pkgutil.walk_packages(a1lab.__path__, "a1lab.")
            if not m.name.startswith(("a1lab.live", "a1lab.cli"))]
    models = [m for m in ours if m.startswith("a1lab.models.")]
    return [*FIRST, _warm_exporter, *(m for m in ours if m not in models), *LAST], [*SLOW, *models]


def _warm(step) -> None:
    """One warm step: a module to import (``module:function`` also calls it), or a callable."""
    try:
        if callable(step):
            step()
        else:
            module, _, function = step.partition(":")
            loaded = importlib.import_module(module)
            if function:
                getattr(loaded, function)()
    except Exception as exc:  # noqa: BLE001 - a stage that needs it reports the error itself
        print(f"stage server: warming {step}: {exc!r}", file=sys.stderr, flush=True)


def _warm_exporter() -> None:
    """Build run_notebook's HTML exporter and convert a small notebook, so its templates and the CSS selectors
    it runs over every page are compiled once here."""
    import nbformat
    import run_notebook

    cell = nbformat.v4.new_code_cell("1", outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})])
    run_notebook.html_exporter().from_notebook_node(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# a"), cell]), resources={"metadata": {"name": "warm"}})


def serve(path: Path) -> None:
    """Listen at ``path`` and fork a child per request; import between requests; exit when idle."""
    sys.path.insert(0, str(PIPELINES))
    import run_notebook

    run_notebook.baseline_cpu()  # as every runner does before numpy loads (the runner's value is in the print)
    sys.modules.setdefault("rfc3987_syntax", None)  # as run_notebook.run does
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    os.umask(0o077)
    try:
        listener.bind(str(path))
    except OSError:  # another server of this fingerprint got there first
        return
    listener.listen(8)
    _loop(path, listener, *_warm_steps())


def _loop(path: Path, listener: socket.socket, pending: list, slow: list) -> None:
    """Serve requests; between them, import ``pending``; then hand ``slow`` to a successor (:func:`_succeed`)
    and stop serving when it is ready; exit when idle."""
    children: set[int] = set()
    successor = None  # the read end of a pipe: the successor writes to it when its imports are done
    idle_since = time.monotonic()
    try:
        while True:
            watched = [listener] if successor is None else [listener, successor]
            ready, _, _ = select.select(watched, [], [], 0 if pending else 1.0)
            if successor is not None and successor in ready:
                if os.read(successor, 1):  # it serves from now on: the socket, pid file and log are its own
                    listener.close()
                    os._exit(0)  # (this one's children, stages running, are not waited for: they report themselves)
                os.close(successor)  # it died: this one goes on serving alone
                successor = None
            elif ready:
                pid = _accept(listener)
                if pid:
                    children.add(pid)
            elif pending:  # between requests: one more import (never while another thread could hold a lock)
                _warm(pending.pop(0))
            elif slow:
                successor, pid = _succeed(path, listener, slow)
                children.add(pid)  # reaped if it dies
                slow = []
            elif not children and time.monotonic() - idle_since > IDLE_SECONDS:
                return
            _reap(children)
            if children or pending:
                idle_since = time.monotonic()
    finally:
        listener.close()
        path.unlink(missing_ok=True)
        path.with_suffix(".pid").unlink(missing_ok=True)
        log = path.with_suffix(".log")
        if log.is_file() and not log.stat().st_size:  # nothing went wrong: no trace left
            log.unlink()


def _succeed(path: Path, listener: socket.socket, steps: list) -> tuple[int, int]:
    """Fork a successor that takes ``steps`` without serving, then tells this process through a pipe to stop
    serving and serves in its place (the same socket). Returns the pipe's read end and the successor's pid; in
    the successor, never returns."""
    read, write = os.pipe()
    gc.freeze()
    pid = os.fork()
    if pid:
        os.close(write)
        return read, pid
    os.close(read)
    code = 0
    try:
        for step in steps:
            _warm(step)
        os.write(write, b"1")
        os.close(write)
        path.with_suffix(".pid").write_text(str(os.getpid()))
        _loop(path, listener, [], [])
    except BaseException:  # noqa: BLE001 - never back into the predecessor's frames
        import traceback

        traceback.print_exc()
        code = 1
    os._exit(code)

if __name__ == "__main__":
    if sys.argv[1:] == ["--start"]:
        sys.path.insert(0, str(PIPELINES))
        import run_notebook

        run_notebook.baseline_cpu()  # as the runners will have it
        if enabled():
            start()
    else:
        serve(Path(sys.argv[1]))
