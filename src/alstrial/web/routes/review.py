"""Queries (a monitor opens one on a field, the site answers, the monitor closes it) and
visit and casebook signatures (an investigator enters his password again)."""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import AlstrialError
from alstrial.services import (
    answer_query,
    cancel_query,
    close_query,
    list_queries,
    open_query,
    query_threads,
    reopen_query,
    sign_casebook,
    sign_visit,
)
from alstrial.store.models import DataQuery, Site, Subject
from alstrial.vocabulary import QueryStatus
from alstrial.web.deps import (
    CurrentUser,
    DbSession,
    Me,
    check_csrf,
    http_status,
    page,
    require,
    subject_for,
)
from alstrial.web.routes.subjects import render_subject

router = APIRouter(include_in_schema=False)


def query_for(session: Session, me: Me, query_id: int) -> DataQuery:
    query = session.get(DataQuery, query_id)
    subject = session.get(Subject, query.subject_id) if query else None
    if query is None or subject is None or not me.may_see(subject):
        raise HTTPException(status_code=404, detail=f"no query {query_id}")
    return query


@router.get("/queries", response_class=HTMLResponse)
def queries_page(
    request: Request,
    session: DbSession,
    me: CurrentUser,
    status: Annotated[str | None, Query()] = None,
    site: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    require(me, "view_subjects")
    subjects = {s.id: s for s in session.scalars(select(Subject))}
    sites = {s.id: s.code for s in session.scalars(select(Site))}
    try:
        wanted = QueryStatus(status) if status else None
    except ValueError:
        raise HTTPException(status_code=400, detail=f"unknown query status {status!r}") from None
    rows = [
        q
        for q in list_queries(session, status=wanted, site_ids=me.sites)
        if not site or sites[subjects[q.subject_id].site_id] == site
    ]
    return page(
        request,
        "queries.html.j2",
        me=me,
        queries=rows,
        threads=query_threads(session, [q.id for q in rows]),
        codes={i: s.study_code for i, s in subjects.items()},
        sites={i: sites[s.site_id] for i, s in subjects.items()},
        query_status=status or "",
        site=site or "",
        statuses=[s.value for s in QueryStatus],
    )


@router.post("/queries")
def queries_open(
    request: Request,
    session: DbSession,
    me: CurrentUser,
    subject: Annotated[str, Form()],
    record_table: Annotated[str, Form()],
    record_id: Annotated[str, Form()],
    field: Annotated[str, Form()],
    text: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """A monitor opens a query on a field, from the field on the record's read-only page
    (``back`` returns there); the service refuses a record or a field that does not exist."""
    check_csrf(request, me, csrf)
    require(me, "open_query")
    subject_for(session, me, subject)
    open_query(
        session,
        actor=me.user.username,
        subject_code=subject,
        record_table=record_table,
        record_id=record_id,
        field=field,
        text=text,
    )
    local = back.startswith(f"/subjects/{subject}/") and "//" not in back
    return RedirectResponse(back if local else "/queries", status_code=303)


@router.post("/queries/{query_id}/answer")
def queries_answer(
    request: Request,
    query_id: int,
    session: DbSession,
    me: CurrentUser,
    answer: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, me, csrf)
    require(me, "answer_query")
    query_for(session, me, query_id)
    answer_query(session, actor=me.user.username, query_id=query_id, answer=answer)
    return RedirectResponse("/queries", status_code=303)


@router.post("/queries/{query_id}/close")
def queries_close(
    request: Request,
    query_id: int,
    session: DbSession,
    me: CurrentUser,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, me, csrf)
    require(me, "close_query")
    query_for(session, me, query_id)
    close_query(session, actor=me.user.username, query_id=query_id)
    return RedirectResponse("/queries", status_code=303)


def _query_change(
    request: Request, session: Session, me: Me, query_id: int, csrf: str, permission: str
) -> None:
    check_csrf(request, me, csrf)
    require(me, permission)
    query_for(session, me, query_id)


@router.post("/queries/{query_id}/cancel")
def queries_cancel(
    request: Request,
    query_id: int,
    session: DbSession,
    me: CurrentUser,
    reason: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The monitor who opened a query withdraws it, unanswered, with the reason."""
    _query_change(request, session, me, query_id, csrf, "open_query")
    cancel_query(session, actor=me.user.username, query_id=query_id, reason=reason)
    return RedirectResponse("/queries", status_code=303)


@router.post("/queries/{query_id}/reopen")
def queries_reopen(
    request: Request,
    query_id: int,
    session: DbSession,
    me: CurrentUser,
    reason: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """A monitor re-opens an answered or closed query, with the reason."""
    _query_change(request, session, me, query_id, csrf, "close_query")
    reopen_query(session, actor=me.user.username, query_id=query_id, reason=reason)
    return RedirectResponse("/queries", status_code=303)


def _signed(
    request: Request,
    session: Session,
    me: Me,
    code: str,
    csrf: str,
    sign: Callable[[], object],
    target: str,
) -> Response:
    """Check the token, the role and the site, then sign. A refusal (a wrong password: 403;
    an incomplete visit or casebook: 409) shows the subject's page again with the message at
    the password field of what was being signed."""
    check_csrf(request, me, csrf)
    require(me, "sign")
    subject_for(session, me, code)
    try:
        sign()
    except AlstrialError as error:
        session.rollback()
        return render_subject(
            request,
            session,
            me,
            code,
            status=http_status(error),
            sign_error=(target, error.message),
        )
    return RedirectResponse(f"/subjects/{code}", status_code=303)


@router.post("/subjects/{code}/visits/{visit_code}/sign")
def visit_sign(
    request: Request,
    code: str,
    visit_code: str,
    session: DbSession,
    me: CurrentUser,
    password: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    return _signed(
        request,
        session,
        me,
        code,
        csrf,
        lambda: sign_visit(
            session,
            actor=me.user.username,
            password=password,
            subject_code=code,
            visit_code=visit_code,
        ),
        visit_code,
    )


@router.post("/subjects/{code}/sign")
def casebook_sign(
    request: Request,
    code: str,
    session: DbSession,
    me: CurrentUser,
    password: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    return _signed(
        request,
        session,
        me,
        code,
        csrf,
        lambda: sign_casebook(
            session, actor=me.user.username, password=password, subject_code=code
        ),
        "casebook",
    )
