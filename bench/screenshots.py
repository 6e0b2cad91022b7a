"""Screenshots of the reports a user opens, taken with headless Chromium (after `dvc repro`).

    python bench/screenshots.py [--out docs/img]

Writes drift_index.png (reports/drift/index.html), drift_season.png (the newest season's Evidently
page with a1lab's header), dvc_plots.png (`dvc plots show` with the repo's offline template) and
live_dashboard.png (the live server's page during a paced replay of the newest season's first
league, scored by the registered xgb). The README links them. Fails when a page is missing: run
`dvc repro` first.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from a1lab.testing import find_chromium, watch  # noqa: E402


def screenshot(exe: str, url: str, path: Path, width: int = 1200, height: int = 1400) -> None:
    """Render ``url`` in headless Chromium (no network needed) and save a PNG."""
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--virtual-time-budget=15000", f"--window-size={width},{height}", f"--screenshot={path}", url],
                   check=True, capture_output=True, timeout=180)
    print(f"{path} ({path.stat().st_size / 1e3:.0f} kB)")


def dashboard(exe: str, path: Path, env: dict, port: int = 8791) -> None:
    """The live dashboard a few seconds into a paced replay of the newest season (about 400 events a second)."""
    import threading

    a1lab = [sys.executable, "-m", "a1lab.cli", "live"]
    events = subprocess.run([*a1lab, "replay", "--matches", str(ROOT / "data" / "matches.parquet")], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout.splitlines(keepends=True)
    loop = subprocess.Popen([*a1lab, "run", "--source", "-", "--out", "--dead-letter", "", "--checkpoint", "",
                             "--serve", f"127.0.0.1:{port}", "--linger", "60"], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def feed() -> None:
        try:
            for i, line in enumerate(events):
                loop.stdin.write(line)
                if i % 20 == 0:
                    loop.stdin.flush()
                    time.sleep(0.05)
        except (BrokenPipeError, ValueError):  # the loop was stopped after the screenshot
            pass

    threading.Thread(target=feed, daemon=True).start()
    try:
        time.sleep(15)  # the history build, then the stream starts
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).read()
        (png,) = watch(exe, f"http://127.0.0.1:{port}/?token={env['A1LAB_LIVE_TOKEN']}", at=(8.0,), screenshot=True)
        path.write_bytes(png)
        print(f"{path} ({path.stat().st_size / 1e3:.0f} kB)")
    finally:
        loop.kill()
        loop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "reports" / "screenshots"), help="folder of the PNGs")
    args = parser.parse_args(argv)
    exe = find_chromium()
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
    dashboard(exe, out / "live_dashboard.png", {**env, "A1LAB_LIVE_TOKEN": "screenshot"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
