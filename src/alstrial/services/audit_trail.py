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
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import ValidationError
from alstrial.store.audit import (
    Anchor,
    AuditEvent,
    AuditHead,
    AuditVerification,
    expand_event,
    make_anchor,
    verify_audit_trail,
)

__all__ = [
    "AuditHeadInfo",
    "AuditVerification",
    "audit_head",
    "read_anchors",
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
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity == entity, AuditEvent.record_id == record_id)
        .order_by(AuditEvent.seq)
    )
    return [
        HistoryLine(r.seq, r.recorded_at, r.actor, r.action, name, old, new, r.reason)
        for r in rows
        for name, old, new in expand_event(r.field, r.old_value, r.new_value)
    ]
