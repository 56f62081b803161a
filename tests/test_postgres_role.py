"""The application's least-privileged PostgreSQL role (issue 14): before, the role that ran
``alstrial init`` (not a superuser) could disable the audit triggers and then rewrite the
chain. The application now connects as a role made by ``alstrial db grant-app-role``, which
can save trial data and append audit events but cannot alter, drop, truncate, delete or
update the trail, nor disable a trigger. PostgreSQL only (SQLite has no roles)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from alstrial.store import make_engine, make_session_factory
from alstrial.store.audit import verify_audit_trail
from alstrial.store.roles import grant_application_role
from tests.conftest import Templates
from tests.helpers import register


@pytest.fixture
def owner_and_app(templates: Templates) -> Iterator[tuple[Engine, Engine]]:
    name, url = templates.postgres_copy("study")
    owner = make_engine(url)
    role = f"alstrial_app_{uuid.uuid4().hex[:8]}"
    grant_application_role(owner, role, password="app-role-password-0123456789")
    app = make_engine(
        make_engine(url)
        .url.set(username=role, password="app-role-password-0123456789")
        .render_as_string(hide_password=False)
    )
    try:
        yield owner, app
    finally:
        app.dispose()
        owner.dispose()
        templates.drop(name)
        assert templates.admin is not None
        with templates.admin.connect() as connection:
            connection.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))


def test_the_application_role_saves_data_and_appends_the_trail(
    owner_and_app: tuple[Engine, Engine],
) -> None:
    _, app = owner_and_app
    with make_session_factory(app)() as session:
        register(session, "S01")
        assert verify_audit_trail(session).ok


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE audit_event DISABLE TRIGGER USER",
        "DROP TRIGGER audit_event_append_only ON audit_event",
        "DELETE FROM audit_event",
        "UPDATE audit_event SET reason = 'rewritten'",
        "TRUNCATE audit_event",
        "ALTER TABLE subject ADD COLUMN note text",
        "DROP TABLE subject",
        "CREATE TABLE shadow (id integer)",
    ],
)
def test_the_application_role_cannot_touch_the_trail_or_the_schema(
    owner_and_app: tuple[Engine, Engine], statement: str
) -> None:
    _, app = owner_and_app
    with app.connect() as connection, pytest.raises(sa.exc.ProgrammingError) as refused:
        connection.execute(sa.text(statement))
    assert "permission denied" in str(refused.value) or "must be owner" in str(refused.value)
