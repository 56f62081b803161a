"""Manufacturing and release screens for QC: the batches of my sites; a new batch with its
release results; the batch record and culture steps; identity from the cytometer's FCS files
(stained tube and isotype control, uploaded and analysed); a batch against the release
specification (each test, identity by flow cytometry, deviations); and the signed release or
rejection, for which QC enters the password again (an electronic signature)."""

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from alstrial.exceptions import AlstrialError, PermissionDeniedError
from alstrial.services import evaluate_batch, sign_release
from alstrial.services.accounts import authenticate
from alstrial.services.flow_identity import FcsUpload, record_identity_from_fcs
from alstrial.services.lookup import current_protocol
from alstrial.services.manufacturing import (
    BatchSummary,
    culture_events,
    find_batch,
    list_batches,
    release_decision,
)
from alstrial.web.batch_forms import BATCH_FORMS, NEW_BATCH, VIABILITY_FIELDS
from alstrial.web.deps import CurrentUser, DbSession, Me, check_csrf, page, require, subject_for
from alstrial.web.forms import FormSpec, with_choices
from alstrial.web.routes.entry import shown_values, submission, try_save
from alstrial.web.routes.subjects import REPORT_CSP, visible_subjects

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


def _new_batch(session: Session, me: Me) -> FormSpec:
    subjects = [(s.study_code, s.study_code) for s in visible_subjects(session, me)]
    return with_choices(NEW_BATCH, "subject", subjects)


def _form_page(
    request: Request,
    me: Me,
    spec: FormSpec,
    *,
    action: str,
    back: str,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> HTMLResponse:
    return page(
        request,
        "batch_form.html.j2",
        status=status,
        me=me,
        spec=spec,
        action=action,
        back=back,
        values=values,
        errors=errors,
    )


@router.get("/batches/new", response_class=HTMLResponse)
def new_batch_form(request: Request, session: DbSession, me: CurrentUser) -> HTMLResponse:
    require(me, "record_batch")
    spec = _new_batch(session, me)
    return _form_page(
        request, me, spec, action="/batches/new", back="/batches", values={}, errors={}
    )


def _save_batch_form(
    request: Request,
    session: Session,
    me: Me,
    spec: FormSpec,
    raw: dict[str, list[str]],
    *,
    subject: str,
    batch: str | None,
    action: str,
    back: str,
) -> Response:
    """Save a batch form; on a refusal show it again (400) with the error at its field, else
    go to the batch."""
    errors = try_save(request, session, me, spec, raw, code=subject, visit=None, batch=batch)
    shown = shown_values(raw)
    if errors:
        return _form_page(
            request, me, spec, action=action, back=back, values=shown, errors=errors, status=400
        )
    return RedirectResponse(f"/batches/{batch or shown['batch_code']}", status_code=303)


@router.post("/batches/new")
async def new_batch_save(request: Request, session: DbSession, me: CurrentUser) -> Response:
    raw = await submission(request, session, me, None, action="record_batch")
    subject = str(shown_values(raw).get("subject", ""))
    if subject:
        subject_for(session, me, subject)
    return _save_batch_form(
        request,
        session,
        me,
        _new_batch(session, me),
        raw,
        subject=subject,
        batch=None,
        action="/batches/new",
        back="/batches",
    )


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
        record=find_batch(session, code),
        culture=culture_events(session, code),
        evaluation=evaluate_batch(session, code),
        forms=BATCH_FORMS,
        error=error,
        decision=release_decision(session, code),
    )


@router.get("/batches/{code}/certificate", response_class=HTMLResponse)
def batch_certificate(code: str, session: DbSession, me: CurrentUser) -> Response:
    """The certificate of analysis as signed (the same document as ``alstrial release
    certificate``), self-contained, under the report's policy (styles, no script)."""
    from alstrial.reporting.certificate import build_certificate, render_certificate_html

    require(me, "view_batches")
    batch_for(session, me, code)
    html = render_certificate_html(build_certificate(session, code))
    return HTMLResponse(html, headers={"Content-Security-Policy": REPORT_CSP})


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


def _batch_spec(name: str) -> FormSpec:
    spec = BATCH_FORMS.get(name)
    if spec is None:
        raise HTTPException(status_code=404, detail=f"no batch form {name!r}")
    return spec


def _saved_batch_record(session: Session, code: str, name: str) -> dict[str, Any]:
    """A batch form's saved values as the form shows them (a correction starts there)."""
    batch = find_batch(session, code)
    spec = BATCH_FORMS[name]
    values = {f.name: getattr(batch, f.name) for f in spec.fields if hasattr(batch, f.name)}
    for name, method in VIABILITY_FIELDS.items():
        values[name] = (batch.viability_by_method or {}).get(method)
    shown = {k: "" if v is None else str(v) for k, v in values.items() if k != "reason"}
    if "endotoxin_below_loq" in shown:
        shown["endotoxin_below_loq"] = "yes" if batch.endotoxin_below_loq else ""
    return shown


@router.get("/batches/{code}/forms/{name}", response_class=HTMLResponse)
def batch_form(
    request: Request, code: str, name: str, session: DbSession, me: CurrentUser
) -> HTMLResponse:
    spec = _batch_spec(name)
    require(me, "record_batch")
    batch_for(session, me, code)
    values = _saved_batch_record(session, code, name) if spec.corrects else {}
    return _form_page(
        request,
        me,
        spec,
        action=f"/batches/{code}/forms/{name}",
        back=f"/batches/{code}",
        values=values,
        errors={},
    )


@router.post("/batches/{code}/forms/{name}")
async def batch_form_save(
    request: Request, code: str, name: str, session: DbSession, me: CurrentUser
) -> Response:
    spec = _batch_spec(name)
    raw = await submission(request, session, me, None, action="record_batch")
    summary = batch_for(session, me, code)
    return _save_batch_form(
        request,
        session,
        me,
        spec,
        raw,
        subject=summary.subject,
        batch=code,
        action=f"/batches/{code}/forms/{name}",
        back=f"/batches/{code}",
    )


#: The ISCT panel, offered as the default list of markers to analyse.
_ISCT_MARKERS = "CD73, CD90, CD105, CD34, CD45, CD14, CD19, HLA-DR"


def _panel(session: Session) -> str:
    """The markers the protocol's identity test names, else the ISCT panel."""
    for criterion in current_protocol(session).release_specification:
        if criterion.test == "identity" and criterion.markers:
            return ", ".join(criterion.markers)
    return _ISCT_MARKERS


def _flow_page(
    request: Request,
    session: Session,
    me: Me,
    code: str,
    *,
    values: dict[str, str],
    error: str | None = None,
    field: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    return page(
        request,
        "batch_flow.html.j2",
        status=status,
        me=me,
        code=code,
        values={
            "markers": _panel(session),
            "percentile": "99",
            "method": "percentile",
            "compensation": "auto",
            "reason": "",
            "dataset": "",
            "fsc": "",
            "ssc": "",
        }
        | values,
        error=error,
        field=field,
    )


@router.get("/batches/{code}/flow", response_class=HTMLResponse)
def batch_flow_form(
    request: Request, code: str, session: DbSession, me: CurrentUser
) -> HTMLResponse:
    require(me, "record_batch")
    batch_for(session, me, code)
    return _flow_page(request, session, me, code, values={})


@router.post("/batches/{code}/flow")
async def batch_flow_save(
    request: Request,
    code: str,
    session: DbSession,
    me: CurrentUser,
    stained: Annotated[UploadFile, File()],
    isotype: Annotated[UploadFile, File()],
    markers: Annotated[str, Form()],
    percentile: Annotated[str, Form()] = "99",
    method: Annotated[str, Form()] = "percentile",
    compensation: Annotated[str, Form()] = "auto",
    tolerant: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    dataset: Annotated[str, Form()] = "",
    fsc: Annotated[str, Form()] = "",
    ssc: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, me, csrf)
    require(me, "record_batch")
    batch_for(session, me, code)
    shown = {
        "markers": markers,
        "percentile": percentile,
        "method": method,
        "compensation": compensation,
        "reason": reason,
        "dataset": dataset,
        "fsc": fsc,
        "ssc": ssc,
    }
    if dataset.strip() and not dataset.strip().isdigit():
        return _flow_page(
            request,
            session,
            me,
            code,
            values=shown,
            error=f"the data set {dataset!r} is not a number (1 for the first)",
            field="dataset",
            status=400,
        )
    try:
        gate = float(percentile)
    except ValueError:
        return _flow_page(
            request,
            session,
            me,
            code,
            values=shown,
            error=f"the isotype percentile {percentile!r} is not a number",
            field="percentile",
            status=400,
        )
    try:
        record_identity_from_fcs(
            session,
            actor=me.user.username,
            batch_code=code,
            stained=FcsUpload(stained.filename or "stained.fcs", await stained.read()),
            isotype=FcsUpload(isotype.filename or "isotype.fcs", await isotype.read()),
            markers=markers.split(","),
            percentile=gate,
            method=method,
            compensation=compensation,
            tolerant=bool(tolerant),
            reason=reason or None,
            dataset=int(dataset) if dataset.strip() else None,
            fsc=fsc.strip() or None,
            ssc=ssc.strip() or None,
        )
    except AlstrialError as error:
        session.rollback()
        return _flow_page(
            request,
            session,
            me,
            code,
            values=shown,
            error=error.message,
            field=error.field,
            status=400,
        )
    return RedirectResponse(f"/batches/{code}", status_code=303)
