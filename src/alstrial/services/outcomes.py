"""Adverse events, disease milestones and disposition."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError, NotFoundError, ValidationError
from alstrial.safety.events import (
    SERIOUSNESS_CRITERIA,
    is_related,
    notifications_due,
    validate_event,
)
from alstrial.services.lookup import enrolment_of, find_subject
from alstrial.services.transaction import transaction
from alstrial.store.models import AdverseEvent, Disposition, Milestone, SaeNotification
from alstrial.vocabulary import (
    AdverseEventOutcome,
    DispositionStatus,
    MilestoneKind,
    Provenance,
    Relatedness,
)

__all__ = [
    "AdverseEventReport",
    "find_adverse_event",
    "follow_up_adverse_event",
    "record_disposition",
    "record_milestone",
    "report_adverse_event",
    "report_of",
]


@dataclass(frozen=True)
class AdverseEventReport:
    """What a site reports of an adverse event."""

    term: str
    category: str
    onset_date: date
    severity_grade: int
    serious: bool
    relatedness: Relatedness
    outcome: AdverseEventOutcome
    end_date: date | None = None
    attributed_to: str = ""
    treatment: str = ""
    description: str = ""
    onset_time: time | None = None
    seriousness: tuple[str, ...] = ()
    relatedness_by_procedure: Mapping[str, Relatedness | str] = field(default_factory=dict)
    expected: bool | None = None
    action_taken: str | None = None
    meddra_code: str | None = None
    aware_at: datetime | None = None


def _check_report(report: AdverseEventReport, enrolment_date: date, subject_code: str) -> None:
    """Refuse a report (new or follow-up) that breaks a rule, naming the field."""

    def refuse(field: str, value: object, allowed: str, message: str) -> ValidationError:
        return ValidationError(
            message,
            subject=subject_code,
            form="adverse_event",
            field=field,
            value=value,
            allowed=allowed,
        )

    if not report.term.strip():
        raise refuse("term", report.term, "a term", "the adverse event term is required")
    grade = report.severity_grade
    if isinstance(grade, bool) or not isinstance(grade, int) or not 1 <= grade <= 5:
        raise refuse(
            "severity_grade", grade, "an integer 1-5 (CTCAE)", f"grade {grade!r} is invalid"
        )
    if report.end_date is not None and report.end_date < report.onset_date:
        raise refuse(
            "end_date",
            report.end_date.isoformat(),
            f"on or after {report.onset_date}",
            "the end date is before the onset",
        )
    if report.onset_date < enrolment_date:
        raise refuse(
            "onset_date",
            report.onset_date.isoformat(),
            f"on or after {enrolment_date}",
            "the onset is before enrolment",
        )
    if (grade == 5) != (report.outcome is AdverseEventOutcome.FATAL):
        raise refuse(
            "outcome",
            report.outcome.value,
            "fatal exactly when the grade is 5",
            "grade 5 and a fatal outcome go together",
        )
    if report.serious != bool(report.seriousness):
        raise refuse(
            "seriousness",
            list(report.seriousness),
            ", ".join(SERIOUSNESS_CRITERIA),
            "a serious adverse event needs at least one seriousness criterion"
            if report.serious
            else "seriousness criteria are given but the event is not marked serious",
        )
    try:
        validate_event(
            grade=grade,
            onset=report.onset_date,
            end=report.end_date,
            seriousness=report.seriousness,
            relatedness={"product": report.relatedness, **report.relatedness_by_procedure},
        )
    except ValidationError as error:
        error.subject = subject_code
        raise


def _report_fields(report: AdverseEventReport) -> dict[str, object]:
    """The columns of an adverse event a report sets."""
    return {
        "term": report.term.strip(),
        "category": report.category,
        "onset_date": report.onset_date,
        "end_date": report.end_date,
        "severity_grade": report.severity_grade,
        "serious": report.serious,
        "relatedness": report.relatedness,
        "attributed_to": report.attributed_to,
        "treatment": report.treatment,
        "outcome": report.outcome,
        "description": report.description,
        "onset_time": report.onset_time,
        "seriousness": list(report.seriousness) or None,
        "relatedness_by_procedure": {
            k: str(Relatedness(v)) for k, v in report.relatedness_by_procedure.items()
        }
        or None,
        "expected": report.expected,
        "action_taken": report.action_taken,
        "meddra_code": report.meddra_code,
    }


def _start_sae_clocks(session: Session, event: AdverseEvent, report: AdverseEventReport) -> None:
    """The expedited reports a serious event makes due, from when the site became aware."""
    related = is_related(report.relatedness)
    for due in notifications_due(
        aware_at=report.aware_at or datetime.now(UTC),
        seriousness=report.seriousness,
        related_to_product=related,
        expected=bool(report.expected),
    ):
        session.add(
            SaeNotification(
                adverse_event_id=event.id,
                kind=due.kind,
                recipient=due.recipient,
                due_at=due.due,
            )
        )


def report_adverse_event(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    report: AdverseEventReport,
    provenance: Provenance = Provenance.SOURCE,
    reason: str | None = None,
) -> AdverseEvent:
    """Report an adverse event of an enrolled subject.

    ``reason`` is needed once the visit or the subject's casebook is signed: the change
    removes the signature.
    """
    subject = find_subject(session, subject_code)
    enrolment = enrolment_of(session, subject, form="adverse_event")
    _check_report(report, enrolment.enrolment_date, subject_code)
    with transaction(session, actor=actor, reason=reason):
        event = AdverseEvent(subject_id=subject.id, provenance=provenance, **_report_fields(report))
        session.add(event)
        if report.serious:
            session.flush()
            _start_sae_clocks(session, event, report)
    return event


def find_adverse_event(session: Session, subject_code: str, event_id: int) -> AdverseEvent:
    """Adverse event ``event_id`` of the subject; :class:`NotFoundError` for another's."""
    subject = find_subject(session, subject_code)
    event = session.get(AdverseEvent, event_id)
    if event is None or event.subject_id != subject.id:
        raise NotFoundError(
            f"{subject_code} has no adverse event {event_id}",
            subject=subject_code,
            form="adverse_event",
            field="id",
            value=event_id,
        )
    return event


def report_of(event: AdverseEvent) -> AdverseEventReport:
    """The report an adverse event holds now (what a follow-up starts from)."""
    return AdverseEventReport(
        term=event.term,
        category=event.category,
        onset_date=event.onset_date,
        severity_grade=event.severity_grade,
        serious=event.serious,
        relatedness=event.relatedness,
        outcome=event.outcome,
        end_date=event.end_date,
        attributed_to=event.attributed_to,
        treatment=event.treatment,
        description=event.description,
        onset_time=event.onset_time,
        seriousness=tuple(event.seriousness or ()),
        relatedness_by_procedure=dict(event.relatedness_by_procedure or {}),
        expected=event.expected,
        action_taken=event.action_taken,
        meddra_code=event.meddra_code,
    )


def follow_up_adverse_event(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    event_id: int,
    report: AdverseEventReport,
    reason: str,
) -> AdverseEvent:
    """Record a follow-up of an adverse event (outcome, end date, a grade change, an upgrade to
    serious): the event takes the new values, and the audit trail keeps each earlier version
    with who changed it, when and why. An upgrade to serious starts the expedited-report
    clocks from when the site became aware (``report.aware_at``, else now); a downgrade keeps
    the reports already due, which the safety desk closes.

    Raises
    ------
    ValidationError
        No reason, a report that breaks a rule, or one that changes nothing.
    NotFoundError
        An event of another subject or none.
    """
    if not (reason or "").strip():
        raise ValidationError(
            "a follow-up changes saved data: give the reason (the source, a new finding)",
            subject=subject_code,
            form="adverse_event",
            field="reason",
        )
    event = find_adverse_event(session, subject_code, event_id)
    subject = find_subject(session, subject_code)
    enrolment = enrolment_of(session, subject, form="adverse_event")
    _check_report(report, enrolment.enrolment_date, subject_code)
    changes = {
        name: value
        for name, value in _report_fields(report).items()
        if getattr(event, name) != value
    }
    if not changes:
        raise ValidationError(
            f"the follow-up of adverse event {event_id} changes nothing",
            subject=subject_code,
            form="adverse_event",
            field="_form",
        )
    upgraded = report.serious and not event.serious
    with transaction(session, actor=actor, reason=reason):
        for name, value in changes.items():
            setattr(event, name, value)
        if upgraded:
            session.flush()
            _start_sae_clocks(session, event, report)
    return event


def record_milestone(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    kind: MilestoneKind,
    event_date: date,
    cause: str = "",
    provenance: Provenance = Provenance.SOURCE,
    reason: str | None = None,
) -> Milestone:
    """Record gastrostomy, non-invasive ventilation, tracheostomy or death (once each).

    ``reason`` is needed once the visit or the subject's casebook is signed: the change
    removes the signature.
    """
    subject = find_subject(session, subject_code)
    enrolment = enrolment_of(session, subject, form="milestone")
    if event_date < enrolment.enrolment_date:
        raise ValidationError(
            f"{kind.value} on {event_date} is before enrolment",
            subject=subject_code,
            form="milestone",
            field="event_date",
            value=event_date.isoformat(),
            allowed=f"on or after {enrolment.enrolment_date}",
        )
    if event_date > date.today():
        raise ValidationError(
            f"{kind.value} on {event_date} is in the future",
            subject=subject_code,
            form="milestone",
            field="event_date",
            value=event_date.isoformat(),
            allowed=f"on or before {date.today()}",
        )
    existing = session.scalars(
        select(Milestone).where(Milestone.subject_id == subject.id, Milestone.kind == kind)
    ).first()
    if existing is not None:
        raise ConflictError(
            f"{kind.value} of {subject_code} is recorded already ({existing.event_date})",
            subject=subject_code,
            form="milestone",
            field="kind",
            value=kind.value,
        )
    with transaction(session, actor=actor, reason=reason):
        milestone = Milestone(
            subject_id=subject.id,
            kind=kind,
            event_date=event_date,
            cause=cause,
            provenance=provenance,
        )
        session.add(milestone)
    return milestone


def record_disposition(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    status: DispositionStatus,
    disposition_date: date,
    reason: str = "",
    provenance: Provenance = Provenance.SOURCE,
) -> Disposition:
    """Record how a subject left the study; a death needs its death milestone first."""
    subject = find_subject(session, subject_code)
    enrolment = enrolment_of(session, subject, form="disposition")
    if disposition_date < enrolment.enrolment_date:
        raise ValidationError(
            "the disposition date is before enrolment",
            subject=subject_code,
            form="disposition",
            field="disposition_date",
            value=disposition_date.isoformat(),
            allowed=f"on or after {enrolment.enrolment_date}",
        )
    if status is not DispositionStatus.COMPLETED and not reason.strip():
        raise ValidationError(
            f"a disposition of {status.value} needs a reason",
            subject=subject_code,
            form="disposition",
            field="reason",
        )
    if status is DispositionStatus.DIED:
        death = session.scalars(
            select(Milestone).where(
                Milestone.subject_id == subject.id, Milestone.kind == MilestoneKind.DEATH
            )
        ).first()
        if death is None:
            raise ConflictError(
                "record the death milestone before a disposition of died",
                subject=subject_code,
                form="disposition",
                field="status",
                value=status.value,
            )
    if session.scalars(select(Disposition).where(Disposition.subject_id == subject.id)).first():
        raise ConflictError(
            f"the disposition of {subject_code} is recorded already",
            subject=subject_code,
            form="disposition",
        )
    with transaction(session, actor=actor):
        disposition = Disposition(
            subject_id=subject.id,
            status=status,
            disposition_date=disposition_date,
            reason=reason,
            provenance=provenance,
        )
        session.add(disposition)
    return disposition
