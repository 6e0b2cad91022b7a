"""The feature engine: leakage, parity (batch, one by one, parallel, checkpoint), priors, truth."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from a1lab.data.schema import odds_columns
from a1lab.data.synthetic import LeagueSpec, simulate_league
from a1lab.features import FeatureState, all_specs, build_features, feature_set, replay
from a1lab.features.state import day_number, team_match_stats
from a1lab.testing import feature_config

CONFIG = feature_config(goal_books=())
RESULT_COLUMNS = ["home_goals", "away_goals", "ht_home_goals", "ht_away_goals", "home_shots", "away_shots",
                  "home_shots_on_target", "away_shots_on_target", "home_fouls", "away_fouls", "home_corners",
                  "away_corners", "home_yellow", "away_yellow", "home_red", "away_red"]


@pytest.fixture(scope="module")
def real_matches(real_load):
    return real_load.matches


def perturb(matches: pd.DataFrame, rows: pd.Series, rng: np.random.Generator, odds: bool) -> pd.DataFrame:
    """Scramble results (and optionally every price) of the selected rows."""
    out = matches.copy()
    n = int(rows.sum())
    for col in RESULT_COLUMNS:
        if col in out:
            out.loc[rows, col] = rng.integers(0, 9, n).astype(out[col].dtype)
    out.loc[rows, "result"] = np.where(out.loc[rows, "home_goals"] > out.loc[rows, "away_goals"], "H",
                                       np.where(out.loc[rows, "home_goals"] < out.loc[rows, "away_goals"], "A", "D"))
    if odds:
        for col in odds_columns(out):
            out.loc[rows, col] = out.loc[rows, col] * rng.uniform(0.5, 2.0, n) + 0.01
    return out


@pytest.mark.realdata
def test_no_result_or_odds_at_or_after_kickoff_changes_a_feature(real_matches):
    rng = np.random.default_rng(0)
    names = [s.name for s in all_specs(CONFIG)]
    for league in ("E0", "D1"):
        base = real_matches[real_matches["league"] == league].reset_index(drop=True)
        feats, _ = build_features(base, CONFIG)
        for idx in rng.choice(len(base), 4, replace=False):
            t = base.loc[idx, "kickoff"]
            later = base["kickoff"] >= t
            # results of the match itself and everything from its kick-off on; odds of every other later match
            changed = perturb(base, later, rng, odds=False)
            changed = perturb(changed, later & (base.index != idx), rng, odds=True)
            after, _ = build_features(changed, CONFIG)
            row_before = feats.loc[feats["match_id"] == base.loc[idx, "match_id"], names]
            row_after = after.loc[after["match_id"] == base.loc[idx, "match_id"], names]
            pd.testing.assert_frame_equal(row_before.reset_index(drop=True), row_after.reset_index(drop=True))
            # and some later match did change, so the perturbation was real
            assert not feats[names].equals(after[names]) or later.sum() <= 1


def test_open_set_has_no_closing_information(synthetic):
    open_names = feature_set(CONFIG, "open")
    assert not [n for n in open_names if "close" in n or "move" in n]
    assert set(open_names) < set(feature_set(CONFIG, "close"))
    m = synthetic.matches
    shifted = m.copy()
    close_cols = [c for c in odds_columns(m) if "_close_" in c]
    shifted[close_cols] = shifted[close_cols] * 1.7
    a, _ = build_features(m, CONFIG)
    b, _ = build_features(shifted, CONFIG)
    pd.testing.assert_frame_equal(a[open_names], b[open_names])
    assert not a["mkt_pinnacle_close_p_home"].equals(b["mkt_pinnacle_close_p_home"])
    with pytest.raises(ValueError):
        feature_set(CONFIG, "kickoff")


def test_same_day_matches_see_none_of_each_other():
    m = simulate_league(LeagueSpec(leagues=1, teams=4, seasons=1, seed=2)).matches
    # two kick-offs on one day: the later one must not see the earlier one's result
    day = m["kickoff"].dt.normalize() == m["kickoff"].dt.normalize().iloc[8]
    m.loc[day, "kickoff"] = m.loc[day, "kickoff"] + pd.to_timedelta(np.arange(day.sum()), unit="h")
    first = m.index[day][0]
    a, _ = build_features(m, CONFIG)
    flipped = m.copy()
    flipped.loc[first, ["home_goals", "away_goals"]] = [7, 0]
    b, _ = build_features(flipped, CONFIG)
    same_day = day.to_numpy()
    names = feature_set(CONFIG, "close")
    pd.testing.assert_frame_equal(a.loc[same_day, names], b.loc[same_day, names])
    assert not a.loc[~same_day, names].equals(b.loc[~same_day, names])


def feed_one_by_one(matches: pd.DataFrame, state: FeatureState) -> np.ndarray:
    """What the live loop does: one fixture read, one result applied, record by record."""
    rows = []
    for _, match in matches.iterrows():
        one = match.to_frame().T.astype(matches.dtypes.to_dict())
        day = int(day_number(one["kickoff"])[0])
        rows.append(state.features(match["league"], match["season"], day, match["home"], match["away"]))
        hs, as_ = team_match_stats(one)
        state.update(match["league"], day, match["home"], match["away"], match["home_goals"], match["away_goals"],
                     hs[0], as_[0])
    return np.array(rows)


def test_batch_equals_one_by_one_equals_parallel(synthetic):
    m = synthetic.matches.iloc[:1200]
    batch, batch_state = build_features(m, CONFIG)
    single = FeatureState(CONFIG)
    values = feed_one_by_one(m, single)
    names = single.names
    np.testing.assert_array_equal(batch[names].to_numpy(), values)
    batch_state.flush()
    single.flush()
    assert batch_state.to_dict() == single.to_dict()
    parallel, _ = build_features(m, CONFIG, n_jobs=2)
    pd.testing.assert_frame_equal(batch, parallel)


def test_checkpoint_mid_season_continues_identically(synthetic, tmp_path):
    m = synthetic.matches[synthetic.matches["league"] == "SYN0"].reset_index(drop=True)
    full = FeatureState(CONFIG)
    expected = replay(m, full)
    cut = 380 + 190 + 3  # mid-way through the second season, mid-day
    state = FeatureState(CONFIG)
    head = replay(m.iloc[:cut], state)
    state.save(tmp_path / "state.json")
    restored = FeatureState.load(tmp_path / "state.json")
    tail = replay(m.iloc[cut:], restored)
    np.testing.assert_array_equal(np.vstack([head, tail]), expected)
    full.flush()
    restored.flush()
    assert restored.to_dict() == full.to_dict()


def test_new_teams_get_priors_not_nan(synthetic):
    feats, _ = build_features(synthetic.matches, CONFIG)
    stateful = [s.name for s in all_specs(CONFIG) if s.group != "market"]
    assert not feats[stateful].isna().any().any()
    first = feats.iloc[0]
    assert first["home_elo"] == 1500 and first["home_goals_for_mean5_all"] == 1.4  # the fixed prior
    assert first["home_rest_days"] == CONFIG.rest_prior_days


def test_promoted_team_starts_below_the_mean():
    m = simulate_league(LeagueSpec(leagues=1, teams=6, seasons=2, seed=4)).matches
    second = m["season"] == m["season"].max()
    m.loc[second & (m["home"] == "L0-T00"), "home"] = "Newcomers"
    m.loc[second & (m["away"] == "L0-T00"), "away"] = "Newcomers"
    feats, _ = build_features(m, CONFIG)
    row = feats[(feats["home"] == "Newcomers")].iloc[0]
    others = feats[(feats["season"] == m["season"].max()) & (feats["home"] != "Newcomers")]
    assert row["home_promoted"] == 1 and row["home_history"] == 0
    assert row["home_elo"] < others.groupby("home")["home_elo"].first().mean()
    # the form prior of a team without history is the league's running mean, not NaN
    assert np.isfinite(row["home_goals_for_mean10_all"])


def test_ratings_rank_teams_by_true_strength():
    league = simulate_league(LeagueSpec(leagues=1, teams=20, seasons=3, seed=8, drift_sd=0.0))
    _, state = build_features(league.matches, CONFIG)
    state.flush()
    lg = state.leagues["SYN0"]
    truth = league.teams[league.teams["season"] == league.teams["season"].max()].set_index("team")["strength"]
    elo = pd.Series({t: lg.elo[i] for t, i in lg.index.items()})
    pi = pd.Series({t: lg.pi_home[i] + lg.pi_away[i] for t, i in lg.index.items()})
    assert spearmanr(elo[truth.index], truth).statistic > 0.8
    assert spearmanr(pi[truth.index], truth).statistic > 0.8


def test_columns_follow_the_registry(synthetic):
    feats, _ = build_features(synthetic.matches.iloc[:50], CONFIG)
    assert list(feats.columns[7:]) == [s.name for s in all_specs(CONFIG)]
    assert feats["match_id"].tolist() == synthetic.matches["match_id"].iloc[:50].tolist()


@pytest.mark.realdata
def test_feature_values_match_an_independent_recomputation_from_the_raw_matches(real_matches):
    """Ratings, schedule and rolling features of the first E0 season, recomputed here by a plain loop over
    the raw matches and looked up by name: a value under the wrong name (two pi ratings swapped, a window
    or a side mixed up) fails."""
    from a1lab.ratings import EloParams, PiParams, elo_update, pi_update

    first = real_matches[(real_matches["league"] == "E0") & (real_matches["season"] == "1516")]
    first = first.sort_values(["kickoff", "match_id"], kind="mergesort").reset_index(drop=True)
    feats = build_features(first, CONFIG)[0].set_index("match_id")
    day = day_number(first["kickoff"])
    elo_p = EloParams(k=CONFIG.elo_k, home_advantage=CONFIG.elo_home_advantage,
                      season_regression=CONFIG.elo_season_regression, promoted_gap=CONFIG.elo_promoted_gap)
    pi_p = PiParams(learning_rate=CONFIG.pi_learning_rate, cross_rate=CONFIG.pi_cross_rate,
                    promoted_gap=CONFIG.pi_promoted_gap)
    elo, pi, past = {}, {}, {}  # team -> rating, (home, away) ratings, [(day, venue, goals for, shots against)]
    expected: dict[str, dict] = {}
    for d in np.unique(day):
        today = first[day == d]
        for r in today.itertuples():  # read every match of the day before any result of the day
            h, a = past.get(r.home, []), past.get(r.away, [])
            expected[r.match_id] = {
                "home_elo": elo.get(r.home, elo_p.initial), "away_elo": elo.get(r.away, elo_p.initial),
                "home_pi_home": pi.get(r.home, (0.0, 0.0))[0], "home_pi_away": pi.get(r.home, (0.0, 0.0))[1],
                "away_pi_home": pi.get(r.away, (0.0, 0.0))[0], "away_pi_away": pi.get(r.away, (0.0, 0.0))[1],
                "home_played_season": float(len(h)), "away_played_season": float(len(a)),
                "home_rest_days": min(float(d - h[-1][0]), CONFIG.rest_cap_days) if h else CONFIG.rest_prior_days,
                "home_goals_for_mean5_all": np.mean([x[2] for x in h[-5:]]) if h else np.nan,
                "away_goals_for_mean3_venue": np.mean([x[2] for x in a if x[1] == "away"][-3:])
                if any(x[1] == "away" for x in a) else np.nan,
                "away_shots_against_mean10_all": np.mean([x[3] for x in a[-10:]]) if a else np.nan,
            }
        for r in today.itertuples():
            eh, ea = elo.get(r.home, elo_p.initial), elo.get(r.away, elo_p.initial)
            elo[r.home], elo[r.away] = elo_update(eh, ea, r.home_goals, r.away_goals, elo_p)
            (hh, ha), (ah, aa) = pi.get(r.home, (0.0, 0.0)), pi.get(r.away, (0.0, 0.0))
            hh, ha, ah, aa = pi_update(hh, ha, ah, aa, r.home_goals, r.away_goals, pi_p)
            pi[r.home], pi[r.away] = (hh, ha), (ah, aa)
            past.setdefault(r.home, []).append((d, "home", r.home_goals, r.away_shots))
            past.setdefault(r.away, []).append((d, "away", r.away_goals, r.home_shots))
    got = feats.loc[list(expected), list(next(iter(expected.values())))]
    want = pd.DataFrame.from_dict(expected, orient="index")[got.columns]
    known = want.notna()  # before a team's first match the engine uses a league prior instead
    assert known.to_numpy().mean() > 0.9
    np.testing.assert_allclose(got.to_numpy()[known.to_numpy()], want.to_numpy()[known.to_numpy()], rtol=1e-9)


def test_selection_ignores_validation_matches_after_the_first_test_match():
    """A validation season of another calendar can run past the first test match: its later results must
    not choose features (altering them changes nothing; without ``before`` they would)."""
    from a1lab.features import SelectionConfig, select_features

    rng = np.random.default_rng(3)
    n = 600
    kickoff = pd.date_range("2019-01-01", periods=n, freq="D", tz="UTC")
    result = rng.choice(["H", "D", "A"], n)
    frame = pd.DataFrame({"season": "2019", "kickoff": kickoff, "result": result,
                          "noise": rng.normal(size=n), "leak": rng.normal(size=n)})
    late = kickoff >= kickoff[400]
    frame.loc[late, "leak"] = frame.loc[late, "result"].map({"H": 1.0, "D": 0.0, "A": -1.0})  # knows the result
    config = SelectionConfig(validation_season="2019", top_k=1, corr_threshold=0.95, seed=0, seasons=1)
    assert select_features(frame, ["noise", "leak"], config).iloc[0]["feature"] == "leak"
    cut = SelectionConfig(validation_season="2019", top_k=1, corr_threshold=0.95, seed=0, seasons=1,
                          before=kickoff[400])
    ranked = select_features(frame, ["noise", "leak"], cut)
    altered = frame.assign(result=np.where(late, "H", frame["result"]))
    assert ranked.equals(select_features(altered, ["noise", "leak"], cut))
    assert ranked.set_index("feature").loc["leak", "mutual_info"] < 0.05


def test_selection_pools_the_validation_season_with_the_seasons_just_before_it_and_never_a_later_one():
    from a1lab.features import SelectionConfig, select_features

    rng = np.random.default_rng(5)
    n = 500
    frames = []
    for k, season in enumerate(("2017", "2018", "2019", "2020")):
        result = rng.choice(["H", "D", "A"], n)
        knows = result if season in ("2018", "2020") else rng.choice(["H", "D", "A"], n)
        frames.append(pd.DataFrame({"season": season, "result": result, "noise": rng.normal(size=n),
                                    "kickoff": pd.date_range(f"{2017 + k}-08-01", periods=n, freq="6h", tz="UTC"),
                                    "leak": pd.Series(knows).map({"H": 1.0, "D": 0.0, "A": -1.0})}))
    frame = pd.concat(frames, ignore_index=True)  # "leak" knows the result in 2018 and 2020 only

    def top(seasons: int) -> str:
        config = SelectionConfig(validation_season="2019", top_k=1, corr_threshold=0.95, seed=0, seasons=seasons)
        return select_features(frame, ["noise", "leak"], config).set_index("feature")["mutual_info"]

    assert top(1)["leak"] < 0.02  # 2019 alone: nothing to find
    assert top(2)["leak"] > 0.1  # with 2018 pooled in: found
    later = frame.assign(leak=np.where(frame["season"] == "2020", 0.0, frame["leak"]))
    config = SelectionConfig(validation_season="2019", top_k=1, corr_threshold=0.95, seed=0, seasons=2)
    assert select_features(later, ["noise", "leak"], config).equals(select_features(frame, ["noise", "leak"], config))
