"""Where the work runs: in this process, on a local Dask cluster, or on an existing Dask scheduler.

params.yaml's ``compute`` section names it once; tuning trials, walk-forward folds and models fan out as
Dask tasks through :func:`run_tasks`, which returns results in the order of its inputs whatever ran where,
so a fan-out gives the serial run's results (each task is seeded by its inputs, not by where it runs).
A worker that dies mid-run is replaced by its nanny and its tasks run again elsewhere (Dask's own
rescheduling); a task is a pure function of its inputs, so the rerun gives the same result.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from a1lab.params import ComputeParams

log = logging.getLogger("a1lab.compute")


@contextlib.contextmanager
def client(config: ComputeParams | None) -> Iterator[object | None]:
    """A ``dask.distributed.Client`` for params.yaml's validated ``compute`` section (None when it says
    ``serial``, or when no section is given: this process), closed on exit with its local cluster."""
    if config is None or config.scheduler == "serial":
        yield None
        return
    from dask.distributed import Client, LocalCluster

    if config.scheduler == "local":
        with LocalCluster(n_workers=config.workers, threads_per_worker=config.threads_per_worker,
                          processes=True, memory_limit=config.memory_limit, dashboard_address=None,
                          silence_logs=logging.ERROR) as cluster, Client(cluster) as c:
            log.info("local Dask cluster: %d workers x %d threads", config.workers, config.threads_per_worker)
            yield c
    else:
        with Client(config.scheduler, timeout="30s") as c:
            log.info("Dask scheduler %s: %d workers", config.scheduler, len(c.scheduler_info()["workers"]))
            yield c


def run_tasks(fn: Callable, items: Sequence, dask_client=None, shared: dict | None = None,
              retries: int = 2) -> list:
    """``[fn(item, **shared) for item in items]``, as Dask tasks when a client is given.

    Args:
        fn: a module-level function (workers import it; a1lab has no import-time state).
        items: one task each, results in this order.
        dask_client: from :func:`client`; None runs in this process.
        shared: keyword arguments every task gets (large ones, e.g. the feature table, are sent to the
            workers once).
        retries: reruns of a task that raised (a lost worker is rescheduled by Dask regardless).
    """
    shared = dict(shared or {})
    if dask_client is None:
        return [fn(item, **shared) for item in items]
    scattered = {k: dask_client.scatter(v, broadcast=True) if _large(v) else v for k, v in shared.items()}
    futures = [dask_client.submit(fn, item, **scattered, key=f"{fn.__name__}-{i}-{os.getpid()}-{id(items)}",
                                  retries=retries, pure=False) for i, item in enumerate(items)]
    return dask_client.gather(futures)


def run_command(job: tuple[list[str], str, dict | None]) -> str:
    """Run ``(argv, cwd, env)`` to completion (a task that runs a whole pipeline, say); return ``cwd``.

    Raises:
        RuntimeError: the command failed, with the tail of its output.
    """
    import subprocess

    argv, cwd, env = job
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-3000:]
        raise RuntimeError(f"{' '.join(argv)} in {cwd} failed ({done.returncode}): {tail}")
    return cwd


def scatter_rows(dask_client, array, parts: int | None = None):
    """A numpy array as a Dask array of ``parts`` row blocks (default: one per worker), each sent to a worker
    once (not embedded in the task graph)."""
    import dask.array as da
    import numpy as np

    parts = parts or max(1, len(dask_client.scheduler_info()["workers"]))
    blocks = np.array_split(array, parts)
    futures = dask_client.scatter(blocks)
    return da.concatenate([da.from_delayed(f, shape=b.shape, dtype=b.dtype) for f, b in zip(futures, blocks,
                                                                                          strict=True)])


def _large(value) -> bool:
    """Tables and arrays, also inside a dict, list or tuple (sent to the workers once, not with every task)."""
    import numpy as np
    import pandas as pd

    if isinstance(value, dict):
        return any(_large(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_large(v) for v in value)
    return isinstance(value, pd.DataFrame | np.ndarray)
