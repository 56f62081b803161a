"""What every route needs: a database session, the logged-in user, permission and site
checks, CSRF, and page rendering. The application's state (session factory, cookie signer,
templates, time zone) is set by :func:`alstrial.web.app.create_app` on ``app.state``.

No ``from __future__ import annotations``: FastAPI reads these annotations at run time.
"""

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from alstrial.exceptions import AlstrialError, ConflictError, NotFoundError, PermissionDeniedError
from alstrial.services.accounts import user_site_ids
from alstrial.services.api_tokens import token_user
from alstrial.services.lookup import (
    SubjectRef,
    find_subject,
    find_subject_ref,
    remember_protocol_per_session,
)
from alstrial.services.web_sessions import SessionUser, find_session
from alstrial.store.models import Subject
from alstrial.vocabulary import Role
from alstrial.web.permissions import ALL_SITES, allowed
from alstrial.web.security import COOKIE, SessionData

__all__ = [
    "CurrentUser",
    "DbSession",
    "Me",
    "PasswordChangeRequiredError",
    "check_csrf",
    "home_of",
    "page",
    "require",
    "subject_for",
    "subject_ref_for",
]


class PasswordChangeRequiredError(PermissionDeniedError):
    """The user logged in with a one-time password and must replace it first."""

    def __init__(self) -> None:
        super().__init__("replace the one-time password first (/password)", field="password")


@dataclass(frozen=True)
class Me:
    """The logged-in user, his session (None for an API token) and his sites (None = all)."""

    user: SessionUser
    session_data: SessionData | None
    sites: frozenset[int] | None

    @property
    def csrf(self) -> str:
        return self.session_data.csrf if self.session_data else ""

    def may_see(self, subject: Subject | SubjectRef) -> bool:
        return self.sites is None or subject.site_id in self.sites


async def db(request: Request) -> AsyncIterator[Session]:
    """A session for the request. The dependencies are ``async`` so that they run on the
    event loop: a synchronous dependency costs a hop to the thread pool and back on every
    request (their database calls are short and a worker's Python runs one at a time anyway).
    """
    with request.app.state.session_factory() as session:
        remember_protocol_per_session(session)  # one read of the protocol per request
        yield session


DbSession = Annotated[Session, Depends(db)]

_PASSWORD_FREE = {"/password", "/logout"}


async def current(request: Request, session: DbSession) -> Me:
    """The user of a session cookie, or of a bearer token on the JSON API; 401 otherwise."""
    data: SessionData | None = None
    found: tuple[SessionUser, set[int] | frozenset[int]] | None = None
    authorization = request.headers.get("authorization", "")
    state = request.app.state
    if authorization.lower().startswith("bearer ") and request.url.path.startswith("/api/"):
        try:
            account = token_user(session, authorization[7:].strip())
        except PermissionDeniedError as error:
            raise HTTPException(status_code=401, detail=error.message) from None
        found = SessionUser.of(account), user_site_ids(session, account)
    else:
        lifetime_s = int(state.session_lifetime.total_seconds())
        token = state.signer.read(request.cookies.get(COOKIE), lifetime_s)
        live = find_session(session, token, idle=state.session_idle) if token else None
        if live is not None:
            data = SessionData(live.session_id, live.user.id, live.csrf)
            found = live.user, live.site_ids
    if found is None or not found[0].active:
        raise HTTPException(status_code=401, detail="log in first")
    user, site_ids = found
    if user.must_change_password and request.url.path not in _PASSWORD_FREE:
        raise PasswordChangeRequiredError()
    me = Me(user, data, None if user.role in ALL_SITES else frozenset(site_ids))
    request.state.me = me  # for the error pages, which keep the user's navigation
    return me


CurrentUser = Annotated[Me, Depends(current)]


def require(me: Me, action: str) -> None:
    """403 unless the user's role may do ``action`` (the matrix in :mod:`.permissions`)."""
    if not allowed(me.user.role, action):
        raise HTTPException(status_code=403, detail=f"your role may not {action.replace('_', ' ')}")


def subject_for(session: Session, me: Me, code: str) -> Subject:
    """The subject with this code if the user may see him; 404 otherwise (another site's
    subject is answered exactly as one that does not exist)."""
    return _seen(me, code, find_subject, session)


def subject_ref_for(session: Session, me: Me, code: str) -> SubjectRef:
    """As :func:`subject_for`, the subject's id, code and site alone (a save's site check:
    its service reads the same in the same transaction)."""
    return _seen(me, code, find_subject_ref, session)


_Found = TypeVar("_Found", Subject, SubjectRef)


def _seen(me: Me, code: str, find: Callable[[Session, str], _Found], session: Session) -> _Found:
    try:
        found = find(session, code)
    except NotFoundError:
        raise HTTPException(status_code=404, detail=f"no subject {code}") from None
    if not me.may_see(found):
        raise HTTPException(status_code=404, detail=f"no subject {code}")
    return found


def check_csrf(request: Request, me: Me, token: str | None) -> None:
    """403 unless a cookie session's POST carries its CSRF token (form field ``csrf`` or
    header ``X-CSRF-Token``); bearer-token requests carry no ambient credential."""
    if me.session_data is None:
        return
    supplied = token or request.headers.get("x-csrf-token")
    if not me.session_data.csrf_matches(supplied):
        raise HTTPException(status_code=403, detail="the form's CSRF token is missing or wrong")


def home_of(role: Role) -> str:
    """Where a role works: the subjects for the site roles, the batches for QC, the API
    tokens of the exports for the statistician, with the report in his navigation (he may
    not open subject pages; issue 15: he landed on a 403)."""
    if allowed(role, "view_subjects"):
        return "/"
    if allowed(role, "view_batches"):
        return "/batches"
    return "/tokens"


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a template with the request's user (``me``) where there is one."""
    context.setdefault("me", getattr(request.state, "me", None))
    context.setdefault("home", home_of(context["me"].user.role) if context["me"] else "/login")
    context.setdefault("insecure_dev", getattr(request.app.state, "insecure_dev", False))
    me = context["me"]
    context.setdefault("can", lambda action: me is not None and allowed(me.user.role, action))
    template = request.app.state.templates.get_template(name)
    return HTMLResponse(template.render(**context), status_code=status)


def http_status(error: AlstrialError) -> int:
    """The HTTP status of a refusal: 404 not found, 403 not allowed, 409 conflict, else 422."""
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, PermissionDeniedError):
        return 403
    if isinstance(error, ConflictError):
        return 409
    return 422


def form_status(error: AlstrialError) -> int:
    """The status of a page that shows a refused form again: 400 for an invalid value (the
    pages' convention; the API says 422), else as :func:`http_status`."""
    status = http_status(error)
    return 400 if status == 422 else status
