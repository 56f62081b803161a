"""The FastAPI application: login and logout, the subjects of my sites, a subject's visit
calendar, and the same data as a JSON API. Every route goes through :func:`_current` (who is
logged in) and :func:`_subject_for` (site scoping: another site's subject is a 404).

No ``from __future__ import annotations`` here: FastAPI reads the parameter annotations at
run time, and the dependency aliases are local to :func:`create_app`.
"""

from collections.abc import Iterator
from datetime import date
from importlib import resources
from typing import Annotated, Any

import jinja2
from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import alstrial
from alstrial.exceptions import AlstrialError, PermissionDeniedError, ValidationError
from alstrial.services import (
    answer_query,
    close_query,
    list_queries,
    list_subjects,
    open_query,
    record_alsfrs,
    sign_visit,
    subject_visits,
)
from alstrial.services.accounts import authenticate, user_site_ids
from alstrial.store import make_session_factory
from alstrial.store.models import DataQuery, Site, Subject, User
from alstrial.web.permissions import ALL_SITES, allowed
from alstrial.web.security import COOKIE, MAX_AGE_S, SessionData, SessionSigner

__all__ = ["create_app"]


class _Current:
    """The logged-in user, his session and the sites he may see (None = all)."""

    def __init__(self, user: User, session_data: SessionData, sites: set[int] | None) -> None:
        self.user = user
        self.session_data = session_data
        self.sites = sites

    def may_see(self, subject: Subject) -> bool:
        return self.sites is None or subject.site_id in self.sites


def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: (
                resources.files("alstrial.web").joinpath("templates", name).read_text("utf-8")
            )
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def create_app(engine: Engine, *, secret_key: str, secure_cookies: bool = True) -> FastAPI:
    """The web application on a migrated store (see the module docstring)."""
    app = FastAPI(title="alstrial", version=alstrial.__version__)
    factory = make_session_factory(engine)
    signer = SessionSigner(secret_key)
    templates = _templates()

    def db() -> Iterator[Session]:
        with factory() as session:
            yield session

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(templates.get_template(name).render(**context), status_code=status)

    def current(request: Request, session: Annotated[Session, Depends(db)]) -> _Current:
        data = signer.read(request.cookies.get(COOKIE))
        user = session.get(User, data.user_id) if data else None
        if data is None or user is None or not user.active:
            raise HTTPException(status_code=401, detail="log in first")
        sites = None if user.role in ALL_SITES else user_site_ids(session, user)
        return _Current(user, data, sites)

    DbSession = Annotated[Session, Depends(db)]  # noqa: N806 (a type alias)
    CurrentUser = Annotated[_Current, Depends(current)]  # noqa: N806 (a type alias)

    def require(me: _Current, action: str) -> None:
        if not allowed(me.user.role, action):
            raise HTTPException(
                status_code=403, detail=f"your role may not {action.replace('_', ' ')}"
            )

    def subject_for(session: Session, me: _Current, code: str) -> Subject:
        subject = session.scalars(select(Subject).where(Subject.study_code == code)).first()
        if subject is None or not me.may_see(subject):
            raise HTTPException(status_code=404, detail=f"no subject {code}")
        return subject

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": error.detail}, status_code=error.status_code)
        if error.status_code == 401:
            return RedirectResponse("/login", status_code=303)
        return page("error.html.j2", status=error.status_code, message=error.detail, me=None)

    def check_csrf(me: _Current, token: str) -> None:
        if not me.session_data.csrf_matches(token):
            raise HTTPException(status_code=403, detail="the form's CSRF token is missing or wrong")

    @app.get("/login", response_class=HTMLResponse)
    def login_form() -> HTMLResponse:
        return page("login.html.j2", error=None, me=None)

    @app.post("/login")
    def login(
        session: DbSession, username: Annotated[str, Form()], password: Annotated[str, Form()]
    ) -> Response:
        try:
            user = authenticate(session, username, password)
        except PermissionDeniedError as error:
            return page("login.html.j2", status=401, error=error.message, me=None)
        _, cookie = signer.new(user.id)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE, cookie, max_age=MAX_AGE_S, httponly=True, samesite="lax", secure=secure_cookies
        )
        return response

    @app.post("/logout")
    def logout(me: CurrentUser, csrf: Annotated[str, Form()] = "") -> Response:
        check_csrf(me, csrf)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    def visible_subjects(session: Session, me: _Current) -> list[Any]:
        sites = {s.id: s.code for s in session.scalars(select(Site))}
        allowed_codes = None if me.sites is None else {sites[i] for i in me.sites}
        return [
            s for s in list_subjects(session) if allowed_codes is None or s.site in allowed_codes
        ]

    @app.get("/", response_class=HTMLResponse)
    def home(session: DbSession, me: CurrentUser) -> HTMLResponse:
        require(me, "view_subjects")
        return page("subjects.html.j2", subjects=visible_subjects(session, me), me=me)

    @app.get("/subjects/{code}", response_class=HTMLResponse)
    def subject_page(code: str, session: DbSession, me: CurrentUser) -> HTMLResponse:
        require(me, "view_subjects")
        subject_for(session, me, code)
        return page("subject.html.j2", code=code, visits=subject_visits(session, code), me=me)

    @app.get("/api/subjects")
    def api_subjects(session: DbSession, me: CurrentUser) -> list[dict[str, Any]]:
        require(me, "view_subjects")
        return [vars(s) for s in visible_subjects(session, me)]

    @app.get("/api/subjects/{code}")
    def api_subject(code: str, session: DbSession, me: CurrentUser) -> dict[str, Any]:
        require(me, "view_subjects")
        subject_for(session, me, code)
        return {
            "subject": code,
            "visits": [
                {
                    "visit": v.code,
                    "planned_date": v.planned_date,
                    "status": v.status.value,
                    "actual_date": v.actual_date,
                }
                for v in subject_visits(session, code)
            ],
        }

    def query_for(session: Session, me: _Current, query_id: int) -> DataQuery:
        query = session.get(DataQuery, query_id)
        subject = session.get(Subject, query.subject_id) if query else None
        if query is None or subject is None or not me.may_see(subject):
            raise HTTPException(status_code=404, detail=f"no query {query_id}")
        return query

    @app.get("/queries", response_class=HTMLResponse)
    def queries_page(session: DbSession, me: CurrentUser) -> HTMLResponse:
        require(me, "view_subjects")
        codes = {s.id: s.study_code for s in session.scalars(select(Subject))}
        rows = list_queries(session, site_ids=me.sites)
        return page("queries.html.j2", queries=rows, codes=codes, me=me)

    @app.post("/queries")
    def queries_open(
        session: DbSession,
        me: CurrentUser,
        subject: Annotated[str, Form()],
        record_table: Annotated[str, Form()],
        record_id: Annotated[str, Form()],
        field: Annotated[str, Form()],
        text: Annotated[str, Form()],
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        check_csrf(me, csrf)
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
        return RedirectResponse("/queries", status_code=303)

    @app.post("/queries/{query_id}/answer")
    def queries_answer(
        query_id: int,
        session: DbSession,
        me: CurrentUser,
        answer: Annotated[str, Form()],
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        check_csrf(me, csrf)
        require(me, "answer_query")
        query_for(session, me, query_id)
        answer_query(session, actor=me.user.username, query_id=query_id, answer=answer)
        return RedirectResponse("/queries", status_code=303)

    @app.post("/queries/{query_id}/close")
    def queries_close(
        query_id: int, session: DbSession, me: CurrentUser, csrf: Annotated[str, Form()] = ""
    ) -> Response:
        check_csrf(me, csrf)
        require(me, "close_query")
        query_for(session, me, query_id)
        close_query(session, actor=me.user.username, query_id=query_id)
        return RedirectResponse("/queries", status_code=303)

    @app.post("/subjects/{code}/visits/{visit_code}/sign")
    def visit_sign(
        code: str,
        visit_code: str,
        session: DbSession,
        me: CurrentUser,
        password: Annotated[str, Form()],
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        check_csrf(me, csrf)
        require(me, "sign")
        subject_for(session, me, code)
        try:
            sign_visit(
                session,
                actor=me.user.username,
                password=password,
                subject_code=code,
                visit_code=visit_code,
            )
        except PermissionDeniedError as error:
            raise HTTPException(status_code=403, detail=error.message) from None
        return RedirectResponse(f"/subjects/{code}", status_code=303)

    @app.get("/subjects/{code}/visits/{visit_code}/alsfrs", response_class=HTMLResponse)
    def alsfrs_form(
        code: str, visit_code: str, session: DbSession, me: CurrentUser
    ) -> HTMLResponse:
        require(me, "enter_data")
        subject_for(session, me, code)
        return page("alsfrs.html.j2", code=code, visit=visit_code, values={}, error=None, me=me)

    @app.post("/subjects/{code}/visits/{visit_code}/alsfrs")
    async def alsfrs_save(
        code: str, visit_code: str, request: Request, session: DbSession, me: CurrentUser
    ) -> Response:
        form = await request.form()
        check_csrf(me, str(form.get("csrf", "")))
        require(me, "enter_data")
        subject_for(session, me, code)
        values = {key: str(value) for key, value in form.items()}
        items: dict[str, int | None] = {}
        try:
            for number in range(1, 13):
                key = f"item_{number}"
                if number == 5:
                    key = "item_5b" if values.get("item_5_form") == "5b" else "item_5a"
                    raw = values.get("item_5", "")
                else:
                    raw = values.get(key, "")
                try:
                    items[key] = int(raw)
                except ValueError:
                    raise ValidationError(
                        f"item {number} must be a score 0-4, got {raw!r}",
                        form="alsfrs_r",
                        field=key,
                        value=raw,
                        allowed="an integer 0-4",
                    ) from None
            record_alsfrs(
                session,
                actor=me.user.username,
                subject_code=code,
                visit_code=visit_code,
                assessment_date=date.fromisoformat(values.get("assessment_date", "")),
                items=items,
                reason=values.get("reason") or None,
            )
        except (AlstrialError, ValueError) as error:
            message = error.message if isinstance(error, AlstrialError) else str(error)
            field = error.field if isinstance(error, AlstrialError) else "assessment_date"
            return page(
                "alsfrs.html.j2",
                status=400,
                code=code,
                visit=visit_code,
                values=values,
                error={"field": field, "message": message},
                me=me,
            )
        return RedirectResponse(f"/subjects/{code}", status_code=303)

    @app.exception_handler(AlstrialError)
    async def domain_error(request: Request, error: AlstrialError) -> Response:
        return JSONResponse(error.to_dict(), status_code=422)

    return app
