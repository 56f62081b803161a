"""The lock a signed casebook puts on a subject's data, enforced by the store at every flush.

An investigator's casebook signature (:class:`~alstrial.store.models.CasebookSignature`)
covers every row of the subject's casebook: the rows of models whose
``Audited.casebook_key`` leads to the subject. Once it exists, any insert, update or delete of
such a row needs the transaction's reason and removes the signature in the same flush, so the
removal is audited with that reason and commits with the change or not at all. The listener is
attached to every session, like the audit trail's, so no service (nor any other ORM caller)
changes a signed casebook without unlocking it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError
from alstrial.store.audit import REASON_KEY
from alstrial.store.base import Audited
from alstrial.store.models.review import CasebookSignature
from alstrial.store.models.safety import MriExam
from alstrial.store.models.subject import Subject, Visit

__all__ = ["casebook_subject_id"]


def casebook_subject_id(session: Session, row: Audited) -> int | None:
    """The id of the subject whose casebook holds ``row``, or ``None`` if it holds none.

    Follows ``casebook_key``: the subject's own id, its ``subject_id``, or the subject of the
    visit (``visit_id``) or MRI examination (``exam_id``) the row belongs to.
    """
    key = type(row).casebook_key
    if key is None:
        return None
    value = getattr(row, key)
    if value is None:
        return None
    if key in ("id", "subject_id"):
        return int(value)
    with session.no_autoflush:
        parent = session.get(Visit, value) if key == "visit_id" else session.get(MriExam, value)
    return parent.subject_id if parent is not None else None


@event.listens_for(Session, "before_flush")
def _unlock_signed_casebooks(session: Session, flush_context: Any, instances: Any) -> None:
    rows = [
        row
        for row in (*session.new, *session.deleted)
        if isinstance(row, Audited) and type(row).casebook_key is not None
    ]
    rows += [
        row
        for row in session.dirty
        if isinstance(row, Audited)
        and type(row).casebook_key is not None
        and session.is_modified(row)
    ]
    subject_ids = {sid for row in rows if (sid := casebook_subject_id(session, row)) is not None}
    if not subject_ids:
        return
    with session.no_autoflush:
        signatures = session.scalars(
            select(CasebookSignature).where(CasebookSignature.subject_id.in_(subject_ids))
        ).all()
    if not signatures:
        return
    if not (session.info.get(REASON_KEY) or "").strip():
        with session.no_autoflush:
            codes = sorted(
                session.scalars(
                    select(Subject.study_code).where(
                        Subject.id.in_([s.subject_id for s in signatures])
                    )
                )
            )
        raise ConflictError(
            f"the casebook of {', '.join(codes)} is signed: a change needs a reason, and "
            "removes the casebook signature",
            form="signature",
            field="reason",
            value=", ".join(codes),
        )
    for signature in signatures:
        session.delete(signature)
