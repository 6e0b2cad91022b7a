import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from a1lab.cli import main, resolve_root


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    out = capsys.readouterr().out
    assert stop.value.code == 0 and {"ingest", "live"} <= set(re.findall(r"^    (\w+)", out, re.M))


def test_resolve_root(monkeypatch):
    monkeypatch.delenv("A1LAB_DATA_ROOT", raising=False)
    assert resolve_root("auto").startswith("https://www.football-data.co.uk")
    monkeypatch.setenv("A1LAB_DATA_ROOT", "/mirror")
    assert resolve_root("auto") == "/mirror"
    assert resolve_root("/other") == "/other"


def test_offline_without_mirror_is_a_clear_error(tmp_path, capsys):
    rc = main(["ingest", "--root", str(tmp_path / "nowhere"), "--out", str(tmp_path), "--metrics", ""])
    err = capsys.readouterr().err
    assert rc == 2 and "A1LAB_DATA_ROOT" in err and "Traceback" not in err


@pytest.mark.realdata
def test_installed_command_ingests_real_files(data_root, tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "a1lab.cli", "ingest", "--root", str(data_root), "--leagues", "E0", "F1",
         "--seasons", "1516", "2425", "--out", str(tmp_path / "data"), "--metrics", str(tmp_path / "ingest.json")],
        capture_output=True, text=True, check=True,
    )
    counts = json.loads((tmp_path / "ingest.json").read_text())
    assert json.loads(out.stdout) == counts
    assert counts["files"] == 4
    assert counts["rows_read"] == counts["rows_kept"] + counts["rows_rejected"] == 380 + 381 + 380 + 306
    matches = pd.read_parquet(tmp_path / "data" / "matches.parquet")
    rejected = pd.read_parquet(tmp_path / "data" / "rejected.parquet")
    assert len(matches) == counts["rows_kept"] and len(rejected) == counts["rows_rejected"] == 1
    assert str(matches["kickoff"].dtype) == "datetime64[ns, UTC]"


def test_synthetic_provider(tmp_path):
    rc = main(["ingest", "--provider", "synthetic", "--synthetic-leagues", "1", "--synthetic-seasons", "2",
               "--out", str(tmp_path), "--metrics", str(tmp_path / "m.json")])
    assert rc == 0
    assert json.loads((tmp_path / "m.json").read_text())["rows_kept"] == 760
