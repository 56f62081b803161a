"""Queries and visit signatures through the services, on both back ends."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError, PermissionDeniedError
from alstrial.services import (
    answer_query,
    close_query,
    list_queries,
    open_query,
    record_alsfrs,
    record_spirometry,
    sign_visit,
    verify_audit_trail,
)
from alstrial.services.accounts import create_account
from alstrial.store.models import VisitSignature
from alstrial.vocabulary import QueryStatus
from tests.helpers import ACTOR, DAY0, FULL_ITEMS, enrolled, refused

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
    assert verify_audit_trail(session).problem is None
