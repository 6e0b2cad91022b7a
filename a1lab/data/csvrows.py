"""Reading a CSV match file line by line, so every physical line is accounted for.

A record is one physical line (``\\r\\n``, ``\\n`` or ``\\r`` ends it): a match
file never needs a quoted field that spans lines, and letting one do so lets a
stray ``"`` merge several rows into one. A line whose quoting or field count is
off, or that holds control characters (a NUL byte), is quarantined with its line
number and raw text instead; every other line becomes a row of strings. So
physical data lines = rows + rejected, whatever the bytes.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd

from a1lab.data.quarantine import REJECTED_COLUMNS, DataFileError

_NEWLINE = re.compile(r"\r\n|\r|\n")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # bytes decoded with surrogateescape: not UTF-8
RAW_LIMIT = 2000  # characters of a rejected line kept in the quarantine
CHUNK_ROWS = 5_000  # lines parsed at once: bounds the memory a big file takes


@dataclass
class RawRows:
    """The string rows of a file, the lines refused before parsing, and the count of physical data lines.

    Attributes:
        frame: one row per accepted line, a column per header name (str or None) plus ``line``
            (1-based physical line number; the header is line 1).
        rejected: lines refused with ``source``, ``line``, ``reason`` and ``raw``.
        lines: physical data lines after the header (= len(frame) + len(rejected)).
        notes: what was found about the header (a column named twice: the first copy is read).
    """

    frame: pd.DataFrame
    rejected: pd.DataFrame
    lines: int
    notes: list[str] = field(default_factory=list)


def _fields(line: str) -> list[str]:
    if '"' not in line:
        return line.split(",")
    return next(csv.reader([line], strict=True), [])


def _header(line: str, name: str, lower: bool) -> list[str]:
    try:
        cols = [c.strip() for c in _fields(line)]
    except csv.Error as exc:
        raise DataFileError(f"{name}: unreadable header line ({exc})") from None
    if lower:
        cols = [c.lower() for c in cols]
    seen: dict[str, int] = {}
    out = []
    for i, c in enumerate(cols):  # blank or repeated names get pandas-style names; the first copy keeps the name
        c = c or f"Unnamed: {i}"
        if c in seen:
            seen[c] += 1
            c = f"{c}.{seen[c]}"
        seen.setdefault(c, 0)
        out.append(c)
    return out


def read_rows(text: str, name: str, required: tuple[str, ...], lower: bool = False) -> RawRows:
    """Split a decoded CSV text into string rows, quarantining malformed lines (one chunk: the whole file).

    Args:
        text: the whole file, decoded.
        name: file name for messages and the quarantine.
        required: columns the layout needs; a header without them is a :class:`DataFileError`.
        lower: lower-case the header names (layouts whose names are case-free).

    Raises:
        DataFileError: no header, an unreadable header or missing required columns.
    """
    return next(read_chunks(text, name, required, lower, rows=sys.maxsize))


def read_chunks(text: str, name: str, required: tuple[str, ...], lower: bool = False,
                rows: int | None = None) -> Iterator[RawRows]:
    """:func:`read_rows` a chunk of ``rows`` physical lines at a time (default :data:`CHUNK_ROWS`), so a file's string
    rows never all sit in memory together; line numbers are the file's, the header's notes come with the
    first chunk. A file with no data lines yields one empty chunk.

    Raises:
        DataFileError: no header, an unreadable header or missing required columns.
    """
    lines = _NEWLINE.split(text)
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line starts no new one
    if not lines or not lines[0].strip():
        raise DataFileError(f"{name}: no header line")
    header = _header(lines[0], name, lower)
    missing = [c for c in required if c not in header]
    if missing:
        raise DataFileError(f"{name}: wrong columns, missing {missing}; found {header[:12]}")
    repeated = sorted({c.rsplit(".", 1)[0] for c in header if re.fullmatch(r".+\.\d+", c)} & set(header))
    notes = [f"column {c} appears {sum(1 for h in header if h == c or h.startswith(c + '.'))} times: the first "
             "is read" for c in repeated]
    data = len(lines) - 1
    step = rows or CHUNK_ROWS
    for first in range(2, max(data, 1) + 2, step):  # physical line numbers: the header is line 1
        chunk = lines[first - 1:first - 1 + step]
        yield _rows(chunk, first, header, name, notes if first == 2 else [])


def _rows(lines: list[str], first: int, header: list[str], name: str, notes: list[str]) -> RawRows:
    """The string rows of consecutive data lines (``first`` is the first one's line number)."""
    width = len(header)
    rows, numbers, rejected = [], [], []
    for number, line in enumerate(lines, start=first):
        reason = None
        if _CONTROL.search(line):
            reason = "control_characters"
        elif _NOT_UTF8.search(line):
            reason = "not_utf8"
        else:
            try:
                fields = _fields(line)
            except csv.Error:
                reason = "bad_quoting"
            else:
                if not line.strip(", \t"):
                    fields = [""] * width  # a blank line or only separators: an empty row (quarantined later)
                elif len(fields) != width:
                    reason = "field_count"
        if reason is None:
            rows.append(fields)
            numbers.append(number)
        else:
            raw = line[:RAW_LIMIT].encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            rejected.append((name, number, reason, raw))
    frame = pd.DataFrame(rows, columns=header, dtype=object) if rows else pd.DataFrame(columns=header, dtype=object)
    frame = frame.mask(frame == "")
    frame["line"] = numbers
    if any(r[2] == "not_utf8" for r in rejected):
        notes = [*notes, "lines that are not UTF-8 are quarantined (not_utf8): the file should be UTF-8 (bytes "
                         "such as 0xE9 are another encoding's, Windows-1252 perhaps: save it as UTF-8)"]
    return RawRows(frame, pd.DataFrame(rejected, columns=REJECTED_COLUMNS), len(lines), list(notes))
