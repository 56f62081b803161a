"""Plain SQL on the SQLite driver (``alstrial.store.sqlite_statements``): in the session's
transaction, and failing as SQLAlchemy fails."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from alstrial.store import make_engine
from alstrial.store.sqlite_statements import run


@pytest.fixture
def session(tmp_path: Path) -> Session:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
    return Session(engine)


def test_statements_run_in_the_session_transaction(session: Session) -> None:
    connection = session.connection()
    ((new_id,),) = run(connection, "INSERT INTO t (v) VALUES (?) RETURNING id", ("a",)).fetchall()
    assert session.execute(sa.text("SELECT id FROM t WHERE v = 'a'")).scalar_one() == new_id
    session.rollback()  # SQLAlchemy's rollback undoes the driver's insert
    assert session.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 0
    run(session.connection(), "INSERT INTO t (v) VALUES (?)", ("b",))
    session.commit()
    assert session.execute(sa.text("SELECT v FROM t")).scalars().all() == ["b"]
    session.close()


def test_driver_errors_are_sqlalchemy_errors(session: Session) -> None:
    run(session.connection(), "INSERT INTO t (v) VALUES (?)", ("a",))
    with pytest.raises(sa.exc.IntegrityError, match="UNIQUE"):
        run(session.connection(), "INSERT INTO t (v) VALUES (?)", ("a",))
    session.rollback()
    with pytest.raises(sa.exc.OperationalError, match="no such table"):
        run(session.connection(), "SELECT * FROM missing")
    session.close()
