"""Plain SQL on the SQLite driver's own connection, for the statements a save runs under the
writer lock.

A save's statements after its first write (the form instance and its items, the audit
chain's head, events and new head) run while the writer lock is held
(:mod:`alstrial.store.sqlite_writer`): every microsecond there is one the other worker may
wait. Through SQLAlchemy's ``exec_driver_sql`` each statement cost about 18 µs against 4.5
µs on the driver's cursor (a one-row select, measured alone), and a statement with
``RETURNING`` built a result object besides. :func:`run` hands the SQL and its parameters to
the driver connection under the session's SQLAlchemy connection, in the same transaction
(SQLite's; SQLAlchemy commits or rolls it back as before), and raises the driver's errors as
SQLAlchemy raises them (:class:`sqlalchemy.exc.IntegrityError` for a broken constraint, which
:func:`~alstrial.services.transaction.transaction` turns into a conflict the user can retry).

Only statements written for SQLite and given values the driver takes as they are (text,
numbers, ``None``; each caller converts its values with its column types' own bind
processors) come here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

__all__ = ["run"]


def run(connection: Connection, sql: str, parameters: Sequence[Any] = ()) -> sqlite3.Cursor:
    """Execute ``sql`` with positional ``parameters`` on ``connection``'s SQLite driver
    connection; the driver's cursor, to read any rows from.

    Raises
    ------
    sqlalchemy.exc.DBAPIError
        The driver's error, as the subclass SQLAlchemy would raise (``IntegrityError``,
        ``OperationalError``...).
    """
    driver = cast(sqlite3.Connection, connection.connection.driver_connection)
    try:
        return driver.execute(sql, parameters)
    except sqlite3.Error as error:
        raise DBAPIError.instance(sql, parameters, error, sqlite3.Error) from error
