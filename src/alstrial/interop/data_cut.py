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

from alstrial.exceptions import IntegrityError, ValidationError
from alstrial.store.audit import ROW, AuditEvent, verify_audit_trail
from alstrial.store.base import Base, UTCDateTime

__all__ = ["EXPORT_ENTITY", "DataCut", "ReplayedCut", "cut_session", "parse_cut"]


@dataclass(frozen=True)
class DataCut:
    """Where a cut ends: at a time (UTC) or after an audit event's sequence number; and,
    once replayed, the last event it holds and that event's time."""

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


@dataclass(frozen=True)
class ReplayedCut:
    """The rows of every audited table at the cut, and the last event of trial data in it
    (an export's own record excepted): its sequence number and time."""

    rows: dict[str, dict[str, dict[str, str | None]]]
    last_seq: int
    last_at: datetime


def _replay(session: Session, cut: DataCut) -> ReplayedCut:
    problem = verify_audit_trail(session).problem
    if problem:
        raise IntegrityError(f"the audit trail does not verify, so no cut is made: {problem}")
    rows: dict[str, dict[str, dict[str, str | None]]] = {}
    last_seq, last_at = 0, datetime.min.replace(tzinfo=UTC)
    table = AuditEvent.__table__
    for event in session.execute(select(table).order_by(table.c.seq)):
        recorded_at = event.recorded_at
        if recorded_at.tzinfo is None:
            recorded_at = recorded_at.replace(tzinfo=UTC)
        if not cut.includes(event.seq, recorded_at):
            break
        if event.entity != EXPORT_ENTITY:  # an export's own record is not the data's
            last_seq, last_at = event.seq, recorded_at
        records = rows.setdefault(event.entity, {})
        if event.action == "delete":
            records.pop(event.record_id, None)
        elif event.field == ROW:
            records[event.record_id] = json.loads(event.new_value)
        else:
            records.setdefault(event.record_id, {})[event.field] = event.new_value
    if last_seq == 0 or "study" not in rows or not rows["study"]:
        raise ValidationError(
            "the cut is before the study existed: no study in the audit trail by then",
            field="cut",
        )
    return ReplayedCut(rows, last_seq, last_at)


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
def cut_session(session: Session, cut: DataCut) -> Iterator[tuple[Session, ReplayedCut]]:
    """A session on a new store holding the data as they stood at ``cut`` (module
    docstring), and what was replayed; the store is removed afterwards.

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
                    records = replayed.rows.get(table.name)
                    if records:
                        connection.execute(insert(table), _decoded(table, records))
            with Session(engine) as cut_db:
                yield cut_db, replayed
        finally:
            engine.dispose()


def _decoded(table: Table, records: dict[str, dict[str, str | None]]) -> list[dict[str, Any]]:
    columns = {column.name: column.type for column in table.columns}
    return [
        {name: _decode(kind, values.get(name)) for name, kind in columns.items()}
        for values in records.values()
    ]
