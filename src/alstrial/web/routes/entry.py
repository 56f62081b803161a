"""Data entry: one pair of routes serves every form of :data:`alstrial.web.forms.FORMS`.

``GET`` shows the form (with the saved values when a visit's record is being corrected);
``POST`` parses, saves through the form's service and goes back to the subject's timeline, or
shows the page again with the error at its field (400); ``POST .../check`` is the live check
htmx calls while the form is filled in: it saves nothing and answers the preview (total and
stages, % predicted) and a message for each field that does not parse.
"""

from collections.abc import Mapping
from datetime import date
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from alstrial.exceptions import AlstrialError, FormValidationError
from alstrial.services.lab_review import find_lab, high_grade, review_high_grade
from alstrial.services.lookup import current_protocol
from alstrial.services.overview import (
    VISIT_RECORDS,
    TimelineVisit,
    saved_record,
    subject_audit,
    subject_timeline,
)
from alstrial.services.review import casebook_state, queries_on
from alstrial.services.safety import grade_lab
from alstrial.services.soft_checks import failed_checks, raise_automatic_queries
from alstrial.services.verification import (
    RecordView,
    record_views,
    verify_form,
    verify_records,
)
from alstrial.store.models import AdverseEvent, DataQuery, LabResult
from alstrial.web.deps import (
    CurrentUser,
    DbSession,
    Me,
    check_csrf,
    page,
    require,
    subject_for,
    subject_ref_for,
)
from alstrial.web.forms import FORMS, Context, FormSpec, check_form, parse_form, with_choices
from alstrial.web.permissions import allowed

router = APIRouter(include_in_schema=False)


def _spec(name: str, scope: str) -> FormSpec:
    spec = FORMS.get(name)
    if spec is None or spec.scope != scope:
        raise HTTPException(status_code=404, detail=f"no form {name}")
    return spec


def _visit_spec(session: Session, name: str) -> FormSpec:
    """A visit form's spec; "assessment not done" offers the protocol's own visit forms too
    (their names come from the protocol, not from the code)."""
    spec = _spec(name, "visit")
    if name != "not_done":
        return spec
    own = tuple((f.name, f.title) for f in current_protocol(session).forms if f.scope == "visit")
    built_in = next(f.choices for f in spec.fields if f.name == "assessment")
    return with_choices(spec, "assessment", built_in + own)


def raw_values(form: FormData) -> dict[str, list[str]]:
    """Every submitted value of every field (check boxes and multi-selects give several),
    in one pass over the submission (a lookup per field was quadratic in the fields)."""
    values: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        values.setdefault(key, []).append(str(value))
    return values


def shown_values(raw: Mapping[str, list[str]]) -> dict[str, Any]:
    """Submitted text, to show again: one value per field, the list for a multi-select."""
    return {key: (values[-1] if len(values) == 1 else values) for key, values in raw.items()}


def render_form(
    request: Request,
    me: Me,
    spec: FormSpec,
    *,
    code: str,
    visit: str | None,
    values: Mapping[str, Any],
    errors: Mapping[str, str],
    status: int = 200,
    notice: str | None = None,
    queries: Mapping[str, list[DataQuery]] | None = None,
    saved_records: int = 0,
) -> HTMLResponse:
    base = f"/subjects/{code}" + (f"/visits/{visit}" if visit else "/forms")
    return page(
        request,
        "form.html.j2",
        status=status,
        me=me,
        spec=spec,
        code=code,
        visit=visit,
        action=f"{base}/{spec.name}",
        check_url=f"{base}/{spec.name}/check",
        values=values,
        errors=errors,
        notice=notice,
        queries=queries or {},
        saved_records=saved_records,
    )


def _saved_views(session: Session, code: str, visit: str, form: str) -> list[RecordView]:
    """The records a visit form saved, in order: none for a form that saves none, or
    nothing yet; several for a form that saves one per analyte or reading."""
    if form not in VISIT_RECORDS:
        return []
    return record_views(session, code, visit, form)


def record_queries(
    session: Session, code: str, visit: str, spec: FormSpec
) -> dict[str, list[DataQuery]]:
    """The queries on the record a correcting visit form saved, by field (shown next to each
    field of the form that corrects it). A form that adds a record per save shows none: its
    entry form is a new record, and its records' queries are on the read-only page."""
    views = _saved_views(session, code, visit, spec.name) if spec.corrects else []
    found: dict[str, list[DataQuery]] = {}
    for view in views[:1]:
        for query in queries_on(session, view.table, view.record_id):
            found.setdefault(query.field, []).append(query)
    return found


async def submission(
    request: Request, session: Session, me: Me, code: str | None, action: str = "enter_data"
) -> dict[str, list[str]]:
    """A data-entry POST's fields, once its CSRF token, the role's right to ``action`` (enter
    clinical data, or record a batch) and (for a subject's form) the site boundary are
    checked."""
    form = await request.form()
    check_csrf(request, me, str(form.get("csrf", "")))
    require(me, action)
    if code is not None:
        subject_ref_for(session, me, code)
    return raw_values(form)


def try_save(
    request: Request,
    session: Session,
    me: Me,
    spec: FormSpec,
    raw: Mapping[str, list[str]],
    *,
    code: str,
    visit: str | None,
    batch: str | None = None,
) -> dict[str, str]:
    """Parse and save a form through its service; on a refusal, roll back and return the
    error by field (``_form`` when it names none), else nothing."""
    context = Context(
        session, me.user.username, code, visit, request.app.state.timezone, batch=batch
    )
    try:
        request.state.saved = spec.save(context, parse_form(spec, raw, context.timezone))
    except FormValidationError as error:
        session.rollback()
        return dict(error.errors)
    except AlstrialError as error:
        session.rollback()
        return {error.field or "_form": error.message}
    return {}


async def save_form(
    request: Request, session: Session, me: Me, spec: FormSpec, *, code: str, visit: str | None
) -> Response:
    """Parse and save a submitted form (module docstring)."""
    raw = await submission(request, session, me, code)
    errors = try_save(request, session, me, spec, raw, code=code, visit=visit)
    if errors:
        return render_form(
            request,
            me,
            spec,
            code=code,
            visit=visit,
            values=shown_values(raw),
            errors=errors,
            status=400,
        )
    saved = request.state.saved
    if visit is not None:
        try:
            raise_automatic_queries(session, code, visit, spec.name, getattr(saved, "id", None))
        except AlstrialError:
            session.rollback()  # a check naming a field the record lacks: the save stands
    if isinstance(saved, LabResult) and high_grade(session, code, saved.id) is not None:
        # Issue 15, item 7: a value at the protocol's alert grade asks for its review.
        return RedirectResponse(f"/subjects/{code}/labs/{saved.id}/review", status_code=303)
    from_lab = (raw.get("from_lab") or [""])[-1]
    if isinstance(saved, AdverseEvent) and from_lab.isdecimal():
        try:
            review_high_grade(
                session,
                actor=me.user.username,
                subject_code=code,
                lab_id=int(from_lab),
                decision="reported",
                adverse_event_id=saved.id,
            )
        except AlstrialError:
            session.rollback()  # reviewed meanwhile, or not this subject's: the AE stands
    return RedirectResponse(f"/subjects/{code}", status_code=303)


async def live_check(
    request: Request, session: Session, me: Me, spec: FormSpec, *, code: str, visit: str | None
) -> HTMLResponse:
    """The live check (module docstring): an HTML fragment, nothing saved."""
    raw = await submission(request, session, me, code)
    tz = request.app.state.timezone
    values, errors = check_form(spec, raw, tz)
    preview: Mapping[str, object] = {}
    if spec.preview is not None:
        try:
            preview = spec.preview(Context(session, me.user.username, code, visit, tz), values)
        except AlstrialError as error:
            errors.setdefault(error.field or "_form", error.message)
    warnings = [
        f"{check.message} ({check.field} = {value})"
        for check, value in failed_checks(session, spec.name, values)
    ]
    return page(
        request,
        "form_check.html.j2",
        spec=spec,
        preview=preview,
        errors=errors,
        warnings=warnings,
    )


def _notice(
    session: Session, code: str, visit: TimelineVisit, spec: FormSpec
) -> tuple[dict[str, Any], str | None]:
    """The saved values a correction starts from, and what a change will need."""
    saved = saved_record(session, code, visit.code, spec.name) if spec.corrects else None
    signed = visit.signed_by
    notes = []
    if saved:
        notes.append(f"{spec.title} is saved for this visit: a change needs a reason.")
    if signed:
        notes.append(
            f"The visit is signed by {signed}: a change needs a reason and removes the signature."
        )
    casebook = _casebook_notice(session, code)
    if casebook:
        notes.append(casebook)
    values = {k: "" if v is None else str(v) for k, v in (saved or {}).items()}
    return values, " ".join(notes) or None


def _casebook_notice(session: Session, code: str) -> str | None:
    signed_by = casebook_state(session, code).signed_by
    if signed_by is None:
        return None
    return (
        f"The casebook is signed by {signed_by}: a change needs a reason and removes the "
        "casebook signature."
    )


@router.get("/subjects/{code}/visits/{visit}/{name}", response_class=HTMLResponse)
def visit_form(
    request: Request, code: str, visit: str, name: str, session: DbSession, me: CurrentUser
) -> HTMLResponse:
    spec = _visit_spec(session, name)
    require(me, "view_subjects")
    subject_for(session, me, code)
    timeline = {v.code: v for v in subject_timeline(session, code, date.today())}
    if visit not in timeline:
        raise HTTPException(status_code=404, detail=f"{code} has no visit {visit}")
    if not allowed(me.user.role, "enter_data") or request.query_params.get("read"):
        return record_page(request, session, me, spec, code=code, visit=visit)
    values, notice = _notice(session, code, timeline[visit], spec)
    saved = [] if spec.corrects else _saved_views(session, code, visit, spec.name)
    if saved:
        count = f"{len(saved)} record{'s' if len(saved) > 1 else ''}"
        notice = " ".join(
            filter(None, [f"{count} of this form saved at this visit; this adds one.", notice])
        )
    return render_form(
        request,
        me,
        spec,
        code=code,
        visit=visit,
        values=values,
        errors={},
        notice=notice,
        queries=record_queries(session, code, visit, spec),
        saved_records=len(saved),
    )


def record_page(
    request: Request,
    session: Session,
    me: Me,
    spec: FormSpec,
    *,
    code: str,
    visit: str,
    status: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    """The records a visit form saved, read-only, as a monitor reviews them: each value, what
    is verified, each record's history and queries; for the monitor, source verification of
    the whole form, of a record or of fields."""
    views = _saved_views(session, code, visit, spec.name)
    history = {
        view.record_id: subject_audit(
            session, code, entity=view.table, record_id=str(view.record_id)
        )
        for view in views
    }
    queries = {view.record_id: queries_on(session, view.table, view.record_id) for view in views}
    labels = {f.name: f.label for f in spec.fields}
    wording = {f.name: dict(f.choices) for f in spec.fields if f.choices}
    return page(
        request,
        "record.html.j2",
        status=status,
        me=me,
        spec=spec,
        code=code,
        visit=visit,
        views=views,
        labels=labels,
        wording=wording,
        history=history,
        queries=queries,
        error=error,
    )


def _verification_selection(raw: Mapping[str, list[str]]) -> dict[int | None, list[str]]:
    """What the verification form asks for: record id (None: the form's only record) ->
    fields ticked (none: the whole record). A ticked field is ``record:field`` where the form
    saved several records."""
    selection: dict[int | None, list[str]] = {}
    for value in raw.get("record", []):
        if value.strip().isdecimal():
            selection.setdefault(int(value), [])
    for value in filter(None, raw.get("fields", [])):
        record, _, name = value.rpartition(":")
        if record and not record.isdecimal():
            raise HTTPException(status_code=400, detail=f"{value!r} is not record:field")
        selection.setdefault(int(record) if record else None, []).append(name)
    return selection


@router.post("/subjects/{code}/visits/{visit}/{name}/verify")
async def visit_form_verify(
    request: Request, code: str, visit: str, name: str, session: DbSession, me: CurrentUser
) -> Response:
    """The monitor marks the record, or the fields ticked, source-verified."""
    spec = _spec(name, "visit")
    raw = await submission(request, session, me, code, action="verify_source")
    selection = _verification_selection(raw)
    if not raw.get("whole") and not selection:
        return record_page(
            request,
            session,
            me,
            spec,
            code=code,
            visit=visit,
            status=400,
            error="tick the fields to verify, or verify a record or the whole form",
        )
    try:
        if raw.get("whole"):
            verify_form(
                session,
                actor=me.user.username,
                subject_code=code,
                visit_code=visit,
                form=spec.name,
            )
        else:
            verify_records(
                session,
                actor=me.user.username,
                subject_code=code,
                visit_code=visit,
                form=spec.name,
                selection=selection,
            )
    except AlstrialError as error:
        session.rollback()
        return record_page(
            request,
            session,
            me,
            spec,
            code=code,
            visit=visit,
            status=400,
            error=error.message,
        )
    return RedirectResponse(f"/subjects/{code}/visits/{visit}/{name}", status_code=303)


@router.post("/subjects/{code}/visits/{visit}/{name}")
async def visit_form_save(
    request: Request, code: str, visit: str, name: str, session: DbSession, me: CurrentUser
) -> Response:
    return await save_form(request, session, me, _visit_spec(session, name), code=code, visit=visit)


@router.post("/subjects/{code}/visits/{visit}/{name}/check", response_class=HTMLResponse)
async def visit_form_check(
    request: Request, code: str, visit: str, name: str, session: DbSession, me: CurrentUser
) -> HTMLResponse:
    return await live_check(
        request, session, me, _visit_spec(session, name), code=code, visit=visit
    )


@router.get("/subjects/{code}/forms/{name}", response_class=HTMLResponse)
def subject_form(
    request: Request, code: str, name: str, session: DbSession, me: CurrentUser
) -> HTMLResponse:
    spec = _spec(name, "subject")
    require(me, "enter_data")
    subject_for(session, me, code)
    values: dict[str, Any] = {}
    notice = _casebook_notice(session, code)
    from_lab = request.query_params.get("from_lab", "")
    if name == "adverse_event" and from_lab.isdecimal():
        values, notice = _from_lab(session, code, int(from_lab), notice)
    return render_form(
        request,
        me,
        spec,
        code=code,
        visit=None,
        values=values,
        errors={},
        notice=notice,
    )


def _from_lab(
    session: Session, code: str, lab_id: int, notice: str | None
) -> tuple[dict[str, Any], str | None]:
    """An adverse-event report offered from a high-grade laboratory value: term, category,
    onset and grade come from the value and are shown as such; the rest is the site's."""
    lab = find_lab(session, code, lab_id)
    graded = high_grade(session, code, lab_id)
    if graded is None:
        return {}, notice
    term = (
        grade_lab(
            session,
            subject_code=code,
            analyte=lab.analyte,
            value=lab.value,
            unit=lab.unit,
            sample_date=lab.sample_date,
        ).term
        or f"{lab.analyte} abnormal"
    )
    values = {
        "term": term,
        "category": "Investigations",
        "onset_date": lab.sample_date.isoformat(),
        "severity_grade": str(graded.grade),
        "from_lab": str(lab_id),
    }
    text = (
        f"Prefilled from {lab.analyte} {lab.value:g} {lab.unit} on {lab.sample_date} (CTCAE "
        f"grade {graded.grade}): term, category, onset and grade. Check them and complete "
        "the rest from the source."
    )
    return values, " ".join(filter(None, [text, notice]))


@router.post("/subjects/{code}/forms/{name}")
async def subject_form_save(
    request: Request, code: str, name: str, session: DbSession, me: CurrentUser
) -> Response:
    return await save_form(request, session, me, _spec(name, "subject"), code=code, visit=None)


@router.post("/subjects/{code}/forms/{name}/check", response_class=HTMLResponse)
async def subject_form_check(
    request: Request, code: str, name: str, session: DbSession, me: CurrentUser
) -> HTMLResponse:
    return await live_check(request, session, me, _spec(name, "subject"), code=code, visit=None)
