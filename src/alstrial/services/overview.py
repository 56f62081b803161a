"""Read models for the sites and the monitors: a subject's timeline, the study dashboard, a
subject's audit history and his latest screening. Read-only; nothing here writes.

Visit states on a day ``today``:

- ``done`` / ``missed``: as recorded;
- ``upcoming``: scheduled, the window has not opened (``today < window_start``);
- ``due``: scheduled, inside the window (``window_start <= today <= window_end``);
- ``overdue``: scheduled, the window has closed (``today > window_end``) with nothing recorded.

Visit compliance is the share of visits whose window has closed (or that took place) that took
place inside their window: ``in_window / (done + missed + overdue)``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from alstrial.protocol.schedule import WindowStatus
from alstrial.services.audit_trail import AuditLine, record_changes
from alstrial.services.completeness import VisitCompleteness, visits_completeness
from alstrial.services.lookup import current_protocol, find_subject
from alstrial.store.base import Audited, Base
from alstrial.store.models import (
    AdverseEvent,
    AlsfrsAssessment,
    DataQuery,
    Enrolment,
    LabResult,
    MriExam,
    QualitativeLabResult,
    Screening,
    Site,
    Spirometry,
    Subject,
    User,
    Visit,
    VisitSignature,
    VitalSigns,
)
from alstrial.store.models.clinical import Administration
from alstrial.store.models.safety import ChecklistReview
from alstrial.vocabulary import QueryStatus, VisitStatus

__all__ = [
    "VISIT_RECORDS",
    "AdverseEventLine",
    "AuditLine",
    "Dashboard",
    "TimelineVisit",
    "dashboard",
    "latest_screening",
    "saved_record",
    "subject_adverse_events",
    "subject_audit",
    "subject_timeline",
    "unresolved_queries_by_visit",
    "visit_state",
]

#: Records made at a visit, by the form name the web application uses.
VISIT_RECORDS: dict[str, type[Base]] = {
    "alsfrs": AlsfrsAssessment,
    "spirometry": Spirometry,
    "lab": LabResult,
    "qualitative_lab": QualitativeLabResult,
    "vitals": VitalSigns,
    "mri": MriExam,
    "administration": Administration,
    "checklist": ChecklistReview,
}


def visit_state(visit: Visit, today: date) -> str:
    """``done``, ``missed``, ``upcoming``, ``due`` or ``overdue`` (module docstring)."""
    if visit.status is VisitStatus.DONE:
        return "done"
    if visit.status is VisitStatus.MISSED:
        return "missed"
    if today < visit.window_start:
        return "upcoming"
    if today <= visit.window_end:
        return "due"
    return "overdue"


@dataclass(frozen=True)
class TimelineVisit:
    """One visit of a subject's calendar, what the protocol asks at it and what is recorded."""

    code: str
    label: str
    day: int
    planned_date: date
    window_start: date
    window_end: date
    actual_date: date | None
    state: str
    window_status: str | None
    assessments: tuple[str, ...]
    recorded: tuple[str, ...]
    signed_by: str | None
    completeness: VisitCompleteness | None = None


def subject_timeline(session: Session, subject_code: str, today: date) -> list[TimelineVisit]:
    """A subject's visits in day order with their state on ``today`` (module docstring)."""
    subject = find_subject(session, subject_code)
    protocol = current_protocol(session)
    by_code = {v.code: v for v in protocol.visits}
    visits = list(
        session.scalars(select(Visit).where(Visit.subject_id == subject.id).order_by(Visit.day))
    )
    ids = [v.id for v in visits]
    recorded: dict[int, set[str]] = {}
    for name, model in VISIT_RECORDS.items():
        column = model.__table__.c.visit_id
        for visit_id in session.scalars(select(column).where(column.in_(ids))):
            recorded.setdefault(visit_id, set()).add(name)
    signatures: dict[int, str] = dict(
        session.execute(
            select(VisitSignature.visit_id, User.username)
            .join(User, User.id == VisitSignature.signed_by_id)
            .where(VisitSignature.visit_id.in_(ids))
        ).all()
    )
    completeness = visits_completeness(session, visits)
    return [
        TimelineVisit(
            code=v.code,
            label=by_code[v.code].label if v.code in by_code else v.code,
            day=v.day,
            planned_date=v.planned_date,
            window_start=v.window_start,
            window_end=v.window_end,
            actual_date=v.actual_date,
            state=visit_state(v, today),
            window_status=v.window_status.value if v.window_status else None,
            assessments=by_code[v.code].assessments if v.code in by_code else (),
            recorded=tuple(sorted(recorded.get(v.id, ()))),
            signed_by=signatures.get(v.id),
            completeness=completeness[v.id],
        )
        for v in visits
    ]


@dataclass(frozen=True)
class OverdueVisit:
    """A visit whose window closed with nothing recorded."""

    subject: str
    site: str
    visit: str
    window_end: date
    days_overdue: int


@dataclass(frozen=True)
class SeriousEvent:
    """A serious adverse event, for the dashboard."""

    subject: str
    site: str
    term: str
    onset_date: date
    grade: int
    relatedness: str
    outcome: str


@dataclass
class Dashboard:
    """Enrolment, visit compliance, overdue visits, open queries and serious adverse events
    of the sites a user sees (module docstring)."""

    today: date
    registered: int = 0
    enrolled_by_arm: dict[str, int] = field(default_factory=dict)
    enrolled_by_site: dict[str, int] = field(default_factory=dict)
    visits_done: int = 0
    visits_in_window: int = 0
    visits_missed: int = 0
    visits_due: int = 0
    overdue: list[OverdueVisit] = field(default_factory=list)
    open_queries_by_site: dict[str, int] = field(default_factory=dict)
    answered_queries: int = 0
    serious_events: list[SeriousEvent] = field(default_factory=list)

    @property
    def compliance(self) -> float | None:
        """In-window visits over visits that are past or done; None before any."""
        closed = self.visits_done + self.visits_missed + len(self.overdue)
        return None if closed == 0 else self.visits_in_window / closed


def dashboard(session: Session, *, site_ids: AbstractSet[int] | None, today: date) -> Dashboard:
    """The dashboard of the given sites (``None``: every site) on ``today``."""
    sites = {s.id: s.code for s in session.scalars(select(Site))}
    subjects = {
        s.id: s
        for s in session.scalars(select(Subject))
        if site_ids is None or s.site_id in site_ids
    }
    board = Dashboard(today=today, registered=len(subjects))
    enrolments = [e for e in session.scalars(select(Enrolment)) if e.subject_id in subjects]
    board.enrolled_by_arm = dict(Counter(e.arm_code for e in enrolments))
    board.enrolled_by_site = dict(
        Counter(sites[subjects[e.subject_id].site_id] for e in enrolments)
    )
    for visit in session.scalars(select(Visit).order_by(Visit.window_end)):
        subject = subjects.get(visit.subject_id)
        if subject is None:
            continue
        state = visit_state(visit, today)
        if state == "done":
            board.visits_done += 1
            board.visits_in_window += visit.window_status is WindowStatus.IN_WINDOW
        elif state == "missed":
            board.visits_missed += 1
        elif state == "due":
            board.visits_due += 1
        elif state == "overdue":
            board.overdue.append(
                OverdueVisit(
                    subject.study_code,
                    sites[subject.site_id],
                    visit.code,
                    visit.window_end,
                    (today - visit.window_end).days,
                )
            )
    for query in session.scalars(select(DataQuery)):
        subject = subjects.get(query.subject_id)
        if subject is None:
            continue
        if query.status is QueryStatus.OPEN:
            site = sites[subject.site_id]
            board.open_queries_by_site[site] = board.open_queries_by_site.get(site, 0) + 1
        elif query.status is QueryStatus.ANSWERED:
            board.answered_queries += 1
    events = session.scalars(
        select(AdverseEvent).where(AdverseEvent.serious.is_(True)).order_by(AdverseEvent.onset_date)
    )
    board.serious_events = [
        SeriousEvent(
            subjects[e.subject_id].study_code,
            sites[subjects[e.subject_id].site_id],
            e.term,
            e.onset_date,
            e.severity_grade,
            e.relatedness.value,
            e.outcome.value,
        )
        for e in events
        if e.subject_id in subjects
    ]
    return board


def _subject_records(session: Session, subject: Subject) -> dict[str, set[str]]:
    """Table name -> ids of the subject's records, for every audited table that has them."""
    visit_ids = set(session.scalars(select(Visit.id).where(Visit.subject_id == subject.id)))
    records: dict[str, set[str]] = {"subject": {str(subject.id)}}
    for mapper in Base.registry.mappers:
        model = mapper.class_
        if not issubclass(model, Audited):
            continue
        table = cast(Table, mapper.local_table)
        columns = table.c
        if "subject_id" in columns:
            where = columns.subject_id == subject.id
        elif "visit_id" in columns:
            where = columns.visit_id.in_(visit_ids)
        else:
            continue
        ids = session.scalars(select(columns.id).where(where))
        records.setdefault(table.name, set()).update(str(i) for i in ids)
    return records


def subject_audit(
    session: Session,
    subject_code: str,
    *,
    entity: str | None = None,
    field: str | None = None,
    record_id: str | None = None,
) -> list[AuditLine]:
    """Every audited change of a subject's records (his own row, his screenings, visits,
    assessments, events, queries and signatures), oldest first; optionally of one table, one
    record of it (the history of one adverse event, say) and one field only."""
    subject = find_subject(session, subject_code)
    lines: list[AuditLine] = []
    for table, ids in _subject_records(session, subject).items():
        if record_id is not None:
            ids = ids & {record_id}
        if (entity and table != entity) or not ids:
            continue
        lines.extend(record_changes(session, table, ids, field or None))
    return sorted(lines, key=lambda line: line.seq)


def saved_record(
    session: Session, subject_code: str, visit_code: str, form: str
) -> dict[str, object] | None:
    """The values saved by ``form`` (a name of the web's visit forms) at a visit, if any: what
    a correction starts from."""
    model = VISIT_RECORDS.get(form)
    if model is None:
        return None
    subject = find_subject(session, subject_code)
    visit = session.scalars(
        select(Visit).where(Visit.subject_id == subject.id, Visit.code == visit_code)
    ).first()
    if visit is None:
        return None
    table = model.__table__
    row = session.execute(select(table).where(table.c.visit_id == visit.id)).mappings().first()
    if row is None:
        return None
    return {k: v for k, v in row.items() if v is not None}


def latest_screening(session: Session, subject_code: str) -> Screening | None:
    """A subject's latest screening (data, each criterion's result, eligibility), if any."""
    subject = find_subject(session, subject_code)
    return session.scalars(
        select(Screening).where(Screening.subject_id == subject.id).order_by(Screening.id.desc())
    ).first()


@dataclass(frozen=True)
class AdverseEventLine:
    """One adverse event of a subject, as the subject's page lists it."""

    id: int
    term: str
    grade: int
    serious: bool
    onset_date: date
    end_date: date | None
    outcome: str
    relatedness: str


def subject_adverse_events(session: Session, subject_code: str) -> list[AdverseEventLine]:
    """Every adverse event of a subject, by onset (then by report)."""
    subject = find_subject(session, subject_code)
    rows = session.scalars(
        select(AdverseEvent)
        .where(AdverseEvent.subject_id == subject.id)
        .order_by(AdverseEvent.onset_date, AdverseEvent.id)
    )
    return [
        AdverseEventLine(
            id=row.id,
            term=row.term,
            grade=row.severity_grade,
            serious=row.serious,
            onset_date=row.onset_date,
            end_date=row.end_date,
            outcome=row.outcome.value,
            relatedness=row.relatedness.value,
        )
        for row in rows
    ]


def unresolved_queries_by_visit(session: Session, subject_code: str) -> dict[str, int]:
    """Queries not closed on each visit's records, by visit code (for the timeline)."""
    from alstrial.store.signature_locks import casebook_models, casebook_visit_id

    subject = find_subject(session, subject_code)
    models = casebook_models()
    codes = dict(
        session.execute(select(Visit.id, Visit.code).where(Visit.subject_id == subject.id)).all()
    )
    counts: Counter[str] = Counter()
    for query in session.scalars(
        select(DataQuery).where(
            DataQuery.subject_id == subject.id, DataQuery.status != QueryStatus.CLOSED
        )
    ):
        model = models.get(query.record_table)
        row = None
        if model is not None and query.record_id.isdecimal():
            row = session.get(model, int(query.record_id))
        visit_id = casebook_visit_id(session, row) if row is not None else None
        if visit_id in codes:
            counts[codes[visit_id]] += 1
    return dict(counts)
