"""The whole pipeline offline on the synthetic league, in a copy of the repo.

    python pipelines/demo.py [--dir build/demo]

Copies the project's files (tracked and untracked, not ignored) into DIR, sets
the synthetic league as the only source in that copy's params.yaml and runs `dvc repro`
there, so the demo never touches this workspace's data or params.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = {"layout": "synthetic", "leagues": 5, "seasons": 11, "seed": 20240801}


def project_files(root: Path) -> list[str]:
    """Files git knows or would track (tracked plus untracked, minus ignored)."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=root, check=True,
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line and (root / line).is_file()]


def merge(base: dict, overrides: dict) -> dict:
    """``base`` with ``overrides`` applied key by key, nested mappings merged rather than replaced."""
    out = dict(base)
    for key, value in overrides.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def prepare(target: Path, overrides: dict[str, dict] | None = None) -> Path:
    """Copy the project into target and apply params.yaml overrides (nested mappings merged)."""
    if target.exists():
        shutil.rmtree(target)
    for rel in project_files(ROOT):
        dst = target / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dst)
    params = merge(yaml.safe_load((target / "params.yaml").read_text()), overrides or {})
    (target / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    return target


def repro_job(target: Path, *args: str) -> tuple[list[str], str, dict]:
    """``dvc repro`` in target with this interpreter's environment on PATH, as (argv, cwd, env)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("DVC_SITE_CACHE_DIR", str(target / ".dvc-site-cache"))
    return [str(Path(sys.executable).parent / "dvc"), "repro", *args], str(target), env


def repro(target: Path, *args: str, env: dict[str, str] | None = None) -> None:
    """Run ``dvc repro`` in target (:func:`repro_job`), with ``env`` over the environment."""
    argv, cwd, base = repro_job(target, *args)
    subprocess.run(argv, cwd=cwd, env={**base, **(env or {})}, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=str(ROOT / "build" / "demo"), help="where the copy goes")
    args = parser.parse_args(argv)
    target = prepare(Path(args.dir), {"data": {"sources": [SYNTHETIC]}})
    # outputs hard-linked to DVC's cache instead of copied: half the disk (the demo's files are read-only)
    (target / ".dvc" / "config.local").write_text("[cache]\n    type = hardlink,copy\n")
    repro(target)
    print(f"demo pipeline ran in {target}; metrics in {target / 'metrics'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
