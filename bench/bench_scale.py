"""Benchmark: the statistics engine at scale, each case in a fresh process (issue 13).

Goals on this 2-core machine:

- MMRM, unstructured over 10 visits, 100,000 subjects (10 % of visits missing at random):
  under 30 s and 2 GiB peak memory;
- random intercept and slope LMM on 100,000 subjects with actual visit days (8 nominal
  visits +-10 days, 10 % missing): under 30 s;
- RM-ANOVA, 10,000 subjects x 10 levels: under 100 ms;
- Kaplan-Meier and log-rank on 1,000,000 rows: under 1 s.

The data are simulated here (seeded). Every case runs in its own Python process, so the peak
resident memory printed (``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of that process)
belongs to it alone, data included. Small cases are repeated and their median printed.
``--r`` runs R beside it where Rscript is installed (lme4::lmer for the LMM and
survival::survfit + survdiff for the survival case, on the same data written to a CSV).
Run: ``.venv/bin/python bench/bench_scale.py [--subjects 100000] [--r]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from machine import cpu_model  # bench/machine.py

WORKER = textwrap.dedent(
    """
    import json, resource, statistics, sys, time
    import numpy as np, pandas as pd
    case, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rng = np.random.default_rng(20261202)
    result = {}
    if case == "mmrm":
        from alstrial.stats.mmrm import mmrm
        T = 10
        a = rng.normal(size=(T, T))
        sigma = a @ a.T / T + np.eye(T)
        arm = rng.integers(0, 2, n)
        y = rng.standard_normal((n, T)) @ np.linalg.cholesky(sigma).T
        y += 0.1 * arm[:, None] * np.arange(T)[None, :]
        frame = pd.DataFrame({
            "id": np.repeat(np.arange(n), T),
            "visit": np.tile([f"V{j + 1:02d}" for j in range(T)], n),
            "arm": np.repeat(np.where(arm == 1, "TRT", "PBO"), T),
            "base": np.repeat(rng.normal(size=n), T),
            "y": y.reshape(-1),
        })[rng.random(n * T) > 0.1]
        started = time.perf_counter()
        fit = mmrm(frame, "y ~ base + arm*visit", subject="id", visit="visit")
        result["seconds"] = time.perf_counter() - started
        result["detail"] = f"{len(frame)} rows, {fit.iterations} iterations"
    elif case == "lmm":
        from alstrial.stats.lmm import lmm
        nominal = np.array([0, 30, 90, 180, 270, 365, 450, 540])
        T = len(nominal)
        day = nominal[None, :] + rng.integers(-10, 11, (n, T))
        day[:, 0] = 0
        arm = rng.integers(0, 2, n)
        slope = -0.03 + 0.008 * arm[:, None] + rng.normal(0, 0.005, (n, 1))
        y = 38 + rng.normal(0, 4, (n, 1)) + slope * day + rng.normal(0, 1.8, (n, T))
        frame = pd.DataFrame({
            "id": np.repeat(np.arange(n), T),
            "arm": np.repeat(np.where(arm == 1, "IT", "IV"), T),
            "day": day.reshape(-1),
            "y": y.reshape(-1),
        })[rng.random(n * T) > 0.1]
        if len(sys.argv) > 4:
            frame.to_csv(sys.argv[4], index=False)
        started = time.perf_counter()
        fit = lmm(frame, "y ~ arm*day", subject="id", time="day")
        result["seconds"] = time.perf_counter() - started
        result["detail"] = f"{len(frame)} rows, {fit.n_times} distinct days"
    elif case == "rm_anova":
        from alstrial.stats.rm_anova import rm_anova
        T = 10
        frame = pd.DataFrame({
            "id": np.repeat(np.arange(n), T),
            "arm": np.repeat(rng.integers(0, 2, n), T),
            "visit": np.tile(np.arange(T), n),
            "y": rng.normal(size=n * T),
        })
        times = []
        for _ in range(9):
            started = time.perf_counter()
            rm_anova(frame, dv="y", subject="id", within="visit", between=["arm"])
            times.append(time.perf_counter() - started)
        result["seconds"] = statistics.median(times)
        result["detail"] = f"{n} x {T}, median of 9"
    elif case == "survival":
        from alstrial.stats.survival import kaplan_meier, log_rank
        t = rng.exponential(10, n)
        e = (rng.random(n) < 0.7).astype(float)
        g = np.where(rng.random(n) < 0.5, "A", "B")
        if len(sys.argv) > 4:
            pd.DataFrame({"t": t, "e": e, "g": g}).to_csv(sys.argv[4], index=False)
        times = []
        for _ in range(5):
            started = time.perf_counter()
            kaplan_meier(t, e)
            log_rank(t, e, g)
            times.append(time.perf_counter() - started)
        result["seconds"] = statistics.median(times)
        result["detail"] = f"{n} rows, median of 5"
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump(result, open(out, "w"))
    """
)

R_LMM = """
suppressMessages(library(lme4))
d <- read.csv(commandArgs(TRUE)[1]); d$year <- d$day / 365.25
t <- system.time(lmer(y ~ arm * year + (year | id), data = d, REML = TRUE))
cat(t[["elapsed"]])
"""
R_SURVIVAL = """
suppressMessages(library(survival))
d <- read.csv(commandArgs(TRUE)[1])
t <- system.time({survfit(Surv(t, e) ~ 1, data = d); survdiff(Surv(t, e) ~ g, data = d)})
cat(t[["elapsed"]])
"""


def _case(case: str, n: int, folder: Path, csv: Path | None) -> dict[str, float | str]:
    out = folder / f"{case}.json"
    args = [sys.executable, "-c", WORKER, case, str(n), str(out)]
    if csv is not None:
        args.append(str(csv))
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{case} failed: {done.stderr[-500:]}")
    result: dict[str, float | str] = json.loads(out.read_text())
    return result


def _r_seconds(script: str, csv: Path) -> str:
    done = subprocess.run(
        ["Rscript", "-e", script, str(csv)], capture_output=True, text=True, check=False
    )
    return f"{float(done.stdout):.2f} s" if done.returncode == 0 else "R failed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--r", action="store_true", help="time R beside it (Rscript)")
    options = parser.parse_args()
    with_r = options.r and shutil.which("Rscript") is not None
    if options.r and not with_r:
        print("Rscript not found: the R column is skipped")
    cases = [
        ("mmrm", options.subjects, 30.0, None),
        ("lmm", options.subjects, 30.0, R_LMM),
        ("rm_anova", 10_000, 0.1, None),
        ("survival", 1_000_000, 1.0, R_SURVIVAL),
    ]
    print(f"CPU: {cpu_model()}; Python {platform.python_version()}")
    header = f"{'case':<10} {'size':>9} {'seconds':>9} {'goal':>6} {'peak MiB':>9}  verdict"
    print(header + ("   R" if with_r else ""))
    with tempfile.TemporaryDirectory() as folder:
        for case, n, goal, r_script in cases:
            csv = Path(folder) / f"{case}.csv" if with_r and r_script else None
            result = _case(case, n, Path(folder), csv)
            seconds = float(result["seconds"])
            peak = float(result["peak_mib"])
            verdict = "meets" if seconds < goal and (case != "mmrm" or peak < 2048) else "MISSES"
            line = f"{case:<10} {n:>9} {seconds:>9.3f} {goal:>6.1f} {peak:>9.0f}  {verdict}"
            if csv is not None and r_script is not None:
                line += f"   {_r_seconds(r_script, csv)}"
            print(f"{line}   ({result['detail']})")


if __name__ == "__main__":
    main()
