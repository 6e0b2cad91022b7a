"""Fan-out on a real Dask LocalCluster of two worker processes: the serial run's results, also when a worker
is killed mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest

from a1lab.compute import client, run_tasks
from a1lab.models.lgbm import LGBMModel
from a1lab.models.xgb import XGBModel
from a1lab.params import ComputeParams
from a1lab.splits import WalkForwardSplit
from a1lab.testing import feature_config
from a1lab.training import model_factory, walk_forward
from a1lab.tuning import tune


@pytest.fixture(scope="module")
def cluster():
    with client(ComputeParams(scheduler="local", workers=2, threads_per_worker=1, memory_limit="auto")) as c:
        yield c


def _common(lab) -> dict:
    return {"features": lab["features"][::8], "offset": lab["offset"], "seed": 5}


def _predictions(results) -> pd.DataFrame:
    return pd.concat([r.predictions for r in results], ignore_index=True)


@pytest.mark.parametrize("estimator, hyper", [(XGBModel, {"n_estimators": 60, "early_stopping_rounds": 10}),
                                              (LGBMModel, {"n_estimators": 60, "early_stopping_rounds": 10})])
def test_walk_forward_on_dask_equals_the_serial_run(live_lab, cluster, estimator, hyper):
    frame = live_lab["frame"]
    make = model_factory(estimator, hyper, **_common(live_lab))
    split = WalkForwardSplit(("2223", "2324", "2425"))
    serial = walk_forward(frame, make, split, timings=("open",))
    fanned = walk_forward(frame, make, split, timings=("open",), dask_client=cluster)
    assert [r.name for r in fanned] == [r.name for r in serial]
    pd.testing.assert_frame_equal(_predictions(fanned), _predictions(serial), check_exact=True)


def test_tuning_on_dask_equals_the_serial_search(live_lab, cluster):
    frame = live_lab["frame"]
    space = {"max_depth": {"type": "int", "low": 2, "high": 4}}
    args = dict(base={"n_estimators": 40, "max_depth": 3, "early_stopping_rounds": 10}, space=space,
                first_test="2324", common=_common(live_lab), trials=4, inner=1, seed=2, batch=2, timings=("open",))
    assert tune(frame, XGBModel, dask_client=cluster, **args) == tune(frame, XGBModel, **args)


def _slow_square(x: int, pause: float) -> int:
    time.sleep(pause)
    return x * x


def test_a_worker_killed_mid_run_is_replaced_and_its_tasks_rerun(cluster):
    pids = cluster.run(os.getpid)
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(out=run_tasks(_slow_square, list(range(8)), cluster,
                                                                          shared={"pause": 1.5})))
    worker.start()
    deadline = time.monotonic() + 60
    while not any(cluster.processing().values()):
        assert time.monotonic() < deadline, "no task started"
        time.sleep(0.05)
    busy = next(address for address, tasks in cluster.processing().items() if tasks)
    os.kill(pids[busy], signal.SIGKILL)  # the worker process dies with its task in hand
    worker.join(timeout=120)
    assert result["out"] == [x * x for x in range(8)]
    cluster.wait_for_workers(2, timeout=60)
    assert set(cluster.run(os.getpid).values()).isdisjoint({pids[busy]}), "the killed worker was not replaced"


def test_xgboost_dask_on_the_workers_is_close_to_a_single_process_fit(live_lab, cluster):
    """Identical: the rows, labels, market offset, hyper-parameters and early stopping. Only close: the trees,
    because each worker sketches the histogram bins of its own partition."""
    frame = live_lab["frame"]
    train, val = frame[frame["season"].isin(["2021", "2122"])], frame[frame["season"] == "2223"]
    test = frame[frame["season"] == "2324"]
    y = lambda f: f["result"].map({"H": 0, "D": 1, "A": 2}).to_numpy()  # noqa: E731
    args = {"n_estimators": 80, "early_stopping_rounds": 10, **_common(live_lab)}
    single = XGBModel(**args).fit(train, y(train), eval_set=(val, y(val)))
    spread = XGBModel(distributed=True, **args).fit(train, y(train), eval_set=(val, y(val)))
    p, q = single.predict_proba(test), spread.predict_proba(test)
    assert abs(p - q).max() < 0.03 and abs(p - q).mean() < 0.003, (abs(p - q).max(), abs(p - q).mean())
    assert not np.array_equal(p, q)  # if it ever became identical, the docstring above is wrong
    assert spread.booster_.num_boosted_rounds() > 0 and spread.features_ == single.features_
    code = ("import numpy as np; from a1lab.models.xgb import XGBModel; "
            "XGBModel(distributed=True, n_estimators=2).fit(np.random.rand(30, 2), np.arange(30) % 3)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "ValueError" in out.stderr  # without a Dask client: refused, not run serially


def test_feature_build_with_leagues_on_dask_equals_the_serial_build(synthetic, cluster):
    from a1lab.features import build_features

    serial, state = build_features(synthetic.matches, feature_config(goal_books=()))
    fanned, fanned_state = build_features(synthetic.matches, feature_config(goal_books=()), dask_client=cluster)
    pd.testing.assert_frame_equal(fanned, serial, check_exact=True)
    assert fanned_state.to_dict() == state.to_dict()


def test_the_network_trains_data_parallel_on_two_cpu_processes(synthetic):
    """Lightning's DDP (spawned processes, gloo): the same network, data and seed; forecasts as good as one
    process's, not equal (each process sees half of every epoch, so an epoch is half the steps)."""
    from a1lab.features import build_features
    from a1lab.metrics import log_loss
    from a1lab.models.nn import LightningMLP
    from a1lab.outcomes import RESULT_CODES

    frame, _ = build_features(synthetic.matches, feature_config(goal_books=()))
    columns = [c for c in frame.columns[7:] if not c.startswith("mkt_")][:30]
    y = frame["result"].map(RESULT_CODES).to_numpy()
    fit, val, test = slice(0, 1200), slice(1200, 1500), slice(1500, None)
    args = {"features": columns, "max_epochs": 30, "lr": 0.01, "seed": 1}
    one = LightningMLP(**args).fit(frame.iloc[fit], y[fit], eval_set=(frame.iloc[val], y[val]))
    two = LightningMLP(processes=2, **args).fit(frame.iloc[fit], y[fit], eval_set=(frame.iloc[val], y[val]))
    p, q = one.predict_proba(frame.iloc[test]), two.predict_proba(frame.iloc[test])
    assert np.allclose(q.sum(axis=1), 1.0) and not np.array_equal(p, q)
    base = np.tile(np.bincount(y[fit], minlength=3) / len(y[fit]), (len(q), 1))
    loss = {name: log_loss(r, y[test]) for name, r in (("one", p), ("two", q), ("base rates", base))}
    assert loss["two"] < loss["base rates"] - 0.01 and abs(loss["two"] - loss["one"]) < 0.04, loss


def test_research_variants_on_dask_equal_the_serial_run(live_lab, cluster):
    """Issue 17's variants fan out as (variant, model) tasks: the same rows as one after another."""
    from a1lab.research import apply_overrides, choose, score_variant

    params = {"protocol": {"test_seasons": ["2425"], "oos_seasons": ["2324"], "prediction_time": "open",
                           "reference": "pinnacle"},
              "train": {"offset": "pinnacle", "seed": 5, "window_seasons": 0, "target_close": 0.0},
              "backtest": {"min_edge": 0.02, "min_prob": 0.05, "max_prob": 0.95, "max_odds": 15.0},
              "models": {"xgb": {"estimator": "XGBModel", "n_estimators": 40, "early_stopping_rounds": 10},
                         "lgbm": {"estimator": "LGBMModel", "n_estimators": 40, "early_stopping_rounds": 10}}}
    frames = {"f": (live_lab["frame"], {"open": live_lab["features"][::8]})}
    variants = {"base": {}, "close": {"train.target_close": 0.5}, "window": {"train.window_seasons": 3}}
    items = [{"variant": v, "model": m, "overrides": o, "params": apply_overrides(params, o), "frame": "f"}
             for v, o in variants.items() for m in ("xgb", "lgbm")]
    shared = {"frames": frames, "matches": live_lab["matches"]}
    serial = pd.DataFrame(run_tasks(score_variant, items, shared=shared))
    fanned = pd.DataFrame(run_tasks(score_variant, items, cluster, shared=shared))
    for a, b in zip(fanned.pop("oos_losses"), serial["oos_losses"], strict=True):
        pd.testing.assert_series_equal(a, b, check_exact=True)
    pd.testing.assert_frame_equal(fanned, serial.drop(columns="oos_losses"), check_exact=True)
    assert serial["test_n"].gt(1000).all() and serial["oos_rps"].nunique() == 6  # every variant changed something
    assert choose(serial, 200, 0)["chosen"].sum() == 2
