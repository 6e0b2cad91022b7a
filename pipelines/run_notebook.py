"""Run one stage notebook with papermill, its params.yaml section as parameters.

    python pipelines/run_notebook.py STAGE [--section NAME] [--params params.yaml]
    python pipelines/run_notebook.py train --model NAME

Executes notebooks/STAGE.ipynb (with papermill; in this process by default, see
InProcessEngine, or in a Jupyter kernel with --kernel) and writes the executed copy to
reports/notebooks/STAGE.ipynb and .html. The section's top-level keys become
notebook variables (they override the literal defaults of the `parameters` cell);
`--with SECTION` passes another whole section as one variable of that name.
`--model NAME` also passes `model=NAME` and `settings=` the `models.NAME` entry,
and names the executed copy STAGE_NAME (one notebook, one run per model).
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import platform
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbformat import NotebookNode

ROOT = Path(__file__).resolve().parents[1]
PROGRESS_SECONDS = 2.0  # cells that take longer print a progress line
# Floats must not depend on the CPU's vector extensions, or `dvc repro` of a fresh clone on another x86-64 CPU would
# not give the committed outputs. On this AVX-512 machine, without these settings, the network's weights moved after a
# few epochs when MKL was held to AVX2 (its float32 training: torch's kernels, MKL and oneDNN), and the stacked
# ensemble moved with OpenBLAS's kernels (Haswell, Skylake-X or older: what the CPU or an OPENBLAS_CORETYPE set by the
# machine picks); numpy's AVX-512 exp and log differ from its AVX2 ones in the last bit. So: torch, MKL and oneDNN on
# their baseline code paths, OpenBLAS on Nehalem kernels (numpy's own baseline is that level), numpy at most AVX2;
# with them, MKL held to AVX2 left every output as it was, and the pipeline took no longer. Set over whatever the
# environment says; A1LAB_NATIVE_CPU=1 leaves the environment alone (faster on some CPUs, other last digits).
X86_64 = ("x86_64", "AMD64")  # platform.machine() of the CPUs BASELINE_CPU is for
BASELINE_CPU = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE", "ONEDNN_MAX_CPU_ISA": "SSE41",
                "OPENBLAS_CORETYPE": "Nehalem", "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}


class _Outputs:
    """The outputs of the cell being run, in order (consecutive stream writes merged)."""

    def __init__(self) -> None:
        self.items: list[dict] = []

    def stream(self, name: str, text: str) -> None:
        if self.items and self.items[-1]["output_type"] == "stream" and self.items[-1]["name"] == name:
            self.items[-1]["text"] += text
        elif text:
            self.items.append({"output_type": "stream", "name": name, "text": text})


class _Stream(io.TextIOBase):
    def __init__(self, outputs: _Outputs, name: str) -> None:
        self.outputs, self.name_ = outputs, name

    def write(self, text: str) -> int:
        self.outputs.stream(self.name_, text)
        return len(text)

    def writable(self) -> bool:
        return True


def _shell(outputs: _Outputs):
    """An IPython shell whose results, displays and tracebacks become notebook outputs (as ipykernel's do)."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    class Publisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
            outputs.items.append({"output_type": "display_data", "data": data, "metadata": metadata or {}})

        def clear_output(self, wait=False):
            outputs.items.clear()

    class Hook(DisplayHook):
        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            outputs.items.append({"output_type": "execute_result", "data": format_dict,
                                  "metadata": md_dict or {}, "execution_count": self.shell.execution_count})

        def finish_displayhook(self):
            pass

    class Shell(InteractiveShell):
        display_pub_class = Publisher
        displayhook_class = Hook

        def enable_gui(self, gui=None):  # "inline" needs no event loop
            pass

        def _showtraceback(self, etype, evalue, stb):
            outputs.items.append({"output_type": "error", "ename": etype.__name__, "evalue": str(evalue),
                                  "traceback": stb})

    shell = Shell.instance()
    shell.enable_matplotlib("inline")
    return shell


def _engine():
    """papermill's engine that runs the cells in this process: the same outputs as a kernel's, without
    starting one (about a second per stage; every stage is its own `python run_notebook.py` process)."""
    import nbformat
    from papermill.engines import Engine

    class InProcessEngine(Engine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            outputs = _Outputs()
            shell = _shell(outputs)
            saved = sys.stdout, sys.stderr
            code = [i for i, c in enumerate(nb_man.nb.cells) if c.cell_type == "code"]
            for index, cell in enumerate(nb_man.nb.cells):
                nb_man.cell_start(cell, index)
                if cell.cell_type == "code":
                    outputs.items.clear()
                    sys.stdout, sys.stderr = _Stream(outputs, "stdout"), _Stream(outputs, "stderr")
                    started = time.perf_counter()
                    try:
                        result = shell.run_cell(cell.source, store_history=True)
                    finally:
                        sys.stdout, sys.stderr = saved
                    seconds = time.perf_counter() - started
                    if seconds >= PROGRESS_SECONDS:  # a line for every slow cell, so long stages are not silent
                        lines = [line for line in cell.source.splitlines()
                                 if line and not line.startswith(("#", "import ", "from "))]
                        first = lines[0] if lines else ""
                        print(f"  cell {code.index(index) + 1}/{len(code)}: {seconds:.1f} s  {first[:70]}", flush=True)
                    cell.execution_count = result.execution_count
                    cell.outputs = [nbformat.from_dict(o) for o in outputs.items]
                    if not result.success:
                        nb_man.cell_exception(cell, index)
                        nb_man.cell_complete(cell, index)
                        break
                nb_man.cell_complete(cell, index)

    return InProcessEngine


def stage_parameters(params_file: Path, section: str) -> dict:
    """The params.yaml section for a stage, validated (a1lab.params), as a dict of notebook parameters."""
    from a1lab.params import ParamsError, check_section, read_params

    try:
        params = read_params(params_file)
        if section not in params:
            raise SystemExit(f"{params_file} has no section {section!r}; sections: {sorted(params)}")
        check_section(section, params[section], str(params_file))
    except ParamsError as exc:
        raise SystemExit(str(exc)) from None
    return params[section]


def baseline_cpu() -> None:
    """Set :data:`BASELINE_CPU` (x86-64 only; not with ``A1LAB_NATIVE_CPU=1``). Call it before anything loads numpy
    or torch; processes started later (a kernel, Dask workers) inherit it."""
    if platform.machine() in X86_64 and os.environ.get("A1LAB_NATIVE_CPU") != "1":
        os.environ.update(BASELINE_CPU)


_CLOCK = ("start_time", "end_time", "duration")
_STYLER_ID = re.compile(r"\bT_([0-9a-f]{5})(?![0-9A-Za-z])")  # pandas Styler's random table id
_ADDRESS = re.compile(r" at 0x[0-9a-f]+>")  # a default repr's memory address


def steady(nb: NotebookNode, input_path: str) -> NotebookNode:
    """The executed notebook without what changes from run to run of the same inputs, so that its bytes (and
    DVC's hash of them) change only when a result does: papermill's clock times and absolute input path, the
    random id of its injected cell, pandas Styler's random table ids (renumbered in order), the memory
    addresses of default reprs."""
    meta = nb.metadata.get("papermill", {})
    for key in _CLOCK:
        meta.pop(key, None)
    if "input_path" in meta:
        meta["input_path"] = input_path
    ids: dict[str, str] = {}

    def renumber(match: re.Match) -> str:
        return ids.setdefault(match.group(1), f"T_{len(ids):05d}")

    for cell in nb.cells:
        for key in _CLOCK:
            cell.metadata.get("papermill", {}).pop(key, None)
        cell.metadata.pop("execution", None)  # a kernel's (--kernel) timestamps
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            for kind, pattern, new in (("text/html", _STYLER_ID, renumber), ("text/plain", _ADDRESS, ">")):
                if kind in data:
                    text = "".join(data[kind]) if isinstance(data[kind], list) else data[kind]
                    data[kind] = pattern.sub(new, text)
    return nb


@functools.cache
def html_exporter():
    """nbconvert's HTML exporter, built once per process (the stage server builds it before forking)."""
    from nbconvert import HTMLExporter

    return HTMLExporter()


def run(stage: str, section: str, params_file: Path, out_dir: Path, extra: tuple[str, ...] = (),
        model: str | None = None, kernel: bool = False) -> Path:
    """Execute the stage notebook and export it as .ipynb and .html; return the .ipynb path."""
    # jsonschema (under nbformat) imports rfc3987_syntax, which builds a Lark grammar in about 1 s, for an
    # "iri" format check no notebook schema uses: skip it (jsonschema treats it as not installed).
    sys.modules.setdefault("rfc3987_syntax", None)
    import nbformat
    import papermill

    notebook = ROOT / "notebooks" / f"{stage}.ipynb"
    if not notebook.is_file():
        raise SystemExit(f"no notebook {notebook}")
    from a1lab.params import ParamsError, load_params

    try:
        load_params(params_file)  # every section, and that they agree, before any work
    except ParamsError as exc:
        raise SystemExit(str(exc)) from None
    parameters = {**stage_parameters(params_file, section), **{s: stage_parameters(params_file, s) for s in extra},
                  "pipeline": True}  # the real outputs (a1lab.workspace; by hand, a notebook writes to scratch/)
    name = stage
    if model is not None:
        models = stage_parameters(params_file, "models")
        if model not in models:
            raise SystemExit(f"params.yaml models has no entry {model!r}; entries: {sorted(models)}")
        parameters.update(model=model, settings=models[model])
        name = f"{stage}_{model}"
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / f"{name}.ipynb"
    started = time.perf_counter()
    print(f"{name}: running notebooks/{stage}.ipynb", flush=True)
    import logging  # a1lab's progress messages (e.g. each drift report) go to the terminal, not the notebook

    handler = logging.StreamHandler(sys.__stderr__)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    logging.getLogger("a1lab").addHandler(handler)
    logging.getLogger("a1lab").setLevel(logging.INFO)
    if not kernel:
        papermill.engines.papermill_engines.register("inprocess", _engine())
    try:
        papermill.execute_notebook(str(notebook), str(executed), parameters=parameters, kernel_name="python3",
                                   progress_bar=False, cwd=str(Path.cwd()),
                                   engine_name=None if kernel else "inprocess")
    except papermill.PapermillExecutionError as exc:  # one line, and where the whole traceback is
        hint = (" (an input is missing: `dvc repro` builds a stage's inputs first)"
                if exc.ename in ("FileNotFoundError", "KeyError") else "")
        raise SystemExit(f"{name}: cell {exc.exec_count} failed: {exc.ename}: {exc.evalue}{hint}; "
                         f"the executed notebook with the traceback: {executed}") from None
    title = f"a1lab {name}"
    nb = nbformat.read(executed, as_version=4)
    cells = sum(c.metadata.get("papermill", {}).get("duration") or 0.0 for c in nb.cells)  # before steady drops it
    nb = steady(nb, f"notebooks/{stage}.ipynb")
    nbformat.write(nb, executed)
    body, _ = html_exporter().from_notebook_node(nb, resources={"metadata": {"name": title}})  # else "Notebook"
    (out_dir / f"{name}.html").write_text(body, encoding="utf-8")
    seconds = time.perf_counter() - started
    timings = ROOT / "reports" / "timings"  # git-ignored: wall-clock times change on every run
    timings.mkdir(parents=True, exist_ok=True)
    (timings / f"stage_{name}.json").write_text(json.dumps({"seconds": round(seconds, 2), "cells": round(cells, 2)})
                                                + "\n")
    print(f"{name}: executed in {seconds:.1f} s -> {executed}")
    return executed


def main(argv: list[str] | None = None, serve: bool = True) -> int:
    """Run a stage (see the module docstring); with ``serve``, in a child of the warm stage server where one
    is running (pipelines/stage_server.py; ``A1LAB_STAGE_SERVER=0``: never), else in this process."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", help="a notebook of notebooks/ (data, features, train, ensemble, backtest, drift)")
    parser.add_argument("--section", default=None, help="params.yaml section (default: the stage name)")
    parser.add_argument("--params", default="params.yaml", help="the params file")
    parser.add_argument("--out", default="reports/notebooks", help="where the executed .ipynb and .html go")
    parser.add_argument("--with", dest="extra", action="append", default=[],
                        help="another params.yaml section, passed whole as a parameter of that name")
    parser.add_argument("--model", default=None, help="an entry of the params.yaml `models` section")
    parser.add_argument("--kernel", action="store_true", help="run the cells in a Jupyter kernel, not in this process")
    args = parser.parse_args(argv)
    baseline_cpu()
    if serve and not args.kernel:
        import stage_server

        if stage_server.enabled():
            code = stage_server.submit(argv)
            if code is not None:
                return code
    run(args.stage, args.section or args.stage, Path(args.params), Path(args.out), tuple(args.extra), args.model,
        args.kernel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
