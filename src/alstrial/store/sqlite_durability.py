"""A commit on a SQLite file reaches the disk before it is acknowledged, with the writer lock
already given back.

With ``PRAGMA synchronous=FULL`` SQLite calls ``fsync`` on the write-ahead log inside its
commit, so the writer lock (:mod:`alstrial.store.sqlite_writer`) was held through the
``fsync``: about 1 ms of a 40-item form's 3.0-3.5 ms hold on the AMD EPYC machine, and at
300 saves per second the lock was never free (``bench/bench_web.py --form dictionary``).

So the connections that take the writer lock run with ``synchronous=NORMAL``, which makes
SQLite write a commit's frames to the log without the ``fsync``, and :func:`sync_after_commit`
does the ``fsync`` itself, once the connection has given the lock back:

- outside a web request (the CLI, the services called from Python), before the commit
  returns;
- inside a web request, the ``fsync`` is owed by the request (:func:`syncs_owed`) and made
  in a thread before the first byte of the answer is sent
  (:class:`~alstrial.web.durability.DurableAnswers`), so that the worker's event loop goes
  on with another request meanwhile.

Either way a save is acknowledged only once its log frames are on disk, which is what
``synchronous=FULL`` promised (issue 14). Why that holds:

- ``fsync`` makes every byte written to the file before it durable, whoever wrote it, so
  the frames of the commit are on disk when it returns.
- The log is read back in order and only up to its first frame that does not verify, so a
  power loss keeps a prefix of the commits: a commit that depends on an earlier one (it
  read it) is after it in the log and is never kept without it.
- With ``NORMAL`` SQLite still syncs the log before each checkpoint and the database file
  after it, and a new log's header before its first frame (SQLite, "PRAGMA synchronous"),
  so what leaves the log for the database file is as safe as before.
- Where the log does not exist when the ``fsync`` is due, the database file is synced
  instead.

The one difference from ``FULL``: another connection can read a commit up to the ``fsync``'s
time (about a millisecond) before it is on disk. If the machine loses power in that window,
the commit is lost with every commit after it, its author never had an answer, and a reader
may have shown it. This is the "early lock release" of database logging (DeWitt et al.;
Johnson et al.), with the same caveat for readers.

References
----------
SQLite, "PRAGMA synchronous": https://sqlite.org/pragma.html#pragma_synchronous;
"Write-Ahead Logging", sections 2 and 3: https://sqlite.org/wal.html.
D. J. DeWitt et al., "Implementation techniques for main memory database systems",
SIGMOD 1984 (the log flushed after the locks are released).
R. Johnson et al., "Aether: a scalable approach to logging", PVLDB 3 (2010), section 3
(early lock release, and the read-only transactions that see a commit before its flush).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["SyncsOwed", "fsync_files", "sync_after_commit", "syncs_owed"]


class SyncsOwed:
    """The files whose ``fsync`` a web request owes before its answer (:func:`syncs_owed`)."""

    def __init__(self) -> None:
        self._paths: dict[str, str] = {}
        self.open = True

    def add(self, log: str, database: str) -> None:
        """Owe the ``fsync`` of ``log`` (or of ``database`` where the log is gone)."""
        self._paths[log] = database

    def take(self) -> list[tuple[str, str]]:
        """What is owed (each log with its database), and close: a commit made after this is
        synced before it returns, as outside a request."""
        self.open = False
        owed, self._paths = list(self._paths.items()), {}
        return owed


_OWED: ContextVar[SyncsOwed | None] = ContextVar("alstrial_syncs_owed", default=None)


@contextmanager
def syncs_owed() -> Iterator[SyncsOwed]:
    """Within this block (its context, and the threads given a copy of it), a commit's
    ``fsync`` is owed to the block instead of made at once: the caller must make it with
    :func:`fsync_files` on what :meth:`SyncsOwed.take` returns before it acknowledges
    anything, and must take it before the block ends."""
    owed = SyncsOwed()
    token = _OWED.set(owed)
    try:
        yield owed
    finally:
        _OWED.reset(token)


def sync_after_commit(log: str, database: str) -> None:
    """After a commit that may have written (the writer lock given back): ``fsync`` the
    write-ahead ``log`` now, or owe it to the open :func:`syncs_owed` block."""
    owed = _OWED.get()
    if owed is not None and owed.open:
        owed.add(log, database)
    else:
        fsync_files([(log, database)])


def fsync_files(owed: Sequence[tuple[str, str]]) -> None:
    """``fsync`` each log; where a log no longer exists (its frames were checkpointed and
    the log removed), its database file instead.

    Raises
    ------
    OSError
        The ``fsync`` failed (an I/O error): the commit cannot be vouched for.
    """
    for log, database in owed:
        try:
            fd = os.open(log, os.O_RDONLY)
        except FileNotFoundError:
            fd = os.open(database, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
