"""Teams across a country's divisions: identity and ratings kept over promotion and relegation, the step
between two leagues fitted on earlier seasons only, home advantage per league."""

import json

import numpy as np
import pytest

from a1lab.data.synthetic import LeagueSpec, simulate_league
from a1lab.features import FeatureState, build_features
from a1lab.features.state import N_STATS
from a1lab.ratings import fitted_home_advantage
from a1lab.testing import feature_config, with_changes

NO_STATS = np.full(N_STATS, np.nan)
CONFIG = feature_config(goal_books=(), divisions={"Ruritania": ("R1", "R2")}, division_prior_moves=2.0,
                        home_advantage_prior_matches=0.0)


def play(state: FeatureState, league: str, season: str, day: int, results: list[tuple[str, str, int, int]]) -> dict:
    """Read every match of a day (its features by team), then queue the day's results."""
    seen = {}
    for home, away, _, _ in results:
        values = dict(zip(state.names, state.features(league, season, day, home, away), strict=True))
        seen[home], seen[away] = values["home_elo"], values["away_elo"]
        seen[(home, "promoted")], seen[(away, "promoted")] = values["home_promoted"], values["away_promoted"]
    for home, away, hg, ag in results:
        state.update(league, day, home, away, hg, ag, NO_STATS, NO_STATS)
    return seen


def season(state: FeatureState, league: str, name: str, start: int, teams: list[str], strong: str) -> None:
    """A double round robin of four teams in which ``strong`` wins every match and the others draw."""
    pairs = [(h, a) for h in teams for a in teams if h != a]
    for k, (h, a) in enumerate(pairs):
        hg, ag = (2, 0) if h == strong else (0, 2) if a == strong else (1, 1)
        play(state, league, name, start + k, [(h, a, hg, ag)])


def team(state: FeatureState, league: str, name: str) -> tuple[float, float, float]:
    lg = state.leagues[league]
    i = lg.index[name]
    return lg.elo[i], lg.pi_home[i], lg.pi_away[i]


def test_a_promoted_team_keeps_its_rating_and_the_step_is_fitted_on_earlier_moves_only():
    state = FeatureState(CONFIG)
    season(state, "R1", "s1", 0, ["A", "B", "C", "D"], strong="B")  # A is relegated after s1
    season(state, "R2", "s1", 0, ["E", "F", "G", "H"], strong="E")  # E wins R2 and goes up
    state.flush()
    brought_e = team(state, "R2", "E")
    # s2: E's first R1 match. No move between R2 and R1 is settled yet: the promoted-gap rule
    first = play(state, "R1", "s2", 100, [("E", "B", 0, 0)])
    r1 = state.leagues["R1"]
    mean = np.mean([r for n, r in zip(r1.index, r1.elo, strict=True) if n != "E"])
    assert first["E"] == pytest.approx(mean - CONFIG.elo_promoted_gap) and first[("E", "promoted")] == 1
    assert r1.moves == [("E", "R2", "s2", *brought_e)]
    # A relegated: starts above R2's mean (no step known either), not below it as a newcomer would
    relegated = play(state, "R2", "s2", 100, [("A", "F", 0, 0)])
    r2 = state.leagues["R2"]
    assert relegated["A"] > np.mean(r2.elo) and r2.moves[0][:3] == ("A", "R1", "s2")
    for k, (h, a) in enumerate([("C", "E"), ("E", "D"), ("B", "E"), ("E", "C"), ("D", "E")]):
        play(state, "R1", "s2", 101 + k, [(h, a, 1, 2 if "E" == a else 0)])
    for k, (h, a) in enumerate([("F", "A"), ("A", "G"), ("H", "A"), ("A", "H"), ("G", "A")]):
        play(state, "R2", "s2", 101 + k, [(h, a, 0, 0)])
    state.flush()
    end_e = team(state, "R1", "E")
    brought_a = team(state, "R2", "A")  # what A takes back up
    mean = np.mean(state.leagues["R1"].elo)  # every team R1 has seen; regression at the season start keeps it

    # s3: R1 starts first, so the step R2 -> R1 is E's first season: its change, and nothing of later seasons
    back = play(state, "R1", "s3", 200, [("A", "B", 1, 0)])
    assert state.leagues["R1"].steps == {"R2": [1.0, *(e - b for e, b in zip(end_e, brought_e, strict=True))]}
    fitted = brought_a[0] + (end_e[0] - brought_e[0])
    w = CONFIG.division_prior_moves
    assert back["A"] == pytest.approx((fitted + w * (mean - CONFIG.elo_promoted_gap)) / (1 + w))
    assert back[("A", "promoted")] == 1


def test_the_step_weighs_the_fitted_change_against_the_promoted_gap_rule_for_pi_too():
    config = with_changes(CONFIG, division_prior_moves=0.0)  # the fitted step alone
    state = FeatureState(config)
    season(state, "R1", "s1", 0, ["A", "B", "C", "D"], strong="B")
    season(state, "R2", "s1", 0, ["E", "F", "G", "H"], strong="E")
    play(state, "R1", "s2", 100, [("E", "B", 0, 0)])
    brought_e = state.leagues["R1"].moves[0][3:]
    play(state, "R2", "s2", 100, [("A", "F", 3, 0)])
    play(state, "R1", "s2", 101, [("C", "E", 0, 1)])
    play(state, "R2", "s2", 101, [("G", "A", 1, 1)])
    state.flush()
    end_e, brought_a = team(state, "R1", "E"), team(state, "R2", "A")
    play(state, "R1", "s3", 200, [("A", "C", 0, 0)])
    want = [a + (e - b) for a, e, b in zip(brought_a, end_e, brought_e, strict=True)]
    r1 = state.leagues["R1"]
    i = r1.index["A"]
    # the match just read is queued, not applied: A's ratings are its start
    assert [r1.elo[i], r1.pi_home[i], r1.pi_away[i]] == pytest.approx(want)


def test_a_team_seen_only_in_its_own_league_and_leagues_without_divisions_are_as_before():
    m = simulate_league(LeagueSpec(leagues=2, teams=6, seasons=2, seed=4)).matches
    plain = build_features(m, feature_config(goal_books=()))[0]
    leagues = sorted(m["league"].unique())
    shared = build_features(m, with_changes(CONFIG, divisions={"Ruritania": tuple(leagues)}))[0]
    # the simulated leagues have disjoint teams: nobody moves, the features are the same
    assert plain.equals(shared)


def test_a_country_is_replayed_together_and_the_result_does_not_depend_on_workers():
    m = simulate_league(LeagueSpec(leagues=3, teams=6, seasons=3, seed=5)).matches
    leagues = sorted(m["league"].unique())
    later = m["season"] == m["season"].max()
    # one team of the second league moves to the first in the last season
    mover = m.loc[m["league"] == leagues[1], "home"].iloc[0]
    gone = m.loc[m["league"] == leagues[0], "home"].iloc[0]
    for side in ("home", "away"):
        m.loc[later & (m[side] == gone), side] = mover + "*"
        m.loc[later & (m[side] == mover), side] = gone
        m.loc[later & (m[side] == mover + "*"), side] = mover
    config = with_changes(CONFIG, divisions={"Ruritania": tuple(leagues[:2])})
    serial, state = build_features(m, config)
    parallel, _ = build_features(m, config, n_jobs=2)
    assert serial.equals(parallel)
    assert [mv[:2] for mv in state.leagues[leagues[0]].moves] == [(mover, leagues[1])]
    assert json.dumps(FeatureState.from_dict(state.to_dict()).to_dict()) == json.dumps(state.to_dict())


def test_home_advantage_is_each_leagues_own_fitted_on_its_earlier_seasons():
    config = with_changes(CONFIG, home_advantage_prior_matches=10.0)
    state = FeatureState(config)
    teams = ["A", "B", "C", "D"]
    for k, (h, a) in enumerate((h, a) for h in teams for a in teams if h != a):
        play(state, "R1", "s1", k, [(h, a, 1, 0)])  # the home side always wins
        play(state, "R2", "s1", k, [(h, a, 0, 0)])  # always a draw
    assert state.leagues["R1"].home_advantage == CONFIG.elo_home_advantage  # nothing fitted within a season
    play(state, "R1", "s2", 100, [("A", "B", 0, 0)])
    play(state, "R2", "s2", 100, [("A", "B", 0, 0)])
    r1, r2 = state.leagues["R1"].home_advantage, state.leagues["R2"].home_advantage
    assert r1 == pytest.approx(fitted_home_advantage(12.0, 12, CONFIG.elo_home_advantage, 10.0))
    assert r1 > CONFIG.elo_home_advantage > r2 > 0


@pytest.mark.realdata
def test_a_real_promoted_club_carries_its_championship_rating(data_root):
    """Burnley: relegated from the Premier League in 2021/22, Championship winners in 2022/23, back up in
    2023/24. With England's divisions its first 2023/24 rating follows its 2022/23 Championship season
    (scrambling those results moves it); without, it is its stale 2021/22 Premier League rating whatever it did."""
    from a1lab.data.footballdata import load_football_data
    from a1lab.data.source import FileSource

    matches = load_football_data(FileSource(str(data_root)), ["E0", "E1"], ["2122", "2223", "2324"]).matches
    england = with_changes(CONFIG, divisions={"England": ("E0", "E1")}, division_prior_moves=10.0)

    def first_rating(m, config) -> float:
        feats = build_features(m, config)[0]
        row = feats[(feats["league"] == "E0") & (feats["season"] == "2324")
                    & ((feats["home"] == "Burnley") | (feats["away"] == "Burnley"))].iloc[0]
        return row["home_elo"] if row["home"] == "Burnley" else row["away_elo"]

    champions = first_rating(matches, england)
    burnley_e1 = (matches["league"] == "E1") & (matches["season"] == "2223") & (matches["home"] == "Burnley")
    losing = matches.copy()
    losing.loc[burnley_e1, ["home_goals", "away_goals"]] = [0, 3]
    assert first_rating(losing, england) < champions - 20
    plain = with_changes(england, divisions={})
    assert first_rating(losing, plain) == first_rating(matches, plain)
