"""Rooms with one job: no import cycles in the package or the pipelines (lazy imports included), and the tests
take nothing from bench/."""

from __future__ import annotations

from pathlib import Path

from a1lab.testing import imported_names

ROOT = Path(__file__).resolve().parents[2]


def _modules() -> dict[str, Path]:
    found = {}
    for path in (ROOT / "a1lab").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found | {f"pipelines.{p.stem}": p for p in (ROOT / "pipelines").glob("*.py")}


def test_no_import_cycles():
    modules = _modules()
    graph = {name: {m for n in imported_names(path.read_text()) for m in (n, f"pipelines.{n}")
                    if m in modules and m != name} for name, path in modules.items()}
    cycles = []

    def reach(start: str) -> set[str]:
        seen, todo = set(), list(graph[start])
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo += graph[name]
        return seen

    for name in graph:
        back = sorted(m for m in graph[name] if name in reach(m))
        cycles += [f"{name} <-> {m}" for m in back]
    assert not cycles


def test_tests_take_nothing_from_bench():
    bench = {p.stem for p in (ROOT / "bench").glob("*.py")}
    users = {str(p.relative_to(ROOT)): sorted({n.split(".")[0] for n in imported_names(p.read_text())} & bench)
             for p in (ROOT / "tests").rglob("*.py")}
    assert not {k: v for k, v in users.items() if v}


def test_what_dvc_and_the_runner_write_beside_the_outputs_is_ignored():
    """Before: `dvc plots show` left dvc_plots/ untracked in git status."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    paths = ["dvc_plots/index.html", "reports/timings/stage_data.json", "datasets/nba/reports/timings/stage_data.json",
             "scratch/train/metrics/x.json"]
    ignored = subprocess.run(["git", "check-ignore", *paths], cwd=root, capture_output=True, text=True).stdout.split()
    assert ignored == paths
