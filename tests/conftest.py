"""Shared fixtures: the real football-data mirror and a synthetic league."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from a1lab.data.synthetic import LeagueSpec, simulate_league

LEAGUES = ["E0", "SP1", "I1", "D1", "F1"]
SEASONS = ["1516", "1617", "1718", "1819", "1920", "2021", "2122", "2223", "2324", "2425", "2526"]


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The local football-data mirror named by $A1LAB_DATA_ROOT (.ci/run sets it)."""
    root = os.environ.get("A1LAB_DATA_ROOT")
    if not root or not (Path(root) / "mmz4281").is_dir():
        pytest.skip("set A1LAB_DATA_ROOT to the football-data mirror (../shared/data/football-data)")
    return Path(root)


@pytest.fixture(scope="session")
def real_load(data_root):
    """All 55 real files loaded once."""
    from a1lab.data.footballdata import load_football_data
    from a1lab.data.source import FileSource

    return load_football_data(FileSource(str(data_root)), LEAGUES, SEASONS)


@pytest.fixture(scope="session")
def synthetic():
    """A small seeded synthetic league with known truth."""
    return simulate_league(LeagueSpec(leagues=2, teams=20, seasons=4, seed=11))
