"""Source data verification follows the data: a change to a verified value removes the
verification, in the same flush, so it is audited with the change's reason and commits with it
or not at all (like the signature locks, :mod:`alstrial.store.signature_locks`).

A verification covers one visit record, whole (``field`` empty) or one field. An update
removes the record's whole-record verification and those of the fields it changes; a deletion
removes every verification of the record. A verification made before migration 0017 names no
record (it covered the first of its table at its visit): any change to that table at that
visit removes it, which can only ever make less verified, never more.

A dictionary form's instance is one record (``form_instance``) whose fields are its item
rows: a changed, removed or added item removes the instance's whole-record verification and
that field's, whether the item goes through the ORM or the bulk insert
(:func:`clear_instance_verifications`, which :mod:`alstrial.store.audited_insert` calls); a
removed instance takes every verification of it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, cast

from sqlalchemy import Select, Table, event, inspect, or_, select
from sqlalchemy.orm import Session

from alstrial.store.base import Audited
from alstrial.store.models.forms import FormInstance, ItemValue
from alstrial.store.models.review import SourceVerification

__all__ = ["INSTANCE_RECORD", "clear_instance_verifications"]

#: The record a dictionary form instance's verifications (and queries) name.
INSTANCE_RECORD = "form_instance"

#: Rows whose verifications are not found by their own table and visit: a verification
#: itself, and a dictionary form's instance and items (verified as the instance).
_OWN_RULES = (SourceVerification, ItemValue, FormInstance)


def _table(row: Audited) -> str:
    return cast(Table, inspect(row).mapper.local_table).name


def _id(row: Audited) -> int:
    return int(inspect(row).identity[0])


def _changed(row: Audited) -> set[str]:
    state = inspect(row)
    return {attr.key for attr in state.attrs if attr.history.has_changes()}


def _remove(session: Session, query: Select[Any], fields: Collection[str] | None) -> None:
    """Delete the verifications ``query`` finds: the whole record's and those of ``fields``
    (None: every one)."""
    if fields is not None:
        query = query.where(
            or_(SourceVerification.field == "", SourceVerification.field.in_(sorted(fields)))
        )
    for verification in session.scalars(query):
        if verification not in session.deleted:
            session.delete(verification)


def clear_instance_verifications(
    session: Session, changed: Mapping[int, Collection[str] | None]
) -> None:
    """Remove the verifications that changes to dictionary form instances undo: per instance
    id, its whole-record verification and those of the fields named (None: every one)."""
    with session.no_autoflush:
        for instance_id, fields in changed.items():
            query = select(SourceVerification).where(
                SourceVerification.record_table == INSTANCE_RECORD,
                SourceVerification.record_id == instance_id,
            )
            _remove(session, query, fields)


def _instance_changes(session: Session) -> dict[int, set[str] | None]:
    """The dictionary form instances this flush changes, with the fields it changes."""
    changed: dict[int, set[str] | None] = {}
    for row in (*session.new, *session.dirty, *session.deleted):
        if isinstance(row, ItemValue) and row.form_instance_id is not None:
            if row in session.dirty and not session.is_modified(row):
                continue
            fields = changed.setdefault(row.form_instance_id, set())
            if fields is not None:
                fields.add(row.field)
        elif isinstance(row, FormInstance) and row in session.deleted:
            changed[row.id] = None
    return changed


@event.listens_for(Session, "before_flush")
def _clear_verification(session: Session, flush_context: Any, instances: Any) -> None:
    instance_changes = _instance_changes(session)
    if instance_changes:
        clear_instance_verifications(session, instance_changes)
    targets: list[tuple[int, str, int, set[str] | None]] = []
    for row in session.dirty:
        if isinstance(row, Audited) and not isinstance(row, _OWN_RULES):
            visit_id = getattr(row, "visit_id", None)
            if visit_id is not None and session.is_modified(row):
                targets.append((int(visit_id), _table(row), _id(row), _changed(row)))
    for row in session.deleted:
        if isinstance(row, Audited) and not isinstance(row, _OWN_RULES):
            visit_id = getattr(row, "visit_id", None)
            if visit_id is not None:
                targets.append((int(visit_id), _table(row), _id(row), None))
    if not targets:
        return
    with session.no_autoflush:
        for visit_id, table, record_id, fields in targets:
            query = select(SourceVerification).where(
                SourceVerification.visit_id == visit_id,
                SourceVerification.record_table == table,
                or_(
                    SourceVerification.record_id == record_id,
                    SourceVerification.record_id.is_(None),
                ),
            )
            _remove(session, query, fields)
