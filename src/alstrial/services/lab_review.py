"""Safety prompts for laboratory values (issue 15, item 7): a value graded at or above the
protocol's alert grade (``lab_alert_grade``, CTCAE 3 by default) must be reviewed, either by
reporting an adverse event from it or by saying why it is not one. Until then it is listed on
the dashboard. An ALT of 250 U/L (5x ULN: grade 3) used to be stored with no prompt at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError, NotFoundError, ValidationError
from alstrial.services.lookup import current_protocol, find_subject
from alstrial.services.transaction import transaction
from alstrial.store.models import AdverseEvent, LabResult, LabSafetyReview, Subject, Visit

__all__ = [
    "HighGrade",
    "find_lab",
    "high_grade",
    "review_high_grade",
    "unreviewed_high_grades",
]

DECISIONS = ("reported", "not_an_ae")


@dataclass(frozen=True)
class HighGrade:
    """A laboratory value at or above the alert grade, as the prompt and the dashboard show it."""

    lab_id: int
    subject: str
    visit: str
    analyte: str
    value: float
    unit: str
    grade: int
    sample_date: date
    reviewed: str | None  # decision, or None while unreviewed


def find_lab(session: Session, subject_code: str, lab_id: int) -> LabResult:
    """Laboratory value ``lab_id`` of the subject; :class:`NotFoundError` for another's."""
    subject = find_subject(session, subject_code)
    lab = session.get(LabResult, lab_id)
    if lab is None or lab.subject_id != subject.id:
        raise NotFoundError(
            f"{subject_code} has no laboratory value {lab_id}",
            subject=subject_code,
            form="lab_review",
            field="lab",
            value=lab_id,
        )
    return lab


def high_grade(session: Session, subject_code: str, lab_id: int) -> HighGrade | None:
    """The value as a prompt shows it, or None when it is below the alert grade."""
    lab = find_lab(session, subject_code, lab_id)
    threshold = current_protocol(session).lab_alert_grade
    if lab.ctcae_grade is None or lab.ctcae_grade < threshold:
        return None
    visit = session.get(Visit, lab.visit_id)
    review = session.scalars(
        select(LabSafetyReview.decision).where(LabSafetyReview.lab_result_id == lab.id)
    ).first()
    return HighGrade(
        lab.id,
        subject_code,
        visit.code if visit else "",
        lab.analyte,
        lab.value,
        lab.unit,
        lab.ctcae_grade,
        lab.sample_date,
        review,
    )


def unreviewed_high_grades(
    session: Session, site_ids: Iterable[int] | None = None
) -> list[HighGrade]:
    """Values at or above the alert grade with no review yet, of the given sites (or all)."""
    threshold = current_protocol(session).lab_alert_grade
    query = (
        select(LabResult, Subject.study_code, Visit.code)
        .join(Subject, Subject.id == LabResult.subject_id)
        .join(Visit, Visit.id == LabResult.visit_id)
        .outerjoin(LabSafetyReview, LabSafetyReview.lab_result_id == LabResult.id)
        .where(LabResult.ctcae_grade >= threshold, LabSafetyReview.id.is_(None))
        .order_by(LabResult.sample_date, LabResult.id)
    )
    if site_ids is not None:
        query = query.where(Subject.site_id.in_(list(site_ids)))
    return [
        HighGrade(
            lab.id,
            code,
            visit,
            lab.analyte,
            lab.value,
            lab.unit,
            int(lab.ctcae_grade or 0),
            lab.sample_date,
            None,
        )
        for lab, code, visit in session.execute(query).all()
    ]


def review_high_grade(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    lab_id: int,
    decision: str,
    note: str = "",
    adverse_event_id: int | None = None,
) -> LabSafetyReview:
    """Record the review of a high-grade value: ``reported`` (with the adverse event) or
    ``not_an_ae`` (with the reason).

    Raises
    ------
    ValidationError
        An unknown decision, ``not_an_ae`` without a reason, ``reported`` without an event of
        this subject, or a value below the alert grade.
    ConflictError
        The value is reviewed already.
    """
    lab = find_lab(session, subject_code, lab_id)
    if decision not in DECISIONS:
        raise ValidationError(
            f"unknown review decision {decision!r}",
            subject=subject_code,
            form="lab_review",
            field="decision",
            value=decision,
            allowed=", ".join(DECISIONS),
        )
    if high_grade(session, subject_code, lab_id) is None:
        raise ValidationError(
            f"{lab.analyte} {lab.value:g} {lab.unit} is below the alert grade: nothing to review",
            subject=subject_code,
            form="lab_review",
            field="lab",
            value=lab_id,
        )
    if decision == "not_an_ae" and not note.strip():
        raise ValidationError(
            "say why the value is not an adverse event (e.g. known Gilbert's, haemolysed)",
            subject=subject_code,
            form="lab_review",
            field="note",
        )
    if decision == "reported":
        event = session.get(AdverseEvent, adverse_event_id) if adverse_event_id else None
        if event is None or event.subject_id != lab.subject_id:
            raise ValidationError(
                "a reported review names the subject's adverse event",
                subject=subject_code,
                form="lab_review",
                field="adverse_event_id",
                value=adverse_event_id,
            )
        note = note.strip() or f"adverse event {event.id}: {event.term}"
    if session.scalars(
        select(LabSafetyReview).where(LabSafetyReview.lab_result_id == lab.id)
    ).first():
        raise ConflictError(
            f"{lab.analyte} of {subject_code} on {lab.sample_date} is reviewed already",
            subject=subject_code,
            form="lab_review",
            field="lab",
            value=lab_id,
        )
    with transaction(session, actor=actor):
        review = LabSafetyReview(
            lab_result_id=lab.id,
            decision=decision,
            note=note.strip(),
            adverse_event_id=adverse_event_id if decision == "reported" else None,
            reviewed_by=actor,
            reviewed_at=datetime.now(UTC),
        )
        session.add(review)
    return review
