"""Inserting many rows of one audited table at once, under every guarantee an ORM insert has.

A dictionary form of 40 fields saves 40 item rows. Through the ORM each row is an object with
its own instrumentation, flush bookkeeping, value check and audit introspection, and that was
most of the save's time (``bench/bench_web.py --form dictionary``: 132 saves/s with a p99 of
386 ms against a goal of 300 and 100). :func:`insert_audited_rows` writes them as one
multi-row INSERT with RETURNING and keeps each guarantee the flush listeners give an ORM
insert, in the same order and with the same outcome:

1. the values are checked against their columns (:func:`~alstrial.store.value_checks.check_value`:
   NUL bytes, over-long text, numbers that are not finite), before anything is written;
2. the visits and casebooks the rows belong to are unlocked, which needs the transaction's
   reason and removes their signatures (:func:`~alstrial.store.signature_locks.unlock_signed`);
3. each row yields the audit row event an ORM insert yields, or, for a model with an audit
   group (a form instance's items), the rows share one rows event; chained at commit with
   the transaction's other events (:func:`~alstrial.store.audit.queue_insert_events`), so
   ``alstrial audit verify`` replays them like any other;
4. an item added to a source-verified form instance removes the instance's whole-record
   verification (:func:`~alstrial.store.verification_locks.clear_instance_verifications`).

Only inserts take this path: an update or a delete goes through the ORM, whose history gives
the old values the trail and the verification locks need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, event, insert, inspect
from sqlalchemy.orm import Session, SessionTransaction

from alstrial.exceptions import ValidationError
from alstrial.store import sqlite_statements
from alstrial.store.audit import queue_insert_events, require_actor
from alstrial.store.base import Audited
from alstrial.store.models.forms import FormInstance, ItemValue
from alstrial.store.signature_locks import unlock_signed
from alstrial.store.value_checks import check_value
from alstrial.store.verification_locks import clear_instance_verifications

__all__ = ["insert_audited_rows", "insert_audited_with_children"]


def insert_audited_rows(
    session: Session,
    model: type[Audited],
    rows: Sequence[Mapping[str, Any]],
    *,
    key: str | None = None,
) -> list[int]:
    """Insert ``rows`` (column name -> value, every row with the same columns) into
    ``model``'s table in the open transaction; their new ids, in order.

    The model's casebook key must be ``subject_id`` (the rows name their subject and visit).
    ``key`` names a column whose value differs between the rows (an item's field within its
    form instance): the new ids are then matched to the rows by it, and the rows go in one
    statement on every back end. Without it, SQLAlchemy keeps the rows' order itself, which
    on SQLite means one INSERT per row (SQLite does not promise ``RETURNING`` in row order).
    Every column with a default is named: the audit event holds the row as given.

    Raises
    ------
    ValidationError
        No actor, a value its column cannot hold, a row with other columns than the first,
        or a column with a default not named; each before anything is written.
    ConflictError
        A row at a signed visit or casebook, in a transaction without a reason.
    """
    if not rows:
        return []
    table = _checked(session, model, rows, key)
    _unlock(session, rows)
    if model is ItemValue:
        # An instance inserted in this transaction has no verification to remove.
        new = session.info.get(_NEW_INSTANCES_KEY, set())
        instances: dict[int, set[str]] = {}
        for row in rows:
            if int(row["form_instance_id"]) not in new:
                instances.setdefault(int(row["form_instance_id"]), set()).add(str(row["field"]))
        clear_instance_verifications(session, instances)
    # The pending ORM changes go first, so that the trail keeps the order they were made in.
    session.flush()
    ids = _insert(session, table, rows, key)
    _queue_events(session, model, rows, ids)
    return ids


def insert_audited_with_children(
    session: Session,
    parent: type[Audited],
    parent_row: Mapping[str, Any],
    children: type[Audited],
    child_rows: Sequence[Mapping[str, Any]],
    *,
    link: str,
    key: str,
) -> tuple[int, list[int]]:
    """Insert a new ``parent`` row and ``child_rows`` that point to it by their column
    ``link`` (set here), as :func:`insert_audited_rows` would insert them one after the
    other; the parent's id and the children's ids, in order.

    Every check of both goes before the first write. SQLite holds its write lock from a
    transaction's first write to its commit, and a 40-item form's save held it about 3.5 ms,
    a third of that for the checks of the items made after its instance was inserted: at
    300 saves per second the lock would never be free (``bench/bench_web.py``).

    Raises
    ------
    ValidationError, ConflictError
        As :func:`insert_audited_rows`, for the parent or a child; before anything is written.
    """
    parent_table = _checked(session, parent, [parent_row], None)
    children_table = _checked(session, children, [{**row, link: 0} for row in child_rows], key)
    _unlock(session, [parent_row, *child_rows])  # children: the parent's subject and visit
    session.flush()
    (parent_id,) = _insert(session, parent_table, [parent_row], None)
    rows = [{**row, link: parent_id} for row in child_rows]
    ids = _insert(session, children_table, rows, key) if rows else []
    _queue_events(session, parent, [parent_row], [parent_id])
    if rows:
        _queue_events(session, children, rows, ids)
    return parent_id, ids


def _checked(
    session: Session, model: type[Audited], rows: Sequence[Mapping[str, Any]], key: str | None
) -> Table:
    """``model``'s table, once ``rows`` pass every check made before a write (see
    :func:`insert_audited_rows`)."""
    require_actor(session)  # before anything is written
    table = cast(Table, inspect(model).local_table)
    if model.casebook_key != "subject_id":
        raise ValidationError(
            f"{model.__name__} rows are not inserted in bulk: their casebook is not found "
            "from the row",
            form=table.name,
        )
    if not rows:
        return table
    names = set(rows[0])
    defaulted = {
        c.name
        for c in table.c
        if not c.primary_key and (c.default is not None or c.server_default is not None)
    }
    if defaulted - names:
        # The row's audit event must hold what is stored: a default would be written unseen.
        raise ValidationError(
            "the rows of a bulk insert name every column that has a default",
            form=table.name,
            field=", ".join(sorted(defaulted - names)),
        )
    if key is not None and len({row[key] for row in rows}) != len(rows):
        raise ValidationError(
            f"the rows of a bulk insert repeat their key {key!r}", form=table.name, field=key
        )
    for row in rows:
        if set(row) != names:
            raise ValidationError(
                "every row of a bulk insert names the same columns",
                form=table.name,
                field=", ".join(sorted(names ^ set(row))),
            )
        for name, value in row.items():
            if isinstance(value, str | float):  # what check_value refuses is text or a float
                check_value(table.name, name, table.c[name], value)
    return table


def _unlock(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Unlock the visits and casebooks of ``rows`` (their signatures are removed)."""
    unlock_signed(
        session,
        {int(row["visit_id"]) for row in rows if row.get("visit_id") is not None},
        {int(row["subject_id"]) for row in rows},
    )


def _insert(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]], key: str | None
) -> list[int]:
    """Write checked ``rows``; their new ids, in order."""
    if session.get_bind().dialect.name == "sqlite" and (key is not None or len(rows) == 1):
        return _insert_sqlite(session, table, rows, key)
    if key is None:
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return [int(i) for i in session.execute(statement, list(rows)).scalars()]
    statement = insert(table).returning(table.c.id, table.c[key])
    found = {k: int(i) for i, k in session.execute(statement, list(rows))}
    return [found[row[key]] for row in rows]


def _queue_events(
    session: Session, model: type[Audited], rows: Sequence[Mapping[str, Any]], ids: list[int]
) -> None:
    """Queue the audit events of written ``rows``; remember new form instances."""
    queue_insert_events(
        session, model, [(str(i), {**row, "id": i}) for i, row in zip(ids, rows, strict=True)]
    )
    if model is FormInstance:
        session.info.setdefault(_NEW_INSTANCES_KEY, set()).update(ids)


#: Rows per statement on SQLite: within the 999 parameters of its oldest builds.
_SQLITE_PARAMETERS = 999


def _insert_sqlite(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]], key: str | None
) -> list[int]:
    """The rows as multi-row ``INSERT ... RETURNING id, key`` statements given to the driver
    (:mod:`.sqlite_statements`),
    each value converted once by its column type's own bind processor; without ``key``, the
    one row's ``INSERT ... RETURNING id`` (a form instance: the ORM's insert took twice the
    time, and it runs under the write lock).

    Through SQLAlchemy's ``insertmanyvalues`` each of a 40-item form's 320 parameters was
    processed by the statement compiler; this is the same statement and the same values
    (``tests/test_dictionary_services.py`` reads the rows back), with that work left out.
    """
    connection = session.connection()
    names = list(rows[0])
    processors = [table.c[name].type.bind_processor(connection.dialect) for name in names]
    columns = ", ".join(f'"{name}"' for name in names)
    slot = "(" + ", ".join("?" for _ in names) + ")"

    def bound(chunk: Sequence[Mapping[str, Any]]) -> tuple[Any, ...]:
        return tuple(
            value if convert is None else convert(value)
            for row in chunk
            for value, convert in zip((row[n] for n in names), processors, strict=True)
        )

    if key is None:  # one row: its id is the one returned
        statement = f'INSERT INTO "{table.name}" ({columns}) VALUES {slot} RETURNING "id"'
        ((new_id,),) = sqlite_statements.run(connection, statement, bound(rows)).fetchall()
        return [int(new_id)]
    key_processor = processors[names.index(key)]
    found: dict[object, int] = {}
    per_statement = max(1, _SQLITE_PARAMETERS // len(names))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        statement = (
            f'INSERT INTO "{table.name}" ({columns}) VALUES '
            + ", ".join(slot for _ in chunk)
            + f' RETURNING "id", "{key}"'
        )
        for new_id, value in sqlite_statements.run(connection, statement, bound(chunk)):
            found[value] = int(new_id)
    return [found[row[key] if key_processor is None else key_processor(row[key])] for row in rows]


#: ``session.info`` key: the form instances inserted in the open transaction.
_NEW_INSTANCES_KEY = "alstrial.new_form_instances"


@event.listens_for(Session, "after_transaction_end")
def _forget_new_instances(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_NEW_INSTANCES_KEY, None)
