"""Benchmark: score one million ALSFRS-R ratings and one million FVC values, vectorised.

Goal (issue 3): under 1 s each on the 2-core reference machine. Prints the median of several
runs and the throughput; also times the per-record (scalar) path on a sample for the ratio.
Run: ``make bench`` or ``.venv/bin/python bench/bench_scoring.py``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from alstrial.scoring import (
    fvc_percent_predicted,
    fvc_percent_predicted_array,
    kings_stage,
    kings_stage_array,
    mitos_stage,
    mitos_stage_array,
    score_alsfrs_array,
    score_alsfrs_r,
)

N = 1_000_000
SCALAR_SAMPLE = 20_000
RUNS = 5


def _median_seconds(work: Callable[[], object], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    rng = np.random.default_rng(2026)
    items = rng.integers(0, 5, size=(N, 12)).astype(np.float64)
    is_5b = rng.random(N) < 0.2
    fvc = rng.uniform(0.8, 5.5, N)
    age = rng.uniform(18, 90, N)
    height = rng.uniform(150, 195, N)

    def alsfrs() -> None:
        score_alsfrs_array(items)
        kings_stage_array(items, is_5b)
        mitos_stage_array(items)

    def spirometry() -> None:
        fvc_percent_predicted_array(
            fvc,
            sex="male",
            age_years=age,
            height_cm=height,
            equation="gli2012",
            ethnicity="caucasian",
        )

    alsfrs_s = _median_seconds(alsfrs)
    fvc_s = _median_seconds(spirometry)

    def alsfrs_scalar() -> None:
        for row, b in zip(items[:SCALAR_SAMPLE].astype(int), is_5b[:SCALAR_SAMPLE], strict=True):
            values = {f"item_{i}": int(v) for i, v in enumerate(row, 1) if i != 5}
            values["item_5b" if b else "item_5a"] = int(row[4])
            score = score_alsfrs_r(values)
            kings_stage(score)
            mitos_stage(score)

    def fvc_scalar() -> None:
        for i in range(SCALAR_SAMPLE):
            fvc_percent_predicted(
                float(fvc[i]),
                sex="male",
                age_years=float(age[i]),
                height_cm=float(height[i]),
                equation="gli2012",
                ethnicity="caucasian",
            )

    alsfrs_scalar_s = _median_seconds(alsfrs_scalar, 1) * N / SCALAR_SAMPLE
    fvc_scalar_s = _median_seconds(fvc_scalar, 1) * N / SCALAR_SAMPLE
    print(f"records: {N:,} (median of {RUNS} runs)")
    print(
        f"ALSFRS-R total + domains + King's + MiToS, vectorised: {alsfrs_s:.3f} s "
        f"({N / alsfrs_s / 1e6:.1f} M records/s); goal < 1 s"
    )
    print(
        f"FVC % predicted + z + LLN (GLI-2012), vectorised:       {fvc_s:.3f} s "
        f"({N / fvc_s / 1e6:.1f} M values/s); goal < 1 s"
    )
    print(
        f"per-record path, extrapolated from {SCALAR_SAMPLE:,}: ALSFRS-R {alsfrs_scalar_s:.1f} s "
        f"({alsfrs_scalar_s / alsfrs_s:.0f}x slower), FVC {fvc_scalar_s:.1f} s "
        f"({fvc_scalar_s / fvc_s:.0f}x slower)"
    )


if __name__ == "__main__":
    main()
