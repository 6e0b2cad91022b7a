"""`make exp`: the workspace's experiments in one table of at most 120 columns."""

import copy
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "pipelines"))
import experiments  # noqa: E402


def _commit(name: str, depth: int, rps: float, extra_params: int = 0) -> dict:
    """One entry of `dvc exp show --json` as DVC writes it: the root's params and headline metrics, and a
    data set folder's, whose keys must not leak into the table."""
    params = {"models": {"xgb": {"max_depth": depth, "learning_rate": 0.02}}, "train": {"seed": 20240801}}
    headline = {f"metrics/headline/{m}.json": {"data": {"n": 3504, "rps": rps + i / 1e4, "logloss": 0.95}}
                for i, m in enumerate(["xgb", "nn", "lgbm", "market_fix", "ensemble"])}
    headline["metrics/headline/ensemble.json"]["data"]["open_close_gap_closed"] = 0.194
    headline["datasets/nba/metrics/headline/xgb.json"] = {"data": {"rps": 0.2}}
    return {"rev": name, "name": None, "data": {"params": {"params.yaml": {"data": params},
                                                          "datasets/nba/params.yaml": {"data": {"x": extra_params}}},
                                               "metrics": headline}}


def test_the_table_fits_120_columns_with_every_model_and_the_params_that_differ():
    workspace, main = _commit("workspace", 3, 0.190835), _commit("a1b2c3d4e5", 3, 0.190835)
    main["name"] = "main"
    deeper = copy.deepcopy(_commit("f00ba4", 6, 0.190500, extra_params=1))
    main["experiments"] = [{"name": "deeper", "revs": [{**deeper, "name": "deeper"}]}]
    text = experiments.table(experiments.rows([workspace, main]))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 120
    assert lines[0].split()[:6] == ["experiment", "xgb", "nn", "lgbm", "market_fi", "ensemble"]
    assert [line.split()[0] for line in lines[2:5]] == ["workspace", "main", "deeper"]
    assert lines[4].split()[1] == "0.190500" and "models.xgb.max_depth=6" in lines[4]
    assert "models.xgb.max_depth=3" in lines[2] and "learning_rate" not in text and "19.4" in lines[3]
    assert text.endswith("1 params differ")


def test_the_command_reads_a_saved_json(tmp_path, capsys):
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps([_commit("workspace", 3, 0.19)]))
    assert experiments.main(["--json", str(saved)]) == 0
    assert "workspace" in capsys.readouterr().out
