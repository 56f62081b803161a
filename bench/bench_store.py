"""Benchmark: build the reference trial through the services and verify its audit trail.

Prints the median of several runs on SQLite (a file) and, when one answers, PostgreSQL:
services calls per second (each one transaction with its audit events) and the time of
``verify_audit_trail``. Run: ``make bench`` or ``.venv/bin/python bench/bench_store.py``.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from alstrial.interop.reference_trial import load_reference_trial
from alstrial.store import make_engine, make_session_factory, upgrade_to_head, verify_audit_trail
from alstrial.store.audit import AuditEvent

RUNS = 5
POSTGRES = os.environ.get(
    "ALSTRIAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _measure(url: str) -> tuple[float, float, int]:
    engine = make_engine(url)
    upgrade_to_head(engine)
    session = make_session_factory(engine)()
    started = time.perf_counter()
    load_reference_trial(session)
    load = time.perf_counter() - started
    started = time.perf_counter()
    result = verify_audit_trail(session)
    verify = time.perf_counter() - started
    assert result.ok, result.problem
    events = session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) or 0
    session.close()
    engine.dispose()
    return load, verify, events


def _sqlite() -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as folder:
        return _measure(f"sqlite:///{Path(folder) / 'bench.db'}")


def _postgres() -> tuple[float, float, int]:
    admin = make_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    name = f"alstrial_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        return _measure(admin.url.set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def _report(label: str, run: Callable[[], tuple[float, float, int]]) -> None:
    results = [run() for _ in range(RUNS)]
    load = statistics.median(r[0] for r in results)
    verify = statistics.median(r[1] for r in results)
    events = results[0][2]
    print(
        f"{label:<11} load reference trial: median {load * 1000:7.0f} ms "
        f"({events} audit events, {events / load:8.0f} events/s); "
        f"verify: median {verify * 1000:6.0f} ms  [{RUNS} runs]"
    )


def main() -> None:
    _report("sqlite", _sqlite)
    try:
        _report("postgresql", _postgres)
    except sa.exc.OperationalError as error:
        print(f"postgresql  not measured: {error.orig}")


if __name__ == "__main__":
    main()
