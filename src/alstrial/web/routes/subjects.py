"""The subjects of my sites, registration, screening with each criterion's result, enrolment,
a subject's timeline and audit history, and the study dashboard."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import AlstrialError
from alstrial.protocol import Protocol
from alstrial.services import list_subjects, screen_subject
from alstrial.services.lookup import current_protocol
from alstrial.services.overview import (
    dashboard,
    latest_screening,
    subject_audit,
    subject_timeline,
)
from alstrial.store.models import Site
from alstrial.web.deps import CurrentUser, DbSession, Me, check_csrf, page, require, subject_for
from alstrial.web.forms import ENROLMENT, FORMS, REGISTRATION, Context, parse_form, with_choices
from alstrial.web.routes.entry import raw_values, shown_values

router = APIRouter(include_in_schema=False)

#: Screening values the subject record already holds (not asked again at screening).
_FROM_SUBJECT = {
    "age_years",
    "sex",
    "height_cm",
    "ethnicity",
    "riluzole",
    "el_escorial_category",
    "disease_duration_months",
}


def my_sites(session: Session, me: Me) -> list[Site]:
    return [
        s
        for s in session.scalars(select(Site).order_by(Site.code))
        if me.sites is None or s.id in me.sites
    ]


def visible_subjects(session: Session, me: Me) -> list[Any]:
    codes = {s.code for s in my_sites(session, me)}
    return [s for s in list_subjects(session) if s.site in codes]


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: DbSession, me: CurrentUser) -> HTMLResponse:
    require(me, "view_subjects")
    return page(request, "subjects.html.j2", me=me, subjects=visible_subjects(session, me))


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request, session: DbSession, me: CurrentUser) -> HTMLResponse:
    require(me, "view_subjects")
    board = dashboard(
        session, site_ids=None if me.sites is None else set(me.sites), today=date.today()
    )
    return page(request, "dashboard.html.j2", me=me, board=board)


def _registration(session: Session, me: Me) -> Any:
    return with_choices(REGISTRATION, "site", [(s.code, s.name) for s in my_sites(session, me)])


@router.get("/subjects/new", response_class=HTMLResponse)
def registration_form(request: Request, session: DbSession, me: CurrentUser) -> HTMLResponse:
    require(me, "enter_data")
    spec = _registration(session, me)
    return page(request, "register.html.j2", me=me, spec=spec, values={}, errors={})


@router.post("/subjects/new")
async def registration_save(request: Request, session: DbSession, me: CurrentUser) -> Response:
    form = await request.form()
    check_csrf(request, me, str(form.get("csrf", "")))
    require(me, "enter_data")
    spec = _registration(session, me)
    raw = raw_values(form)
    try:
        values = parse_form(spec, raw, request.app.state.timezone)
        spec.save(
            Context(
                session, me.user.username, values["study_code"], None, request.app.state.timezone
            ),
            values,
        )
    except AlstrialError as error:
        session.rollback()
        return page(
            request,
            "register.html.j2",
            status=400,
            me=me,
            spec=spec,
            values=shown_values(raw),
            errors={error.field or "_form": error.message},
        )
    return RedirectResponse(f"/subjects/{values['study_code']}/screening", status_code=303)


def screening_fields(protocol: Protocol) -> list[dict[str, Any]]:
    """One input per screening field the protocol's criteria test (not those the subject
    record holds), typed by the criterion's value: yes/no, a number, or one of a list."""
    fields: dict[str, dict[str, Any]] = {}
    for criterion in protocol.eligibility:
        if criterion.field in _FROM_SUBJECT:
            continue
        entry = fields.setdefault(criterion.field, {"name": criterion.field, "criteria": []})
        entry["criteria"].append(criterion.text)
        value = criterion.value
        if isinstance(value, bool):
            entry["kind"] = "bool"
        elif isinstance(value, int | float):
            entry["kind"] = "number"
        elif isinstance(value, tuple):
            entry["kind"] = "choice"
            entry["choices"] = [str(v) for v in value]
        else:
            entry["kind"] = "text"
    return list(fields.values())


def _screening_value(kind: str, text: str) -> float | bool | str | None:
    if text == "":
        return None
    if kind == "bool":
        return text == "yes"
    if kind == "number":
        try:
            return float(text)
        except ValueError:
            raise AlstrialError(f"{text!r} is not a number") from None
    return text


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
        fields=screening_fields(protocol),
        screening=latest_screening(session, code),
        enrolment=with_choices(ENROLMENT, "arm", [(a.code, a.name) for a in protocol.arms]),
        **({"values": {}, "errors": {}} | extra),
    )


@router.get("/subjects/{code}/screening", response_class=HTMLResponse)
def screening_form(
    request: Request, code: str, session: DbSession, me: CurrentUser
) -> HTMLResponse:
    require(me, "view_subjects")
    subject_for(session, me, code)
    return _screening_page(request, session, me, code)


@router.post("/subjects/{code}/screening")
async def screening_save(
    request: Request, code: str, session: DbSession, me: CurrentUser
) -> Response:
    form = await request.form()
    check_csrf(request, me, str(form.get("csrf", "")))
    require(me, "enter_data")
    subject_for(session, me, code)
    fields = screening_fields(current_protocol(session))
    values = {key: str(value) for key, value in form.items()}
    data: dict[str, float | bool | str | None] = {}
    try:
        for entry in fields:
            try:
                data[entry["name"]] = _screening_value(
                    entry["kind"], values.get(entry["name"], "").strip()
                )
            except AlstrialError as error:
                error.field = entry["name"]
                raise
        try:
            screening_date = date.fromisoformat(values.get("screening_date", ""))
        except ValueError:
            raise AlstrialError(
                "the screening date must be a date (YYYY-MM-DD)", field="screening_date"
            ) from None
        screen_subject(
            session,
            actor=me.user.username,
            subject_code=code,
            screening_date=screening_date,
            data={k: v for k, v in data.items() if v is not None},
        )
    except AlstrialError as error:
        session.rollback()
        return _screening_page(
            request,
            session,
            me,
            code,
            status=400,
            values=values,
            errors={error.field or "_form": error.message},
        )
    return RedirectResponse(f"/subjects/{code}/screening", status_code=303)


@router.post("/subjects/{code}/enrol")
async def enrol(request: Request, code: str, session: DbSession, me: CurrentUser) -> Response:
    form = await request.form()
    check_csrf(request, me, str(form.get("csrf", "")))
    require(me, "enter_data")
    subject_for(session, me, code)
    protocol = current_protocol(session)
    spec = with_choices(ENROLMENT, "arm", [(a.code, a.name) for a in protocol.arms])
    raw = raw_values(form)
    tz = request.app.state.timezone
    try:
        spec.save(Context(session, me.user.username, code, None, tz), parse_form(spec, raw, tz))
    except AlstrialError as error:
        session.rollback()
        return _screening_page(
            request,
            session,
            me,
            code,
            status=400,
            values=shown_values(raw),
            errors={error.field or "_form": error.message},
        )
    return RedirectResponse(f"/subjects/{code}", status_code=303)


@router.get("/subjects/{code}", response_class=HTMLResponse)
def subject_page(request: Request, code: str, session: DbSession, me: CurrentUser) -> HTMLResponse:
    require(me, "view_subjects")
    subject_for(session, me, code)
    forms = dict(FORMS.items())
    return page(
        request,
        "subject.html.j2",
        me=me,
        code=code,
        timeline=subject_timeline(session, code, date.today()),
        forms=forms,
    )


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
