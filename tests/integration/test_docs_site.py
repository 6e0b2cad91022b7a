"""The docs site read as a reader reads it: every table fits a 1,200 px window (no horizontal scroll). Before
docs/stylesheets/tables.css the research page's variants table was 1,400 px: the theme gives a column 5rem."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from a1lab.testing import watch

ROOT = Path(__file__).resolve().parents[2]
# each table's width beyond the page's text column, in CSS pixels, with the start of its header
OVERFLOW = ("[...document.querySelectorAll('article table')].map(t => [t.getBoundingClientRect().width "
            "- t.closest('article').clientWidth, (t.querySelector('tr') || t).innerText.slice(0, 60)])")


def test_every_table_of_the_docs_fits_1200_pixels(tmp_path, chromium):
    mkdocs = Path(sys.executable).parent / "mkdocs"
    out = subprocess.run([str(mkdocs), "build", "--site-dir", str(tmp_path / "site")], cwd=ROOT, capture_output=True,
                         text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert out.returncode == 0, out.stderr
    pages = [p for p in sorted((tmp_path / "site").glob("*.html")) if p.name != "404.html"]
    measured = watch(chromium, [p.as_uri() for p in pages], at=(0.5,), width=1200, expression=OVERFLOW)
    assert len(measured) == len(pages) >= 10 and any(measured)
    wide = {f"{page.name}: {header!r}": over for page, tables in zip(pages, measured, strict=True)
            for over, header in tables if over > 1}
    assert not wide, f"tables wider than a 1,200 px window (px over): {wide}"
