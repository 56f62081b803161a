"""Queries, visit and casebook signatures through the services, on both back ends."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from alstrial.exceptions import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from alstrial.services import (
    answer_query,
    cancel_query,
    casebook_state,
    close_query,
    list_queries,
    open_query,
    query_threads,
    record_alsfrs,
    record_spirometry,
    record_visit_date,
    reopen_query,
    sign_casebook,
    sign_visit,
    verify_audit_trail,
)
from alstrial.services.accounts import create_account
from alstrial.services.completeness import mark_assessment_not_done, visit_completeness
from alstrial.store.audit import AuditEvent, audited_mappers
from alstrial.store.models import CasebookSignature, Subject, VisitSignature
from alstrial.store.signature_locks import casebook_subject_id
from alstrial.vocabulary import QueryStatus
from tests.helpers import (
    ACTOR,
    DAY0,
    FULL_ITEMS,
    enrolled,
    refused,
    withdraw_and_close_visits,
)

PASSWORD = "correct horse battery"
W6 = DAY0 - timedelta(days=42)


def accounts(session: Session) -> None:
    for username, role in (("inv", "investigator"), ("coord", "coordinator"), ("mon", "monitor")):
        create_account(
            session, actor=ACTOR, username=username, role=role, sites=["A"], password=PASSWORD
        )


def test_query_lifecycle(session: Session) -> None:
    enrolled(session)
    accounts(session)
    rating = record_alsfrs(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="W-6",
        assessment_date=W6,
        items=FULL_ITEMS,
    )
    query = open_query(
        session,
        actor="mon",
        subject_code="S01",
        record_table="alsfrs_assessment",
        record_id=str(rating.id),
        field="item_3",
        text="Source shows 3 for swallowing; please check",
    )
    refused(
        session,
        ConflictError,
        lambda: close_query(session, actor="mon", query_id=query.id),
        field="status",
    )
    answer_query(session, actor="coord", query_id=query.id, answer="Corrected to 3")
    assert [q.id for q in list_queries(session, status=QueryStatus.ANSWERED)] == [query.id]
    close_query(session, actor="mon", query_id=query.id)
    assert query.status is QueryStatus.CLOSED
    refused(
        session,
        ConflictError,
        lambda: answer_query(session, actor="coord", query_id=query.id, answer="again"),
        field="status",
    )
    # Issue 15: the answer did not settle it: the monitor re-opens, with the reason.
    reopen_query(session, actor="mon", query_id=query.id, reason="source still shows 2")
    assert query.status is QueryStatus.OPEN
    # A query on a record or field that does not exist is refused, with nothing stored.
    for table, record, field, error in (
        ("alsfrs_assessment", "999", "item_3", NotFoundError),
        ("alsfrs_assessment", str(rating.id), "item_99", ValidationError),
        ("app_user", "1", "username", ValidationError),
        ("alsfrs_assessment", "x", "item_3", NotFoundError),
    ):
        refused(
            session,
            error,
            lambda table=table, record=record, field=field: open_query(
                session,
                actor="mon",
                subject_code="S01",
                record_table=table,
                record_id=record,
                field=field,
                text="q",
            ),
        )
    mistaken = open_query(
        session,
        actor="mon",
        subject_code="S01",
        record_table="alsfrs_assessment",
        record_id=str(rating.id),
        field="item_4",
        text="meant item 3",
    )
    create_account(
        session, actor=ACTOR, username="mon2", role="monitor", sites=["A"], password=PASSWORD
    )
    refused(
        session,
        PermissionDeniedError,
        lambda: cancel_query(session, actor="mon2", query_id=mistaken.id, reason="r"),
    )
    refused(
        session,
        ValidationError,
        lambda: cancel_query(session, actor="mon", query_id=mistaken.id, reason=" "),
    )
    cancel_query(session, actor="mon", query_id=mistaken.id, reason="opened on the wrong item")
    assert mistaken.status is QueryStatus.CLOSED
    assert mistaken.cancel_reason == "opened on the wrong item"
    assert mistaken.id not in casebook_state(session, "S01").unclosed_queries
    # Every word said about a query stays in its thread, in order (a second answer no longer
    # hides the first).
    answer_query(session, actor="coord", query_id=query.id, answer="It is 3: corrected")
    threads = query_threads(session, [query.id, mistaken.id])
    assert [(m.kind, m.author) for m in threads[query.id]] == [
        ("question", "mon"),
        ("answer", "coord"),
        ("close", "mon"),
        ("reopen", "mon"),
        ("answer", "coord"),
    ]
    assert threads[query.id][1].text == "Corrected to 3"
    assert [m.kind for m in threads[mistaken.id]] == ["question", "cancel"]


def test_signature_locks_the_visit(session: Session) -> None:
    enrolled(session)
    accounts(session)
    record_alsfrs(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="W-6",
        assessment_date=W6,
        items=FULL_ITEMS,
    )
    with pytest.raises(PermissionDeniedError):  # a failed login is counted: not "refused"
        sign_visit(
            session, actor="inv", password="wrong password!", subject_code="S01", visit_code="W-6"
        )
    refused(
        session,
        PermissionDeniedError,
        lambda: sign_visit(
            session, actor="coord", password=PASSWORD, subject_code="S01", visit_code="W-6"
        ),
    )
    # Issue 15: one saved form does not make a visit complete; only a complete one is signed.
    incomplete = refused(
        session,
        ConflictError,
        lambda: sign_visit(
            session, actor="inv", password=PASSWORD, subject_code="S01", visit_code="W-6"
        ),
    )
    assert (
        "physical_exam, spirometry, labs, vitals neither recorded nor marked not done"
        in incomplete.message
    )
    for assessment in ("physical_exam", "spirometry", "labs", "vitals"):
        mark_assessment_not_done(
            session,
            actor=ACTOR,
            subject_code="S01",
            visit_code="W-6",
            assessment=assessment,
            reason="spirometer out of service" if assessment == "spirometry" else "not drawn",
        )
    state = visit_completeness(session, "S01", "W-6")
    assert state.complete
    assert {a.assessment: a.status for a in state.assessments}["alsfrs_r"] == "recorded"
    sign_visit(session, actor="inv", password=PASSWORD, subject_code="S01", visit_code="W-6")

    def spirometry(reason: str | None = None) -> object:
        return record_spirometry(
            session,
            actor=ACTOR,
            subject_code="S01",
            visit_code="W-6",
            assessment_date=W6,
            fvc_litres=3.6,
            reason=reason,
        )

    error = refused(session, ConflictError, spirometry)
    assert "signed" in error.message
    spirometry(reason="FVC added from the source after signature")
    assert session.scalars(sa.select(VisitSignature)).first() is None
    # The visit row itself is covered too: moving a signed visit's date unlocks it.
    sign_visit(session, actor="inv", password=PASSWORD, subject_code="S01", visit_code="W-6")

    def move(reason: str | None = None) -> object:
        return record_visit_date(
            session,
            actor=ACTOR,
            subject_code="S01",
            visit_code="W-6",
            actual_date=W6 + timedelta(days=1),
            reason=reason,
        )

    assert "visit W-6 is signed" in refused(session, ConflictError, move, field="reason").message
    move(reason="date misread from the source")
    assert session.scalars(sa.select(VisitSignature)).first() is None
    assert verify_audit_trail(session).problem is None


def test_casebook_signature_needs_a_complete_casebook_and_locks_it(session: Session) -> None:
    enrolled(session)
    accounts(session)
    rating = record_alsfrs(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="W-6",
        assessment_date=W6,
        items=FULL_ITEMS,
    )
    query = open_query(
        session,
        actor="mon",
        subject_code="S01",
        record_table="alsfrs_assessment",
        record_id=str(rating.id),
        field="item_1",
        text="Please confirm speech",
    )
    state = casebook_state(session, "S01")
    assert not state.ready
    assert state.blockers == ("no disposition is recorded", f"query {query.id} not closed")
    error = refused(
        session,
        ConflictError,
        lambda: sign_casebook(session, actor="inv", password=PASSWORD, subject_code="S01"),
        field="casebook",
    )
    assert "no disposition is recorded" in error.message

    # Withdrawn before day 0: the visits whose window opened by then must be done or missed.
    missed = withdraw_and_close_visits(session)
    assert missed
    assert "W-6" not in missed  # held: the ALSFRS-R above
    answer_query(session, actor="coord", query_id=query.id, answer="Confirmed")
    assert casebook_state(session, "S01").blockers == (f"query {query.id} not closed",)
    close_query(session, actor="mon", query_id=query.id)
    assert casebook_state(session, "S01").ready

    refused(
        session,
        PermissionDeniedError,
        lambda: sign_casebook(session, actor="coord", password=PASSWORD, subject_code="S01"),
    )
    with pytest.raises(PermissionDeniedError):
        sign_casebook(session, actor="inv", password="wrong password!", subject_code="S01")
    sign_casebook(session, actor="inv", password=PASSWORD, subject_code="S01")
    state = casebook_state(session, "S01")
    assert (state.signed_by, state.blockers, state.ready) == ("inv", (), False)
    refused(
        session,
        ConflictError,
        lambda: sign_casebook(session, actor="inv", password=PASSWORD, subject_code="S01"),
        field="casebook",
    )

    # A query is not casebook data: opening one leaves the signature in place.
    open_query(
        session,
        actor="mon",
        subject_code="S01",
        record_table="alsfrs_assessment",
        record_id=str(rating.id),
        field="item_2",
        text="A late question",
    )
    assert session.scalars(sa.select(CasebookSignature)).first() is not None

    def spirometry(reason: str | None = None) -> object:
        return record_spirometry(
            session,
            actor=ACTOR,
            subject_code="S01",
            visit_code="W-6",
            assessment_date=W6,
            fvc_litres=3.6,
            reason=reason,
        )

    error = refused(session, ConflictError, spirometry, field="reason")
    assert "casebook of S01 is signed" in error.message
    spirometry(reason="FVC found in the source after the casebook was signed")
    assert session.scalars(sa.select(CasebookSignature)).first() is None
    removal = session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.entity == "casebook_signature", AuditEvent.action == "delete"
        )
    ).first()
    assert removal is not None
    assert removal.reason == "FVC found in the source after the casebook was signed"
    assert verify_audit_trail(session).problem is None


def test_every_casebook_row_leads_to_its_subject(demo_session: Session) -> None:
    """Each model's ``casebook_key`` reaches the right subject (the demo trial's rows, plus an
    MRI with a finding, a checklist review and a serology result the demo does not record)."""
    from alstrial.services import record_checklist_review, record_mri, record_qualitative_lab
    from alstrial.services.lookup import current_protocol
    from alstrial.services.safety import MriFinding
    from alstrial.store.models import Visit

    subject = demo_session.scalars(sa.select(Subject).order_by(Subject.id)).first()
    assert subject is not None
    held = {
        v.code: v
        for v in demo_session.scalars(
            sa.select(Visit).where(Visit.subject_id == subject.id, Visit.actual_date.is_not(None))
        )
    }
    protocol = current_protocol(demo_session)

    def at(assessment: str) -> tuple[str, date]:
        """The first held visit that schedules ``assessment``, and its date."""
        visit = next(held[v.code] for v in protocol.visits if assessment in v.assessments)
        assert visit.actual_date is not None
        return visit.code, visit.actual_date

    mri, serology, checklist = at("mri"), at("labs"), at("adverse_events")
    record_mri(
        demo_session,
        actor=ACTOR,
        subject_code=subject.study_code,
        visit_code=mri[0],
        exam_date=mri[1],
        regions=["brain"],
        findings=[MriFinding("brain", "White matter hyperintensity", "FLAIR")],
    )
    record_qualitative_lab(
        demo_session,
        actor=ACTOR,
        subject_code=subject.study_code,
        visit_code=serology[0],
        sample_date=serology[1],
        panel="serology",
        test="HBsAg",
        result="negative",
    )
    record_checklist_review(
        demo_session,
        actor=ACTOR,
        subject_code=subject.study_code,
        visit_code=checklist[0],
        reviewed_on=checklist[1],
        none_reported=True,
    )
    from alstrial.services.completeness import mark_assessment_not_done, visit_completeness

    vitals = next(
        (code, a.assessment)
        for code in held
        for a in visit_completeness(demo_session, subject.study_code, code).assessments
        if a.status == "missing"
    )
    mark_assessment_not_done(
        demo_session,
        actor=ACTOR,
        subject_code=subject.study_code,
        visit_code=vitals[0],
        assessment=vitals[1],
        reason="not done at this visit",
    )
    from alstrial.services.dictionary_forms import save_form_instance
    from tests.test_dictionary import protocol_text
    from tests.test_dictionary_services import EXAM, amend

    amend(demo_session, protocol_text())
    save_form_instance(
        demo_session,
        actor=ACTOR,
        subject_code=subject.study_code,
        form="neuro_exam",
        visit_code="W-1",
        entered=EXAM,
    )
    subjects = set(demo_session.scalars(sa.select(Subject.id)))
    models = [m.class_ for m in audited_mappers() if m.class_.casebook_key is not None]
    assert len(models) == 19
    for model in models:
        rows = demo_session.scalars(sa.select(model)).all()
        assert rows, f"no {model.__tablename__} row to check"
        for row in rows:
            owner = casebook_subject_id(demo_session, row)
            assert owner in subjects, model.__tablename__
            if model.__tablename__ in ("mri_finding", "checklist_review", "assessment_not_done"):
                assert owner == subject.id
