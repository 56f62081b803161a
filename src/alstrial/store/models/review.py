"""Monitoring and sign-off: data queries on a field, investigators' visit and casebook
signatures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from alstrial.store.base import Audited, Base, enum_column
from alstrial.vocabulary import QueryStatus

__all__ = [
    "AssessmentNotDone",
    "CasebookSignature",
    "DataQuery",
    "QueryMessage",
    "SourceVerification",
    "VisitSignature",
]


class DataQuery(Audited, Base):
    """A monitor's question on one field of one record; the site answers, the monitor closes."""

    __tablename__ = "data_query"
    workflow_fields = frozenset(
        {
            "status",
            "answer",
            "answered_by_id",
            "answered_at",
            "closed_by_id",
            "closed_at",
            "cancel_reason",
        }
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    record_table: Mapped[str] = mapped_column(String(60))
    record_id: Mapped[str] = mapped_column(String(40))
    field: Mapped[str] = mapped_column(String(60))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[QueryStatus] = mapped_column(enum_column(QueryStatus, "query_status"))
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    opened_at: Mapped[datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    answered_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    closed_at: Mapped[datetime | None]
    #: Why the opener withdrew the query unanswered (migration 0014); it then counts closed.
    cancel_reason: Mapped[str | None] = mapped_column(Text)


class VisitSignature(Audited, Base):
    """An investigator's signature on a visit; it locks the visit's records."""

    __tablename__ = "visit_signature"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"), unique=True)
    signed_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    signed_at: Mapped[datetime]
    meaning: Mapped[str] = mapped_column(String(200))


class CasebookSignature(Audited, Base):
    """An investigator's signature on a subject's whole casebook; it locks all its data.

    A later change to any casebook row of the subject (``Audited.casebook_key``) needs a reason
    and removes this signature, in the same audited transaction.
    """

    __tablename__ = "casebook_signature"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), unique=True)
    signed_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    signed_at: Mapped[datetime]
    meaning: Mapped[str] = mapped_column(String(200))


class AssessmentNotDone(Audited, Base):
    """A scheduled assessment of a visit that was not done, and why: with the assessments
    recorded, it makes the visit complete (issue 15)."""

    __tablename__ = "assessment_not_done"
    __table_args__ = (UniqueConstraint("visit_id", "assessment"),)
    casebook_key = "visit_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"), index=True)
    assessment: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(80))  # the actor, as the audit trail has it
    recorded_at: Mapped[datetime]


class SourceVerification(Audited, Base):
    """A monitor's source data verification of one visit record (``record_id`` in
    ``record_table``): the whole record (``field`` empty) or one field. A later change to a
    verified value removes the verification in the same audited flush
    (:mod:`alstrial.store.verification_locks`). Not a casebook row: verifying a signed visit
    leaves its signature in place.

    ``record_id`` is empty only on verifications made before migration 0017, each of which
    covers the first record of its table at its visit. A dictionary form's instance
    (``record_table`` ``form_instance``) is verified the same way; ``visit_id`` is empty for
    a form entered once per subject (migration 0022)."""

    __tablename__ = "source_verification"
    __table_args__ = (UniqueConstraint("record_table", "record_id", "field"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"), index=True)
    record_table: Mapped[str] = mapped_column(String(60))
    record_id: Mapped[int | None]
    field: Mapped[str] = mapped_column(String(60), default="")
    verified_by: Mapped[str] = mapped_column(String(80))
    verified_at: Mapped[datetime]


class QueryMessage(Audited, Base):
    """One message of a query's thread: the question, each answer, a re-opening or a
    cancellation with its reason, the closing (migration 0016). The query row keeps its
    state; the thread keeps every word said about it, in order."""

    __tablename__ = "query_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    query_id: Mapped[int] = mapped_column(ForeignKey("data_query.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # question, answer, reopen, cancel, close
    author: Mapped[str] = mapped_column(String(80))
    text: Mapped[str] = mapped_column(Text, default="")
    written_at: Mapped[datetime]
