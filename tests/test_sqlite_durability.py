"""A commit on a SQLite file is on disk before it returns, with the writer lock given back
first (``alstrial.store.sqlite_durability``).

The ``fsync`` calls are observed by wrapping ``os.fsync`` (the real call still runs): which
file each one synced (by its inode), whether the writer lock was free then, and in which
thread (the committing one). A power loss itself cannot be made here;
``tests/test_crash_durability.py`` kills a serving process during saves instead.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from alstrial.store import make_engine
from alstrial.store.sqlite_durability import fsync_log
from alstrial.store.sqlite_writer import WRITER_SUFFIX, writer_locked_connection

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock exists on POSIX only")


def _connect(path: Path) -> sqlite3.Connection:
    factory = writer_locked_connection(str(path), 10_000)
    assert factory is not None
    connection = sqlite3.connect(path, factory=factory, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def _lock_is_free(path: Path) -> bool:
    if not Path(str(path) + WRITER_SUFFIX).exists():
        return True  # no writer has opened it yet
    fd = os.open(str(path) + WRITER_SUFFIX, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


class _Syncs:
    """The ``fsync`` calls made: the inode synced, the writer lock free or not, the thread."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.calls: list[tuple[int, bool, int]] = []

    def inode(self, suffix: str = "-wal") -> int:
        return os.stat(str(self.db) + suffix).st_ino


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    return path


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
