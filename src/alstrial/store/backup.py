"""Backups of the trial store that are checked before they are trusted.

- SQLite: the online backup API copies a consistent snapshot while the application runs
  (writers wait, readers go on); the copy is then opened on its own and its audit trail
  verified (chain, MACs with the key, replay against the data).
- PostgreSQL: ``pg_dump`` in its custom format (one consistent snapshot); the dump is then
  restored by ``pg_restore`` into a scratch database, verified there, and the scratch database
  dropped. The server's role needs CREATEDB for that check.

Restoring does the reverse into an empty target (a SQLite file that does not exist yet, or an
empty PostgreSQL database) and verifies the restored trail; a backup whose trail does not
verify is reported, never restored silently.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from alstrial.exceptions import ConfigurationError, IntegrityError, ValidationError
from alstrial.store.audit import AuditVerification, verify_audit_trail
from alstrial.store.engine import make_engine, make_session_factory, normalise_url

__all__ = ["BackupResult", "backup_database", "restore_database"]


@dataclass(frozen=True)
class BackupResult:
    """What was written and how its audit trail verified."""

    path: Path
    bytes: int
    verification: AuditVerification


def _verify(url: str, key: bytes | None) -> AuditVerification:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return verify_audit_trail(session, key=key)
    finally:
        engine.dispose()


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database:
        raise ConfigurationError(f"{url} names no SQLite file")
    return Path(database)


def _sqlite_copy(source_path: Path, target_path: Path) -> None:
    """A consistent copy through SQLite's backup API (it reads through a WAL file, which a
    file copy would miss), left as one self-contained file (rollback journal)."""
    source = sqlite3.connect(source_path)
    target = sqlite3.connect(target_path)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")
    finally:
        target.close()
        source.close()


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ConfigurationError(
            f"{name} is not installed (Debian: apt-get install postgresql-client)"
        )
    return found


def _libpq_url(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def backup_database(url: str, out: Path, *, key: bytes | None = None) -> BackupResult:
    """Write a backup of the store at ``url`` to ``out`` (which must not exist) and verify it.

    Raises
    ------
    ValidationError
        When ``out`` exists already.
    IntegrityError
        When the backup's audit trail does not verify (the file is kept for inspection).
    """
    url = normalise_url(url)
    if out.exists():
        raise ValidationError(f"{out} exists already; give a new file", field="out", value=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    if make_url(url).get_backend_name() == "sqlite":
        _sqlite_copy(_sqlite_path(url), out)
        verification = _verify(f"sqlite:///{out}", key)
    else:
        subprocess.run(
            [_tool("pg_dump"), "--format=custom", f"--file={out}", _libpq_url(url)],
            check=True,
            capture_output=True,
        )
        verification = _verify_postgres_dump(url, out, key)
    if not verification.ok:
        raise IntegrityError(f"the backup {out} does not verify: {verification.problem}")
    return BackupResult(out, out.stat().st_size, verification)


def _verify_postgres_dump(url: str, dump: Path, key: bytes | None) -> AuditVerification:
    scratch = f"alstrial_verify_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{scratch}"'))
        try:
            _pg_restore(_libpq_url(url, scratch), dump)
            return _verify(make_url(url).set(database=scratch).render_as_string(False), key)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _pg_restore(libpq_url: str, dump: Path) -> None:
    done = subprocess.run(
        [_tool("pg_restore"), "--no-owner", "--exit-on-error", f"--dbname={libpq_url}", str(dump)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise IntegrityError(f"pg_restore failed: {done.stderr.strip()[-300:]}")


def restore_database(backup: Path, url: str, *, key: bytes | None = None) -> AuditVerification:
    """Restore ``backup`` into an empty store at ``url`` and verify the restored trail.

    Raises
    ------
    ValidationError
        When the backup is missing or the target is not empty (nothing is overwritten).
    IntegrityError
        When the restored trail does not verify.
    """
    url = normalise_url(url)
    if not backup.is_file():
        raise ValidationError(f"{backup} is not a backup file", field="backup", value=str(backup))
    if make_url(url).get_backend_name() == "sqlite":
        target = _sqlite_path(url)
        if target.exists():
            raise ValidationError(
                f"{target} exists; restore into a new file", field="database", value=str(target)
            )
        _sqlite_copy(backup, target)
    else:
        engine = make_engine(url)
        try:
            tables = sa.inspect(engine).get_table_names()
        finally:
            engine.dispose()
        if tables:
            raise ValidationError(
                "the target database is not empty; restore into an empty one", field="database"
            )
        _pg_restore(_libpq_url(url), backup)
    verification = _verify(url, key)
    if not verification.ok:
        raise IntegrityError(f"the restored store does not verify: {verification.problem}")
    return verification
