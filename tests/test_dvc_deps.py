"""Every a1lab module a stage imports (transitively, lazy imports included) is one of the stage's DVC deps,
so editing it reruns the stage: the dependency lists cannot silently fall behind the code."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _module_file(name: str) -> Path | None:
    base = ROOT / Path(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}  # `from pkg import module`
    names = {n for n in names if n == "a1lab" or n.startswith("a1lab.")}
    if "a1lab.registry" in names:  # registry.estimator_classes imports every module of a1lab.models
        names |= {f"a1lab.models.{p.stem}" for p in (ROOT / "a1lab" / "models").glob("*.py")}
    return names


def _closure(source: str) -> set[Path]:
    files: set[Path] = set()
    todo = list(_imports(source))
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # a module's packages are imported with it
            path = _module_file(".".join(parts[:i]))
            if path is not None and path not in files:
                files.add(path)
                todo += _imports(path.read_text())
    return files


def _stage_source(stage: dict) -> str:
    # the stage server's start (sources' first line) makes no output (a runner uses a server only of its own sources)
    work = [c for c in ([stage["cmd"]] if isinstance(stage["cmd"], str) else stage["cmd"])
            if c != "python pipelines/stage_server.py --start"]
    assert len(work) == 1, work
    cmd = work[0]
    if "run_notebook.py" in cmd:
        notebook = json.loads((ROOT / "notebooks" / f"{cmd.split()[2]}.ipynb").read_text())
        return "\n".join("".join(line for line in c["source"] if not line.lstrip().startswith(("%", "!")))
                         for c in notebook["cells"] if c["cell_type"] == "code")
    if cmd.startswith("a1lab "):
        return "import a1lab.cli"
    raise AssertionError(f"unknown stage command {cmd!r}")


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_depends_on_every_module_it_imports(name):
    stage = STAGES[name].get("do", STAGES[name])  # a foreach stage: its template
    if stage.get("always_changed"):
        return
    deps = [ROOT / d for d in stage.get("deps", [])]
    missing = sorted(str(f.relative_to(ROOT)) for f in _closure(_stage_source(stage))
                     if not any(f == d or d in f.parents for d in deps))
    assert not missing, f"stage {name} imports {missing} but does not depend on them"


def test_every_model_entry_names_a_registered_estimator_and_feeds_the_ensemble():
    from a1lab.registry import estimator_classes

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    classes = estimator_classes()
    assert {entry["estimator"] for entry in params["models"].values()} <= set(classes)
    assert set(params["ensemble"]["members"]) - {"market"} <= set(params["models"])
    train = STAGES["train"]
    assert train["foreach"] == "${models}" and "data/predictions/${key}.parquet" in train["do"]["outs"]
    assert "data/predictions" in STAGES["ensemble"]["deps"]  # the folder: a new model needs no new dependency
