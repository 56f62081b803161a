"""The protocol's own forms (the data dictionary) on the web: entry, the live check, repeating
forms as a list, missing-data codes, soft-range confirmation, and a preview for the protocol's
author.

``GET /subjects/{code}/crf/{form}`` shows the form: at a visit (``?visit=``), or once per
subject; for a repeating form, the saved instances with a link to correct each
(``?instance=``) above an empty form that adds one. ``POST`` saves through
:func:`alstrial.services.dictionary_forms.save_form_instance` or shows the page again with
every problem at its field (400). ``POST .../check`` is the live check htmx calls while the
form is filled in: the same check as the save, answered as out-of-band swaps of each field's
message, its visibility (branching), its calculated value and its soft-range confirmation.
``POST .../verify`` is the monitor's source verification of a saved instance, whole or field
by field (:func:`alstrial.services.verification.verify_instance`), shown on the read-only
view of the form.

Branching needs no script: a marker element before each field carries the class ``hide``
and the stylesheet hides the field after it (``span.hide + div.field``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from alstrial.exceptions import AlstrialError, FormValidationError, NotFoundError
from alstrial.protocol.dictionary import MISSING_CODES, DictionaryForm
from alstrial.protocol.form_values import CheckedForm, FileUpload, Missing, encode_value
from alstrial.services.attachments import attachment_infos, read_attachment
from alstrial.services.dictionary_forms import (
    INSTANCE_RECORD,
    InstanceView,
    check_entry,
    dictionary_form,
    form_instances,
    save_form_instance,
)
from alstrial.services.lookup import current_protocol
from alstrial.services.review import queries_on
from alstrial.services.verification import verify_instance
from alstrial.store.models import DataQuery
from alstrial.web.deps import CurrentUser, DbSession, Me, form_status, page, require, subject_for
from alstrial.web.routes.entry import shown_values, submission

router = APIRouter(include_in_schema=False)


def _form(session: Session, name: str) -> DictionaryForm:
    try:
        return dictionary_form(session, name)
    except NotFoundError as error:
        raise HTTPException(status_code=404, detail=error.message) from None


def _entry(
    form: DictionaryForm, raw: Mapping[str, list[str]]
) -> tuple[dict[str, object], dict[str, Missing], set[str]]:
    """A submission as the check takes it: entered values, missing codes, confirmations."""
    entered: dict[str, object] = {}
    for f in form.fields:
        if not f.holds_value or f.type in ("calc", "file") or f.name not in raw:
            continue
        given = [v for v in raw[f.name] if v != ""]
        entered[f.name] = given if f.type == "multichoice" else (given[-1] if given else None)
    missing = {
        f.name: Missing(code, (raw.get(f"missing_reason__{f.name}") or [""])[-1])
        for f in form.fields
        if (code := (raw.get(f"missing__{f.name}") or [""])[-1])
    }
    confirmed = {f.name for f in form.fields if raw.get(f"confirm__{f.name}")}
    return entered, missing, confirmed


def _shown(values: Mapping[str, object]) -> dict[str, Any]:
    """Saved typed values as the inputs show them (lists stay lists)."""
    return {k: v if isinstance(v, list) else (encode_value(v) or "") for k, v in values.items()}


def _outside(checked: CheckedForm) -> set[str]:
    """Fields whose value lies outside the soft range (confirmed or not)."""
    return set(checked.soft) | set(checked.confirmed)


def _render(
    request: Request,
    session: Session,
    me: Me,
    form: DictionaryForm,
    *,
    code: str,
    visit: str | None,
    instance: int | None,
    instances: list[InstanceView],
    values: Mapping[str, Any],
    checked: CheckedForm,
    missing: Mapping[str, Missing],
    confirmed: set[str],
    status: int = 200,
    errors: Mapping[str, str] | None = None,
    problem: str | None = None,
) -> HTMLResponse:
    query = f"?visit={visit}" if visit else ""
    shown_errors = dict(errors or {})
    queries: dict[int, dict[str, list[DataQuery]]] = {}
    for saved in instances:
        for found in queries_on(session, INSTANCE_RECORD, saved.id):
            queries.setdefault(saved.id, {}).setdefault(found.field, []).append(found)
    corrected = next((i for i in instances if i.instance == instance), None)
    files = attachment_infos(
        session, [*values.values(), *(v for i in instances for v in i.values.values())]
    )
    return page(
        request,
        "crf.html.j2",
        status=status,
        me=me,
        form=form,
        code=code,
        visit=visit,
        instance=instance,
        instances=instances,
        values=values,
        calculated={k: checked.values.get(k) for k in form.calc_order()},
        hidden=checked.hidden,
        outside=_outside(checked),
        confirmed=confirmed,
        missing=missing,
        missing_codes=MISSING_CODES,
        errors=shown_errors,
        problem=problem,
        queries=queries,
        corrected=corrected,
        back=f"/subjects/{code}/crf/{form.name}{query}",
        action=f"/subjects/{code}/crf/{form.name}{query}",
        verify_url=f"/subjects/{code}/crf/{form.name}/verify{query}",
        attachments=files,
        has_files=any(f.type == "file" for f in form.fields),
        check_url=f"/subjects/{code}/crf/{form.name}/check{query}",
    )


@router.get("/subjects/{code}/crf/{name}", response_class=HTMLResponse)
def crf_page(
    request: Request,
    code: str,
    name: str,
    session: DbSession,
    me: CurrentUser,
    visit: str | None = None,
    instance: int | None = None,
) -> HTMLResponse:
    """A dictionary form (module docstring): new, or an instance to correct."""
    require(me, "view_subjects")
    subject_for(session, me, code)
    form = _form(session, name)
    values: dict[str, Any] = {}
    missing: dict[str, Missing] = {}
    confirmed: set[str] = set()
    instances = _instances(session, code, form, visit)
    saved = _saved(form, instances, instance)
    if saved is not None:
        values, missing, confirmed = _shown(saved.values), saved.missing, set(saved.confirmed)
        instance = saved.instance
    return _checked_page(
        request,
        session,
        me,
        form,
        code=code,
        visit=visit,
        instance=instance,
        instances=instances,
        entered={k: v for k, v in values.items() if k not in form.calc_order()},
        shown=values,
        missing=missing,
        confirmed=confirmed,
    )


def _instances(
    session: Session, code: str, form: DictionaryForm, visit: str | None
) -> list[InstanceView]:
    """The subject's saved instances of the form (at the visit); 404 for an unknown visit."""
    try:
        return form_instances(session, code, form.name, visit_code=visit)
    except NotFoundError as error:
        raise HTTPException(status_code=404, detail=error.message) from None


def _saved(
    form: DictionaryForm, saved: list[InstanceView], instance: int | None
) -> InstanceView | None:
    """The instance a page corrects: the one named, or a non-repeating form's only one."""
    if instance is not None:
        found = next((i for i in saved if i.instance == instance), None)
        if found is None:
            raise HTTPException(status_code=404, detail=f"no instance {instance} of {form.title}")
        return found
    return None if form.repeating or not saved else saved[0]


async def _files(
    request: Request, form: DictionaryForm, raw: Mapping[str, list[str]], *, live: bool = False
) -> dict[str, object]:
    """What each file field of a submission holds: the file chosen now, or the stored file a
    correction keeps (``current__<field>``), or nothing. The live check is sent without the
    file's bytes: a chosen file stands there for itself (the save reads and checks it)."""
    data = await request.form()
    found: dict[str, object] = {}
    for f in form.fields:
        if f.type != "file":
            continue
        given = data.get(f.name)
        if isinstance(given, UploadFile) and given.filename:
            content = await given.read()
            found[f.name] = FileUpload(given.filename, given.content_type or "", content)
        elif live and isinstance(given, str) and given.strip():
            found[f.name] = FileUpload(given, "", b"chosen")
        else:
            found[f.name] = (raw.get(f"current__{f.name}") or [""])[-1] or None
    for _, value in data.multi_items():
        if isinstance(value, UploadFile):
            await value.close()  # its spooled copy, read above or not wanted
    return found


@router.post("/subjects/{code}/crf/{name}")
async def crf_save(
    request: Request,
    code: str,
    name: str,
    session: DbSession,
    me: CurrentUser,
    visit: str | None = None,
) -> Response:
    """Save a dictionary form, or show it again with every problem at its field."""
    raw = await submission(request, session, me, code)
    form = _form(session, name)
    entered, missing, confirmed = _entry(form, raw)
    entered |= await _files(request, form, raw)
    number = (raw.get("instance") or [""])[-1]
    instance = int(number) if number.isdecimal() else None
    reason = (raw.get("reason") or [""])[-1] or None
    try:
        save_form_instance(
            session,
            actor=me.user.username,
            subject_code=code,
            form=form.name,
            visit_code=visit,
            instance=instance,
            entered=entered,
            missing=missing,
            confirmed=confirmed,
            reason=reason,
            max_file_bytes=request.app.state.limits.upload,
        )
    except AlstrialError as error:
        session.rollback()
        errors = (
            error.errors | error.unconfirmed
            if isinstance(error, FormValidationError)
            else {error.field or "_form": error.message}
        )
        return _checked_page(
            request,
            session,
            me,
            form,
            code=code,
            visit=visit,
            instance=instance,
            entered=entered,
            shown=shown_values(raw),
            missing=missing,
            confirmed=confirmed,
            status=form_status(error),
            errors=errors,
            problem=error.message,
        )
    if form.repeating:
        query = f"?visit={visit}" if visit else ""
        return RedirectResponse(f"/subjects/{code}/crf/{form.name}{query}", status_code=303)
    return RedirectResponse(f"/subjects/{code}", status_code=303)


@router.post("/subjects/{code}/crf/{name}/verify")
async def crf_verify(
    request: Request,
    code: str,
    name: str,
    session: DbSession,
    me: CurrentUser,
    visit: str | None = None,
) -> Response:
    """The monitor marks a saved instance (``instance``: its id) source-verified: whole
    (``whole``) or the fields ticked (``fields``); the page again, with the refusal at the
    top where there is one."""
    raw = await submission(request, session, me, code, action="verify_source")
    form = _form(session, name)
    number = (raw.get("instance") or [""])[-1]
    fields = [f for f in raw.get("fields", []) if f]
    problem: str | None = None
    if not number.isdecimal():
        problem = "name the instance to verify"
    elif not raw.get("whole") and not fields:
        problem = "tick the fields to verify, or verify the whole instance"
    else:
        try:
            verify_instance(
                session,
                actor=me.user.username,
                subject_code=code,
                form=form.name,
                instance_id=int(number),
                fields=() if raw.get("whole") else fields,
            )
        except AlstrialError as error:
            session.rollback()
            problem = error.message
    if problem is None:
        query = f"?visit={visit}" if visit else ""
        return RedirectResponse(f"/subjects/{code}/crf/{form.name}{query}", status_code=303)
    return _checked_page(
        request, session, me, form, code=code, visit=visit, status=400, problem=problem
    )


def _checked_page(
    request: Request,
    session: Session,
    me: Me,
    form: DictionaryForm,
    *,
    code: str,
    visit: str | None,
    status: int = 200,
    problem: str | None = None,
    instance: int | None = None,
    instances: list[InstanceView] | None = None,
    entered: Mapping[str, object] | None = None,
    shown: Mapping[str, Any] | None = None,
    missing: Mapping[str, Missing] | None = None,
    confirmed: set[str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The form's page: what was entered (or is saved), checked as the save checks it; after
    a refused save or verification, with every problem at its field and the refusal at the
    top."""
    checked = check_entry(
        session,
        subject_code=code,
        form=form.name,
        entered=entered or {},
        missing=missing,
        confirmed=confirmed or set(),
    )
    return _render(
        request,
        session,
        me,
        form,
        code=code,
        visit=visit,
        instance=instance,
        instances=_instances(session, code, form, visit) if instances is None else instances,
        values=shown or {},
        checked=checked,
        missing=missing or {},
        confirmed=confirmed or set(),
        status=status,
        errors=errors,
        problem=problem,
    )


@router.get("/subjects/{code}/files/{attachment_id}")
def crf_file(
    request: Request, code: str, attachment_id: int, session: DbSession, me: CurrentUser
) -> Response:
    """A file a file field holds, as a download (never shown in the page: a file is what
    a site gave, and an HTML file shown inline would run in alstrial's origin). 404 for
    another site's subject or another subject's file; the error page (422) with the reason
    for a file whose bytes no longer match their digest."""
    require(me, "view_subjects")
    subject_for(session, me, code)
    try:
        info, content = read_attachment(session, code, attachment_id)
    except NotFoundError as error:
        raise HTTPException(status_code=404, detail=error.message) from None
    return Response(
        content,
        media_type="application/octet-stream",
        headers={
            # nosniff is on every answer (the security middleware)
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(info.filename)}",
            "X-Alstrial-Sha256": info.sha256,
        },
    )


@router.post("/subjects/{code}/crf/{name}/check", response_class=HTMLResponse)
async def crf_check(
    request: Request, code: str, name: str, session: DbSession, me: CurrentUser
) -> HTMLResponse:
    """The live check (module docstring): out-of-band swaps, nothing saved."""
    raw = await submission(request, session, me, code)
    form = _form(session, name)
    entered, missing, confirmed = _entry(form, raw)
    entered |= await _files(request, form, raw, live=True)
    checked = check_entry(
        session,
        subject_code=code,
        form=form.name,
        entered=entered,
        missing=missing,
        confirmed=confirmed,
    )
    return page(
        request,
        "crf_check.html.j2",
        form=form,
        errors=checked.errors | checked.soft,
        hidden=checked.hidden,
        calculated={k: checked.values.get(k) for k in form.calc_order()},
        outside=_outside(checked),
        confirmed=confirmed,
    )


def _print(
    request: Request,
    session: Session,
    form: DictionaryForm,
    *,
    code: str | None,
    visit: str | None,
    saved: InstanceView | None,
    synthetic: bool,
) -> HTMLResponse:
    from datetime import UTC, datetime

    return page(
        request,
        "crf_print.html.j2",
        form=form,
        study=current_protocol(session).study,
        code=code,
        visit=visit,
        instance=saved.instance if saved else None,
        values=saved.values if saved else {},
        missing=saved.missing if saved else {},
        missing_codes=MISSING_CODES,
        synthetic=synthetic,
        printed=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


@router.get("/forms/{name}/print", response_class=HTMLResponse)
def crf_print_blank(
    request: Request, name: str, session: DbSession, me: CurrentUser
) -> HTMLResponse:
    """A blank paper case report form, to print and keep as source."""
    require(me, "view_subjects")
    form = _form(session, name)
    return _print(request, session, form, code=None, visit=None, saved=None, synthetic=False)


@router.get("/subjects/{code}/crf/{name}/print", response_class=HTMLResponse)
def crf_print_filled(
    request: Request,
    code: str,
    name: str,
    session: DbSession,
    me: CurrentUser,
    visit: str | None = None,
    instance: int | None = None,
) -> HTMLResponse:
    """A saved form as printed paper (the filled CRF), marked SYNTHETIC where it is."""
    require(me, "view_subjects")
    subject_for(session, me, code)
    form = _form(session, name)
    saved = _saved(form, _instances(session, code, form, visit), instance)
    synthetic = saved is not None and saved.synthetic
    return _print(request, session, form, code=code, visit=visit, saved=saved, synthetic=synthetic)


@router.get("/forms/{name}/preview", response_class=HTMLResponse)
def crf_preview(request: Request, name: str, session: DbSession, me: CurrentUser) -> HTMLResponse:
    """A form as a site will see it, for the protocol's author: nothing can be saved."""
    require(me, "view_subjects")
    form = _form(session, name)
    visits = [v.code for v in current_protocol(session).visits if form.name in v.assessments]
    return page(
        request,
        "crf_preview.html.j2",
        form=form,
        visits=visits,
        missing_codes=MISSING_CODES,
    )
