"""Estimators (scikit-learn contract), the market offset, determinism, the registry, SHAP."""

import inspect
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_estimator

from a1lab import registry
from a1lab.calibration import Identity, TemperatureScaling
from a1lab.data.synthetic import LeagueSpec, simulate_league
from a1lab.explain import explain_folds, permutation_shap, swarm_offsets, top_contributions, tree_shap_values
from a1lab.features import build_features, feature_set
from a1lab.metrics import log_loss, rank_probability_score
from a1lab.models.base import proba_and_contributions
from a1lab.models.lgbm import LGBMModel
from a1lab.models.market import MarketModel, market_columns
from a1lab.models.nn import LightningMLP
from a1lab.models.ratings import RatingsLogit
from a1lab.models.xgb import XGBModel
from a1lab.outcomes import RESULT_CODES
from a1lab.splits import WalkForwardSplit
from a1lab.testing import feature_config
from a1lab.training import evaluate, model_factory, seed_spread, walk_forward

FEATURES = ["elo_diff", "pi_expected_gd", "home_goals_for_ewm15_all", "away_goals_for_ewm15_all",
            "home_points_mean10_all", "away_points_mean10_all", "home_sot_for_ewm15_all", "away_sot_for_ewm15_all"]
OFFSET = market_columns("pinnacle", "open")


@pytest.mark.parametrize("estimator", [
    XGBModel(n_estimators=20), RatingsLogit(features=None),
    LightningMLP(max_epochs=50, hidden=(32,), lr=0.01, dropout=0.0), LGBMModel(n_estimators=20, min_child_samples=2),
], ids=["xgb", "ratings", "nn", "lgbm"])
def test_scikit_learn_estimator_checks(estimator):
    check_estimator(estimator)


@pytest.fixture(scope="module")
def league():
    sim = simulate_league(LeagueSpec(leagues=3, seasons=5, seed=31))
    frame, _ = build_features(sim.matches, feature_config(goal_books=()))
    truth = sim.matches.set_index("match_id")[["true_prob_home", "true_prob_draw", "true_prob_away"]]
    return frame, truth


def split(frame):
    y = frame["result"].map(RESULT_CODES).to_numpy()
    tr, va, te = (frame["season"] < "1819").to_numpy(), (frame["season"] == "1819").to_numpy(), \
        (frame["season"] == "1920").to_numpy()
    return frame[tr], y[tr], frame[va], y[va], frame[te], y[te]


def test_models_learn_toward_the_truth(league):
    frame, truth = league
    xtr, ytr, xva, yva, xte, yte = split(frame)
    p_truth = truth.loc[xte["match_id"]].to_numpy()
    rates = np.tile(np.bincount(ytr) / len(ytr), (len(yte), 1))
    fitted = {
        "xgb": XGBModel(features=FEATURES, seed=1).fit(xtr, ytr, eval_set=(xva, yva)),
        "nn": LightningMLP(features=FEATURES, seed=1, max_epochs=15).fit(xtr, ytr, eval_set=(xva, yva)),
        "ratings": RatingsLogit().fit(xtr, ytr),
        "market": MarketModel().fit(xtr, ytr),
        "lgbm": LGBMModel(features=FEATURES, seed=1).fit(xtr, ytr, eval_set=(xva, yva)),
    }
    for name, model in fitted.items():
        p = model.predict_proba(xte)
        assert p.shape == (len(yte), 3) and np.allclose(p.sum(axis=1), 1.0), name
        assert rank_probability_score(p, yte) < rank_probability_score(rates, yte), name
        # within reach of the truth (which no model can beat in expectation)
        assert rank_probability_score(p, yte) < rank_probability_score(p_truth, yte) + 0.01, name
        assert list(model.classes_) == [0, 1, 2]


def test_a_small_batch_is_predicted_in_one_thread(league):
    """One row (a live scoring) in one thread: XGBoost's idle OpenMP threads spin, and beside busy processes they
    cost the scoring tens of milliseconds; a large batch uses ``n_jobs``; the probabilities do not change."""
    frame, _ = league
    xtr, ytr, _, _, xte, _ = split(frame)
    model = XGBModel(features=FEATURES, n_estimators=20, n_jobs=2).fit(xtr, ytr)

    def threads():
        return json.loads(model.booster_.save_config())["learner"]["generic_param"]["nthread"]

    whole = model.predict_proba(xte)
    assert len(xte) > 256 and threads() == "2"
    one, (p, _) = model.predict_proba(xte[:1]), model.proba_and_contributions(xte[:1])
    assert threads() == "1"
    np.testing.assert_array_equal(one[0], whole[0])
    np.testing.assert_array_equal(p[0], whole[0])


def test_offset_starts_from_the_market(league):
    frame, _ = league
    xtr, ytr, xva, yva, xte, _ = split(frame)
    market = MarketModel().fit(xtr, ytr).predict_proba(xte)
    for cls in (XGBModel, LGBMModel):
        model = cls(features=FEATURES, offset=OFFSET, n_estimators=1, learning_rate=1e-9).fit(xtr, ytr)
        np.testing.assert_allclose(model.predict_proba(xte), market, atol=1e-5, err_msg=cls.__name__)
    # and the trees' SHAP values add up to their part of the logit: the offset is outside them
    model = LGBMModel(features=FEATURES, offset=OFFSET, n_estimators=30).fit(xtr, ytr)
    logit = np.log(model.predict_proba(xte)) - np.log(market)
    parts = model.contributions(xte).sum(axis=2)
    np.testing.assert_allclose(logit - logit.mean(axis=1, keepdims=True),
                               parts - parts.mean(axis=1, keepdims=True), atol=1e-6)


def test_network_is_deterministic(league):
    frame, _ = league
    xtr, ytr, xva, yva, xte, _ = split(frame)
    a = LightningMLP(features=FEATURES, seed=7, max_epochs=3).fit(xtr, ytr, eval_set=(xva, yva))
    b = clone(a).fit(xtr, ytr, eval_set=(xva, yva))
    np.testing.assert_array_equal(a.predict_proba(xte), b.predict_proba(xte))


def test_a_network_of_several_seeds_forecasts_their_mean_and_its_folds_report_each_seeds_score(league, tmp_path):
    frame, _ = league
    xtr, ytr, xva, yva, xte, _ = split(frame)
    one = LightningMLP(features=FEATURES, seed=7, max_epochs=3).fit(xtr, ytr, eval_set=(xva, yva))
    three = clone(one).set_params(seeds=3).fit(xtr, ytr, eval_set=(xva, yva))
    each = three.predict_proba_each(xte)
    assert each.shape == (3, len(xte), 3)
    np.testing.assert_array_equal(each[0], one.predict_proba(xte))  # its first network is the one-seed model
    assert not np.array_equal(each[0], each[1])  # the others are other networks
    np.testing.assert_allclose(three.predict_proba(xte), each.mean(axis=0), atol=1e-15)
    three.save(tmp_path)
    np.testing.assert_array_equal(LightningMLP.load(tmp_path).predict_proba_each(xte), each)
    with pytest.raises(ValueError, match="seeds must be 1 or more"):
        clone(one).set_params(seeds=0).fit(xtr, ytr)
    splitter = WalkForwardSplit(("1819", "1920"))
    results = walk_forward(frame, lambda: LightningMLP(features=FEATURES, offset=OFFSET, seed=7, seeds=3,
                                                         max_epochs=3), splitter)
    spread = seed_spread(results, frame, ["1819", "1920"])
    pred = pd.concat([r.predictions for r in results])
    y = pred["result"].map(RESULT_CODES).to_numpy()
    assert spread["seeds"] == 3 and len(spread["rps"]) == 3 and spread["rps_sd"] > 0
    seed_one = [r.calibrator.transform(r.model.predict_proba_each(frame.set_index("match_id").loc[
        r.predictions["match_id"]])[1]) for r in results]
    assert spread["rps"][1] == pytest.approx(rank_probability_score(np.concatenate(seed_one), y), abs=1e-6)
    assert min(spread["rps"]) - 1e-6 <= spread["rps_mean"] <= max(spread["rps"]) + 1e-6
    assert len(spread["open_close_gap_closed"]) == 3
    single = walk_forward(frame, lambda: LightningMLP(features=FEATURES, seed=7, max_epochs=2), splitter)
    assert seed_spread(single, frame, ["1819", "1920"]) is None


def test_every_model_module_is_found():
    assert {"XGBModel", "LGBMModel", "LightningMLP", "RatingsLogit", "MarketModel"} <= set(
        registry.estimator_classes())


def test_one_model_class_is_found_without_importing_the_others():
    import subprocess
    import sys

    for name, cls in registry.estimator_classes().items():
        assert registry.estimator_class(name) is cls
    with pytest.raises(KeyError, match="known: .*XGBModel"):
        registry.estimator_class("NoSuchModel")
    code = ("import sys; from a1lab import registry; registry.estimator_class('XGBModel'); "
            "print(sorted(m for m in ('torch', 'lightgbm', 'pytorch_lightning') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"  # a tree stage does not pay for importing torch and Lightning


@pytest.mark.parametrize("name", sorted(registry.estimator_classes()))
def test_registry_round_trip(league, tmp_path, name):
    """Every model of a1lab.models (found, not listed) saves, loads and predicts the same."""
    frame, _ = league
    xtr, ytr, _, _, xte, _ = split(frame)
    cls = registry.estimator_classes()[name]
    accepted = inspect.signature(cls).parameters
    data = {k: v for k, v in {"features": FEATURES, "offset": OFFSET}.items() if k in accepted}
    model = cls(**data, **cls.get_test_params()).fit(xtr, ytr)
    features = getattr(model, "features_", list(OFFSET))
    cal = TemperatureScaling(1.3)
    folder = registry.register(model, "m", root=tmp_path, calibrator=cal, features=features,
                               training_seasons=["1516"], data_hash=registry.data_hash(xtr[features]))
    assert folder.name == "v1"
    meta = json.loads((folder / "metadata.json").read_text())
    assert {"version", "created", "data_hash", "features", "training_seasons", "libraries", "git_commit",
            "source_hash"} <= set(meta)
    assert not list(folder.glob("*.pkl")) and not list(folder.glob("*.pickle"))
    # as `dvc repro` registers: the same model gives the same bytes (no clock, no commit), so a rerun or a
    # fresh clone's run leaves dvc.lock as it was
    twins = [registry.register(model, "m", root=tmp_path / f"twin{i}", calibrator=cal, features=features,
                               reproducible=True) for i in range(2)]
    files = [{p.name: p.read_bytes() for p in twin.iterdir()} for twin in twins]
    assert files[0] == files[1] and len(files[0]) >= 3
    assert not {"created", "git_commit"} & set(json.loads(files[0]["metadata.json"]))
    loaded = registry.load("m", root=tmp_path)
    np.testing.assert_allclose(loaded.predict_proba(xte), cal.transform(model.predict_proba(xte)), atol=1e-12)
    registry.register(model, "m", root=tmp_path, features=features)
    assert registry.versions("m", root=tmp_path) == ["v1", "v2"]
    assert registry.load("m", "v1", root=tmp_path).metadata["version"] == "v1"
    with pytest.raises(registry.FeatureMismatchError, match="lacks"):
        loaded.predict_proba(xte.drop(columns=[features[0]]))
    with pytest.raises(FileNotFoundError):
        registry.load("m", "v9", root=tmp_path)


def test_explanations(league):
    frame, _ = league
    xtr, ytr, xva, yva, xte, _ = split(frame)
    model = XGBModel(features=FEATURES, n_estimators=50).fit(xtr, ytr)
    contribs = model.contributions(xte)
    raw_margin = contribs.sum(axis=2)  # SHAP values plus bias add up to the margin
    p = np.exp(raw_margin) / np.exp(raw_margin).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p, model.predict_proba(xte), atol=1e-5)
    tops = top_contributions(contribs, xte[FEATURES], p.argmax(axis=1), k=3)
    first = json.loads(tops[0])
    assert len(first) == 3 and first[0]["feature"] in FEATURES
    assert abs(first[0]["contribution"]) >= abs(first[-1]["contribution"])
    assert tree_shap_values(model, xte).shape == (len(xte), len(FEATURES), 3)
    values = permutation_shap(model.predict_proba, xte[FEATURES].head(5), xva[FEATURES].head(20))
    assert values.shape == (5, 3, len(FEATURES))


@pytest.mark.parametrize("cls", [XGBModel, LGBMModel])
def test_proba_and_contributions_are_the_two_apart(league, cls):
    frame, _ = league  # the live loop takes both from one pass: the same bits as the two calls, one row or many
    xtr, ytr, _, _, xte, _ = split(frame)
    model = cls(features=FEATURES, offset=OFFSET, n_estimators=30).fit(xtr, ytr)
    for rows in (xte.head(1), xte):
        proba, contributions = proba_and_contributions(model, rows)
        np.testing.assert_array_equal(proba, model.predict_proba(rows))
        np.testing.assert_array_equal(contributions, model.contributions(rows))

    class OwnModel:  # a model of its own with SHAP values but no shared pass: the registry asks twice
        classes_, predict_proba, contributions = model.classes_, model.predict_proba, model.contributions

    registered = registry.RegisteredModel(OwnModel(), Identity(),
                                          {"name": "own", "version": "v1", "features": [*FEATURES, *OFFSET]})
    proba, contributions = registered.proba_and_contributions(xte)
    np.testing.assert_array_equal(proba, registered.predict_proba(xte))
    np.testing.assert_array_equal(contributions, model.contributions(xte))


def test_walk_forward_and_evaluation(league):
    frame, _ = league
    splitter = WalkForwardSplit(("1819", "1920"))
    results = walk_forward(frame, lambda: XGBModel(features=FEATURES, n_estimators=40), splitter)
    assert [r.validation_season for r in results] == ["1718", "1819"]
    pred = pd.concat([r.predictions for r in results])
    m = evaluate(pred, frame)
    assert m["overall"]["n"] == len(pred) == (frame["season"] >= "1819").sum()
    assert set(m["by_season"]) == {"1819", "1920"}
    assert {"rps", "logloss", "brier", "accuracy", "ece", "market_open", "market_close", "rps_ratio_open",
            "rps_ratio_close", "rps_diff_close_ci95"} <= set(m["overall"])
    assert log_loss(pred[["p_home", "p_draw", "p_away"]].to_numpy(), pred["result"].map(RESULT_CODES)) < 1.1
    assert m["reference"] == {"book": "pinnacle", "timings": ["open", "close"], "n": len(pred)}
    with pytest.raises(ValueError, match=f"{len(pred)} predictions are of matches without avg open and close prices"):
        evaluate(pred, frame, reference="avg")  # the synthetic league quotes no market average


def test_the_calibration_method_is_chosen_once_on_the_out_of_sample_folds_pooled(league):
    """Every fold takes the method chosen on the folds named (before the scored ones) pooled; the scored
    season's results play no part in the choice."""
    frame, _ = league
    splitter = WalkForwardSplit(("1718", "1819", "1920"))
    make = lambda: XGBModel(features=FEATURES, n_estimators=40)  # noqa: E731
    results = walk_forward(frame, make, splitter, calibrate_on=("1718", "1819"))
    choice = results[0].extra["calibration"]
    assert choice["seasons"] == ["1718", "1819"] and list(choice["scores"]) == ["none", "temperature", "isotonic"]
    assert all(r.extra["calibration"] == choice and r.calibrator.to_dict()["method"] == choice["method"]
               for r in results)
    beaten = [m for m, v in choice["scores"].items() if v["ci95"][1] < 0]
    assert choice["method"] == (min(beaten, key=lambda m: choice["scores"][m]["mean"]) if beaten else "none")
    flipped = frame.copy()
    last = flipped["season"] == "1920"
    flipped.loc[last, "result"] = flipped.loc[last, "result"].map({"H": "A", "A": "D", "D": "H"})
    again = walk_forward(flipped, make, splitter, calibrate_on=("1718", "1819"))
    assert again[0].extra["calibration"] == choice
    pd.testing.assert_frame_equal(again[1].predictions, results[1].predictions)
    with pytest.raises(ValueError, match="no fold forecasts"):
        walk_forward(frame, make, splitter, calibrate_on=("1516",))


def test_the_market_never_falls_back_to_base_rates(league):
    """Before: rows without a quote silently got the base rates, and 'the market' scored as base rates."""
    frame, _ = league
    xtr, ytr, *_ = split(frame)
    rows = frame.head(10).copy()
    rows.loc[rows.index[:3], list(OFFSET) + list(market_columns("avg", "open"))] = np.nan
    with pytest.raises(ValueError, match="3 of 10 rows have no pinnacle or avg open quote"):
        MarketModel().fit(xtr, ytr).predict_proba(rows)
    with pytest.raises(ValueError, match=r"reference bookmaker 'betfair' \(protocol.reference\) has no market"):
        walk_forward(frame, lambda: MarketModel(), WalkForwardSplit(("1920",)), reference="betfair")
    closing_only = frame.copy()  # the extra leagues' shape: no opening prices at all
    closing_only[[c for c in closing_only if c.startswith("mkt_") and "_open" in c]] = np.nan
    with pytest.raises(ValueError, match=r"no match has pinnacle open and close prices .*prediction_time: close\)"):
        walk_forward(closing_only, lambda: MarketModel("close"), WalkForwardSplit(("1920",)))
    results = walk_forward(closing_only, lambda: MarketModel("close"), WalkForwardSplit(("1920",)), timings=("close",))
    m = evaluate(results[0].predictions, closing_only, timings=("close",))
    assert m["reference"]["timings"] == ["close"] and "market_open" not in m["overall"]
    assert m["overall"]["rps_ratio_close"] == pytest.approx(1.0, abs=1e-3)  # the close forecasting itself (calibrated)
    no_prices = frame.copy()
    no_prices.loc[no_prices["season"] == "1920", list(market_columns("pinnacle", "close"))] = np.nan
    with pytest.raises(ValueError, match="test season 1920: no match has pinnacle open and close prices"):
        walk_forward(no_prices, lambda: MarketModel(), WalkForwardSplit(("1920",)))


def test_walk_forward_refuses_a_shuffled_splitter(league):
    from sklearn.model_selection import KFold

    from a1lab.splits import LeakageError

    with pytest.raises(LeakageError):
        walk_forward(league[0], lambda: MarketModel(), KFold(3, shuffle=True, random_state=0))


def test_swarm_offsets_stack_equal_values_and_leave_lone_values_on_the_line():
    values = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0])  # five in one bin, two alone
    y = swarm_offsets(values, bins=10, height=0.4)
    assert np.all(y[5:] == 0.0) and y[0] == 0.0
    assert sorted(np.sign(y[1:5])) == [-1, -1, 1, 1] and np.abs(y).max() == pytest.approx(0.36)
    assert len(set(np.round(y[:5], 9))) == 5  # no two of a bin share a place


def test_open_models_never_see_closing_columns():
    open_set = feature_set(feature_config(goal_books=()), "open")
    assert all("close" not in c for c in open_set) and all(c in open_set for c in OFFSET)


@pytest.mark.parametrize("cls, hyper", [(XGBModel, {"n_estimators": 20}), (RatingsLogit, {})], ids=["tree", "other"])
def test_every_model_is_trained_and_explained_by_the_same_code(league, tmp_path, cls, hyper):
    """The training notebook's path: common arguments a model does not take are left out, early stopping
    only where fit takes a validation set, tree SHAP for every prediction, else a permutation sample."""
    frame, _ = league
    make = model_factory(cls, hyper, features=FEATURES, offset=OFFSET, seed=3)
    results = walk_forward(frame, make, WalkForwardSplit(("1819", "1920")))
    paths = explain_folds(results, frame, top_k=3, sample=7, seed=3, folder=tmp_path, prefix="m", plot_rows=100)
    assert [p.name for p in paths] == ["m_shap_home.png", "m_shap_draw.png", "m_shap_away.png"]
    explained = pd.concat([r.predictions for r in results])["top_features"].dropna()
    assert len(explained) == (sum(len(r.predictions) for r in results) if cls is XGBModel else 7)
    top = json.loads(explained.iloc[0])
    assert len(top) == 3 and {t["feature"] for t in top} <= set(FEATURES) | set(OFFSET)
    if cls is RatingsLogit:
        assert "seed" not in make().get_params()


def test_a_missing_reference_lists_bookmakers_with_underscores_whole():
    """Before: the message split column names on "_" and listed 'betfair' for betfair_exchange."""
    from a1lab.training import has_market

    frame = pd.DataFrame(columns=["mkt_betfair_exchange_open_p_home", "mkt_avg_close_p_home"])
    with pytest.raises(ValueError, match=r"the features have: \['avg', 'betfair_exchange'\]"):
        has_market(frame, "pinnacle")


def test_test_matches_without_the_reference_price_are_counted_not_dropped_silently(league):
    """Before: rows of a test season without the reference's prices were left out of scoring and no file
    said how many. The metrics now count them, by reason."""
    from a1lab.training import protocol_walk_forward

    frame, _ = league
    frame = frame.copy()
    gone = frame.index[(frame["season"] == "1920").to_numpy()][:28]
    frame.loc[gone, list(market_columns("pinnacle", "close"))] = np.nan
    protocol = {"oos_seasons": ["1819"], "test_seasons": ["1920"], "prediction_time": "open", "reference": "pinnacle"}
    train = {"window_seasons": 0, "seed": 1, "offset": "", "target_close": 0.0}
    _, metrics = protocol_walk_forward(frame, MarketModel, {}, FEATURES, train, protocol)
    total = int((frame["season"] == "1920").sum())
    assert metrics["left_out"] == {"matches": total, "scored": total - 28,
                                   "reasons": {"no pinnacle open and close prices": 28}}
    assert metrics["overall"]["n"] == total - 28


def test_every_model_declares_what_it_requires_and_the_project_installs_it():
    """``requires`` names distributions the project depends on (pyproject.toml), so a model never imports a
    library the install leaves out; ``label`` and ``search_space`` are literals read without importing it."""
    import re
    import tomllib
    from pathlib import Path

    from a1lab.models import declared, estimator_classes

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    installed = {re.split(r"[=<>\[ ;]", d)[0].lower() for d in project["dependencies"]}
    for name, cls in estimator_classes().items():
        assert set(declared(name, "requires", ())) <= installed, name
        assert declared(name, "label", None) in (None, getattr(cls, "label", None))
        assert declared(name, "search_space", {}) == getattr(cls, "search_space", {})
