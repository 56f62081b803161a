"""The subjects of my sites, registration, screening with each criterion's result, enrolment,
a subject's timeline and audit history, and the study dashboard."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.protocol import Protocol
from alstrial.services import SubjectSummary, casebook_state, list_subjects
from alstrial.services.lab_review import unreviewed_high_grades
from alstrial.services.lookup import current_protocol
from alstrial.services.overview import (
    dashboard,
    latest_screening,
    subject_adverse_events,
    subject_audit,
    subject_timeline,
    unresolved_queries_by_visit,
)
from alstrial.services.status_board import CELL_STATES, status_board
from alstrial.services.verification import verification_progress
from alstrial.store.models import Site
from alstrial.web.deps import CurrentUser, DbSession, Me, page, require, subject_for
from alstrial.web.forms import (
    ENROLMENT,
    FORMS,
    REGISTRATION,
    FormSpec,
    screening_form,
    with_choices,
)
from alstrial.web.routes.entry import shown_values, submission, try_save

router = APIRouter(include_in_schema=False)


def my_sites(session: Session, me: Me) -> list[Site]:
    return [
        s
        for s in session.scalars(select(Site).order_by(Site.code))
        if me.sites is None or s.id in me.sites
    ]


def visible_subjects(session: Session, me: Me) -> list[SubjectSummary]:
    codes = {s.code for s in my_sites(session, me)}
    return [s for s in list_subjects(session) if s.site in codes]


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: DbSession, me: CurrentUser) -> HTMLResponse:
    require(me, "view_subjects")
    return page(request, "subjects.html.j2", me=me, subjects=visible_subjects(session, me))


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request, session: DbSession, me: CurrentUser) -> HTMLResponse:
    require(me, "view_subjects")
    board = dashboard(session, site_ids=me.sites, today=date.today())
    progress = verification_progress(session, me.sites)
    sites = {s.id: s.code for s in my_sites(session, me)}
    return page(
        request,
        "dashboard.html.j2",
        me=me,
        board=board,
        high_grades=unreviewed_high_grades(session, me.sites),
        verification=progress,
        verification_by_site=[
            (code, sum(p.records for p in mine), sum(p.verified for p in mine))
            for site_id, code in sites.items()
            if (mine := [p for p in progress if p.site_id == site_id])
        ],
    )


#: The visit form that records each protocol assessment (the status board's links).
FORM_OF_ASSESSMENT = {
    spec.assessment: name
    for name, spec in reversed(list(FORMS.items()))
    if spec.scope == "visit" and spec.assessment
}


@router.get("/status", response_class=HTMLResponse)
def status_page(
    request: Request,
    session: DbSession,
    me: CurrentUser,
    site: Annotated[str | None, Query()] = None,
    visit: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query()] = None,
    page_number: Annotated[int, Query(alias="page", ge=1)] = 1,
) -> HTMLResponse:
    """The record status dashboard (:mod:`alstrial.services.status_board`), 100 subjects a
    page, filterable by site, visit and status; each cell links to its form."""
    require(me, "view_subjects")
    size = 100
    wanted = status if status in CELL_STATES else None
    board = status_board(
        session,
        site_ids=me.sites,
        site=site or None,
        visit=visit or None,
        status=wanted,
        offset=(page_number - 1) * size,
        limit=size,
    )
    return page(
        request,
        "status.html.j2",
        me=me,
        board=board,
        states=CELL_STATES,
        visits=[v.code for v in current_protocol(session).visits],
        sites=[s.code for s in my_sites(session, me)],
        filters={"site": site or "", "visit": visit or "", "status": wanted or ""},
        page_number=page_number,
        pages=max(1, -(-board.total_subjects // size)),
        form_of=FORM_OF_ASSESSMENT,
    )


def _registration(session: Session, me: Me) -> FormSpec:
    return with_choices(REGISTRATION, "site", [(s.code, s.name) for s in my_sites(session, me)])


@router.get("/subjects/new", response_class=HTMLResponse)
def registration_form(request: Request, session: DbSession, me: CurrentUser) -> HTMLResponse:
    require(me, "enter_data")
    spec = _registration(session, me)
    return page(request, "register.html.j2", me=me, spec=spec, values={}, errors={})


@router.post("/subjects/new")
async def registration_save(request: Request, session: DbSession, me: CurrentUser) -> Response:
    raw = await submission(request, session, me, None)
    spec = _registration(session, me)
    code = shown_values(raw).get("study_code", "")
    errors = try_save(request, session, me, spec, raw, code=str(code), visit=None)
    if errors:
        return page(
            request,
            "register.html.j2",
            status=400,
            me=me,
            spec=spec,
            values=shown_values(raw),
            errors=errors,
        )
    return RedirectResponse(f"/subjects/{code}/screening", status_code=303)


def _screening_page(
    request: Request, session: Session, me: Me, code: str, status: int = 200, **extra: Any
) -> HTMLResponse:
    protocol = current_protocol(session)
    return page(
        request,
        "screening.html.j2",
        status=status,
        me=me,
        code=code,
        screening_form=screening_form(protocol),
        screening=latest_screening(session, code),
        enrolment=_enrolment(protocol),
        **({"values": {}, "errors": {}} | extra),
    )


def _enrolment(protocol: Protocol) -> FormSpec:
    return with_choices(ENROLMENT, "arm", [(a.code, a.name) for a in protocol.arms])


@router.get("/subjects/{code}/screening", response_class=HTMLResponse)
def screening_page(
    request: Request, code: str, session: DbSession, me: CurrentUser
) -> HTMLResponse:
    require(me, "view_subjects")
    subject_for(session, me, code)
    return _screening_page(request, session, me, code)


@router.post("/subjects/{code}/screening")
async def screening_save(
    request: Request, code: str, session: DbSession, me: CurrentUser
) -> Response:
    raw = await submission(request, session, me, code)
    spec = screening_form(current_protocol(session))
    errors = try_save(request, session, me, spec, raw, code=code, visit=None)
    if errors:
        return _screening_page(
            request, session, me, code, status=400, values=shown_values(raw), errors=errors
        )
    return RedirectResponse(f"/subjects/{code}/screening", status_code=303)


@router.post("/subjects/{code}/enrol")
async def enrol(request: Request, code: str, session: DbSession, me: CurrentUser) -> Response:
    raw = await submission(request, session, me, code)
    spec = _enrolment(current_protocol(session))
    errors = try_save(request, session, me, spec, raw, code=code, visit=None)
    if errors:
        return _screening_page(
            request, session, me, code, status=400, values=shown_values(raw), errors=errors
        )
    return RedirectResponse(f"/subjects/{code}", status_code=303)


def render_subject(
    request: Request,
    session: Session,
    me: Me,
    code: str,
    *,
    status: int = 200,
    sign_error: tuple[str, str] | None = None,
) -> HTMLResponse:
    """A subject's page: timeline with each visit's completeness, adverse events, casebook;
    ``sign_error`` (visit code or ``casebook``, message) shows a refused signature at its
    password field."""
    return page(
        request,
        "subject.html.j2",
        status=status,
        me=me,
        code=code,
        timeline=subject_timeline(session, code, date.today()),
        casebook=casebook_state(session, code),
        adverse_events=subject_adverse_events(session, code),
        queries_by_visit=unresolved_queries_by_visit(session, code),
        forms=FORMS,
        dictionary={f.name: f for f in current_protocol(session).forms},
        sign_error=sign_error,
    )


@router.get("/subjects/{code}", response_class=HTMLResponse)
def subject_page(request: Request, code: str, session: DbSession, me: CurrentUser) -> HTMLResponse:
    require(me, "view_subjects")
    subject_for(session, me, code)
    return render_subject(request, session, me, code)


@router.get("/subjects/{code}/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    code: str,
    session: DbSession,
    me: CurrentUser,
    entity: Annotated[str | None, Query()] = None,
    field: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    require(me, "view_audit")
    subject_for(session, me, code)
    lines = subject_audit(session, code, entity=entity or None, field=field or None)
    return page(request, "audit.html.j2", me=me, code=code, lines=lines, entity=entity, field=field)


#: The report is one self-contained document with its own <style> and inline SVG figures and
#: no script at all: its page allows inline styles and nothing else.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)


@router.get("/report", response_class=HTMLResponse)
def trial_report(session: DbSession, me: CurrentUser) -> Response:
    """The trial report of the current data, for the roles that may export the study (the
    statistician and the administrator); the same document as ``alstrial report``."""
    from alstrial.reporting.report import build_store_report, render_html

    require(me, "export")  # study-wide roles only: the report covers every site
    html = render_html(build_store_report(session))
    return HTMLResponse(html, headers={"Content-Security-Policy": REPORT_CSP})
