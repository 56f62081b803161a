"""Holding visits: actual dates, window status, missed visits."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError, NotFoundError, ValidationError
from alstrial.protocol import window_status
from alstrial.services.lookup import (
    current_protocol,
    enrolment_of,
    find_subject,
    find_visit,
)
from alstrial.services.transaction import transaction
from alstrial.store.models import Subject, Visit
from alstrial.vocabulary import VisitStatus

__all__ = ["hold_visit", "mark_visit_missed", "record_visit_date", "visit_for_assessment"]


def _check_not_future(subject: Subject, form: str, field: str, value: date) -> None:
    if value > date.today():
        raise ValidationError(
            f"{field} {value} is in the future",
            subject=subject.study_code,
            form=form,
            field=field,
            value=value.isoformat(),
            allowed=f"on or before {date.today()}",
        )


def visit_for_assessment(
    session: Session, subject: Subject, visit_code: str, assessment: str, on: date
) -> Visit:
    """The visit at which an assessment is recorded; it must schedule that assessment.

    Raises a validation error when the protocol does not schedule ``assessment`` at the
    visit, when the date is in the future, or when the visit was marked missed.
    """
    try:
        visit = find_visit(session, subject, visit_code, form=assessment)
    except NotFoundError:
        enrolment_of(session, subject, form=assessment)  # visits exist once enrolled: say so
        raise
    protocol = current_protocol(session)
    scheduled = [v.code for v in protocol.visits if assessment in v.assessments]
    if visit_code not in scheduled:
        raise ValidationError(
            f"the protocol does not schedule {assessment} at visit {visit_code}",
            subject=subject.study_code,
            form=assessment,
            field="visit",
            value=visit_code,
            allowed=", ".join(scheduled),
        )
    _check_not_future(subject, assessment, "date", on)
    if visit.status is VisitStatus.MISSED:
        raise ConflictError(
            f"visit {visit_code} of {subject.study_code} was recorded as missed",
            subject=subject.study_code,
            form=assessment,
            field="visit",
            value=visit_code,
        )
    return visit


def hold_visit(visit: Visit, on: date) -> None:
    """Mark a visit done on a date (the first assessment's date), with its window status.

    A signed visit (or casebook) is locked by the store itself: a change to any of its records
    needs the transaction's reason and removes the signature
    (:mod:`alstrial.store.signature_locks`).
    """
    if visit.actual_date is None:
        visit.actual_date = on
        visit.status = VisitStatus.DONE
        visit.window_status = window_status(on, visit.window_start, visit.window_end)


def record_visit_date(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    visit_code: str,
    actual_date: date,
    reason: str | None = None,
) -> Visit:
    """Record (or, with a reason, correct) the date a visit took place."""
    subject = find_subject(session, subject_code)
    enrolment_of(session, subject, form="visit")
    visit = find_visit(session, subject, visit_code, form="visit")
    _check_not_future(subject, "visit", "actual_date", actual_date)
    with transaction(session, actor=actor, reason=reason):
        visit.actual_date = actual_date
        visit.status = VisitStatus.DONE
        visit.window_status = window_status(actual_date, visit.window_start, visit.window_end)
    return visit


def mark_visit_missed(
    session: Session, *, actor: str, subject_code: str, visit_code: str, reason: str
) -> Visit:
    """Record that a scheduled visit did not take place, with the reason."""
    subject = find_subject(session, subject_code)
    visit = find_visit(session, subject, visit_code, form="visit")
    if visit.status is VisitStatus.DONE:
        raise ConflictError(
            f"visit {visit_code} of {subject_code} was held on {visit.actual_date}",
            subject=subject_code,
            form="visit",
            field="status",
            value="missed",
        )
    with transaction(session, actor=actor, reason=reason):
        visit.status = VisitStatus.MISSED
    return visit
