"""Scoring matches in the live loop: the quotes a model needs, its features as the batch table has them, its
probabilities, the market's, the value bet and the reasons (top SHAP contributions)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import numpy as np

from a1lab.betting import value_bet_arrays
from a1lab.columns import ah_line_column, odds_column, quote_columns, quotes_behind
from a1lab.explain import top_contribution_rows
from a1lab.features.market import market_feature_values
from a1lab.features.registry import all_specs
from a1lab.features.state import FeatureState
from a1lab.live.events import MARKET_OUTCOMES
from a1lab.matrix import FeatureMatrix
from a1lab.odds import remove_margin
from a1lab.outcomes import OUTCOMES, TWO_WAY


def required_quotes(columns: list[str]) -> set[tuple[str, ...]]:
    """The quotes the given market feature columns are computed from (:func:`a1lab.columns.quotes_behind`):
    (bookmaker, timing) of 1X2 or moneyline quotes, (bookmaker, timing, market) of ``ou25`` and ``ah`` ones."""
    return set().union(*(quotes_behind(c) for c in columns))


def quote_key(book: str, timing: str, market: str) -> tuple[str, ...]:
    """How :func:`required_quotes` names a quote: a 1X2 or moneyline quote by (book, timing), the others
    with their market too. A match stores each quote under these parts joined by ``/``."""
    return (book, timing) if market in ("1x2", "ml") else (book, timing, market)


def fair_quote(quote: list, method: str) -> np.ndarray:
    """De-vigged probabilities (home, draw, away) of a stored quote; a moneyline's missing draw is 0."""
    q = np.asarray(quote, dtype=float)
    priced = np.isfinite(q)
    p = np.zeros(len(q))
    p[priced] = remove_margin(q[priced][None, :], method)[0]
    return p


def _quote_prices(key: str, quote: list):
    """(column, price) pairs of a stored quote: ``book/timing`` (1X2, or a moneyline when it has no draw),
    ``book/timing/ou25`` (over, under) or ``book/timing/ah`` (home, away, then the line, which the match table
    holds once per timing)."""
    two_way = key.count("/") == 1 and quote[1] is None
    return zip(_price_columns(key, two_way), (quote[0], quote[2]) if two_way else quote, strict=True)


@functools.lru_cache(maxsize=4096)
def _price_columns(key: str, two_way: bool) -> tuple[str, ...]:
    """The columns of a stored quote's prices (see :func:`_quote_prices`); named once per key, not per scoring."""
    book, timing, *market = key.split("/")
    if market:
        columns = [odds_column(book, market[0], timing, o) for o in MARKET_OUTCOMES[market[0]]]
        return (*columns, ah_line_column(timing)) if market[0] == "ah" else tuple(columns)
    return tuple(quote_columns(book, timing, "ml", TWO_WAY) if two_way else quote_columns(book, timing))


def outcome_dict(p) -> dict:
    """Probabilities by outcome name."""
    return {o: float(v) for o, v in zip(OUTCOMES, p, strict=True)}


class Scorer:
    """The models of a loop, the quotes they need and how a prediction message reads.

    Args:
        models: registered models; several are averaged (soft voting).
        config: the loop's settings (:class:`a1lab.live.loop.LoopConfig`).
        timing: the models' prediction time, ``open`` or ``close``.
    """

    def __init__(self, models: list, config, timing: str, features=None):
        if not models:
            raise ValueError("the loop needs at least one model")
        if timing not in ("open", "close"):
            raise ValueError(f"timing must be open or close, got {timing!r}")
        self.models, self.config, self.timing = models, config, timing
        columns = [c for m in models for c in m.features + list(getattr(m.estimator, "offset", None) or [])]
        self.needed = {q for q in required_quotes(columns) if q[1] == timing} or {(config.market_book, timing)}
        # whose exact SHAP values give the reasons: the first model that has them (none with top_k 0)
        self.explainer = next((m for m in models if hasattr(m.estimator, "contributions")), None) \
            if config.top_k > 0 else None
        self.model_ids = [f"{m.metadata['name']}:{m.metadata['version']}" for m in models]
        # what each feature means, for the reasons a person reads (the dashboard): the feature registry's words
        self.meanings = {} if features is None else {s.name: s.description for s in all_specs(features)}

    def ready(self, quotes: dict) -> bool:
        """Whether a match's stored quotes hold every quote the models need."""
        return self.needed <= {tuple(k.split("/")) for k in quotes}

    def frame(self, quotes: list[dict], rows: list[np.ndarray], state: FeatureState) -> FeatureMatrix:
        """The matches' features as the batch table has them: state features, then market features of their
        stored quotes."""
        odds = [{c: v for k, q in match_quotes.items() for c, v in _quote_prices(k, q)} for match_quotes in quotes]
        names = list(dict.fromkeys(c for o in odds for c in o))
        table = FeatureMatrix(np.array([[o.get(c, np.nan) for c in names] for o in odds],
                                       dtype=float).reshape(len(quotes), len(names)), names)
        market = market_feature_values(table, state.config,  # an open forecast reads no closing quote
                                       ("open",) if self.timing == "open" else ("open", "close"))
        frame = FeatureMatrix(np.column_stack([np.array(rows), *market.values()]), [*state.names, *market])
        bad = [c for c, v in zip(frame.columns, np.isinf(frame.values).any(axis=0), strict=True) if v]
        if bad:
            raise ValueError(f"infinite feature values in {bad[:5]}")
        return frame

    def predict(self, frame: FeatureMatrix) -> tuple[np.ndarray, list]:
        """The models' mean probabilities and each row's reasons (None without an explainer); the explainer's
        exact SHAP values come from the same pass as its probabilities."""
        probs, contributions = [], None
        for m in self.models:
            if m is self.explainer:
                p, contributions = m.proba_and_contributions(frame)
            else:
                p = m.predict_proba(frame)
            probs.append(p)
        probs = np.mean(probs, axis=0)
        if not (np.isfinite(probs).all() and np.allclose(probs.sum(axis=1), 1.0, atol=1e-6)):
            raise ValueError("the model returned probabilities that are not finite or do not sum to 1")
        if contributions is None:
            return probs, [None] * len(frame)
        est = self.explainer.estimator
        chosen = np.searchsorted(est.classes_, probs.argmax(axis=1))  # the model's column of the likeliest outcome
        return probs, top_contribution_rows(contributions, frame[est.features_], chosen, k=self.config.top_k)

    def prediction(self, match_id: str, match: dict, p: np.ndarray, shap, ts: datetime, event_id: str) -> dict:
        """The prediction message of a match: the model's and the market's probabilities, the value bet with its
        suggested stake (a share of the bankroll), the reasons."""
        book, rule = self.config.market_book, self.config.value_rule
        quote = match["quotes"].get(f"{book}/{self.timing}")
        market, value = None, None
        if quote is not None:
            market = {"book": book, "timing": self.timing,
                      "p": outcome_dict(fair_quote(quote, self.config.margin_method))}
            bet = {k: v[0] for k, v in value_bet_arrays(p[None, :], np.array([quote], dtype=float), rule).items()}
            if bet["outcome"] >= 0:
                k = int(bet["outcome"])
                stake = float(self.config.staking.fractions(p[[k]], np.array([quote[k]]))[0])
                value = {"outcome": OUTCOMES[k], "odds": float(bet["odds"]), "edge": float(bet["edge"]),
                         "stake": stake}
        return {"type": "prediction", "match_id": match_id, "league": match["league"], "season": match["season"],
                "home": match["home"], "away": match["away"], "kickoff": match["kickoff"],
                "revision": match["revision"], "at": ts.astimezone(UTC).isoformat(), "event_id": event_id,
                "models": self.model_ids, "p": outcome_dict(p), "market": market, "value": value,
                "shap": shap and [{**r, "meaning": self.meanings.get(r["feature"], r["feature"])} for r in shap]}
