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


ITEM = re.compile(r"^( *)(?:[-*+]|\d+\.) +\S")


def list_faults(text: str) -> list[str]:
    """Lists Python-Markdown (the docs site's renderer) would run into the paragraph above them or flatten: an
    item straight after a paragraph line (no blank line between), a nested item not indented by four spaces."""
    faults, fence, previous = [], False, ""
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fence = not fence
        item = None if fence else ITEM.match(line)
        if item and len(item.group(1)) % 4:
            faults.append(f"line {number}: nested item indented by {len(item.group(1))} spaces: {line.strip()[:50]}")
        elif item and not item.group(1) and previous.strip() and not ITEM.match(previous) \
                and not previous.startswith((" ", "|", "#", "<")):
            faults.append(f"line {number}: an item right after a paragraph line runs into it: {line.strip()[:50]}")
        previous = line
    return faults


def test_lists_render_as_lists():
    assert list_faults("Text:\n- a\n- b\n") and list_faults("- a\n  - nested\n")  # the check can fail
    assert not list_faults("Text:\n\n- a\n  continued\n- b\n    - nested\n")
    found = {str(p.relative_to(ROOT)): list_faults(p.read_text()) for p in PAGES}
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
