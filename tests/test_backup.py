"""``alstrial backup`` and ``restore`` (issue 14): the copy's audit trail is verified before
it is trusted, on SQLite (online backup) and PostgreSQL (pg_dump / pg_restore)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from alstrial.exceptions import IntegrityError, ValidationError
from alstrial.store import make_engine, make_session_factory
from alstrial.store.backup import backup_database, restore_database
from tests.conftest import POSTGRES_URL, Templates
from tests.helpers import enrolled, row_counts, run_cli


@pytest.fixture
def source(engine: Engine) -> Engine:
    with make_session_factory(engine)() as session:
        enrolled(session, "S01")
    return engine


@pytest.fixture
def empty_target(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL where nothing exists yet: a new SQLite file, or an empty PostgreSQL database."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"alstrial_restore_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_engine(POSTGRES_URL).url.set(database=name).render_as_string(False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_backup_and_restore_keep_every_row_and_a_verifying_trail(
    source: Engine, empty_target: str, tmp_path: Path
) -> None:
    result = backup_database(_url(source), tmp_path / "trial.backup")
    assert result.verification.ok
    assert result.verification.events > 0
    verification = restore_database(result.path, empty_target)
    assert verification.events == result.verification.events
    restored = make_engine(empty_target)
    with make_session_factory(source)() as before, make_session_factory(restored)() as after:
        assert row_counts(after) == row_counts(before)
    restored.dispose()
    with pytest.raises(ValidationError, match="exists already"):
        backup_database(_url(source), result.path)
    with pytest.raises(ValidationError, match=r"not empty|exists"):
        restore_database(result.path, empty_target)


def test_a_tampered_backup_is_not_restored(templates: Templates, tmp_path: Path) -> None:
    # A SQLite backup is a database file: edit it behind alstrial's back.
    url = templates.sqlite_copy("study", tmp_path / "source.db")
    with make_session_factory(make_engine(url))() as session:
        enrolled(session, "S01")
    result = backup_database(url, tmp_path / "trial.backup")
    connection = sqlite3.connect(result.path)
    connection.execute("UPDATE subject SET weight_kg = 99.0")
    connection.commit()
    connection.close()
    target = tmp_path / "restored.db"
    with pytest.raises(IntegrityError, match=r"field weight_kg: data 99.0 but audit trail"):
        restore_database(result.path, f"sqlite:///{target}")


def test_command_line_backup_and_restore(tmp_path: Path) -> None:
    # As a user runs them: a fresh process that imports only what the command needs (the
    # verification once missed models no command had imported, and refused a sound backup).
    cli = run_cli
    source = f"sqlite:///{tmp_path / 'trial.db'}"
    assert cli("init", "--database", source).returncode == 0
    saved = cli("backup", "--out", str(tmp_path / "trial.backup"), "--database", source)
    assert saved.returncode == 0, saved.stderr
    assert "its audit trail verifies" in saved.stdout
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    restored = cli("restore", str(tmp_path / "trial.backup"), "--database", target)
    assert restored.returncode == 0, restored.stderr
    again = cli("restore", str(tmp_path / "trial.backup"), "--database", target)
    assert again.returncode == 2
    assert "restore into a new file" in again.stderr
