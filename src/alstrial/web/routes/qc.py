"""Manufacturing and release screens for QC: the batches of my sites, a batch against the
release specification (each test, identity by flow cytometry, deviations), and the signed
release or rejection, for which QC enters the password again (an electronic signature)."""

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from alstrial.exceptions import AlstrialError, PermissionDeniedError
from alstrial.services import evaluate_batch, sign_release
from alstrial.services.accounts import authenticate
from alstrial.services.manufacturing import BatchSummary, list_batches
from alstrial.web.deps import CurrentUser, DbSession, Me, check_csrf, page, require

router = APIRouter(include_in_schema=False)


def batch_for(session: Session, me: Me, code: str) -> BatchSummary:
    """The batch if it belongs to a subject of the user's sites; 404 otherwise."""
    for batch in list_batches(session, site_ids=me.sites):
        if batch.batch == code:
            return batch
    raise HTTPException(status_code=404, detail=f"no batch {code}")


@router.get("/batches", response_class=HTMLResponse)
def batches_page(request: Request, session: DbSession, me: CurrentUser) -> HTMLResponse:
    require(me, "view_batches")
    batches = list_batches(session, site_ids=me.sites)
    return page(request, "batches.html.j2", me=me, batches=batches)


def _batch_page(
    request: Request,
    session: Session,
    me: Me,
    code: str,
    status: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    return page(
        request,
        "batch.html.j2",
        status=status,
        me=me,
        batch=batch_for(session, me, code),
        evaluation=evaluate_batch(session, code),
        error=error,
    )


@router.get("/batches/{code}", response_class=HTMLResponse)
def batch_page(request: Request, code: str, session: DbSession, me: CurrentUser) -> HTMLResponse:
    require(me, "view_batches")
    return _batch_page(request, session, me, code)


@router.post("/batches/{code}/release")
def batch_release(
    request: Request,
    code: str,
    session: DbSession,
    me: CurrentUser,
    decision: Annotated[str, Form()],
    reason: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, me, csrf)
    require(me, "release_batch")
    batch_for(session, me, code)
    try:
        authenticate(session, me.user.username, password)
    except PermissionDeniedError:
        return _batch_page(request, session, me, code, 403, "the password is wrong: not signed")
    try:
        sign_release(
            session, actor=me.user.username, batch_code=code, decision=decision, reason=reason
        )
    except AlstrialError as error:
        session.rollback()
        return _batch_page(request, session, me, code, 400, error.message)
    return RedirectResponse(f"/batches/{code}", status_code=303)
