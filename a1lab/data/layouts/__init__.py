"""Data layouts: each module here is one, registered by being here.

A layout module defines ``Source``, a :class:`a1lab.section.Section` with ``layout: Literal["<its name>"]`` (what
a ``data.sources`` entry of params.yaml holds), its ``league_names()`` (the leagues its rows will name),
``files()`` (the files it reads: ``(name, local path)``, names of football-data files relative to the data
root with path None) and ``load(root)`` (those files as one :class:`a1lab.data.quarantine.LoadResult`).
Modules import only what validating needs at their top; their readers are imported inside ``load``, so
checking params.yaml stays light.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil


@functools.cache
def source_models() -> tuple[type, ...]:
    """Every layout's ``Source`` model, in module order (params.py's ``data.sources`` accepts each)."""
    return tuple(importlib.import_module(f"{__name__}.{info.name}").Source
                 for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name))
