"""Run independent replicates on local cores or on an existing Dask cluster, reproducibly.

Monte-Carlo power and per-patient resampling are embarrassingly parallel: replicate s
depends only on its own random stream, ``SeedSequence(seed).spawn(n)[s]``, so the result is
the same whatever the number of workers and wherever they run (one process, a local process
pool, a Dask cluster on other machines). Replicates are handed out in chunks, about four per
worker, and the results are put back in replicate order.

- ``workers=1``: in this process (no pool; what the tests and small runs use).
- ``workers=N``: a local process pool (``spawn``: a clean interpreter per worker, safe with
  the BLAS threads of the parent).
- ``scheduler="tcp://host:8786"``: the Dask distributed scheduler there (``pip install
  'alstrial[dask]'``; alstrial must be installed on its workers). No cluster protocol of
  our own.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, TypeVar

from alstrial.exceptions import ConfigurationError, ValidationError

__all__ = ["default_workers", "run_replicates"]

R = TypeVar("R")


def default_workers() -> int:
    """Every core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _chunks(n: int, parts: int) -> list[range]:
    size = max(1, math.ceil(n / parts))
    return [range(start, min(start + size, n)) for start in range(0, n, size)]


def run_replicates(
    function: Callable[[Any, Sequence[int]], list[R]],
    payload: Any,
    n: int,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    connect_timeout: float = 10.0,
) -> list[R]:
    """``function(payload, indices)`` over the replicates 0..n-1, in replicate order.

    ``function`` must be a module-level function (it travels to other processes by name) that
    returns one result per index, and ``payload`` must pickle. ``connect_timeout`` bounds the
    wait for the Dask scheduler, in seconds.

    Raises
    ------
    ValidationError
        For a worker count below 1.
    ConfigurationError
        When a scheduler is named but Dask is not installed or the scheduler does not answer.
    """
    if workers < 1:
        raise ValidationError(f"workers must be at least 1, got {workers}", field="workers")
    if scheduler is not None:
        return _on_dask(function, payload, n, scheduler, connect_timeout)
    if workers == 1 or n <= 1:
        return function(payload, range(n))
    chunks = _chunks(n, 4 * workers)
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        parts = list(pool.map(function, [payload] * len(chunks), chunks))
    return [result for part in parts for result in part]


def _on_dask(
    function: Callable[[Any, Sequence[int]], list[R]],
    payload: Any,
    n: int,
    scheduler: str,
    timeout: float,
) -> list[R]:
    try:
        from dask.distributed import Client
    except ImportError:
        raise ConfigurationError(
            "--scheduler needs Dask distributed: pip install 'alstrial[dask]'"
        ) from None
    try:
        client = Client(scheduler, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise ConfigurationError(
            f"the Dask scheduler {scheduler} does not answer: {error}"
        ) from None
    with client:
        workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
        chunks = _chunks(n, 4 * workers)
        shared = client.scatter(payload, broadcast=True)
        futures = client.map(function, [shared] * len(chunks), chunks, pure=False)
        parts: list[list[R]] = client.gather(futures)
    return [result for part in parts for result in part]
