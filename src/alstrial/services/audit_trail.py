"""Reading and verifying the audit trail, and its anchors outside the database.

An anchor is a small JSON file (``anchor-<seq>.json``: sequence number, hash, time and the
MAC of the three under the audit key) written by ``alstrial audit anchor`` to a folder that
the database's administrator cannot write (another machine, a signed e-mail to the monitor,
write-once storage). ``alstrial audit verify --anchors DIR`` checks the chain against every
anchor: a rewritten chain no longer holds an anchor's hash, and a removed last transaction
leaves an anchor beyond the chain's end.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import cast

from sqlalchemy import Table, or_, select
from sqlalchemy.orm import Session

from alstrial.exceptions import ValidationError
from alstrial.store.audit import (
    ROW,
    ROWS,
    Anchor,
    AuditEvent,
    AuditHead,
    AuditVerification,
    audited_mappers,
    expand_records,
    make_anchor,
    rows_record_id,
    verify_audit_trail,
)

__all__ = [
    "AuditHeadInfo",
    "AuditLine",
    "AuditVerification",
    "audit_head",
    "read_anchors",
    "record_changes",
    "record_history",
    "verify_audit_trail",
    "write_anchor",
]


def write_anchor(session: Session, folder: Path, key: bytes | None) -> Path:
    """Write an anchor of the chain's head into ``folder``; its path."""
    if folder.exists() and not folder.is_dir():
        raise ValidationError(f"{folder} is a file; give a folder for the anchors", field="out")
    folder.mkdir(parents=True, exist_ok=True)
    anchor = make_anchor(session, key)
    path = folder / f"anchor-{anchor.seq:012d}.json"
    record = {k: v for k, v in asdict(anchor).items() if k != "source"}
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def read_anchors(folder: Path) -> list[Anchor]:
    """Every anchor file of ``folder`` (``anchor-*.json``), oldest first.

    Raises
    ------
    ValidationError
        For a missing folder or an anchor file that is not an anchor.
    """
    if not folder.is_dir():
        raise ValidationError(f"{folder} is not a folder of anchors", field="anchors")
    anchors = []
    for path in sorted(folder.glob("anchor-*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            anchors.append(
                Anchor(
                    int(data["seq"]),
                    str(data["hash"]),
                    str(data["recorded_at"]),
                    data.get("mac"),
                    path.name,
                )
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValidationError(
                f"{path} is not an anchor file ({error})", field="anchors", value=str(path)
            ) from None
    return anchors


@dataclass(frozen=True)
class AuditHeadInfo:
    """The last sequence number and hash: publish it to anchor the trail outside the database."""

    last_seq: int
    last_hash: str


def audit_head(session: Session) -> AuditHeadInfo:
    """The chain's head."""
    head = session.scalars(select(AuditHead)).one()
    return AuditHeadInfo(head.last_seq, head.last_hash)


@dataclass(frozen=True)
class HistoryLine:
    """One audited change of one record."""

    seq: int
    recorded_at: datetime
    actor: str
    action: str
    field: str
    old_value: str | None
    new_value: str | None
    reason: str | None


def record_history(session: Session, entity: str, record_id: str) -> list[HistoryLine]:
    """Every audited change of one record, oldest first."""
    return [
        HistoryLine(
            c.seq, c.recorded_at, c.actor, c.action, c.field, c.old_value, c.new_value, c.reason
        )
        for c in record_changes(session, entity, [record_id])
    ]


@dataclass(frozen=True)
class AuditLine:
    """One field's change of one record, read from one audit event."""

    seq: int
    recorded_at: datetime
    actor: str
    action: str
    entity: str
    record_id: str
    field: str
    old_value: str | None
    new_value: str | None
    reason: str | None


def record_changes(
    session: Session, entity: str, record_ids: Collection[str], field: str | None = None
) -> list[AuditLine]:
    """Every audited change of these records of table ``entity`` (of one field, where
    named), oldest first: from their own events, and from the rows events
    (:data:`~alstrial.store.audit.ROWS`) that inserted them with the other rows of their
    group (a form instance's items)."""
    wanted = set(record_ids)
    if not wanted:
        return []
    mine = AuditEvent.record_id.in_(sorted(wanted))
    groups = _group_record_ids(session, entity, wanted)
    found = or_(mine, AuditEvent.record_id.in_(sorted(groups))) if groups else mine
    query = select(AuditEvent).where(AuditEvent.entity == entity, found)
    if field is not None:
        query = query.where(AuditEvent.field.in_([field, ROW, ROWS]))
    return [
        AuditLine(
            e.seq, e.recorded_at, e.actor, e.action, e.entity, record, name, old, new, e.reason
        )
        for e in session.scalars(query.order_by(AuditEvent.seq))
        for record, name, old, new in expand_records(e.record_id, e.field, e.old_value, e.new_value)
        if record in wanted and (field is None or name == field)
    ]


def _group_record_ids(session: Session, entity: str, record_ids: set[str]) -> set[str]:
    """The record ids of the rows events that may hold these records: one per value of the
    table's audit group column among them (none for a table without one). A record no
    longer in the data is found by the value its delete event recorded."""
    mapper = next((m for m in audited_mappers() if m.local_table.name == entity), None)  # type: ignore[attr-defined]
    group = mapper.class_.audit_group if mapper is not None else None
    if mapper is None or group is None:
        return set()
    table = cast(Table, mapper.local_table)
    numeric = [int(i) for i in record_ids if i.isdigit()]
    stored = session.execute(select(table.c.id, table.c[group]).where(table.c.id.in_(numeric)))
    values: set[object] = set()
    gone = set(record_ids)
    for record_id, value in stored:
        values.add(value)
        gone.discard(str(record_id))
    if gone:  # only then is the trail asked
        for old in session.scalars(
            select(AuditEvent.old_value).where(
                AuditEvent.entity == entity,
                AuditEvent.record_id.in_(sorted(gone)),
                AuditEvent.field == group,
                AuditEvent.old_value.is_not(None),
            )
        ):
            values.add(json.loads(old or "null"))
    return {rows_record_id(group, value) for value in values if value is not None}
