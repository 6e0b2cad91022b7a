"""Run the whole pipeline on a shipped or your own data set configuration, in a copy of the repo.

    python pipelines/dataset.py nba                       # configs/nba.yaml -> build/datasets/nba
    python pipelines/dataset.py extra --set 'data.sources=[{layout: football-data-extra, leagues: [MEX]}]'
    python pipelines/dataset.py my.yaml --dir build/mine  # your own overlay of params.yaml
    python pipelines/dataset.py extra nba nhl --parallel  # several, each `dvc repro` a Dask task (params compute)

A configuration is an overlay of params.yaml (nested mappings merged, lists replaced). Relative
``path`` entries of ``data.sources`` are taken from this repo's root. The copy has its own params,
dvc.lock, data, models, metrics and reports, so this workspace's pipeline is never touched; a shipped
configuration run as shipped (no --set) leaves its headline results in reports/datasets/<name>/, which
`pipelines/docs.py` puts in the README and on the docs' results page.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo import ROOT, merge, prepare, repro_job  # noqa: E402

from a1lab.compute import ComputeConfig, client, run_command, run_tasks  # noqa: E402
from a1lab.params import ParamsError, validate  # noqa: E402

CONFIGS = ROOT / "configs"


def load_config(name: str) -> dict:
    """A shipped configuration by name (``configs/<name>.yaml``) or a YAML file by path."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else CONFIGS / f"{name}.yaml"
    if not path.is_file():
        shipped = sorted(p.stem for p in CONFIGS.glob("*.yaml"))
        raise SystemExit(f"no configuration {name!r}: shipped ones are {shipped}, or give a .yaml path")
    return yaml.safe_load(path.read_text()) or {}


def set_key(config: dict, assignment: str) -> dict:
    """``config`` with one ``dotted.key=<YAML value>`` assignment applied (a new mapping)."""
    key, sep, value = assignment.partition("=")
    if not sep or not key:
        raise SystemExit(f"--set wants KEY=VALUE (e.g. protocol.test_seasons=[\"2425\"]), got {assignment!r}")
    patch: dict = {}
    node = patch
    *parents, last = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = yaml.safe_load(value)
    return merge(config, patch)


def absolute_paths(config: dict, root: Path = ROOT) -> dict:
    """``data.sources`` with relative ``path`` entries made absolute from ``root`` (the copy lives elsewhere)."""
    sources = (config.get("data") or {}).get("sources")
    if not sources:
        return config
    fixed = [{**s, "path": str((root / s["path"]).resolve())} if isinstance(s, dict) and s.get("path")
             and not Path(str(s["path"])).is_absolute() and "://" not in str(s["path"]) else s for s in sources]
    return merge(config, {"data": {"sources": fixed}})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="+", help="shipped configurations (main, extra, nba, nhl) or .yaml overlays")
    parser.add_argument("--dir", help="where the copy goes (default build/datasets/<name>; one configuration only)")
    parser.add_argument("--parallel", action="store_true",
                        help="run the configurations as Dask tasks where params.yaml `compute` says")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one params key after the configuration (YAML value; repeatable)")
    args = parser.parse_args(argv)
    if args.dir and len(args.config) > 1:
        raise SystemExit("--dir takes one configuration")
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    configs = {}
    for name in args.config:
        config = load_config(name)
        for assignment in args.set:
            config = set_key(config, assignment)
        config = absolute_paths(config)
        try:  # every key of every configuration checked before anything is copied or run
            validate(merge(base, config), f"{name} over params.yaml")
        except ParamsError as err:
            raise SystemExit(str(err)) from None
        configs[name] = config
    jobs = [repro_job(prepare(Path(args.dir or ROOT / "build" / "datasets" / Path(name).stem), config))
            for name, config in configs.items()]
    with client(ComputeConfig.from_dict(base["compute"]) if args.parallel else ComputeConfig("serial")) as c:
        targets = run_tasks(run_command, jobs, c, retries=0)
    for name, target in zip(configs, targets, strict=True):
        print(f"pipeline ran on {name} in {target}; metrics in {Path(target) / 'metrics'}")
        if not args.set and name != "main" and (ROOT / "configs" / f"{name}.yaml").is_file():
            print(f"  its results for the docs: {keep_results(Path(target), name)}")
    return 0


def keep_results(target: Path, name: str) -> Path:
    """Copy a shipped data set's headline metrics (and the ensemble's, which names the reference) into
    reports/datasets/<name>/, where `pipelines/docs.py` finds them for the README and the results page."""
    out = ROOT / "reports" / "datasets" / name
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(target / "metrics" / "headline", out / "headline")
    shutil.copy2(target / "metrics" / "ensemble.json", out / "ensemble.json")
    return out


if __name__ == "__main__":
    sys.exit(main())
