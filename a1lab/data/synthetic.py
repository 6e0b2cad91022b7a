"""A seeded synthetic league with known truth, in the canonical table.

Each team has an attack and a defence strength that drift between seasons;
goals are independent Poisson with a home advantage. Because the true outcome
probabilities are known, tests can check models and scoring rules against the
truth. Two bookmakers publish opening and closing 1X2 odds: the truth with
logit noise (smaller at the close, so closing odds are more accurate) and a
margin. This is also the offline demo (a ``layout: synthetic`` source).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import poisson

from a1lab.data.quarantine import make_match_id, sort_matches
from a1lab.data.schema import odds_column, result_code, validate_matches

MAX_GOALS = 10


@dataclass(frozen=True)
class LeagueSpec:
    """Parameters of the simulated world (all on the log-goal scale)."""

    leagues: int = 1
    teams: int = 20
    seasons: int = 6
    start_year: int = 2015
    base_rate: float = 0.3
    home_advantage: float = 0.25
    strength_sd: float = 0.3
    drift_sd: float = 0.08
    open_noise: float = 0.25
    close_noise: float = 0.10
    margins: tuple[tuple[str, float], ...] = (("pinnacle", 0.025), ("bet365", 0.06))
    seed: int = 0


@dataclass
class SyntheticLeague:
    """The matches (canonical table plus ``true_prob_*`` columns) and true team strengths."""

    matches: pd.DataFrame
    teams: pd.DataFrame


def round_robin(n_teams: int) -> np.ndarray:
    """Double round-robin pairings by the circle method: array (rounds, n/2, 2) of team indices."""
    if n_teams % 2:
        raise ValueError("the synthetic league needs an even number of teams")
    order = list(range(n_teams))
    rounds = []
    for r in range(n_teams - 1):
        pairs = [(order[i], order[n_teams - 1 - i]) for i in range(n_teams // 2)]
        rounds.append([(a, b) if (r + i) % 2 == 0 else (b, a) for i, (a, b) in enumerate(pairs)])
        order = [order[0], order[-1], *order[1:-1]]
    first = np.array(rounds)
    return np.concatenate([first, first[:, :, ::-1]])


def outcome_probabilities(lam_home: np.ndarray, lam_away: np.ndarray) -> np.ndarray:
    """P(home win, draw, away win) for independent Poisson goals, shape (n, 3)."""
    goals = np.arange(MAX_GOALS + 1)
    ph = poisson.pmf(goals[None, :], lam_home[:, None])
    pa = poisson.pmf(goals[None, :], lam_away[:, None])
    cdf_a = np.cumsum(pa, axis=1)
    home = (ph[:, 1:] * cdf_a[:, :-1]).sum(axis=1)
    draw = (ph * pa).sum(axis=1)
    cdf_h = np.cumsum(ph, axis=1)
    away = (pa[:, 1:] * cdf_h[:, :-1]).sum(axis=1)
    p = np.stack([home, draw, away], axis=1)
    return p / p.sum(axis=1, keepdims=True)


def _quote(rng: np.random.Generator, truth: np.ndarray, noise: float, margin: float) -> np.ndarray:
    logits = np.log(truth) + rng.normal(0.0, noise, truth.shape)
    q = np.exp(logits - logits.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    return np.round(1.0 / (q * (1.0 + margin)), 2).clip(1.01, None)


def simulate_league(spec: LeagueSpec = LeagueSpec()) -> SyntheticLeague:
    """Simulate ``spec.leagues`` leagues over ``spec.seasons`` seasons."""
    rng = np.random.default_rng(spec.seed)
    pairs = round_robin(spec.teams)
    n_rounds, per_round = pairs.shape[:2]
    attack = rng.normal(0.0, spec.strength_sd, (spec.leagues, spec.teams))
    defence = rng.normal(0.0, spec.strength_sd, (spec.leagues, spec.teams))
    parts, team_rows = [], []
    for s in range(spec.seasons):
        if s:
            attack = 0.9 * attack + rng.normal(0.0, spec.drift_sd, attack.shape)
            defence = 0.9 * defence + rng.normal(0.0, spec.drift_sd, defence.shape)
        year = spec.start_year + s
        season = f"{year % 100:02d}{(year + 1) % 100:02d}"
        league_idx = np.repeat(np.arange(spec.leagues), n_rounds * per_round)
        home_idx = np.tile(pairs[:, :, 0].ravel(), spec.leagues)
        away_idx = np.tile(pairs[:, :, 1].ravel(), spec.leagues)
        round_idx = np.tile(np.repeat(np.arange(n_rounds), per_round), spec.leagues)
        parts.append(pd.DataFrame({
            "league_idx": league_idx, "home_idx": home_idx, "away_idx": away_idx,
            "season": season,
            "kickoff": pd.Timestamp(f"{year}-08-10 15:00", tz="UTC") + pd.to_timedelta(round_idx * 7, unit="D"),
            "lam_home": np.exp(spec.base_rate + spec.home_advantage
                               + attack[league_idx, home_idx] - defence[league_idx, away_idx]),
            "lam_away": np.exp(spec.base_rate + attack[league_idx, away_idx] - defence[league_idx, home_idx]),
        }))
        for lg in range(spec.leagues):
            team_rows.append(pd.DataFrame({
                "league": f"SYN{lg}", "season": season, "team": [f"L{lg}-T{t:02d}" for t in range(spec.teams)],
                "attack": attack[lg], "defence": defence[lg], "strength": attack[lg] + defence[lg],
            }))
    sim = pd.concat(parts, ignore_index=True)
    n = len(sim)
    truth = outcome_probabilities(sim["lam_home"].to_numpy(), sim["lam_away"].to_numpy())
    hg = rng.poisson(sim["lam_home"].to_numpy())
    ag = rng.poisson(sim["lam_away"].to_numpy())
    league = pd.Series([f"SYN{i}" for i in range(spec.leagues)]).to_numpy()[sim["league_idx"]]
    names = np.array([[f"L{lg}-T{t:02d}" for t in range(spec.teams)] for lg in range(spec.leagues)])
    home = names[sim["league_idx"], sim["home_idx"]]
    away = names[sim["league_idx"], sim["away_idx"]]
    cols: dict = {
        "match_id": make_match_id(
            pd.Series("football", index=sim.index), pd.Series(league), sim["kickoff"].dt.strftime("%Y-%m-%d"),
            pd.Series(home), pd.Series(away)).to_numpy(),
        "sport": "football", "league": league, "season": sim["season"].to_numpy(),
        "kickoff": sim["kickoff"], "home": home, "away": away,
        "home_goals": hg.astype("int64"), "away_goals": ag.astype("int64"),
        "result": result_code(hg, ag),
    }
    for side, goals, lam in (("home", hg, sim["lam_home"].to_numpy()), ("away", ag, sim["lam_away"].to_numpy())):
        shots = rng.poisson(6.0 + 5.0 * lam)
        cols[f"ht_{side}_goals"] = rng.binomial(goals, 0.45).astype(float)
        cols[f"{side}_shots"] = (shots + goals).astype(float)
        cols[f"{side}_shots_on_target"] = (rng.binomial(shots, 0.3) + goals).astype(float)
        cols[f"{side}_corners"] = rng.poisson(3.0 + 1.5 * lam).astype(float)
        cols[f"{side}_fouls"] = rng.poisson(11.0, n).astype(float)
        cols[f"{side}_yellow"] = rng.poisson(1.8, n).astype(float)
        cols[f"{side}_red"] = rng.poisson(0.08, n).astype(float)
    for book, margin in spec.margins:
        for timing, noise in (("open", spec.open_noise), ("close", spec.close_noise)):
            odds = _quote(rng, truth, noise, margin)
            for k, outcome in enumerate(("home", "draw", "away")):
                cols[odds_column(book, "1x2", timing, outcome)] = odds[:, k]
    for k, outcome in enumerate(("home", "draw", "away")):
        cols[f"true_prob_{outcome}"] = truth[:, k]
    matches = sort_matches(pd.DataFrame(cols))
    validate_matches(matches)
    return SyntheticLeague(matches=matches, teams=pd.concat(team_rows, ignore_index=True))
