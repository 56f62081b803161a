"""Engines and sessions for SQLite (default) and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from alstrial.exceptions import ConfigurationError
from alstrial.store.sqlite_writer import syncs_its_commits, writer_locked_connection

__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "make_engine", "make_session_factory", "normalise_url"]

SQLITE_BUSY_TIMEOUT_MS = 10_000


def normalise_url(url: str) -> str:
    """Validate a database URL and select psycopg 3 for plain ``postgresql://`` URLs."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ConfigurationError(f"not a database URL: {url!r}", value=url) from error
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"unsupported database {parsed.get_backend_name()!r}",
            value=url,
            allowed="sqlite:///path or postgresql://user@host/db",
        )
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    (mode,) = cursor.execute("PRAGMA journal_mode=WAL").fetchone()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # Every commit reaches the disk before the save is acknowledged (issue 14). A connection
    # that syncs its commits itself, after giving the writer lock back, needs SQLite's own
    # fsync no longer (alstrial.store.sqlite_durability); any other gets FULL. With WAL,
    # NORMAL alone keeps the file consistent but can lose the last commits at a power loss.
    syncs_itself = mode == "wal" and syncs_its_commits(dbapi_connection)
    cursor.execute(f"PRAGMA synchronous={'NORMAL' if syncs_itself else 'FULL'}")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys, a busy timeout and the writer lock
    (:mod:`alstrial.store.sqlite_writer`) on every connection to a file."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        factory = writer_locked_connection(parsed.database or "", SQLITE_BUSY_TIMEOUT_MS)
        if factory is not None:
            kwargs["connect_args"] = {"factory": factory, **kwargs.get("connect_args", {})}
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_session_factory(
    engine: Engine, *, audit_key: bytes | None = None
) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit, so services can return their objects;
    with ``audit_key``, every audit event they write carries its MAC."""
    from alstrial.store.audit import MAC_KEY

    info = {MAC_KEY: audit_key} if audit_key else {}
    return sessionmaker(bind=engine, expire_on_commit=False, info=info)
