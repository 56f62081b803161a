"""Benchmark: the record status dashboard at 1,000 subjects (issue 15, item 1).

Goal: < 300 ms of server time for the board of 1,000 subjects x the reference protocol's 10
visits x its forms (``services.status_board``), and for the page a user sees (100 subjects)
rendered to HTML through the web application.

Data: one subject is entered through the services (ALSFRS-R, spirometry, vital signs and ALT
at every visit that schedules them, dated on the planned day; a query, a verification, a
not-done mark and a signature), then cloned row by row (new ids, study codes and foreign
keys) to the number of subjects, in a real SQLite file. Medians of 7 runs.
Run: ``.venv/bin/python bench/bench_status_board.py [--subjects 1000]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_model  # noqa: E402

from alstrial.protocol import reference_protocol_text  # noqa: E402
from alstrial.services import (  # noqa: E402
    SubjectFacts,
    enrol_subject,
    open_query,
    record_alsfrs,
    record_lab,
    record_spirometry,
    register_subject,
    screen_subject,
)
from alstrial.services.accounts import create_account  # noqa: E402
from alstrial.services.completeness import mark_assessment_not_done  # noqa: E402
from alstrial.services.lookup import current_protocol  # noqa: E402
from alstrial.services.safety import VitalsReading, record_vitals  # noqa: E402
from alstrial.services.setup import add_site, create_study  # noqa: E402
from alstrial.services.status_board import status_board  # noqa: E402
from alstrial.services.verification import verify_source  # noqa: E402
from alstrial.store import make_engine, make_session_factory  # noqa: E402
from alstrial.store.migrate import upgrade_to_head  # noqa: E402
from alstrial.store.models import Visit  # noqa: E402
from alstrial.vocabulary import DiagnosticCategory, OnsetRegion, Sex  # noqa: E402

RUNS = 7
PASSWORD = "correct horse battery"
ITEMS = {f"item_{i}": 3 for i in range(1, 13) if i != 5} | {"item_5a": 3}
#: Tables cloned for each copy, parents first; rows follow subject_id / visit_id.
CLONED = (
    "subject",
    "screening",
    "enrolment",
    "visit",
    "alsfrs_assessment",
    "spirometry",
    "vital_signs",
    "lab_result",
    "data_query",
    "source_verification",
    "assessment_not_done",
)


def _template(session: object) -> None:
    """One subject entered through the services, as a site would."""
    enrolment = date.today() - timedelta(days=500)
    register_subject(
        session,  # type: ignore[arg-type]
        actor="bench",
        facts=SubjectFacts(
            study_code="T0000",
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
        session,  # type: ignore[arg-type]
        actor="bench",
        subject_code="T0000",
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
        session,  # type: ignore[arg-type]
        actor="bench",
        subject_code="T0000",
        arm_code="IV",
        enrolment_date=enrolment,
        planned_administration_date=enrolment + timedelta(days=50),
    )
    visits = session.scalars(sa.select(Visit).order_by(Visit.day)).all()  # type: ignore[attr-defined]
    scheduled_at = {v.code: v.assessments for v in current_protocol(session).visits}  # type: ignore[arg-type]
    for visit in visits:
        if visit.day < -50 or visit.planned_date > date.today():
            continue
        on, code = visit.planned_date, visit.code
        scheduled = scheduled_at[code]
        common = {"actor": "bench", "subject_code": "T0000", "visit_code": code}
        if "alsfrs_r" in scheduled:
            rating = record_alsfrs(session, assessment_date=on, items=ITEMS, **common)  # type: ignore[arg-type]
        if "spirometry" in scheduled:
            record_spirometry(session, assessment_date=on, fvc_litres=3.1, **common)  # type: ignore[arg-type]
        if "vitals" in scheduled:
            moment = datetime(on.year, on.month, on.day, 10, tzinfo=UTC)
            record_vitals(session, reading=VitalsReading(moment, 120, 80, 70), **common)  # type: ignore[arg-type]
        if "labs" in scheduled:
            record_lab(session, sample_date=on, analyte="ALT", value=30, unit="U/L", **common)  # type: ignore[arg-type]
    mark_assessment_not_done(
        session,  # type: ignore[arg-type]
        actor="bench",
        subject_code="T0000",
        visit_code=next(v.code for v in visits if "mri" in scheduled_at[v.code]),
        assessment="mri",
        reason="claustrophobia",
    )
    verify_source(
        session, actor="bench", subject_code="T0000", visit_code=visits[0].code, form="alsfrs"
    )  # type: ignore[arg-type]
    open_query(
        session,  # type: ignore[arg-type]
        actor="mon",
        subject_code="T0000",
        record_table="alsfrs_assessment",
        record_id=str(rating.id),
        field="item_3",
        text="check",
    )


def _clone(engine: sa.Engine, copies: int) -> None:
    """Copies of the template subject, row by row, with new ids and foreign keys."""
    meta = sa.MetaData()
    meta.reflect(engine, only=CLONED)
    with engine.begin() as connection:
        rows = {
            name: [dict(r) for r in connection.execute(sa.select(meta.tables[name])).mappings()]
            for name in CLONED
        }
        next_id = {
            name: (connection.execute(sa.select(sa.func.max(meta.tables[name].c.id))).scalar() or 0)
            + 1
            for name in CLONED
        }
        for n in range(1, copies):
            subject_map: dict[int, int] = {}
            visit_map: dict[int, int] = {}
            record_maps: dict[str, dict[int, int]] = {}
            for name in CLONED:
                batch = []
                for row in rows[name]:
                    new = dict(row)
                    new["id"] = next_id[name]
                    next_id[name] += 1
                    if name == "subject":
                        subject_map[row["id"]] = new["id"]
                        new["study_code"] = f"T{n:04d}"
                    if name == "visit":
                        visit_map[row["id"]] = new["id"]
                    record_maps.setdefault(name, {})[row["id"]] = new["id"]
                    if "subject_id" in new:
                        new["subject_id"] = subject_map[row["subject_id"]]
                    if "visit_id" in new:
                        new["visit_id"] = visit_map[row["visit_id"]]
                    if name == "data_query":
                        new["record_id"] = str(
                            record_maps[row["record_table"]][int(row["record_id"])]
                        )
                    if name == "source_verification" and row["record_id"] is not None:
                        new["record_id"] = record_maps[row["record_table"]][row["record_id"]]
                    batch.append(new)
                if batch:
                    connection.execute(meta.tables[name].insert(), batch)


def _median(work: object) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subjects", type=int, default=1000)
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}")
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'board.db'}"
        engine = make_engine(url)
        upgrade_to_head(engine)
        factory = make_session_factory(engine)
        with factory() as session:
            create_study(session, actor="bench", protocol_text=reference_protocol_text())
            add_site(session, actor="bench", code="A", name="Site A")
            for username, role in (("mon", "monitor"), ("admin-b", "administrator")):
                create_account(
                    session,
                    actor="bench",
                    username=username,
                    role=role,
                    sites=["A"] if role == "monitor" else [],
                    password=PASSWORD,
                )
            _template(session)
        started = time.perf_counter()
        _clone(engine, args.subjects)
        print(f"{args.subjects:,} subjects cloned in {time.perf_counter() - started:.1f} s")
        with factory() as session:
            board = status_board(session)
            cells = sum(c is not None for r in board.rows for c in r.cells)
            print(
                f"board: {board.total_subjects:,} subjects x {len(board.columns)} visit-form "
                f"columns, {cells:,} cells; counts {board.counts}"
            )
            whole = _median(lambda: status_board(session))
            page = _median(lambda: status_board(session, limit=100))
        print(f"status_board, all {args.subjects:,} subjects: {whole * 1000:.0f} ms (median)")
        print(f"status_board, one page of 100: {page * 1000:.0f} ms (median)")
        from fastapi.testclient import TestClient
        from tests.helpers import post_login

        from alstrial.web.app import create_app

        app = create_app(
            engine, secret_key="bench-secret-key-long-enough-0123456789ab", secure_cookies=False
        )
        with TestClient(app) as client:
            assert post_login(client, "mon", PASSWORD).status_code == 303
            assert client.get("/status").status_code == 200
            html = _median(lambda: client.get("/status"))
            api = _median(lambda: client.get("/api/status", params={"limit": 100}))
        print(
            f"GET /status (page of 100, HTML): {html * 1000:.0f} ms; GET /api/status: "
            f"{api * 1000:.0f} ms (medians, in-process client)"
        )
        goal = "holds" if max(whole, html) < 0.3 else "does NOT hold"
        print(f"goal < 300 ms: {goal}")


if __name__ == "__main__":
    main()
