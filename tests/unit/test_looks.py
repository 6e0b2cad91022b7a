"""The ledger of looks at the test seasons: a scoring is recorded once per configuration, counted per test period,
and the looks before a configuration was first scored are counted too."""

import json
from datetime import UTC, datetime, timedelta

from a1lab import looks

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _look(ledger, when, what="train:xgb", params="p1", code="c1", data="d1", seasons=("2324", "2425")):
    return looks.record(ledger, what=what, test_seasons=list(seasons), params=params, code=code, data=data,
                        when=when)


def test_a_rerun_of_the_same_configuration_adds_nothing_and_a_new_one_is_a_new_look(tmp_path):
    ledger = tmp_path / "reports" / "looks.jsonl"
    assert _look(ledger, T0) and not _look(ledger, T0 + timedelta(days=1))  # same again: the file is unchanged
    before = ledger.read_bytes()
    assert not _look(ledger, T0 + timedelta(days=2))
    assert ledger.read_bytes() == before
    assert _look(ledger, T0 + timedelta(days=3), what="ensemble")  # another stage of the same run: a line ...
    assert looks.summary(looks.read(ledger), ["2324", "2425"], "p1") == {"looks": 1, "before": 0}  # ... one look
    assert _look(ledger, T0 + timedelta(days=4), code="c2")  # the code changed: a second look
    assert _look(ledger, T0 + timedelta(days=5), params="p2")  # a choice made after both
    assert _look(ledger, T0 + timedelta(days=6), seasons=("2223",))  # other seasons: not these seasons' look
    assert looks.summary(looks.read(ledger), ["2324", "2425"], "p2") == {"looks": 3, "before": 2}
    assert looks.summary(looks.read(ledger), ["2324", "2425"], "p1") == {"looks": 3, "before": 0}
    assert looks.summary(looks.read(ledger), ["2324", "2425"], "never") == {"looks": 3, "before": None}
    assert looks.summary([], ["2324"], "p1") == {"looks": 0, "before": None}
    first = json.loads(ledger.read_text().splitlines()[0])
    assert first == {"recorded": "2026-01-01T00:00:00+00:00", "what": "train:xgb", "test_seasons": ["2324", "2425"],
                     "params": "p1", "code": "c1", "data": "d1"}


def test_the_hashes_follow_what_was_scored_and_nothing_else(tmp_path):
    """The code is what scores: an edit of the live loop, the test helpers or the docs generator is no new
    configuration; an edit of a scoring module or a stage notebook is."""
    params = {"data": {"root": "/here", "sources": [{"leagues": ["E0"]}]}, "train": {"seed": 1}}
    assert looks.params_hash(params) == looks.params_hash({**params, "data": {**params["data"], "root": "/there"}})
    assert looks.params_hash(params) != looks.params_hash({**params, "train": {"seed": 2}})
    for folder in ("a1lab/live", "notebooks", "pipelines"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "a1lab" / "__init__.py").write_text("")
    (tmp_path / "a1lab" / "m.py").write_text("x = 1\n")
    code = looks.code_hash(tmp_path)
    (tmp_path / "a1lab" / "__pycache__").mkdir()
    (tmp_path / "a1lab" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "README.md").write_text("not code")
    (tmp_path / "a1lab" / "live" / "loop.py").write_text("x = 2\n")
    (tmp_path / "a1lab" / "testing.py").write_text("x = 2\n")
    (tmp_path / "pipelines" / "docs.py").write_text("x = 2\n")
    assert looks.code_hash(tmp_path) == code
    (tmp_path / "notebooks" / "train.ipynb").write_text("{}")
    assert looks.code_hash(tmp_path) != code
    (tmp_path / "notebooks" / "train.ipynb").unlink()
    (tmp_path / "a1lab" / "m.py").write_text("x = 2\n")
    assert looks.code_hash(tmp_path) != code


def test_a_data_set_folder_records_in_its_own_ledger_with_the_repositorys_code(tmp_path):
    (tmp_path / "a1lab").mkdir()
    (tmp_path / "a1lab" / "__init__.py").write_text("")
    folder = tmp_path / "datasets" / "nba"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "sources.json").write_text('{"files": {}}')
    seen = looks.note(folder, "ensemble", {"train": {"seed": 1}}, ["2324"], T0)
    assert seen == {"looks": 1, "before": 0}
    entry = looks.read(folder / "reports" / "looks.jsonl")[0]
    assert entry["code"] == looks.code_hash(tmp_path)
    assert entry["data"] == looks.data_hash(folder / "data" / "sources.json")
    (folder / "data" / "sources.json").write_text('{"files": {"a.csv": "1"}}')  # other data: another look
    again = looks.note(folder, "ensemble", {"train": {"seed": 1}}, ["2324"], T0 + timedelta(1))
    assert again == {"looks": 2, "before": 0}
