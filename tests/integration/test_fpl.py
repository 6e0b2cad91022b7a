"""The Fantasy Premier League files joined to the real Premier League matches: every row kept or quarantined with
a reason, every club named by the data set's own spelling from the fixtures alone."""

from __future__ import annotations

import pandas as pd
import pytest

from a1lab.data.fpl import load_fpl
from a1lab.features.players import feature_names, player_features


@pytest.fixture(scope="module")
def fpl(real_load, data_root):
    root = data_root.parent / "fpl"  # the data folder: beside the football-data mirror
    if not root.is_dir():
        pytest.skip(f"no FPL data at {root}")
    return load_fpl(root, real_load.matches, "E0"), real_load.matches


def test_every_row_is_joined_or_quarantined_with_a_reason(fpl):
    data, matches = fpl
    assert data.rows_read == len(data.appearances) + len(data.news) + len(data.rejected)
    counts = data.counts()  # what the features stage writes to metrics/features.json
    assert counts["rows_read"] == counts["appearances"] + counts["news"] + sum(counts["quarantined"].values())
    assert set(data.rejected["reason"]) <= {
        "no match of the data set between these clubs on this day", "the fixture's kick-off or teams disagree",
        "the player twice in one fixture"}
    e0 = matches[matches["league"] == "E0"]
    joined = data.appearances.groupby("season")["match_id"].nunique()
    full = [s for s in joined.index if s < "2526"]  # 2025/26 is in both only to the data's last match
    assert all(joined[s] >= 379 for s in full) and len(full) == 9  # 2016/17-2024/25: one postponed fixture lost
    assert (data.appearances.groupby(["match_id", "side"])["team"].nunique() == 1).all()
    # the game's "Man Utd", "Spurs", "Nott'm Forest": the data set's names, found from the fixtures
    names = set().union(*(set(v.values()) for v in data.teams.values()))
    assert names <= set(e0["home"]) and {"Man United", "Tottenham"} <= names
    assert set(data.news["season"]) == {"2223", "2324", "2425", "2526"}  # snapshots from 2022/23


def test_real_features_of_a_season_at_the_open_and_at_the_line_ups(fpl):
    data, matches = fpl
    games = matches[matches["match_id"].isin(data.appearances["match_id"]) & (matches["season"] == "2324")]
    games = games.sort_values("kickoff").reset_index(drop=True).iloc[:150]  # the season's first 15 rounds
    out = player_features(data.appearances, data.news, games, games["kickoff"] - pd.Timedelta(minutes=60), window=5,
                          lineup=True)
    assert list(out.columns) == ["match_id", *feature_names(True)] and len(out) == 150
    later = out.iloc[40:]  # after each club's first few matches
    assert later.notna().all().all()
    assert later["home_xi_usual"].between(0, 1).all() and later["home_xi_changes"].between(0, 11).all()
