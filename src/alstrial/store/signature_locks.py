"""The locks signatures put on casebook data, enforced by the store at every flush.

An investigator's visit signature (:class:`~alstrial.store.models.VisitSignature`) covers the
rows of that visit; his casebook signature (:class:`~alstrial.store.models.CasebookSignature`)
covers every row of the subject's casebook. Casebook rows are those of models whose
``Audited.casebook_key`` leads to a subject; a row belongs to a visit through its
``visit_id`` (the visit itself, or an MRI finding through its examination).

Once a signature exists, any insert, update or delete of a row it covers needs the
transaction's reason and removes the signature in the same flush, so the removal is audited
with that reason and commits with the change or not at all. The listener is attached to every
session, like the audit trail's, so no service (nor any other ORM caller) changes signed data
without unlocking it. Both kinds of signature are looked up in one statement per flush, and a
visit or casebook found unsigned is not looked up again in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, event, literal, select, union_all
from sqlalchemy.orm import Session, SessionTransaction

from alstrial.exceptions import ConflictError
from alstrial.store.audit import REASON_KEY
from alstrial.store.base import Audited
from alstrial.store.models.review import CasebookSignature, VisitSignature
from alstrial.store.models.safety import MriExam
from alstrial.store.models.subject import Subject, Visit

__all__ = ["casebook_models", "casebook_subject_id", "casebook_visit_id", "unlock_signed"]


def casebook_models() -> dict[str, type[Audited]]:
    """The models of casebook rows (those with a ``casebook_key``), by table name: what a
    query may be opened on, and where a query's record is looked up."""
    from alstrial.store.audit import audited_mappers  # it imports the models, as this does

    return {
        cast(Table, m.local_table).name: m.class_
        for m in audited_mappers()
        if m.class_.casebook_key is not None
    }


def _parent(session: Session, row: Audited) -> Visit | MriExam | None:
    key = type(row).casebook_key
    value = getattr(row, key) if key in ("visit_id", "exam_id") else None
    if value is None:
        return None
    with session.no_autoflush:
        return session.get(Visit, value) if key == "visit_id" else session.get(MriExam, value)


def casebook_subject_id(session: Session, row: Audited) -> int | None:
    """The id of the subject whose casebook holds ``row``, or ``None`` if it holds none.

    Follows ``casebook_key``: the subject's own id, its ``subject_id``, or the subject of the
    visit (``visit_id``) or MRI examination (``exam_id``) the row belongs to.
    """
    key = type(row).casebook_key
    if key in ("id", "subject_id"):
        value = getattr(row, key)
        return int(value) if value is not None else None
    parent = _parent(session, row)
    return parent.subject_id if parent is not None else None


def casebook_visit_id(session: Session, row: Audited) -> int | None:
    """The id of the visit ``row`` was recorded at (a visit's own id), or ``None``."""
    if isinstance(row, Visit):
        return row.id
    visit_id = getattr(row, "visit_id", None)
    if visit_id is not None:
        return int(visit_id)
    parent = _parent(session, row)
    return parent.visit_id if isinstance(parent, MriExam) else None


def _touched(session: Session) -> list[Audited]:
    rows = [
        row
        for row in (*session.new, *session.deleted)
        if isinstance(row, Audited) and type(row).casebook_key is not None
    ]
    return rows + [
        row
        for row in session.dirty
        if isinstance(row, Audited)
        and type(row).casebook_key is not None
        and session.is_modified(row)
    ]


#: The signatures of some visits and casebooks, as (kind, signature id, owner id); built once
#: (every save runs it: profile of a web save).
_SIGNATURES = union_all(
    select(literal("visit"), VisitSignature.id, VisitSignature.visit_id).where(
        VisitSignature.visit_id.in_(bindparam("visits", expanding=True))
    ),
    select(literal("casebook"), CasebookSignature.id, CasebookSignature.subject_id).where(
        CasebookSignature.subject_id.in_(bindparam("subjects", expanding=True))
    ),
)


# Inserted first, so that a change to signed data is refused for the signature (the clearer
# message) before the audit listener asks for the reason an overwrite needs.
@event.listens_for(Session, "before_flush", insert=True)
def _unlock_signed_data(session: Session, flush_context: Any, instances: Any) -> None:
    if any(isinstance(row, VisitSignature | CasebookSignature) for row in session.new):
        session.info.pop(_UNSIGNED_KEY, None)  # a signature signed in this transaction
    rows = _touched(session)
    if not rows:
        return
    visit_ids = {v for row in rows if (v := casebook_visit_id(session, row)) is not None}
    subject_ids = {s for row in rows if (s := casebook_subject_id(session, row)) is not None}
    unlock_signed(session, visit_ids, subject_ids)


def unlock_signed(session: Session, visit_ids: set[int], subject_ids: set[int]) -> None:
    """Remove the signatures of these visits and casebooks in the open transaction, which
    must carry a reason (module docstring); the flush listener calls it for ORM rows, and
    :mod:`alstrial.store.audited_insert` for rows it inserts.

    Raises
    ------
    ConflictError
        A signature covers one of them and the transaction has no reason.
    """
    unsigned = session.info.setdefault(_UNSIGNED_KEY, (set(), set()))
    visit_ids, subject_ids = visit_ids - unsigned[0], subject_ids - unsigned[1]
    if not subject_ids and not visit_ids:
        return
    found = (  # through the connection: no autoflush, and no ORM work on a select of columns
        session.connection()
        .execute(_SIGNATURES, {"visits": list(visit_ids), "subjects": list(subject_ids)})
        .all()
    )
    if found:
        _remove_signatures(session, found)
    unsigned[0].update(visit_ids)  # unsigned now, either way
    unsigned[1].update(subject_ids)


def _remove_signatures(session: Session, found: Sequence[Row[str, int, int]]) -> None:
    """Delete the signatures ``found`` (kind, id, owner) in the open transaction, which must
    carry a reason; the first one's visit or casebook is named when it has none."""
    if not (session.info.get(REASON_KEY) or "").strip():
        kind, _, owner = min(found)
        with session.no_autoflush:
            if kind == "casebook":
                subject = session.get(Subject, owner)
                what = f"the casebook of {subject.study_code if subject else owner}"
            else:
                visit = session.get(Visit, owner)
                what = f"visit {visit.code if visit else owner}"
        raise ConflictError(
            f"{what} is signed: a change needs a reason, and removes the signature",
            form="signature",
            field="reason",
            value=what,
        )
    with session.no_autoflush:
        for kind, signature_id, _ in found:
            model = CasebookSignature if kind == "casebook" else VisitSignature
            signature = session.get(model, signature_id)
            if signature is not None:
                session.delete(signature)


#: ``session.info`` key: the visits and casebooks found unsigned (or unsigned by it) in the
#: open transaction, which need no second look: a 40-item form's save inserts the instance,
#: then its items, at the same visit. Forgotten when the transaction or a savepoint ends, and
#: when the transaction itself signs one (a signature is only ever added through the ORM).
_UNSIGNED_KEY = "alstrial.unsigned_in_transaction"


@event.listens_for(Session, "after_transaction_end")
def _forget_unsigned(session: Session, transaction: SessionTransaction) -> None:
    # Not at the end of a flush's subtransaction; at a savepoint's, which may restore one.
    if transaction.parent is None or transaction.nested:
        session.info.pop(_UNSIGNED_KEY, None)
