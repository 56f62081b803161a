"""Login, logout, password change and the user's API tokens."""

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from alstrial.exceptions import AlstrialError, PermissionDeniedError, ValidationError
from alstrial.services.accounts import authenticate, change_password
from alstrial.services.api_tokens import create_api_token, list_api_tokens, revoke_api_token
from alstrial.services.web_sessions import end_session, start_session
from alstrial.web.deps import CurrentUser, DbSession, check_csrf, home_of, page
from alstrial.web.security import COOKIE, LOGIN_CSRF_COOKIE, new_login_csrf

router = APIRouter(include_in_schema=False)

_LOGIN_CSRF_MAX_AGE_S = 3600


def _login_page(request: Request, *, status: int = 200, error: str | None = None) -> Response:
    """The login form with a fresh double-submit token in its field and in a cookie."""
    token = new_login_csrf()
    response = page(request, "login.html.j2", status=status, error=error, login_csrf=token)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=_LOGIN_CSRF_MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=request.app.state.secure_cookies,
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
def login(
    request: Request,
    session: DbSession,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not csrf or not expected or not hmac.compare_digest(csrf, expected):
        return _login_page(
            request, status=403, error="the login form expired; enter your name and password again"
        )
    client = request.client.host if request.client else None
    try:
        user = authenticate(session, username, password, client=client)
    except PermissionDeniedError as error:
        return _login_page(request, status=401, error=error.message)
    state = request.app.state
    token, _ = start_session(session, user, lifetime=state.session_lifetime)
    target = "/password" if user.must_change_password else home_of(user.role)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        state.signer.sign(token),
        max_age=int(state.session_lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=state.secure_cookies,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(
    request: Request, session: DbSession, me: CurrentUser, csrf: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(request, me, csrf)
    if me.session_data is not None:
        end_session(session, me.session_data.session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/password", response_class=HTMLResponse)
def password_form(request: Request, me: CurrentUser) -> HTMLResponse:
    return page(request, "password.html.j2", me=me, error=None, done=False)


@router.post("/password")
def password_change(
    request: Request,
    session: DbSession,
    me: CurrentUser,
    current_password: Annotated[str, Form()],
    new_password: Annotated[str, Form()],
    repeat_password: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, me, csrf)
    error: dict[str, str] | None = None
    if new_password != repeat_password:
        error = {"field": "repeat_password", "message": "the two new passwords differ"}
    else:
        try:
            change_password(
                session,
                username=me.user.username,
                current_password=current_password,
                new_password=new_password,
                keep=me.session_data.session_id if me.session_data else None,
            )
        except AlstrialError as problem:
            field = (
                "current_password" if isinstance(problem, PermissionDeniedError) else "new_password"
            )
            error = {"field": field, "message": problem.message}
    if error:
        return page(request, "password.html.j2", status=400, me=me, error=error, done=False)
    return page(request, "password.html.j2", me=me, error=None, done=True)


@router.get("/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, session: DbSession, me: CurrentUser) -> HTMLResponse:
    tokens = list_api_tokens(session, username=me.user.username)
    return page(request, "tokens.html.j2", me=me, tokens=tokens, secret=None, error=None)


@router.post("/tokens")
def tokens_create(
    request: Request,
    session: DbSession,
    me: CurrentUser,
    name: Annotated[str, Form()],
    days: Annotated[str, Form()] = "90",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, me, csrf)
    secret: str | None = None
    error: str | None = None
    try:
        if not days.strip().isdigit():
            raise ValidationError(
                f"days must be a whole number, not {days!r}", form="token", field="days"
            )
        secret = create_api_token(
            session, username=me.user.username, name=name, days=int(days)
        ).secret
    except AlstrialError as problem:
        error = problem.message
    tokens = list_api_tokens(session, username=me.user.username)
    return page(
        request,
        "tokens.html.j2",
        status=400 if error else 200,
        me=me,
        tokens=tokens,
        secret=secret,
        error=error,
    )


@router.post("/tokens/{token_id}/revoke")
def tokens_revoke(
    request: Request,
    token_id: int,
    session: DbSession,
    me: CurrentUser,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, me, csrf)
    revoke_api_token(session, username=me.user.username, token_id=token_id)
    return RedirectResponse("/tokens", status_code=303)
