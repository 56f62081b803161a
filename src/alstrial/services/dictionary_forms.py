"""Entering the protocol's own forms (the data dictionary, issue 17).

:func:`save_form_instance` checks what was entered with the one check the live check uses
(:func:`alstrial.protocol.form_values.check_form`), then writes the form instance and its item
values in one audited transaction, or refuses with every problem at its field
(:class:`~alstrial.exceptions.FormValidationError`) and writes nothing.

- A visit form is entered at a visit that schedules it; a subject-level form at none.
- A form that does not repeat has one instance (per visit, or per subject): saving it again
  corrects it. A repeating form adds an instance each save, or corrects the ``instance``
  named.
- A correction that changes a saved value needs a reason; it is audited with it, and removes
  the visit's or casebook's signature like any change to signed data.
- A field hidden by branching keeps no value: one saved before is cleared (audited).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alstrial.exceptions import FormValidationError, NotFoundError, ValidationError
from alstrial.protocol.dictionary import DictionaryForm
from alstrial.protocol.form_values import (
    CheckedForm,
    Missing,
    check_form,
    decode_value,
    encode_value,
)
from alstrial.services.lookup import (
    current_protocol,
    find_subject,
    find_visit,
    latest_protocol_version,
    only_study,
)
from alstrial.services.transaction import transaction
from alstrial.store.models import Enrolment, FormInstance, ItemValue, Subject, Visit
from alstrial.vocabulary import Provenance

__all__ = [
    "InstanceView",
    "check_entry",
    "dictionary_form",
    "form_instances",
    "save_form_instance",
    "subject_attributes",
]


@dataclass(frozen=True)
class InstanceView:
    """A saved form instance with its typed values and missing-data codes."""

    id: int
    form: str
    instance: int
    visit: str | None
    values: dict[str, object]
    missing: dict[str, Missing]
    confirmed: frozenset[str]


def dictionary_form(session: Session, name: str) -> DictionaryForm:
    """The current protocol's dictionary form ``name``.

    Raises
    ------
    NotFoundError
        The protocol has no such form (the message lists those it has).
    """
    protocol = current_protocol(session)
    try:
        return protocol.form(name)
    except KeyError:
        known = ", ".join(f.name for f in protocol.forms) or "none"
        raise NotFoundError(
            f"the protocol has no form {name!r}", form=name, allowed=known
        ) from None


def subject_attributes(session: Session, subject: Subject) -> dict[str, object]:
    """The subject's attributes an expression reads as ``subject.<name>``."""
    arm = session.scalars(
        select(Enrolment.arm_code).where(Enrolment.subject_id == subject.id)
    ).first()
    return {
        "sex": subject.sex.value,
        "age_years": subject.age_years,
        "height_cm": subject.height_cm,
        "weight_kg": subject.weight_kg,
        "onset_region": subject.onset_region.value,
        "onset_date": subject.onset_date,
        "riluzole": subject.riluzole,
        "diagnostic_category": (
            subject.diagnostic_category.value if subject.diagnostic_category else None
        ),
        "arm": arm,
    }


def _where(
    session: Session, subject: Subject, form: DictionaryForm, visit_code: str | None
) -> Visit | None:
    """The visit a form is entered at (None for a subject-level form), checked."""
    if form.scope == "subject":
        if visit_code is not None:
            raise ValidationError(
                f"{form.title} is entered once per subject, not at a visit",
                subject=subject.study_code,
                form=form.name,
                field="visit",
                value=visit_code,
            )
        return None
    if visit_code is None:
        raise ValidationError(
            f"{form.title} is entered at a visit; name it",
            subject=subject.study_code,
            form=form.name,
            field="visit",
        )
    visit = find_visit(session, subject, visit_code, form=form.name)
    scheduled = current_protocol(session).visit(visit.code).assessments
    if form.name not in scheduled:
        raise ValidationError(
            f"visit {visit.code} does not schedule {form.title}",
            subject=subject.study_code,
            form=form.name,
            field="visit",
            value=visit_code,
            allowed=", ".join(v.code for v in current_protocol(session).visits
                              if form.name in v.assessments),
        )  # fmt: skip
    return visit


def check_entry(
    session: Session,
    *,
    subject_code: str,
    form: str,
    entered: Mapping[str, object],
    missing: Mapping[str, Missing] | None = None,
    confirmed: Collection[str] = (),
) -> CheckedForm:
    """The check :func:`save_form_instance` runs, without saving (the live check)."""
    spec = dictionary_form(session, form)
    subject = find_subject(session, subject_code)
    return check_form(
        spec,
        entered,
        subject=subject_attributes(session, subject),
        missing=missing,
        confirmed=confirmed,
    )


def save_form_instance(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    form: str,
    entered: Mapping[str, object],
    visit_code: str | None = None,
    instance: int | None = None,
    missing: Mapping[str, Missing] | None = None,
    confirmed: Collection[str] = (),
    reason: str | None = None,
    provenance: Provenance = Provenance.SOURCE,
) -> InstanceView:
    """Save a filling of dictionary form ``form`` (module docstring); ``provenance`` marks
    values alstrial generated (the demo's) as synthetic.

    Raises
    ------
    FormValidationError
        Every value refused and every soft-range value not confirmed, by field.
    ValidationError
        A visit that does not schedule the form, or a correction without a reason.
    NotFoundError
        No such form, subject, visit or instance.
    """
    spec = dictionary_form(session, form)
    subject = find_subject(session, subject_code)
    visit = _where(session, subject, spec, visit_code)
    checked = check_form(
        spec,
        entered,
        subject=subject_attributes(session, subject),
        missing=missing,
        confirmed=confirmed,
    )
    if not checked.ok:
        raise FormValidationError(
            form=spec.name,
            title=spec.title,
            errors=checked.errors,
            unconfirmed=checked.soft,
            subject=subject_code,
        )
    slot = visit.id if visit is not None else 0
    row = _instance(session, subject, spec, slot, instance)
    items = (
        {}
        if row is None
        else {i.field: i for i in session.scalars(select(ItemValue).where(
            ItemValue.form_instance_id == row.id))}
    )  # fmt: skip
    wanted = {
        f.name: (
            encode_value(checked.values.get(f.name)),
            checked.missing.get(f.name),
            f.name in checked.confirmed,
        )
        for f in spec.fields
        if f.holds_value
    }
    changes = [
        name
        for name, (text, mark, _) in wanted.items()
        if name in items
        and (items[name].value, items[name].missing_code) != (text, mark.code if mark else None)
        and (items[name].value is not None or items[name].missing_code is not None)
    ]
    if changes and not (reason and reason.strip()):
        labels = ", ".join(spec.field(name).label for name in changes)
        raise ValidationError(
            f"{spec.title} is saved already: changing {labels} needs a reason",
            subject=subject_code,
            form=spec.name,
            field="reason",
        )
    version = latest_protocol_version(session, only_study(session))
    with transaction(session, actor=actor, reason=reason):
        if row is None:
            row = FormInstance(
                subject_id=subject.id,
                visit_id=visit.id if visit is not None else None,
                slot=slot,
                form=spec.name,
                instance=_next_instance(session, subject, spec, slot),
                protocol_version_id=version.id,
                provenance=provenance,
            )
            session.add(row)
            session.flush()
        elif row.protocol_version_id != version.id:
            row.protocol_version_id = version.id
        for name, (text, mark, was_confirmed) in wanted.items():
            item = items.get(name)
            if item is None:
                if text is None and mark is None:
                    continue
                item = ItemValue(
                    form_instance_id=row.id,
                    subject_id=subject.id,
                    visit_id=row.visit_id,
                    field=name,
                )
                session.add(item)
            item.value = text
            item.missing_code = mark.code if mark else None
            item.missing_reason = mark.reason.strip() if mark else None
            item.confirmed = was_confirmed
    return _view(session, spec, row)


def _instance(
    session: Session, subject: Subject, spec: DictionaryForm, slot: int, instance: int | None
) -> FormInstance | None:
    """The instance a save corrects, or None for a new one."""
    query = select(FormInstance).where(
        FormInstance.subject_id == subject.id,
        FormInstance.form == spec.name,
        FormInstance.slot == slot,
    )
    if instance is not None:
        row = session.scalars(query.where(FormInstance.instance == instance)).first()
        if row is None:
            raise NotFoundError(
                f"{subject.study_code} has no instance {instance} of {spec.title}",
                subject=subject.study_code,
                form=spec.name,
                field="instance",
                value=instance,
            )
        return row
    if spec.repeating:
        return None
    return session.scalars(query.order_by(FormInstance.instance)).first()


def _next_instance(session: Session, subject: Subject, spec: DictionaryForm, slot: int) -> int:
    last = session.scalar(
        select(func.max(FormInstance.instance)).where(
            FormInstance.subject_id == subject.id,
            FormInstance.form == spec.name,
            FormInstance.slot == slot,
        )
    )
    return int(last or 0) + 1


def _view(session: Session, spec: DictionaryForm, row: FormInstance) -> InstanceView:
    visit = session.get(Visit, row.visit_id) if row.visit_id is not None else None
    values: dict[str, object] = {}
    missing: dict[str, Missing] = {}
    confirmed: set[str] = set()
    for item in session.scalars(select(ItemValue).where(ItemValue.form_instance_id == row.id)):
        try:
            field = spec.field(item.field)
        except KeyError:  # a field an amendment removed: kept as stored text
            values[item.field] = item.value
            continue
        try:
            values[item.field] = decode_value(field, item.value)
        except ValueError:  # stored under a version whose field took other values
            values[item.field] = item.value
        if item.missing_code:
            missing[item.field] = Missing(item.missing_code, item.missing_reason or "")
        if item.confirmed:
            confirmed.add(item.field)
    return InstanceView(
        row.id,
        row.form,
        row.instance,
        visit.code if visit is not None else None,
        values,
        missing,
        frozenset(confirmed),
    )


def form_instances(
    session: Session, subject_code: str, form: str, *, visit_code: str | None = None
) -> list[InstanceView]:
    """A subject's saved instances of a dictionary form (at one visit, where named), in
    order of visit and instance."""
    spec = dictionary_form(session, form)
    subject = find_subject(session, subject_code)
    query = select(FormInstance).where(
        FormInstance.subject_id == subject.id, FormInstance.form == spec.name
    )
    if visit_code is not None:
        visit = find_visit(session, subject, visit_code, form=form)
        query = query.where(FormInstance.visit_id == visit.id)
    rows = session.scalars(query.order_by(FormInstance.slot, FormInstance.instance)).all()
    return [_view(session, spec, row) for row in rows]
