"""params.yaml, validated: one pydantic model per section.

params.yaml is the one home of every value: the models here say what each key
may hold (types, ranges, choices) and have no defaults of their own, except for
keys that are optional by nature (``None`` = not used). Unknown keys and bad
values fail at once, naming the key (``monitoring.rules.1.detector: Input should
be 'zscore' or 'iqr'``), and the sections must agree with each other (members,
backtest, drift and live models that are ``models`` entries). The evaluation
protocol (test, out-of-sample and validation seasons) is one section.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from a1lab.data.layouts import source_models
from a1lab.section import Section

Probability = Annotated[float, Field(gt=0, lt=1)]
Seasons = list[Annotated[str, Field(min_length=1)]]
Timing = Literal["open", "close"]  # a price's time: the opening or the closing odds
ForecastTime = Literal["open", "lineup", "close"]  # when forecasts are made (lineup: after the line-ups, open prices)


class ParamsError(ValueError):
    """params.yaml is unreadable, lacks a section, or a key is unknown, missing or has a bad value."""


Source = Annotated[Union[source_models()], Field(discriminator="layout")]  # noqa: UP007 (a runtime tuple)


class DataParams(Section):
    """The data set: where football-data files live, and the sources to read (nothing else is read): each
    source an entry of one layout of :mod:`a1lab.data.layouts`, by its ``layout`` key."""

    root: str = Field(min_length=1)
    sources: list[Source]


class ProtocolParams(Section):
    """The evaluation protocol, defined once (the features, train and ensemble stages read it)."""

    season_keys: Literal["label", "last"]  # label: the data's labels; last: last1 = each league's newest season
    test_seasons: Seasons = Field(min_length=1)
    oos_seasons: Seasons
    validation_season: str = Field(min_length=1)
    prediction_time: ForecastTime
    reference: str = Field(min_length=1)

    @model_validator(mode="after")
    def _disjoint(self) -> ProtocolParams:
        if self.season_keys == "last":
            bad = [s for s in [*self.test_seasons, *self.oos_seasons, self.validation_season]
                   if not re.fullmatch(r"last[1-9]\d*", s)]
            if bad:
                raise ValueError(f"with season_keys: last, seasons are named last1 (each league's newest), last2, "
                                 f"...; got {bad}")
        if overlap := sorted(set(self.oos_seasons) & set(self.test_seasons)):
            raise ValueError(f"oos_seasons and test_seasons share {overlap}")
        if self.validation_season in self.test_seasons:
            raise ValueError(f"validation_season {self.validation_season!r} is a test season: features would be "
                             "chosen on test results")
        return self


class SelectionParams(Section):
    top_k: int = Field(ge=1)
    corr_threshold: float = Field(gt=0, le=1)
    seasons: int = Field(ge=1)  # pooled: the validation season and the ones just before it
    seed: int


class PlayersParams(Section):
    """Player data beside the matches (:mod:`a1lab.data.fpl`) and the settings of the player features
    (:mod:`a1lab.features.players`)."""

    layout: Literal["fpl"]
    path: str = Field(min_length=1)  # the season folders; a relative path is taken from the data root
    league: str = Field(min_length=1)  # the data set's league the files are of
    window: int = Field(ge=1)  # a team's earlier matches a player's usual minutes are averaged over
    open_lead_hours: float = Field(gt=0)  # open-time player features are those known this long before kick-off
    lineup_lead_minutes: float = Field(gt=0)  # line-up time: line-ups are known this long before kick-off


class FeatureEngineParams(Section):
    """What the feature engine computes (:mod:`a1lab.features`): the ``features`` section but the stage's own
    keys (``parallel``, ``selection``); a saved feature state carries these."""

    windows: list[Annotated[int, Field(ge=1)]] = Field(min_length=1)
    ewm_spans: list[Annotated[int, Field(ge=1)]] = Field(min_length=1)
    elo_k: float = Field(gt=0)
    elo_home_advantage: float
    elo_season_regression: float = Field(ge=0, le=1)
    elo_promoted_gap: float = Field(ge=0)
    pi_learning_rate: float = Field(gt=0)
    pi_cross_rate: float = Field(ge=0, le=1)
    pi_promoted_gap: float = Field(ge=0)
    rest_prior_days: float = Field(gt=0)
    rest_cap_days: float = Field(gt=0)
    margin_method: Literal["multiplicative", "additive", "power", "shin", "odds_ratio"]
    market_books: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    move_books: list[Annotated[str, Field(min_length=1)]]
    goal_books: list[Annotated[str, Field(min_length=1)]] = []
    home_advantage_prior_matches: float = Field(ge=0)
    divisions: dict[str, list[Annotated[str, Field(min_length=1)]]]
    division_prior_moves: float = Field(ge=0)
    players: PlayersParams | None = None  # None: no player data, no player features

    @model_validator(mode="after")
    def _one_country_per_league(self) -> FeatureEngineParams:
        seen: dict[str, str] = {}
        for country, leagues in self.divisions.items():
            for league in leagues:
                if league in seen:
                    raise ValueError(f"divisions: league {league!r} is in {seen[league]!r} and {country!r}; "
                                     "a league belongs to one country, listed once")
                seen[league] = country
        return self

    def countries(self) -> dict[str, tuple[str, int]]:
        """League -> (its country, its tier: 0 the top) of the leagues ``divisions`` names."""
        return {league: (country, tier) for country, leagues in self.divisions.items()
                for tier, league in enumerate(leagues)}

    def engine(self) -> dict[str, Any]:
        """These settings as a mapping, without the keys of a subclass and the player data's (what a feature state
        saves: the state holds no player)."""
        return self.model_dump(include=set(FeatureEngineParams.model_fields) - {"players"})


class FeaturesParams(FeatureEngineParams):
    """The features stage: the engine's settings, whether it fans out, and the feature selection."""

    parallel: bool = False
    selection: SelectionParams


class TrainParams(Section):
    offset: str
    top_k: int = Field(ge=1)
    explain_sample: int = Field(ge=1)
    seed: int
    window_seasons: int = Field(0, ge=0)
    target_close: float = Field(0.0, ge=0.0, le=1.0)
    parallel: bool = False


class ModelEntry(BaseModel):
    """One ``models:`` entry: an estimator of ``a1lab.models`` and the hyper-parameters its constructor takes."""

    model_config = ConfigDict(extra="allow", frozen=True)
    estimator: str
    module: str  # the a1lab.models module defining the estimator: its train stage depends on that file alone
    member: bool = True  # an ensemble member unless ensemble.members lists them

    @model_validator(mode="after")
    def _known_estimator_and_arguments(self) -> ModelEntry:
        from a1lab.models import defining_module, estimator_arguments

        try:
            accepted = estimator_arguments(self.estimator)
        except KeyError as err:
            raise ValueError(str(err).strip("'\"")) from None
        if defining_module(self.estimator) != f"a1lab.models.{self.module}":
            raise ValueError(f"module {self.module!r} does not define {self.estimator}; "
                             f"{defining_module(self.estimator)} does")
        passed_by_training = {"features", "offset", "seed"}
        unknown = sorted(set(self.model_extra or {}) - (set(accepted) - passed_by_training))
        if unknown:
            raise ValueError(f"{self.estimator} takes no {unknown}; its hyper-parameters: "
                             f"{sorted(set(accepted) - passed_by_training)}")
        return self


class EnsembleParams(Section):
    members: list[str] = Field(min_length=1)  # left out: the models entries that are members, then market
    dynamic_window: int = Field(ge=1)
    stacking_c: float = Field(gt=0)
    conformal_levels: list[Probability] = Field(min_length=1)
    mondrian: bool
    conformal_gamma: float = Field(ge=0)
    conformal_window: int = Field(ge=1)
    interval_level: Probability
    power_low: float = Field(ge=0, lt=1)
    power_share: Probability
    seed: int


class StakingParams(Section):
    method: Literal["flat", "kelly", "fractional", "capped", "simultaneous"]
    unit: float | None = Field(default=None, gt=0, le=1)
    fraction: float | None = Field(default=None, gt=0, le=1)
    cap: float | None = Field(default=None, gt=0, le=1)

    def staking(self):
        """The :class:`a1lab.betting.Staking` these settings describe (unset keys take its defaults)."""
        from a1lab.betting import Staking

        return Staking(**self.model_dump(exclude_none=True))


class ConsensusParams(Section):
    book: str = "avg"
    prices: str = "max"
    margin: float = Field(0.05, ge=0)


class BacktestParams(Section):
    model: str
    odds_book: str
    odds_timing: Timing
    best_price: bool
    min_edge: float = Field(ge=0)
    min_prob: float = Field(ge=0, le=1)
    max_prob: float = Field(ge=0, le=1)
    max_odds: float = Field(gt=1)
    bankroll: float = Field(gt=0)
    strategies: dict[str, StakingParams] = Field(min_length=1)
    stress: list[Annotated[float, Field(ge=0, lt=1)]]
    ruin_level: Probability
    ruin_sims: int = Field(ge=1)
    seed: int
    consensus: ConsensusParams | None = None

    def value_rule(self):
        """The :class:`a1lab.betting.ValueRule` of these settings (edge and bounds), as the backtest and the live
        loop apply it."""
        from a1lab.betting import ValueRule

        return ValueRule(self.min_edge, self.min_prob, self.max_prob, self.max_odds)


class DriftParams(Section):
    model: str
    seasons: Seasons = Field(min_length=1)
    threshold: Probability
    reference_sample: int = Field(ge=1)
    min_month_matches: int = Field(ge=1)
    rolling_window: int = Field(ge=2)
    seed: int


class RuleParams(Section):
    """An alert rule; keys left out take :class:`a1lab.monitoring.alerts.Rule`'s defaults."""

    name: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    kind: Literal["threshold", "anomaly", "staleness"] | None = None
    threshold: float | None = None
    below: bool | None = None
    detector: Literal["zscore", "iqr"] | None = None
    sensitivity: float | None = Field(default=None, gt=0)
    window: int | None = Field(default=None, ge=2)
    warmup: int | None = Field(default=None, ge=0)
    max_age: float | None = Field(default=None, gt=0)
    severity: Literal["info", "warning", "critical"] | None = None
    cooldown: float | None = Field(default=None, ge=0)
    escalate_after: int | None = Field(default=None, ge=1)


class BreakerParams(Section):
    failures: int = Field(ge=1)
    reset: float = Field(gt=0)


class MonitoringParams(Section):
    attempts: int = Field(ge=1)
    backoff: float = Field(ge=0)
    timeout: float = Field(gt=0)
    queue: int = Field(ge=1)
    breaker: BreakerParams
    rules: list[RuleParams]
    channels: list[str]

    @field_validator("channels")
    @classmethod
    def _variable_names(cls, channels: list[str]) -> list[str]:
        for name in channels:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{name!r} is not an environment variable's name: a channel names the variable "
                                 "that holds its apprise URL (URLs carry secrets and stay out of params.yaml)")
        return channels

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[RuleParams]) -> list[RuleParams]:
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise ValueError(f"rule names must be unique: {names}")
        return rules


class LiveParams(Section):
    models: list[str] = Field(min_length=1)
    market_book: str
    staking: StakingParams
    window: int = Field(ge=1)
    min_window: int = Field(ge=1)
    top_k: int = Field(ge=0)
    checkpoint_every: int = Field(ge=1)
    quiet_check: float = Field(gt=0)
    horizon_days: float = Field(gt=0)


class ComputeParams(Section):
    """Where fan-out work runs (:mod:`a1lab.compute`): ``serial`` (this process), ``local`` (a LocalCluster of
    ``workers`` processes of ``threads_per_worker`` threads, ``memory_limit`` each in Dask's syntax, ``auto``
    splitting the machine) or the address of a running Dask scheduler (``tcp://host:8786``)."""

    scheduler: str = Field(pattern=r"^(serial|local|tcp://\S+|tls://\S+)$")
    workers: int = Field(ge=1)
    threads_per_worker: int = Field(ge=1)
    memory_limit: str = Field(min_length=1)


class DimensionParams(Section):
    """One hyper-parameter's search range: ``type`` int or float from ``low`` to ``high`` (``log``), or
    ``choices``."""

    type: Literal["int", "float"] = "float"
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: list | None = None

    @model_validator(mode="after")
    def _range_or_choices(self) -> DimensionParams:
        if self.choices is None and (self.low is None or self.high is None or not self.low < self.high):
            raise ValueError("give low < high, or choices")
        if self.log and self.choices is None and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        return self


class TuneParams(Section):
    """The hyper-parameter search of each model (:mod:`a1lab.tuning`): the ranges its class declares
    (``search_space``), ``space.<model>.<name>`` replacing or adding one."""

    trials: int = Field(ge=0)
    inner: int = Field(ge=1)
    seed: int
    space: dict[str, dict[str, DimensionParams]] = {}


class Params(Section):
    """The whole params.yaml, its sections checked against each other."""

    data: DataParams
    protocol: ProtocolParams
    features: FeaturesParams
    train: TrainParams
    models: dict[str, ModelEntry] = Field(min_length=1)
    ensemble: EnsembleParams
    backtest: BacktestParams
    drift: DriftParams
    monitoring: MonitoringParams
    live: LiveParams
    compute: ComputeParams
    tune: TuneParams

    @model_validator(mode="before")
    @classmethod
    def _every_model_a_member(cls, values: Any) -> Any:
        ensemble, models = (values.get("ensemble"), values.get("models")) if isinstance(values, dict) else (0, 0)
        if isinstance(ensemble, dict) and "members" not in ensemble and isinstance(models, dict):
            members = [name for name, entry in models.items()
                       if not isinstance(entry, dict) or entry.get("member", True)]
            values = {**values, "ensemble": {**ensemble, "members": [*members, "market"]}}
        return values

    def search_space(self, model: str) -> dict[str, DimensionParams]:
        """What ``tune`` searches for the ``models`` entry ``model``: its class's ``search_space`` with
        ``tune.space.<model>`` over it, range by range."""
        from a1lab.models import declared

        entry = self.models[model]
        space = TypeAdapter(dict[str, DimensionParams]).validate_python(declared(entry.estimator, "search_space", {}))
        return {**space, **self.tune.space.get(model, {})}

    def in_effect(self) -> dict[str, Any]:
        """The settings as the stages apply them, however params.yaml writes them (ensemble members listed,
        each model's search space resolved): what the ledger of looks (:mod:`a1lab.looks`) hashes."""
        values = self.model_dump()
        for entry in values["models"].values():
            entry.pop("member")
        values["tune"]["space"] = {name: {k: d.model_dump() for k, d in space.items()}
                                   for name in self.models if (space := self.search_space(name))}
        return values

    def labels(self) -> dict[str, str]:
        """Each ``models`` entry's name in tables: its class's ``label`` (the entry's name where it has none)."""
        from a1lab.models import declared

        return {name: declared(entry.estimator, "label", name) for name, entry in self.models.items()}

    @model_validator(mode="after")
    def _sections_agree(self) -> Params:
        models = set(self.models)
        problems = []
        if unknown := sorted(set(self.ensemble.members) - models - {"market"}):
            problems.append(f"ensemble.members {unknown} are not entries of models ({sorted(models)}) or market")
        if self.backtest.model not in models | {"ensemble"}:
            problems.append(f"backtest.model {self.backtest.model!r} is neither ensemble nor an entry of models")
        if self.drift.model not in models:
            problems.append(f"drift.model {self.drift.model!r} is not an entry of models ({sorted(models)})")
        if unknown := sorted(set(self.live.models) - models - {"ensemble"}):
            problems.append(f"live.models {unknown} are neither ensemble nor entries of models ({sorted(models)})")
        read = {league for source in self.data.sources for league in source.league_names()}
        if unread := sorted({lg for leagues in self.features.divisions.values() for lg in leagues} - read):
            problems.append(f"features.divisions names {unread}, which no source of data.sources reads (they read "
                            f"{sorted(read)})")
        players = self.features.players
        if self.protocol.prediction_time == "lineup" and players is None:
            problems.append("protocol.prediction_time lineup needs player data (features.players): the line-ups")
        if players is not None and players.league not in read:
            problems.append(f"features.players.league {players.league!r} is not read by data.sources (they read "
                            f"{sorted(read)})")
        if self.protocol.prediction_time != "close" and self.backtest.odds_timing == "close":
            problems.append(f"backtest.odds_timing close with protocol.prediction_time "
                            f"{self.protocol.prediction_time}: the closing prices are not known when it forecasts")
        if unknown := sorted(set(self.tune.space) - models):
            problems.append(f"tune.space {unknown} are not entries of models ({sorted(models)})")
        for name in sorted(models):
            if extra := sorted(set(self.search_space(name)) - set(self.models[name].model_extra or {})):
                problems.append(f"the search space of models.{name} names {extra}, which are not hyper-parameters "
                                f"in models.{name} (tune.space.{name}, or {self.models[name].estimator}.search_space)")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _message(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"])
        lines.append(f"{where}: {e['msg']}" if where else e["msg"])
    return "; ".join(lines)


def read_params(path: str | Path) -> dict[str, Any]:
    """The YAML mapping of a params file.

    Raises:
        ParamsError: the file is missing, not YAML, or not a mapping.
    """
    try:
        # libyaml's parser where PyYAML has it: the same mapping, 9x faster (every notebook stage reads the file)
        values = yaml.load(Path(path).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as exc:
        raise ParamsError(f"{path}: cannot be read as YAML ({exc})") from None
    if not isinstance(values, dict):
        raise ParamsError(f"{path}: not a mapping of sections")
    return values


def validate(values: dict[str, Any], source: str = "params.yaml") -> Params:
    """Every section of a params mapping, checked.

    Raises:
        ParamsError: one line naming each bad key.
    """
    try:
        return Params.model_validate(values)
    except ValidationError as err:
        raise ParamsError(f"{source}: {_message(err)}") from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate a params file (see :func:`validate`)."""
    return validate(read_params(path), str(path))


def check_section(name: str, values: Any, source: str = "params.yaml") -> Any:
    """One section on its own (for tools that read only part of the file, like the live loop).

    Raises:
        ParamsError: an unknown section, or the section's bad keys.
    """
    if name not in Params.model_fields:
        raise ParamsError(f"{source}: no section {name!r} is known; sections: {sorted(Params.model_fields)}")
    try:
        return TypeAdapter(Params.model_fields[name].annotation).validate_python(values)
    except ValidationError as err:
        raise ParamsError(f"{source}: {name}: {_message(err)}") from None
