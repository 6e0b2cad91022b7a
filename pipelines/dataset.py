"""Run the pipeline on a data set: a folder of datasets/ with its own params, pipeline, lock and outputs.

    python pipelines/dataset.py nba                # datasets/nba/config.yaml -> params.yaml, dvc.yaml; dvc repro there
    python pipelines/dataset.py extra nba --parallel  # several at once, each `dvc repro` a Dask task (params compute)
    python pipelines/dataset.py --check            # exit 1 when a folder's params.yaml or dvc.yaml is out of date

A data set is ``datasets/<name>/config.yaml``: an overlay of the root params.yaml as committed (nested mappings
merged, lists replaced; relative ``path`` entries of ``data.sources`` are taken from that folder; an experiment
applied in the root's workspace is not the data set's). From it and the root, this script writes the folder's
``params.yaml`` (the merged, validated settings), ``dvc.yaml`` (the root pipeline, its code paths taken from the
folder, its plots titled with the data set's name) and a DVC project of its own (``.dvc/config``: the root's
settings, its cache), then runs ``dvc repro`` there. Its outputs, ``dvc.lock`` and metrics stay in the folder:
``dvc metrics show``, ``dvc plots show`` and ``dvc status`` there show that data set alone, and the root's
show the root's alone.
"""

from __future__ import annotations

import argparse
import configparser
import io
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "datasets"
CODE = ("a1lab/", "notebooks/", "pipelines/")  # what a data set's stages read from the repository
HEADER = "# Written by pipelines/dataset.py from {source}: edit those, not this file.\n"


def merge(base: dict, overrides: dict) -> dict:
    """``base`` with ``overrides`` applied key by key, nested mappings merged rather than replaced."""
    out = dict(base)
    for key, value in overrides.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def shipped() -> list[str]:
    """The data sets of datasets/ (folders with a config.yaml)."""
    return sorted(p.parent.name for p in DATASETS.glob("*/config.yaml"))


def load_config(name: str) -> dict:
    """``datasets/<name>/config.yaml``."""
    path = DATASETS / name / "config.yaml"
    if not path.is_file():
        raise SystemExit(f"no data set {name!r}: the data sets are {shipped()} (datasets/<name>/config.yaml; "
                         "to add one, write such a file)")
    return yaml.safe_load(path.read_text()) or {}


def committed_params() -> dict:
    """The root params.yaml as committed (the workspace's file outside a git checkout or before a first commit):
    an experiment applied in the root's workspace stays there."""
    shown = subprocess.run(["git", "show", "HEAD:params.yaml"], cwd=ROOT, capture_output=True, text=True)
    return yaml.safe_load(shown.stdout if shown.returncode == 0 else (ROOT / "params.yaml").read_text())


def params_for(name: str) -> dict:
    """A data set's settings: the committed root params.yaml with its config.yaml over it."""
    return merge(committed_params(), load_config(name))


def pipeline_for(folder: Path) -> dict:
    """The root dvc.yaml as a pipeline of ``folder``: its stages read the repository's code (a1lab, notebooks,
    pipelines) and plot templates from there, write their outputs into the folder, and title their plots with
    the data set's name."""
    up = Path(os.path.relpath(ROOT, folder)).as_posix()

    def moved(path: str) -> str:
        return f"{up}/{path}" if path.startswith(CODE) else path

    def files(path: str) -> list[str]:  # DVC honours .dvcignore (Python's caches) inside its project only
        if path.startswith(CODE) and (ROOT / path).is_dir():
            return sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / path).rglob("*.py"))
        return [path]

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for stage in stages.values():
        body = stage.get("do", stage)
        body["cmd"] = " ".join(moved(word) for word in body["cmd"].split(" "))
        if "deps" in body:
            body["deps"] = [moved(f) for d in body["deps"] for f in files(d)]
        for plot in body.get("plots", []):
            for props in (plot.values() if isinstance(plot, dict) else []):
                if "template" in props:
                    props["template"] = f"{up}/.dvc/plots/{props['template']}.json"
                if "title" in props:
                    props["title"] = f"{folder.name}: {props['title']}"
    return {"stages": stages}


def dvc_config(folder: Path) -> str:
    """The data set's ``.dvc/config``: the root's settings, the root's cache and plot page template."""
    config = configparser.ConfigParser()
    config.read_string((ROOT / ".dvc" / "config").read_text())
    up = Path(os.path.relpath(ROOT / ".dvc", folder / ".dvc")).as_posix()
    if config.has_option("plots", "html_template"):
        config["plots"]["html_template"] = f"{up}/{config['plots']['html_template']}"
    config["cache"] = {"dir": f"{up}/cache"}
    out = io.StringIO()
    config.write(out)
    return "".join(f"    {line.lstrip()}" if " = " in line else line for line in out.getvalue().splitlines(True))


def generated(name: str) -> dict[Path, str]:
    """The files :func:`write` puts in ``datasets/<name>/``: path -> text."""
    folder = DATASETS / name
    dump = lambda data: yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)  # noqa: E731
    return {folder / "params.yaml": HEADER.format(source="../../params.yaml and config.yaml") + dump(params_for(name)),
            folder / "dvc.yaml": HEADER.format(source="../../dvc.yaml") + dump(pipeline_for(folder)),
            folder / ".dvc" / "config": HEADER.format(source="../../.dvc/config") + dvc_config(folder),
            folder / ".dvc" / ".gitignore": "/config.local\n/tmp\n/cache\n",
            folder / ".dvcignore": (ROOT / ".dvcignore").read_text()}


def write(name: str) -> Path:
    """Validate a data set's settings and write its params.yaml and dvc.yaml; return its dvc.yaml.

    Raises:
        SystemExit: a setting is invalid (the message names the key).
    """
    from a1lab.cli import resolve_root
    from a1lab.data.dataset import outside
    from a1lab.params import ParamsError, validate

    try:
        params = validate(params_for(name), f"datasets/{name}/config.yaml over params.yaml")
    except ParamsError as err:
        raise SystemExit(str(err)) from None
    if bad := outside(params.data.sources, resolve_root(params.data.root), ROOT, DATASETS / name):
        raise SystemExit(f"datasets/{name}/config.yaml: data.sources reads {', '.join(bad)}: outside the project and "
                         "the data folder (the folder holding the data root, $A1LAB_DATA_ROOT)")
    for path, text in generated(name).items():
        if not path.is_file() or path.read_text() != text:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
    return DATASETS / name / "dvc.yaml"


def repro_job(cwd: Path, *args: str) -> tuple[list[str], str, dict]:
    """``dvc repro ARGS`` in ``cwd`` with this interpreter's environment on PATH, as (argv, cwd, env)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return [str(Path(sys.executable).parent / "dvc"), "repro", *args], str(cwd), env


def stale() -> list[str]:
    """Data sets whose params.yaml or dvc.yaml differs from what their config.yaml and the root give."""
    return [name for name in shipped() if any(not path.is_file() or path.read_text() != text
                                              for path, text in generated(name).items())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="*", help=f"data sets of datasets/ ({', '.join(shipped())})")
    parser.add_argument("--parallel", action="store_true",
                        help="run the data sets as Dask tasks where params.yaml `compute` says")
    parser.add_argument("--check", action="store_true", help="only check that the generated files are up to date")
    args = parser.parse_args(argv)
    if args.check:
        if names := stale():
            print(f"out of date: {', '.join(f'datasets/{n}' for n in names)}; run `python pipelines/dataset.py "
                  f"{' '.join(names)}` (or edit config.yaml, not the generated params.yaml and dvc.yaml)")
            return 1
        return 0
    if not args.name:
        parser.error(f"name one or more data sets: {', '.join(shipped())}")
    pipelines = [write(name) for name in args.name]  # every configuration checked before anything runs
    jobs = [repro_job(p.parent) for p in pipelines]  # each in its folder: a DVC project of its own
    if args.parallel and len(jobs) > 1:
        from a1lab.compute import client, run_command, run_tasks
        from a1lab.params import check_section

        base = yaml.safe_load((ROOT / "params.yaml").read_text())
        with client(check_section("compute", base["compute"])) as c:
            try:
                run_tasks(run_command, jobs, c, retries=0)
            except RuntimeError as exc:  # the failed run's command and the tail of DVC's log
                print(f"a data set's pipeline failed: {exc}")
                return 1
    else:
        for name, (cmd, cwd, env) in zip(args.name, jobs, strict=True):
            print(f"datasets/{name}: dvc repro", flush=True)
            if (code := subprocess.run(cmd, cwd=cwd, env=env).returncode) != 0:  # DVC streams its own progress
                print(f"datasets/{name}: the pipeline failed (dvc exit {code}); the stage and its error are above")
                return code
    for name in args.name:
        where = f"datasets/{name}"
        print(f"\n{where}: done. Where to look:\n  cd {where} && dvc metrics show   one row per model beside the "
              f"market\n  {where}/reports/notebooks/*.html        each stage's executed notebook\n"
              f"  {where}/reports/drift/index.html     drift reports\n  {where}/metrics/*.json"
              "                  every figure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
