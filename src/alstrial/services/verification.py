"""Source data verification (SDV): a monitor compares a visit record with the source and marks
the whole record, or single fields, verified.

The record is the one a visit form saved (ALSFRS-R, spirometry, laboratory, vital signs, MRI,
administration, adverse-event checklist). A field is one of the record's columns other than
its keys. A later change to a verified value removes the verification in the same audited
flush (:mod:`alstrial.store.verification_locks`), so verified always means "verified as it is
now". Progress is the share of a subject's (or a site's) saved visit records verified whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from alstrial.exceptions import NotFoundError, ValidationError
from alstrial.services.lookup import find_subject, find_visit
from alstrial.services.overview import VISIT_RECORDS
from alstrial.services.transaction import transaction
from alstrial.store.models import SourceVerification, Subject, Visit

__all__ = [
    "RecordView",
    "VerificationProgress",
    "record_view",
    "verification_progress",
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


def record_view(
    session: Session, subject_code: str, visit_code: str, form: str, record_id: int | None = None
) -> RecordView:
    """The record ``form`` saved at a visit (the first, or ``record_id`` where a form saves
    several, as vital signs before and after an infusion), with its verifications.

    Raises
    ------
    NotFoundError
        Nothing is recorded by that form at that visit.
    """
    table = _table(form)
    visit = find_visit(session, find_subject(session, subject_code), visit_code, form=form)
    query = select(table).where(table.c.visit_id == visit.id).order_by(table.c.id)
    if record_id is not None:
        query = query.where(table.c.id == record_id)
    row = session.execute(query).mappings().first()
    if row is None:
        raise NotFoundError(
            f"nothing is recorded by {form} at visit {visit_code} of {subject_code}",
            subject=subject_code,
            form=form,
            field="visit",
            value=visit_code,
        )
    verified = {
        v.field: (v.verified_by, v.verified_at)
        for v in session.scalars(
            select(SourceVerification).where(
                SourceVerification.visit_id == visit.id,
                SourceVerification.record_table == table.name,
            )
        )
    }
    values = {k: v for k, v in row.items() if k not in _KEYS}
    return RecordView(form, table.name, int(row["id"]), values, verified)


def verify_source(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    visit_code: str,
    form: str,
    fields: Sequence[str] = (),
) -> RecordView:
    """Mark a visit record (no ``fields``) or some of its fields source-verified.

    Raises
    ------
    NotFoundError
        Nothing recorded by the form at the visit.
    ValidationError
        A field the record does not have (the message lists those it has).
    """
    view = record_view(session, subject_code, visit_code, form)
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
    visit = find_visit(session, find_subject(session, subject_code), visit_code)
    wanted = [f for f in dict.fromkeys(fields or ("",)) if f not in view.verified]
    if wanted:
        now = datetime.now(UTC)
        with transaction(session, actor=actor):
            for name in wanted:
                session.add(
                    SourceVerification(
                        visit_id=visit.id,
                        record_table=view.table,
                        field=name,
                        verified_by=actor,
                        verified_at=now,
                    )
                )
    return record_view(session, subject_code, visit_code, form)


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
    return [
        VerificationProgress(code, site, *counts.get(subject_id, [0, 0]))
        for subject_id, code, site in session.execute(subjects.order_by(Subject.study_code))
    ]
