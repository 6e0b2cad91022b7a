"""The incremental feature state: read to give a match's features, then updated with its result.

One object serves the batch replay and the live loop. Results are applied per
league a calendar day at a time: a result waits in ``pending`` until a match of
a later day is read, so matches on the same day see none of each other's results
whichever order they arrive in. Per-team rolling sums are kept incrementally in
arrays (team x side x window x stat), so reading a match costs a few array ops.

Leagues of one country (``divisions``) share their teams: a club read for the first time in a season in one
league, whose last match was in another of its country's leagues, starts from the ratings it left there plus the
step between the two leagues that earlier seasons' moves measured (a move's rating after its first season
minus the rating it brought), weighed against the promoted-gap rule. What a league learns stays in its own
state (the destination's moves and steps, its home advantage); another league is only read.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from a1lab.features.registry import STAT_NAMES, STAT_PRIORS, STATE_SPECS, rolling_specs
from a1lab.params import FeatureEngineParams
from a1lab.ratings import (
    EloParams,
    PiParams,
    elo_expected,
    elo_regress,
    elo_update,
    fitted_home_advantage,
    home_score,
    pi_expected_goal_difference,
    pi_update,
)

N_STATS = len(STAT_NAMES)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PRIOR = np.array([STAT_PRIORS[s] for s in STAT_NAMES])
_ALL, _HOME, _AWAY = 0, 1, 2
_ARRAYS = ("buf", "wsum", "wcnt", "ewm")
MOVE_WITHIN_DAYS = 366  # a club whose last match elsewhere is older (a season the data lacks) starts as a newcomer
_SCALARS = ("elo", "pi_home", "pi_away", "last_day", "played", "history", "promoted")


def team_match_stats(matches: pd.DataFrame | Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-match stat vectors from the home and the away team's view, shapes (n, N_STATS), of a match table
    or of name -> values (the live loop's one result).

    A stat the file lacks is NaN and simply not counted in the windows.
    """
    n = len(matches) if isinstance(matches, pd.DataFrame) else len(matches["home_goals"])

    def col(name: str) -> np.ndarray:
        if name not in matches:
            return np.full(n, np.nan)
        values = matches[name]
        return values.to_numpy(dtype=float) if isinstance(values, pd.Series) else np.asarray(values, dtype=float)

    hg, ag = col("home_goals"), col("away_goals")
    hp = np.where(hg > ag, 3.0, np.where(hg == ag, 1.0, 0.0))
    ap = np.where(ag > hg, 3.0, np.where(hg == ag, 1.0, 0.0))
    hc = col("home_yellow") + col("home_red")
    ac = col("away_yellow") + col("away_red")
    home = np.stack([hg, ag, hp, col("home_shots"), col("away_shots"), col("home_shots_on_target"),
                     col("away_shots_on_target"), col("home_corners"), col("away_corners"), hc, ac], axis=1)
    away = np.stack([ag, hg, ap, col("away_shots"), col("home_shots"), col("away_shots_on_target"),
                     col("home_shots_on_target"), col("away_corners"), col("home_corners"), ac, hc], axis=1)
    return home, away


class LeagueState:
    """Teams of one league: ratings and counters (lists) and rolling arrays indexed by team."""

    def __init__(self, depth: int, n_windows: int, n_spans: int, home_advantage: float) -> None:
        self.index: dict[str, int] = {}
        self.home_advantage = home_advantage  # Elo points, this league's own
        self.home_score = 0.0  # home sides' scores (win 1, draw 0.5) over every result applied, and their number
        self.home_results = 0
        self.moves: list[tuple] = []  # (team, from league, season, elo, pi home, pi away brought), until settled
        self.steps: dict[str, list[float]] = {}  # from league -> [moves, sum of elo, pi home, pi away changes]
        self.season: str | None = None
        self.first_season: str | None = None
        self.elo: list[float] = []
        self.pi_home: list[float] = []
        self.pi_away: list[float] = []
        self.last_day: list[int | None] = []
        self.played: list[int] = []
        self.history: list[int] = []
        self.promoted: list[bool] = []
        self.buf = np.full((0, 3, depth, N_STATS), np.nan)  # last matches per side, newest last
        self.wsum = np.zeros((0, 3, n_windows, N_STATS))
        self.wcnt = np.zeros((0, 3, n_windows, N_STATS))
        self.ewm = np.full((0, 3, n_spans, N_STATS), np.nan)
        self.sums = np.zeros((3, N_STATS))
        self.counts = np.zeros((3, N_STATS))
        self.prior = np.tile(_PRIOR, (3, 1))
        self.pending: list[list] = []
        self.pending_day: int | None = None

    def copy(self) -> LeagueState:
        """An independent copy (a savepoint): containers are copied, the immutable values in them shared."""
        out = copy.copy(self)
        out.index, out.pending, out.moves = dict(self.index), list(self.pending), list(self.moves)
        out.steps = {k: list(v) for k, v in self.steps.items()}
        for k in _SCALARS:
            setattr(out, k, list(getattr(self, k)))
        for k in (*_ARRAYS, "sums", "counts", "prior"):
            setattr(out, k, getattr(self, k).copy())
        return out

    def add_team(self, name: str, elo: float, pi_home: float, pi_away: float, promoted: bool) -> int:
        i = len(self.index)
        self.index[name] = i
        self.elo.append(elo)
        self.pi_home.append(pi_home)
        self.pi_away.append(pi_away)
        self.last_day.append(None)
        self.played.append(0)
        self.history.append(0)
        self.promoted.append(promoted)
        if i >= len(self.buf):  # grow the arrays by doubling
            grow = max(8, len(self.buf))
            self.buf = np.concatenate([self.buf, np.full((grow, *self.buf.shape[1:]), np.nan)])
            self.wsum = np.concatenate([self.wsum, np.zeros((grow, *self.wsum.shape[1:]))])
            self.wcnt = np.concatenate([self.wcnt, np.zeros((grow, *self.wcnt.shape[1:]))])
            self.ewm = np.concatenate([self.ewm, np.full((grow, *self.ewm.shape[1:]), np.nan)])
        return i


class FeatureState:
    """Ratings and rolling windows for every league, fed match by match.

    Args:
        config: windows, Elo and pi-rating settings.
    """

    def __init__(self, config: FeatureEngineParams):
        self.config = config
        self.elo = EloParams(k=config.elo_k, home_advantage=config.elo_home_advantage,
                             season_regression=config.elo_season_regression, promoted_gap=config.elo_promoted_gap)
        self.pi = PiParams(learning_rate=config.pi_learning_rate, cross_rate=config.pi_cross_rate,
                           promoted_gap=config.pi_promoted_gap)
        self.depth = max(config.windows)
        self.leaving = self.depth - np.array(config.windows)  # buffer slot that drops out of each window
        self.alphas = np.array([2.0 / (s + 1.0) for s in config.ewm_spans])[None, :, None]
        self.leagues: dict[str, LeagueState] = {}
        self.country = config.countries()
        self._state_names = [s.name for s in STATE_SPECS]
        rolling = rolling_specs(config)
        self.names = self._state_names + [s.name for s in rolling]
        self._k = len(config.windows) + len(config.ewm_spans)
        self._rolling_at = np.array([self._block_index(s.params) for s in rolling])

    def _block_index(self, spec: dict) -> int:
        """Where a rolling feature sits in the flat block that :meth:`features` computes, from its spec."""
        role = ("home", "away").index(spec["role"])
        side = ("all", "venue").index(spec["side"])
        slot = (self.config.windows.index(spec["window"]) if spec["agg"] == "mean"
                else len(self.config.windows) + self.config.ewm_spans.index(spec["window"]))
        return ((role * 2 + side) * self._k + slot) * N_STATS + STAT_NAMES.index(spec["stat"])

    def _league(self, league: str) -> LeagueState:
        if league not in self.leagues:
            self.leagues[league] = LeagueState(self.depth, len(self.config.windows), len(self.config.ewm_spans),
                                               self.elo.home_advantage)
        return self.leagues[league]

    def _start_season(self, lg: LeagueState, season: str) -> None:
        if lg.first_season is None:
            lg.first_season = season
        if lg.index:
            self._settle_moves(lg, season)
            mean = sum(lg.elo) / len(lg.elo)
            lg.elo = [elo_regress(r, mean, self.elo.season_regression) for r in lg.elo]
            lg.played = [0] * len(lg.played)
            lg.promoted = [False] * len(lg.promoted)
        prior = self.config.home_advantage_prior_matches
        if prior > 0 and lg.home_results:
            lg.home_advantage = fitted_home_advantage(lg.home_score, lg.home_results, self.elo.home_advantage, prior)
        lg.season = season

    def _settle_moves(self, lg: LeagueState, season: str) -> None:
        """Turn the moves of earlier seasons into step samples: a team's ratings after its first season here
        minus what it brought."""
        for team, origin, arrived, elo, pi_home, pi_away in lg.moves:
            i = lg.index[team]
            if arrived != season and lg.played[i] > 0:
                step = lg.steps.setdefault(origin, [0.0, 0.0, 0.0, 0.0])
                for k, change in enumerate((1.0, lg.elo[i] - elo, lg.pi_home[i] - pi_home, lg.pi_away[i] - pi_away)):
                    step[k] += change
        lg.moves = [m for m in lg.moves if m[2] == season]

    def _team(self, lg: LeagueState, name: str) -> int:
        i = lg.index.get(name)
        if i is None:
            promoted = lg.season != lg.first_season
            elo, pi = self._gap_start(lg, 1.0) if promoted and lg.index else (self.elo.initial, 0.0)
            i = lg.add_team(name, elo, pi, pi, promoted)
        return i

    def _gap_start(self, lg: LeagueState, sign: float) -> tuple[float, float]:
        """The promoted-gap rule: (Elo, pi) of a club new to a league, ``sign`` 1 below the league's mean (up from
        below or unknown), -1 as far above it (down from above)."""
        mean = sum(lg.elo) / len(lg.elo) if lg.elo else self.elo.initial
        return mean - sign * self.elo.promoted_gap, -sign * self.pi.promoted_gap

    def _latest(self, lg: LeagueState, name: str, season: str) -> tuple[int, float, float, float] | None:
        """A team's last match day in a league and its (elo, pi home, pi away) there with the league's queued
        results applied (without changing that league's state); None if it has not played there, or has this
        season."""
        i = lg.index.get(name)
        if i is None or (lg.season == season and lg.played[i] > 0):
            return None
        day, elo, pi_home, pi_away = lg.last_day[i], {}, {}, {}
        for d, home, away, hg, ag, _, _ in lg.pending:
            if name not in (home, away):
                continue
            h, a = lg.index[home], lg.index[away]
            eh, ea = elo.get(h, lg.elo[h]), elo.get(a, lg.elo[a])
            elo[h], elo[a] = elo_update(eh, ea, hg, ag, self.elo, lg.home_advantage)
            pi_home[h], pi_away[h], pi_home[a], pi_away[a] = pi_update(
                pi_home.get(h, lg.pi_home[h]), pi_away.get(h, lg.pi_away[h]),
                pi_home.get(a, lg.pi_home[a]), pi_away.get(a, lg.pi_away[a]), hg, ag, self.pi)
            day = d
        if day is None:
            return None
        return day, elo.get(i, lg.elo[i]), pi_home.get(i, lg.pi_home[i]), pi_away.get(i, lg.pi_away[i])

    def _arrive(self, league: str, lg: LeagueState, name: str, season: str, day: int) -> None:
        """Start a team that left another league of the country within a year for this one from the ratings it
        brought (its first read of the season here)."""
        country, tier = self.country[league]
        i = lg.index.get(name)
        if i is not None and lg.played[i] > 0 or any(m[0] == name and m[2] == season for m in lg.moves):
            return
        since = -1 if i is None or lg.last_day[i] is None else lg.last_day[i]
        found = [(latest, other) for other in self.config.divisions[country] if other != league
                 and other in self.leagues and (latest := self._latest(self.leagues[other], name, season))]
        if not found:
            return
        (last, elo, pi_home, pi_away), origin = max(found, key=lambda f: (f[0][0], f[1]))
        if not since < last < day or day - last > MOVE_WITHIN_DAYS:
            return
        elo0, pi0 = self._gap_start(lg, 1.0 if self.country[origin][1] > tier else -1.0)  # promoted from below
        start = np.array([elo0, pi0, pi0])
        n, *sums = lg.steps.get(origin, [0.0, 0.0, 0.0, 0.0])
        if n:
            fitted = np.array([elo, pi_home, pi_away]) + np.array(sums) / n
            w = self.config.division_prior_moves
            start = (n * fitted + w * start) / (n + w)
        values = [float(v) for v in start]
        if i is None:
            lg.add_team(name, *values, promoted=True)
        else:
            lg.elo[i], lg.pi_home[i], lg.pi_away[i] = values
            lg.promoted[i] = True
        lg.moves.append((name, origin, season, elo, pi_home, pi_away))

    def features(self, league: str, season: str, day: int, home: str, away: str) -> np.ndarray:
        """Features of a match from results of earlier days only, in ``self.names`` order."""
        lg = self._league(league)
        if lg.pending and day > lg.pending_day:
            self._flush(lg)
        if season != lg.season:
            self._start_season(lg, season)
        if league in self.country:
            self._arrive(league, lg, home, season, day)
            self._arrive(league, lg, away, season, day)
        h, a = self._team(lg, home), self._team(lg, away)
        cfg = self.config
        advantage = lg.home_advantage

        def rest(i: int) -> float:
            last = lg.last_day[i]
            return cfg.rest_prior_days if last is None else min(float(day - last), cfg.rest_cap_days)

        head = {
            "home_elo": lg.elo[h], "away_elo": lg.elo[a], "elo_diff": lg.elo[h] + advantage - lg.elo[a],
            "elo_expected_home": elo_expected(lg.elo[h], lg.elo[a], advantage),
            "home_pi_home": lg.pi_home[h], "home_pi_away": lg.pi_away[h],
            "away_pi_home": lg.pi_home[a], "away_pi_away": lg.pi_away[a],
            "pi_expected_gd": pi_expected_goal_difference(lg.pi_home[h], lg.pi_away[a], self.pi),
            "home_rest_days": rest(h), "away_rest_days": rest(a),
            "home_played_season": float(lg.played[h]), "away_played_season": float(lg.played[a]),
            "home_history": float(lg.history[h]), "away_history": float(lg.history[a]),
            "home_promoted": float(lg.promoted[h]), "away_promoted": float(lg.promoted[a]),
        }
        teams, sides = [h, h, a, a], [_ALL, _HOME, _ALL, _AWAY]
        prior = lg.prior[sides][:, None, :]
        counts = lg.wcnt[teams, sides]
        means = np.where(counts > 0, lg.wsum[teams, sides] / np.maximum(counts, 1.0), prior)
        ewm = lg.ewm[teams, sides]
        ewm = np.where(np.isnan(ewm), prior, ewm)
        block = np.concatenate([means, ewm], axis=1)  # (role x side, window or span, stat), see _block_index
        return np.concatenate([[head[name] for name in self._state_names], block.ravel()[self._rolling_at]])

    def update(self, league: str, day: int, home: str, away: str, home_goals: int, away_goals: int,
               home_stats: np.ndarray, away_stats: np.ndarray) -> None:
        """Queue a result; it is applied before the first match of a later day is read."""
        lg = self._league(league)
        if lg.pending and day > lg.pending_day:
            self._flush(lg)
        lg.pending.append([day, home, away, int(home_goals), int(away_goals),
                           np.asarray(home_stats, dtype=float), np.asarray(away_stats, dtype=float)])
        lg.pending_day = day if lg.pending_day is None else max(lg.pending_day, day)

    def flush(self) -> None:
        """Apply every pending result now."""
        for lg in self.leagues.values():
            self._flush(lg)

    def _flush(self, lg: LeagueState) -> None:
        batch: list[list] = []
        seen: set[int] = set()
        for day, home, away, hg, ag, hs, as_ in lg.pending:
            h, a = self._team(lg, home), self._team(lg, away)
            lg.elo[h], lg.elo[a] = elo_update(lg.elo[h], lg.elo[a], hg, ag, self.elo, lg.home_advantage)
            lg.home_score += home_score(hg, ag)
            lg.home_results += 1
            lg.pi_home[h], lg.pi_away[h], lg.pi_home[a], lg.pi_away[a] = pi_update(
                lg.pi_home[h], lg.pi_away[h], lg.pi_home[a], lg.pi_away[a], hg, ag, self.pi)
            if h in seen or a in seen:  # a team twice in one day: apply the arrays in two steps
                self._push(lg, batch)
                batch, seen = [], set()
            batch += [(h, _ALL, hs), (h, _HOME, hs), (a, _ALL, as_), (a, _AWAY, as_)]
            seen |= {h, a}
            for i in (h, a):
                lg.last_day[i] = day
                lg.played[i] += 1
                lg.history[i] += 1
        self._push(lg, batch)
        lg.pending = []
        lg.pending_day = None

    def _push(self, lg: LeagueState, batch: list) -> None:
        """Add one stat vector per (team, side) to the rolling arrays, all at once."""
        if not batch:
            return
        teams = np.array([b[0] for b in batch])
        sides = np.array([b[1] for b in batch])
        x = np.stack([b[2] for b in batch])
        valid = ~np.isnan(x)
        x0 = np.where(valid, x, 0.0)
        buf = lg.buf[teams, sides]
        leaving = buf[:, self.leaving]
        left = ~np.isnan(leaving)
        lg.wsum[teams, sides] += x0[:, None, :] - np.where(left, leaving, 0.0)
        lg.wcnt[teams, sides] += valid[:, None, :].astype(float) - left
        lg.buf[teams, sides] = np.concatenate([buf[:, 1:], x[:, None, :]], axis=1)
        ewm = lg.ewm[teams, sides]
        xb = x[:, None, :]
        fresh = np.where(np.isnan(ewm), xb, ewm + self.alphas * (xb - ewm))
        lg.ewm[teams, sides] = np.where(valid[:, None, :], fresh, ewm)
        np.add.at(lg.sums, sides, x0)
        np.add.at(lg.counts, sides, valid.astype(float))
        with np.errstate(invalid="ignore", divide="ignore"):
            lg.prior = np.where(lg.counts > 0, lg.sums / lg.counts, _PRIOR)

    def to_dict(self) -> dict:
        """A JSON-safe snapshot (floats round-trip exactly)."""
        leagues = {}
        for name, lg in self.leagues.items():
            n = len(lg.index)
            leagues[name] = {
                "index": lg.index, "season": lg.season, "first_season": lg.first_season,
                "pending_day": lg.pending_day, "home_advantage": lg.home_advantage, "home_score": lg.home_score,
                "home_results": lg.home_results, "moves": [list(m) for m in lg.moves], "steps": lg.steps,
                "pending": [[d, h, a, hg, ag, hs.tolist(), as_.tolist()] for d, h, a, hg, ag, hs, as_ in lg.pending],
                "sums": lg.sums.tolist(), "counts": lg.counts.tolist(),
                **{k: getattr(lg, k) for k in _SCALARS},
                **{k: getattr(lg, k)[:n].tolist() for k in _ARRAYS},
            }
        return {"config": self.config.engine(), "leagues": leagues}

    @classmethod
    def from_dict(cls, data: dict) -> FeatureState:
        """Rebuild a state saved with :meth:`to_dict`."""
        state = cls(FeatureEngineParams.model_validate(data["config"]))
        for name, d in data["leagues"].items():
            lg = state._league(name)
            lg.index = dict(d["index"])
            lg.season, lg.first_season, lg.pending_day = d["season"], d["first_season"], d["pending_day"]
            lg.home_advantage, lg.home_score, lg.home_results = d["home_advantage"], d["home_score"], d["home_results"]
            lg.moves = [tuple(m) for m in d["moves"]]
            lg.steps = {k: list(v) for k, v in d["steps"].items()}
            lg.pending = [[dd, h, a, hg, ag, np.array(hs, dtype=float), np.array(as_, dtype=float)]
                          for dd, h, a, hg, ag, hs, as_ in d["pending"]]
            for k in _SCALARS:
                setattr(lg, k, list(d[k]))
            for k in _ARRAYS:
                arr = np.array(d[k], dtype=float)
                setattr(lg, k, arr.reshape(len(lg.index), *getattr(lg, k).shape[1:]))
            lg.sums, lg.counts = np.array(d["sums"], dtype=float), np.array(d["counts"], dtype=float)
            with np.errstate(invalid="ignore", divide="ignore"):
                lg.prior = np.where(lg.counts > 0, lg.sums / lg.counts, _PRIOR)
        return state

    def save(self, path: str | Path) -> None:
        """Write a checkpoint (JSON), atomically."""
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict()))
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> FeatureState:
        """Restore a checkpoint written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))


def day_number(kickoff: pd.Series) -> np.ndarray:
    """Calendar day (UTC) of each kick-off as an integer, the unit of the same-day rule."""
    return (kickoff.dt.tz_convert("UTC").dt.normalize().astype("int64") // 86_400_000_000_000).to_numpy()


def day_of(kickoff: datetime) -> int:
    """:func:`day_number` of one time-zone-aware kick-off (the live loop's)."""
    return int((kickoff - EPOCH) // timedelta(days=1))
