"""Opening the store for a CLI command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from alstrial.exceptions import ConfigurationError
from alstrial.settings import get_settings
from alstrial.store import make_engine, make_session_factory
from alstrial.store.migrate import current_revision, head_revision, upgrade_to_head

__all__ = ["database_url", "open_session"]


def database_url(option: str | None) -> str:
    """The database URL from ``--database`` or the settings (SQLite file by default)."""
    return option or get_settings().resolved_database_url()


@contextmanager
def open_session(url: str, *, migrate: bool = False) -> Iterator[Session]:
    """A session on a migrated store; ``migrate`` creates or upgrades the schema first."""
    engine = make_engine(url)
    try:
        if migrate:
            upgrade_to_head(engine)
        else:
            revision = current_revision(engine)
            if revision is None:
                raise ConfigurationError(
                    f"no alstrial database at {engine.url.render_as_string(hide_password=True)}; "
                    "run `alstrial init` or `alstrial demo` first"
                )
            if revision != head_revision():
                raise ConfigurationError(
                    f"the database schema is at {revision}, this alstrial needs "
                    f"{head_revision()}; run `alstrial init` to upgrade"
                )
        session = make_session_factory(engine, audit_key=get_settings().audit_key_bytes())()
        try:
            yield session
        finally:
            session.close()
    finally:
        engine.dispose()
