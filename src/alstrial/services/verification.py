"""Source data verification (SDV): a monitor compares a visit record with the source and marks
the whole record, or single fields, verified.

A record is one a visit form saved (ALSFRS-R, spirometry, laboratory, vital signs, MRI,
administration, adverse-event checklist); some forms save several at a visit (a laboratory
value per analyte, vital signs before and after an infusion), and each is verified on its own
(:func:`verify_source`) or all at once (:func:`verify_form`). A field is one of the record's
columns other than its keys. A later change to a verified value removes the verification in
the same audited flush (:mod:`alstrial.store.verification_locks`), so verified always means
"verified as it is now". Progress is the share of a subject's (or a site's) saved visit
records verified whole.

The instances of the protocol's own forms (the data dictionary) are records too, at a visit
or once per subject: :func:`verify_instance` verifies one whole or field by field, and the
progress counts them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from alstrial.exceptions import NotFoundError, ValidationError
from alstrial.services.dictionary_forms import (
    INSTANCE_RECORD,
    InstanceView,
    dictionary_form,
    instance_verifications,
    instance_view,
)
from alstrial.services.lookup import find_subject, find_visit
from alstrial.services.overview import VISIT_RECORDS
from alstrial.services.transaction import transaction
from alstrial.store.models import FormInstance, ItemValue, SourceVerification, Subject, Visit

__all__ = [
    "RecordView",
    "VerificationProgress",
    "record_view",
    "record_views",
    "verification_progress",
    "verify_form",
    "verify_instance",
    "verify_records",
    "verify_source",
]

_KEYS = frozenset({"id", "visit_id", "subject_id", "provenance"})


@dataclass(frozen=True)
class RecordView:
    """A saved visit record as a monitor reviews it: its values and what is verified."""

    form: str
    table: str
    record_id: int
    values: dict[str, object]
    verified: dict[str, tuple[str, datetime]]  # field ('' = whole record) -> (by, at)

    @property
    def fully_verified(self) -> bool:
        """The whole record is verified (as it is now)."""
        return "" in self.verified


def _table(form: str) -> Table:
    model = VISIT_RECORDS.get(form)
    if model is None:
        raise ValidationError(
            f"{form!r} is not a visit form with a record to verify",
            form="verification",
            field="form",
            value=form,
            allowed=", ".join(VISIT_RECORDS),
        )
    return model.__table__  # type: ignore[return-value]


def record_views(
    session: Session, subject_code: str, visit_code: str, form: str
) -> list[RecordView]:
    """Every record ``form`` saved at a visit, in the order saved, each with its
    verifications (empty when nothing is saved). A form may save several: a laboratory value
    per analyte, vital signs before and after an infusion.

    A verification made before migration 0017 names no record: it covers the first.
    """
    table = _table(form)
    visit = find_visit(session, find_subject(session, subject_code), visit_code, form=form)
    rows = (
        session.execute(select(table).where(table.c.visit_id == visit.id).order_by(table.c.id))
        .mappings()
        .all()
    )
    if not rows:
        return []
    first = int(rows[0]["id"])
    marks: dict[int, dict[str, tuple[str, datetime]]] = {}
    for mark in session.scalars(
        select(SourceVerification).where(
            SourceVerification.visit_id == visit.id,
            SourceVerification.record_table == table.name,
        )
    ):
        owner = first if mark.record_id is None else mark.record_id
        marks.setdefault(owner, {})[mark.field] = (mark.verified_by, mark.verified_at)
    return [
        RecordView(
            form,
            table.name,
            int(row["id"]),
            {k: v for k, v in row.items() if k not in _KEYS},
            marks.get(int(row["id"]), {}),
        )
        for row in rows
    ]


def record_view(
    session: Session, subject_code: str, visit_code: str, form: str, record_id: int | None = None
) -> RecordView:
    """The record ``form`` saved at a visit: ``record_id``, or the first where a form saves
    several (:func:`record_views`).

    Raises
    ------
    NotFoundError
        Nothing is recorded by that form at that visit, or no record ``record_id``.
    """
    views = record_views(session, subject_code, visit_code, form)
    if record_id is not None:
        views = [view for view in views if view.record_id == record_id]
    if views:
        return views[0]
    if record_id is None:
        raise NotFoundError(
            f"nothing is recorded by {form} at visit {visit_code} of {subject_code}",
            subject=subject_code,
            form=form,
            field="visit",
            value=visit_code,
        )
    raise NotFoundError(
        f"{form} has no record {record_id} at visit {visit_code} of {subject_code}",
        subject=subject_code,
        form=form,
        field="record_id",
        value=record_id,
    )


def verify_source(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    visit_code: str,
    form: str,
    fields: Sequence[str] = (),
    record_id: int | None = None,
) -> RecordView:
    """Mark one visit record (no ``fields``) or some of its fields source-verified: record
    ``record_id``, or the form's only record at the visit (:func:`verify_records`)."""
    verify_records(
        session,
        actor=actor,
        subject_code=subject_code,
        visit_code=visit_code,
        form=form,
        selection={record_id: fields},
    )
    return record_view(session, subject_code, visit_code, form, record_id)


def verify_form(
    session: Session, *, actor: str, subject_code: str, visit_code: str, form: str
) -> list[RecordView]:
    """Mark every record ``form`` saved at a visit source-verified, in one transaction."""
    views = record_views(session, subject_code, visit_code, form)
    return verify_records(
        session,
        actor=actor,
        subject_code=subject_code,
        visit_code=visit_code,
        form=form,
        selection={view.record_id: () for view in views},
    )


def verify_records(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    visit_code: str,
    form: str,
    selection: Mapping[int | None, Sequence[str]],
) -> list[RecordView]:
    """Mark records or fields of the records ``form`` saved at a visit source-verified, all in
    one transaction or none: ``selection`` maps a record id (None: the form's only record) to
    the fields to verify (none: the whole record). The records' views after.

    Raises
    ------
    NotFoundError
        Nothing recorded by the form at the visit, or no such record.
    ValidationError
        A field the record does not have (the message lists those it has), or no record id
        where the form saved several records (the message lists them).
    """
    views = record_views(session, subject_code, visit_code, form)
    if not views:
        record_view(session, subject_code, visit_code, form)  # raises the error that says why
    by_id = {view.record_id: view for view in views}
    plan: list[tuple[RecordView, list[str]]] = []
    for record_id, fields in selection.items():
        if record_id is None and len(views) > 1:
            raise ValidationError(
                f"{form} saved {len(views)} records at visit {visit_code}: name the one to "
                "verify, or verify the whole form",
                subject=subject_code,
                form="verification",
                field="record_id",
                allowed=", ".join(str(view.record_id) for view in views),
            )
        view = views[0] if record_id is None else by_id.get(record_id)
        if view is None:
            record_view(session, subject_code, visit_code, form, record_id)  # raises
            continue
        unknown = sorted(set(fields) - set(view.values))
        if unknown:
            raise ValidationError(
                f"{form} has no field {', '.join(unknown)}",
                subject=subject_code,
                form="verification",
                field="fields",
                value=unknown,
                allowed=", ".join(view.values),
            )
        wanted = [f for f in dict.fromkeys(fields or ("",)) if f not in view.verified]
        if wanted:
            plan.append((view, wanted))
    if plan:
        visit = find_visit(session, find_subject(session, subject_code), visit_code)
        now = datetime.now(UTC)
        with transaction(session, actor=actor):
            session.add_all(
                SourceVerification(
                    visit_id=visit.id,
                    record_table=view.table,
                    record_id=view.record_id,
                    field=name,
                    verified_by=actor,
                    verified_at=now,
                )
                for view, wanted in plan
                for name in wanted
            )
    return record_views(session, subject_code, visit_code, form)


def verify_instance(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    form: str,
    instance_id: int,
    fields: Sequence[str] = (),
) -> InstanceView:
    """Mark a saved instance of a dictionary form (``instance_id``, the id its view carries)
    source-verified, whole (no ``fields``) or field by field, as a visit record is
    (:func:`verify_records`); the instance's view after. A later change to a verified item
    removes the verification (:mod:`alstrial.store.verification_locks`).

    Raises
    ------
    NotFoundError
        No such form, subject or instance of the subject's form.
    ValidationError
        A field the form does not have (the message lists those it has).
    """
    spec = dictionary_form(session, form)
    subject = find_subject(session, subject_code)
    row = session.get(FormInstance, instance_id)
    if row is None or row.subject_id != subject.id or row.form != spec.name:
        raise NotFoundError(
            f"{subject_code} has no saved {spec.title} #{instance_id}",
            subject=subject_code,
            form=spec.name,
            field="instance",
            value=instance_id,
        )
    stored = set(
        session.scalars(select(ItemValue.field).where(ItemValue.form_instance_id == row.id))
    )
    known = [f.name for f in spec.fields if f.holds_value] + sorted(
        stored - {f.name for f in spec.fields}
    )
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise ValidationError(
            f"{spec.title} has no field {', '.join(unknown)}",
            subject=subject_code,
            form="verification",
            field="fields",
            value=unknown,
            allowed=", ".join(known),
        )
    done = instance_verifications(session, [row.id]).get(row.id, {})
    wanted = [name for name in dict.fromkeys(fields or ("",)) if name not in done]
    if wanted:
        now = datetime.now(UTC)
        with transaction(session, actor=actor):
            session.add_all(
                SourceVerification(
                    visit_id=row.visit_id,
                    record_table=INSTANCE_RECORD,
                    record_id=row.id,
                    field=name,
                    verified_by=actor,
                    verified_at=now,
                )
                for name in wanted
            )
    return instance_view(session, spec, row)


@dataclass(frozen=True)
class VerificationProgress:
    """Saved visit records and those verified whole, for one subject."""

    subject: str
    site_id: int
    records: int
    verified: int

    @property
    def percent(self) -> float:
        """Share verified, in percent (100 when nothing is saved yet)."""
        return 100.0 if self.records == 0 else 100.0 * self.verified / self.records


def verification_progress(
    session: Session, site_ids: Iterable[int] | None = None
) -> list[VerificationProgress]:
    """Each subject's SDV progress (module docstring), of the given sites or all."""
    subjects = select(Subject.id, Subject.study_code, Subject.site_id)
    if site_ids is not None:
        subjects = subjects.where(Subject.site_id.in_(list(site_ids)))
    counts: dict[int, list[int]] = {}
    for model in VISIT_RECORDS.values():
        table: Table = model.__table__  # type: ignore[assignment]
        saved = (
            select(Visit.subject_id, func.count())
            .join(table, table.c.visit_id == Visit.id)
            .group_by(Visit.subject_id)
        )
        for subject_id, count in session.execute(saved):
            counts.setdefault(subject_id, [0, 0])[0] += count
        verified = (
            select(Visit.subject_id, func.count())
            .join(SourceVerification, SourceVerification.visit_id == Visit.id)
            .where(SourceVerification.record_table == table.name, SourceVerification.field == "")
            .group_by(Visit.subject_id)
        )
        for subject_id, count in session.execute(verified):
            counts.setdefault(subject_id, [0, 0])[1] += count
    # The instances of the protocol's own forms, each one record.
    saved_instances = select(FormInstance.subject_id, func.count()).group_by(
        FormInstance.subject_id
    )
    for subject_id, count in session.execute(saved_instances):
        counts.setdefault(subject_id, [0, 0])[0] += count
    verified_instances = (
        select(FormInstance.subject_id, func.count())
        .join(SourceVerification, SourceVerification.record_id == FormInstance.id)
        .where(SourceVerification.record_table == INSTANCE_RECORD, SourceVerification.field == "")
        .group_by(FormInstance.subject_id)
    )
    for subject_id, count in session.execute(verified_instances):
        counts.setdefault(subject_id, [0, 0])[1] += count
    return [
        VerificationProgress(code, site, *counts.get(subject_id, [0, 0]))
        for subject_id, code, site in session.execute(subjects.order_by(Subject.study_code))
    ]
