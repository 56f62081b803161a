"""Fixtures: a fresh, migrated store on SQLite and on a real PostgreSQL server.

Store tests take the ``engine`` fixture and run once per back end. PostgreSQL is found at
``ALSTRIAL_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``);
each test gets its own database, copied from a migrated template, and drops it afterwards.
Without a server the PostgreSQL cases are skipped with a message, unless
``ALSTRIAL_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) makes them fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from alstrial.interop.reference_trial import load_reference_trial
from alstrial.protocol import reference_protocol_text
from alstrial.services import add_site, add_user, create_study
from alstrial.store import make_engine, make_session_factory, upgrade_to_head

POSTGRES_URL = os.environ.get(
    "ALSTRIAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("ALSTRIAL_REQUIRE_POSTGRES") == "1"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ACTOR = "tester"


def _postgres_admin() -> Engine:
    engine = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as error:
        engine.dispose()
        message = (
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({error.orig}); run `make postgres` "
            "or set ALSTRIAL_TEST_POSTGRES_URL to run the PostgreSQL tests"
        )
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    return engine


def _database_url(name: str) -> str:
    return make_engine(POSTGRES_URL).url.set(database=name).render_as_string(hide_password=False)


class Templates:
    """Migrated (and demo-loaded) template databases, built once per test session."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.sqlite: dict[str, Path] = {}
        self.postgres: dict[str, str] = {}
        self.admin: Engine | None = None

    def sqlite_copy(self, kind: str, target: Path) -> str:
        if kind not in self.sqlite:
            path = self.tmp / f"template-{kind}.db"
            _fill(make_engine(f"sqlite:///{path}"), kind)
            self.sqlite[kind] = path
        shutil.copyfile(self.sqlite[kind], target)
        return f"sqlite:///{target}"

    def postgres_copy(self, kind: str) -> tuple[str, str]:
        if self.admin is None:
            self.admin = _postgres_admin()
        if kind not in self.postgres:
            name = f"alstrial_template_{kind}_{uuid.uuid4().hex[:8]}"
            with self.admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            _fill(make_engine(_database_url(name)), kind)
            self.postgres[kind] = name
        name = f"alstrial_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.execute(
                sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{self.postgres[kind]}"')
            )
        return name, _database_url(name)

    def drop(self, name: str) -> None:
        assert self.admin is not None
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        if self.admin is not None:
            for name in self.postgres.values():
                self.drop(name)
            self.admin.dispose()


def _fill(engine: Engine, kind: str) -> None:
    upgrade_to_head(engine)
    if kind != "empty":
        session = make_session_factory(engine)()
        if kind == "study":
            create_study(session, actor=ACTOR, protocol_text=reference_protocol_text())
            add_site(session, actor=ACTOR, code="A", name="Site A")
            add_site(session, actor=ACTOR, code="B", name="Site B")
            add_user(session, actor=ACTOR, username=ACTOR)
        elif kind == "demo":
            load_reference_trial(session)
        session.close()
    engine.dispose()


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    store = Templates(tmp_path_factory.mktemp("templates"))
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _engine(kind: str, backend: str, templates: Templates, tmp_path: Path) -> Iterator[Engine]:
    if backend == "sqlite":
        engine = make_engine(templates.sqlite_copy(kind, tmp_path / "store.db"))
        yield engine
        engine.dispose()
        return
    name, url = templates.postgres_copy(kind)
    engine = make_engine(url)
    yield engine
    engine.dispose()
    templates.drop(name)


@pytest.fixture
def empty_engine(backend: str, templates: Templates, tmp_path: Path) -> Iterator[Engine]:
    """A migrated store without a study."""
    yield from _engine("empty", backend, templates, tmp_path)


@pytest.fixture
def engine(backend: str, templates: Templates, tmp_path: Path) -> Iterator[Engine]:
    """A migrated store holding the reference protocol, sites A and B, and a user."""
    yield from _engine("study", backend, templates, tmp_path)


@pytest.fixture
def demo_engine(backend: str, templates: Templates, tmp_path: Path) -> Iterator[Engine]:
    """A store holding the whole reference trial (seed 20130101)."""
    yield from _engine("demo", backend, templates, tmp_path)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with make_session_factory(engine)() as opened:
        yield opened


@pytest.fixture
def demo_session(demo_engine: Engine) -> Iterator[Session]:
    with make_session_factory(demo_engine)() as opened:
        yield opened


@pytest.fixture
def shared() -> Path:
    """``../shared`` beside the checkout; reference tests skip with a message without it."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: reference values from ../shared are not checked")
    return SHARED
