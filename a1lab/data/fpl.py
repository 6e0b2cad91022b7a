"""Fantasy Premier League player data (the layout of github vaastav/Fantasy-Premier-League), joined to a data
set's matches.

A season folder (``2023-24``) holds ``gws/gw<N>.csv`` (one row per player and fixture: minutes, from 2022-23
starts, price, ownership, the gameweek's transfers, the match's own statistics) and, from 2022-23, ``news/<UTC
time>.csv`` (about weekly snapshots of every player's availability; the file's name is the latest time the
snapshot can have been taken). The files' team ids and names are the game's own: a fixture's two team ids come
from its rows (a player's ``opponent_team`` and ``was_home``), and each id takes the data set's name of the
club it played as, by the kick-off dates and venues of its fixtures (no hand-written name map). A fixture is
joined to the data set's match on the same UTC day between the same clubs. Every row is kept or quarantined with
a reason; the counts add up.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from a1lab.data.errors import DataFileError, DataUnavailableError

SEASON_FOLDER = re.compile(r"^(\d{4})-(\d{2})$")
SNAPSHOT = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{6}Z)\.csv$")
APPEARANCE_NUMBERS = ("minutes", "value", "selected", "transfers_in", "transfers_out", "total_points")
UNAVAILABLE = ("i", "s", "u", "n")  # injured, suspended, unavailable, not in the squad
DOUBTFUL = "d"
REJECTED_COLUMNS = ["source", "line", "reason"]


def season_code(folder: str) -> str | None:
    """``2023-24`` -> ``2324`` (the match table's season code), None for a folder of another name."""
    m = SEASON_FOLDER.match(folder)
    return None if m is None else m[1][2:] + m[2]


@dataclass
class PlayerData:
    """Player rows joined to matches, availability snapshots and what was quarantined.

    Attributes:
        appearances: one row per player and match: ``match_id``, ``season``, ``kickoff`` (UTC), ``team`` (the
            data set's name), ``side`` (home or away), ``player`` (``<season>:<element>``: the game's ids are per
            season), ``name``, ``position`` (GK/DEF/MID/FWD where the file has it), ``starts`` (NaN before the
            files have it) and the numbers of :data:`APPEARANCE_NUMBERS`.
        news: one row per player and snapshot: ``season``, ``at`` (the snapshot's UTC time), ``player``,
            ``team``, ``status`` (a, d, i, s, u, n), ``chance`` (of playing next round, %, NaN when unset),
            ``news_added``.
        rejected: the quarantined rows: ``source`` (file), ``line``, ``reason``.
        rows_read: rows of every file read (appearance and news files).
        teams: season -> the game's team id -> the data set's name.
    """

    appearances: pd.DataFrame
    news: pd.DataFrame
    rejected: pd.DataFrame
    rows_read: int = 0
    teams: dict[str, dict[int, str]] = field(default_factory=dict)

    def counts(self) -> dict:
        """Counts for metrics/features.json; rows_read == appearances + news + the quarantined rows."""
        by_reason = self.rejected["reason"].value_counts().sort_index()
        return {"rows_read": int(self.rows_read), "appearances": len(self.appearances), "news": len(self.news),
                "quarantined": {str(k): int(v) for k, v in by_reason.items()}}


def _read_csv(path: Path, root: Path) -> pd.DataFrame:
    """A CSV of strings with ``source`` and ``line`` (the physical line of each row, the header being 1)."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8", encoding_errors="replace")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeError) as exc:
        raise DataFileError(f"{path}: not a CSV file ({exc})") from None
    frame.insert(0, "line", np.arange(2, len(frame) + 2))
    frame.insert(0, "source", str(path.relative_to(root)))
    return frame


def _numbers(frame: pd.DataFrame, columns) -> tuple[pd.DataFrame, pd.Series]:
    """The columns as floats, and the rows where one that is present is not a number."""
    bad = pd.Series(False, index=frame.index)
    out = {}
    for col in columns:
        text = frame[col].str.strip() if col in frame else pd.Series("", index=frame.index)
        value = pd.to_numeric(text.replace({"": None, "None": None}), errors="coerce")
        bad |= value.isna() & text.ne("") & text.ne("None")
        out[col] = value.astype(float)
    return pd.DataFrame(out, index=frame.index), bad


def read_appearances(folder: Path, root: Path) -> pd.DataFrame:
    """Every ``gws/gw<N>.csv`` row of a season folder: ``element``, ``fixture``, ``kickoff_time``, ``was_home``,
    ``opponent_team``, the numbers, ``starts``, ``position`` and ``name`` where present, with source and line."""
    files = sorted(folder.glob("gws/gw*.csv"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
    if not files:
        raise DataUnavailableError(f"{folder}: no gws/gw<N>.csv files")
    return pd.concat([_read_csv(path, root) for path in files], ignore_index=True)


def read_news(folder: Path, root: Path) -> pd.DataFrame:
    """Every snapshot of ``news/`` of a season folder with its time ``at`` (empty before 2022-23)."""
    parts = []
    for path in sorted((folder / "news").glob("*.csv")):
        m = SNAPSHOT.match(path.name)
        frame = _read_csv(path, root)
        frame["at"] = pd.Timestamp(pd.to_datetime(m[1], format="%Y-%m-%dT%H%M%SZ"), tz="UTC") if m else pd.NaT
        parts.append(frame)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["source", "line", "at"])


def fixture_teams(rows: pd.DataFrame) -> pd.DataFrame:
    """Each fixture's kick-off and two team ids from its players' rows (a home player's opponent is the away
    team): ``fixture``, ``kickoff``, ``home_id``, ``away_id`` and ``clear`` (one kick-off and one id per side)."""
    home = rows["was_home"].str.strip().str.lower().eq("true")
    opponent = pd.to_numeric(rows["opponent_team"], errors="coerce")
    frame = pd.DataFrame({"fixture": rows["fixture"].str.strip(), "kickoff": rows["kickoff_time"].str.strip(),
                          "home_id": opponent.where(~home), "away_id": opponent.where(home)})
    out = frame.groupby("fixture").agg(kickoff=("kickoff", "first"), kickoffs=("kickoff", "nunique"),
                                       home_id=("home_id", "first"), homes=("home_id", "nunique"),
                                       away_id=("away_id", "first"), aways=("away_id", "nunique"))
    out["clear"] = (out["kickoffs"] == 1) & (out["homes"] == 1) & (out["aways"] == 1)
    out["kickoff"] = pd.to_datetime(out["kickoff"], utc=True, errors="coerce")
    out["clear"] &= out["kickoff"].notna()
    return out.drop(columns=["kickoffs", "homes", "aways"]).reset_index()


def team_names(fixtures: pd.DataFrame, matches: pd.DataFrame) -> dict[int, str]:
    """The data set's name of each team id: the club it played as, voted over its fixtures (the data set's
    matches on the same UTC day, at the same venue); an id whose vote is split or taken by another is left out."""
    day = matches["kickoff"].dt.tz_convert("UTC").dt.normalize()
    by_day = {d: list(zip(g["home"], g["away"], strict=True)) for d, g in matches.groupby(day)}
    votes: dict[int, Counter] = {}
    for fx in fixtures[fixtures["clear"]].itertuples():
        for home, away in by_day.get(fx.kickoff.normalize(), []):
            votes.setdefault(int(fx.home_id), Counter())[home] += 1
            votes.setdefault(int(fx.away_id), Counter())[away] += 1
    names = {}
    for team, counts in votes.items():
        (name, n), *rest = counts.most_common(2) + [(None, 0)]
        if n > rest[0][1] and n >= 2:
            names[team] = name
    taken = Counter(names.values())
    return {team: name for team, name in names.items() if taken[name] == 1}


def player_root(path: str, data_root: str) -> Path:
    """The player data's folder: ``path`` (``features.players.path``), a relative one taken from the data root.

    Raises:
        DataUnavailableError: a relative path beside a data root that is a URL (player files are read locally).
    """
    if Path(path).is_absolute():
        return Path(path)
    if data_root.startswith(("http://", "https://")):
        raise DataUnavailableError(f"features.players.path {path!r} is relative to the data root, which is the URL "
                                   f"{data_root}: player files are read from a local folder (set A1LAB_DATA_ROOT "
                                   "to a local mirror, or give an absolute path)")
    return Path(data_root) / path


def player_files(root: Path) -> dict[str, str]:
    """The SHA-256 of every file :func:`load_fpl` reads under ``root`` (what DVC's features stage depends on).

    Raises:
        DataUnavailableError: ``root`` is not a folder.
    """
    if not root.is_dir():
        raise DataUnavailableError(f"player data root {root} is not a folder")
    files = [p for folder in sorted(root.iterdir()) if folder.is_dir() and season_code(folder.name)
             for p in sorted([*folder.glob("gws/gw*.csv"), *folder.glob("news/*.csv")])]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def load_fpl(root: str | Path, matches: pd.DataFrame, league: str) -> PlayerData:
    """Read every season folder under ``root`` whose season the data set's ``league`` has, and join it.

    Args:
        root: the folder of the season folders (``2016-17`` ...).
        matches: the data set's match table (``match_id``, ``league``, ``season``, ``kickoff``, ``home``,
            ``away``).
        league: the league the files are of (``E0``).

    Raises:
        DataUnavailableError: ``root`` is not a folder or holds no season folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataUnavailableError(f"player data root {root} is not a folder")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and season_code(p.name))
    if not folders:
        raise DataUnavailableError(f"{root}: no season folders (2016-17, ...)")
    league_matches = matches[matches["league"] == league]
    apps, news, rejected, read, teams = [], [], [], 0, {}
    for folder in folders:
        season = season_code(folder.name)
        rows, snaps = read_appearances(folder, root), read_news(folder, root)
        read += len(rows) + len(snaps)
        games = league_matches[league_matches["season"] == season]
        if games.empty:
            why = f"season {season} of league {league} is not in the data set"
            rejected += [_rejected(rows, why), _rejected(snaps, why)]
            continue
        kept, gone, names = _join_season(rows, games, season)
        teams[season] = names
        apps.append(kept)
        rejected.append(gone)
        kept_news, gone_news = _season_news(snaps, names, season)
        news.append(kept_news)
        rejected.append(gone_news)
    out_rejected = pd.concat([r for r in rejected if len(r)], ignore_index=True) if any(len(r) for r in rejected) \
        else pd.DataFrame(columns=REJECTED_COLUMNS)
    return PlayerData(
        appearances=pd.concat(apps, ignore_index=True) if apps else pd.DataFrame(),
        news=pd.concat(news, ignore_index=True) if news else pd.DataFrame(),
        rejected=out_rejected[REJECTED_COLUMNS].astype({"line": int}), rows_read=read, teams=teams)


def _rejected(rows: pd.DataFrame, reason) -> pd.DataFrame:
    return pd.DataFrame({"source": rows["source"], "line": rows["line"], "reason": reason}, columns=REJECTED_COLUMNS)


def _join_season(rows: pd.DataFrame, games: pd.DataFrame, season: str):
    """A season's appearance rows joined to its matches: (kept rows, quarantined rows, team id -> name)."""
    reason = pd.Series(None, index=rows.index, dtype=object)

    def mark(mask, why) -> None:
        reason[mask & reason.isna()] = why

    missing = [c for c in ("element", "fixture", "kickoff_time", "was_home", "opponent_team", "minutes")
               if c not in rows]
    if missing:
        raise DataFileError(f"{rows['source'].iloc[0]}: no column {', '.join(missing)} (not an FPL gameweek file)")
    numbers, bad = _numbers(rows, APPEARANCE_NUMBERS)
    starts, bad_starts = _numbers(rows, ["starts"])
    mark(bad | bad_starts, "not a number")
    mark(numbers["minutes"].isna() | numbers["minutes"].lt(0) | numbers["minutes"].gt(130), "impossible minutes")
    element = rows["element"].str.strip()
    mark(element.eq(""), "no player id")
    mark(rows.duplicated(["element", "fixture"]), "the player twice in one fixture")
    fixtures = fixture_teams(rows[reason.isna()])
    names = team_names(fixtures, games)
    fixtures["home"], fixtures["away"] = fixtures["home_id"].map(names), fixtures["away_id"].map(names)
    fixtures["day"] = fixtures["kickoff"].dt.normalize()
    day = games["kickoff"].dt.tz_convert("UTC").dt.normalize()
    keyed = pd.DataFrame({"day": day, "home": games["home"], "away": games["away"], "match_id": games["match_id"],
                          "kickoff_match": games["kickoff"]})
    fixtures = fixtures.merge(keyed, on=["day", "home", "away"], how="left")
    fx = fixtures.set_index("fixture")
    fixture = rows["fixture"].str.strip()
    mark(~fixture.map(fx["clear"]).fillna(False).astype(bool), "the fixture's kick-off or teams disagree")
    mark(fixture.map(fx["home"]).isna() | fixture.map(fx["away"]).isna(),
         "a team the data set's matches do not name (no club played its fixtures)")
    mark(fixture.map(fx["match_id"]).isna(), "no match of the data set between these clubs on this day")
    keep = reason.isna()
    home = rows["was_home"].str.strip().str.lower().eq("true")
    f = fixture[keep]
    kept = pd.DataFrame({
        "match_id": f.map(fx["match_id"]).to_numpy(), "season": season,
        "kickoff": pd.to_datetime(f.map(fx["kickoff_match"]).to_numpy(), utc=True),
        "team": np.where(home[keep], f.map(fx["home"]), f.map(fx["away"])),
        "side": np.where(home[keep], "home", "away"),
        "player": season + ":" + element[keep].to_numpy(),
        "name": (rows["name"] if "name" in rows else pd.Series("", index=rows.index))[keep].to_numpy(),
        "position": (rows["position"] if "position" in rows else pd.Series("", index=rows.index))[keep].to_numpy(),
        "starts": starts.loc[keep, "starts"].to_numpy(),
        **{c: numbers.loc[keep, c].to_numpy() for c in APPEARANCE_NUMBERS},
    })
    return kept, _rejected(rows[~keep], reason[~keep]), names


def _season_news(snaps: pd.DataFrame, names: dict[int, str], season: str):
    """A season's availability snapshots with the data set's team names: (kept, quarantined)."""
    if snaps.empty:
        return pd.DataFrame(), pd.DataFrame(columns=REJECTED_COLUMNS)
    reason = pd.Series(None, index=snaps.index, dtype=object)
    reason[snaps["at"].isna()] = "a snapshot file not named by its UTC time"
    team = pd.to_numeric(snaps.get("team", pd.Series("", index=snaps.index)), errors="coerce").map(names)
    reason[team.isna() & reason.isna()] = "a team the season's fixtures do not name"
    status = snaps.get("status", pd.Series("", index=snaps.index)).str.strip()
    reason[~status.isin([*UNAVAILABLE, DOUBTFUL, "a"]) & reason.isna()] = "unknown status"
    chance, bad = _numbers(snaps, ["chance_of_playing_next_round"])
    reason[bad & reason.isna()] = "chance of playing not a number"
    keep = reason.isna()
    kept = pd.DataFrame({"season": season, "at": snaps.loc[keep, "at"].to_numpy(),
                         "player": season + ":" + snaps.loc[keep, "id"].str.strip().to_numpy(),
                         "team": team[keep].to_numpy(), "status": status[keep].to_numpy(),
                         "chance": chance.loc[keep, "chance_of_playing_next_round"].to_numpy(),
                         "position": snaps.get("element_type", pd.Series("", index=snaps.index))[keep].to_numpy()})
    kept["at"] = pd.to_datetime(kept["at"], utc=True)
    return kept, _rejected(snaps[~keep], reason[~keep])
