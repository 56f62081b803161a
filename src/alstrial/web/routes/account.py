"""Login, logout, password change and the user's API tokens."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from alstrial.exceptions import AlstrialError, PermissionDeniedError, ValidationError
from alstrial.services.accounts import authenticate, change_password
from alstrial.services.api_tokens import create_api_token, list_api_tokens, revoke_api_token
from alstrial.web.deps import CurrentUser, DbSession, check_csrf, page
from alstrial.web.security import COOKIE, MAX_AGE_S

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return page(request, "login.html.j2", error=None)


@router.post("/login")
def login(
    request: Request,
    session: DbSession,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    try:
        user = authenticate(session, username, password)
    except PermissionDeniedError as error:
        return page(request, "login.html.j2", status=401, error=error.message)
    _, cookie = request.app.state.signer.new(user.id)
    target = "/password" if user.must_change_password else "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=request.app.state.secure_cookies,
    )
    return response


@router.post("/logout")
def logout(request: Request, me: CurrentUser, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, me, csrf)
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
