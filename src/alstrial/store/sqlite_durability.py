"""A commit on a SQLite file reaches the disk before it returns, with the writer lock already
given back.

With ``PRAGMA synchronous=FULL`` SQLite calls ``fsync`` on the write-ahead log inside its
commit, so the writer lock (:mod:`alstrial.store.sqlite_writer`) was held through the
``fsync``. Under ``bench/bench_web.py --form dictionary`` on the AMD EPYC machine the lock
was held a median 1.54 ms per 40-item save, and when the machine slowed down 2.5 ms (p90
5.5 ms), long enough for the other worker to queue behind it.

So the connections that take the writer lock run with ``synchronous=NORMAL``, which makes
SQLite write a commit's frames to the log without the ``fsync``, and :func:`fsync_log` does
the ``fsync`` itself once the connection has given the lock back, before the commit returns
to its caller (the service, then the web route that answers "saved"). The hold fell to a
median 1.25 ms (docs/architecture.md).

A commit still returns only once its log frames are on disk, which is what
``synchronous=FULL`` promised (issue 14). Why that holds:

- ``fsync`` makes durable every byte written to the file before it, whoever wrote it, so
  the commit's frames are on disk when it returns.
- The log is read back in order and only up to its first frame that does not verify, so a
  power loss keeps a prefix of the commits: a commit that depends on an earlier one (it
  read it) comes after it in the log and is never kept without it.
- With ``NORMAL`` SQLite still syncs the log before each checkpoint and the database file
  after it, and a new log's header before its first frame (SQLite, "PRAGMA synchronous"), so
  what leaves the log for the database file is as safe as before.
- Where the log no longer exists when the ``fsync`` is due (the last connection closed,
  checkpointed and removed it), the database file is synced instead.

The one difference from ``FULL``: another connection can read a commit during its
``fsync`` (a fraction of a millisecond), before it is on disk. If the machine loses power in
that window, the commit is lost with every commit after it, its author had no answer, and a
reader may have shown it. This is the "early lock release" of database logging (DeWitt et
al.; Johnson et al.), with its known caveat for readers.

References
----------
SQLite, "PRAGMA synchronous": https://sqlite.org/pragma.html#pragma_synchronous;
"Write-Ahead Logging", sections 2 and 3: https://sqlite.org/wal.html.
D. J. DeWitt et al., "Implementation techniques for main memory database systems",
SIGMOD 1984 (the log flushed after the locks are released).
R. Johnson et al., "Aether: a scalable approach to logging", PVLDB 3 (2010), section 3
(early lock release, and the readers that see a commit before its flush).
"""

from __future__ import annotations

import os

__all__ = ["fsync_log"]


def fsync_log(log: str, database: str) -> None:
    """``fsync`` the write-ahead ``log`` of ``database``, or the database file where the log
    no longer exists (its frames were checkpointed into it and it was removed).

    Raises
    ------
    OSError
        The ``fsync`` failed (an I/O error): the commit cannot be vouched for, and the error
        reaches the caller instead of an acknowledgement.
    """
    try:
        fd = os.open(log, os.O_RDONLY)
    except FileNotFoundError:
        fd = os.open(database, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
