"""Where a stage notebook runs and writes: from the project root, to the pipeline's paths or to scratch.

A notebook opened in JupyterLab (kernel in ``notebooks/``) or run with nbconvert from any folder finds
the project by walking up to ``dvc.yaml``; run outside ``dvc repro`` it is exploratory and writes under
``scratch/<stage>/`` (git-ignored), so it never touches ``metrics/``, the pipeline's outputs or the
registry's "latest" model. ``pipelines/run_notebook.py`` passes ``pipeline=True``.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

SCRATCH = "scratch"


def project_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working folder) holding ``dvc.yaml``.

    Raises:
        FileNotFoundError: no such folder (the message says how to run the notebook).
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").is_file() and (folder / "params.yaml").is_file():
            return folder
    raise FileNotFoundError(f"no a1lab project (dvc.yaml and params.yaml) at or above {here}; open the notebook "
                            "from the repo's notebooks/ folder, or run `dvc repro` in the repo")


@dataclass(frozen=True)
class Outputs:
    """Where one stage writes: its pipeline paths under ``dvc repro``, else the same paths under scratch."""

    stage: str
    pipeline: bool

    @property
    def folder(self) -> Path:
        return Path(".") if self.pipeline else Path(SCRATCH) / self.stage

    def path(self, relative: str | Path) -> str:
        """An output path as the run should use it (relative to the project root), ready to write into: the
        folder of a file (a name with a suffix), or the folder itself (no suffix) is created."""
        path = Path(relative) if self.pipeline else self.folder / relative
        (path.parent if path.suffix else path).mkdir(parents=True, exist_ok=True)
        return str(path)


def missing_inputs(stage: str, pipeline_file: str | Path = "dvc.yaml") -> list[tuple[str, str]]:
    """(path, the stage that writes it) for each input of ``stage`` that another stage of the pipeline writes
    and that is not there yet."""
    import yaml

    stages = yaml.safe_load(Path(pipeline_file).read_text())["stages"]
    writers = {}
    for name, body in stages.items():
        body = body.get("do", body)
        for key in ("outs", "metrics", "plots"):
            for out in body.get(key, []):
                writers[out if isinstance(out, str) else next(iter(out))] = name
    body = stages.get(stage, {})
    deps = body.get("do", body).get("deps", [])
    return [(d, writers[d]) for d in deps if d in writers and "${" not in d and not Path(d).exists()]


def die_with_parent() -> None:
    """End this process with its parent: Linux sends it SIGTERM when the process that started it dies
    (``prctl(PR_SET_PDEATHSIG)``), so a killed ``dvc repro`` leaves no notebook runner or kernel writing
    outputs behind it. Elsewhere nothing is done."""
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the request: nobody is waiting for this run
        os.kill(os.getpid(), signal.SIGTERM)


def enter(stage: str, pipeline: bool = False) -> Outputs:
    """Make the project root the working folder and say where this run writes.

    Raises:
        SystemExit: an input of the stage is not there yet (one line naming the stage that writes it, which
            a notebook shows without a traceback).
    """
    os.chdir(project_root())
    if pipeline:  # a stage's kernel ends with its runner
        die_with_parent()
    # tqdm's notebook bars need ipywidgets, which the lab does not install (a widget's state in an executed
    # notebook would differ run to run); its warning carried the virtualenv's path into every notebook
    warnings.filterwarnings("ignore", message="IProgress not found")
    if missing := missing_inputs(stage):
        path, writer = missing[0]
        raise SystemExit(f"{path} is not there yet: run `dvc repro {writer}` first (or `dvc repro` for the whole "
                         f"pipeline), then this notebook")
    out = Outputs(stage, bool(pipeline))
    if not out.pipeline:
        print(f"A run outside `dvc repro`: outputs go to {out.folder}/ (the pipeline's metrics/, data/, models/ "
              "and reports/ are only written by `dvc repro`).")
    return out
