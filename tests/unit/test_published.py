"""The results tables follow from the published test forecasts alone: each data set's
``reports/predictions.parquet`` (the reference's and every model's probabilities of its test matches) rescored
gives the README's headline table and the per-division table, to the printed digit."""

import sys
from pathlib import Path

import pandas as pd
import pytest

from a1lab.columns import PRED_COLUMNS
from a1lab.metrics import compare_with_market, gap_by_group, rounded
from a1lab.outcomes import RESULT_CODES
from a1lab.params import load_params

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "pipelines"))
import docs  # noqa: E402

DATASETS = docs.datasets()


def _probs(published: pd.DataFrame, name: str):
    return published[[f"{name}_{c}" for c in PRED_COLUMNS]].to_numpy()


@pytest.mark.parametrize("metrics", [m for _, m in DATASETS], ids=[m.parent.name for _, m in DATASETS])
def test_the_tables_are_recomputed_from_the_published_forecasts(metrics):
    folder = metrics.parent
    published = pd.read_parquet(folder / "reports" / "predictions.parquet")
    params = load_params(folder / "params.yaml")
    book = params.protocol.reference
    y = published["result"].map(RESULT_CODES).to_numpy()
    at_open = f"{book}_open_p_home" in published
    p_open = _probs(published, f"{book}_open") if at_open else None
    p_close = _probs(published, f"{book}_close")
    market = {f"{book}_{timing}_p_home" for timing in ("open", "close")}
    names = [c.removesuffix("_p_home") for c in published if c.endswith("_p_home") and c not in market]
    assert names[-1] == "ensemble"
    assert not published[[f"{n}_{c}" for n in names for c in PRED_COLUMNS]].isna().any().any()
    seed = {name: params.ensemble.seed if name == "ensemble" else params.train.seed for name in names}
    overall = {name: rounded(compare_with_market(_probs(published, name), y, p_open, p_close, seed[name]))
               for name in names}
    assert list(overall) == list(docs.forecasts_overall(metrics))  # every forecast of the table is published
    kind = docs._json(metrics / "ensemble.json")["best"]
    table = docs.render_headline(book, overall["ensemble"], overall, kind, docs.seed_spreads(metrics))
    assert table == docs.headline_table(metrics)
    assert table in (ROOT / "README.md").read_text()
    by_league = docs._json(metrics / "ensemble.json").get("by_league")
    if by_league:
        forecasts = {(f"ensemble ({kind})" if n == "ensemble" else n): _probs(published, n) for n in names}
        assert rounded(gap_by_group(forecasts, p_open, p_close, y, published["league"].to_numpy())) == by_league
