"""Every a1lab module a stage imports (transitively, lazy imports included) is one of the stage's DVC deps,
so editing it reruns the stage: the dependency lists cannot silently fall behind the code. And no stage
depends on more than that: a new model or an edit of the live loop reruns only what uses it."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import yaml

from a1lab.testing import imported_names

ROOT = Path(__file__).resolve().parents[2]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
MODELS = ROOT / "a1lab" / "models"
LAYOUTS = ROOT / "a1lab" / "data" / "layouts"
SHARED_MODEL_FILES = {MODELS / "__init__.py", MODELS / "base.py"}  # discovery and the estimators' common code


def _module_file(name: str) -> Path | None:
    base = ROOT / Path(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imports(source: str) -> set[str]:
    return {n for n in imported_names(source) if n == "a1lab" or n.startswith("a1lab.")}


def closure(source: str, one_model: bool = False) -> set[Path]:
    """The a1lab files ``source`` imports, transitively. ``registry.estimator_classes`` imports every model
    module; with ``one_model`` (a stage that loads one estimator by its class, ``registry.estimator_class``)
    no model module is counted but the shared ones: the caller adds that estimator's module."""
    files: set[Path] = set()
    todo = list(_imports(source))
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # a module's packages are imported with it
            path = _module_file(".".join(parts[:i]))
            if path is None or path in files:
                continue
            if one_model and path.parent == MODELS and path not in SHARED_MODEL_FILES:
                continue
            files.add(path)
            todo += _imports(path.read_text())
            if path == ROOT / "a1lab" / "registry.py" and not one_model:
                todo += [f"a1lab.models.{p.stem}" for p in MODELS.glob("*.py")]
            if path == LAYOUTS / "__init__.py":  # params.py validates sources with every layout's model ...
                for layout in LAYOUTS.glob("[!_]*.py"):
                    files.add(layout)
                    todo += _imports(_module_level(layout.read_text()))
            if path == ROOT / "a1lab" / "data" / "dataset.py":  # ... and the data set reads them with their readers
                for layout in LAYOUTS.glob("[!_]*.py"):
                    files.add(layout)
                    todo += _imports(layout.read_text())
    return files


def _module_level(source: str) -> str:
    """A module's source without its functions and methods: what importing it runs."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef | ast.Module):
            node.body = [n for n in node.body if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)] or [
                ast.Pass()]
    return ast.unparse(tree)


def _cli_source(command: str) -> str:
    """The part of a1lab/cli.py an ``a1lab COMMAND`` runs: its module-level imports and the functions
    ``cmd_COMMAND`` calls there, transitively (not the argument parser of the other commands)."""
    tree = ast.parse((ROOT / "a1lab" / "cli.py").read_text())
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    top = [n for n in tree.body if not isinstance(n, ast.FunctionDef | ast.ClassDef)]
    seen, todo = set(), [f"cmd_{command}"]
    while todo:
        name = todo.pop()
        if name in seen or name not in functions:
            continue
        seen.add(name)
        todo += [c.func.id for c in ast.walk(functions[name])
                 if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)]
    return "\n".join(ast.unparse(n) for n in top + [functions[n] for n in sorted(seen)])


def _stage_source(stage: dict) -> str:
    cmd = stage["cmd"]
    if "run_notebook.py" in cmd:
        notebook = json.loads((ROOT / "notebooks" / f"{cmd.split()[2]}.ipynb").read_text())
        return "\n".join("".join(line for line in c["source"] if not line.lstrip().startswith(("%", "!")))
                         for c in notebook["cells"] if c["cell_type"] == "code")
    if cmd.startswith("a1lab "):
        return _cli_source(cmd.split()[1])
    raise AssertionError(f"unknown stage command {cmd!r}")


def _entries(name: str) -> list[tuple[dict, set[Path]]]:
    """The stage (a foreach stage: once per models entry, its template filled in) and the files it imports."""
    stage = STAGES[name]
    if "foreach" not in stage:
        return [(stage, closure(_stage_source(stage)))]
    out = []
    for key, item in PARAMS["models"].items():
        text = json.dumps(stage["do"]).replace("${key}", key)
        text = re.sub(r"\$\{item\.(\w+)\}", lambda m: str(item[m.group(1)]), text)  # noqa: B023
        filled = json.loads(text)
        module = f"a1lab.models.{item['module']}"
        out.append((filled, closure(_stage_source(filled), one_model=True) | closure(f"import {module}")))
    return out


def _covered(path: Path, deps: list[Path]) -> bool:
    return any(path == d or d in path.parents for d in deps)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_depends_on_every_module_it_imports_and_no_other(name):
    for stage, files in _entries(name):
        if stage.get("always_changed"):
            continue
        if "run_notebook.py" in stage["cmd"]:  # the runner imports a1lab.cpu, notebook and params
            files = files | closure((ROOT / "pipelines" / "run_notebook.py").read_text())
        deps = [ROOT / d for d in stage.get("deps", [])]
        missing = sorted(str(f.relative_to(ROOT)) for f in files if not _covered(f, deps))
        assert not missing, f"stage {name} imports {missing} but does not depend on them"
        package = [d for d in deps if d == ROOT / "a1lab" or ROOT / "a1lab" in d.parents]
        unused = sorted(str(d.relative_to(ROOT)) for d in package
                        if not any(f == d or d in f.parents for f in files))
        assert not unused, f"stage {name} depends on {unused} but imports nothing there"


def test_every_model_entry_names_its_module_and_feeds_the_ensemble():
    from a1lab.registry import estimator_classes

    classes = estimator_classes()
    for entry in PARAMS["models"].values():
        assert classes[entry["estimator"]].__module__ == f"a1lab.models.{entry['module']}"
    from a1lab.params import load_params

    assert set(load_params(ROOT / "params.yaml").ensemble.members) - {"market"} <= set(PARAMS["models"])
    train = STAGES["train"]
    assert train["foreach"] == "${models}" and "data/predictions/${key}.parquet" in train["do"]["outs"]
    assert "a1lab/models/${item.module}.py" in train["do"]["deps"]
    assert "data/predictions" in STAGES["ensemble"]["deps"]  # the folder: a new model needs no new dependency
