"""Turning a raw frame of strings into canonical matches, quarantining bad rows.

Loaders map their layout's columns onto the intermediate names below (all values
still strings) and call :func:`canonicalise`. A bad row goes to the rejected
table with its reason; a bad single price or stat is nulled and logged in the
rejected-values table. Nothing is dropped silently: rows read = kept + rejected.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from a1lab.bounds import MAX_GOALS, MAX_NAME, MAX_ODDS, MAX_STAT
from a1lab.data.errors import DataFileError, DataUnavailableError  # noqa: F401 - where the loaders import them
from a1lab.data.schema import ODDS_COLUMN, STAT_COLUMNS, result_code, schema_failures

DEFAULT_KICKOFF_TIME = "15:00"
REJECTED_COLUMNS = ["source", "line", "reason", "raw"]
REJECTED_VALUE_COLUMNS = ["source", "line", "match_id", "column", "value", "reason"]
_META = ["source", "line", "sport", "league", "season"]
IDENTITY = ("league", "season", "date", "time", "home", "away", "home_goals", "away_goals")  # a duplicate's raw
_SPAN = ["season_start", "season_end"]


@dataclass
class LoadResult:
    """Matches kept, rows rejected (with reasons) and nulled single values."""

    matches: pd.DataFrame
    rejected: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECTED_COLUMNS))
    rejected_values: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=REJECTED_VALUE_COLUMNS)
    )
    files: int = 0
    rows_read: int = 0
    notes: list[tuple[str, str]] = field(default_factory=list)  # (source, what was found about its columns)

    def counts(self) -> dict:
        """Counts for metrics/ingest.json; rows_read == rows_kept + rows_rejected."""
        by_reason = self.rejected["reason"].value_counts().sort_index()
        values_by_reason = self.rejected_values["reason"].value_counts().sort_index()
        return {
            "files": int(self.files),
            "rows_read": int(self.rows_read),
            "rows_kept": int(len(self.matches)),
            "rows_rejected": int(len(self.rejected)),
            "rejected_by_reason": {str(k): int(v) for k, v in by_reason.items()},
            "values_nulled": int(len(self.rejected_values)),
            "values_nulled_by_reason": {str(k): int(v) for k, v in values_by_reason.items()},
            "notes": {source: sorted({n for s, n in self.notes if s == source})
                      for source in sorted({s for s, _ in self.notes})},
        }


def concat_results(results: list[LoadResult]) -> LoadResult:
    """Join several loads, then quarantine duplicates across them (first copy kept)."""
    matches = pd.concat([r.matches for r in results], ignore_index=True) if results else pd.DataFrame()
    rejected = [r.rejected for r in results if len(r.rejected)]
    values = [r.rejected_values for r in results if len(r.rejected_values)]
    out = LoadResult(
        matches=matches,
        rejected=pd.concat(rejected, ignore_index=True) if rejected else LoadResult(matches).rejected,
        rejected_values=pd.concat(values, ignore_index=True) if values else LoadResult(matches).rejected_values,
        files=sum(r.files for r in results),
        rows_read=sum(r.rows_read for r in results),
        notes=[n for r in results for n in r.notes],
    )
    if len(matches):
        # the same match twice: in one league (two files of it), or in another league's file too (a file's
        # Div disagreeing with its name): the first copy is kept
        same = matches["match_id"].duplicated(keep="first")
        elsewhere = matches[["sport", "kickoff", "home", "away"]].duplicated(keep="first") & ~same
        for dup, why in ((same, "duplicate"), (elsewhere, "same_match_in_another_league")):
            if dup.any():
                extra = pd.DataFrame(
                    {
                        "source": matches.loc[dup, "source"].to_numpy() if "source" in matches else "",
                        "line": -1,
                        "reason": why,
                        "raw": matches.loc[dup, [c for c in IDENTITY if c in matches]].astype(str)
                        .to_json(orient="records", lines=True).splitlines(),
                    }
                )
                out.rejected = pd.concat([out.rejected, extra], ignore_index=True)
        out.matches = matches.loc[~(same | elsewhere)].reset_index(drop=True)
        out.notes += case_variants(out.matches)
    out.matches = sort_matches(out.matches)
    return out


def team_name(names: pd.Series) -> pd.Series:
    """Team names as one spelling: Unicode NFC (a composed and a decomposed ``Atlético`` are one name), inner
    runs of spaces as one, no spaces at the ends."""
    import unicodedata

    text = names.fillna("").astype(str)
    return text.map(lambda s: " ".join(unicodedata.normalize("NFC", s).split()))


def case_variants(matches: pd.DataFrame) -> list[tuple[str, str]]:
    """Notes on team names of one league that differ only by case (``Man united`` beside ``Man United``):
    most likely one team under two spellings, which the data set should fix."""
    if matches.empty:
        return []
    notes = []
    teams = pd.concat([matches[["league", "home"]].rename(columns={"home": "team"}),
                       matches[["league", "away"]].rename(columns={"away": "team"})])
    counts = teams.value_counts().reset_index(name="rows")
    counts["key"] = counts["team"].str.casefold()
    for (league, _), group in counts.groupby(["league", "key"], sort=True):
        if len(group) > 1:
            spelled = ", ".join(f"{t!r} ({n:,} rows)" for t, n in zip(group["team"], group["rows"], strict=True))
            notes.append((f"league {league}", f"team names that differ only by case: {spelled}"))
    return notes


def sort_matches(matches: pd.DataFrame) -> pd.DataFrame:
    """Kick-off order, ties broken by league and match id (deterministic)."""
    if matches.empty:
        return matches
    return matches.sort_values(["kickoff", "league", "match_id"], kind="mergesort").reset_index(drop=True)


def make_match_id(sport: pd.Series, league: pd.Series, day: pd.Series, home: pd.Series, away: pd.Series) -> pd.Series:
    """Stable id from sport, league, local date and teams (16 hex digits of SHA-1)."""
    keys = sport + "|" + league + "|" + day + "|" + home + "|" + away
    return keys.map(lambda k: hashlib.sha1(k.encode()).hexdigest()[:16])


def parse_dates(dates: pd.Series, formats: tuple[str, ...]) -> pd.Series:
    """Dates from text, each format tried in order; NaT where none reads."""
    out = pd.Series(pd.NaT, index=dates.index, dtype="datetime64[ns]")
    for fmt in formats:
        todo = out.isna() & dates.notna()
        if not todo.any():
            break
        out[todo] = pd.to_datetime(dates[todo], format=fmt, errors="coerce")
    return out


def parse_times(times: pd.Series) -> pd.Series:
    """Times of day (``HH:MM``, blank = ``DEFAULT_KICKOFF_TIME``) as timedeltas; NaT where unreadable."""
    parts = times.fillna(DEFAULT_KICKOFF_TIME).str.strip().str.extract(r"^(\d{1,2}):(\d{2})(?::\d{2})?$")
    hours = pd.to_numeric(parts[0], errors="coerce")
    minutes = pd.to_numeric(parts[1], errors="coerce")
    ok = hours.between(0, 23) & minutes.between(0, 59)
    return pd.to_timedelta(hours.where(ok) * 60 + minutes.where(ok), unit="m")


def _to_number(values: pd.Series) -> pd.Series:
    """Numbers from text (blanks around them allowed); anything else NaN."""
    return pd.to_numeric(values.astype(object), errors="coerce").astype(float)


def _block_numbers(block: pd.DataFrame, parse: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """``parse`` (elementwise) over every cell of ``block`` in one call: a (rows, columns) float array."""
    flat = pd.Series(block.to_numpy(dtype=object).ravel(order="F"), dtype=object)
    return parse(flat).to_numpy(dtype=float).reshape(block.shape, order="F")


def canonicalise(
    frame: pd.DataFrame,
    date_formats: tuple[str, ...],
    timezone: str,
    extra_keep: tuple[str, ...] = (),
    refused: pd.DataFrame | None = None,
    price: Callable[[pd.Series], pd.Series] | None = None,
) -> LoadResult:
    """Validate an intermediate frame of strings and build canonical matches.

    Args:
        frame: one row per raw line with columns source, line, sport, league,
            season, date, home, away, home_goals, away_goals and optionally
            time, result, stat columns, canonical odds columns (raw text) and
            ``season_start``/``season_end`` (the dates a row's season spans;
            a date outside them is quarantined).
        date_formats: strptime formats tried in order (all of one field order:
            day-first and month-first are never mixed in one file).
        timezone: zone of the date/time columns (kick-off stored in UTC).
        extra_keep: further columns to carry through unchanged.
        refused: lines the reader refused already (field count, quoting), counted as read and rejected.
        price: raw price text to decimal odds (NaN when unreadable); default plain numbers.

    Returns:
        The kept matches (schema-validated), rejected rows and nulled values.
    """
    frame = frame.reset_index(drop=True)
    raw_cols = [c for c in frame.columns if c not in _META + _SPAN]
    reason = pd.Series(None, index=frame.index, dtype=object)

    def mark(mask: pd.Series, why: str) -> None:
        reason[mask & reason.isna()] = why

    mark(frame[raw_cols].isna().all(axis=1), "empty_row")

    home, away = team_name(frame["home"]), team_name(frame["away"])
    mark((home == "") | (away == ""), "missing_team")
    mark(home == away, "same_team")
    mark((home.str.len() > MAX_NAME) | (away.str.len() > MAX_NAME), "team_name_too_long")

    day = parse_dates(frame["date"].astype("string").str.strip(), date_formats)
    times = frame["time"] if "time" in frame else pd.Series(None, index=frame.index)
    tod = parse_times(times.astype("string"))
    mark(day.isna(), "bad_date")
    mark(tod.isna(), "bad_time")
    season = frame["season"].fillna("").astype(str).str.strip()
    mark(season == "", "missing_season")
    if "season_start" in frame:
        start, end = pd.to_datetime(frame["season_start"]), pd.to_datetime(frame["season_end"])
        mark(start.isna(), "bad_season")
        mark((day < start) | (day > end), "date_outside_season")

    hg = _to_number(frame["home_goals"].astype(object))
    ag = _to_number(frame["away_goals"].astype(object))
    mark(hg.isna() | ag.isna(), "missing_score")
    impossible = (hg < 0) | (ag < 0) | (hg % 1 != 0) | (ag % 1 != 0) | (hg > MAX_GOALS) | (ag > MAX_GOALS)
    result = result_code(hg, ag)
    if "result" in frame:
        given = frame["result"].fillna("").astype(str).str.strip()
        impossible |= (given != "") & (given != pd.Series(result, index=frame.index))
    mark(impossible, "impossible_score")

    local_day = day.dt.strftime("%Y-%m-%d").fillna("")
    ids = make_match_id(frame["sport"].astype(str), frame["league"].astype(str), local_day, home, away)
    # only rows that are otherwise good can be duplicates of a kept row
    dup = ids.where(reason.isna()).duplicated(keep="first") & reason.isna()
    mark(dup, "duplicate")

    bad = reason.notna()
    rejected = pd.DataFrame(
        {
            "source": frame.loc[bad, "source"].astype(str),
            "line": frame.loc[bad, "line"].astype(int),
            "reason": reason[bad].astype(str),
            "raw": [  # a duplicate's raw text is the first copy's, which is kept: its identity is enough
                json.dumps({k: v for k, v in row.items() if (isinstance(v, str) or pd.notna(v))
                            and (why != "duplicate" or k in IDENTITY)}, default=str)
                for row, why in zip(frame.loc[bad, raw_cols].to_dict("records"), reason[bad], strict=True)
            ] if bad.any() else [],
        },
        columns=REJECTED_COLUMNS,
    ).reset_index(drop=True)
    if refused is not None and len(refused):
        rejected = pd.concat([refused[REJECTED_COLUMNS].astype({"line": int}), rejected], ignore_index=True)
        rejected = rejected.sort_values("line", kind="mergesort").reset_index(drop=True)

    good = ~bad
    kickoff_local = (day + tod)[good]
    # a kick-off in the autumn DST overlap takes the earlier (summer-time) reading
    summer = np.ones(len(kickoff_local), dtype=bool)
    kickoff = kickoff_local.dt.tz_localize(timezone, ambiguous=summer, nonexistent="shift_forward")
    kept = {
            "match_id": ids[good].to_numpy(),
            "sport": frame.loc[good, "sport"].astype(str).to_numpy(),
            "league": frame.loc[good, "league"].astype(str).to_numpy(),
            "season": season[good].to_numpy(),
            "kickoff": kickoff.dt.tz_convert("UTC").reset_index(drop=True),
            "home": home[good].to_numpy(),
            "away": away[good].to_numpy(),
            "home_goals": hg[good].astype("int64").to_numpy(),
            "away_goals": ag[good].astype("int64").to_numpy(),
            "result": pd.Series(result, index=frame.index)[good].to_numpy(),
    }

    sub = frame[good].reset_index(drop=True)
    stat_cols = [c for c in STAT_COLUMNS if c in sub]
    odds_cols = [c for c in sub.columns if ODDS_COLUMN.match(c)]
    raw = sub[stat_cols + odds_cols].astype(object)
    nums = np.column_stack([_block_numbers(raw[stat_cols], _to_number),
                            _block_numbers(raw[odds_cols], price or _to_number)])
    present = raw.notna().to_numpy(dtype=bool)
    not_num = present & np.isnan(nums)
    infinite = np.isinf(nums)
    n_stats = len(stat_cols)
    why = np.full(nums.shape, "", dtype=object)
    why[:, :n_stats][not_num[:, :n_stats] | infinite[:, :n_stats] | (nums[:, :n_stats] < 0)
                     | (nums[:, :n_stats] > MAX_STAT)] = "stat_invalid"
    why[:, n_stats:][not_num[:, n_stats:]] = "odds_not_numeric"
    why[:, n_stats:][nums[:, n_stats:] <= 1.0] = "odds_le_1"
    why[:, n_stats:][nums[:, n_stats:] > MAX_ODDS] = "odds_too_high"
    why[:, n_stats:][infinite[:, n_stats:]] = "odds_not_finite"
    invalid = why != ""
    # a bad price voids its whole quote (bookmaker x market x timing): a partial quote is no quote
    clean = np.where(invalid, np.nan, nums)
    quotes: dict[str, list[int]] = {}
    for j, col in enumerate(odds_cols, start=n_stats):
        quotes.setdefault(col.rsplit("_", 1)[0], []).append(j)
    for idx in quotes.values():
        void = invalid[:, idx].any(axis=1)
        clean[np.ix_(void, idx)] = np.nan
    for j, col in enumerate(stat_cols + odds_cols):
        kept[col] = clean[:, j]
    rows, cols = np.nonzero(invalid)
    names = np.array(stat_cols + odds_cols, dtype=object)
    rejected_values = pd.DataFrame(
        {
            "source": sub["source"].astype(str).to_numpy()[rows],
            "line": sub["line"].astype(int).to_numpy()[rows],
            "match_id": kept["match_id"][rows],
            "column": names[cols] if len(cols) else np.array([], dtype=object),
            "value": raw.to_numpy()[rows, cols].astype(str),
            "reason": why[rows, cols],
        },
        columns=REJECTED_VALUE_COLUMNS,
    )
    for col in extra_keep:
        if col in sub:
            kept[col] = sub[col].to_numpy()
    kept["source"] = sub["source"].astype(str).to_numpy()
    kept = pd.DataFrame(kept)
    cases = schema_failures(kept)  # what the checks above let through, the schema quarantines by row
    if len(cases):
        why = cases.groupby("index").first()
        rows = why.index.to_numpy()
        broken = pd.DataFrame({"source": sub.loc[rows, "source"].astype(str).to_numpy(),
                               "line": sub.loc[rows, "line"].astype(int).to_numpy(),
                               "reason": [f"schema: {c} {k}" for c, k in zip(why["column"], why["check"], strict=True)],
                               "raw": [json.dumps({k: v for k, v in row.items() if isinstance(v, str) or pd.notna(v)},
                                                  default=str) for row in sub.loc[rows, raw_cols].to_dict("records")]},
                              columns=REJECTED_COLUMNS)
        rejected = pd.concat([rejected, broken], ignore_index=True).sort_values("line", kind="mergesort")
        rejected = rejected.reset_index(drop=True)
        kept = kept.drop(index=rows).reset_index(drop=True)
    n_refused = 0 if refused is None else len(refused)
    return LoadResult(kept, rejected, rejected_values, files=1, rows_read=len(frame) + n_refused)
