"""Benchmark: MMRM (unstructured, REML) on fev_data and bcva_data, alstrial beside nlme::gls.

Goals (issue 4, this 2-core machine): fev_data under 50 ms, bcva_data (1,000 subjects x 10
visits) under 1 s, and at least 10x faster than nlme::gls run here on the same data. The R
package mmrm publishes 3.36 s for bcva_data and nlme::gls 164 s (on its own machine).
Prints medians and ratios measured in one run. bcva_data is read from
``../shared/stats-reference``; nlme runs when ``Rscript`` and nlme are installed
(``--no-r`` skips it). Run: ``.venv/bin/python bench/bench_mmrm.py``.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from alstrial.stats.mmrm import mmrm

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "stats-reference"
FEV = (
    SHARED / "fev_data.csv"
    if (SHARED / "fev_data.csv").exists()
    else (ROOT / "tests" / "reference" / "fev_data.csv")
)
BCVA = SHARED / "bcva_data.csv"
MODELS = {
    "fev": ("FEV1 ~ RACE + SEX + ARMCD*AVISIT", FEV, 9),
    "bcva": ("BCVA_CHG ~ BCVA_BL + RACE + ARMCD*AVISIT", BCVA, 5),
}


def _alstrial(formula: str, path: Path, runs: int) -> tuple[float, float]:
    data = pd.read_csv(path)
    times, fit = [], None
    for _ in range(runs):
        started = time.perf_counter()
        fit = mmrm(data, formula, subject="USUBJID", visit="AVISIT")
        times.append(time.perf_counter() - started)
    assert fit is not None
    return statistics.median(times), fit.neg2_loglik


def _nlme(name: str, path: Path, runs: int) -> tuple[float, float] | None:
    if shutil.which("Rscript") is None:
        return None
    result = subprocess.run(
        ["Rscript", str(ROOT / "bench" / "mmrm_nlme.R"), name, str(path), str(runs)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        print(f"nlme::gls could not run: {result.stderr.strip()[-200:]}")
        return None
    values = dict(line.split("=") for line in result.stdout.split())
    return float(values["seconds"]), float(values["m2loglik"])


def main() -> None:
    with_r = "--no-r" not in sys.argv
    print("MMRM, unstructured covariance, REML; medians")
    for name, (formula, path, runs) in MODELS.items():
        if not path.exists():
            print(f"{name}: {path} is absent; skipped")
            continue
        seconds, m2ll = _alstrial(formula, path, runs)
        line = f"{name}: alstrial {seconds * 1000:.1f} ms (-2LL {m2ll:.6f}, {runs} runs)"
        r_runs = 3 if name == "fev" else 1
        nlme = _nlme(name, path, r_runs) if with_r else None
        if nlme is not None:
            r_seconds, r_m2ll = nlme
            line += (
                f"; nlme::gls {r_seconds * 1000:.1f} ms (-2LL {r_m2ll:.6f}, {r_runs} runs); "
                f"ratio {r_seconds / seconds:.1f}x"
            )
        print(line)


if __name__ == "__main__":
    main()
