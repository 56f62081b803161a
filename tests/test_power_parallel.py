"""The power simulation gives the same numbers on 1 worker, 2 local processes and a Dask
cluster (issue 13): trial s is drawn from its own stream SeedSequence(seed).spawn(n)[s]."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alstrial.exceptions import ConfigurationError, ValidationError
from alstrial.stats.parallel import run_replicates
from alstrial.stats.power import simulate_power

MEANS = pd.DataFrame(
    [[0.0, 0.0, 0.0], [0.0, 0.5, 1.0]], index=["PBO", "TRT"], columns=["W4", "W12", "W24"]
)
SIGMA = 4.0 * (0.5 * np.eye(3) + 0.5)


def _run(**where: object) -> tuple[float, int]:
    result = simulate_power(
        MEANS, SIGMA, n_per_arm=12, retention=[1.0, 0.9, 0.8], n_sim=24, seed=11, **where
    )
    return result.power, result.failures


def test_same_result_on_one_two_and_dask_workers() -> None:
    distributed = pytest.importorskip(
        "dask.distributed", reason="pip install 'alstrial[dask]' (make test installs it)"
    )
    one = _run(workers=1)
    two = _run(workers=2)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        on_dask = _run(scheduler=cluster.scheduler_address)
    assert one == two == on_dask
    assert 0.0 < one[0] < 1.0  # a power the seed actually decides


def test_replicates_come_back_in_order() -> None:
    assert run_replicates(_square, 3, 10, workers=2) == [3 * i * i for i in range(10)]


def _square(factor: int, indices: range) -> list[int]:
    return [factor * i * i for i in indices]


def test_bad_workers_and_unreachable_scheduler() -> None:
    with pytest.raises(ValidationError, match="workers must be at least 1"):
        _run(workers=0)
    pytest.importorskip("dask.distributed")
    with pytest.raises(ConfigurationError, match="does not answer"):
        run_replicates(_square, 1, 4, scheduler="tcp://127.0.0.1:9", connect_timeout=1.0)
