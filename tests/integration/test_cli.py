import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from a1lab.cli import main, resolve_root

ROOT = Path(__file__).resolve().parents[2]


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
    line, notes = out.stdout.splitlines()  # what a person reads; the numbers are in the metrics file
    assert notes == ("ingest: notes on 2 files or leagues (metrics/ingest.json `notes`), the first: "
                     "mmz4281/1516/E0.csv: no Time column: every kick-off is taken at 15:00 UK time")
    assert line.startswith(f"ingest: 4 files, {counts['rows_read']:,} rows read, {counts['rows_kept']:,} kept, ")
    assert line.endswith(f"-> {tmp_path / 'data' / 'matches.parquet'}")
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


def test_ingest_reads_its_params_section_and_refuses_unknown_keys(tmp_path, capsys):
    import yaml

    params = tmp_path / "params.yaml"
    synthetic = {"layout": "synthetic", "leagues": 1, "seasons": 2, "seed": 3}
    params.write_text(yaml.safe_dump({"data": {"root": "auto", "sources": [synthetic]}}))
    assert main(["ingest", "--params", str(params), "--out", str(tmp_path), "--metrics", ""]) == 0
    assert pd.read_parquet(tmp_path / "matches.parquet")["season"].nunique() == 2
    params.write_text(yaml.safe_dump({"data": {"root": "auto", "sources": [{**synthetic, "leagus": 2}]}}))
    assert main(["ingest", "--params", str(params), "--out", str(tmp_path), "--metrics", ""]) == 2
    assert "data: sources.0.synthetic.leagus: Extra inputs are not permitted" in capsys.readouterr().err
    params.write_text(yaml.safe_dump({"data": {"root": "auto", "sources": [{"layout": "fbref", "path": "x"}]}}))
    assert main(["ingest", "--params", str(params), "--out", str(tmp_path), "--metrics", ""]) == 2
    assert "sources.0: Input tag 'fbref' found using 'layout' does not match" in capsys.readouterr().err


def test_manifest_hashes_what_ingest_reads(tmp_path, capsys):
    import yaml

    root = tmp_path / "mirror"
    (root / "mmz4281" / "2324").mkdir(parents=True)
    (root / "mmz4281" / "2324" / "E0.csv").write_text("Div,Date\n")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": {"root": str(root), "sources": [
        {"layout": "football-data", "leagues": ["E0"], "seasons": ["2324"]}]}}))
    out = tmp_path / "sources.json"

    def manifest() -> dict:
        assert main(["manifest", "--params", str(params), "--out", str(out)]) == 0
        return json.loads(out.read_text())

    first = manifest()
    assert len(first["files"]["mmz4281/2324/E0.csv"]) == 64
    assert manifest() == first  # same bytes, same manifest: DVC skips ingest
    (root / "mmz4281" / "2324" / "E0.csv").write_text("Div,Date\nE0,12/08/2023\n")
    changed = manifest()
    assert changed["files"]["mmz4281/2324/E0.csv"] != first["files"]["mmz4281/2324/E0.csv"]
    # a file it cannot reach: one line, non-zero, and the manifest it wrote before is left as it was
    params.write_text(yaml.safe_dump({"data": {"root": str(root), "sources": [
        {"layout": "football-data", "leagues": ["E0", "D1", "I1"], "seasons": ["2324"]}]}}))
    assert main(["manifest", "--params", str(params), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "2 of 3 files the data set reads cannot be reached (and 1 more: mmz4281/2324/I1.csv): no file" in err
    assert json.loads(out.read_text()) == changed
    # DVC runs it on every `dvc repro`: it imports neither pandas nor redis (0.3 s, not 0.8), errors included
    probe = ("import sys; from a1lab.cli import main; codes = [main(['manifest', '--params', p, '--out', "
             "sys.argv[2]]) for p in (sys.argv[1], sys.argv[1] + '.missing')]; "
             "print(codes, sorted({'pandas', 'redis'} & set(sys.modules)))")
    ran = subprocess.run([sys.executable, "-c", probe, str(params), str(out)], capture_output=True, text=True,
                         check=True)
    assert ran.stdout.strip() == "[2, 2] []", ran.stdout + ran.stderr


def test_manifest_hashes_the_player_files_the_features_stage_reads(tmp_path, capsys):
    import yaml

    root = tmp_path / "data" / "football-data"
    (root / "mmz4281" / "2324").mkdir(parents=True)
    (root / "mmz4281" / "2324" / "E0.csv").write_text("Div,Date\n")
    gw = tmp_path / "data" / "fpl" / "2023-24" / "gws" / "gw1.csv"
    gw.parent.mkdir(parents=True)
    gw.write_text("element,fixture\n1,1\n")
    (tmp_path / "data" / "fpl" / "notes").mkdir()  # not a season folder: not read, not hashed
    (tmp_path / "data" / "fpl" / "notes" / "x.csv").write_text("x\n")
    values = yaml.safe_load((ROOT / "params.yaml").read_text())
    values["data"] = {"root": str(root),
                      "sources": [{"layout": "football-data", "leagues": ["E0"], "seasons": ["2324"]}]}
    values["features"]["players"] = {"layout": "fpl", "path": "../fpl", "league": "E0", "window": 5,
                                     "open_lead_hours": 48, "lineup_lead_minutes": 60}
    params, out = tmp_path / "params.yaml", tmp_path / "sources.json"
    params.write_text(yaml.safe_dump(values))
    assert main(["manifest", "--params", str(params), "--out", str(out)]) == 0
    first = json.loads(out.read_text())
    assert list(first["players"]) == ["2023-24/gws/gw1.csv"] and list(first["files"]) == ["mmz4281/2324/E0.csv"]
    gw.write_text("element,fixture\n1,2\n")
    assert main(["manifest", "--params", str(params), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["players"] != first["players"]  # an edited player file reruns the features
    values["features"]["players"]["path"] = "../nowhere"
    params.write_text(yaml.safe_dump(values))
    assert main(["manifest", "--params", str(params), "--out", str(out)]) == 2
    assert "player data root" in capsys.readouterr().err


def test_a_remote_root_is_fingerprinted_by_its_servers_validators_and_refused_when_unreachable(tmp_path):
    """A real HTTP server on 127.0.0.1 serves a mirror: the manifest records each file's ETag, Last-Modified
    and length (a HEAD request, no download), and a changed file changes it; an unreachable root is an error."""
    import functools
    import http.server
    import threading

    from a1lab.data.errors import DataUnavailableError
    from a1lab.data.source import FileSource

    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "ARG.csv").write_text("Country,League\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        remote = FileSource(f"http://127.0.0.1:{server.server_address[1]}")
        first = remote.fingerprint("new/ARG.csv")
        assert "Last-Modified" in first and "Content-Length 15" in first
        (tmp_path / "new" / "ARG.csv").write_text("Country,League,Season\n")
        assert remote.fingerprint("new/ARG.csv") != first
        with pytest.raises(DataUnavailableError, match="could not reach"):
            remote.fingerprint("new/BRA.csv")
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(DataUnavailableError, match="could not reach http://127.0.0.1:9/new/ARG.csv"):
        FileSource("http://127.0.0.1:9", timeout=5).fingerprint("new/ARG.csv")


@pytest.mark.realdata
def test_every_layout_in_one_data_set(data_root, tmp_path):
    """A data set is its list of sources: main, extra-league and OddsPortal files together, counts adding up."""
    import yaml

    oddsportal = data_root.parent / "oddsportal" / "oddsportal_nhl.csv"
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": {"root": str(data_root), "sources": [
        {"layout": "football-data", "leagues": ["E0"], "seasons": ["2324"]},
        {"layout": "football-data-extra", "leagues": ["ARG"]},
        {"layout": "oddsportal", "path": str(oddsportal), "sport": "ice_hockey", "league": "NHL"}]}}))
    assert main(["ingest", "--params", str(params), "--out", str(tmp_path), "--metrics", str(tmp_path / "m.json")]) == 0
    counts = json.loads((tmp_path / "m.json").read_text())
    matches = pd.read_parquet(tmp_path / "matches.parquet")
    assert counts["files"] == 3 and counts["rows_read"] == counts["rows_kept"] + counts["rows_rejected"]
    assert set(matches["league"]) == {"E0", "ARG", "NHL"} and set(matches["sport"]) == {"football", "ice_hockey"}
    nhl = matches[matches["league"] == "NHL"]
    assert nhl["odds_market_ml_close_home"].notna().mean() > 0.85 and set(nhl["season"]) >= {"0809", "2425"}
    assert {"not_competitive", "neutral_venue"} <= set(counts["rejected_by_reason"])
    assert main(["manifest", "--params", str(params), "--out", str(tmp_path / "s.json")]) == 0
    manifest = json.loads((tmp_path / "s.json").read_text())
    assert set(manifest["files"]) == {"mmz4281/2324/E0.csv", "new/ARG.csv", str(oddsportal)}
    assert all(len(h) == 64 for h in manifest["files"].values())


def test_flags_win_over_params_and_nothing_selected_is_a_clear_error(tmp_path, capsys, monkeypatch):
    import yaml

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": {"root": "auto", "sources": [
        {"layout": "synthetic", "leagues": 1, "seasons": 2, "seed": 1}]}}))
    assert main(["ingest", "--params", str(params), "--provider", "synthetic", "--synthetic-leagues", "2",
                 "--synthetic-seasons", "3", "--out", str(tmp_path), "--metrics", ""]) == 0
    matches = pd.read_parquet(tmp_path / "matches.parquet")  # the flags' sources replace the params' sources
    assert matches["season"].nunique() == 3 and matches["league"].nunique() == 2
    monkeypatch.chdir(tmp_path / "..")  # no params.yaml here: the code names no league or season itself
    assert main(["ingest", "--out", str(tmp_path), "--metrics", ""]) == 2
    assert "nothing to read" in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (["ingest", "--provider", "synthetic", "--synthetic-seasons", "1"], "--synthetic-seasons: Input should be"),
    (["ingest", "--provider", "synthetic", "--synthetic-leagues", "0"], "--synthetic-leagues: Input should be"),
    (["ingest", "--synthetic-leagues", "2"], "need --provider synthetic"),
    (["ingest", "--leagues", "E0"], "--leagues and --seasons go together"),
    (["ingest", "--root", "http://[::1", "--leagues", "E0", "--seasons", "2324"], "is no path or URL"),
    (["live", "status", "not-a-url"], "is no http:// URL"),
])
def test_misuse_is_one_line_and_exit_2_never_a_traceback_or_an_ignored_flag(argv, words, tmp_path, capsys):
    """Each of these was a traceback, or a flag silently ignored (``--synthetic-leagues 0`` read 5 leagues)."""
    assert main([*argv, *(["--out", str(tmp_path), "--metrics", ""] if argv[0] == "ingest" else [])]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1, err


def test_a_season_the_data_lacks_and_a_checkpoint_folder_are_refused_up_front(live_lab, tmp_path, capsys):
    matches = str(live_lab["root"] / "matches.parquet")
    assert main(["live", "replay", "--matches", matches, "--season", "9999", "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert "no matches for season '9999'" in err and "the data's seasons: " in err
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    assert main(["live", "run", "--source", "-", "--params", str(live_lab["params"]), "--registry",
                 str(live_lab["registry"]), "--model", "xgb", "--checkpoint", str(folder)]) == 2
    assert "is a folder: name a file" in capsys.readouterr().err
    assert not (tmp_path / "checkpoint.tmp").exists()


def test_live_run_without_a_registered_model_says_so_in_one_line(tmp_path, capsys):
    (tmp_path / "events.jsonl").write_text("")
    rc = main(["live", "run", "--source", str(tmp_path / "events.jsonl"), "--registry", str(tmp_path / "models"),
               "--model", "xgb", "--out", "--dead-letter", "", "--checkpoint", ""])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "Traceback" not in err[0]
    assert err[0].startswith("a1lab live run: no registered model 'xgb'") and "`dvc repro` trains" in err[0]


@pytest.mark.parametrize("argv, words", [
    (["live", "serve", "--input", "redis://127.0.0.1:1/x?stream=a", "--bind", "127.0.0.1:0"],
     "the database must be a number"),
    (["live", "run", "--source", "redis://127.0.0.1:1/0", "--out"], "names no stream"),
    (["live", "replay", "--out", "redis://127.0.0.1:1/0?stream=e"], "redis commit to 127.0.0.1:1: Error 111"),
    (["live", "serve", "--input", "-", "--bind", "nonsense"], "'nonsense' is not HOST:PORT"),
    (["live", "serve", "--input", "-", "--bind", "127.0.0.1:70000"], "is not HOST:PORT with a port from 0 to 65535"),
    (["live", "serve", "--input", "-", "--bind", "0.0.0.0:0"], "refusing to serve on 0.0.0.0 without a token"),
    (["live", "run", "--source", "-", "--out", "--serve", "nonsense"], "'nonsense' is not HOST:PORT"),
    (["live", "run", "--source", "-", "--out", "--params", "missing.yaml"], "no params file missing.yaml"),
])
def test_redis_addresses_and_unreachable_servers_are_one_line(argv, words, live_lab, tmp_path):
    extra = {"replay": ["--matches", str(live_lab["root"] / "matches.parquet"), "--leagues", "E0"],
             "run": ["--registry", str(live_lab["registry"]), "--model", "xgb",
                     *(["--params", str(live_lab["params"])] if "--params" not in argv else [])],
             }.get(argv[1], [])
    out = subprocess.run([sys.executable, "-m", "a1lab.cli", *argv, *extra], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert out.returncode == 2 and words in out.stderr and "Traceback" not in out.stderr, out.stderr[-2000:]


def test_a_protocol_the_data_cannot_run_is_refused_at_ingest_with_what_the_data_offers(tmp_path, capsys):
    """Four seasons (1516-1819) and the main protocol's seasons: nothing is written, and each key that cannot
    run says why in one line, with the seasons the data has."""
    from pathlib import Path

    import yaml

    root = yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text())
    root["data"]["sources"] = [{"layout": "synthetic", "leagues": 2, "seasons": 4, "seed": 3}]
    root["protocol"].update(test_seasons=["1718", "1819"], oos_seasons=["1617"], validation_season="1617")
    root["drift"]["seasons"] = ["1819", "1920"]
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(root))
    out = tmp_path / "data"
    assert main(["ingest", "--params", str(params), "--out", str(out), "--metrics", ""]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "protocol cannot run on this data" in lines[0] and not out.exists()
    assert any(line.strip().startswith("protocol.oos_seasons: 1617 is forecast walk-forward and needs two earlier "
                                       "seasons (fit, validate), the data has ['1516']") for line in lines)
    assert any(line.strip().startswith("drift.seasons: 1920 has no matches") for line in lines)
    assert "1516 (760 matches), 1617 (760 matches), 1718 (760 matches), 1819 (760 matches)" in err
    assert len(lines) == 3  # the header and one line per problem: 1718 has two earlier seasons, 1819 three
    root["protocol"].update(oos_seasons=["1718"], test_seasons=["1819"], validation_season="1718")
    root["drift"]["seasons"] = ["1819"]
    params.write_text(yaml.safe_dump(root))
    assert main(["ingest", "--params", str(params), "--out", str(out), "--metrics", ""]) == 0


@pytest.mark.parametrize("case", ["params_is_a_folder", "replay_out_is_a_folder", "run_out_is_a_folder",
                                  "checkpoint_is_a_folder", "start_yesterday", "unwritable_out", "wrong_feed_token"])
def test_bad_paths_times_and_tokens_are_one_line_not_a_traceback(case, live_lab, tmp_path):
    """Each of these ended in a Python traceback before."""
    import os
    import threading

    folder = tmp_path / "a_folder"
    folder.mkdir()
    run = ["live", "run", "--registry", str(live_lab["registry"]), "--model", "xgb", "--params",
           str(live_lab["params"]), "--history", str(live_lab["root"] / "matches.parquet"), "--checkpoint", "",
           "--dead-letter", ""]
    events = tmp_path / "events.jsonl"
    events.write_text("".join((live_lab["root"] / "events_e0.jsonl").read_text().splitlines(keepends=True)[:5]))
    server = None
    argv, words = {
        "params_is_a_folder": (["ingest", "--params", str(folder), "--out", str(tmp_path / "d")], "a_folder"),
        "replay_out_is_a_folder": (["live", "replay", "--matches", str(live_lab["root"] / "matches.parquet"),
                                    "--leagues", "E0", "--out", str(folder)], "Is a directory"),
        "run_out_is_a_folder": ([*run, "--source", str(events), "--out", str(folder)], "Is a directory"),
        "checkpoint_is_a_folder": ([*run[:-4], "--dead-letter", "", "--source", str(events), "--out",
                                    "--checkpoint", str(folder)], "a_folder"),
        "start_yesterday": ([*run, "--source", str(events), "--out", "--start", "yesterday"],
                            "'yesterday' is not an ISO time"),
        "unwritable_out": (["live", "replay", "--matches", str(live_lab["root"] / "matches.parquet"), "--leagues",
                            "E0", "--out", "/proc/version"], "a1lab live replay: "),  # root may write anywhere else
        "wrong_feed_token": None,
    }[case] or (None, None)
    if case == "wrong_feed_token":
        import asyncio

        from a1lab.live.server import Broadcaster

        server, ready = Broadcaster(token="right"), threading.Event()

        def serve():
            async def main():
                await server.start("127.0.0.1", 0)
                ready.set()
                await asyncio.sleep(30)

            asyncio.run(main())

        threading.Thread(target=serve, daemon=True).start()
        ready.wait(10)
        argv, words = [*run, "--source", f"ws://127.0.0.1:{server.port}/", "--out"], "refused the token"
    env = {**os.environ, "A1LAB_FEED_TOKEN": "wrong", "A1LAB_LIVE_TOKEN": "wrong"}
    out = subprocess.run([sys.executable, "-m", "a1lab.cli", *argv], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path, env=env)
    lines = [line for line in out.stderr.strip().splitlines() if " WARNING " not in line and " INFO " not in line]
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert words in lines[-1], out.stderr[-2000:]
    assert len(lines) == 1 or lines[0].startswith("usage: "), out.stderr[-2000:]  # or argparse's usage, then error


@pytest.mark.realdata
def test_the_unseen_divisions_with_the_main_protocol_are_refused_before_any_model(data_root, tmp_path, capsys):
    """Seventeen divisions the lab never trained on, from 2021/22, under the main leagues' protocol: 2021/22
    (out of sample) has no earlier season, so ingest refuses it in one line naming the key and the seasons
    the data has, and writes nothing."""
    from pathlib import Path

    import yaml

    root = yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text())
    root["data"] = {"root": str(data_root), "sources": [
        {"layout": "football-data", "leagues": ["E1", "E2", "EC", "SC0", "SC1", "SC2", "SC3", "D2", "I2", "SP2",
                                                 "F2", "N1", "B1", "P1", "T1", "G1", "E3"],
         "seasons": ["2122", "2223", "2324", "2425"]}]}
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(root))
    assert main(["ingest", "--params", str(params), "--out", str(tmp_path / "data"), "--metrics", ""]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[1].strip().startswith("protocol.oos_seasons: 2122 is forecast walk-forward and needs two earlier "
                                       "seasons (fit, validate), the data has none")
    assert "2122 (" in lines[1] and "2425 (" in lines[1] and not (tmp_path / "data").exists()


def test_a_settings_file_reads_nothing_outside_the_project_and_the_data_folder(tmp_path, monkeypatch, capsys):
    """A data set's settings may read files in the project and beside the data root (the data folder), nothing
    else: before, ``../secret.txt`` and ``/etc/hostname`` were hashed by the manifest. A path typed on the
    command line (``--generic``) is the user's own choice."""
    import yaml

    from a1lab.cli import main

    project, data = tmp_path / "lab", tmp_path / "store" / "football-data"
    (project / ".git").mkdir(parents=True)
    data.mkdir(parents=True)
    (tmp_path / "store" / "nba.csv").write_text("date,team_1,team_2,points_1,points_2\n")
    (tmp_path / "secret.txt").write_text("password=hunter2\n")
    monkeypatch.chdir(project)
    params, out = project / "params.yaml", project / "sources.json"
    for path, allowed in [("../store/nba.csv", True), ("../secret.txt", False), ("/etc/hostname", False)]:
        params.write_text(yaml.safe_dump({"data": {"root": str(data), "sources": [
            {"layout": "generic", "path": path, "sport": "basketball"}]}}))
        code = main(["manifest", "--params", str(params), "--out", str(out)])
        err = capsys.readouterr().err
        if allowed:
            assert code == 0, err
        else:
            assert code == 2 and f"data.sources reads {path}: outside the project ({project})" in err
            assert "hunter2" not in err
    assert main(["manifest", "--generic", "../secret.txt", "--root", str(data), "--out", str(out)]) == 0
