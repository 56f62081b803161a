"""The least-privileged PostgreSQL role the application connects as (issue 14).

The owner of the database (who runs the migrations) can alter tables and disable the
append-only triggers of the audit trail; the role that ``alstrial serve`` and the CLI's daily
commands connect as must not. :func:`grant_application_role` creates (or updates) a LOGIN
role that may read and write the trial's tables, may only SELECT and INSERT the audit events
and SELECT and UPDATE the chain's head, and owns nothing, so it cannot ALTER, DROP, TRUNCATE
or disable a trigger. Run it as the owner after ``alstrial init`` and after every upgrade (new
tables need their grants); give the application the role's URL in ``ALSTRIAL_DATABASE_URL``.
SQLite has no roles: there the file's permissions are the boundary.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy import Engine

from alstrial.exceptions import ConfigurationError, ValidationError

__all__ = ["grant_application_role"]

_APPEND_ONLY = {
    "audit_event": "SELECT, INSERT",
    "audit_head": "SELECT, UPDATE",
    "attachment": "SELECT, INSERT",
    "alembic_version": "SELECT",  # only the owner migrates
}
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def grant_application_role(engine: Engine, role: str, password: str | None = None) -> list[str]:
    """Create or update ``role`` with the application's privileges; the tables granted.

    Raises
    ------
    ConfigurationError
        On a database other than PostgreSQL.
    ValidationError
        For a role name that is not a plain lower-case identifier.
    """
    if engine.dialect.name != "postgresql":
        raise ConfigurationError("database roles exist on PostgreSQL only")
    if _NAME.fullmatch(role) is None:
        raise ValidationError(
            f"role name {role!r} must be a lower-case identifier", field="role", value=role
        )
    with engine.begin() as connection:
        exists = connection.execute(
            sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
        ).first()
        if exists is None:
            connection.execute(sa.text(f'CREATE ROLE "{role}" LOGIN NOINHERIT'))
        if password is not None:
            connection.execute(
                sa.text(f'ALTER ROLE "{role}" PASSWORD {_literal(connection, password)}')
            )
        database = connection.execute(sa.text("SELECT current_database()")).scalar_one()
        connection.execute(sa.text(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"'))
        connection.execute(sa.text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
        connection.execute(sa.text(f'REVOKE CREATE ON SCHEMA public FROM "{role}"'))
        tables = list(
            connection.execute(
                sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ).scalars()
        )
        for table in tables:
            connection.execute(sa.text(f'REVOKE ALL ON TABLE "{table}" FROM "{role}"'))
            rights = _APPEND_ONLY.get(table, "SELECT, INSERT, UPDATE, DELETE")
            connection.execute(sa.text(f'GRANT {rights} ON TABLE "{table}" TO "{role}"'))
        connection.execute(
            sa.text(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
        )
    return sorted(tables)


def _literal(connection: sa.Connection, text: str) -> str:
    """A string literal quoted by the server (ALTER ROLE takes no bind parameters)."""
    return str(connection.execute(sa.text("SELECT quote_literal(:t)"), {"t": text}).scalar_one())
