"""pyproject.toml declares what the package imports, and requirements.txt (what CI installs) holds it all."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    """A requirement's distribution name, normalised (PEP 503), without extras, versions or comments."""
    return re.sub(r"[-_.]+", "-", re.split(r"[\[=<>!~;#\s]", requirement.strip(), maxsplit=1)[0]).lower()


def _imports() -> set[str]:
    """Top-level modules a1lab imports anywhere (function-level imports too), third-party only."""
    found = set()
    for path in (ROOT / "a1lab").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in ("a1lab", "__future__")}


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [r for group in project.get("optional-dependencies", {}).values() for r in group]
    return {_name(r) for r in project["dependencies"] + extras}


def test_every_imported_library_is_declared_in_pyproject():
    owners = packages_distributions()
    declared = _declared()
    missing = {m: owners.get(m) for m in _imports() if not {_name(d) for d in owners.get(m, [m])} & declared}
    assert not missing, f"imported by a1lab but not in pyproject.toml's dependencies or extras: {missing}"


def test_requirements_install_everything_pyproject_declares():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    required = {_name(line) for line in lines if line.strip() and not line.lstrip().startswith("#")}
    first = re.findall(r"pip install -q (\S+)==", (ROOT / "Makefile").read_text())  # torch, installed alone first
    assert _declared() - required - {_name(r) for r in first} == set()
