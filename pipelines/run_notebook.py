"""Run one stage notebook with papermill, its params.yaml section as parameters.

    python pipelines/run_notebook.py STAGE [--section NAME] [--params params.yaml]
    python pipelines/run_notebook.py train --model NAME

Executes notebooks/STAGE.ipynb and writes the executed copy to
reports/notebooks/STAGE.ipynb and .html. The section's top-level keys become
notebook variables (they override the literal defaults of the `parameters` cell);
`--with SECTION` passes another whole section as one variable of that name.
`--model NAME` also passes `model=NAME` and `settings=` the `models.NAME` entry,
and names the executed copy STAGE_NAME (one notebook, one run per model).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def stage_parameters(params_file: Path, section: str) -> dict:
    """The params.yaml section for a stage, as a dict of notebook parameters."""
    params = yaml.safe_load(params_file.read_text()) or {}
    if section not in params:
        raise SystemExit(f"params.yaml has no section {section!r}; sections: {sorted(params)}")
    value = params[section]
    if not isinstance(value, dict):
        raise SystemExit(f"params.yaml section {section!r} must be a mapping")
    return value


def run(stage: str, section: str, params_file: Path, out_dir: Path, extra: tuple[str, ...] = (),
        model: str | None = None) -> Path:
    """Execute the stage notebook and export it as .ipynb and .html; return the .ipynb path."""
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    notebook = ROOT / "notebooks" / f"{stage}.ipynb"
    if not notebook.is_file():
        raise SystemExit(f"no notebook {notebook}")
    parameters = {**stage_parameters(params_file, section), **{s: stage_parameters(params_file, s) for s in extra}}
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
    papermill.execute_notebook(str(notebook), str(executed), parameters=parameters, kernel_name="python3",
                               progress_bar=False, cwd=str(Path.cwd()))
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
    (out_dir / f"{name}.html").write_text(body, encoding="utf-8")
    seconds = time.perf_counter() - started
    timings = ROOT / "reports" / "timings"  # git-ignored: wall-clock times change on every run
    timings.mkdir(parents=True, exist_ok=True)
    (timings / f"stage_{name}.json").write_text(json.dumps({"seconds": round(seconds, 2)}) + "\n")
    print(f"{name}: executed in {seconds:.1f} s -> {executed}")
    return executed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage")
    parser.add_argument("--section", default=None, help="params.yaml section (default: the stage name)")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="reports/notebooks")
    parser.add_argument("--with", dest="extra", action="append", default=[],
                        help="another params.yaml section, passed whole as a parameter of that name")
    parser.add_argument("--model", default=None, help="an entry of the params.yaml `models` section")
    args = parser.parse_args(argv)
    run(args.stage, args.section or args.stage, Path(args.params), Path(args.out), tuple(args.extra), args.model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
