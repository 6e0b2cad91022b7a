"""The live loop in-process: parity with the batch pipeline, idempotency, time rules, checkpoints, alerts."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from a1lab import registry
from a1lab.features import build_features
from a1lab.live.checkpoint import CheckpointError
from a1lab.live.events import Rejection, parse_event
from a1lab.live.loop import Loop
from a1lab.live.replay import Offsets, season_events
from a1lab.live.scoring import required_quotes
from a1lab.live.settlement import Window
from a1lab.monitoring.alerts import AlertBook, Rule
from a1lab.testing import feature_config, first_difference, loop_config, value_rule, with_changes


def _loop(lab, events, **kw) -> Loop:
    start = pd.Timestamp(events[0]["ts"])
    _, state = build_features(lab["matches"][lab["matches"]["kickoff"] < start], lab["config"])
    config = kw.pop("config", None) or loop_config()
    return Loop([registry.load("xgb", root=lab["registry"])], state, config, **kw)


def _feed(loop: Loop, events) -> list:
    out = []
    for e in events:
        out += loop.process(parse_event(json.dumps(e)))
    return out


def _standing(messages) -> dict:
    """The last prediction of each match (the one standing at kick-off)."""
    return {m["match_id"]: m for m in messages if isinstance(m, dict) and m["type"] == "prediction"}


@pytest.mark.parametrize("open_before", [timedelta(days=2), timedelta(days=6)])
def test_replay_of_2526_matches_the_batch_model_to_1e9(live_lab, open_before):
    """Every 2025/26 match gets the batch pipeline's probabilities, also when odds come days early
    (then results of the days between revise the prediction before kick-off)."""
    events = season_events(live_lab["matches"], "2526", offsets=Offsets(open=open_before))
    loop = _loop(live_lab, events)
    out = _feed(loop, events)
    assert not [m for m in out if isinstance(m, Rejection)]
    batch = live_lab["frame"][live_lab["frame"]["season"] == "2526"]
    expected = registry.load("xgb", root=live_lab["registry"]).predict_proba(batch)
    standing = _standing(out)
    got = np.array([list(standing[m]["p"].values()) for m in batch["match_id"]])
    assert len(standing) == len(batch) == 741
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    revised = sum(m["revision"] > 1 for m in standing.values())
    if open_before > timedelta(days=3):
        assert revised > 20  # midweek results landed between the odds and kick-off
    settled = [m for m in out if isinstance(m, dict) and m["type"] == "settlement"]
    assert len(settled) == 741 and loop.counts["settled"] == 741
    assert loop.counts["events"] == len(events)


def test_goal_line_quotes_score_live_as_in_batch(live_lab, tmp_path):
    """A model with over/under and Asian-handicap features (features.goal_books) waits for those quotes,
    which the replay sends as ``ou25`` and ``ah`` odds events (the handicap with its line), and gives every
    E0 match of 2025/26 its batch probabilities to 1e-9."""

    from a1lab.models.xgb import XGBModel
    from a1lab.outcomes import RESULT_CODES

    config = with_changes(live_lab["config"], goal_books=["avg"])
    matches = live_lab["matches"]
    frame, _ = build_features(matches, config)
    goals = ["mkt_avg_open_goals_total", "mkt_avg_open_goals_supremacy"]
    assert frame.loc[frame["season"] == "2526", goals].notna().all().all()
    train, val = frame[frame["season"] <= "2324"], frame[frame["season"] == "2425"]
    model = XGBModel(features=[*goals, "elo_diff", "pi_expected_gd"], offset=live_lab["offset"], n_estimators=60,
                     early_stopping_rounds=20, seed=3)
    model.fit(train, train["result"].map(RESULT_CODES), eval_set=(val, val["result"].map(RESULT_CODES)))
    registry.register(model, "goals", root=tmp_path, prediction_time="open")
    events = season_events(matches, "2526", ["E0"])
    handicaps = [e for e in events if e["type"] == "odds" and e["market"] == "ah"]
    assert handicaps and all("line" in e for e in handicaps)
    ah = handicaps[0]
    assert "has a line, and only it" in parse_event({k: v for k, v in ah.items() if k != "line"}).reason
    assert "multiple of 0.25" in parse_event({**ah, "line": -0.3}).reason
    assert "market ou25 has prices over, under, not home, away" in parse_event({**ah, "market": "ou25"}).reason
    assert {e["market"] for e in events if e["type"] == "odds"} == {"1x2", "ou25", "ah"}
    _, state = build_features(matches[matches["kickoff"] < pd.Timestamp(events[0]["ts"])], config)
    loop = Loop([registry.load("goals", root=tmp_path)], state, loop_config())
    assert loop.needed == {("pinnacle", "open"), ("avg", "open", "ou25"), ("avg", "open", "ah")}
    out = _feed(loop, events)
    assert not [m for m in out if isinstance(m, Rejection)] and loop.counts["events"] == len(events)
    batch = frame[(frame["season"] == "2526") & (frame["league"] == "E0")]
    standing = _standing(out)
    got = np.array([list(standing[m]["p"].values()) for m in batch["match_id"]])
    np.testing.assert_allclose(got, model.predict_proba(batch), rtol=0, atol=1e-9)
    # without the handicap quotes no match is scored at the open: only late, at the first closing 1x2 quote
    _, state = build_features(matches[matches["kickoff"] < pd.Timestamp(events[0]["ts"])], config)
    loop = Loop([registry.load("goals", root=tmp_path)], state, loop_config())
    late = _standing(_feed(loop, [e for e in events if not (e["type"] == "odds" and e["market"] == "ah")]))
    assert len(late) == len(batch) and all(m["event_id"].endswith(":close") for m in late.values())


def test_prediction_carries_market_value_stake_and_shap(live_lab):
    events = live_lab["events_e0"]
    loop = _loop(live_lab, events, config=loop_config(top_k=4, value_rule=loop_config().value_rule))
    out = _feed(loop, events)
    preds = [m for m in out if isinstance(m, dict) and m["type"] == "prediction"]
    p = preds[0]
    assert abs(sum(p["p"].values()) - 1) < 1e-6 and abs(sum(p["market"]["p"].values()) - 1) < 1e-9
    assert len(p["shap"]) == 4 and {"feature", "value", "contribution", "meaning"} <= set(p["shap"][0])
    assert all(" " in r["meaning"] and r["meaning"] != r["feature"] for r in p["shap"])  # words, not a column
    bets = [m["value"] for m in preds if m["value"]]
    assert bets, "no value bet in a season of E0"
    for b in bets:
        assert b["edge"] >= 0.02 and 0 < b["stake"] < 1
    settlements = [m for m in out if isinstance(m, dict) and m["type"] == "settlement"]
    last = settlements[-1]["window"]
    assert last["n"] == len(settlements) and last["rps"] > 0 and last["market_rps"] > 0
    assert last["bets"] == sum(1 for s in settlements if s["bet"] and s["bet"]["clv"] is not None)
    staked = sum(s["bet"]["stake"] for s in settlements if s["bet"])
    assert settlements[-1]["totals"]["staked"] == pytest.approx(staked)


def test_window_summary_is_the_mean_of_its_last_rows_and_survives_a_restore():
    rng = np.random.default_rng(5)
    rows = [{"rps": float(rng.random()), "logloss": float(rng.random()), "hit": float(i % 2),
             "market_rps": None if i % 7 == 0 else float(rng.random()), "market_logloss": float(rng.random()),
             "clv": float(rng.normal()) if i % 3 == 0 else None} for i in range(130)]
    window = Window(50)
    for row in rows:
        window.add(row)
    last = rows[-50:]
    summary = window.summary()
    assert summary["n"] == 50 and summary["bets"] == sum(r["clv"] is not None for r in last)
    for key in ("rps", "market_rps", "clv"):
        assert summary[key] == pytest.approx(np.mean([r[key] for r in last if r[key] is not None]), abs=1e-15)
    assert summary["rps_gap"] == pytest.approx(summary["rps"] - summary["market_rps"])
    assert Window(50, rows).summary() == summary  # a window rebuilt from a checkpoint's rows says the same
    copied = window.copy()
    window.add(rows[0])
    assert copied.summary() == summary != window.summary()


def test_required_quotes_follow_the_model_columns():
    cols = ["elo_home", "mkt_pinnacle_open_p_home", "mkt_open_disagreement_home", "mkt_avg_open_overround",
            "mkt_betfair_exchange_close_p_draw"]
    assert required_quotes(cols) == {("pinnacle", "open"), ("max", "open"), ("avg", "open"),
                                     ("betfair_exchange", "close")}


def test_duplicates_change_nothing(live_lab):
    events = live_lab["events_e0"][:800]
    once = _loop(live_lab, events)
    twice = _loop(live_lab, events)
    out_once = _feed(once, events)
    out_twice = _feed(twice, [e for e in events for _ in (0, 1)])
    assert [m for m in out_twice if isinstance(m, dict)] == [m for m in out_once if isinstance(m, dict)]
    assert twice.counts["duplicates"] == len(events) and twice.counts["events"] == once.counts["events"]
    assert json.dumps(twice.to_dict()["state"]) == json.dumps(once.to_dict()["state"])
    # a second result for a settled match under a new id is refused, not counted twice
    result = next(e for e in events if e["type"] == "result")
    again = twice.process(parse_event({**result, "id": "another-id", "home_goals": 9}))
    assert isinstance(again[0], Rejection) and "already settled" in again[0].reason
    assert twice.counts["settled"] == once.counts["settled"]


def test_odds_after_kickoff_and_unknown_matches_are_rejected(live_lab):
    events = live_lab["events_e0"]
    loop = _loop(live_lab, events)
    fixture = events[0]
    _feed(loop, [fixture])
    late = {"type": "odds", "id": "late-odds", "ts": fixture["kickoff"], "match_id": fixture["match_id"],
            "bookmaker": "pinnacle", "timing": "open", "prices": {"home": 2.0, "draw": 3.4, "away": 3.9}}
    out = loop.process(parse_event(late))
    assert isinstance(out[0], Rejection) and "not before kick-off" in out[0].reason
    orphan = loop.process(parse_event({**late, "id": "x", "match_id": "nope", "ts": fixture["ts"]}))
    assert "no fixture" in orphan[0].reason
    early = loop.process(parse_event({"type": "result", "id": "r", "ts": fixture["ts"],
                                      "match_id": fixture["match_id"], "home_goals": 1, "away_goals": 0}))
    assert "before kick-off" in early[0].reason
    assert loop.counts["rejected"] == 3 and loop.counts["events"] == 1


def test_a_late_result_settles_and_is_flagged(live_lab):
    events = live_lab["events_e0"][:1500]
    results = [i for i, e in enumerate(events) if e["type"] == "result"]
    first, later = results[0], next(i for i in results if events[i]["ts"][:10] > events[results[0]]["ts"][:10])
    held = events[first]
    moved = [e for i, e in enumerate(events) if i != first]
    moved.insert(later, {**held, "ts": events[later]["ts"]})  # arrives after a later day's result
    loop = _loop(live_lab, events)
    out = _feed(loop, moved)
    settle = next(m for m in out if isinstance(m, dict) and m["type"] == "settlement"
                  and m["match_id"] == held["match_id"])
    assert settle["late"] is True and settle["predicted"] is True
    assert loop.counts["settled"] == len(results)


@pytest.mark.parametrize("write", ["to_json", "standard library"])
def test_checkpoint_restart_gives_the_uninterrupted_outputs(live_lab, write):
    """Through a checkpoint as the runtime writes it (orjson: NaN as null) and as checkpoints written before
    were (the standard library's JSON: NaN as NaN); some results lack their statistics, so the feature state
    holds NaN on both sides of the cut."""
    def rules() -> AlertBook:  # rules with memory: a warm-up window, a cooldown, repeats
        return AlertBook([Rule("gap_anomaly", "rps_gap", kind="anomaly", sensitivity=1.0, warmup=10, cooldown=0),
                          Rule("gap", "rps_gap", threshold=-1.0, cooldown=20 * 86400, escalate_after=2)])

    events = [{k: v for k, v in e.items() if not (k == "stats" and i % 7 == 0)}
              for i, e in enumerate(live_lab["events_e0"])]
    config = loop_config(min_window=5)
    whole = _loop(live_lab, events, config=config, alerts=rules())
    expected = [m for m in _feed(whole, events) if isinstance(m, dict)]
    assert sum(m["type"] == "alert" for m in expected) > 10
    first = _loop(live_lab, events, config=config, alerts=rules())
    cut = len(events) // 2
    out = _feed(first, events[:cut])
    payload = first.to_json() if write == "to_json" else json.dumps(first.to_dict()).encode()
    assert (b"null" if write == "to_json" else b"NaN") in payload  # the state's missing statistics
    snapshot = json.loads(payload)  # as on disk
    resumed = Loop(first.models, first.state.__class__(live_lab["config"]), config=config, alerts=rules())
    resumed.restore(snapshot)
    # the feature rows behind the open predictions come back: without them the next result scored every open
    # match again, in a batch of several, where the network's last bits differ from a batch of one, and new
    # revisions went out (found by bench/bench_faults.py with the ensemble)
    rows = first.standing.inputs
    assert rows and resumed.standing.inputs.keys() == rows.keys()
    assert all(np.array_equal(resumed.standing.inputs[k], v, equal_nan=True) for k, v in rows.items())
    out += _feed(resumed, events)  # the whole input again: the first half is skipped as seen
    got = [m for m in out if isinstance(m, dict)]
    assert first_difference(got, expected) is None
    assert resumed.counts["settled"] == whole.counts["settled"]
    assert resumed.counts["seen_before_restart"] == cut and resumed.counts["duplicates"] == 0
    state = [{k: v for k, v in loop.to_dict().items() if k != "counts"} for loop in (resumed, whole)]
    assert json.dumps(state[0]) == json.dumps(state[1])  # NaN where it was, every float to the bit
    other = Loop(first.models, first.state, loop_config(), timing="close")
    with pytest.raises(CheckpointError, match="checkpoint was written by"):
        other.restore(snapshot)


def test_a_stop_at_any_event_restarts_to_the_uninterrupted_outputs(live_lab):
    """A SIGTERM lands wherever the loop is (the process test's lands after 40 settlements or more, so at a point
    that moves with the machine's speed): cut at eight seeded points of the stream, with params.yaml's alert
    rules, each restart gives the uninterrupted outputs."""
    import copy
    import random

    from a1lab.monitoring.config import build_monitoring
    from a1lab.testing import shipped

    events = live_lab["events_e0"]
    start = _loop(live_lab, events)

    def loop(state=None) -> Loop:  # as `live run` makes it: params.yaml's rules; a restart's state is empty
        return Loop(start.models, copy.deepcopy(start.state) if state is None else state, loop_config(),
                    build_monitoring(shipped().monitoring, {})[0])

    expected = [m for m in _feed(loop(), events) if isinstance(m, dict)]
    for cut in sorted(random.Random(11).sample(range(1, len(events)), 8)):
        first = loop()
        got = _feed(first, events[:cut])
        resumed = loop(type(start.state)(live_lab["config"]))
        resumed.restore(json.loads(first.to_json()))
        got += _feed(resumed, events)
        assert first_difference([m for m in got if isinstance(m, dict)], expected) is None, f"cut at {cut}"


def test_alerts_fire_on_model_gap_odds_moves_and_a_quiet_feed(live_lab):
    events = live_lab["events_e0"]
    rules = [Rule("gap", "rps_gap", threshold=-1.0, cooldown=0),
             Rule("move", "odds_move", threshold=0.05, cooldown=0),
             Rule("quiet", "events", kind="staleness", max_age=10.0, severity="critical")]
    loop = _loop(live_lab, events, config=loop_config(min_window=10), alerts=AlertBook(rules))
    out = _feed(loop, events)
    alerts = [m for m in out if isinstance(m, dict) and m["type"] == "alert"]
    settled = loop.counts["settled"]
    assert sum(a["rule"] == "gap" for a in alerts) == settled - 9  # every settlement once the window has 10
    moves = [a for a in alerts if a["rule"] == "move"]
    assert moves and all(a["value"] > 0.05 and a["match_id"] in a["message"] for a in moves)
    assert loop.heartbeat(1000.0) == []
    assert loop.check_quiet(1005.0) == []
    quiet = loop.check_quiet(1011.0)
    assert quiet[0]["rule"] == "quiet" and quiet[0]["severity"] == "critical"


@pytest.mark.realdata
def test_a_two_way_sport_scores_live_as_in_batch(data_root, tmp_path):
    """NBA moneylines: `odds` events with two prices, a two-way model (draw exactly 0) whose live
    predictions equal the batch ones, settlements scored with the two-way Brier and bets never on a draw."""
    from a1lab.data.oddsportal import parse_oddsportal
    from a1lab.models.xgb import XGBModel
    from a1lab.outcomes import RESULT_CODES

    path = data_root.parent / "oddsportal" / "oddsportal_nba.csv"
    if not path.is_file():
        pytest.skip(f"no {path}")
    matches = parse_oddsportal(path.read_bytes(), str(path), "basketball", "NBA").matches
    matches = matches[matches["season"].isin(["2122", "2223", "2324", "2425"])].reset_index(drop=True)
    config = feature_config(market_books=("market",), move_books=(), goal_books=(), elo_home_advantage=70.0)
    frame, _ = build_features(matches, config)
    offset = [f"mkt_market_close_p_{o}" for o in ("home", "draw", "away")]
    features = ["elo_diff", "pi_expected_gd", "home_rest_days", "away_rest_days", "mkt_market_close_overround"]
    train, val = frame[frame["season"].isin(["2122", "2223"])], frame[frame["season"] == "2324"]
    model = XGBModel(features=features, offset=offset, n_estimators=60, seed=3).fit(
        train, train["result"].map(RESULT_CODES), eval_set=(val, val["result"].map(RESULT_CODES)))
    assert model.classes_.tolist() == [0, 2]
    registry.register(model, "xgb", root=tmp_path, prediction_time="close")
    events = season_events(matches, "2425")
    assert {e["market"] for e in events if e["type"] == "odds"} == {"ml"}
    assert all(set(e["prices"]) == {"home", "away"} for e in events if e["type"] == "odds")
    _, state = build_features(matches[matches["kickoff"] < pd.Timestamp(events[0]["ts"])], config)
    loose = value_rule(min_edge=-0.03)  # at the close against its own market few edges pass the default rule
    loop = Loop([registry.load("xgb", root=tmp_path)], state, loop_config(market_book="market", value_rule=loose),
                timing="close")
    out = _feed(loop, events)
    assert not [m for m in out if isinstance(m, Rejection)]
    season = frame[frame["season"] == "2425"]
    batch = season[season["mkt_market_close_p_home"].notna()]  # the loop scores a match once its quote is in
    standing = _standing(out)
    assert len(standing) == len(batch) > 1000
    got = np.array([list(standing[m]["p"].values()) for m in batch["match_id"]])
    np.testing.assert_allclose(got, registry.load("xgb", root=tmp_path).predict_proba(batch), rtol=0, atol=1e-9)
    assert (got[:, 1] == 0).all() and all(m["market"]["p"]["draw"] == 0 for m in standing.values())
    settled = [m for m in out if isinstance(m, dict) and m["type"] == "settlement"]
    assert len(settled) == len(season)
    settled = [m for m in settled if m["match_id"] in standing]
    home_won = (batch["result"] == "H").to_numpy()
    brier = np.mean((got[:, 0] - home_won) ** 2)
    assert np.mean([s["rps"] for s in settled]) == pytest.approx(brier, abs=1e-9)
    bets = [m["value"] for m in standing.values() if m["value"]]
    assert bets and {b["outcome"] for b in bets} <= {"home", "away"}
    odds = next(e for e in events if e["type"] == "odds")
    assert "has no draw price" in parse_event({**odds, "prices": {"home": 1.5, "draw": 9.0, "away": 2.6}}).reason
    assert "needs prices.draw" in parse_event({**odds, "market": "1x2"}).reason


def test_the_registered_ensemble_scores_live_as_in_batch(live_lab, tmp_path):
    """The ensemble stage's fitted ensemble, registered (kind, state, members by version; JSON) and loaded:
    it equals its combiner on its members' batch predictions, and replaying 2025/26 through the loop with it
    gives every match its batch probabilities to 1e-9."""
    import shutil

    from a1lab.models.ensemble import WeightedAverage
    from a1lab.models.market import MarketModel
    from a1lab.outcomes import RESULT_CODES, expand

    root = tmp_path / "models"
    shutil.copytree(live_lab["registry"], root)
    frame = live_lab["frame"]
    fit_rows = frame[(frame["season"] == "2425") & frame["mkt_pinnacle_open_p_home"].notna()]
    xgb = registry.load("xgb", root=root)
    market = MarketModel("open", book="pinnacle").fit(fit_rows, fit_rows["result"].map(RESULT_CODES))
    outcomes = ("home", "draw", "away")
    wide = pd.DataFrame({**dict(zip([f"xgb_p_{o}" for o in outcomes], xgb.predict_proba(fit_rows).T, strict=True)),
                         **dict(zip([f"market_p_{o}" for o in outcomes],
                                    expand(market.predict_proba(fit_rows), [0, 1, 2]).T, strict=True))})
    combiner = WeightedAverage(members=("xgb", "market")).fit(wide, fit_rows["result"].map(RESULT_CODES).to_numpy())
    folder = registry.register_ensemble(combiner, "weighted", root=root, prediction_time="open",
                                        market={"timing": "open", "book": "pinnacle", "classes": [0, 1, 2]})
    assert json.loads((folder / "ensemble.json").read_text())["versions"] == {"xgb": "v1", "market": None}
    offset = list(xgb.estimator.offset)  # what the loop waits for: the members' features and offset, the market's
    assert offset and xgb.metadata["offset"] == offset
    assert json.loads((folder / "metadata.json").read_text())["features"] == list(dict.fromkeys(
        xgb.features + offset + ["mkt_pinnacle_open_p_home", "mkt_pinnacle_open_p_draw", "mkt_pinnacle_open_p_away"]))
    with pytest.raises(FileNotFoundError, match=r"members \['nn'\] are not registered"):
        registry.register_ensemble(WeightedAverage(members=("nn",)), "weighted", root=root)
    with pytest.raises(ValueError, match="market member"):
        registry.register_ensemble(combiner, "weighted", root=root)
    assert not list(folder.glob("*.pkl")) and not list(folder.glob("*.pickle"))
    ensemble = registry.load("ensemble", root=root)
    assert ensemble.metadata["kind"] == "weighted" and 0 < combiner.weights_[0] < 1
    np.testing.assert_allclose(ensemble.predict_proba(fit_rows), combiner.predict_proba(wide), rtol=0, atol=1e-12)

    events = live_lab["events"]
    start = pd.Timestamp(events[0]["ts"])
    _, state = build_features(live_lab["matches"][live_lab["matches"]["kickoff"] < start], live_lab["config"])
    out = _feed(Loop([ensemble], state, loop_config()), events)
    assert not [m for m in out if isinstance(m, Rejection)]
    batch = frame[frame["season"] == "2526"]
    standing = _standing(out)
    got = np.array([list(standing[m]["p"].values()) for m in batch["match_id"]])
    np.testing.assert_allclose(got, ensemble.predict_proba(batch), rtol=0, atol=1e-9)
    assert len(standing) == 741 and {m["models"][0] for m in standing.values()} == {"ensemble:v1"}
    assert all(m["shap"] for m in standing.values())  # reasons from its tree member

    meta_path = root / "xgb" / "v1" / "metadata.json"  # a member registered before the offset was recorded
    meta_path.write_text(json.dumps({k: v for k, v in xgb.metadata.items() if k != "offset"}, default=str))
    again = registry.register_ensemble(combiner, "weighted", root=root, prediction_time="open",
                                       market={"timing": "open", "book": "pinnacle", "classes": [0, 1, 2]})
    assert again.name == "v2" and (json.loads((again / "metadata.json").read_text())["features"]
                                   == json.loads((folder / "metadata.json").read_text())["features"])

    # a member weighted below 1e-15 is not evaluated: a frame without its features scores, to 1e-15 of the
    # full pool, and the reasons cannot come from it
    combiner.set_state({"weights": [1e-16, 1.0 - 1e-16]})
    registry.register_ensemble(combiner, "weighted", root=root, prediction_time="open",
                               market={"timing": "open", "book": "pinnacle", "classes": [0, 1, 2]})
    pruned = registry.load("ensemble", root=root)
    assert pruned.combiner.needed_members() == ["market"] and pruned.estimator is None
    with pytest.raises(registry.FeatureMismatchError):
        xgb.predict_proba(fit_rows.drop(columns=xgb.features[:1]))
    np.testing.assert_allclose(pruned.predict_proba(fit_rows.drop(columns=xgb.features[:1])),
                               combiner.predict_proba(wide), rtol=0, atol=1e-15)


def test_memory_is_bounded_by_the_horizon_and_old_events_cannot_count_twice(live_lab):
    """Event ids of matches settled more than horizon_days ago are forgotten; replaying old events then
    changes nothing (each is refused with a reason), and a checkpoint carries the bookkeeping."""
    events = season_events(live_lab["matches"], "2526", ["E0"])
    loop = _loop(live_lab, events, config=loop_config(horizon_days=7))
    peak = 0
    for e in events:
        loop.process(parse_event(json.dumps(e)))
        peak = max(peak, len(loop.ledger.seen))
    assert loop.counts["events"] == len(events)
    assert peak < len(events) / 3, f"{peak} ids kept of {len(events)}"
    newest = loop.ledger.last_event_time
    assert all(newest - pd.Timestamp(when) <= timedelta(days=7) for when in loop.ledger.settled.values())
    assert set(loop.ledger.seen) == {i for ids in loop.ledger.match_events.values() for i in ids}
    before = dict(loop.counts)
    out = _feed(loop, events[:300])  # fixtures, odds and results of long-settled matches, sent again
    assert loop.counts["events"] == before["events"] and loop.counts["settled"] == before["settled"]
    assert len(out) == 300 and all(isinstance(m, Rejection) and not m.dead for m in out)
    assert loop.counts["expired"] == 300 and "horizon" in out[0].reason
    restored = Loop(loop.models, loop.state, loop.config)
    restored.restore(json.loads(json.dumps(loop.to_dict())))
    assert restored.ledger.match_events == loop.ledger.match_events
    assert restored.ledger.settled == loop.ledger.settled


def test_promoted_and_relegated_clubs_score_live_as_in_batch(data_root, tmp_path):
    """England's two top divisions as one country (features.divisions): the 2024/25 season replayed live, where
    three clubs go up and three down at its start, gives the batch predictions of a model that reads the
    ratings they carry across the boundary."""
    from a1lab.data.footballdata import load_football_data
    from a1lab.data.source import FileSource
    from a1lab.models.xgb import XGBModel
    from a1lab.outcomes import RESULT_CODES

    matches = load_football_data(FileSource(str(data_root)), ["E0", "E1"], ["2122", "2223", "2324", "2425"]).matches
    config = feature_config(goal_books=(), divisions={"England": ("E0", "E1")}, home_advantage_prior_matches=380.0)
    frame, _ = build_features(matches, config)
    offset = [f"mkt_pinnacle_open_p_{o}" for o in ("home", "draw", "away")]
    features = ["home_elo", "away_elo", "elo_diff", "home_pi_home", "away_pi_away", "home_promoted", "away_promoted"]
    train, val = frame[frame["season"].isin(["2122", "2223"])], frame[frame["season"] == "2324"]
    model = XGBModel(features=features, offset=offset, n_estimators=60, seed=3).fit(
        train, train["result"].map(RESULT_CODES), eval_set=(val, val["result"].map(RESULT_CODES)))
    registry.register(model, "xgb", root=tmp_path, prediction_time="open")
    events = season_events(matches, "2425")
    _, state = build_features(matches[matches["kickoff"] < pd.Timestamp(events[0]["ts"])], config)
    loop = Loop([registry.load("xgb", root=tmp_path)], state, loop_config())
    out = _feed(loop, events)
    assert not [m for m in out if isinstance(m, Rejection)]
    season = frame[frame["season"] == "2425"]
    batch = season[season[offset].notna().all(axis=1)]
    standing = _standing(out)
    assert len(standing) == len(batch) > 900
    got = np.array([list(standing[m]["p"].values()) for m in batch["match_id"]])
    np.testing.assert_allclose(got, registry.load("xgb", root=tmp_path).predict_proba(batch), rtol=0, atol=1e-9)
    moved = {mv[0] for league in ("E0", "E1") for mv in loop.state.leagues[league].moves}
    assert {"Leicester", "Ipswich", "Southampton", "Luton", "Burnley", "Sheffield United"} <= moved


@pytest.mark.parametrize("interval, commits", [(0.0, 61), (3600.0, 1)])
def test_an_idle_source_commits_at_most_once_per_interval(live_lab, interval, commits):
    """A feed that trickles in is idle after every event: without an interval each one is a commit (the whole
    checkpoint), and one more at the end; with one, the commits between are skipped and the end commits
    everything."""
    import asyncio

    from a1lab.live.runtime import Outputs, drive
    from a1lab.live.transport import IDLE

    events = live_lab["events_e0"][:60]
    loop, done = _loop(live_lab, events), []

    async def lines():
        for e in events:
            yield json.dumps(e)
            yield IDLE

    async def commit(loop) -> None:
        done.append(loop.counts["events"])

    counts = asyncio.run(drive(loop, lines(), Outputs(), asyncio.Event(), commit, commit_interval=interval))
    assert counts["events"] == len(events) == done[-1] and len(done) == commits
