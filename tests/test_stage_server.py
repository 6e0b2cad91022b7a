"""The warm stage server's fingerprint and socket folder (tests/test_pipeline.py runs stages through it)."""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipelines"))
import stage_server  # noqa: E402


def test_the_fingerprint_changes_with_the_code_and_the_load_time_environment(tmp_path, monkeypatch):
    """A server serves only runners whose code and library settings its imports saw."""
    sources = {p.name for p in stage_server._sources()}
    assert {"run_notebook.py", "stage_server.py", "explain.py", "training.py", "state.py"} <= sources
    for name in ("run_notebook.py", "stage_server.py"):
        shutil.copy2(stage_server.PIPELINES / name, tmp_path / name)
    monkeypatch.setattr(stage_server, "PIPELINES", tmp_path)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = stage_server.fingerprint()
    assert stage_server.fingerprint() == before
    monkeypatch.setenv("A1LAB_SOMETHING_ELSE", "1")  # read at run time, passed to the child: the same server
    assert stage_server.fingerprint() == before
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # read when a library loads: another server
    assert stage_server.fingerprint() != before
    monkeypatch.delenv("OMP_NUM_THREADS")
    runner = tmp_path / "run_notebook.py"
    text, stamp = runner.read_text(), runner.stat().st_mtime_ns
    runner.write_text(text + "\n# edited\n")  # an edited source: another server
    assert stage_server.fingerprint() != before
    runner.write_text(text)
    os.utime(runner, ns=(stamp, stamp))
    assert stage_server.fingerprint() == before  # as it was
    monkeypatch.chdir(tmp_path)
    assert stage_server.fingerprint() != before  # another working folder


def test_the_socket_lies_in_a_folder_only_its_user_may_enter(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    path = stage_server.socket_path("abc")
    assert path.parent.parent == tmp_path and path.name == "abc.sock"
    assert path.parent.stat().st_mode & 0o777 == 0o700
    path.parent.chmod(0o755)  # others could connect, and so run code as this user: no server
    assert stage_server.socket_path("abc") is None


@pytest.mark.parametrize("value, expected", [("0", False), ("1", True)])
def test_a1lab_stage_server_0_turns_it_off(monkeypatch, value, expected):
    monkeypatch.setenv("A1LAB_STAGE_SERVER", value)
    assert stage_server.enabled() is (expected and hasattr(os, "fork"))
