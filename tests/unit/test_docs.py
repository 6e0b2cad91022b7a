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


def readme_commands(text: str) -> list[list[str]]:
    """Every command of the README's ``bash`` blocks as words, a pipeline's parts apart, comments and
    continuation lines joined."""
    import shlex

    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            part: list[str] = []
            for word in [*words, "|"]:
                if word in ("|", "&&", ";"):
                    commands += [part] if part else []
                    part = []
                else:
                    part.append(word)
    return commands


def test_every_readme_command_is_one_the_project_takes():
    """Each fenced command of the README as written: a Makefile target (``make -n`` reads it), an ``a1lab``
    command whose flags the CLI accepts, a ``dvc`` command that exists, and the files they name. Running them all
    takes the pipeline, servers and a feed; the tests run each of those elsewhere (test_pipeline, test_live_*)."""
    from a1lab.cli import build_parser

    commands = readme_commands((ROOT / "README.md").read_text())
    assert len(commands) >= 10
    dvc = ROOT / ".venv" / "bin" / "dvc"
    dvc = str(dvc) if dvc.exists() else "dvc"
    for words in commands:
        tool, *args = words
        if tool == "export":
            assert re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S+", args[0]), words
        elif tool == "make":
            ran = subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True)
            assert ran.returncode == 0, (words, ran.stderr)
        elif tool == "a1lab":
            try:
                build_parser().parse_args(args)
            except SystemExit as exc:
                raise AssertionError(f"a1lab refuses {' '.join(words)}") from exc
            files = [a for a in args if a.endswith(".csv") and not a.startswith("data/")]  # data/: it writes them
            assert all((ROOT / f).is_file() for f in files), words
        elif tool == "dvc":
            sub = [a for a in args if not a.startswith("-")][:2 if args[0] in ("exp", "metrics", "plots") else 1]
            ran = subprocess.run([dvc, *sub, "--help"], cwd=ROOT, capture_output=True, text=True)
            assert ran.returncode == 0, (words, ran.stderr[-300:])
        else:
            raise AssertionError(f"the README runs {tool!r}, which this test does not know: {' '.join(words)}")
