"""Column names are spelled once (a1lab.columns) and parse back to the quotes each market feature reads."""

from __future__ import annotations

import numpy as np
import pandas as pd

from a1lab.columns import ODDS_COLUMN, odds_column, quote_columns, quotes_behind
from a1lab.features.market import market_features
from a1lab.features.registry import all_specs
from a1lab.testing import feature_config

BOOKS = ("pinnacle", "avg", "max", "bet365")


def _quotes() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    cols = {c: rng.uniform(1.5, 6.0, 4) for b in BOOKS for t in ("open", "close") for c in quote_columns(b, t)}
    return pd.DataFrame(cols)


def test_each_market_feature_reads_exactly_the_quotes_its_name_says():
    quotes = _quotes()
    base = market_features(quotes, feature_config(goal_books=()))
    market = [s.name for s in all_specs(feature_config(goal_books=())) if s.group == "market"]
    assert list(base.columns) == market
    for name in market:
        need = quotes_behind(name)
        assert need, name
        for book in BOOKS:
            for timing in ("open", "close"):
                gone = quotes.copy()
                gone[quote_columns(book, timing)] = np.nan
                moved = market_features(gone, feature_config(goal_books=()))[name].isna().all()
                assert moved == ((book, timing) in need), (name, book, timing)


def test_the_market_features_follow_the_configured_bookmakers():
    """Bookmakers are configuration (features.market_books / move_books), not names in the code."""
    config = feature_config(market_books=("bet365",), move_books=("bet365",), goal_books=())
    features = market_features(_quotes(), config)
    assert list(features.columns) == [s.name for s in all_specs(config) if s.group == "market"]
    assert {quotes_behind(c) and next(iter(quotes_behind(c)))[0] for c in features if "disagreement" not in c} == {
        "bet365"}
    assert not [c for c in features if "pinnacle" in c] and features.notna().all().all()


def test_odds_names_round_trip_and_other_columns_need_no_quote():
    name = odds_column("betfair_exchange", "1x2", "close", "draw")
    m = ODDS_COLUMN.match(name)
    assert (m["book"], m["market"], m["timing"], m["outcome"]) == ("betfair_exchange", "1x2", "close", "draw")
    assert quotes_behind("home_elo") == set() and quotes_behind("mkt_pinnacle_open_p_home_x") == set()


def test_open_market_features_alone_equal_those_of_both_timings():
    """The live loop asks an `open` forecast's market features for the open timing only: the same values, and
    no closing or open-to-close column."""
    from a1lab.features.market import market_feature_values

    config = feature_config(goal_books=("avg",))
    both, opened = market_feature_values(_quotes(), config), market_feature_values(_quotes(), config, ("open",))
    assert set(opened) == {c for c in both if "close" not in c and "_move_" not in c} and len(opened) < len(both)
    for name, values in opened.items():
        np.testing.assert_array_equal(values, both[name])
