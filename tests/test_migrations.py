"""Migrations: upgrade from empty, match the models, and downgrade cleanly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from alstrial.store.base import Base
from alstrial.store.migrate import alembic_config, current_revision, head_revision


def test_upgraded_schema_matches_the_models(empty_engine: Engine) -> None:
    assert current_revision(empty_engine) == head_revision()
    with empty_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_empty(empty_engine: Engine) -> None:
    config = alembic_config(empty_engine)
    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(empty_engine).get_table_names()) <= {"alembic_version"}


def test_0017_keeps_verifications_made_before_it(engine: Engine) -> None:
    """A verification stored under 0016 (no record named) survives 0017 with its record
    empty, and the downgrade back is refused while a visit has two records of one form
    verified (the older schema could not hold them)."""
    import pytest
    import sqlalchemy as sa

    from alstrial.store import make_session_factory
    from tests.helpers import enrolled

    with make_session_factory(engine)() as session:
        enrolled(session)
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0016")
    with engine.begin() as connection:
        visit = connection.execute(sa.text("SELECT min(id) FROM visit")).scalar_one()
        connection.execute(
            sa.text(
                "INSERT INTO source_verification (visit_id, record_table, field, verified_by, "
                "verified_at) VALUES (:visit, 'lab_result', '', 'mon', :now)"
            ),
            {"visit": visit, "now": "2026-12-01 10:00:00"},
        )
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    with engine.begin() as connection:
        rows = connection.execute(sa.text("SELECT record_id, field FROM source_verification")).all()
        assert [tuple(r) for r in rows] == [(None, "")]
        for record in (1, 2):
            connection.execute(
                sa.text(
                    "INSERT INTO source_verification (visit_id, record_table, record_id, "
                    "field, verified_by, verified_at) "
                    "VALUES (:visit, 'vital_signs', :record, '', 'mon', :now)"
                ),
                {"visit": visit, "record": record, "now": "2026-12-01 10:00:00"},
            )
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        with pytest.raises(RuntimeError, match="several records of one form"):
            command.downgrade(config, "0016")
