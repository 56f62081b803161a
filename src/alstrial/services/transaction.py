"""One transaction per service call, with the actor and reason the audit trail records."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy.exc
from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError, ValidationError
from alstrial.store.audit import ACTOR_KEY, REASON_KEY

__all__ = ["transaction"]


@contextmanager
def transaction(session: Session, *, actor: str, reason: str | None = None) -> Iterator[Session]:
    """Run a service's writes as one transaction, committed on success, rolled back on error.

    The actor and the reason are handed to the audit listener through ``session.info``.
    A session that already holds unflushed changes is refused, so that a service never
    commits somebody else's half-done work under its own actor.
    """
    if not actor or not actor.strip():
        raise ValidationError("an actor (user name) is required", field="actor", value=actor)
    if session.new or session.dirty or session.deleted:
        raise ConflictError(
            "the session holds unsaved changes made outside the services; roll them back first"
        )
    session.info[ACTOR_KEY] = actor.strip()
    session.info[REASON_KEY] = reason.strip() if reason else None
    try:
        yield session
        session.commit()
    except sqlalchemy.exc.IntegrityError as error:
        # A uniqueness or foreign-key rule the service's own checks did not see: in practice
        # two saves of one key at the same moment (8 parallel registrations of one code gave
        # a server error on PostgreSQL). Nothing is written; the caller may retry.
        session.rollback()
        raise ConflictError(
            "another save changed the same record at the same time, or the record exists "
            "already; nothing was saved: reload and try again"
        ) from error
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(ACTOR_KEY, None)
        session.info.pop(REASON_KEY, None)
