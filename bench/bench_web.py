"""Form saves per second and latency of the web application, 16 concurrent clients.

The application runs as ``alstrial serve --workers 2`` starts it, on a fresh store: a SQLite
file, then a database on the local PostgreSQL server. Sixteen clients, each logged in with its
own session and keeping its connection open as a browser does, post the vital-signs form (a
new audited record per save, through the same route, CSRF check, parsing and service as a
person's save) as fast as the server answers, for a fixed number of saves each after a
warm-up, in several rounds. The bench prints each round's saves per second and p99, then the
median round's figures, and checks afterwards that every save is in the store and in the
audit trail, and that the audit chain verifies.

Goal on the 2-core machine (issue 7): at least 300 saves/s with p99 under 100 ms. The clients
(and, for PostgreSQL, the database server) run on the same two cores as the application.

With ``--form dictionary`` the clients post a 40-item form of the protocol's own (issue 17:
ten each of integers, decimals, choices and texts, one instance added per save, 40 item rows
and their audit events per save) instead of the vital signs.

Run: ``.venv/bin/python bench/bench_web.py`` (``--saves N`` per client per round,
``--rounds``, ``--workers``, ``--backend``, ``--form vitals|dictionary``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlencode

import httpx2
import sqlalchemy as sa

from alstrial.protocol import reference_protocol_text
from alstrial.services import (
    SubjectFacts,
    add_site,
    create_study,
    enrol_subject,
    register_subject,
    screen_subject,
    verify_audit_trail,
)
from alstrial.services.accounts import create_account
from alstrial.store import make_engine, make_session_factory
from alstrial.store.audit import AuditEvent
from alstrial.store.migrate import upgrade_to_head
from alstrial.store.models import FormInstance, ItemValue, VitalSigns
from alstrial.vocabulary import DiagnosticCategory, OnsetRegion, Sex

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.machine import cpu_model, machine_times, process_tree_cpu

CLIENTS = 16
_T = TypeVar("_T")
PASSWORD = "bench password 123"
POSTGRES = os.environ.get(
    "ALSTRIAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


#: The protocol's own 40-item form (``--form dictionary``), scheduled at D0.
def _dictionary_protocol() -> str:
    fields = []
    for n in range(10):
        fields.append(
            f'[[forms.fields]]\nname = "count_{n}"\nlabel = "Count {n}"\n'
            'type = "integer"\nrequired = true\nmin = 0\nmax = 1000\n'
        )
        fields.append(
            f'[[forms.fields]]\nname = "level_{n}"\nlabel = "Level {n}"\n'
            'type = "decimal"\nunit = "mg/dL"\ndecimals = 1\nmin = 0\nmax = 500\n'
        )
        fields.append(
            f'[[forms.fields]]\nname = "grade_{n}"\nlabel = "Grade {n}"\n'
            'type = "choice"\nrequired = true\nchoices = [{code = "0", label = "none"}, '
            '{code = "1", label = "mild"}, {code = "2", label = "severe"}]\n'
        )
        fields.append(
            f'[[forms.fields]]\nname = "note_{n}"\nlabel = "Note {n}"\n'
            'type = "text"\nmax_length = 200\n'
        )
    text = reference_protocol_text().replace(
        'assessments = ["administration", "vitals", "adverse_events"]',
        'assessments = ["administration", "vitals", "adverse_events", "bench40"]',
        1,
    )
    form = '\n[[forms]]\nname = "bench40"\ntitle = "Forty items"\nrepeating = true\n\n'
    return text + form + "\n".join(fields)  # fmt: skip


def prepare(url: str, form: str = "vitals") -> None:
    """A study with one enrolled subject per client, and a coordinator account."""
    engine = make_engine(url)
    upgrade_to_head(engine)
    enrolment = date.today() - timedelta(days=120)
    protocol = _dictionary_protocol() if form == "dictionary" else reference_protocol_text()
    with make_session_factory(engine)() as session:
        create_study(session, actor="bench", protocol_text=protocol)
        add_site(session, actor="bench", code="A", name="Site A")
        create_account(
            session,
            actor="bench",
            username="coord",
            role="coordinator",
            sites=["A"],
            password=PASSWORD,
        )
        for n in range(CLIENTS):
            code = f"B{n:02d}"
            register_subject(
                session,
                actor="bench",
                facts=SubjectFacts(
                    study_code=code,
                    site_code="A",
                    sex=Sex.MALE,
                    age_years=55,
                    onset_region=OnsetRegion.LIMB,
                    riluzole=True,
                    height_cm=175,
                    weight_kg=70,
                    onset_date=enrolment - timedelta(days=400),
                    diagnostic_category=DiagnosticCategory.DEFINITE,
                ),
            )
            screen_subject(
                session,
                actor="bench",
                subject_code=code,
                screening_date=enrolment,
                data={
                    "familial_als": False,
                    "alsfrs_total": 38,
                    "fvc_percent_predicted": 80.0,
                    "concomitant_disease": False,
                    "immunotherapy_last_6_months": False,
                },
            )
            enrol_subject(
                session,
                actor="bench",
                subject_code=code,
                arm_code="IV",
                enrolment_date=enrolment,
                planned_administration_date=enrolment + timedelta(days=50),
            )
    engine.dispose()


def serve(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    """The application in its own process(es), as ``alstrial serve --workers`` runs it."""
    alstrial = str(Path(sys.executable).parent / "alstrial")
    command = [alstrial, "serve", "--port", str(port), "--workers", str(workers)]
    command += ["--no-access-log", "--database", url]
    env = os.environ | {"ALSTRIAL_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnop"}
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start")


def login(base: str) -> tuple[str, str]:
    """A fresh session of the coordinator: its cookie header and CSRF token (not timed)."""
    with httpx2.Client(base_url=base, timeout=30) as http:
        form = http.get("/login").text
        token = form.split('name="csrf" value="')[1].split('"')[0]
        http.post("/login", data={"username": "coord", "password": PASSWORD, "csrf": token})
        page = http.get("/password").text
        cookie = "; ".join(f"{name}={value}" for name, value in http.cookies.items())
    return cookie, page.split('name="csrf" value="')[1].split('"')[0]


def _body(form: str, csrf: str, n: int, day0: date) -> bytes:
    """One save's form body: the vital signs, or the 40 items."""
    if form == "dictionary":
        values: dict[str, str] = {"csrf": csrf}
        for k in range(10):
            values |= {
                f"count_{k}": str((n + k) % 1000),
                f"level_{k}": f"{(n * 7 + k) % 500}.5",
                f"grade_{k}": str((n + k) % 3),
                f"note_{k}": f"note {n} {k}",
            }
        return urlencode(values).encode()
    return urlencode(
        {
            "csrf": csrf,
            "measured_at": datetime.combine(day0, clock(9, n % 60)).isoformat(),
            "systolic_mmhg": str(110 + n % 20),
            "diastolic_mmhg": "70",
            "heart_rate_bpm": "72",
            "temperature_c": "36.6",
        }
    ).encode()


async def client(port: int, requests: list[bytes], warmup: int) -> list[float]:
    """Send the prepared ``requests`` one after the other on one keep-alive connection, as a
    browser does; the latencies in ms after the first ``warmup``. The client speaks HTTP/1.1
    over asyncio streams with its requests written beforehand, so that it takes little of the
    two cores the server runs on (its CPU per save is printed with the figures)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    latencies = []
    for n, request in enumerate(requests):
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        answer = await reader.readexactly(length)
        elapsed = (time.perf_counter() - started) * 1000
        if status != 303:
            raise RuntimeError(f"save refused ({status}): {answer[:300]!r}")
        if n >= warmup:
            latencies.append(elapsed)
    writer.close()
    return latencies


def _requests(subject: str, session: tuple[str, str], count: int, form: str) -> list[bytes]:
    """One client's ``count`` saves as complete HTTP requests (written before the clock)."""
    cookie, csrf = session
    day0 = date.today() - timedelta(days=70)
    path = (
        f"/subjects/{subject}/crf/bench40?visit=D0"
        if form == "dictionary"
        else f"/subjects/{subject}/visits/D0/vitals"
    )
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Cookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    )
    requests = []
    for n in range(count):
        body = _body(form, csrf, n, day0)
        requests.append(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return requests


class Round(NamedTuple):
    """One round's latencies (ms), wall time (s), the clients' and the server's CPU time (s),
    and the machine's busy and stolen shares of its cores' time (None off Linux)."""

    latencies: list[float]
    wall: float
    clients_cpu: float
    server_cpu: float | None
    busy: float | None
    stolen: float | None


async def load(port: int, saves: int, warmup: int, form: str, server: int) -> Round:
    """One round against the server whose process is ``server``."""
    sessions = [login(f"http://127.0.0.1:{port}") for _ in range(CLIENTS)]
    requests = [_requests(f"B{n:02d}", sessions[n], warmup + saves, form) for n in range(CLIENTS)]
    machine, server_cpu = machine_times(), process_tree_cpu(server)
    started, cpu = time.perf_counter(), time.process_time()
    results = await asyncio.gather(*(client(port, r, warmup) for r in requests))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    machine_after, server_after = machine_times(), process_tree_cpu(server)
    busy = stolen = None
    if machine is not None and machine_after is not None:
        spent = [after - before for before, after in zip(machine, machine_after, strict=True)]
        busy, stolen = spent[0] / sum(spent), spent[2] / sum(spent)
    used = None if server_cpu is None or server_after is None else server_after - server_cpu
    return Round([x for r in results for x in r], wall, cpu, used, busy, stolen)


def _run(round_: Coroutine[Any, Any, _T]) -> _T:
    """Run a round on uvloop where it exists (as the server does): the clients' event loop
    then takes less of the cores the server needs."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        return asyncio.run(round_)
    return uvloop.run(round_)


def measure(
    label: str, url: str, saves: int, warmup: int, workers: int, rounds: int, form: str
) -> None:
    """``rounds`` rounds of load on one server and store; each round's figures, then the
    median round's (the machine is shared: one round can be slowed by a neighbour)."""
    prepare(url, form)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = serve(url, port, workers)
    figures = []
    try:
        for _ in range(rounds):
            result = _run(load(port, saves, warmup, form, server.pid))
            latencies, count = result.latencies, CLIENTS * (saves + warmup)
            # Throughput over the whole round (warm-up included) is the conservative figure.
            rate = count / result.wall
            p99 = statistics.quantiles(latencies, n=100)[98]
            figures.append((rate, statistics.median(latencies), p99, max(latencies)))
            usage = f"clients' CPU {result.clients_cpu / count * 1000:.2f} ms per save"
            if result.server_cpu is not None:
                usage += f", server's {result.server_cpu / count * 1000:.2f}"
            if result.busy is not None and result.stolen is not None:
                usage += f"; cores busy {result.busy:.0%}, stolen {result.stolen:.0%}"
            print(f"{label:10s} round {len(figures)}: {rate:5.0f} saves/s  p99 {p99:6.1f} ms")
            print(f"{'':10s}   ({usage})")
    finally:
        server.terminate()
        server.wait(timeout=10)
    engine = make_engine(url)
    total = rounds * CLIENTS * (saves + warmup)
    with make_session_factory(engine)() as session:
        model, entity = (
            (FormInstance, "form_instance") if form == "dictionary" else (VitalSigns, "vital_signs")
        )
        rows = session.scalar(sa.select(sa.func.count()).select_from(model))
        audited = session.scalar(
            sa.select(sa.func.count(sa.distinct(AuditEvent.record_id))).where(
                AuditEvent.entity == entity, AuditEvent.action == "insert"
            )
        )
        if form == "dictionary":
            items = session.scalar(sa.select(sa.func.count()).select_from(ItemValue))
            if items != rows * 40:
                raise SystemExit(f"{label}: {items} item values for {rows} forms of 40 items")
        verified = verify_audit_trail(session).ok
    engine.dispose()
    rate, p50, p99, worst = sorted(figures)[len(figures) // 2]
    print(
        f"{label:10s} median round: {rate:5.0f} saves/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms"
        f"  max {worst:6.1f} ms  ({total} saves: stored {rows}, audited {audited}, audit chain "
        f"{'verifies' if verified else 'BROKEN'})"
    )
    if rows != total or audited != total or not verified:
        raise SystemExit(f"{label}: a save is missing from the store or the audit trail")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=150, help="measured saves per client")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured saves per client")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of load (median shown)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--form", choices=["vitals", "dictionary"], default="vitals")
    args = parser.parse_args()

    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores")
    print(
        f"web form saves: {CLIENTS} concurrent clients, "
        f"{'40-item dictionary form' if args.form == 'dictionary' else 'vital-signs form'}, "
        f"{args.workers} uvicorn worker(s)"
    )
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            measure("SQLite", url, args.saves, args.warmup, args.workers, args.rounds, args.form)
    if args.backend in ("postgresql", "both"):
        admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
        name = "alstrial_bench_web"
        try:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        except sa.exc.OperationalError as error:
            print(f"PostgreSQL skipped: no server at {POSTGRES} ({error.orig})")
            return
        try:
            url = sa.make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
            measure(
                "PostgreSQL", url, args.saves, args.warmup, args.workers, args.rounds, args.form
            )
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
