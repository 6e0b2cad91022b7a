"""Player features of a match from player data (:mod:`a1lab.data.fpl`), known at a forecast time.

Time rules (a column is used only where it is known before the forecast time ``at`` of each match):

- a team's **usual** players are those of its earlier matches of the season that had finished by ``at``
  (kick-off at least :data:`MATCH_HOURS` before it): each player's mean minutes over the last ``window`` of them
  (0 where he was in the squad and did not play), his latest price there, his points per appearance there;
  the **usual XI** is the eleven with the most usual minutes and the usual goalkeeper the goalkeeper among them
  with the most;
- **availability** comes from the latest snapshot taken strictly before ``at`` (a snapshot file's time is the
  latest it can have been taken): the share of the usual minutes, and of the usual XI's price, held by players
  injured, suspended, unavailable or not in the squad, and by doubtful ones weighted by their chance of not
  playing. The gameweek's own transfers and ownership are set at its deadline, after an opening price, and are
  not used;
- the **line-up** (``lineup=True``: forecasts after the line-ups, before kick-off) is the match's own ``starts``,
  and nothing else of the match: its minutes, points and statistics stay unknown.

Every feature is per side (``home_`` / ``away_``); NaN where the inputs are not there (the first match of a
season, a season without snapshots, a match without ``starts``).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

from a1lab.data.fpl import DOUBTFUL, UNAVAILABLE, PlayerData
from a1lab.params import PlayersParams

MATCH_HOURS = 2.0  # a match's minutes and points are known this long after its kick-off
OPEN_FEATURES = ("unavailable_minutes", "doubtful_minutes", "unavailable_price", "news_age_hours")
LINEUP_FEATURES = ("xi_usual", "xi_minutes", "xi_price", "gk_usual", "xi_changes", "xi_points")


def feature_names(lineup: bool) -> list[str]:
    """The columns :func:`player_features` writes, home first."""
    names = [*OPEN_FEATURES, *(LINEUP_FEATURES if lineup else ())]
    return [f"{side}_{n}" for side in ("home", "away") for n in names]


def player_features(appearances: pd.DataFrame, news: pd.DataFrame, matches: pd.DataFrame, at: pd.Series,
                    window: int, lineup: bool = False) -> pd.DataFrame:
    """Player features of each match, known at its forecast time.

    Args:
        appearances: :attr:`a1lab.data.fpl.PlayerData.appearances`.
        news: :attr:`a1lab.data.fpl.PlayerData.news`.
        matches: the matches to describe (``match_id``, ``kickoff``, ``home``, ``away``).
        at: each match's forecast time (UTC), aligned with ``matches``; before its kick-off.
        window: earlier matches a player's usual minutes are averaged over.
        lineup: add the line-up features (the forecast is made after the line-ups are announced).

    Returns:
        One row per match (``match_id`` and :func:`feature_names`), in ``matches``' order.
    """
    at = pd.to_datetime(pd.Series(np.asarray(at), index=matches.index), utc=True)
    if (at >= matches["kickoff"]).any():
        raise ValueError("a forecast time at or after its match's kick-off")
    history = _team_history(appearances)
    snapshots = _snapshots(news)
    rows = []
    for (match_id, kickoff, home, away), when in zip(
            matches[["match_id", "kickoff", "home", "away"]].itertuples(index=False), at, strict=True):
        row = {"match_id": match_id}
        for side, team in (("home", home), ("away", away)):
            season, past, own = _before(history.get(team, []), match_id, kickoff, when)
            snaps = snapshots.get((season, team), [])
            starts = lineup and own is not None and own["players"]["starts"].notna().any()
            usual = _usual(past[-window:]) if snaps or starts else _usual([])  # nothing to weigh: skip the sums
            row |= {f"{side}_{k}": v for k, v in _availability(usual, snaps, when).items()}
            if lineup:
                row |= {f"{side}_{k}": v for k, v in _lineup(usual, past, own).items()}
        rows.append(row)
    return pd.DataFrame(rows, columns=["match_id", *feature_names(lineup)])


def player_columns(data: PlayerData, matches: pd.DataFrame, settings: PlayersParams) -> pd.DataFrame:
    """The ``pl_open_`` and ``pl_lineup_`` columns of :func:`a1lab.features.registry.player_specs` for every
    match, in ``matches``' order: :func:`player_features` at ``open_lead_hours`` before kick-off and, with the
    announced XI, at ``lineup_lead_minutes`` before it; NaN for the matches of other leagues."""
    out = pd.DataFrame(index=matches.index)
    mine = matches[matches["league"] == settings.league]
    leads = {"open": pd.Timedelta(hours=settings.open_lead_hours),
             "lineup": pd.Timedelta(minutes=settings.lineup_lead_minutes)}
    for time, lead in leads.items():
        table = player_features(data.appearances, data.news, mine, mine["kickoff"] - lead, settings.window,
                                lineup=time == "lineup")
        for name in feature_names(time == "lineup"):
            out[f"pl_{time}_{name}"] = pd.Series(table[name].to_numpy(dtype=float), index=mine.index)
    return out


def _team_history(appearances: pd.DataFrame) -> dict[str, list[dict]]:
    """Each team's matches in kick-off order: match id, season, kick-off and its players' rows."""
    out = defaultdict(list)
    columns = ["player", "minutes", "value", "total_points", "starts", "position"]
    ordered = appearances.sort_values(["kickoff", "match_id"], kind="mergesort")
    for (team, match_id), g in ordered.groupby(["team", "match_id"], sort=False):
        out[team].append({"match_id": match_id, "season": g["season"].iloc[0], "kickoff": g["kickoff"].iloc[0],
                          "players": g[columns].reset_index(drop=True)})
    return out


def _before(matches: list[dict], match_id: str, kickoff, when) -> tuple[str | None, list[dict], dict | None]:
    """The team's matches of the season that had finished by ``when``, and the match itself (None if absent)."""
    own = next((m for m in matches if m["match_id"] == match_id), None)
    season = own["season"] if own is not None else next(
        (m["season"] for m in reversed(matches) if m["kickoff"] < kickoff), None)
    finished = when - pd.Timedelta(hours=MATCH_HOURS)
    past = [m for m in matches if m["season"] == season and m["kickoff"] <= finished and m["kickoff"] < kickoff]
    return season, past, own


def _usual(past: list[dict]) -> pd.DataFrame:
    """Each player of the earlier matches: mean minutes (0 where he did not play), latest price, points per
    appearance, position; the eleven with the most minutes flagged ``xi``."""
    if not past:
        return pd.DataFrame(columns=["minutes", "value", "points", "position", "xi"])
    rows = pd.concat([m["players"] for m in past], ignore_index=True)
    played = rows[rows["minutes"] > 0]
    out = pd.DataFrame({
        "minutes": rows.groupby("player")["minutes"].sum() / len(past),
        "value": rows.groupby("player")["value"].last(),
        "points": played.groupby("player")["total_points"].mean(),
        "position": rows.groupby("player")["position"].last(),
    })
    out = out.sort_values("minutes", ascending=False, kind="mergesort")
    out["xi"] = False
    out.iloc[:11, out.columns.get_loc("xi")] = True
    return out


def _snapshots(news: pd.DataFrame) -> dict[tuple[str, str], list[tuple]]:
    """(season, team) -> its snapshots in time order: (time, player -> (status, chance))."""
    out = defaultdict(list)
    if news.empty:
        return out
    for (season, team, at), g in news.sort_values("at").groupby(["season", "team", "at"], sort=True):
        out[(season, team)].append((at, dict(zip(g["player"], zip(g["status"], g["chance"], strict=True),
                                                 strict=True))))
    return out


def _availability(usual: pd.DataFrame, snapshots: list[tuple], when) -> dict[str, float]:
    """Shares of the usual minutes and the usual XI's price out (or doubtful) in the last snapshot before
    ``when``, and that snapshot's age in hours."""
    earlier = [s for s in snapshots if s[0] < when]
    if usual.empty or not earlier or usual["minutes"].sum() <= 0:
        return dict.fromkeys(OPEN_FEATURES, np.nan)
    taken, status = earlier[-1]
    state = [status.get(p, ("a", np.nan)) for p in usual.index]
    out = np.array([s in UNAVAILABLE for s, _ in state])
    doubt = np.array([(1 - (c if c == c else 50.0) / 100) if s == DOUBTFUL else 0.0 for s, c in state])
    minutes, price = usual["minutes"].to_numpy(), (usual["value"] * usual["xi"]).fillna(0).to_numpy()
    return {"unavailable_minutes": float(minutes @ out / minutes.sum()),
            "doubtful_minutes": float(minutes @ doubt / minutes.sum()),
            "unavailable_price": float(price @ out / price.sum()) if price.sum() > 0 else np.nan,
            "news_age_hours": (when - taken).total_seconds() / 3600}


def _lineup(usual: pd.DataFrame, past: list[dict], own: dict | None) -> dict[str, float]:
    """The announced XI (the match's ``starts``) against the usual XI."""
    nothing = dict.fromkeys(LINEUP_FEATURES, np.nan)
    if own is None or usual.empty or own["players"]["starts"].isna().all():
        return nothing
    xi = set(own["players"].loc[own["players"]["starts"] > 0, "player"])
    if not xi:
        return nothing
    usual_xi = set(usual.index[usual["xi"]])
    in_usual = usual.reindex(sorted(xi))
    top = usual[usual["xi"]]
    keepers = usual[usual["position"].eq("GK")]
    gk = own["players"].loc[(own["players"]["starts"] > 0) & own["players"]["position"].eq("GK"), "player"]
    previous = next((m for m in reversed(past) if m["players"]["starts"].notna().any()), None)
    before = set() if previous is None else set(previous["players"].loc[previous["players"]["starts"] > 0, "player"])
    return {"xi_usual": len(xi & usual_xi) / 11,
            "xi_minutes": float(in_usual["minutes"].fillna(0).sum() / top["minutes"].sum()),
            "xi_price": float(in_usual["value"].fillna(0).sum() / top["value"].sum()) if top["value"].sum() else np.nan,
            "gk_usual": float(gk.iloc[0] == keepers.index[0]) if len(gk) and len(keepers) else np.nan,
            "xi_changes": float(len(xi - before)) if before else np.nan,
            "xi_points": float(in_usual["points"].mean() - top["points"].mean())}
