"""The audit trail: append-only, hash-chained, written by the store for every change.

Every flush of a session that inserts, updates or deletes an :class:`~alstrial.store.base.Audited`
row yields audit events: actor, UTC time, action, entity (table), record id, field, old value,
new value and reason. An update or a delete yields one event per field; an insert yields one
event for the whole row, whose field is :data:`ROW` and whose new value is the JSON object of
every column's value (trails written before this kept one event per field of an insert, and
both replay alike). Readers expand a row event into one line per field
(:func:`expand_event`). The reason: a form of 40 items inserted 40 rows of 9 columns, 360
events per save, and the audit append was most of the save's time; one event per row keeps
every value in the chain at a ninth of the cost. Rows inserted together that share their
model's :attr:`~alstrial.store.base.Audited.audit_group` value (a form instance's items) go
one step further: one rows event (:data:`ROWS`) holds them all, each row under its record id,
and readers expand it into one line per record and field (:func:`expand_records`); a 40-item
save then appends 2 events instead of 41, which took 30 % of its instructions away.

The events of a transaction are collected at each flush and written just before it commits, in
the same transaction: the data and its trail commit together or not at all. Events are chained:
each carries the SHA-256 of its own content and of the previous event, and a one-row head table
holds the last sequence number and hash, locked for update so that concurrent writers append in
turn. Writing at commit rather than at each flush keeps that lock for the last three statements
and the commit only, instead of for the rest of the service's work, so concurrent saves wait on
one another far less.

The listener is attached to every :class:`~sqlalchemy.orm.Session`, so no caller can change
audited data through the ORM without leaving a trail; a session with no actor, or an update or
delete without a reason, is refused before anything is written. Changes made behind the
system's back (raw SQL) are found by :func:`verify_audit_trail`, which replays the trail and
compares it with the current data. Database triggers (see the migrations) refuse UPDATE and
DELETE on the audit table itself.

Values are stored as canonical JSON text (``encode_value``), so that the trail replays to
exactly the values the database returns on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from functools import partial
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    event,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy import Enum as SqlEnum
from sqlalchemy.engine import Connection
from sqlalchemy.orm import (
    LoaderCallableStatus,
    Mapped,
    Mapper,
    Session,
    SessionTransaction,
    mapped_column,
)
from sqlalchemy.types import JSON, TypeEngine

from alstrial.exceptions import IntegrityError, ValidationError
from alstrial.store import sqlite_statements
from alstrial.store.base import Audited, Base, UTCDateTime, utc_now

__all__ = [
    "ACTOR_KEY",
    "GENESIS_HASH",
    "MAC_KEY",
    "REASON_KEY",
    "ROW",
    "ROWS",
    "Anchor",
    "AuditEvent",
    "AuditHead",
    "AuditVerification",
    "audited_mappers",
    "canonical_text",
    "encode_value",
    "event_hash",
    "event_mac",
    "expand_event",
    "expand_records",
    "make_anchor",
    "plain_value",
    "queue_insert_events",
    "require_actor",
    "rows_event_records",
    "rows_record_id",
    "verify_audit_trail",
]

#: ``session.info`` keys the services set for each transaction.
ACTOR_KEY = "alstrial.actor"
REASON_KEY = "alstrial.reason"
#: ``session.info`` key of the audit MAC key (set by the session factory from the settings).
MAC_KEY = "alstrial.audit_mac_key"
GENESIS_HASH = "0" * 64


class AuditEvent(Base):
    """One field-level change. Never updated or deleted (database triggers refuse it)."""

    __tablename__ = "audit_event"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(6))
    entity: Mapped[str] = mapped_column(String(60), index=True)
    record_id: Mapped[str] = mapped_column(String(40))
    field: Mapped[str] = mapped_column(String(60))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's head: last sequence number and hash (one row, id 1)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


def encode_value(column_type: TypeEngine[Any], value: Any) -> str | None:
    """Canonical JSON text of a column value, identical before storage and after reading back.

    Numbers are normalised to the column's type (an ``int`` given to a float column is
    encoded as a float), datetimes to UTC ISO text, dates to ISO text, enums to their value
    (:func:`plain_value`); the text is ``json.dumps`` of that, keys sorted, no spaces.
    """
    if value is None or value is LoaderCallableStatus.NO_VALUE:
        return None
    return canonical_text(plain_value(column_type, value))


def plain_value(column_type: TypeEngine[Any], value: Any) -> Any:
    """A column value as the plain JSON value the trail holds (``None`` for none)."""
    if value is None or value is LoaderCallableStatus.NO_VALUE:
        return None
    if isinstance(column_type, SqlEnum) or isinstance(value, Enum):
        return value.value if isinstance(value, Enum) else str(value)
    if isinstance(column_type, Boolean):
        return bool(value)
    if isinstance(column_type, Integer):
        return int(value)
    if isinstance(column_type, Float):
        return float(value)
    if isinstance(column_type, DateTime | UTCDateTime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    if isinstance(column_type, Date):
        return value.isoformat() if isinstance(value, date) else str(value)
    if isinstance(column_type, JSON):
        return value
    return str(value)


def canonical_text(plain: Any) -> str | None:
    """The trail's text of a plain value (:func:`plain_value`): ``None`` stays ``None``."""
    if plain is None:
        return None
    return json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _encoder(column_type: TypeEngine[Any]) -> Callable[[Any], str | None]:
    """:func:`encode_value` for one column type, with a shortcut for the two kinds most
    values are: text (JSON's string escape), whole numbers and booleans. It gives the same text as
    :func:`encode_value` for every value (``tests/test_audit.py`` checks); a row event of a
    40-item form encodes 400 values, and the shortcut halves that time."""
    if isinstance(column_type, Boolean):
        return _shortcut(column_type, lambda value: "true" if value else "false")
    if isinstance(column_type, SqlEnum | Float | DateTime | UTCDateTime | Date | JSON):
        return partial(encode_value, column_type)
    if isinstance(column_type, Integer):
        return _shortcut(column_type, lambda value: str(int(value)))
    return _shortcut(column_type, lambda value: _json_string(str(value)))


def _shortcut(
    column_type: TypeEngine[Any], convert: Callable[[Any], str]
) -> Callable[[Any], str | None]:
    """None for no value, :func:`encode_value` for an enum, ``convert`` for the rest."""

    def encode(value: Any) -> str | None:
        if value is None or value is LoaderCallableStatus.NO_VALUE:
            return None
        if isinstance(value, Enum):
            return encode_value(column_type, value)
        return convert(value)

    return encode


_json_string: Callable[[str], str] = json.encoder.encode_basestring
_json_ascii: Callable[[str], str] = json.encoder.encode_basestring_ascii


def _row_json(values: Iterable[tuple[str, str | None]]) -> str:
    """The new value of a row event: the JSON object of column name -> encoded value.

    The same text as ``json.dumps(dict(values), separators=(",", ":"))``
    (``tests/test_audit.py`` checks), written without building the dictionary: a 40-item
    form's save writes 41 of them.
    """
    return (
        "{"
        + ",".join(
            f"{_json_ascii(name)}:{'null' if value is None else _json_ascii(value)}"
            for name, value in values
        )
        + "}"
    )


def event_hash(prev_hash: str, fields: Sequence[Any]) -> str:
    """SHA-256 of the previous hash and an event's fields, in canonical JSON: the text of
    ``json.dumps([prev_hash, *fields], separators=(",", ":"), ensure_ascii=False)``, written
    piece by piece for the kinds an event holds (text, whole numbers, None), which is a third
    of the time for the 41 events of a 40-item form (``tests/test_audit.py`` checks it is
    the same text)."""
    payload = "[" + ",".join(map(_canonical, (prev_hash, *fields))) + "]"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _canonical(value: Any) -> str:
    """One value of an event as ``json.dumps(value, ensure_ascii=False)`` writes it."""
    if type(value) is str:
        return _json_string(value)
    if value is None:
        return "null"
    if type(value) is int:
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def event_mac(key: bytes, digest: str) -> str:
    """HMAC-SHA-256 of an event's hash under the audit key (hex)."""
    return hmac.new(key, digest.encode("ascii"), hashlib.sha256).hexdigest()


def _hashed_fields(row: Any) -> list[Any]:
    return [
        row.seq,
        encode_value(UTCDateTime(), row.recorded_at),
        row.actor,
        row.action,
        row.entity,
        row.record_id,
        row.field,
        row.old_value,
        row.new_value,
        row.reason,
    ]


def audited_mappers() -> list[Mapper[Any]]:
    """Mappers of every audited model, in table-name order."""
    mappers = [m for m in Base.registry.mappers if issubclass(m.class_, Audited)]
    return sorted(mappers, key=lambda m: m.local_table.name)  # type: ignore[attr-defined]


def _columns(mapper: Mapper[Any]) -> list[Column[Any]]:
    return [c for c in mapper.columns if isinstance(c, Column)]


def _record_id(mapper: Mapper[Any], obj: Any) -> str:
    identity = mapper.primary_key_from_instance(obj)
    return "/".join(str(part) for part in identity)


@dataclass(frozen=True)
class _Change:
    action: str
    entity: str
    record_id: str
    field: str
    old: str | None
    new: str | None


#: The field of an insert's one event: its new value is the JSON object of the whole row.
ROW = "*"
#: The field of a rows event: several rows of one table inserted together, sharing the
#: value of the model's :attr:`~alstrial.store.base.Audited.audit_group` column (the 40 items
#: of one form instance). Its record id is :func:`rows_record_id` of that value; its new
#: value is ``{"columns": [name, ...], "rows": {record id: [plain value, ...], ...}}``, each
#: value as :func:`plain_value` gives it (the trail's text is :func:`canonical_text` of it).
ROWS = "*rows"


def rows_record_id(column: str, value: object) -> str:
    """The record id of a rows event: ``<column>=<value>`` (``form_instance_id=12``)."""
    return f"{column}={value}"


def expand_event(
    field: str, old: str | None, new: str | None
) -> list[tuple[str, str | None, str | None]]:
    """An event of one record as (field, old, new) per field: a row event gives one per
    column. A rows event holds several records: read it with :func:`expand_records`."""
    if field != ROW or new is None:
        return [(field, old, new)]
    return [(name, None, value) for name, value in json.loads(new).items()]


def expand_records(
    record_id: str, field: str, old: str | None, new: str | None
) -> list[tuple[str, str, str | None, str | None]]:
    """Any event as (record id, field, old, new) per field of each record it touches.

    Raises
    ------
    IntegrityError
        A rows event whose new value is not what the trail writes.
    """
    if field != ROWS:
        return [(record_id, *line) for line in expand_event(field, old, new)]
    return [
        (record, name, None, text)
        for record, values in rows_event_records(new).items()
        for name, text in values.items()
    ]


def rows_event_records(new: str | None) -> dict[str, dict[str, str | None]]:
    """The records of a rows event: record id -> column -> the trail's text of its value.

    Raises
    ------
    IntegrityError
        The new value is not a rows event's JSON (an edited trail: its hash no longer
        matches either).
    """
    try:
        content = json.loads(new or "")
        columns = content["columns"]
        rows = content["rows"]
        return {
            str(record): dict(
                zip(columns, (canonical_text(value) for value in values), strict=True)
            )
            for record, values in rows.items()
        }
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise IntegrityError(f"an audit rows event cannot be read ({error})") from None


#: Per audited mapper: each column's name, attribute key and encoder (built once).
_ROW_ENCODERS: dict[Mapper[Any], list[tuple[str, str, Callable[[Any], str | None]]]] = {}


def _row_encoders(mapper: Mapper[Any]) -> list[tuple[str, str, Callable[[Any], str | None]]]:
    found = _ROW_ENCODERS.get(mapper)
    if found is None:
        found = [
            (column.name, mapper.get_property_by_column(column).key, _encoder(column.type))
            for column in _columns(mapper)
        ]
        _ROW_ENCODERS[mapper] = found
    return found


def _changes(session: Session) -> Iterator[_Change]:
    for obj in session.new:
        if isinstance(obj, Audited):
            mapper = inspect(obj).mapper
            record_id = _record_id(mapper, obj)
            values = _row_json(
                (name, encode(getattr(obj, key))) for name, key, encode in _row_encoders(mapper)
            )
            yield _Change("insert", mapper.local_table.name, record_id, ROW, None, values)
    for obj in session.dirty:
        if isinstance(obj, Audited):
            state = inspect(obj)
            mapper = state.mapper
            record_id = _record_id(mapper, obj)
            for column in _columns(mapper):
                key = mapper.get_property_by_column(column).key
                history = state.attrs[key].history
                if not history.has_changes():
                    continue
                old = encode_value(column.type, history.deleted[0] if history.deleted else None)
                new = encode_value(column.type, history.added[0] if history.added else None)
                if old != new:
                    yield _Change(
                        "update", mapper.local_table.name, record_id, column.name, old, new
                    )
    for obj in session.deleted:
        if isinstance(obj, Audited):
            state = inspect(obj)
            mapper = state.mapper
            record_id = _record_id(mapper, obj)
            for column in _columns(mapper):
                key = mapper.get_property_by_column(column).key
                history = state.attrs[key].history
                old_value = history.deleted[0] if history.deleted else getattr(obj, key)
                old = encode_value(column.type, old_value)
                yield _Change("delete", mapper.local_table.name, record_id, column.name, old, None)


def _needs_reason(session: Session) -> bool:
    """True when the flush deletes audited rows or overwrites a saved, non-empty value."""
    if any(isinstance(obj, Audited) for obj in session.deleted):
        return True
    for obj in session.dirty:
        if not isinstance(obj, Audited):
            continue
        state = inspect(obj)
        for column in _columns(state.mapper):
            if column.name in obj.workflow_fields:
                continue
            history = state.attrs[state.mapper.get_property_by_column(column).key].history
            if history.has_changes() and history.deleted and history.deleted[0] is not None:
                old = encode_value(column.type, history.deleted[0])
                new = encode_value(column.type, history.added[0] if history.added else None)
                if old != new:
                    return True
    return False


def require_actor(session: Session) -> str:
    """The actor of the session's transaction (set by the services).

    Raises
    ------
    ValidationError
        None is set: a change to audited data is refused before anything is written.
    """
    actor = session.info.get(ACTOR_KEY)
    if not actor:
        raise ValidationError(
            "no actor is set for this change; clinical data is written through the services",
            field="actor",
            allowed="a user name set by alstrial.services",
        )
    return str(actor)


@event.listens_for(Session, "before_flush")
def _require_actor_and_reason(session: Session, flush_context: Any, instances: Any) -> None:
    touched = [
        o for o in (*session.new, *session.dirty, *session.deleted) if isinstance(o, Audited)
    ]
    if not touched:
        return
    require_actor(session)
    if _needs_reason(session) and not (session.info.get(REASON_KEY) or "").strip():
        raise ValidationError(
            "a reason is required to change or delete saved data",
            field="reason",
            allowed="a non-empty reason for the change",
        )


@event.listens_for(Mapper, "mapper_configured")
def _load_old_values(mapper: Mapper[Any], class_: type) -> None:
    """Make every column of an audited model load its saved value before it is overwritten.

    Without this, a value set on an expired attribute (after a rollback, say) carries no old
    value in its history: the trail would record the old value as empty and the change would
    pass as filling an empty field, without the reason an overwrite needs.
    """
    if issubclass(class_, Audited):
        for prop in mapper.column_attrs:
            event.listen(getattr(class_, prop.key), "set", _keep_value, active_history=True)


def _keep_value(target: object, value: object, oldvalue: object, initiator: object) -> object:
    return value


#: Changes of the open transaction not yet in the trail: (change, actor, reason) each.
_PENDING_KEY = "alstrial.audit_pending"


@event.listens_for(Session, "after_flush")
def _collect_audit_events(session: Session, flush_context: Any) -> None:
    changes = list(_changes(session))
    if changes:
        actor, reason = session.info[ACTOR_KEY], session.info.get(REASON_KEY)
        pending = session.info.setdefault(_PENDING_KEY, [])
        pending.extend((change, actor, reason) for change in changes)


def queue_insert_events(
    session: Session, model: type[Audited], rows: Sequence[tuple[str, dict[str, Any]]]
) -> None:
    """Queue the audit events of rows of ``model`` inserted without the ORM
    (:mod:`alstrial.store.audited_insert`), written with the transaction's other events at
    commit: one row event per ``(record id, values)``, the event an ORM insert yields; for a
    model with an :attr:`~alstrial.store.base.Audited.audit_group`, one rows event
    (:data:`ROWS`) per value of that column instead.

    Raises
    ------
    ValidationError
        The session has no actor (as for an ORM change).
    """
    actor = require_actor(session)
    mapper = inspect(model)
    table = cast(Table, mapper.local_table).name
    reason = session.info.get(REASON_KEY)
    pending = session.info.setdefault(_PENDING_KEY, [])
    if model.audit_group is not None:
        for change in _rows_events(mapper, model.audit_group, rows):
            pending.append((change, actor, reason))
        return
    columns = [(name, encode) for name, _, encode in _row_encoders(mapper)]
    for record_id, values in rows:
        text = _row_json((name, encode(values.get(name))) for name, encode in columns)
        pending.append((_Change("insert", table, record_id, ROW, None, text), actor, reason))


def _rows_events(
    mapper: Mapper[Any], group: str, rows: Sequence[tuple[str, dict[str, Any]]]
) -> list[_Change]:
    """One rows event per value of the ``group`` column among ``rows``.

    The whole event is one ``json.dumps`` of plain values: a 40-item form's save wrote 40
    row events before, each hashed, signed and inserted on its own, and that was a third
    of the save's instructions (``valgrind --tool=callgrind``, docs/architecture.md).
    """
    converters = _plain_converters(mapper)
    names = [name for name, _ in converters]
    grouped: dict[object, dict[str, list[Any]]] = {}
    for record_id, values in rows:
        grouped.setdefault(values.get(group), {})[record_id] = [
            convert(values.get(name)) for name, convert in converters
        ]
    table = cast(Table, mapper.local_table).name
    return [
        _Change(
            "insert",
            table,
            rows_record_id(group, value),
            ROWS,
            None,
            json.dumps(
                {"columns": names, "rows": records}, separators=(",", ":"), ensure_ascii=False
            ),
        )
        for value, records in grouped.items()
    ]


#: Per audited mapper: each column's name and its :func:`plain_value` (built once).
_PLAIN_CONVERTERS: dict[Mapper[Any], list[tuple[str, Callable[[Any], Any]]]] = {}


def _plain_converters(mapper: Mapper[Any]) -> list[tuple[str, Callable[[Any], Any]]]:
    found = _PLAIN_CONVERTERS.get(mapper)
    if found is None:
        found = [(column.name, _plain_converter(column.type)) for column in _columns(mapper)]
        _PLAIN_CONVERTERS[mapper] = found
    return found


def _plain_converter(column_type: TypeEngine[Any]) -> Callable[[Any], Any]:
    """:func:`plain_value` for one column type, passing through what is plain already (text
    to a text column, an int to an integer column, a bool to a boolean one): the same value
    for every input (``tests/test_audit.py`` checks)."""
    kind: type | None = None
    if isinstance(column_type, Boolean):
        kind = bool
    elif isinstance(column_type, Integer) and not isinstance(column_type, SqlEnum):
        kind = int
    elif isinstance(column_type, String | Text) and not isinstance(column_type, SqlEnum):
        kind = str
    general = partial(plain_value, column_type)
    if kind is None:
        return general

    def convert(value: Any) -> Any:
        if value is None or type(value) is kind:
            return value
        return general(value)

    return convert


@event.listens_for(Session, "before_commit")
def _write_audit_events(session: Session) -> None:
    session.flush()
    pending = session.info.pop(_PENDING_KEY, None)
    if pending:
        _append(session.connection(), pending, session.info.get(MAC_KEY))


@event.listens_for(Session, "after_transaction_end")
def _discard_audit_events(session: Session, transaction: SessionTransaction) -> None:
    """A transaction that ends without its commit (rollback, close) leaves no events behind."""
    if transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)


# Built once: a save appends to the chain in every transaction, and building these
# statements each time was a measurable part of its CPU time (profile of one vitals save).
_HEAD = select(AuditHead.last_seq, AuditHead.last_hash).where(AuditHead.id == 1).with_for_update()
_INSERT = insert(AuditEvent)
_MOVE_HEAD = (
    update(AuditHead)
    .where(AuditHead.id == 1)
    .values(last_seq=bindparam("new_seq"), last_hash=bindparam("new_hash"))
)
_SQLITE_HEAD = "SELECT last_seq, last_hash FROM audit_head WHERE id = 1"
_SQLITE_MOVE_HEAD = "UPDATE audit_head SET last_seq = ?, last_hash = ? WHERE id = 1"


def _append(
    connection: Connection,
    pending: Sequence[tuple[_Change, str, str | None]],
    key: bytes | None = None,
) -> None:
    """Append one transaction's events to the chain (the head row is locked meanwhile); with
    an audit key, each event carries the MAC of its hash."""
    sqlite = connection.dialect.name == "sqlite"
    # On SQLite the head is read and moved by plain statements on the driver: this runs
    # under the write lock, where SQLAlchemy's work per statement was a sixth of the commit
    # (py-spy; alstrial.store.sqlite_statements).
    head = (
        sqlite_statements.run(connection, _SQLITE_HEAD).fetchone()
        if sqlite
        else connection.execute(_HEAD).first()
    )
    if head is None:
        raise IntegrityError("the audit head row is missing; run `alstrial init` to migrate")
    seq, prev_hash = head
    now = utc_now()
    now_text = encode_value(UTCDateTime(), now)  # one time for the transaction's events
    # Each event as a tuple in _PG_COLUMNS' order; its hashed fields are _hashed_fields'.
    rows: list[tuple[Any, ...]] = []
    for change, actor, reason in pending:
        seq += 1
        fields: tuple[Any, ...] = (seq, now_text, actor, change.action, change.entity)
        fields += (change.record_id, change.field, change.old, change.new, reason)
        digest = event_hash(prev_hash, fields)
        mac = event_mac(key, digest) if key else None
        rows.append((seq, now, *fields[2:], prev_hash, digest, mac))
        prev_hash = digest
    if connection.dialect.name == "postgresql":
        _append_postgresql(connection, rows, seq, prev_hash)
        return
    if sqlite:
        _append_sqlite(connection, rows, now)
        sqlite_statements.run(connection, _SQLITE_MOVE_HEAD, (seq, prev_hash))
        return
    names = [name for name, _ in _PG_COLUMNS]
    connection.execute(_INSERT, [dict(zip(names, row, strict=True)) for row in rows])
    connection.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev_hash})


def _append_sqlite(connection: Connection, rows: Sequence[tuple[Any, ...]], now: datetime) -> None:
    """The events as multi-row ``INSERT ... VALUES`` statements of plain values on SQLite.

    Through SQLAlchemy each of a 40-item form's 41 events had its 13 parameters processed one
    by one (``bench/bench_web.py --form dictionary``); every value here is already what the
    driver takes but the time, which is converted once, as its column type stores it. One
    statement for up to 76 events (SQLite's oldest limit of 999 parameters) takes half the
    time of an ``executemany`` of single rows, and it runs under the write lock.
    """
    stored_at = UTCDateTime().bind_processor(connection.dialect)
    moment = stored_at(now) if stored_at else now
    for start in range(0, len(rows), _SQLITE_EVENTS_PER_STATEMENT):
        chunk = rows[start : start + _SQLITE_EVENTS_PER_STATEMENT]
        sqlite_statements.run(
            connection,
            _SQLITE_APPEND + ", ".join(_SQLITE_SLOT for _ in chunk),
            tuple(value for row in chunk for value in (row[0], moment, *row[2:])),
        )


#: The columns of ``audit_event`` in insert order, with their PostgreSQL array types (the
#: insert statements of both back ends name them in this order).
_PG_COLUMNS = (
    ("seq", "integer"),
    ("recorded_at", "timestamp"),
    ("actor", "text"),
    ("action", "text"),
    ("entity", "text"),
    ("record_id", "text"),
    ("field", "text"),
    ("old_value", "text"),
    ("new_value", "text"),
    ("reason", "text"),
    ("prev_hash", "text"),
    ("hash", "text"),
    ("mac", "text"),
)
_PG_APPEND = (
    "WITH added AS (INSERT INTO audit_event ("
    + ", ".join(name for name, _ in _PG_COLUMNS)
    + ") SELECT * FROM unnest("
    + ", ".join(f"%({name})s::{kind}[]" for name, kind in _PG_COLUMNS)
    + ")) UPDATE audit_head SET last_seq = %(last_seq)s, last_hash = %(last_hash)s WHERE id = 1"
)

#: SQLite's insert of events: the statement's head, one row's slot (repeated per event), and
#: the events per statement (within SQLite's oldest limit of 999 parameters).
_SQLITE_APPEND = "INSERT INTO audit_event (" + ", ".join(n for n, _ in _PG_COLUMNS) + ") VALUES "
_SQLITE_SLOT = "(" + ", ".join("?" for _ in _PG_COLUMNS) + ")"
_SQLITE_EVENTS_PER_STATEMENT = 999 // len(_PG_COLUMNS)


def _append_postgresql(
    connection: Connection, rows: Sequence[tuple[Any, ...]], last_seq: int, last_hash: str
) -> None:
    """One statement on PostgreSQL: every event as arrays through ``unnest``, and the head.

    The portable path sends one INSERT per event (pipelined) and then the UPDATE; a save
    writes a dozen events, so this saves a round trip and most of the per-row work on both
    sides (``bench/bench_web.py`` measures it). Timestamps are stored as naive UTC, as
    :class:`~alstrial.store.base.UTCDateTime` stores them.
    """
    params: dict[str, Any] = {
        name: [row[n] for row in rows] for n, (name, _) in enumerate(_PG_COLUMNS)
    }
    params["recorded_at"] = [
        moment.astimezone(UTC).replace(tzinfo=None) for moment in params["recorded_at"]
    ]
    params["last_seq"], params["last_hash"] = last_seq, last_hash
    connection.exec_driver_sql(_PG_APPEND, params)


@dataclass(frozen=True)
class Anchor:
    """A checkpoint of the chain kept outside the database: sequence, hash, time, and the
    MAC of the three under the audit key (``alstrial audit anchor``)."""

    seq: int
    hash: str
    recorded_at: str
    mac: str | None
    source: str = ""

    def payload(self) -> str:
        return f"{self.seq}:{self.hash}:{self.recorded_at}"

    def check(self, hashes: dict[int, str], events: int, key: bytes | None) -> str | None:
        """What is wrong with the chain at this anchor, or None."""
        where = f"anchor {self.source or self.seq}"
        if key is not None and not (
            self.mac
            and hmac.compare_digest(
                self.mac, hmac.new(key, self.payload().encode(), hashlib.sha256).hexdigest()
            )
        ):
            return f"{where} has no valid MAC: it was not written with this audit key"
        if self.seq > events:
            return (
                f"{where} records event {self.seq} but the trail ends at {events}: "
                "events were removed"
            )
        if hashes.get(self.seq) != self.hash:
            return f"{where}: event {self.seq} has another hash now: the trail was rewritten"
        return None


def make_anchor(session: Session, key: bytes | None) -> Anchor:
    """An anchor of the chain's current head (signed when a key is given)."""
    head = session.execute(select(AuditHead.last_seq, AuditHead.last_hash)).one()
    moment = utc_now().isoformat()
    unsigned = Anchor(int(head.last_seq), str(head.last_hash), moment, None)
    mac = hmac.new(key, unsigned.payload().encode(), hashlib.sha256).hexdigest() if key else None
    return Anchor(unsigned.seq, unsigned.hash, moment, mac)


@dataclass(frozen=True)
class AuditVerification:
    """Outcome of :func:`verify_audit_trail`."""

    events: int
    records: int
    problem: str | None

    @property
    def ok(self) -> bool:
        """True when the trail is intact and replays to the current data."""
        return self.problem is None


def verify_audit_trail(
    session: Session,
    *,
    key: bytes | None = None,
    anchors: Sequence[Anchor] = (),
) -> AuditVerification:
    """Check the hash chain (and, given the audit key, every event's MAC), the anchors kept
    outside the database, then replay the trail and compare it with the current data.

    Returns the first problem found, naming the audit event (by sequence number), the anchor
    or the record (table, id, field) that does not match, or ``problem=None`` when all is well.
    Without the key, a trail rewritten whole by someone who owns the database (new hashes,
    new head) cannot be told from the real one; with it, each event must carry the MAC only
    the key's holder can compute, and each anchor must still be in the chain.
    """
    # Every audited model must be mapped, or its records would be "in the trail but not in
    # the data" (a caller that imported only the store, as `alstrial backup` does).
    import alstrial.store.models  # noqa: F401

    events = 0
    state: dict[tuple[str, str], dict[str, str | None]] = {}
    prev_hash = GENESIS_HASH
    hashes: dict[int, str] = {}
    wanted = {anchor.seq for anchor in anchors}
    for row in session.execute(select(AuditEvent.__table__).order_by(AuditEvent.seq)):
        events += 1
        if row.seq != events:
            return AuditVerification(
                events, 0, f"audit event {events} is missing (next is {row.seq})"
            )
        if row.prev_hash != prev_hash or event_hash(prev_hash, _hashed_fields(row)) != row.hash:
            return AuditVerification(
                events, 0, f"audit event {row.seq} does not match its hash (the trail was edited)"
            )
        if key is not None and not (
            row.mac and hmac.compare_digest(row.mac, event_mac(key, row.hash))
        ):
            return AuditVerification(
                events,
                0,
                f"audit event {row.seq} has no valid MAC: it was written or rewritten without "
                "the audit key (or the key given is not this trail's)",
            )
        if row.seq in wanted:
            hashes[row.seq] = row.hash
        prev_hash = row.hash
        record = (row.entity, row.record_id)
        if row.action == "delete":
            state.pop(record, None)
        elif row.field == ROWS:
            try:
                records = rows_event_records(row.new_value)
            except IntegrityError:
                return AuditVerification(
                    events, 0, f"audit event {row.seq}: the inserted rows cannot be read"
                )
            for record_id, values in records.items():
                state[(row.entity, record_id)] = values
        elif row.field == ROW:
            try:
                values = json.loads(row.new_value or "")
            except ValueError:
                values = None
            if not isinstance(values, dict):
                return AuditVerification(
                    events, 0, f"audit event {row.seq}: the inserted row cannot be read"
                )
            state[record] = values
        else:
            state.setdefault(record, {})[row.field] = row.new_value
    for anchor in anchors:
        problem = anchor.check(hashes, events, key)
        if problem:
            return AuditVerification(events, 0, problem)
    head = session.execute(select(AuditHead.last_seq, AuditHead.last_hash)).one_or_none()
    if head is None or head.last_seq != events or head.last_hash != prev_hash:
        return AuditVerification(
            events,
            0,
            f"the audit head does not match the last event ({events}): events were removed",
        )
    return _compare_with_data(session, state, events)


def _compare_with_data(
    session: Session, state: dict[tuple[str, str], dict[str, str | None]], events: int
) -> AuditVerification:
    records = 0
    seen: set[tuple[str, str]] = set()
    for mapper in audited_mappers():
        table = mapper.local_table
        columns = _columns(mapper)
        primary = [c.name for c in table.primary_key.columns]  # type: ignore[attr-defined]
        for row in session.execute(select(table).order_by(*table.primary_key.columns)):  # type: ignore[attr-defined]
            records += 1
            values = row._mapping
            record_id = "/".join(str(values[name]) for name in primary)
            key = (table.name, record_id)  # type: ignore[attr-defined]
            seen.add(key)
            trail = state.get(key)
            if trail is None:
                return AuditVerification(
                    events,
                    records,
                    f"{key[0]} record {record_id} has no audit trail (written outside alstrial)",
                )
            for column in columns:
                stored = encode_value(column.type, values[column.name])
                expected = trail.get(column.name)
                if stored != expected:
                    return AuditVerification(
                        events,
                        records,
                        f"{key[0]} record {record_id} field {column.name}: data {stored} but "
                        f"audit trail {expected} (data edited outside alstrial)",
                    )
    missing = sorted(set(state) - seen)
    if missing:
        entity, record_id = missing[0]
        return AuditVerification(
            events,
            records,
            f"{entity} record {record_id} is in the audit trail but not in the "
            "data (deleted outside alstrial)",
        )
    return AuditVerification(events, records, None)
