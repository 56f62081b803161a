"""The SQLite writer lock (``alstrial.store.sqlite_writer``): taken before a transaction's
first write, given back when it ends however it ends, bounded, and a real lock between
connections of one process and of two; a commit synced once it is given back
(``alstrial.store.sqlite_durability``)."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from alstrial.store import make_engine
from alstrial.store.sqlite_durability import fsync_log
from alstrial.store.sqlite_writer import WRITER_SUFFIX, writer_locked_connection

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock exists on POSIX only")


def _connect(path: Path, timeout_ms: int = 10_000) -> sqlite3.Connection:
    factory = writer_locked_connection(str(path), timeout_ms)
    assert factory is not None
    connection = sqlite3.connect(path, factory=factory, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    return connection


def _lock_is_free(path: Path) -> bool:
    """Whether a third party could take the writer lock now (and give it back at once)."""
    if not Path(str(path) + WRITER_SUFFIX).exists():
        return True  # no writer has opened it yet
    fd = os.open(str(path) + WRITER_SUFFIX, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing gives back a lock taken here
    return True


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    return path


def test_a_write_takes_the_lock_until_its_transaction_ends(db: Path) -> None:
    connection = _connect(db)
    connection.execute("SELECT count(*) FROM t").fetchall()
    assert _lock_is_free(db), "a read took the writer lock"
    connection.execute("INSERT INTO t (v) VALUES ('a')")
    assert not _lock_is_free(db)
    connection.execute("SELECT count(*) FROM t").fetchall()  # a read inside the transaction
    assert not _lock_is_free(db)
    connection.commit()
    assert _lock_is_free(db)
    # Given back by a rollback, a cursor's executemany, and by closing.
    connection.cursor().executemany("INSERT INTO t (v) VALUES (?)", [("b",), ("c",)])
    assert not _lock_is_free(db)
    connection.rollback()
    assert _lock_is_free(db)
    with connection:  # the context manager commits in C, past commit()
        connection.execute("INSERT INTO t (v) VALUES ('d')")
    assert _lock_is_free(db)
    with pytest.raises(ZeroDivisionError):
        _insert_then_fail(connection)  # the context manager rolls back in C
    assert _lock_is_free(db)
    connection.execute("UPDATE t SET v = 'z'")
    connection.close()
    assert _lock_is_free(db)
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT v FROM t ORDER BY id").fetchall() == [("a",), ("d",)]


def _insert_then_fail(connection: sqlite3.Connection) -> None:
    with connection:
        connection.execute("INSERT INTO t (v) VALUES ('e')")
        raise ZeroDivisionError


def test_a_failed_first_write_gives_the_lock_back(db: Path) -> None:
    connection = _connect(db)
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        connection.execute("INSERT INTO missing (v) VALUES (1)")
    assert not connection.in_transaction
    assert _lock_is_free(db)
    # A statement that fails inside a transaction keeps it (and the lock) until it ends.
    connection.execute("INSERT INTO t (v) VALUES ('a')")
    with pytest.raises(sqlite3.IntegrityError):
        connection.execute("INSERT INTO t (id, v) VALUES (1, 'again')")
    assert not _lock_is_free(db)
    connection.rollback()
    assert _lock_is_free(db)


def test_a_statement_outside_a_transaction_gives_it_back_at_once(db: Path) -> None:
    factory = writer_locked_connection(str(db), 10_000)
    connection = sqlite3.connect(db, factory=factory, isolation_level=None)  # autocommit
    connection.execute("INSERT INTO t (v) VALUES ('a')")
    assert _lock_is_free(db)
    connection.executescript("BEGIN; INSERT INTO t (v) VALUES ('b'); COMMIT;")
    assert _lock_is_free(db)
    connection.close()


def test_a_second_writer_waits_for_the_first_then_goes_on_at_once(db: Path) -> None:
    first, second = _connect(db), _connect(db)
    first.execute("INSERT INTO t (v) VALUES ('first')")
    done = threading.Event()
    waited: list[float] = []

    def write() -> None:
        started = time.monotonic()
        second.execute("INSERT INTO t (v) VALUES ('second')")
        waited.append(time.monotonic() - started)
        second.commit()
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    assert not done.wait(0.3), "the second writer did not wait for the first's transaction"
    released = time.monotonic()
    first.commit()
    assert done.wait(10)
    writer.join()
    # It took the lock soon after the release: the pause between tries is 0.5 ms at most,
    # SQLite's busy handler alone would sleep up to 100 ms (generous bound: a shared machine).
    assert waited[0] >= 0.3
    assert time.monotonic() - released < 5
    with sqlite3.connect(db) as check:
        assert [v for (v,) in check.execute("SELECT v FROM t ORDER BY id")] == [
            "first",
            "second",
        ]


def test_a_writer_waits_on_the_lock_file_itself(db: Path) -> None:
    """Held by another party with no SQLite transaction at all, the writer lock alone makes a
    writer wait (SQLite's lock would not), and giving it back lets the write through."""
    connection = _connect(db)
    fd = os.open(str(db) + WRITER_SUFFIX, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    done = threading.Event()

    def write() -> None:
        connection.execute("INSERT INTO t (v) VALUES ('after')")
        connection.commit()
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    assert not done.wait(0.3), "the writer did not wait for the writer lock"
    os.close(fd)
    assert done.wait(10)
    writer.join()
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT v FROM t").fetchall() == [("after",)]


def test_the_wait_is_bounded_and_names_the_lock(db: Path) -> None:
    holder, waiter = _connect(db), _connect(db, timeout_ms=200)
    holder.execute("INSERT INTO t (v) VALUES ('held')")
    with pytest.raises(sqlite3.OperationalError, match=r"database is locked.*store\.db-writer"):
        waiter.execute("INSERT INTO t (v) VALUES ('refused')")
    assert not waiter.in_transaction  # nothing begun, nothing half-written
    holder.commit()
    waiter.execute("INSERT INTO t (v) VALUES ('later')")
    waiter.commit()
    with sqlite3.connect(db) as check:
        assert [v for (v,) in check.execute("SELECT v FROM t ORDER BY id")] == ["held", "later"]


def test_a_folder_without_write_access_takes_no_lock(db: Path) -> None:
    """Where the lock file cannot be made, the connection still reads (there is no writer
    to order: SQLite cannot write there either)."""
    factory = writer_locked_connection(str(db), 1000)
    assert factory is not None
    factory.lock_path = str(db.parent / "missing-folder" / "x-writer")  # type: ignore[attr-defined]
    connection = sqlite3.connect(db, factory=factory)
    assert connection.execute("SELECT count(*) FROM t").fetchone() == (0,)
    connection.execute("INSERT INTO t (v) VALUES ('a')")  # SQLite's own lock alone
    connection.commit()
    connection.close()


def test_no_lock_file_for_a_database_in_memory_or_a_uri() -> None:
    assert writer_locked_connection(":memory:", 1000) is None
    assert writer_locked_connection("", 1000) is None
    assert writer_locked_connection("file:x.db?mode=ro", 1000) is None


def test_engines_take_it_and_it_is_private(tmp_path: Path) -> None:
    """Every engine of the store on a file takes the lock; the lock file is the owner's only,
    like the database beside it."""
    path = tmp_path / "engine.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        connection.commit()
        connection.execute(sa.text("INSERT INTO t (v) VALUES ('a')"))
        assert not _lock_is_free(path)
        connection.commit()
        assert _lock_is_free(path)
    assert (Path(str(path) + WRITER_SUFFIX).stat().st_mode & 0o777) == 0o600
    memory = make_engine("sqlite://")
    with memory.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
    engine.dispose()
    memory.dispose()


_COUNTER = """
import sys
import sqlalchemy as sa
from alstrial.store import make_engine
engine = make_engine(f"sqlite:///{sys.argv[1]}")
for _ in range(int(sys.argv[2])):
    with engine.begin() as connection:
        # Write first (so that the read is under the lock, BEGIN IMMEDIATE's role), read,
        # then write what was read: lost updates if two writers interleaved.
        connection.execute(sa.text("UPDATE counter SET n = n + 0"))
        n = connection.execute(sa.text("SELECT n FROM counter")).scalar_one()
        connection.execute(sa.text("UPDATE counter SET n = :n"), {"n": n + 1})
"""


def test_writers_in_several_processes_and_threads_lose_nothing(tmp_path: Path) -> None:
    """Three processes and three threads add 1 to a counter 40 times each, every time by a
    read and a write in one transaction: the writer lock and SQLite's own lock together let
    no two of them interleave, and none times out."""
    path = tmp_path / "counter.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE counter (n INTEGER NOT NULL)")
        setup.execute("INSERT INTO counter VALUES (0)")
    engine = make_engine(f"sqlite:///{path}")
    errors: list[BaseException] = []

    def add(times: int) -> None:
        try:
            for _ in range(times):
                with engine.begin() as connection:
                    connection.execute(sa.text("UPDATE counter SET n = n + 0"))
                    n = connection.execute(sa.text("SELECT n FROM counter")).scalar_one()
                    connection.execute(sa.text("UPDATE counter SET n = :n"), {"n": n + 1})
        except BaseException as error:  # reported below, in the test thread
            errors.append(error)

    processes = [
        subprocess.Popen([sys.executable, "-c", _COUNTER, str(path), "40"]) for _ in range(3)
    ]
    threads = [threading.Thread(target=add, args=(40,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [p.wait(timeout=120) for p in processes] == [0, 0, 0]
    assert not errors
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT n FROM counter")).scalar_one() == 240
    engine.dispose()


# The commit's fsync (alstrial.store.sqlite_durability): made once the lock is given back.
# The fsync calls are observed by wrapping os.fsync (the real call still runs): which file
# each one synced (by its inode), whether the writer lock was free then, and in which thread
# (the committing one). A power loss itself cannot be made here;
# tests/test_crash_durability.py kills a serving process during saves instead.


class _Syncs:
    """The ``fsync`` calls made: the inode synced, the writer lock free or not, the thread."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.calls: list[tuple[int, bool, int]] = []

    def inode(self, suffix: str = "-wal") -> int:
        return os.stat(str(self.db) + suffix).st_ino


@pytest.fixture
def syncs(db: Path, monkeypatch: pytest.MonkeyPatch) -> _Syncs:
    seen = _Syncs(db)
    real = os.fsync

    def observed(fd: int) -> None:
        seen.calls.append((os.fstat(fd).st_ino, _lock_is_free(db), threading.get_ident()))
        real(fd)

    monkeypatch.setattr(os, "fsync", observed)
    return seen


def test_a_commit_is_synced_once_the_lock_is_given_back(db: Path, syncs: _Syncs) -> None:
    connection = _connect(db)
    connection.execute("INSERT INTO t (v) VALUES ('a')")
    assert syncs.calls == [], "synced before the commit"
    connection.commit()
    # The log itself, after the commit's frames were written, with the lock already free.
    assert syncs.calls == [(syncs.inode(), True, threading.get_ident())]
    syncs.calls.clear()
    connection.execute("SELECT count(*) FROM t").fetchall()
    connection.commit()  # nothing written: nothing to sync
    connection.execute("INSERT INTO t (v) VALUES ('b')")
    connection.rollback()  # nothing of it to make durable
    assert syncs.calls == []
    with connection:  # the context manager's commit, made in C, is synced too
        connection.execute("INSERT INTO t (v) VALUES ('c')")
    assert [inode for inode, _, _ in syncs.calls] == [syncs.inode()]
    syncs.calls.clear()
    with pytest.raises(ZeroDivisionError):
        _insert_then_fail(connection)  # the context manager's rollback, in C: not synced
    assert syncs.calls == []
    connection.close()


def test_a_log_gone_is_replaced_by_its_database(db: Path, syncs: _Syncs) -> None:
    fsync_log(str(db) + "-wal", str(db))
    assert [inode for inode, _, _ in syncs.calls] == [syncs.inode("")]
    with pytest.raises(FileNotFoundError):  # neither exists: an error, not a silent pass
        fsync_log(str(db) + "-wal", str(db) + "-missing")


def test_synchronous_normal_only_where_the_connection_syncs_itself(tmp_path: Path) -> None:
    on_file = make_engine(f"sqlite:///{tmp_path / 'file.db'}")
    in_memory = make_engine("sqlite://")
    with on_file.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    with in_memory.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    on_file.dispose()
    in_memory.dispose()


def test_an_engine_commit_is_synced(syncs: _Syncs) -> None:
    engine = make_engine(f"sqlite:///{syncs.db}")
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO t (v) VALUES ('x')"))
    assert [inode for inode, _, _ in syncs.calls] == [syncs.inode()]
    engine.dispose()
