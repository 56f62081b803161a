"""Read-only views of subjects for the CLI and the web."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.services.lookup import find_subject
from alstrial.store.models import Disposition, Enrolment, Site, Subject, Visit
from alstrial.vocabulary import VisitStatus

__all__ = ["SubjectSummary", "list_subjects", "subject_visits"]


@dataclass(frozen=True)
class SubjectSummary:
    """One line of the subject list."""

    study_code: str
    site: str
    arm: str | None
    status: str
    visits_done: int
    visits_planned: int
    provenance: str


def list_subjects(session: Session) -> list[SubjectSummary]:
    """Every subject with arm, status and visit counts, in study-code order."""
    sites = {s.id: s.code for s in session.scalars(select(Site))}
    enrolments = {e.subject_id: e for e in session.scalars(select(Enrolment))}
    dispositions = {d.subject_id: d for d in session.scalars(select(Disposition))}
    visits: dict[int, list[Visit]] = {}
    for visit in session.scalars(select(Visit)):
        visits.setdefault(visit.subject_id, []).append(visit)
    summaries = []
    for subject in session.scalars(select(Subject).order_by(Subject.study_code)):
        enrolment = enrolments.get(subject.id)
        disposition = dispositions.get(subject.id)
        own = visits.get(subject.id, [])
        if disposition is not None:
            status = disposition.status.value
        elif enrolment is not None:
            status = "on_study"
        else:
            status = "registered"
        summaries.append(
            SubjectSummary(
                study_code=subject.study_code,
                site=sites[subject.site_id],
                arm=enrolment.arm_code if enrolment else None,
                status=status,
                visits_done=sum(v.status is VisitStatus.DONE for v in own),
                visits_planned=len(own),
                provenance=subject.provenance.value,
            )
        )
    return summaries


def subject_visits(session: Session, subject_code: str) -> list[Visit]:
    """A subject's visit calendar in day order."""
    subject = find_subject(session, subject_code)
    return list(
        session.scalars(select(Visit).where(Visit.subject_id == subject.id).order_by(Visit.day))
    )
