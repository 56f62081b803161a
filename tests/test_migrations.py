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
