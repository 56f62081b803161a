"""Visit completeness: what the protocol schedules at a visit, what is recorded, what is marked
not done and why.

A visit is **complete** when every assessment the protocol schedules at it that alstrial
records at a visit (ALSFRS-R, spirometry, laboratory, vital signs, MRI, administration and the
adverse-event checklist) is either recorded or marked not done with a reason. Assessments
with no visit form (the physical examination; eligibility, which screening records) are shown
but do not count. A visit recorded as missed has nothing to complete. Only a complete visit can
be signed (:func:`alstrial.services.review.sign_visit`): a signature on a visit whose forms are
empty would vouch for nothing.

Per assessment the status is ``recorded``, ``not_done`` (with the reason), ``missing``, or
``no_form``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError, ValidationError
from alstrial.services.lookup import current_protocol, find_subject, find_visit
from alstrial.services.transaction import transaction
from alstrial.store.base import Base
from alstrial.store.models import (
    AlsfrsAssessment,
    AssessmentNotDone,
    FormInstance,
    LabResult,
    MriExam,
    QualitativeLabResult,
    Spirometry,
    Visit,
    VitalSigns,
)
from alstrial.store.models.clinical import Administration
from alstrial.store.models.safety import ChecklistReview
from alstrial.vocabulary import VisitStatus

__all__ = [
    "ASSESSMENT_RECORDS",
    "AssessmentStatus",
    "VisitCompleteness",
    "mark_assessment_not_done",
    "visit_completeness",
    "visits_completeness",
]

#: The records that hold each protocol assessment made at a visit.
ASSESSMENT_RECORDS: dict[str, tuple[type[Base], ...]] = {
    "alsfrs_r": (AlsfrsAssessment,),
    "spirometry": (Spirometry,),
    "labs": (LabResult, QualitativeLabResult),
    "vitals": (VitalSigns,),
    "mri": (MriExam,),
    "administration": (Administration,),
    "adverse_events": (ChecklistReview,),
}


@dataclass(frozen=True)
class AssessmentStatus:
    """One scheduled assessment of a visit."""

    assessment: str
    status: str  # recorded, not_done, missing, no_form
    reason: str | None = None


@dataclass(frozen=True)
class VisitCompleteness:
    """A visit's scheduled assessments and whether they are all accounted for."""

    visit: str
    missed: bool
    assessments: tuple[AssessmentStatus, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        """Assessments neither recorded nor marked not done."""
        return tuple(a.assessment for a in self.assessments if a.status == "missing")

    @property
    def complete(self) -> bool:
        """Every countable assessment recorded or not done (a missed visit is complete)."""
        return self.missed or not self.missing


def visits_completeness(session: Session, visits: Iterable[Visit]) -> dict[int, VisitCompleteness]:
    """Completeness of each visit, by visit id, in one query per record type."""
    chosen = list(visits)
    ids = [v.id for v in chosen]
    protocol = current_protocol(session)
    by_code = {v.code: v for v in protocol.visits}
    recorded: dict[int, set[str]] = {}
    for assessment, models in ASSESSMENT_RECORDS.items():
        for model in models:
            column = model.__table__.c.visit_id
            for visit_id in session.scalars(select(column).where(column.in_(ids)).distinct()):
                recorded.setdefault(visit_id, set()).add(assessment)
    # The protocol's own visit forms (the data dictionary): recorded once an instance is saved.
    with_form = set(ASSESSMENT_RECORDS) | {f.name for f in protocol.forms if f.scope == "visit"}
    if protocol.forms:
        for visit_id, form in session.execute(
            select(FormInstance.visit_id, FormInstance.form)
            .where(FormInstance.visit_id.in_(ids))
            .distinct()
        ):
            if visit_id is not None:
                recorded.setdefault(visit_id, set()).add(form)
    not_done: dict[int, dict[str, str]] = {}
    for row in session.scalars(
        select(AssessmentNotDone).where(AssessmentNotDone.visit_id.in_(ids))
    ):
        not_done.setdefault(row.visit_id, {})[row.assessment] = row.reason
    result = {}
    for visit in chosen:
        scheduled = by_code[visit.code].assessments if visit.code in by_code else ()
        statuses = []
        for assessment in scheduled:
            if assessment not in with_form:
                statuses.append(AssessmentStatus(assessment, "no_form"))
            elif assessment in recorded.get(visit.id, set()):
                statuses.append(AssessmentStatus(assessment, "recorded"))
            elif assessment in not_done.get(visit.id, {}):
                statuses.append(
                    AssessmentStatus(assessment, "not_done", not_done[visit.id][assessment])
                )
            else:
                statuses.append(AssessmentStatus(assessment, "missing"))
        result[visit.id] = VisitCompleteness(
            visit.code, visit.status is VisitStatus.MISSED, tuple(statuses)
        )
    return result


def visit_completeness(session: Session, subject_code: str, visit_code: str) -> VisitCompleteness:
    """Completeness of one visit of a subject (module docstring)."""
    visit = find_visit(session, find_subject(session, subject_code), visit_code, form="visit")
    return visits_completeness(session, [visit])[visit.id]


def mark_assessment_not_done(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    visit_code: str,
    assessment: str,
    reason: str,
) -> AssessmentNotDone:
    """Record that a scheduled assessment of a visit was not done, and why.

    Raises
    ------
    ValidationError
        No reason, or an assessment the protocol does not schedule at the visit (or one with
        no visit form).
    ConflictError
        The assessment is recorded at the visit, or is marked not done already.
    """
    subject = find_subject(session, subject_code)
    visit = find_visit(session, subject, visit_code, form="not_done")
    if not reason.strip():
        raise ValidationError(
            "say why the assessment was not done", form="not_done", field="reason"
        )
    state = visits_completeness(session, [visit])[visit.id]
    statuses = {a.assessment: a for a in state.assessments}
    countable = [a for a, s in statuses.items() if s.status != "no_form"]
    if assessment not in statuses or statuses[assessment].status == "no_form":
        raise ValidationError(
            f"visit {visit_code} does not schedule {assessment!r} as a visit form",
            subject=subject_code,
            form="not_done",
            field="assessment",
            value=assessment,
            allowed=", ".join(countable),
        )
    status = statuses[assessment].status
    if status != "missing":
        done = "is recorded" if status == "recorded" else "is marked not done already"
        raise ConflictError(
            f"{assessment} of visit {visit_code} {done}",
            subject=subject_code,
            form="not_done",
            field="assessment",
            value=assessment,
        )
    with transaction(session, actor=actor):
        row = AssessmentNotDone(
            visit_id=visit.id,
            assessment=assessment,
            reason=reason.strip(),
            recorded_by=actor,
            recorded_at=datetime.now(UTC),
        )
        session.add(row)
    return row
