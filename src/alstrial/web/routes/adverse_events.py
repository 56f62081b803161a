"""An adverse event of a subject: its current state, its history (every earlier version from
the audit trail) and, for the roles that enter data, the follow-up form (outcome, end date, a
grade change, an upgrade to serious), saved as a change with its reason."""

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from alstrial.exceptions import AlstrialError
from alstrial.services.lab_review import high_grade, review_high_grade
from alstrial.services.lookup import current_protocol
from alstrial.services.outcomes import (
    find_adverse_event,
    follow_up_adverse_event,
)
from alstrial.services.overview import subject_audit
from alstrial.store.models import AdverseEvent
from alstrial.web.deps import CurrentUser, DbSession, Me, page, require, subject_for
from alstrial.web.forms import FORMS, adverse_event_report, parse_form
from alstrial.web.routes.entry import shown_values, submission

router = APIRouter(include_in_schema=False)


def _saved(event: AdverseEvent) -> dict[str, Any]:
    """The event's values as the form shows them: a follow-up starts from what is saved."""
    return {
        "term": event.term,
        "category": event.category,
        "onset_date": event.onset_date.isoformat(),
        "end_date": event.end_date.isoformat() if event.end_date else "",
        "severity_grade": str(event.severity_grade),
        "serious": "yes" if event.serious else "no",
        "seriousness": list(event.seriousness or []),
        "relatedness": event.relatedness.value,
        "outcome": event.outcome.value,
        "expected": "yes" if event.expected else "no",
        "attributed_to": event.attributed_to,
        "treatment": event.treatment,
        "action_taken": event.action_taken or "",
        "description": event.description,
    }


def _page(
    request: Request,
    session: Session,
    me: Me,
    code: str,
    event: AdverseEvent,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return page(
        request,
        "adverse_event.html.j2",
        status=status,
        me=me,
        code=code,
        event=event,
        spec=FORMS["adverse_event"],
        values=_saved(event) if values is None else values,
        errors=errors or {},
        history=subject_audit(session, code, entity="adverse_event", record_id=str(event.id)),
    )


@router.get("/subjects/{code}/adverse-events/{event_id}", response_class=HTMLResponse)
def adverse_event_page(
    request: Request, code: str, event_id: int, session: DbSession, me: CurrentUser
) -> HTMLResponse:
    require(me, "view_subjects")
    subject_for(session, me, code)
    return _page(request, session, me, code, find_adverse_event(session, code, event_id))


@router.post("/subjects/{code}/adverse-events/{event_id}")
async def adverse_event_follow_up(
    request: Request, code: str, event_id: int, session: DbSession, me: CurrentUser
) -> Response:
    raw = await submission(request, session, me, code)
    event = find_adverse_event(session, code, event_id)
    spec = FORMS["adverse_event"]
    try:
        values = parse_form(spec, raw, request.app.state.timezone)
        follow_up_adverse_event(
            session,
            actor=me.user.username,
            subject_code=code,
            event_id=event_id,
            report=adverse_event_report(
                values,
                onset_time=event.onset_time,
                relatedness_by_procedure=dict(event.relatedness_by_procedure or {}),
                meddra_code=event.meddra_code,
            ),
            reason=values.get("reason") or "",
        )
    except AlstrialError as error:
        session.rollback()
        event = find_adverse_event(session, code, event_id)
        return _page(
            request,
            session,
            me,
            code,
            event,
            values=shown_values(raw),
            errors={error.field or "_form": error.message},
            status=400,
        )
    return RedirectResponse(f"/subjects/{code}/adverse-events/{event_id}", status_code=303)


@router.get("/subjects/{code}/labs/{lab_id}/review", response_class=HTMLResponse)
def lab_review_page(
    request: Request, code: str, lab_id: int, session: DbSession, me: CurrentUser
) -> HTMLResponse:
    """The safety prompt of a laboratory value at the alert grade (issue 15, item 7)."""
    require(me, "view_subjects")
    subject_for(session, me, code)
    return _lab_review(request, session, me, code, lab_id)


def _lab_review(
    request: Request,
    session: Session,
    me: Me,
    code: str,
    lab_id: int,
    *,
    status: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    graded = high_grade(session, code, lab_id)
    if graded is None:
        raise HTTPException(status_code=404, detail=f"laboratory value {lab_id} needs no review")
    return page(
        request,
        "lab_review.html.j2",
        status=status,
        me=me,
        code=code,
        graded=graded,
        alert_grade=current_protocol(session).lab_alert_grade,
        error=error,
    )


@router.post("/subjects/{code}/labs/{lab_id}/review")
async def lab_review_save(
    request: Request, code: str, lab_id: int, session: DbSession, me: CurrentUser
) -> Response:
    raw = await submission(request, session, me, code)
    try:
        review_high_grade(
            session,
            actor=me.user.username,
            subject_code=code,
            lab_id=lab_id,
            decision=(raw.get("decision") or [""])[-1],
            note=(raw.get("note") or [""])[-1],
        )
    except AlstrialError as error:
        session.rollback()
        return _lab_review(request, session, me, code, lab_id, status=400, error=error.message)
    return RedirectResponse(f"/subjects/{code}", status_code=303)
