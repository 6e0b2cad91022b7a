"""Executed notebooks as stable outputs: what changes from run to run of the same inputs is scrubbed, so an
executed notebook's bytes (and DVC's hash of them) change only when a result does."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbformat import NotebookNode

_CLOCK = ("start_time", "end_time", "duration")
_STYLER_ID = re.compile(r"\bT_([0-9a-f]{5})(?![0-9A-Za-z])")  # pandas Styler's random table id
_ADDRESS = re.compile(r" at 0x[0-9a-f]+>")  # a default repr's memory address


def steady(nb: NotebookNode, input_path: str) -> NotebookNode:
    """The executed notebook without what changes from run to run.

    Drops papermill's and the kernel's clock times, records ``input_path`` instead of the absolute one, merges
    consecutive writes to one stream (the kernel sends them in as many messages as its timing makes), and
    replaces the random id of the injected cell, pandas Styler's random table ids (renumbered in order) and the
    memory addresses of default reprs.

    Args:
        nb: the executed notebook (changed in place).
        input_path: the notebook's path as it should be recorded (relative to the project).

    Returns:
        The same notebook.
    """
    meta = nb.metadata.get("papermill", {})
    for key in _CLOCK:
        meta.pop(key, None)
    if "input_path" in meta:
        meta["input_path"] = input_path
    ids: dict[str, str] = {}

    def renumber(match: re.Match) -> str:
        return ids.setdefault(match.group(1), f"T_{len(ids):05d}")

    for cell in nb.cells:
        for key in _CLOCK:
            cell.metadata.get("papermill", {}).pop(key, None)
        cell.metadata.pop("execution", None)  # the kernel's timestamps
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"
        if "outputs" in cell:
            cell.outputs = _merged_streams(cell.outputs)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            for kind, pattern, new in (("text/html", _STYLER_ID, renumber), ("text/plain", _ADDRESS, ">")):
                if kind in data:
                    text = "".join(data[kind]) if isinstance(data[kind], list) else data[kind]
                    data[kind] = pattern.sub(new, text)
    return nb


def _merged_streams(outputs: list) -> list:
    merged: list = []
    for output in outputs:
        last = merged[-1] if merged else None
        if (output.get("output_type") == "stream" and last is not None and last.get("output_type") == "stream"
                and last.get("name") == output.get("name")):
            last["text"] = "".join(last["text"]) + "".join(output["text"])
        else:
            merged.append(output)
    return merged


HIDDEN_INPUT_TAGS = ("parameters", "injected-parameters", "hide-input")  # cells whose code the HTML leaves out


def tidy(frame, digits: int = 6):
    """A table as a notebook shows it: a float column of whole numbers (counts, NaN allowed) as integers, other
    floats rounded to ``digits``, so ``3504.0`` reads ``3504`` and no score shows more digits than it has."""
    import pandas as pd

    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_float_dtype(values):
            known = values.dropna()
            whole = len(known) > 0 and bool((known == known.round()).all()) and bool((known.abs() < 2**53).all())
            out[column] = values.astype("Int64") if whole else values.round(digits)
    return out
