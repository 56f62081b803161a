"""The record status dashboard: every subject by visit by form, each cell with the status of
that form's record (issue 15, item 1; REDCap's record status dashboard, with the monitoring
states it lacks).

A cell is one assessment the protocol schedules at the visit that has a visit form
(:data:`~alstrial.services.completeness.ASSESSMENT_RECORDS`). Its status, the first that
applies:

- ``locked``: the subject's casebook is signed;
- ``queried``: a query on the record is not closed;
- ``signed``: the visit is signed;
- ``verified``: the record is source-verified as a whole;
- ``complete``: the record is saved;
- ``not_done``: marked not done, with a reason;
- ``missed``: the visit was missed;
- ``not_started``: nothing yet.

The board is built with one query per record table and one per state table, whatever the
number of subjects (``bench/bench_status_board.py`` measures it at 1,000 subjects).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ScalarSelect, Table, func, select
from sqlalchemy.orm import Session

from alstrial.services.completeness import ASSESSMENT_RECORDS
from alstrial.services.lookup import current_protocol
from alstrial.store.models import (
    AssessmentNotDone,
    CasebookSignature,
    DataQuery,
    FormInstance,
    Site,
    SourceVerification,
    Subject,
    Visit,
    VisitSignature,
)
from alstrial.vocabulary import QueryStatus, VisitStatus

__all__ = ["CELL_STATES", "StatusBoard", "StatusRow", "status_board"]

CELL_STATES = (
    "locked",
    "queried",
    "signed",
    "verified",
    "complete",
    "not_done",
    "missed",
    "not_started",
)


@dataclass(frozen=True)
class StatusRow:
    """One subject: site and, per (visit, assessment) column, the cell's status."""

    subject: str
    site: str
    cells: tuple[str | None, ...]  # None: not scheduled at that visit


@dataclass(frozen=True)
class StatusBoard:
    """The columns (visit, assessment), the rows, and counts by status."""

    columns: tuple[tuple[str, str], ...]
    rows: tuple[StatusRow, ...]
    total_subjects: int
    counts: dict[str, int] = field(default_factory=dict)


def _saved_visits(session: Session, chosen: ScalarSelect[int] | None) -> dict[str, Counter[int]]:
    """assessment -> the number of saved records by visit id, of the ``chosen`` subjects (all
    when None: then read as plain tuples through the driver, 34,000 rows in a few ms)."""
    found: dict[str, Counter[int]] = {}
    for assessment, models in ASSESSMENT_RECORDS.items():
        visits = found.setdefault(assessment, Counter())
        for model in models:
            table: Table = model.__table__  # type: ignore[assignment]
            if chosen is None:
                cursor = session.connection().connection.cursor()
                cursor.execute(f"SELECT visit_id, count(*) FROM {table.name} GROUP BY visit_id")
                rows = cursor.fetchall()
                cursor.close()
            else:
                rows = session.execute(
                    select(table.c.visit_id, func.count())
                    .join(Visit, Visit.id == table.c.visit_id)
                    .where(Visit.subject_id.in_(chosen))
                    .group_by(table.c.visit_id)
                ).all()
            visits.update(dict(rows))
    return found


def _saved_dictionary_forms(
    session: Session, forms: set[str], chosen: ScalarSelect[int] | None
) -> dict[str, Counter[int]]:
    """form -> the number of saved instances by visit id, of the protocol's own visit forms."""
    found: dict[str, Counter[int]] = {form: Counter() for form in forms}
    if not forms:
        return found
    query = (
        select(FormInstance.form, FormInstance.visit_id, func.count())
        .where(FormInstance.visit_id.is_not(None), FormInstance.form.in_(sorted(forms)))
        .group_by(FormInstance.form, FormInstance.visit_id)
    )
    if chosen is not None:
        query = query.where(FormInstance.subject_id.in_(chosen))
    for form, visit_id, count in session.execute(query):
        if visit_id is not None:
            found[form][visit_id] = count
    return found


def _queried_visits(session: Session, queried: set[tuple[str, str]]) -> dict[str, set[int]]:
    """assessment -> ids of the visits whose record has a query not closed."""
    found: dict[str, set[int]] = {a: set() for a in ASSESSMENT_RECORDS}
    for assessment, models in ASSESSMENT_RECORDS.items():
        for model in models:
            table: Table = model.__table__  # type: ignore[assignment]
            ids = [int(r) for t, r in queried if t == table.name and r.isdecimal()]
            if ids:
                found[assessment].update(
                    session.scalars(select(table.c.visit_id).where(table.c.id.in_(ids))).all()
                )
    return found


def _verified_visits(
    verified_records: Sequence[Any],
    tables: dict[str, set[str]],
    saved_at: dict[str, Counter[int]],
) -> dict[str, set[int]]:
    """assessment -> ids of the visits where every record it saved is verified whole (a form
    that saves several records a visit is verified when each is)."""
    counted: dict[str, Counter[int]] = {a: Counter() for a in tables}
    for visit_id, table, count in verified_records:
        for assessment, names in tables.items():
            if table in names:
                counted[assessment][visit_id] += count
    return {a: {v for v, n in counted[a].items() if n >= saved_at[a].get(v, 0) > 0} for a in tables}


def status_board(
    session: Session,
    *,
    site_ids: Iterable[int] | None = None,
    site: str | None = None,
    visit: str | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> StatusBoard:
    """The board of the given sites (module docstring), filtered by site code, visit code and
    status (rows with at least one cell in it), a page of ``limit`` subjects from ``offset``.

    Without a status filter the page is cut in SQL, so a page costs the same at 100 or
    100,000 subjects; the other queries select by sub-query, never by a list of ids."""
    protocol = current_protocol(session)
    dictionary = {f.name for f in protocol.forms if f.scope == "visit"}
    columns = tuple(
        (v.code, a)
        for v in protocol.visits
        for a in v.assessments
        if (a in ASSESSMENT_RECORDS or a in dictionary) and (visit is None or v.code == visit)
    )
    subjects_query = select(Subject.id, Subject.study_code, Site.code).join(
        Site, Site.id == Subject.site_id
    )
    if site_ids is not None:
        subjects_query = subjects_query.where(Subject.site_id.in_(list(site_ids)))
    if site:
        subjects_query = subjects_query.where(Site.code == site)
    subjects_query = subjects_query.order_by(Subject.study_code)
    total = None
    if status is None:
        total = session.execute(
            select(func.count()).select_from(subjects_query.subquery())
        ).scalar_one()
        subjects_query = subjects_query.offset(offset).limit(limit)
        offset, limit = 0, None
    subjects = session.execute(subjects_query).all()
    everyone = site_ids is None and not site and total is None
    chosen = subjects_query.with_only_columns(Subject.id).scalar_subquery()
    visit_query = select(Visit.id, Visit.subject_id, Visit.code, Visit.status)
    if not everyone:
        visit_query = visit_query.where(Visit.subject_id.in_(chosen))
    visits = session.connection().execute(visit_query).fetchall()
    visit_ids = select(Visit.id).where(Visit.subject_id.in_(chosen)).scalar_subquery()
    visit_of = {(v[1], v[2]): (v[0], v[3]) for v in visits}
    saved_at = _saved_visits(session, None if everyone else chosen)
    saved_at |= _saved_dictionary_forms(session, dictionary, None if everyone else chosen)
    not_done = set(
        session.execute(
            select(AssessmentNotDone.visit_id, AssessmentNotDone.assessment).where(
                AssessmentNotDone.visit_id.in_(visit_ids)
            )
        ).all()
    )
    verified_records = session.execute(
        select(SourceVerification.visit_id, SourceVerification.record_table, func.count())
        .where(SourceVerification.visit_id.in_(visit_ids), SourceVerification.field == "")
        .group_by(SourceVerification.visit_id, SourceVerification.record_table)
    ).all()
    queried = {
        (str(table), str(record))
        for table, record in session.execute(
            select(DataQuery.record_table, DataQuery.record_id).where(
                DataQuery.subject_id.in_(chosen), DataQuery.status != QueryStatus.CLOSED
            )
        ).all()
    }
    signed_visits = set(
        session.scalars(
            select(VisitSignature.visit_id).where(VisitSignature.visit_id.in_(visit_ids))
        ).all()
    )
    locked = set(
        session.scalars(
            select(CasebookSignature.subject_id).where(CasebookSignature.subject_id.in_(chosen))
        ).all()
    )
    tables = {a: {m.__table__.name for m in ms} for a, ms in ASSESSMENT_RECORDS.items()}  # type: ignore[attr-defined]
    queried_at = _queried_visits(session, queried)
    instances = [int(r) for t, r in queried if t == "form_instance" and r.isdecimal()]
    if instances:
        for form, visit_id in session.execute(
            select(FormInstance.form, FormInstance.visit_id).where(FormInstance.id.in_(instances))
        ):
            if visit_id is not None:
                queried_at.setdefault(form, set()).add(visit_id)
    verified_at = _verified_visits(verified_records, tables, saved_at)
    rows: list[StatusRow] = []
    counts: Counter[str] = Counter()
    plan = [
        (
            visit_code,
            assessment,
            saved_at[assessment],
            # The protocol's own forms are not source-verified yet (issue 17).
            queried_at.get(assessment, set()),
            verified_at.get(assessment, set()),
        )
        for visit_code, assessment in columns
    ]
    for subject_id, code, site_code in subjects:
        cells: list[str | None] = []
        is_locked = subject_id in locked
        for visit_code, assessment, saved_visits, queried_visits, verified_visits in plan:
            held = visit_of.get((subject_id, visit_code))
            if held is None:
                cells.append(None)
                continue
            visit_id, visit_status = held
            saved = visit_id in saved_visits
            if is_locked:
                state = "locked"
            elif visit_id in queried_visits:
                state = "queried"
            elif visit_id in signed_visits and (saved or (visit_id, assessment) in not_done):
                state = "signed"
            elif visit_id in verified_visits:
                state = "verified"
            elif saved:
                state = "complete"
            elif (visit_id, assessment) in not_done:
                state = "not_done"
            elif visit_status is VisitStatus.MISSED:
                state = "missed"
            else:
                state = "not_started"
            cells.append(state)
        if status is None or status in cells:
            rows.append(StatusRow(code, site_code, tuple(cells)))
            counts.update(c for c in cells if c is not None)
    page = rows[offset : None if limit is None else offset + limit]
    return StatusBoard(columns, tuple(page), len(rows) if total is None else total, dict(counts))
