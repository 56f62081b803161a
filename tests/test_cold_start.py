"""Each command imports only what it uses (issue 13: `alstrial score` cost 2.6 s of CPU, almost
all of it importing pandas, SQLAlchemy, the services and the web stack it never uses).

The budget is held with ``python -X importtime``, which lists every module a process
imports: a test fails when a command starts importing a heavy package it does not need.
Whole-process times are measured by ``bench/bench_cold_start.py`` (never asserted here).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REFERENCE = Path(__file__).parent / "reference"

# Packages none of the quick commands may load: data frames, the database, the web stack,
# plotting, formula parsing and the half-second scipy.stats.
HEAVY = {
    "alembic",
    "argon2",
    "fastapi",
    "flowio",
    "formulaic",
    "jinja2",
    "matplotlib",
    "pandas",
    "psycopg",
    "scipy",
    "sqlalchemy",
    "starlette",
    "uvicorn",
}


def imported(*args: str) -> set[str]:
    """Every module a fresh ``alstrial ARGS`` process imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "alstrial.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    assert names, "python -X importtime printed nothing"
    return names


def top_level(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


ITEMS = ["3", "4", "4", "3", "4", "3", "4", "4", "3", "4", "4", "4"]


@pytest.mark.parametrize(
    ("args", "numpy_allowed"),
    [
        (["--help"], False),
        (["score", "alsfrs-r", *ITEMS], False),
        (["score", "alsfrs-r", *ITEMS, "--json"], False),
        (["score", "fvc", "--sex", "male", "--age", "58", "--height", "168", "--fvc", "2.9"], True),
        (["stats", "--help"], False),
        (["protocol", "--help"], False),
    ],
    ids=["help", "score", "score-json", "fvc", "stats-help", "protocol-help"],
)
def test_quick_commands_import_no_heavy_package(args: list[str], numpy_allowed: bool) -> None:
    # numpy only where the command computes on arrays (the GLI spline tables for FVC).
    forbidden = HEAVY if numpy_allowed else HEAVY | {"numpy"}
    loaded = top_level(imported(*args)) & forbidden
    assert not loaded, f"alstrial {' '.join(args)} imported {sorted(loaded)}"


def test_help_does_not_read_package_metadata() -> None:
    # importlib.metadata scans site-packages (40 ms): alstrial.__version__ reads it on demand.
    assert "importlib.metadata" not in imported("--help")


def test_statistics_load_no_scipy_stats_database_or_web(tmp_path: Path) -> None:
    names = imported(
        "stats",
        "mmrm",
        str(REFERENCE / "fev_data.csv"),
        "--formula",
        "FEV1 ~ ARMCD*AVISIT",
        "--subject",
        "USUBJID",
        "--visit",
        "AVISIT",
        "--json",
    )
    assert "pandas" in names  # reads the file
    assert "scipy.stats" not in names  # tail areas come from scipy.special
    loaded = top_level(names) & {"sqlalchemy", "alembic", "fastapi", "matplotlib", "jinja2"}
    assert not loaded
