"""The JSON API on the same services, described by the OpenAPI schema at ``/openapi.json``.

Authentication: the session cookie (a POST then needs the ``X-CSRF-Token`` header), or a
bearer token (``Authorization: Bearer alst_...``) made on the Tokens page, for scripts such as
the statistician's exports. Permissions and site boundaries are those of the pages: another
site's subject is a 404.
"""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from alstrial.exceptions import ValidationError
from alstrial.services import (
    SubjectSummary,
    build_analysis_frames,
    casebook_state,
    list_queries,
    record_alsfrs,
)
from alstrial.services.overview import AuditLine, dashboard, subject_audit, subject_timeline
from alstrial.services.status_board import CELL_STATES, status_board
from alstrial.store.models import Subject
from alstrial.web.deps import CurrentUser, DbSession, check_csrf, require, subject_for
from alstrial.web.routes.subjects import visible_subjects


class ErrorOut(BaseModel):
    """An error: what is wrong, and the field it concerns where there is one."""

    error: str | None = None
    message: str | None = None
    field: str | None = None


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


#: Every answer an API client must handle, documented on every operation (issue 14).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("The request is malformed."),
    401: _error("No valid session or API token (Authorization: Bearer alst_...)."),
    403: _error("The role may not do this, or the password must be changed first."),
    404: _error("No such record, or one of another site (answered alike)."),
    409: _error("The record changed meanwhile or exists already; nothing was saved."),
    413: _error("The request body is over the limit."),
    422: _error("A value is invalid; the field is named."),
}

router = APIRouter(prefix="/api", tags=["api"], responses=ERROR_RESPONSES)


class VisitOut(BaseModel):
    visit: str
    label: str
    day: int
    planned_date: date
    window_start: date
    window_end: date
    actual_date: date | None
    status: str = Field(description="done, missed, upcoming, due or overdue (today)")
    recorded: list[str]
    signed_by: str | None


class CasebookOut(BaseModel):
    signed_by: str | None
    signed_at: datetime | None
    blockers: list[str] = Field(description="what stops the casebook being signed, if unsigned")


class SubjectDetail(BaseModel):
    subject: str
    casebook: CasebookOut
    visits: list[VisitOut]


class QueryOut(BaseModel):
    id: int
    subject: str
    record_table: str
    record_id: str
    field: str
    text: str
    status: str
    answer: str | None


class AlsfrsIn(BaseModel):
    assessment_date: date
    items: dict[str, int | None] = Field(
        description="item_1 ... item_12 with item_5a or item_5b, each 0-4"
    )
    reason: str | None = Field(default=None, description="needed to correct a saved rating")


class SavedOut(BaseModel):
    id: int
    total: int


@router.get("/subjects")
def api_subjects(session: DbSession, me: CurrentUser) -> list[SubjectSummary]:
    """The subjects of my sites with arm, status and visit counts."""
    require(me, "view_subjects")
    return visible_subjects(session, me)


@router.get("/subjects/{code}", response_model=SubjectDetail)
def api_subject(code: str, session: DbSession, me: CurrentUser) -> dict[str, Any]:
    """A subject's visit calendar with each visit's state today and what is recorded, and
    whether his casebook is signed (or what stops it being signed)."""
    require(me, "view_subjects")
    subject_for(session, me, code)
    casebook = casebook_state(session, code)
    return {
        "subject": code,
        "casebook": {
            "signed_by": casebook.signed_by,
            "signed_at": casebook.signed_at,
            "blockers": list(casebook.blockers),
        },
        "visits": [
            {
                "visit": v.code,
                "label": v.label,
                "day": v.day,
                "planned_date": v.planned_date,
                "window_start": v.window_start,
                "window_end": v.window_end,
                "actual_date": v.actual_date,
                "status": v.state,
                "recorded": list(v.recorded),
                "signed_by": v.signed_by,
            }
            for v in subject_timeline(session, code, date.today())
        ],
    }


@router.get("/subjects/{code}/audit")
def api_audit(
    code: str,
    session: DbSession,
    me: CurrentUser,
    entity: str | None = None,
    field: str | None = None,
) -> list[AuditLine]:
    """Every audited change of the subject's records (optionally one table and field)."""
    require(me, "view_audit")
    subject_for(session, me, code)
    return subject_audit(session, code, entity=entity, field=field)


@router.post("/subjects/{code}/visits/{visit}/alsfrs", response_model=SavedOut, status_code=201)
def api_alsfrs(
    request: Request,
    code: str,
    visit: str,
    body: AlsfrsIn,
    session: DbSession,
    me: CurrentUser,
) -> dict[str, Any]:
    """Record (or, with a reason, correct) a visit's ALSFRS-R; the total is computed."""
    check_csrf(request, me, None)
    require(me, "enter_data")
    subject_for(session, me, code)
    record = record_alsfrs(
        session,
        actor=me.user.username,
        subject_code=code,
        visit_code=visit,
        assessment_date=body.assessment_date,
        items=body.items,
        reason=body.reason,
    )
    return {"id": record.id, "total": record.total}


@router.get("/queries", response_model=list[QueryOut])
def api_queries(session: DbSession, me: CurrentUser) -> list[dict[str, Any]]:
    """The queries of my sites."""
    require(me, "view_subjects")
    subjects = {s.id: s.study_code for s in session.scalars(select(Subject))}
    return [
        {
            "id": q.id,
            "subject": subjects[q.subject_id],
            "record_table": q.record_table,
            "record_id": q.record_id,
            "field": q.field,
            "text": q.text,
            "status": q.status.value,
            "answer": q.answer,
        }
        for q in list_queries(session, site_ids=me.sites)
    ]


@router.get("/dashboard")
def api_dashboard(session: DbSession, me: CurrentUser) -> dict[str, Any]:
    """Enrolment, visit compliance, overdue visits, open queries and serious adverse events."""
    require(me, "view_subjects")
    board = dashboard(session, site_ids=me.sites, today=date.today())
    return {
        "today": board.today,
        "registered": board.registered,
        "enrolled_by_arm": board.enrolled_by_arm,
        "enrolled_by_site": board.enrolled_by_site,
        "visits_done": board.visits_done,
        "visits_in_window": board.visits_in_window,
        "visits_missed": board.visits_missed,
        "visits_due": board.visits_due,
        "compliance": board.compliance,
        "overdue": [vars(v) for v in board.overdue],
        "open_queries_by_site": board.open_queries_by_site,
        "serious_events": [vars(e) for e in board.serious_events],
    }


@router.get("/status")
def api_status(
    session: DbSession,
    me: CurrentUser,
    site: str | None = None,
    visit: str | None = None,
    status: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The record status dashboard: per subject, per visit and form, the record's status
    (locked, queried, signed, verified, complete, not_done, missed, not_started)."""
    require(me, "view_subjects")
    if status is not None and status not in CELL_STATES:
        raise ValidationError(
            f"unknown status {status!r}",
            field="status",
            value=status,
            allowed=", ".join(CELL_STATES),
        )
    board = status_board(
        session,
        site_ids=me.sites,
        site=site,
        visit=visit,
        status=status,
        offset=offset,
        limit=limit,
    )
    return {
        "columns": [{"visit": v, "assessment": a} for v, a in board.columns],
        "subjects": board.total_subjects,
        "offset": offset,
        "counts": board.counts,
        "rows": [
            {"subject": r.subject, "site": r.site, "cells": list(r.cells)} for r in board.rows
        ],
    }


Frame = Literal[
    "subjects", "visits", "measures", "batches", "adverse_events", "milestones", "labs", "forms"
]


@router.get(
    "/export/{frame}",
    responses={
        200: {
            "description": "The frame as JSON records, or as CSV with ?format=csv.",
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
def api_export(
    frame: Frame,
    session: DbSession,
    me: CurrentUser,
    format: Annotated[Literal["json", "csv"], "json or csv"] = "json",
) -> Response:
    """One analysis frame of the whole study (one tidy row per subject x visit x measure for
    ``measures``), for the statistician; the ``provenance`` column marks synthetic values."""
    require(me, "export")
    if me.sites is not None:
        raise HTTPException(
            status_code=403, detail="an export covers every site: a site role may not"
        )
    table = getattr(build_analysis_frames(session), frame)
    if format == "csv":
        return Response(table.to_csv(index=False), media_type="text/csv")
    return Response(
        table.to_json(orient="records", date_format="iso"), media_type="application/json"
    )


@router.get(
    "/export-files",
    responses={200: {"description": "A zip of the files and manifest.json.",
                     "content": {"application/zip": {}}}},
)  # fmt: skip
def api_export_files(
    session: DbSession,
    me: CurrentUser,
    format: Annotated[
        Literal["csv", "spss", "stata", "sas", "r", "redcap"], "csv, spss, stata, sas, r or redcap"
    ] = "csv",
    cut: Annotated[str | None, "a named cut, a time (ISO 8601) or seq:N"] = None,
    files: Annotated[bool, "also the subjects' attached files, under files/"] = False,
) -> Response:
    """The study's analysis tables as labelled files for a statistics package, zipped with
    their manifest (``alstrial export``); with ``cut``, the data as they stood then, rebuilt
    from the audit trail; with ``files``, the subjects' attached files and
    ``attachments.csv``. Each call is recorded in the audit trail under the token's user."""
    from alstrial.interop.data_cut import resolve_cut
    from alstrial.interop.study_export import export_zip
    from alstrial.web.routes.exports import study_wide, zip_response

    study_wide(me)
    archive, manifest = export_zip(
        session,
        format,
        actor=me.user.username,
        cut=resolve_cut(session, cut) if cut else None,
        with_files=files,
    )
    return zip_response(archive, manifest)
