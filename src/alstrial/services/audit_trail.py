"""Reading and verifying the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.store.audit import AuditEvent, AuditHead, AuditVerification, verify_audit_trail

__all__ = [
    "AuditHeadInfo",
    "AuditVerification",
    "audit_head",
    "record_history",
    "verify_audit_trail",
]


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
        HistoryLine(
            r.seq, r.recorded_at, r.actor, r.action, r.field, r.old_value, r.new_value, r.reason
        )
        for r in rows
    ]
