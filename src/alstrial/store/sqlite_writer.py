"""One writer at a time on a SQLite file, handed over the moment it is free.

SQLite lets one connection write at a time. A connection that finds the write lock taken
waits in SQLite's busy handler, which sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50 and then
100 ms between tries (``sqliteDefaultBusyCallback``) and does not wake when the lock is
released. Under load that wastes the lock and starves the waiter: with 16 clients saving a
40-item form through two workers (``bench/bench_web.py --form dictionary``), a waiting save
slept through the release while the other worker took the lock again, the lock stood idle
about a third of the time, and a save waited up to 140 ms (p99).

So every connection :func:`~alstrial.store.engine.make_engine` opens on a SQLite file takes an
exclusive advisory lock (``flock``) on a file beside the database, ``<database>-writer``,
before the first statement of a transaction that writes, and gives it back the moment the
transaction ends (commit, rollback, an error that ends it, close). A writer that finds it
taken polls every 50 microseconds at first, then every half millisecond at most, so it
takes the lock within half a millisecond of its release: measured on the same machine and
hour, 309-321 saves/s with a p99 of 99-104 ms against 253-260 saves/s and 135-147 ms without
it (docs/architecture.md).

A commit's ``fsync`` is made after the lock is given back, before the commit returns
(:mod:`alstrial.store.sqlite_durability`): the next writer does not wait for the disk.

The writer lock only orders alstrial's writers; SQLite's own locking is unchanged and still
guarantees the data. A writer that does not take it (the ``sqlite3`` shell, another program)
still waits in the busy handler as before, and a statement counted as a read that in fact
writes only waits there too. The wait is bounded like SQLite's own (``busy_timeout``): after
it, the statement fails with SQLite's own error class, naming the lock file, and nothing is
written. Where ``flock`` does not exist (Windows) or the database is in memory, connections
are plain ones.

References
----------
SQLite, "Write-Ahead Logging", section 2.2 (one writer at a time):
https://sqlite.org/wal.html; ``sqlite3_busy_timeout``: https://sqlite.org/c3ref/busy_timeout.html
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from alstrial.store.sqlite_durability import fsync_log

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]

__all__ = ["WRITER_SUFFIX", "syncs_its_commits", "writer_locked_connection"]

#: The lock file's name is the database's with this added.
WRITER_SUFFIX = "-writer"

#: Statements that never take SQLite's write lock, by their first word. Any other statement
#: takes the writer lock first (a read taken for a write only waits a little longer).
_READS = ("SELECT", "PRAGMA", "EXPLAIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT", "END")

#: First and longest pause between two tries of a taken lock, in seconds.
_FIRST_PAUSE = 0.00005
_LONGEST_PAUSE = 0.0005


def _writes(sql: str) -> bool:
    """Whether ``sql`` may take SQLite's write lock (anything but a known read)."""
    return not sql[:12].lstrip().upper().startswith(_READS)


class _WriterLockCursor(sqlite3.Cursor):
    """A cursor whose writing statements take their connection's writer lock first."""

    connection: _WriterLockConnection

    def execute(self, sql: str, parameters: Any = (), /) -> _WriterLockCursor:
        self.connection.before_statement(sql)
        try:
            super().execute(sql, parameters)
        finally:
            self.connection.give_back_if_done()
        return self

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> _WriterLockCursor:
        self.connection.before_statement(sql)
        try:
            super().executemany(sql, parameters)
        finally:
            self.connection.give_back_if_done()
        return self

    def executescript(self, sql_script: str, /) -> _WriterLockCursor:
        self.connection.before_statement("script")  # a script may write
        try:
            super().executescript(sql_script)
        finally:
            self.connection.give_back_if_done()
        return self


class _WriterLockConnection(sqlite3.Connection):
    """A SQLite connection that takes the writer lock before it writes (module docstring).

    Subclasses made by :func:`writer_locked_connection` set ``lock_path`` and ``timeout_s``.
    """

    lock_path: str
    timeout_s: float

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.holds_writer_lock = False
        # The file names SQLite itself uses (its write-ahead log is the database's with
        # "-wal" added), for the fsync after a commit (alstrial.store.sqlite_durability).
        self._database = str(super().execute("PRAGMA database_list").fetchone()[2])
        self._log = self._database + "-wal"
        try:
            self._lock_fd: int | None = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            # A folder this process may read but not write: it cannot write the database
            # either (SQLite refuses), so there is no writer to order.
            self._lock_fd = None

    def cursor(self, factory: Any = _WriterLockCursor) -> Any:
        return super().cursor(factory)

    # The connection's own shortcuts make a plain cursor in C: route them through ours.
    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Any:
        return self.cursor().executemany(sql, parameters)

    def executescript(self, sql_script: str, /) -> Any:
        return self.cursor().executescript(sql_script)

    def before_statement(self, sql: str) -> None:
        """Take the writer lock before a statement that may write, unless held already."""
        if not self.holds_writer_lock and _writes(sql):
            self.take_writer_lock()

    def take_writer_lock(self) -> None:
        """Wait for the writer lock, at most ``timeout_s``.

        Raises
        ------
        sqlite3.OperationalError
            Another connection held it all that time (as SQLite's own "database is
            locked", which callers already handle); nothing was written.
        """
        if self._lock_fd is None:  # closed (the statement then fails), or no lock file
            return
        deadline = time.monotonic() + self.timeout_s
        pause = _FIRST_PAUSE
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise sqlite3.OperationalError(
                        f"database is locked: another connection held the writer lock "
                        f"{self.lock_path} for {self.timeout_s:g} s"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE)
            else:
                self.holds_writer_lock = True
                return

    def give_back_if_done(self, *, committed: bool = True) -> None:
        """Give the writer lock back if the transaction that took it has ended; then, if it
        may have committed (not a rollback), make its commit durable
        (:mod:`.sqlite_durability`)."""
        if self.holds_writer_lock and not self.in_transaction:
            self._give_back()
            if committed:
                fsync_log(self._log, self._database)

    def _give_back(self) -> None:
        self.holds_writer_lock = False
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.give_back_if_done()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.give_back_if_done(committed=False)  # nothing of it to make durable

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
        /,
    ) -> Literal[False]:
        # The context manager commits or rolls back in C, past the two methods above.
        try:
            return super().__exit__(kind, error, trace)
        finally:
            self.give_back_if_done(committed=kind is None)  # an error rolled it back

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # closing the file gives the lock back
                self._lock_fd = None
                self.holds_writer_lock = False


def syncs_its_commits(connection: object) -> bool:
    """Whether ``connection`` makes its commits durable itself, after giving the writer lock
    back (:mod:`alstrial.store.sqlite_durability`): it may then run with
    ``synchronous=NORMAL`` in WAL mode."""
    return isinstance(connection, _WriterLockConnection)


def writer_locked_connection(database: str, timeout_ms: int) -> type[sqlite3.Connection] | None:
    """The connection class (``sqlite3.connect(factory=...)``) whose connections to the file
    ``database`` take its writer lock before they write; None where there is no lock to take
    (a database in memory, a URI filename, no ``flock``)."""
    if fcntl is None or database in ("", ":memory:") or database.startswith("file:"):
        return None
    lock_path = str(Path(database).resolve()) + WRITER_SUFFIX
    return type(
        "WriterLockConnection",
        (_WriterLockConnection,),
        {"lock_path": lock_path, "timeout_s": timeout_ms / 1000},
    )
