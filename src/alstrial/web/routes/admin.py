"""Administration in the browser (issue 15, item 9): accounts (list, add, disable and enable,
unlock, reset the password to a one-time one, change the role, give sites) and sites (list,
add). Each change goes through the same audited services as ``alstrial users`` and
``alstrial sites``; a change of an account needs a reason; a one-time password is shown once,
on the page that answers the change, and never again."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from alstrial.exceptions import AlstrialError, ValidationError
from alstrial.services.accounts import (
    create_account,
    grant,
    list_accounts,
    reset_password,
    set_active,
    unlock,
)
from alstrial.services.setup import add_site, list_sites
from alstrial.vocabulary import Role
from alstrial.web.deps import CurrentUser, DbSession, Me, check_csrf, form_status, page, require

router = APIRouter(include_in_schema=False)


def _users_page(
    request: Request,
    session: Session,
    me: Me,
    *,
    status: int = 200,
    error: tuple[str, str] | None = None,
    one_time: tuple[str, str] | None = None,
    values: dict[str, object] | None = None,
) -> HTMLResponse:
    return page(
        request,
        "admin_users.html.j2",
        status=status,
        me=me,
        accounts=list_accounts(session),
        sites=list_sites(session),
        roles=[r.value for r in Role],
        error=error,
        one_time=one_time,
        values=values or {},
    )


def _guard(request: Request, me: Me, csrf: str) -> None:
    check_csrf(request, me, csrf)
    require(me, "manage_users")


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, session: DbSession, me: CurrentUser) -> HTMLResponse:
    require(me, "manage_users")
    return _users_page(request, session, me)


@router.post("/admin/users")
def user_add(
    request: Request,
    session: DbSession,
    me: CurrentUser,
    username: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    full_name: Annotated[str, Form()] = "",
    sites: Annotated[list[str] | None, Form()] = None,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    _guard(request, me, csrf)
    try:
        account = create_account(
            session,
            actor=me.user.username,
            username=username.strip(),
            role=role,
            sites=[s for s in sites or [] if s],
            full_name=full_name.strip(),
        )
    except AlstrialError as error:
        session.rollback()
        return _users_page(
            request,
            session,
            me,
            status=form_status(error),
            error=("new", error.message),
            values={"username": username, "role": role, "full_name": full_name},
        )
    return _users_page(
        request, session, me, one_time=(account.user.username, account.one_time_password)
    )


@router.post("/admin/users/{username}/{action}")
def user_change(
    request: Request,
    username: str,
    action: str,
    session: DbSession,
    me: CurrentUser,
    reason: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    sites: Annotated[list[str] | None, Form()] = None,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """``disable``, ``enable``, ``unlock``, ``reset`` (a one-time password) or ``grant`` (role
    and sites); every change but an unlock needs a reason."""
    _guard(request, me, csrf)
    actor = me.user.username
    one_time = None
    try:
        if action != "unlock" and not reason.strip():
            raise ValidationError(
                f"say why ({action} {username})", form="user", field="reason", value=username
            )
        if action in ("disable", "enable"):
            set_active(
                session, actor=actor, username=username, active=action == "enable", reason=reason
            )
        elif action == "unlock":
            unlock(session, username=username)
        elif action == "reset":
            one_time = (
                username,
                reset_password(session, actor=actor, username=username, reason=reason),
            )
        elif action == "grant":
            grant(
                session,
                actor=actor,
                username=username,
                reason=reason,
                role=role or None,
                sites=[s for s in sites or [] if s],
            )
        else:
            return _users_page(
                request, session, me, status=404, error=(username, f"no action {action!r}")
            )
    except AlstrialError as error:
        session.rollback()
        return _users_page(
            request,
            session,
            me,
            status=form_status(error),
            error=(username, error.message),
        )
    if one_time is not None:
        return _users_page(request, session, me, one_time=one_time)
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/sites", response_class=HTMLResponse)
def sites_page(request: Request, session: DbSession, me: CurrentUser) -> HTMLResponse:
    require(me, "manage_users")
    return page(request, "admin_sites.html.j2", me=me, sites=list_sites(session), error=None)


@router.post("/admin/sites")
def site_add(
    request: Request,
    session: DbSession,
    me: CurrentUser,
    code: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    _guard(request, me, csrf)
    try:
        add_site(session, actor=me.user.username, code=code.strip(), name=name.strip())
    except AlstrialError as error:
        session.rollback()
        return page(
            request,
            "admin_sites.html.j2",
            status=form_status(error),
            me=me,
            sites=list_sites(session),
            error=error.message,
        )
    return RedirectResponse("/admin/sites", status_code=303)
