"""Small builders shared by the service tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from alstrial.exceptions import AlstrialError
from alstrial.services import (
    BatchResults,
    SubjectFacts,
    enrol_subject,
    record_administration,
    record_flow_results,
    record_product_batch,
    register_subject,
    screen_subject,
    sign_release,
)
from alstrial.store.audit import AuditEvent
from alstrial.vocabulary import DiagnosticCategory, OnsetRegion, Sex

ACTOR = "tester"
ENROLMENT = date(2024, 1, 8)
DAY0 = ENROLMENT + timedelta(days=50)
ELIGIBLE = {
    "familial_als": False,
    "alsfrs_total": 38,
    "fvc_percent_predicted": 80.0,
    "concomitant_disease": False,
    "immunotherapy_last_6_months": False,
}
FULL_ITEMS = {f"item_{i}": 4 for i in range(1, 13) if i != 5} | {"item_5a": 4}


# Security state, not trial data: a refused password counts an attempt there by design.
SECURITY_TABLES = {"login_throttle", "web_session"}


def row_counts(session: Session) -> dict[str, int]:
    """Rows in every trial table, audit trail included: a refused call must change none."""
    session.rollback()
    tables = set(sa.inspect(session.get_bind()).get_table_names()) - SECURITY_TABLES
    return {t: session.execute(sa.text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one() for t in tables}


def audit_count(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) or 0


def register(
    session: Session,
    code: str = "S01",
    *,
    site: str = "A",
    weight: float = 60.0,
    sex: Sex = Sex.MALE,
) -> None:
    register_subject(
        session,
        actor=ACTOR,
        facts=SubjectFacts(
            study_code=code,
            site_code=site,
            sex=sex,
            age_years=50,
            onset_region=OnsetRegion.LIMB,
            riluzole=True,
            height_cm=175,
            weight_kg=weight,
            onset_date=date(2022, 6, 1),
            diagnosis_date=date(2023, 1, 1),
            diagnostic_category=DiagnosticCategory.DEFINITE,
        ),
    )


def enrolled(
    session: Session,
    code: str = "S01",
    *,
    arm: str = "IV",
    weight: float = 60.0,
    site: str = "A",
    sex: Sex = Sex.MALE,
) -> None:
    """Register, screen (eligible) and enrol a subject."""
    register(session, code, weight=weight, site=site, sex=sex)
    screen_subject(session, actor=ACTOR, subject_code=code, screening_date=ENROLMENT, data=ELIGIBLE)
    enrol_subject(
        session,
        actor=ACTOR,
        subject_code=code,
        arm_code=arm,
        enrolment_date=ENROLMENT,
        planned_administration_date=DAY0,
    )


#: Percent positive of a conforming MSC product (every ISCT marker tested, and the reference
#: protocol's panel: it adds CD44 and CD11b).
CONFORMING_IDENTITY = {
    "CD73": 99.1,
    "CD90": 98.7,
    "CD105": 97.2,
    "CD44": 99.0,
    "CD34": 0.4,
    "CD45": 0.6,
    "CD11b": 0.3,
    "CD14": 0.5,
    "CD19": 0.2,
    "HLA-DR": 0.8,
}


def batch(
    session: Session, code: str = "S01", *, cells: float = 1.2e8, release: bool = True
) -> str:
    """Record a batch made from ``code``'s marrow; by default with flow results and released."""
    batch_code = f"B-{code}"
    record_product_batch(
        session,
        actor=ACTOR,
        subject_code=code,
        results=BatchResults(batch_code, cells, 97.0, "NC", "NC", 0.125, True, "46XY"),
    )
    if release:
        record_flow_results(
            session, actor=ACTOR, batch_code=batch_code, percent_positive=CONFORMING_IDENTITY
        )
        sign_release(
            session,
            actor=ACTOR,
            batch_code=batch_code,
            decision="released",
            reason="all release tests pass",
        )
    return batch_code


def administer(session: Session, code: str = "S01", *, route: str = "intravenous") -> None:
    record_administration(
        session,
        actor=ACTOR,
        subject_code=code,
        administered_at=datetime.combine(DAY0, time(9), tzinfo=UTC),
        route=route,
        product_batch=batch(session, code),
        cells_given=1.2e8,
        volume_ml=5,
    )


def refused(
    session: Session, error: type[AlstrialError], call: Callable[[], Any], **expected: object
) -> AlstrialError:
    """Run a service call that must fail; check the error's fields and that nothing changed."""
    before = row_counts(session)
    with pytest.raises(error) as caught:
        call()
    for key, value in expected.items():
        assert getattr(caught.value, key) == value, key
    assert row_counts(session) == before
    return caught.value


def withdraw_and_close_visits(session: Session, code: str = "S01") -> tuple[str, ...]:
    """Record a withdrawal 30 days after enrolment and mark missed the visits that the
    casebook signature then waits for; the visits marked."""
    from alstrial.services import casebook_state, mark_visit_missed, record_disposition
    from alstrial.vocabulary import DispositionStatus

    record_disposition(
        session,
        actor=ACTOR,
        subject_code=code,
        status=DispositionStatus.WITHDRAWN,
        disposition_date=ENROLMENT + timedelta(days=30),
        reason="withdrew consent",
    )
    pending = casebook_state(session, code).pending_visits
    for visit in pending:
        mark_visit_missed(
            session, actor=ACTOR, subject_code=code, visit_code=visit, reason="withdrawn"
        )
    return pending


def post_login(client: Any, username: str, password: str) -> Any:
    """Log in through the form as a browser does: GET /login for its double-submit CSRF token
    (a cookie and a hidden field), then POST it back with the credentials."""
    client.cookies.clear()
    form = client.get("/login").text
    token = form.split('name="csrf" value="')[1].split('"')[0]
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf": token},
        follow_redirects=False,
    )


def run_cli(*args: str, env: dict[str, str] | None = None) -> Any:
    """``alstrial ARGS`` as a user runs it: a fresh process (its exit code, stdout, stderr)."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "alstrial.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def free_port() -> int:
    """A TCP port nothing listens on now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_served(server: Any, port: int, timeout: float = 30) -> None:
    """Wait until the server process ``server`` (a ``subprocess.Popen``) answers on
    ``port``; fail the test if it exits or does not answer within ``timeout`` seconds."""
    import time as clock

    deadline = clock.monotonic() + timeout
    while not port_answers(port):
        assert server.poll() is None, "the server exited"
        assert clock.monotonic() < deadline, "the server did not start"
        clock.sleep(0.1)


def port_answers(port: int) -> bool:
    """Whether a server accepts connections on ``port`` of this machine."""
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
