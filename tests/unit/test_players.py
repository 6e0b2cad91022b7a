"""Player features respect time: a match's own statistics, later snapshots and later matches leave its features
byte-identical; the line-up features read the match's starts and nothing else of it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from a1lab.features.players import feature_names, player_features

T0 = pd.Timestamp("2023-08-12 14:00", tz="UTC")


@pytest.fixture()
def league():
    """Two clubs of 14 players playing each other six times a week apart, with availability snapshots."""
    rng = np.random.default_rng(3)
    matches, rows, news = [], [], []
    for k in range(6):
        home, away = ("Reds", "Blues") if k % 2 == 0 else ("Blues", "Reds")
        mid, kickoff = f"m{k}", T0 + pd.Timedelta(days=7 * k)
        matches.append({"match_id": mid, "kickoff": kickoff, "home": home, "away": away})
        for team in ("Reds", "Blues"):
            starters = set(rng.choice(14, 11, replace=False))
            for p in range(14):
                start = p in starters
                rows.append({"match_id": mid, "season": "2324", "kickoff": kickoff, "team": team,
                             "side": "home" if team == home else "away", "player": f"2324:{team}{p}",
                             "position": "GK" if p in (0, 1) else "MID", "starts": float(start),
                             "minutes": float(rng.integers(60, 91) if start else rng.integers(0, 30)),
                             "value": 50.0 + p, "total_points": float(rng.integers(0, 10)),
                             "selected": 1000.0, "transfers_in": 10.0, "transfers_out": 5.0})
        for team in ("Reds", "Blues"):
            for p in range(14):
                news.append({"season": "2324", "at": kickoff - pd.Timedelta(days=3), "player": f"2324:{team}{p}",
                             "team": team, "status": rng.choice(["a", "a", "a", "d", "i"]),
                             "chance": float(rng.choice([25, 50, 75])), "position": "3"})
    return pd.DataFrame(matches), pd.DataFrame(rows), pd.DataFrame(news)


def features(matches, rows, news, lineup=True, lead=48):
    return player_features(rows, news, matches, matches["kickoff"] - pd.Timedelta(hours=lead), window=3,
                           lineup=lineup).set_index("match_id")


def test_the_features_are_there_once_a_team_has_history(league):
    matches, rows, news = league
    out = features(matches, rows, news)
    assert list(out.columns) == feature_names(True)
    assert out.loc["m0"].isna().all()  # no earlier match, no usual players
    assert out.loc[["m2", "m3", "m4", "m5"]].notna().all().all()
    shares = out.loc["m2":].filter(like="unavailable_minutes")
    assert ((shares >= 0) & (shares <= 1)).all().all()


@pytest.mark.parametrize("column", ["minutes", "total_points", "value", "selected", "transfers_in"])
def test_a_matchs_own_statistics_leave_its_features_unchanged(league, column):
    matches, rows, news = league
    before = features(matches, rows, news)
    changed = rows.copy()
    own = changed["match_id"] == "m4"
    changed.loc[own, column] = changed.loc[own, column] * 3 + 7
    after = features(matches, changed, news)
    pd.testing.assert_frame_equal(after.loc[:"m4"], before.loc[:"m4"])
    assert not after.loc["m5"].equals(before.loc["m5"]) or column in ("selected", "transfers_in")


def test_later_matches_and_later_snapshots_leave_earlier_features_unchanged(league):
    matches, rows, news = league
    before = features(matches, rows, news)
    later = rows["kickoff"] > matches.set_index("match_id").loc["m3", "kickoff"]
    changed = rows.copy()
    changed.loc[later, ["minutes", "starts", "value", "total_points"]] = 0.0
    at = matches.set_index("match_id")["kickoff"] - pd.Timedelta(hours=48)
    news_later = news.copy()
    news_later.loc[news_later["at"] >= at["m3"], "status"] = "s"
    after = features(matches, changed, news_later)
    pd.testing.assert_frame_equal(after.loc[:"m3"], before.loc[:"m3"])


def test_the_line_up_is_the_only_thing_read_of_the_match_itself(league):
    matches, rows, news = league
    at_open = features(matches, rows, news, lineup=False)
    changed = rows.copy()
    own = changed["match_id"] == "m4"
    changed.loc[own, "starts"] = 1.0 - changed.loc[own, "starts"]
    pd.testing.assert_frame_equal(features(matches, changed, news, lineup=False), at_open)  # open: no starts
    lineup = features(matches, changed, news).loc["m4"]
    assert not lineup[["home_xi_usual", "away_xi_usual"]].equals(features(matches, rows, news).loc["m4",
                                                                          ["home_xi_usual", "away_xi_usual"]])


def test_a_match_not_finished_by_the_forecast_time_is_not_history(league):
    """A forecast 20 minutes before kick-off of a match a team plays an hour after its previous one ended: that
    previous match's minutes are not known yet (its kick-off is less than two hours before the forecast)."""
    matches, rows, news = league
    matches = matches.copy()
    early = matches.loc[5, "kickoff"] = matches.loc[4, "kickoff"] + pd.Timedelta(hours=2, minutes=10)
    rows = rows.copy()
    rows.loc[rows["match_id"] == "m5", "kickoff"] = early
    close_in = features(matches, rows, news, lead=0.34)
    changed = rows.copy()
    changed.loc[changed["match_id"] == "m4", "minutes"] = 0.0
    pd.testing.assert_series_equal(features(matches, changed, news, lead=0.34).loc["m5"], close_in.loc["m5"])
    # six minutes before kick-off the previous match has finished: its minutes count
    assert not features(matches, changed, news, lead=0.1).loc["m5"].equals(features(matches, rows, news, lead=0.1)
                                                                          .loc["m5"])


def test_a_forecast_time_after_kick_off_is_refused(league):
    matches, rows, news = league
    with pytest.raises(ValueError, match="at or after its match's kick-off"):
        player_features(rows, news, matches, matches["kickoff"], window=3)


def settings(**kw):
    from a1lab.params import PlayersParams

    return PlayersParams(**{"layout": "fpl", "path": "../fpl", "league": "L", "window": 3, "open_lead_hours": 48,
                            "lineup_lead_minutes": 60, **kw})


def test_the_stage_columns_are_the_features_at_each_time_and_nan_for_other_leagues(league):
    from a1lab.data.fpl import PlayerData
    from a1lab.features.players import player_columns

    matches, rows, news = league
    both = pd.concat([matches.assign(league="L"), matches.assign(league="M", match_id=matches["match_id"] + "x")],
                     ignore_index=True)
    data = PlayerData(appearances=rows, news=news, rejected=pd.DataFrame())
    out = player_columns(data, both, settings())
    assert out.loc[6:].isna().all().all()  # the other league's matches: no player data
    at_open, at_lineup = features(matches, rows, news, lineup=False), features(matches, rows, news, lead=1)
    for name in feature_names(False):
        np.testing.assert_array_equal(out.loc[:5, f"pl_open_{name}"].to_numpy(), at_open[name].to_numpy())
    for name in feature_names(True):
        np.testing.assert_array_equal(out.loc[:5, f"pl_lineup_{name}"].to_numpy(), at_lineup[name].to_numpy())


def test_each_prediction_time_gets_the_player_features_known_by_then():
    from a1lab.features.registry import all_specs, feature_set
    from a1lab.params import load_params

    config = load_params("params.yaml").features
    assert not any(s.group == "players" for s in all_specs(config))  # no player data, no player feature
    config = config.model_copy(update={"players": settings()})
    opening, lineup, closing = (set(feature_set(config, t)) for t in ("open", "lineup", "close"))
    players = {s.name for s in all_specs(config) if s.group == "players"}
    assert len(players) == 28 and players & opening == {n for n in players if n.startswith("pl_open_")}
    assert players <= lineup and opening < lineup < closing
    assert not any("close" in n or "move" in n for n in lineup)  # no closing price at line-up time
    assert "players" not in config.engine()  # the feature state holds no player


def test_the_engine_refuses_player_settings_without_their_data():
    from a1lab.features import build_features
    from a1lab.params import load_params

    config = load_params("params.yaml").features.model_copy(update={"players": settings()})
    with pytest.raises(ValueError, match="features.players is set: pass its player data"):
        build_features(pd.DataFrame(), config)
