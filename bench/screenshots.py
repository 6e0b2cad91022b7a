"""Screenshots of the reports a user opens, taken with headless Chromium (after `dvc repro`).

    python bench/screenshots.py [--out reports/screenshots]

Writes drift_index.png (reports/drift/index.html), drift_season.png (the newest season's Evidently
page with a1lab's header) and dvc_plots.png (`dvc plots show` with the repo's offline template). The
README links them. Fails when a page is missing: run `dvc repro` first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def screenshot(exe: str, url: str, path: Path, width: int = 1200, height: int = 1400) -> None:
    """Render ``url`` in headless Chromium (no network needed) and save a PNG."""
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--virtual-time-budget=15000", f"--window-size={width},{height}", f"--screenshot={path}", url],
                   check=True, capture_output=True, timeout=180)
    print(f"{path} ({path.stat().st_size / 1e3:.0f} kB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "reports" / "screenshots"), help="folder of the PNGs")
    args = parser.parse_args(argv)
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        raise SystemExit("Chromium not found (`make test` installs Debian's chromium when run as root)")
    drift = ROOT / "reports" / "drift"
    seasons = sorted(drift.glob("season_*.html"))
    if not (drift / "index.html").is_file() or not seasons:
        raise SystemExit(f"no drift reports in {drift}: run `dvc repro` first")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    screenshot(exe, (drift / "index.html").as_uri(), out / "drift_index.png")
    screenshot(exe, seasons[-1].as_uri(), out / "drift_season.png")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dvc", "plots", "show", "-o", tmp], cwd=ROOT, env=env, check=True, capture_output=True)
        screenshot(exe, (Path(tmp) / "index.html").as_uri(), out / "dvc_plots.png", height=2400)
    return 0


if __name__ == "__main__":
    sys.exit(main())
