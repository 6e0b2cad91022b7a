"""Extending the lab: a model is one module and its params.yaml entry, a data layout one module and a
``data.sources`` entry. In a copy of the project a toy of each is added and used (ingested, trained through
the model contract tests, checked against the DVC dependency lists) with no other file touched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from a1lab.testing import repo_copy

TOY_MODEL = '''"""A toy model: each outcome's share in the training rows, whatever the features."""

import json
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from a1lab.models.base import as_frame, encode_labels


class BaseRates(ClassifierMixin, BaseEstimator):
    label = "base rates"
    requires = ()
    search_space = {"smoothing": {"low": 0.0, "high": 10.0}}

    def __init__(self, smoothing=1.0):
        self.smoothing = smoothing

    @classmethod
    def get_test_params(cls) -> dict:
        return {}

    def fit(self, X, y):
        self.classes_, codes = encode_labels(y, as_frame(X))
        counts = np.bincount(codes, minlength=len(self.classes_)) + self.smoothing
        self.rates_ = counts / counts.sum()
        return self

    def predict_proba(self, X):
        return np.tile(self.rates_, (len(X), 1))

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        state = {"smoothing": self.smoothing, "classes": self.classes_.tolist(), "rates": self.rates_.tolist()}
        (folder / "estimator.json").write_text(json.dumps(state))

    @classmethod
    def load(cls, folder: Path):
        state = json.loads((folder / "estimator.json").read_text())
        model = cls(state["smoothing"])
        model.classes_, model.rates_ = np.array(state["classes"]), np.array(state["rates"])
        return model
'''

TOY_LAYOUT = '''"""A toy layout: pipe-separated lines ``date|home|away|home goals|away goals|odds (1, X, 2)``."""

from typing import Literal

from pydantic import Field

from a1lab.section import Section


class Source(Section):
    layout: Literal["pipes"]
    path: str = Field(min_length=1)

    def league_names(self):
        return ["PIPES"]

    def files(self):
        return [(self.path, self.path)]

    def load(self, root):
        from a1lab.data.generic import parse_generic
        from a1lab.data.source import read_file

        header = b"date,home,away,home_score,away_score,home_odds,draw_odds,away_odds\\n"
        return parse_generic(header + read_file(self.path).replace(b"|", b","), self.path, "football", "PIPES",
                             None, "market", "close")
'''


def _changed(repo: Path) -> set[str]:
    out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo, check=True,
                         capture_output=True, text=True).stdout
    return {line[3:] for line in out.splitlines()}


def _run(repo: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(repo)}  # the copy's a1lab, not the installed one
    return subprocess.run([sys.executable, *argv], cwd=repo, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = repo_copy(tmp_path_factory.mktemp("plugins") / "repo")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"], cwd=repo, check=True)
    return repo


def test_a_toy_model_is_one_module_and_one_params_entry(repo):
    (repo / "a1lab" / "models" / "toy.py").write_text(TOY_MODEL)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["models"]["toy"] = {"estimator": "BaseRates", "module": "toy", "smoothing": 1.0}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        assert _changed(repo) == {"a1lab/models/toy.py", "params.yaml"}
        check = ("import json; from a1lab.params import load_params; p = load_params('params.yaml'); "
                 "print(json.dumps([p.ensemble.members, p.labels()['toy'], sorted(p.search_space('toy'))]))")
        done = _run(repo, "-c", check)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == [["xgb", "nn", "lgbm", "toy", "market"], "base rates", ["smoothing"]]
        # the contract tests take it up (round trip through the registry) and DVC's lists need no entry
        tests = _run(repo, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit/test_dvc_deps.py",
                     "tests/unit/test_models.py", "-k", "BaseRates or dvc or declares")
        assert tests.returncode == 0 and "BaseRates" in subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "tests/unit/test_models.py"], cwd=repo,
            env={**os.environ, "PYTHONPATH": str(repo)}, capture_output=True, text=True).stdout, tests.stdout[-3000:]
    finally:
        subprocess.run(["git", "checkout", "-q", "--", "params.yaml"], cwd=repo, check=True)
        (repo / "a1lab" / "models" / "toy.py").unlink()


def test_a_toy_layout_is_one_module_and_one_source_entry(repo, tmp_path):
    (repo / "a1lab" / "data" / "layouts" / "pipes.py").write_text(TOY_LAYOUT)
    data = tmp_path / "games.txt"  # the data, outside the project: in the data folder, beside the data root
    data.write_text("2021-08-10|Reds|Blues|2|1|2.10|3.40|3.50\n2022-08-10|Blues|Reds|1|1|2.40|3.30|2.90\n"
                    "2023-08-10|Reds|Blues|2|1|2.10|3.40|3.50\n2024-08-17|Blues|Reds|0|0|2.50|3.20|2.90\n"
                    "2024-08-24|Reds|Blues|x|1|2.00|3.40|3.80\n")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["data"].update(root=str(tmp_path / "football-data"), sources=[{"layout": "pipes", "path": str(data)}])
    params["protocol"].update(test_seasons=["2024"], oos_seasons=["2023"], validation_season="2022")  # its seasons
    params["drift"]["seasons"] = ["2024"]
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        assert _changed(repo) == {"a1lab/data/layouts/pipes.py", "params.yaml"}
        out = tmp_path / "out"
        done = _run(repo, "-m", "a1lab.cli", "ingest", "--params", "params.yaml", "--out", str(out),
                    "--metrics", str(out / "ingest.json"))
        assert done.returncode == 0, done.stderr
        counts = json.loads((out / "ingest.json").read_text())
        assert (counts["rows_read"], counts["rows_kept"], counts["rows_rejected"]) == (5, 4, 1)  # counts add up
        manifest = _run(repo, "-m", "a1lab.cli", "manifest", "--params", "params.yaml", "--out", str(out / "m.json"))
        assert manifest.returncode == 0 and str(data) in json.loads((out / "m.json").read_text())["files"]
        deps = _run(repo, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit/test_dvc_deps.py")
        assert deps.returncode == 0, deps.stdout[-3000:]
    finally:
        subprocess.run(["git", "checkout", "-q", "--", "params.yaml"], cwd=repo, check=True)
        (repo / "a1lab" / "data" / "layouts" / "pipes.py").unlink()


TOY_TRANSPORT = '''"""A toy transport: gzip-compressed JSONL files, ``gz:///path/file.jsonl.gz``."""

import gzip
import json
from pathlib import Path
from urllib.parse import urlsplit

from a1lab.live.transport import Transport


class Files:
    async def commit(self, parts):
        for part in parts:
            part.flush()


FILES = Files()


async def lines(path):
    with gzip.open(path, "rb") as f:
        for line in f:
            if line.strip():
                yield line


class Sink:
    store = FILES

    def __init__(self, path):
        self.file = gzip.open(path, "at", encoding="utf-8")

    def write(self, message):
        self.file.write(json.dumps(message) + "\\n")

    def flush(self):
        self.file.flush()

    def close(self):
        self.file.close()


class Checkpoint:
    store = FILES

    def __init__(self, path):
        self.path, self.staged = Path(path), None

    async def load(self):
        return gzip.decompress(self.path.read_bytes()) if self.path.exists() else None

    def stage(self, payload):
        self.staged = payload

    def flush(self):
        if self.staged is not None:
            self.path.write_bytes(gzip.compress(self.staged))
            self.staged = None


def path(address):
    return urlsplit(address).path


TRANSPORT = Transport(source=lambda a, opened: lines(path(a)), sink=lambda a, opened: Sink(path(a)),
                      checkpoint=lambda a, opened: Checkpoint(path(a)))
'''


def test_a_toy_live_transport_is_one_module_and_one_scheme_line(repo, live_lab, tmp_path):
    """gz:// as source, sink and checkpoint of `a1lab live run`: the predictions are the plain file run's, and a
    second run resumes from the gz checkpoint (nothing new)."""
    import gzip

    transport = repo / "a1lab" / "live" / "transport.py"
    (repo / "a1lab" / "live" / "gzfiles.py").write_text(TOY_TRANSPORT)
    text = transport.read_text()
    line = '"redis": "a1lab.live.redis_streams:REDIS"'
    assert line in text
    transport.write_text(text.replace(line, line + ', "gz": "a1lab.live.gzfiles:TRANSPORT"'))
    events = tmp_path / "events.jsonl.gz"
    events.write_bytes(gzip.compress((live_lab["root"] / "events_e0.jsonl").read_bytes()))
    common = ["--dead-letter", "", "--history", str(live_lab["root"] / "matches.parquet"), "--registry",
              str(live_lab["registry"]), "--model", "xgb", "--params", str(live_lab["params"])]
    try:
        assert _changed(repo) == {"a1lab/live/gzfiles.py", "a1lab/live/transport.py"}
        plain = _run(repo, "-m", "a1lab.cli", "live", "run", "--source", str(live_lab["root"] / "events_e0.jsonl"),
                     "--out", str(tmp_path / "plain.jsonl"), "--checkpoint", "", *common)
        assert plain.returncode == 0, plain.stderr[-3000:]
        toy = ["-m", "a1lab.cli", "live", "run", "--source", f"gz://{events}", "--out", f"gz://{tmp_path}/out.gz",
               "--checkpoint", f"gz://{tmp_path}/cp.gz", *common]
        for _ in (1, 2):
            done = _run(repo, *toy)
            assert done.returncode == 0, done.stderr[-3000:]

        def predictions(text: str) -> dict:
            return {(m["match_id"], m["revision"]): m["p"] for m in map(json.loads, text.splitlines())
                    if m["type"] == "prediction"}

        expected = predictions((tmp_path / "plain.jsonl").read_text())
        assert len(expected) > 100
        assert predictions(gzip.decompress((tmp_path / "out.gz").read_bytes()).decode()) == expected
        assert "0 new predictions" in done.stderr  # the second run resumed from the gz checkpoint
    finally:
        subprocess.run(["git", "checkout", "-q", "--", "a1lab/live/transport.py"], cwd=repo, check=True)
        (repo / "a1lab" / "live" / "gzfiles.py").unlink()
