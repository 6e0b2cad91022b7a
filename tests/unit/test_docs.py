"""The README is a user guide, the docs site builds offline and strict, and the pages with figures are what
the pipeline's outputs give now (generated, never pasted)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# history belongs in git log and CHANGELOG.md, not in the guide or the docs
HISTORY = re.compile(r"\bissue \d+|\bsessions?\b|\bthis round\b|\bround's\b|\bEPYC\b|\bZen \d\b|tried and dropped",
                     re.I)


def test_the_readme_is_a_guide_of_at_most_300_lines():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 300
    for command in ("make run", "make test", "make test-fast", "make demo", "make lab", "make docs"):
        assert f"`{command}`" in text, command


def test_no_history_in_the_readme_or_the_docs():
    found = {str(p.relative_to(ROOT)): HISTORY.findall(p.read_text()) for p in PAGES}
    assert not {k: v for k, v in found.items() if v}


def test_generated_pages_are_current():
    out = subprocess.run([sys.executable, str(ROOT / "pipelines" / "docs.py"), "--check"], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_docs_site_builds_offline_and_strict(tmp_path):
    mkdocs = Path(sys.executable).parent / "mkdocs"
    out = subprocess.run([str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=ROOT,
                         capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert out.returncode == 0, out.stderr
    for page in ("index", "data", "pipeline", "results", "research", "live", "scale-out", "performance", "design"):
        html = (tmp_path / "site" / f"{page}.html").read_text()
        assert "fonts.googleapis" not in html  # nothing fetched when read offline
    assert "<table>" in (tmp_path / "site" / "results.html").read_text()
