"""The data-entry forms: their fields, how typed text becomes values, and which service
saves them.

A form is declared once (:class:`FormSpec`) and rendered, parsed, checked live and saved by
the same generic routes. Parsing refuses text that is not of the field's kind with a
ValidationError naming the field, so the page shows the error at that field; range and
consistency rules stay in the services (the same ones the CLI and the importers use), whose
errors carry the field too. The web computes no score: live totals and % predicted come from
:mod:`alstrial.services.previews`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from alstrial.exceptions import FormValidationError, ValidationError
from alstrial.protocol import Protocol
from alstrial.protocol.builtin_forms import REASON as DECLARED_REASON
from alstrial.protocol.builtin_forms import (
    RUNTIME_SOURCES,
    BuiltinChoice,
    BuiltinField,
    BuiltinForm,
)
from alstrial.protocol.form_values import check_form as check_dictionary_form
from alstrial.safety.mri import MriFinding
from alstrial.scoring import GliEthnicity
from alstrial.services import (
    AdverseEventReport,
    SubjectFacts,
    VitalsReading,
    enrol_subject,
    mark_visit_missed,
    record_administration,
    record_alsfrs,
    record_checklist_review,
    record_disposition,
    record_lab,
    record_milestone,
    record_mri,
    record_qualitative_lab,
    record_spirometry,
    record_visit_date,
    record_vitals,
    register_subject,
    report_adverse_event,
    screen_subject,
)
from alstrial.services.builtin_forms import BUILTIN_FORMS
from alstrial.services.completeness import mark_assessment_not_done
from alstrial.services.lookup import current_protocol
from alstrial.services.previews import preview_alsfrs, preview_spirometry
from alstrial.services.safety import grade_lab
from alstrial.vocabulary import (
    AdverseEventOutcome,
    DiagnosticCategory,
    DispositionStatus,
    MilestoneKind,
    OnsetRegion,
    Relatedness,
    Sex,
)

__all__ = [
    "ENROLMENT",
    "FORMS",
    "REASON",
    "REGISTRATION",
    "Context",
    "Field",
    "FormSpec",
    "Parsed",
    "bind_builtin",
    "check_form",
    "enum_choices",
    "parse_form",
    "with_choices",
]

Kind = Literal[
    "int", "float", "date", "datetime", "text", "choice", "bool", "yesno", "multi", "score"
]
Raw = Mapping[str, str | Sequence[str]]
Parsed = dict[str, Any]


class Option(NamedTuple):
    """One choice of a field: its code and its wording (a pair, and named like a data
    dictionary's choice, so the one field macro reads both)."""

    code: str
    label: str


#: The data dictionary's type of each kind of input, for the one field macro
#: (``templates/fields.html.j2``); ``boolean`` is a single tick box, which no dictionary
#: field is (a clinical yes/no is two radio buttons, neither chosen).
_DICTIONARY_TYPES: dict[Kind, str] = {
    "int": "integer",
    "float": "decimal",
    "date": "date",
    "datetime": "datetime",
    "text": "text",
    "choice": "choice",
    "bool": "boolean",
    "yesno": "yesno",
    "multi": "multichoice",
    "score": "choice",
}


@dataclass(frozen=True)
class Field:
    """One input of a built-in form. It answers to the names of a data dictionary's field
    (``type``, ``layout``, ``help``, ``max_length``, ``missing_codes``; choices with
    ``code`` and ``label``), so that one macro renders the built-in and the protocol's forms
    alike (issue 17)."""

    name: str
    label: str
    kind: Kind = "text"
    required: bool = True
    choices: tuple[Option, ...] = ()
    unit: str = ""
    hint: str = ""
    max_length: int = 2000

    @property
    def type(self) -> str:
        """The dictionary's type of the input: a choice wherever there are choices (an
        integer-coded grade is chosen from its wording, not typed)."""
        if self.choices and self.kind in ("int", "float", "text"):
            return "choice"
        return _DICTIONARY_TYPES[self.kind]

    @property
    def layout(self) -> str:
        """Radio buttons for a score, a drop-down list for another choice."""
        return "radio" if self.kind == "score" else "select"

    @property
    def help(self) -> str:
        return self.hint

    @property
    def missing_codes(self) -> tuple[str, ...]:
        """None: a built-in assessment not done is recorded with its own form."""
        return ()


@dataclass(frozen=True)
class Context:
    """Who saves what where: the values a save function needs besides the form."""

    session: Session
    actor: str
    subject: str
    visit: str | None
    timezone: ZoneInfo
    batch: str | None = None


@dataclass(frozen=True)
class FormSpec:
    """A form: title, scope (at a visit, of the subject, or of a cell-product batch), fields,
    save and live preview."""

    name: str
    title: str
    scope: Literal["visit", "subject", "batch"]
    fields: tuple[Field, ...]
    save: Callable[[Context, Parsed], object]
    preview: Callable[[Context, Parsed], Mapping[str, object]] | None = None
    assessment: str | None = None  # the protocol's name for it, when it is scheduled
    corrects: bool = False  # a second save corrects the first and asks for a reason
    extra: Mapping[str, object] = field(default_factory=dict)
    #: Checks across fields, run on the parsed values by the live check and the save alike:
    #: field -> what is wrong (ALSFRS-R: exactly one of items 5a and 5b).
    cross_check: Callable[[Parsed], Mapping[str, str]] | None = None
    #: The form's declaration (a built-in form): then the data dictionary's checker reads it
    #: (:func:`alstrial.protocol.form_values.check_form`), as it reads the protocol's forms.
    declared: BuiltinForm | None = None


def _refuse(spec: FormSpec, item: Field, text: str, allowed: str) -> ValidationError:
    return ValidationError(
        f"{item.label}: {text!r} is not {allowed}",
        form=spec.name,
        field=item.name,
        value=text,
        allowed=allowed,
    )


def _one(raw: Raw, name: str) -> str:
    value = raw.get(name, "")
    if isinstance(value, str):
        return value.strip()
    return str(value[-1]).strip() if value else ""


def _many(raw: Raw, name: str) -> list[str]:
    value = raw.get(name, ())
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value if v]


def _parse_field(spec: FormSpec, item: Field, raw: Raw, tz: ZoneInfo) -> object:
    if item.kind == "multi":
        chosen = _many(raw, item.name)
        codes = {code for code, _ in item.choices}
        unknown = [c for c in chosen if c not in codes]
        if unknown:
            raise _refuse(spec, item, unknown[0], "one of " + ", ".join(sorted(codes)))
        return tuple(chosen)
    if item.kind == "bool":
        return _one(raw, item.name) in {"on", "yes", "true", "1"}
    text = _one(raw, item.name)
    if not text:
        if item.required:
            raise ValidationError(
                f"{item.label} is required", form=spec.name, field=item.name, value=""
            )
        return None
    if item.kind in {"int", "score"}:
        try:
            number = int(text)
        except ValueError:
            allowed = "a score 0-4" if item.kind == "score" else "a whole number"
            raise _refuse(spec, item, text, allowed) from None
        if item.kind == "score" and not 0 <= number <= 4:
            raise _refuse(spec, item, text, "a score 0-4")
        return number
    if item.kind == "float":
        try:
            return float(text.replace(",", "."))
        except ValueError:
            raise _refuse(
                spec, item, text, f"a number{' in ' + item.unit if item.unit else ''}"
            ) from None
    if item.kind == "date":
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise _refuse(spec, item, text, "a date (YYYY-MM-DD)") from None
    if item.kind == "datetime":
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise _refuse(spec, item, text, "a date and time (YYYY-MM-DDTHH:MM)") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=tz)
    if item.kind == "choice":
        allowed_codes = {code for code, _ in item.choices}
        if text not in allowed_codes:
            raise _refuse(spec, item, text, "one of " + ", ".join(sorted(allowed_codes)))
    return text


def parse_form(spec: FormSpec, raw: Raw, tz: ZoneInfo) -> Parsed:
    """Typed values of a submitted form.

    Raises
    ------
    FormValidationError
        Every field that is required and blank or does not parse, each at its field (issue
        17: a save reported one error at a time).
    """
    values, errors = check_form(spec, raw, tz)
    if errors:
        raise FormValidationError(form=spec.name, title=spec.title, errors=errors)
    return values


def check_form(spec: FormSpec, raw: Raw, tz: ZoneInfo) -> tuple[Parsed, dict[str, str]]:
    """Live check while a form is filled in: the values that parse, and a message for each
    field that does not, a required one left blank included. The same reading as
    :func:`parse_form`, so the live check and the save agree (issue 17). A declared form is
    read by the data dictionary's checker (:func:`_check_declared`)."""
    if spec.declared is not None:
        values, errors = _check_declared(spec, spec.declared, raw, tz)
    else:
        values, errors = {}, {}
        for item in spec.fields:
            try:
                values[item.name] = _parse_field(spec, item, raw, tz)
            except ValidationError as error:
                errors[item.name] = error.message
    if spec.cross_check is not None:
        for name, message in spec.cross_check(values).items():
            errors.setdefault(name, message)
    return values, errors


def _check_declared(
    spec: FormSpec, declared: BuiltinForm, raw: Raw, tz: ZoneInfo
) -> tuple[Parsed, dict[str, str]]:
    """A built-in form read by the dictionary's checker (types, required, choices, hard
    ranges), its values then given the types the services take: a whole number for an
    integer-coded choice, False for an unticked box (a yes/no question shown as radio
    buttons has no such default: unanswered is None, and refused where it is required), a
    tuple for a multiple choice, the site's time zone for a date and time."""
    inputs = {item.name: item for item in spec.fields}
    entered: dict[str, object] = {}
    for f in declared.fields:
        item = inputs[f.name]
        if item.kind == "multi":
            entered[f.name] = _many(raw, f.name)
        elif item.kind == "bool":
            entered[f.name] = "yes" if _one(raw, f.name) in {"on", "yes", "true", "1"} else ""
        else:
            entered[f.name] = _one(raw, f.name)
    checked = check_dictionary_form(declared, entered)
    values: Parsed = {}  # as the field-by-field reading gives them: a refused field is absent
    for f in declared.fields:
        if f.name in checked.errors:
            continue
        value = checked.values.get(f.name)
        kind = inputs[f.name].kind
        if value is not None and f.integer_codes:
            value = int(str(value))
        elif kind == "bool":
            value = bool(value)
        elif kind == "multi":
            value = tuple(value or ())  # type: ignore[arg-type]
        elif isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=tz)
        values[f.name] = value
    return values, dict(checked.errors)


def with_choices(spec: FormSpec, name: str, choices: Sequence[tuple[str, str]]) -> FormSpec:
    """The form with the choices of one field filled in (sites, arms, the protocol's own
    assessments: known at run time), in its inputs and in its declaration alike, so that the
    dictionary's checker reads the field against the choices the form shows."""
    shown = tuple(Option(*choice) for choice in choices)
    fields = tuple(
        replace(item, choices=shown) if item.name == name else item for item in spec.fields
    )
    declared = spec.declared
    if declared is not None:
        declared = declared.model_copy(
            update={"fields": tuple(_offering(f, shown) if f.name == name else f
                                    for f in declared.fields)}
        )  # fmt: skip
    return replace(spec, fields=fields, declared=declared)


def _offering(declared: BuiltinField, shown: tuple[tuple[str, str], ...]) -> BuiltinField:
    """A declared field offering ``shown`` (a field declared as text whose choices come from
    the study becomes a choice; one that offers them already stays as it is)."""
    if shown == tuple((c.code, c.label) for c in declared.choices):
        return declared
    kind = "multichoice" if declared.type == "multichoice" else "choice"
    choices = tuple(BuiltinChoice(code=code, label=label) for code, label in shown)
    return declared.model_copy(update={"type": kind, "choices": choices})


def enum_choices(enum: Any) -> tuple[tuple[str, str], ...]:
    return tuple((member.value, member.value.replace("_", " ")) for member in enum)


# The declarations --------------------------------------------------------------------

#: The built-in forms as declared in ``alstrial/data/builtin_forms.toml`` (issue 17).
DECLARED = BUILTIN_FORMS

#: A yes/no question shown as two radio buttons, neither chosen until the user answers.
_YES_NO = (Option("yes", "yes"), Option("no", "no"))

_KINDS: dict[str, Kind] = {
    "integer": "int",
    "decimal": "float",
    "date": "date",
    "datetime": "datetime",
    "text": "text",
    "notes": "text",
    "choice": "choice",
    "yesno": "bool",
    "multichoice": "multi",
}


def _field(declared: BuiltinField) -> Field:
    """The web's input for a declared field: a whole number read from a chosen code, radio
    buttons for ``layout = "radio"``, and a choice filled in when the form is shown for a
    ``choices_from`` of the study's sites or arms."""
    kind = _KINDS[declared.type]
    choices = tuple(Option(c.code, c.label) for c in declared.choices)
    if declared.choices_from in RUNTIME_SOURCES:
        kind = "choice"
    if declared.integer_codes:
        kind = "score" if declared.layout == "radio" else "int"
    if declared.type == "yesno" and declared.layout == "radio":
        kind, choices = "yesno", _YES_NO
    return Field(
        declared.name,
        declared.label,
        kind,
        declared.required,
        choices,
        declared.unit,
        declared.help,
        declared.max_length,
    )


#: The shared "reason for the change" input (``use = "reason"`` in a declaration).
REASON = _field(BuiltinField.model_validate(DECLARED_REASON))


def declared_fields(name: str) -> tuple[Field, ...]:
    """The inputs of built-in form ``name``, from its declaration."""
    return tuple(_field(f) for f in DECLARED[name].fields)


# ALSFRS-R -------------------------------------------------------------------------------

_ALSFRS_ITEMS = tuple(f.name for f in DECLARED["alsfrs"].fields if f.name.startswith("item_"))


def _alsfrs_item_5(values: Parsed) -> dict[str, str]:
    """Exactly one of 5a (no gastrostomy) and 5b (gastrostomy) is answered (Cedarbaum 1999)."""
    answered = [key for key in ("item_5a", "item_5b") if values.get(key) is not None]
    if len(answered) == 1:
        return {}
    which = "both are" if answered else "neither is"
    return {
        "item_5a": f"Item 5: answer 5a (without gastrostomy) or 5b (with gastrostomy); {which} "
        "answered"
    }


def _alsfrs_items(values: Parsed) -> dict[str, int | None]:
    return {name: values.get(name) for name in _ALSFRS_ITEMS}


def _save_alsfrs(ctx: Context, values: Parsed) -> object:
    return record_alsfrs(
        ctx.session,
        actor=ctx.actor,
        subject_code=ctx.subject,
        visit_code=str(ctx.visit),
        assessment_date=values["assessment_date"],
        items=_alsfrs_items(values),
        reason=values.get("reason"),
    )


def _preview_alsfrs(ctx: Context, values: Parsed) -> Mapping[str, object]:
    if _alsfrs_item_5(values):
        return {"Total": "incomplete", "Items missing": "5a or 5b"}
    preview = preview_alsfrs(ctx.session, subject_code=ctx.subject, items=_alsfrs_items(values))
    missing = [name.replace("item_", "") for name in preview.missing]
    return {
        "Total": preview.total if preview.total is not None else "incomplete",
        **{name.replace("_", " ").capitalize(): v for name, v in preview.domains.items()},
        "King's stage": preview.kings or "",
        "MiToS stage": "" if preview.mitos is None else preview.mitos,
        "Items missing": ", ".join(missing),
    }


# Spirometry -----------------------------------------------------------------------------


def _save_spirometry(ctx: Context, values: Parsed) -> object:
    return record_spirometry(
        ctx.session,
        actor=ctx.actor,
        subject_code=ctx.subject,
        visit_code=str(ctx.visit),
        assessment_date=values["assessment_date"],
        fvc_litres=values["fvc_litres"],
        reason=values.get("reason"),
    )


def _preview_spirometry(ctx: Context, values: Parsed) -> Mapping[str, object]:
    if "fvc_litres" not in values or "assessment_date" not in values:
        return {}
    preview = preview_spirometry(
        ctx.session,
        subject_code=ctx.subject,
        assessment_date=values["assessment_date"],
        fvc_litres=values["fvc_litres"],
    )
    return {
        "% predicted": preview.percent_predicted,
        "z-score": preview.z_score,
        "LLN (L)": preview.lln_litres,
        "Equation": preview.equation,
    }


# Safety ---------------------------------------------------------------------------------


def _save_vitals(ctx: Context, values: Parsed) -> object:
    return record_vitals(
        ctx.session,
        actor=ctx.actor,
        subject_code=ctx.subject,
        visit_code=str(ctx.visit),
        reading=VitalsReading(
            measured_at=values["measured_at"],
            systolic_mmhg=values.get("systolic_mmhg"),
            diastolic_mmhg=values.get("diastolic_mmhg"),
            heart_rate_bpm=values.get("heart_rate_bpm"),
            respiratory_rate=values.get("respiratory_rate"),
            temperature_c=values.get("temperature_c"),
            spo2_pct=values.get("spo2_pct"),
            note=values.get("note") or "",
        ),
        reason=values.get("reason"),
    )


def _preview_lab(ctx: Context, values: Parsed) -> Mapping[str, object]:
    """The value in its unit, its flag and CTCAE grade as typed (issue 15, item 7)."""
    needed = ("sample_date", "analyte", "value", "unit")
    if any(values.get(name) in (None, "") for name in needed):
        return {}
    graded = grade_lab(
        ctx.session,
        subject_code=ctx.subject,
        analyte=values["analyte"],
        value=values["value"],
        unit=values["unit"],
        sample_date=values["sample_date"],
    )
    shown: dict[str, object] = {
        "Value": f"{graded.value:g} {graded.unit}",
        "Flag": graded.checked.flag or "within range",
    }
    if graded.grade is not None:
        alert = current_protocol(ctx.session).lab_alert_grade
        text = f"{graded.grade} ({graded.term})" if graded.grade else "0"
        if graded.grade >= alert:
            text += f": at the alert grade ({alert}); saving it asks whether it is an adverse event"
        shown["CTCAE grade"] = text
    return shown


def _save_lab(ctx: Context, values: Parsed) -> object:
    return record_lab(
        ctx.session,
        actor=ctx.actor,
        subject_code=ctx.subject,
        visit_code=str(ctx.visit),
        sample_date=values["sample_date"],
        analyte=values["analyte"],
        value=values["value"],
        unit=values["unit"],
        reason=values.get("reason"),
    )


def _save_qualitative_lab(ctx: Context, values: Parsed) -> object:
    panel, _, test = str(values["test"]).partition(": ")
    return record_qualitative_lab(
        ctx.session,
        actor=ctx.actor,
        subject_code=ctx.subject,
        visit_code=str(ctx.visit),
        sample_date=values["sample_date"],
        panel=panel,
        test=test,
        result=values["result"],
        detail=values.get("detail") or "",
        reason=values.get("reason"),
    )


def _save_checklist(ctx: Context, values: Parsed) -> object:
    return record_checklist_review(
        ctx.session,
        actor=ctx.actor,
        subject_code=ctx.subject,
        visit_code=str(ctx.visit),
        reviewed_on=values["reviewed_on"],
        none_reported=values["none_reported"],
        reason=values.get("reason"),
    )


def _save_mri(ctx: Context, values: Parsed) -> object:
    findings: tuple[MriFinding, ...] = ()
    if values.get("finding_region"):
        findings = (
            MriFinding(
                region=values["finding_region"],
                abnormality=values.get("finding_abnormality") or "",
                sequence=values.get("finding_sequence") or "",
                mass=bool(values.get("finding_mass")),
                description=values.get("finding_description") or "",
            ),
        )
    return record_mri(
        ctx.session,
        actor=ctx.actor,
        subject_code=ctx.subject,
        visit_code=str(ctx.visit),
        exam_date=values["exam_date"],
        regions=values["regions"],
        findings=findings,
        reason=values.get("reason"),
    )


def _save_administration(ctx: Context, values: Parsed) -> object:
    return record_administration(
        ctx.session,
        actor=ctx.actor,
        subject_code=ctx.subject,
        administered_at=values["administered_at"],
        route=values["route"],
        product_batch=values["product_batch"],
        cells_given=values["cells_given"],
        volume_ml=values["volume_ml"],
        reason=values.get("reason"),
    )


def adverse_event_report(values: Parsed, **kept: Any) -> AdverseEventReport:
    """The report the adverse-event form's values make (``kept``: what the form does not
    show, which a follow-up carries over)."""
    return AdverseEventReport(
        term=values["term"],
        category=values["category"],
        onset_date=values["onset_date"],
        end_date=values.get("end_date"),
        severity_grade=values["severity_grade"],
        serious=values["serious"],
        seriousness=tuple(values["seriousness"] or ()),
        relatedness=Relatedness(values["relatedness"]),
        outcome=AdverseEventOutcome(values["outcome"]),
        attributed_to=values.get("attributed_to") or "",
        treatment=values.get("treatment") or "",
        description=values.get("description") or "",
        expected=values["expected"],
        action_taken=values.get("action_taken"),
        **kept,
    )


def _save_adverse_event(ctx: Context, values: Parsed) -> object:
    return report_adverse_event(
        ctx.session,
        actor=ctx.actor,
        subject_code=ctx.subject,
        report=adverse_event_report(values),
        reason=values.get("reason"),
    )


def _save_milestone(ctx: Context, values: Parsed) -> object:
    return record_milestone(
        ctx.session,
        actor=ctx.actor,
        subject_code=ctx.subject,
        kind=MilestoneKind(values["kind"]),
        event_date=values["event_date"],
        cause=values.get("cause") or "",
        reason=values.get("reason"),
    )


def _save_disposition(ctx: Context, values: Parsed) -> object:
    return record_disposition(
        ctx.session,
        actor=ctx.actor,
        subject_code=ctx.subject,
        status=DispositionStatus(values["status"]),
        disposition_date=values["disposition_date"],
        reason=values.get("reason") or "",
    )


def _save_visit_date(ctx: Context, values: Parsed) -> object:
    return record_visit_date(
        ctx.session,
        actor=ctx.actor,
        subject_code=ctx.subject,
        visit_code=str(ctx.visit),
        actual_date=values["actual_date"],
        reason=values.get("reason"),
    )


def _save_not_done(ctx: Context, values: Parsed) -> object:
    return mark_assessment_not_done(
        ctx.session,
        actor=ctx.actor,
        subject_code=ctx.subject,
        visit_code=str(ctx.visit),
        assessment=values["assessment"],
        reason=values["reason"],
    )


def _save_missed(ctx: Context, values: Parsed) -> object:
    return mark_visit_missed(
        ctx.session,
        actor=ctx.actor,
        subject_code=ctx.subject,
        visit_code=str(ctx.visit),
        reason=values["reason"],
    )


def bind_builtin(
    name: str,
    save: Callable[[Context, Parsed], object],
    preview: Callable[[Context, Parsed], Mapping[str, object]] | None = None,
    cross_check: Callable[[Parsed], Mapping[str, str]] | None = None,
) -> FormSpec:
    """Built-in form ``name``: title, scope, fields, assessment and whether it corrects, as
    declared; bound to its service's ``save`` (and live ``preview``)."""
    declared = DECLARED[name]
    return FormSpec(
        name,
        declared.title,
        declared.scope,
        declared_fields(name),
        save,
        preview,
        assessment=declared.assessment,
        corrects=declared.corrects,
        cross_check=cross_check,
        declared=declared,
    )


FORMS: dict[str, FormSpec] = {
    spec.name: spec
    for spec in (
        bind_builtin("alsfrs", _save_alsfrs, _preview_alsfrs, cross_check=_alsfrs_item_5),
        bind_builtin("spirometry", _save_spirometry, _preview_spirometry),
        bind_builtin("vitals", _save_vitals),
        # Not a correcting form: each save is one analyte, so the form opens empty; a second
        # value of an analyte at a visit corrects it and needs a reason (service).
        bind_builtin("lab", _save_lab, _preview_lab),
        bind_builtin("qualitative_lab", _save_qualitative_lab),
        bind_builtin("checklist", _save_checklist),
        bind_builtin("mri", _save_mri),
        bind_builtin("administration", _save_administration),
        bind_builtin("visit_date", _save_visit_date),
        bind_builtin("missed", _save_missed),
        bind_builtin("not_done", _save_not_done),
        bind_builtin("adverse_event", _save_adverse_event),
        bind_builtin("milestone", _save_milestone),
        bind_builtin("disposition", _save_disposition),
    )
}


def _save_registration(ctx: Context, values: Parsed) -> object:
    return register_subject(
        ctx.session,
        actor=ctx.actor,
        facts=SubjectFacts(
            study_code=values["study_code"],
            site_code=values["site"],
            sex=Sex(values["sex"]),
            age_years=values["age_years"],
            onset_region=OnsetRegion(values["onset_region"]),
            riluzole=values["riluzole"],
            height_cm=values.get("height_cm"),
            weight_kg=values.get("weight_kg"),
            ethnicity=GliEthnicity(values["ethnicity"]) if values.get("ethnicity") else None,
            onset_date=values.get("onset_date"),
            diagnosis_date=values.get("diagnosis_date"),
            diagnostic_category=(
                DiagnosticCategory(values["diagnostic_category"])
                if values.get("diagnostic_category")
                else None
            ),
        ),
    )


#: Registering a subject (the route offers only the user's own sites).
REGISTRATION = bind_builtin("registration", _save_registration)


def _save_enrolment(ctx: Context, values: Parsed) -> object:
    return enrol_subject(
        ctx.session,
        actor=ctx.actor,
        subject_code=ctx.subject,
        arm_code=values["arm"],
        enrolment_date=values["enrolment_date"],
        planned_administration_date=values["planned_administration_date"],
        override_reason=values.get("override_reason"),
    )


#: Enrolling a screened subject (the route fills in the protocol's arms).
ENROLMENT = bind_builtin("enrolment", _save_enrolment)


#: Screening values the subject record already holds (not asked again at screening).
_FROM_SUBJECT = frozenset(
    {
        "age_years",
        "sex",
        "height_cm",
        "ethnicity",
        "riluzole",
        "el_escorial_category",
        "disease_duration_months",
    }
)


def screening_form(protocol: Protocol) -> FormSpec:
    """The screening form of a protocol: the date, and one input per field its criteria test
    (not those the subject record holds), typed by the criterion's value: yes/no, a number,
    or one of a list. Every finding may be left empty (unknown); the criteria then say so.

    Declared at run time in the dictionary's language, as the shipped forms are (its fields
    are the protocol's criteria), so that its submission is read by the dictionary's checker.
    """
    declared: dict[str, dict[str, Any]] = {}
    for criterion in protocol.eligibility:
        if criterion.field in _FROM_SUBJECT:
            continue
        field = declared.setdefault(
            criterion.field,
            {"name": criterion.field, "label": criterion.field.replace("_", " "), "help": ""},
        )
        field["help"] = "; ".join(filter(None, (field["help"], criterion.text)))
        value = criterion.value
        if isinstance(value, bool):
            field |= {"type": "choice", "choices": [{"code": c, "label": c} for c in ("yes", "no")]}
        elif isinstance(value, int | float):
            field["type"] = "decimal"
        elif isinstance(value, tuple):
            field |= {
                "type": "choice",
                "choices": [{"code": str(v), "label": str(v)} for v in value],
            }
        else:
            field["type"] = "text"
    form = BuiltinForm.model_validate(
        {
            "name": "screening",
            "title": "Screening",
            "scope": "subject",
            "fields": [
                {"name": "screening_date", "label": "Screening date", "type": "date",
                 "required": True},
                *declared.values(),
            ],
        }
    )  # fmt: skip
    yes_no = {f.name for f in form.fields if [c.code for c in f.choices] == ["yes", "no"]}

    def save(ctx: Context, values: Parsed) -> object:
        data = {
            name: (value == "yes" if name in yes_no else value)
            for name, value in values.items()
            if name != "screening_date" and value is not None
        }
        return screen_subject(
            ctx.session,
            actor=ctx.actor,
            subject_code=ctx.subject,
            screening_date=values["screening_date"],
            data=data,
        )

    return FormSpec(
        form.name,
        form.title,
        form.scope,
        tuple(_field(f) for f in form.fields),
        save,
        declared=form,
    )
