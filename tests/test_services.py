"""Each service refuses bad input with a typed error naming what is wrong, writing nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError, NotFoundError, ValidationError
from alstrial.services import (
    AdverseEventReport,
    enrol_subject,
    record_administration,
    record_alsfrs,
    record_disposition,
    record_milestone,
    record_spirometry,
    report_adverse_event,
    screen_subject,
    subject_visits,
)
from alstrial.store import make_session_factory
from alstrial.store.models import AlsfrsAssessment, Subject, Visit
from alstrial.vocabulary import (
    AdverseEventOutcome,
    DispositionStatus,
    MilestoneKind,
    Relatedness,
    VisitStatus,
)
from tests.helpers import (
    ACTOR,
    DAY0,
    ELIGIBLE,
    ENROLMENT,
    FULL_ITEMS,
    administer,
    batch,
    enrolled,
    refused,
    register,
)


def test_enrolment_schedules_every_protocol_visit(session: Session) -> None:
    enrolled(session)
    visits = subject_visits(session, "S01")
    assert [v.code for v in visits] == [
        "W-6",
        "W-4",
        "W-2",
        "W-1",
        "D0",
        "D1",
        "M2",
        "M4",
        "M6",
        "M12",
    ]
    w6 = visits[0]
    assert w6.planned_date == DAY0 - timedelta(days=42)
    assert (w6.window_start, w6.window_end) == (
        DAY0 - timedelta(days=45),
        DAY0 - timedelta(days=39),
    )
    assert all(v.status is VisitStatus.SCHEDULED for v in visits)


def test_ineligible_subject_is_refused_without_override(session: Session) -> None:
    register(session)
    _, result = screen_subject(
        session,
        actor=ACTOR,
        subject_code="S01",
        screening_date=ENROLMENT,
        data=ELIGIBLE | {"fvc_percent_predicted": 35.0},
    )
    assert not result.eligible
    assert [r.id for r in result.failing] == ["I5"]

    def enrol(reason: str | None = None) -> Any:
        return enrol_subject(
            session,
            actor=ACTOR,
            subject_code="S01",
            arm_code="IT",
            enrolment_date=ENROLMENT,
            planned_administration_date=DAY0,
            override_reason=reason,
        )

    error = refused(session, ConflictError, enrol, subject="S01", field="eligibility")
    assert "I5" in error.message
    enrol("investigator judged FVC 35 % an artefact of a poor effort")
    assert len(subject_visits(session, "S01")) == 10


def test_missing_screening_data_makes_a_subject_ineligible(session: Session) -> None:
    register(session)
    data = {k: v for k, v in ELIGIBLE.items() if k != "alsfrs_total"}
    _, result = screen_subject(
        session, actor=ACTOR, subject_code="S01", screening_date=ENROLMENT, data=data
    )
    assert [(r.id, r.status.value) for r in result.failing] == [("I4", "missing")]


def test_enrolment_refusals(session: Session) -> None:
    register(session)
    refused(
        session,
        ConflictError,
        lambda: enrol_subject(
            session,
            actor=ACTOR,
            subject_code="S01",
            arm_code="IV",
            enrolment_date=ENROLMENT,
            planned_administration_date=DAY0,
        ),
        subject="S01",
        form="enrolment",
    )
    screen_subject(
        session, actor=ACTOR, subject_code="S01", screening_date=ENROLMENT, data=ELIGIBLE
    )
    refused(
        session,
        ValidationError,
        lambda: enrol_subject(
            session,
            actor=ACTOR,
            subject_code="S01",
            arm_code="IM",
            enrolment_date=ENROLMENT,
            planned_administration_date=DAY0,
        ),
        field="arm",
        value="IM",
        allowed="IV, IT",
    )
    refused(
        session,
        ValidationError,
        lambda: enrol_subject(
            session,
            actor=ACTOR,
            subject_code="S01",
            arm_code="IV",
            enrolment_date=ENROLMENT,
            planned_administration_date=ENROLMENT + timedelta(days=10),
        ),
        field="planned_administration_date",
    )
    refused(
        session,
        NotFoundError,
        lambda: enrol_subject(
            session,
            actor=ACTOR,
            subject_code="S99",
            arm_code="IV",
            enrolment_date=ENROLMENT,
            planned_administration_date=DAY0,
        ),
        subject="S99",
    )


def test_alsfrs_r_is_validated_before_anything_is_written(session: Session) -> None:
    enrolled(session)
    day = DAY0 - timedelta(days=42)

    def record(items: dict[str, int | None], visit: str = "W-6", when: date = day) -> Any:
        return record_alsfrs(
            session,
            actor=ACTOR,
            subject_code="S01",
            visit_code=visit,
            assessment_date=when,
            items=items,
        )

    refused(
        session,
        ValidationError,
        lambda: record(FULL_ITEMS | {"item_7": 5}),
        subject="S01",
        form="alsfrs_r",
        field="item_7",
        value=5,
    )
    refused(session, ValidationError, lambda: record(FULL_ITEMS | {"item_5b": 3}), field="item_5")
    refused(session, ValidationError, lambda: record(FULL_ITEMS | {"item_9": None}), field="item_9")
    refused(
        session, ValidationError, lambda: record(FULL_ITEMS, visit="D0"), field="visit", value="D0"
    )
    refused(session, NotFoundError, lambda: record(FULL_ITEMS, visit="M3"), value="M3")
    refused(
        session,
        ValidationError,
        lambda: record(FULL_ITEMS, when=date.today() + timedelta(days=1)),
        field="date",
    )
    record(FULL_ITEMS)
    visit = session.scalars(sa.select(Visit).where(Visit.code == "W-6")).one()
    assert (visit.status, visit.actual_date, visit.window_status) == (
        VisitStatus.DONE,
        day,
        "in_window",
    )


def test_correcting_a_rating_needs_a_reason_and_is_audited(session: Session) -> None:
    enrolled(session)
    day = DAY0 - timedelta(days=42)
    record_alsfrs(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="W-6",
        assessment_date=day,
        items=FULL_ITEMS,
    )
    changed = FULL_ITEMS | {"item_1": 3}
    refused(
        session,
        ConflictError,
        lambda: record_alsfrs(
            session,
            actor=ACTOR,
            subject_code="S01",
            visit_code="W-6",
            assessment_date=day,
            items=changed,
        ),
        field="reason",
    )
    record_alsfrs(
        session,
        actor="monitor",
        subject_code="S01",
        visit_code="W-6",
        assessment_date=day,
        items=changed,
        reason="source says 3",
    )
    rating = session.scalars(sa.select(AlsfrsAssessment)).one()
    assert (rating.item_1, rating.total) == (3, 47)


def test_spirometry_refusals(session: Session) -> None:
    enrolled(session)
    day = DAY0 - timedelta(days=42)

    def record(litres: float, percent: float | None = 80.0, equation: str = "device") -> Any:
        return record_spirometry(
            session,
            actor=ACTOR,
            subject_code="S01",
            visit_code="W-6",
            assessment_date=day,
            fvc_litres=litres,
            percent_predicted=percent,
            equation=equation,
        )

    error = refused(session, ValidationError, lambda: record(82.0), field="fvc_litres", value=82.0)
    assert "% predicted entered as litres" in error.message
    refused(session, ValidationError, lambda: record(0.0), field="fvc_litres")
    refused(session, ValidationError, lambda: record(3.1, 250.0), field="percent_predicted")
    refused(session, ValidationError, lambda: record(3.1, 80.0, "knudson"), field="equation")
    assert record(3.1).fvc_litres == 3.1


def test_administration_refusals(session: Session) -> None:
    enrolled(session, weight=60.0)
    enrolled(session, "S02")
    other = batch(session, "S02")
    own = batch(session, "S01")
    at = datetime.combine(DAY0, time(9), tzinfo=UTC)

    def give(**change: Any) -> Any:
        values = {
            "administered_at": at,
            "route": "intravenous",
            "product_batch": own,
            "cells_given": 1.2e8,
            "volume_ml": 5.0,
        } | change
        return record_administration(session, actor=ACTOR, subject_code="S01", **values)

    refused(session, ValidationError, lambda: give(route="intrathecal"), field="route")
    error = refused(
        session, ValidationError, lambda: give(product_batch=other), field="product_batch"
    )
    assert "chain of identity" in error.message
    refused(session, ValidationError, lambda: give(cells_given=1.5e8), field="cells_given")
    refused(
        session,
        ValidationError,
        lambda: give(administered_at=at.replace(tzinfo=None)),
        field="administered_at",
    )
    give()
    refused(session, ConflictError, give, form="administration")


def test_adverse_event_refusals(session: Session) -> None:
    enrolled(session)
    administer(session)
    good = AdverseEventReport(
        term="Headache",
        category="Neurological",
        onset_date=DAY0,
        end_date=DAY0 + timedelta(days=1),
        severity_grade=1,
        serious=False,
        relatedness=Relatedness.UNLIKELY,
        outcome=AdverseEventOutcome.RECOVERED,
    )

    def report(**change: Any) -> Any:
        values = good.__dict__ | change
        return report_adverse_event(
            session, actor=ACTOR, subject_code="S01", report=AdverseEventReport(**values)
        )

    refused(
        session, ValidationError, lambda: report(severity_grade=7), field="severity_grade", value=7
    )
    refused(
        session,
        ValidationError,
        lambda: report(end_date=DAY0 - timedelta(days=1)),
        field="end_date",
    )
    refused(session, ValidationError, lambda: report(severity_grade=5), field="outcome")
    refused(session, ValidationError, lambda: report(term="  "), field="term")
    assert report().term == "Headache"


def test_milestone_and_disposition_refusals(session: Session) -> None:
    enrolled(session)
    when = DAY0 + timedelta(days=100)
    refused(
        session,
        ConflictError,
        lambda: record_disposition(
            session,
            actor=ACTOR,
            subject_code="S01",
            status=DispositionStatus.DIED,
            disposition_date=when,
            reason="respiratory failure",
        ),
        field="status",
    )
    refused(
        session,
        ValidationError,
        lambda: record_disposition(
            session,
            actor=ACTOR,
            subject_code="S01",
            status=DispositionStatus.WITHDRAWN,
            disposition_date=when,
        ),
        field="reason",
    )
    refused(
        session,
        ValidationError,
        lambda: record_milestone(
            session,
            actor=ACTOR,
            subject_code="S01",
            kind=MilestoneKind.GASTROSTOMY,
            event_date=ENROLMENT - timedelta(days=1),
        ),
        field="event_date",
    )
    record_milestone(
        session,
        actor=ACTOR,
        subject_code="S01",
        kind=MilestoneKind.DEATH,
        event_date=when,
        cause="respiratory failure",
    )
    refused(
        session,
        ConflictError,
        lambda: record_milestone(
            session, actor=ACTOR, subject_code="S01", kind=MilestoneKind.DEATH, event_date=when
        ),
        field="kind",
    )
    record_disposition(
        session,
        actor=ACTOR,
        subject_code="S01",
        status=DispositionStatus.DIED,
        disposition_date=when,
        reason="respiratory failure",
    )


def test_subject_not_enrolled_cannot_be_rated(session: Session) -> None:
    register(session)
    refused(
        session,
        ConflictError,
        lambda: record_alsfrs(
            session,
            actor=ACTOR,
            subject_code="S01",
            visit_code="W-6",
            assessment_date=ENROLMENT,
            items=FULL_ITEMS,
        ),
        subject="S01",
    )


def test_lookups_follow_the_store(session: Session) -> None:
    """A subject whose insert was rolled back is not found, though this session looked it
    up (as an ORM object or as columns); a newly loaded protocol version is the current one
    at once."""
    import hashlib

    from alstrial.protocol import reference_protocol_text
    from alstrial.services.lookup import (
        current_protocol,
        find_subject,
        find_subject_ref,
        only_study,
    )
    from alstrial.store.audit import ACTOR_KEY
    from alstrial.store.models import ProtocolVersion
    from tests.helpers import register

    register(session, "S01")
    subject = find_subject(session, "S01")
    session.info[ACTOR_KEY] = ACTOR
    ghost = Subject(**{c: getattr(subject, c) for c in ("study_id", "site_id", "sex")})
    ghost.study_code, ghost.age_years, ghost.onset_region = "S99", 40, subject.onset_region
    ghost.riluzole, ghost.provenance = False, subject.provenance
    session.add(ghost)
    session.flush()
    assert find_subject(session, "S99") is ghost
    assert find_subject_ref(session, "S99") == (ghost.id, "S99", ghost.site_id)
    session.rollback()
    with pytest.raises(NotFoundError):
        find_subject(session, "S99")
    with pytest.raises(NotFoundError):  # its columns were remembered for the transaction only
        find_subject_ref(session, "S99")
    assert find_subject_ref(session, "S01") == (subject.id, "S01", subject.site_id)
    assert current_protocol(session).study.title
    text = reference_protocol_text().replace('title = "', 'title = "Amended: ', 1)
    session.info[ACTOR_KEY] = ACTOR
    session.add(
        ProtocolVersion(
            study_id=only_study(session).id,
            version="2",
            text=text,
            digest=hashlib.sha256(text.encode()).hexdigest(),
        )
    )
    session.commit()
    assert current_protocol(session).study.title.startswith("Amended: ")


def test_a_request_session_reads_the_protocol_once_and_sees_its_own_amendment(
    engine: Engine,
) -> None:
    """A web request's session keeps the protocol it read (one statement fewer per save);
    another session's amendment is seen by the next request, never by a session that does
    not keep it, and a version added in the keeping session clears what it kept."""
    import hashlib

    from alstrial.protocol import reference_protocol_text
    from alstrial.services.lookup import (
        current_protocol,
        only_study,
        remember_protocol_per_session,
    )
    from alstrial.store.audit import ACTOR_KEY
    from alstrial.store.models import ProtocolVersion

    factory = make_session_factory(engine)

    def amend(session: Session, title: str) -> None:
        text = reference_protocol_text().replace('title = "', f'title = "{title}: ', 1)
        session.info[ACTOR_KEY] = ACTOR
        session.add(
            ProtocolVersion(
                study_id=only_study(session).id,
                version=title,
                text=text,
                digest=hashlib.sha256(text.encode()).hexdigest(),
            )
        )
        session.commit()

    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with factory() as request, factory() as other, factory() as plain:
        remember_protocol_per_session(request)
        first = current_protocol(request)
        before = len(statements)
        assert current_protocol(request) is first
        assert len(statements) == before  # no statement: the protocol is kept
        amend(other, "Second")
        assert current_protocol(request) is first  # the request that began before it
        assert current_protocol(plain).study.title.startswith("Second: ")
        amend(request, "Third")
        assert current_protocol(request).study.title.startswith("Third: ")
    with factory() as next_request:
        remember_protocol_per_session(next_request)
        assert current_protocol(next_request).study.title.startswith("Third: ")
