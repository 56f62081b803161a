"""Data queries (monitor opens, site answers, monitor closes), visit and casebook signatures.

An investigator signs a visit by entering his password again; the signature locks the
visit: a later change to any of its records needs a reason, removes the signature and is
audited (the lock is enforced where every assessment is recorded, in ``hold_visit``).

He signs a subject's whole casebook the same way once it is complete: the disposition is
recorded, every visit up to the disposition date is done or missed, and no query on the
subject is still open or answered. That signature locks every casebook row of the subject;
the store enforces it at each flush (:mod:`alstrial.store.signature_locks`).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from alstrial.services.accounts import authenticate
from alstrial.services.completeness import visits_completeness
from alstrial.services.lookup import find_subject, find_user, find_visit
from alstrial.services.transaction import transaction
from alstrial.store.models import (
    CasebookSignature,
    DataQuery,
    Disposition,
    FormInstance,
    QueryMessage,
    Subject,
    User,
    Visit,
    VisitSignature,
)
from alstrial.store.signature_locks import casebook_models, casebook_subject_id
from alstrial.vocabulary import QueryStatus, Role, VisitStatus

__all__ = [
    "CasebookState",
    "answer_query",
    "cancel_query",
    "casebook_state",
    "close_query",
    "list_queries",
    "open_query",
    "reopen_query",
    "sign_casebook",
    "sign_visit",
]


def _user(session: Session, username: str) -> User:
    return find_user(session, username, form="query")


def _query(session: Session, query_id: int) -> DataQuery:
    query = session.get(DataQuery, query_id)
    if query is None:
        raise NotFoundError(f"no query {query_id}", form="query", field="id", value=query_id)
    return query


def open_query(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    record_table: str,
    record_id: str,
    field: str,
    text: str,
) -> DataQuery:
    """A monitor's question on one field of one record of the subject's casebook.

    Raises
    ------
    ValidationError
        No question; a table that holds no casebook records; a field the record does not have
        (the message lists those it has).
    NotFoundError
        A record that does not exist or is not the subject's.
    """
    subject = find_subject(session, subject_code)
    if not text.strip():
        raise ValidationError(
            "a query needs its question", subject=subject_code, form="query", field="text"
        )
    _check_target(session, subject, record_table, record_id, field)
    user = _user(session, actor)
    with transaction(session, actor=actor):
        query = DataQuery(
            subject_id=subject.id,
            record_table=record_table,
            record_id=record_id,
            field=field,
            text=text.strip(),
            status=QueryStatus.OPEN,
            opened_by_id=user.id,
            opened_at=datetime.now(UTC),
        )
        session.add(query)
        session.flush()
        _say(session, query, "question", actor, text.strip())
    return query


def _say(session: Session, query: DataQuery, kind: str, author: str, text: str) -> None:
    """Append a message to the query's thread (inside the caller's transaction)."""
    session.add(
        QueryMessage(
            query_id=query.id, kind=kind, author=author, text=text, written_at=datetime.now(UTC)
        )
    )


def query_threads(session: Session, query_ids: Iterable[int]) -> dict[int, list[QueryMessage]]:
    """Each query's messages in the order they were written."""
    threads: dict[int, list[QueryMessage]] = {}
    for message in session.scalars(
        select(QueryMessage)
        .where(QueryMessage.query_id.in_(list(query_ids)))
        .order_by(QueryMessage.id)
    ):
        threads.setdefault(message.query_id, []).append(message)
    return threads


_NOT_QUERYABLE = frozenset({"id", "subject_id", "visit_id", "exam_id", "provenance"})


def _check_target(
    session: Session, subject: Subject, record_table: str, record_id: str, field: str
) -> None:
    """The record exists, belongs to the subject, and has the field (issue 15: record 999 and
    field item_99 were accepted)."""
    models = casebook_models()
    model = models.get(record_table)
    if model is None:
        raise ValidationError(
            f"{record_table!r} holds no casebook records to query",
            subject=subject.study_code,
            form="query",
            field="record_table",
            value=record_table,
            allowed=", ".join(sorted(models)),
        )
    row = session.get(model, int(record_id)) if record_id.strip().isdecimal() else None
    if row is None or casebook_subject_id(session, row) != subject.id:
        raise NotFoundError(
            f"{subject.study_code} has no {record_table} record {record_id}",
            subject=subject.study_code,
            form="query",
            field="record_id",
            value=record_id,
        )
    table = model.__table__  # type: ignore[attr-defined]
    columns = [c.name for c in table.columns if c.name not in _NOT_QUERYABLE]
    what = record_table
    if isinstance(row, FormInstance):
        # A dictionary form's instance is queried at one of its form's fields (issue 17).
        from alstrial.services.lookup import current_protocol

        try:
            form = current_protocol(session).form(row.form)
            columns = [f.name for f in form.fields if f.holds_value]
            what = form.title
        except KeyError:
            columns = []
    if field not in columns:
        raise ValidationError(
            f"{what} has no field {field!r} (it has {', '.join(columns) or 'none'})",
            subject=subject.study_code,
            form="query",
            field="field",
            value=field,
            allowed=", ".join(columns),
        )


def cancel_query(session: Session, *, actor: str, query_id: int, reason: str) -> DataQuery:
    """The monitor who opened a query withdraws it before it is answered (a mistaken query
    must not block the casebook), with the reason; it counts as closed."""
    query = _query(session, query_id)
    user = _user(session, actor)
    if query.opened_by_id != user.id:
        raise PermissionDeniedError(
            f"only the monitor who opened query {query_id} cancels it",
            form="query",
            field="actor",
            value=actor,
        )
    if query.status is not QueryStatus.OPEN:
        raise ConflictError(
            f"query {query_id} is {query.status}; only an open query is cancelled",
            form="query",
            field="status",
        )
    if not reason.strip():
        raise ValidationError("say why the query is cancelled", form="query", field="reason")
    with transaction(session, actor=actor, reason=reason):
        query.cancel_reason = reason.strip()
        query.closed_by_id = user.id
        query.closed_at = datetime.now(UTC)
        query.status = QueryStatus.CLOSED
        _say(session, query, "cancel", actor, reason.strip())
    return query


def reopen_query(session: Session, *, actor: str, query_id: int, reason: str) -> DataQuery:
    """A monitor re-opens a closed (or answered) query whose answer does not settle it, with
    the reason; the site answers again."""
    query = _query(session, query_id)
    if query.status is QueryStatus.OPEN:
        raise ConflictError(f"query {query_id} is open already", form="query", field="status")
    if not reason.strip():
        raise ValidationError("say why the query is re-opened", form="query", field="reason")
    _user(session, actor)
    with transaction(session, actor=actor, reason=reason):
        query.status = QueryStatus.OPEN
        query.closed_by_id = None
        query.closed_at = None
        query.cancel_reason = None
        _say(session, query, "reopen", actor, reason.strip())
    return query


def answer_query(session: Session, *, actor: str, query_id: int, answer: str) -> DataQuery:
    """The site's answer; the query waits for the monitor to close it."""
    query = _query(session, query_id)
    if query.status is not QueryStatus.OPEN:
        raise ConflictError(f"query {query_id} is {query.status}", form="query", field="status")
    if not answer.strip():
        raise ValidationError("an answer needs its text", form="query", field="answer")
    user = _user(session, actor)
    with transaction(session, actor=actor):
        query.answer = answer.strip()
        query.answered_by_id = user.id
        query.answered_at = datetime.now(UTC)
        query.status = QueryStatus.ANSWERED
        _say(session, query, "answer", actor, answer.strip())
    return query


def close_query(session: Session, *, actor: str, query_id: int) -> DataQuery:
    """The monitor closes an answered query."""
    query = _query(session, query_id)
    if query.status is not QueryStatus.ANSWERED:
        raise ConflictError(
            f"query {query_id} is {query.status}; only an answered query closes",
            form="query",
            field="status",
        )
    user = _user(session, actor)
    with transaction(session, actor=actor):
        query.closed_by_id = user.id
        query.closed_at = datetime.now(UTC)
        query.status = QueryStatus.CLOSED
        _say(session, query, "close", actor, "")
    return query


def queries_on(session: Session, record_table: str, record_id: int) -> list[DataQuery]:
    """The queries opened on one record, oldest first."""
    return list(
        session.scalars(
            select(DataQuery)
            .where(DataQuery.record_table == record_table, DataQuery.record_id == str(record_id))
            .order_by(DataQuery.id)
        )
    )


def list_queries(
    session: Session, *, status: QueryStatus | None = None, site_ids: AbstractSet[int] | None = None
) -> list[DataQuery]:
    """Queries by status and, for a site-bound user, of his sites."""
    rows = session.scalars(select(DataQuery).order_by(DataQuery.id)).all()
    sites = {s.id: s.site_id for s in session.scalars(select(Subject))}
    return [
        q
        for q in rows
        if (status is None or q.status is status)
        and (site_ids is None or sites[q.subject_id] in site_ids)
    ]


def sign_visit(
    session: Session,
    *,
    actor: str,
    password: str,
    subject_code: str,
    visit_code: str,
    meaning: str = "I confirm the data of this visit",
) -> VisitSignature:
    """An investigator signs a complete visit (:mod:`alstrial.services.completeness`),
    entering his password again."""
    user = _investigator(session, actor, password, "a visit")
    subject = find_subject(session, subject_code)
    visit = find_visit(session, subject, visit_code, form="signature")
    state = visits_completeness(session, [visit])[visit.id]
    if not state.complete:
        raise ConflictError(
            f"visit {visit_code} of {subject_code} is not complete: "
            f"{', '.join(state.missing)} neither recorded nor marked not done",
            subject=subject_code,
            form="signature",
            field="visit",
            value=visit_code,
        )
    if session.scalars(select(VisitSignature).where(VisitSignature.visit_id == visit.id)).first():
        raise ConflictError(
            f"visit {visit_code} of {subject_code} is signed already",
            form="signature",
            field="visit",
            value=visit_code,
        )
    with transaction(session, actor=actor):
        signature = VisitSignature(
            visit_id=visit.id, signed_by_id=user.id, signed_at=datetime.now(UTC), meaning=meaning
        )
        session.add(signature)
    return signature


def _investigator(session: Session, actor: str, password: str, what: str) -> User:
    user = authenticate(session, actor, password)
    if user.role is not Role.INVESTIGATOR:
        raise PermissionDeniedError(
            f"only an investigator signs {what}", form="signature", field="actor", value=actor
        )
    return user


@dataclass(frozen=True)
class CasebookState:
    """Whether a subject's casebook is signed, and if not, what stops it being signed."""

    subject_code: str
    signed_by: str | None
    signed_at: datetime | None
    blockers: tuple[str, ...]
    pending_visits: tuple[str, ...] = ()
    unclosed_queries: tuple[int, ...] = ()

    @property
    def ready(self) -> bool:
        """True when unsigned and nothing stops the signature."""
        return self.signed_by is None and not self.blockers


def casebook_state(session: Session, subject_code: str) -> CasebookState:
    """A casebook's signature, or the reasons it cannot be signed yet (module docstring)."""
    subject = find_subject(session, subject_code)
    signed = session.execute(
        select(User.username, CasebookSignature.signed_at)
        .join(User, User.id == CasebookSignature.signed_by_id)
        .where(CasebookSignature.subject_id == subject.id)
    ).first()
    if signed is not None:
        return CasebookState(subject_code, signed[0], signed[1], ())
    blockers: list[str] = []
    pending: tuple[str, ...] = ()
    disposition = session.scalars(
        select(Disposition).where(Disposition.subject_id == subject.id)
    ).first()
    if disposition is None:
        blockers.append("no disposition is recorded")
    else:
        pending = tuple(
            session.scalars(
                select(Visit.code)
                .where(
                    Visit.subject_id == subject.id,
                    Visit.status == VisitStatus.SCHEDULED,
                    Visit.window_start <= disposition.disposition_date,
                )
                .order_by(Visit.day)
            )
        )
        if pending:
            blockers.append(
                f"visit{'s' if len(pending) > 1 else ''} {', '.join(pending)} before the "
                f"disposition ({disposition.disposition_date}) "
                f"{'are' if len(pending) > 1 else 'is'} neither done nor missed"
            )
    unresolved = tuple(
        session.scalars(
            select(DataQuery.id)
            .where(DataQuery.subject_id == subject.id, DataQuery.status != QueryStatus.CLOSED)
            .order_by(DataQuery.id)
        )
    )
    if unresolved:
        blockers.append(
            f"quer{'ies' if len(unresolved) > 1 else 'y'} "
            f"{', '.join(str(i) for i in unresolved)} not closed"
        )
    return CasebookState(subject_code, None, None, tuple(blockers), pending, unresolved)


def sign_casebook(
    session: Session,
    *,
    actor: str,
    password: str,
    subject_code: str,
    meaning: str = "I confirm the data of this casebook",
) -> CasebookSignature:
    """An investigator signs a subject's complete casebook, entering his password again."""
    user = _investigator(session, actor, password, "a casebook")
    state = casebook_state(session, subject_code)
    if state.signed_by is not None:
        raise ConflictError(
            f"the casebook of {subject_code} is signed already (by {state.signed_by})",
            form="signature",
            field="casebook",
            value=subject_code,
        )
    if state.blockers:
        raise ConflictError(
            f"the casebook of {subject_code} is not ready to sign: {'; '.join(state.blockers)}",
            form="signature",
            field="casebook",
            value=subject_code,
        )
    subject = find_subject(session, subject_code)
    with transaction(session, actor=actor):
        signature = CasebookSignature(
            subject_id=subject.id,
            signed_by_id=user.id,
            signed_at=datetime.now(UTC),
            meaning=meaning,
        )
        session.add(signature)
    return signature
