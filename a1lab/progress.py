"""Progress lines of long work (a walk-forward fold, a tuning trial, a drift report) for whoever runs it.

Under ``dvc repro`` a stage's notebook runs in a Jupyter kernel, and whatever a cell prints goes into the
executed notebook, whose bytes must not depend on how long anything took. Progress therefore goes to the
process's own standard error (``sys.__stderr__``): the terminal running the pipeline, since the runner starts
the kernel without capturing it (``pipelines/run_notebook.py``). In a plain script that is its stderr.
"""

from __future__ import annotations

import sys


def note(message: str) -> None:
    """Write one progress line (indented under the stage's own lines)."""
    stream = sys.__stderr__
    if stream is not None:
        stream.write(f"    {message}\n")
        stream.flush()
