"""A data cut: the study as it stood at a moment, rebuilt from the audit trail.

Issue 19, item 2 (in part). Every change to trial data is an event of the hash-chained audit
trail (:mod:`alstrial.store.audit`), so the data at any earlier moment can be rebuilt: replay
the events recorded up to the cut (an insert gives a row, an update a field, a delete removes
the row) and write the rows into a new, empty store. The analysis frames and the exports are
then built from that store exactly as from the live one, so a cut taken before a correction
shows the value before it.

A cut is given as a time (ISO 8601; without a zone it is UTC) or as the sequence number of
the last audit event it includes (``seq:N``). The trail is verified first: a cut of a trail
that does not verify is refused, since its rows could not be vouched for.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    Table,
    create_engine,
    insert,
    select,
)
from sqlalchemy import Enum as SqlEnum
from sqlalchemy.orm import Session
from sqlalchemy.types import JSON

from alstrial.exceptions import ConflictError, IntegrityError, ValidationError
from alstrial.services.transaction import transaction
from alstrial.store.audit import ROW, ROWS, AuditEvent, rows_event_records, verify_audit_trail
from alstrial.store.base import Base, UTCDateTime
from alstrial.store.models import NamedCut

__all__ = [
    "EXPORT_ENTITY",
    "NOT_DATA",
    "DataCut",
    "DataEvent",
    "create_named_cut",
    "cut_session",
    "last_data_event",
    "named_cuts",
    "parse_cut",
    "resolve_cut",
]


@dataclass(frozen=True)
class DataCut:
    """Where a cut ends: at a time (UTC) or after an audit event's sequence number."""

    at: datetime | None = None
    seq: int | None = None

    def includes(self, seq: int, recorded_at: datetime) -> bool:
        if self.seq is not None:
            return seq <= self.seq
        assert self.at is not None
        return recorded_at <= self.at


def parse_cut(text: str) -> DataCut:
    """A cut from its text: ``seq:N`` or an ISO 8601 time (UTC when it names no zone).

    Raises
    ------
    ValidationError
        Text that is neither, naming what was expected.
    """
    text = text.strip()
    if text.startswith("seq:"):
        number = text[4:]
        if not number.isdecimal() or int(number) < 1:
            raise ValidationError(
                f"cut {text!r}: the sequence number must be a whole number from 1",
                field="cut",
                value=text,
            )
        return DataCut(seq=int(number))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"cut {text!r} is neither a time (ISO 8601, e.g. 2013-06-30T23:59) nor seq:N",
            field="cut",
            value=text,
            allowed="an ISO 8601 time, or seq:N",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return DataCut(at=moment.astimezone(UTC))


#: The table of the exports' records: their events change no trial data.
EXPORT_ENTITY = "data_export"
#: Tables whose events record work on the data, not the data: an export, a named cut.
NOT_DATA = frozenset({EXPORT_ENTITY, "named_cut"})


#: Table -> record id -> column -> the trail's encoded value: the data at a cut.
Replayed = dict[str, dict[str, dict[str, str | None]]]


def _replay(session: Session, cut: DataCut) -> Replayed:
    """The rows of every audited table at the cut, from the verified trail."""
    problem = verify_audit_trail(session).problem
    if problem:
        raise IntegrityError(f"the audit trail does not verify, so no cut is made: {problem}")
    rows: Replayed = {}
    table = AuditEvent.__table__
    for event in session.execute(select(table).order_by(table.c.seq)):
        recorded_at = event.recorded_at
        if recorded_at.tzinfo is None:
            recorded_at = recorded_at.replace(tzinfo=UTC)
        if not cut.includes(event.seq, recorded_at):
            break
        records = rows.setdefault(event.entity, {})
        if event.action == "delete":
            records.pop(event.record_id, None)
        elif event.field == ROWS:
            records.update(rows_event_records(event.new_value))
        elif event.field == ROW:
            records[event.record_id] = json.loads(event.new_value)
        else:
            records.setdefault(event.record_id, {})[event.field] = event.new_value
    if not rows.get("study"):
        raise ValidationError(
            "the cut is before the study existed: no study in the audit trail by then",
            field="cut",
        )
    return rows


def _decode(column_type: Any, text: str | None) -> Any:
    """A stored value back from the trail's canonical JSON text (the inverse of
    :func:`alstrial.store.audit.encode_value`)."""
    if text is None:
        return None
    plain = json.loads(text)
    if plain is None:
        return None
    if isinstance(column_type, SqlEnum):
        return str(plain)
    if isinstance(column_type, Boolean):
        return bool(plain)
    if isinstance(column_type, Integer):
        return int(plain)
    if isinstance(column_type, Float):
        return float(plain)
    if isinstance(column_type, DateTime | UTCDateTime):
        return datetime.fromisoformat(plain)
    if isinstance(column_type, Date):
        return date.fromisoformat(plain)
    if isinstance(column_type, JSON):
        return plain
    return str(plain)


@contextmanager
def cut_session(session: Session, cut: DataCut) -> Iterator[Session]:
    """A session on a new store holding the data as they stood at ``cut`` (module
    docstring); the store is removed afterwards.

    Raises
    ------
    ValidationError
        A cut before the study existed.
    IntegrityError
        A trail that does not verify.
    """
    import alstrial.store.models  # noqa: F401  (every audited table mapped)

    replayed = _replay(session, cut)
    with tempfile.TemporaryDirectory(prefix="alstrial-cut-") as folder:
        engine = create_engine(f"sqlite:///{Path(folder) / 'cut.db'}")
        try:
            Base.metadata.create_all(engine)
            with engine.begin() as connection:
                for table in Base.metadata.sorted_tables:
                    records = replayed.get(table.name)
                    if records:
                        connection.execute(insert(table), _decoded(table, records))
            with Session(engine) as cut_db:
                yield cut_db
        finally:
            engine.dispose()


def _decoded(table: Table, records: dict[str, dict[str, str | None]]) -> list[dict[str, Any]]:
    columns = {column.name: column.type for column in table.columns}
    return [
        {name: _decode(kind, values.get(name)) for name, kind in columns.items()}
        for values in records.values()
    ]


@dataclass(frozen=True)
class DataEvent:
    """An audit event of trial data: its sequence number, hash and time (UTC)."""

    seq: int
    hash: str
    at: datetime


def last_data_event(session: Session, at: DataCut | None = None) -> DataEvent | None:
    """The trail's last event of trial data (those of :data:`NOT_DATA` excepted), up to the
    cut ``at`` if one is given; None when there is none by then."""
    table = AuditEvent.__table__
    query = select(table.c.seq, table.c.hash, table.c.recorded_at).where(
        table.c.entity.not_in(NOT_DATA)
    )
    if at is not None and at.seq is not None:
        query = query.where(table.c.seq <= at.seq)
    elif at is not None and at.at is not None:
        query = query.where(table.c.recorded_at <= at.at)
    last = session.execute(query.order_by(table.c.seq.desc()).limit(1)).first()
    if last is None:
        return None
    moment = last[2] if last[2].tzinfo else last[2].replace(tzinfo=UTC)
    return DataEvent(int(last[0]), str(last[1]), moment)


_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,59}$")


def named_cuts(session: Session) -> list[NamedCut]:
    """The study's named cuts, oldest first."""
    return list(session.scalars(select(NamedCut).order_by(NamedCut.id)))


def resolve_cut(session: Session, text: str) -> DataCut:
    """A cut from its text: the name of a cut frozen with :func:`create_named_cut`, else a
    time or ``seq:N`` (:func:`parse_cut`).

    Raises
    ------
    ValidationError
        A name no cut has, or text that is no cut.
    """
    text = text.strip()
    if _NAME.match(text):
        found = session.scalars(select(NamedCut).where(NamedCut.name == text)).first()
        if found is None:
            known = ", ".join(c.name for c in named_cuts(session)) or "none yet"
            raise ValidationError(
                f"no cut is named {text!r}", field="cut", value=text, allowed=known
            )
        return DataCut(seq=found.seq)
    return parse_cut(text)


def create_named_cut(
    session: Session, *, actor: str, name: str, purpose: str, at: DataCut | None = None
) -> NamedCut:
    """Freeze the data as they stand (or as they stood at ``at``) under ``name``: the last
    audit event of trial data it holds is recorded, so the cut exports the same bytes
    whenever it is exported again.

    Raises
    ------
    ValidationError
        A name that is not letters, digits and ``_.-`` starting with a letter, an empty
        purpose, or a cut before the study existed.
    ConflictError
        A cut of that name exists.
    """
    if not _NAME.match(name):
        raise ValidationError(
            f"cut name {name!r}: a letter, then letters, digits, '_', '.' or '-' (60 at most)",
            field="name",
            value=name,
        )
    if not purpose.strip():
        raise ValidationError(
            "say what the cut is for (an interim analysis, a DSMB)", field="purpose"
        )
    if session.scalars(select(NamedCut).where(NamedCut.name == name)).first() is not None:
        raise ConflictError(f"a cut is named {name!r} already", field="name", value=name)
    last = last_data_event(session, at)
    if last is None:
        raise ValidationError("the cut is before the study existed", field="cut")
    with transaction(session, actor=actor):
        cut = NamedCut(name=name, seq=last.seq, data_as_of=last.at, purpose=purpose.strip())
        session.add(cut)
    return cut
