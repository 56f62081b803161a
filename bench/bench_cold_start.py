"""Benchmark: whole-process time of alstrial commands, from a cold interpreter (issue 13).

Goals on this 2-core machine: ``alstrial --help`` and ``alstrial score ...`` under 0.3 s,
``alstrial stats mmrm`` on bcva_data (1,000 subjects x 10 visits, 8,605 rows, unstructured)
under 2 s. Each command runs ``--runs`` times as a fresh process; the median wall time and
the median CPU time (user + system, from ``resource.getrusage`` of the children) are
printed with the CPU model. bcva_data is read from ``../shared/stats-reference`` (skipped with
a message when absent). Run: ``.venv/bin/python bench/bench_cold_start.py``.
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from machine import cpu_model  # bench/machine.py

ROOT = Path(__file__).resolve().parents[1]
BCVA = ROOT.parent / "shared" / "stats-reference" / "bcva_data.csv"
FEV = ROOT / "tests" / "reference" / "fev_data.csv"
ITEMS = ["3", "4", "4", "3", "4", "3", "4", "4", "3", "4", "4", "4"]


def _run(args: list[str], runs: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "alstrial.cli.main", *args],
            capture_output=True,
            check=False,
        )
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        if done.returncode != 0:
            raise SystemExit(f"alstrial {' '.join(args)} failed: {done.stderr[-300:]!r}")
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args()
    cases: list[tuple[str, list[str], float]] = [
        ("alstrial --help", ["--help"], 0.3),
        ("alstrial score alsfrs-r (table)", ["score", "alsfrs-r", *ITEMS], 0.3),
        ("alstrial score alsfrs-r --json", ["score", "alsfrs-r", *ITEMS, "--json"], 0.3),
        (
            "alstrial stats mmrm fev_data",
            [
                "stats",
                "mmrm",
                str(FEV),
                "--formula",
                "FEV1 ~ RACE + SEX + ARMCD*AVISIT",
                "--subject",
                "USUBJID",
                "--visit",
                "AVISIT",
                "--json",
            ],
            2.0,
        ),
    ]
    if BCVA.exists():
        cases.append(
            (
                "alstrial stats mmrm bcva_data",
                [
                    "stats",
                    "mmrm",
                    str(BCVA),
                    "--formula",
                    "BCVA_CHG ~ BCVA_BL + RACE + ARMCD*AVISIT",
                    "--subject",
                    "USUBJID",
                    "--visit",
                    "AVISIT",
                    "--json",
                ],
                2.0,
            )
        )
    else:
        print(f"bcva_data not found at {BCVA}: its case is skipped")
    print(f"CPU: {cpu_model()}; Python {platform.python_version()}; {options.runs} runs each")
    print(f"{'command':<36} {'wall s':>8} {'CPU s':>8} {'goal s':>7}  verdict")
    for label, args, goal in cases:
        wall, cpu = _run(args, options.runs)
        verdict = "meets" if wall < goal else "MISSES"
        print(f"{label:<36} {wall:>8.3f} {cpu:>8.3f} {goal:>7.1f}  {verdict}")


if __name__ == "__main__":
    main()
