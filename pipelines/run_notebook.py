"""Run one stage notebook with papermill after checking params.yaml.

    python pipelines/run_notebook.py STAGE [--params params.yaml]
    python pipelines/run_notebook.py train --model NAME

Validates the params file (every section, and that they agree: a1lab.params), then executes notebooks/STAGE.ipynb
with papermill (in a Jupyter kernel, papermill's own engine) with `params_path` and `pipeline=True` (and `model`)
as parameters: the notebook reads its settings from the validated file itself, so no setting is written twice.
The executed copy goes to reports/notebooks/STAGE.ipynb and .html (STAGE_NAME with `--model NAME`: one notebook,
one run per model).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROGRESS_SECONDS = 2.0  # cells that took longer are listed after the run
NICE = 10  # a stage (its kernel, Dask workers and threads) yields the CPU to a live loop on the same machine;
# on an otherwise idle machine it runs as fast (reports/bench/live.json: the loop beside busy processes)


def run(stage: str, params_file: Path, out_dir: Path, model: str | None = None) -> Path:
    """Execute the stage notebook and export it as .ipynb and .html; return the .ipynb path."""
    # jsonschema (under nbformat) imports rfc3987_syntax, which builds a Lark grammar in about 1.7 s, for an
    # "iri" format check no notebook schema uses: skip it (jsonschema treats it as not installed).
    sys.modules.setdefault("rfc3987_syntax", None)
    import nbformat
    import papermill
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    from a1lab.notebook import HIDDEN_INPUT_TAGS, steady
    from a1lab.params import ParamsError, load_params

    notebook = ROOT / "notebooks" / f"{stage}.ipynb"
    if not notebook.is_file():
        raise SystemExit(f"no notebook {notebook}")
    try:
        params = load_params(params_file)  # every section, and that they agree, before any work
    except ParamsError as exc:
        raise SystemExit(str(exc)) from None
    # pipeline: the real outputs (a1lab.workspace; by hand, a notebook writes to scratch/)
    parameters, name = {"params_path": str(params_file), "pipeline": True}, stage
    if model is not None:
        if model not in params.models:
            raise SystemExit(f"{params_file} models has no entry {model!r}; entries: {sorted(params.models)}")
        parameters["model"], name = model, f"{stage}_{model}"
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / f"{name}.ipynb"
    started = time.perf_counter()
    print(f"{name}: running notebooks/{stage}.ipynb", flush=True)
    try:
        papermill.execute_notebook(str(notebook), str(executed), parameters=parameters, kernel_name="python3",
                                   progress_bar=False, cwd=str(Path.cwd()),  # the kernel's own log: errors only;
                                   extra_arguments=["--IPKernelApp.log_level=ERROR",  # its own stderr (a1lab.progress)
                                                    "--IPKernelApp.capture_fd_output=False"])  # to this terminal
    except papermill.PapermillExecutionError as exc:  # one line, and where the whole traceback is
        hint = (" (an input is missing: `dvc repro` builds a stage's inputs first)"
                if exc.ename in ("FileNotFoundError", "KeyError") else "")
        raise SystemExit(f"{name}: cell {exc.exec_count} failed: {exc.ename}: {exc.evalue}{hint}; "
                         f"the executed notebook with the traceback: {executed}") from None
    nb = nbformat.read(executed, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    durations = [c.metadata.get("papermill", {}).get("duration") or 0.0 for c in code]  # before steady drops them
    for number, (cell, seconds) in enumerate(zip(code, durations, strict=True), 1):
        if seconds >= PROGRESS_SECONDS:  # the slow cells, so a long stage says where its time went
            lines = [line for line in cell.source.splitlines()
                     if line and not line.startswith(("#", "import ", "from "))]
            print(f"  cell {number}/{len(code)}: {seconds:.1f} s  {(lines or [''])[0][:70]}")
    nb = steady(nb, f"notebooks/{stage}.ipynb")
    nbformat.write(nb, executed)
    config = Config()  # the HTML leaves out the code of parameters and plumbing cells (the notebook keeps it)
    config.TagRemovePreprocessor.update(enabled=True, remove_input_tags=set(HIDDEN_INPUT_TAGS))
    config.HTMLExporter.preprocessors = ["nbconvert.preprocessors.TagRemovePreprocessor"]
    body, _ = HTMLExporter(config=config).from_notebook_node(nb, resources={"metadata": {"name": f"a1lab {name}"}})
    (out_dir / f"{name}.html").write_text(body, encoding="utf-8")
    seconds = time.perf_counter() - started
    timings = Path("reports") / "timings"  # git-ignored: wall-clock times change on every run
    timings.mkdir(parents=True, exist_ok=True)
    (timings / f"stage_{name}.json").write_text(json.dumps({"seconds": round(seconds, 2),
                                                            "cells": round(sum(durations), 2)}) + "\n")
    print(f"{name}: executed in {seconds:.1f} s -> {executed}")
    return executed


def main(argv: list[str] | None = None) -> int:
    """Run a stage (see the module docstring) on the pinned CPU code paths (:func:`a1lab.cpu.baseline_cpu`)."""
    from a1lab.cpu import baseline_cpu
    from a1lab.workspace import die_with_parent

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", help="a notebook of notebooks/ (data, features, train, ensemble, backtest, drift)")
    parser.add_argument("--params", default="params.yaml", help="the params file")
    parser.add_argument("--out", default="reports/notebooks", help="where the executed .ipynb and .html go")
    parser.add_argument("--model", default=None, help="an entry of the params.yaml `models` section")
    args = parser.parse_args(argv)
    baseline_cpu()  # the kernel inherits it
    os.nice(max(0, NICE - os.nice(0)))  # and its priority; a stage started at a lower one keeps it
    die_with_parent()  # a killed `dvc repro` takes this run with it: SIGTERM ends it through its cleanup,
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the kernel's shutdown among it
    run(args.stage, Path(args.params), Path(args.out), args.model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
