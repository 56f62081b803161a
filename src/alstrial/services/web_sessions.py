"""Server-side sessions of the web application.

A session is a random 256-bit token in the browser's cookie; the database keeps its SHA-256
(as for API tokens: no dictionary reaches a random secret), the user, the session's CSRF
token, when it was made and last used, its absolute expiry and its revocation. A request finds
its session in one statement with the user and his sites. A session ends:

- at logout (revoked), at a password change (every session of the user), when an
  administrator revokes the user's sessions, or when the account is disabled;
- after ``idle`` without a request (the last use is written at most once a minute, so a busy
  session costs no write per request) or at ``expires_at`` (the absolute lifetime).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from alstrial.store.models import User, UserSite, WebSession
from alstrial.vocabulary import Role

__all__ = [
    "SessionFound",
    "SessionUser",
    "end_session",
    "find_session",
    "revoke_user_sessions",
    "start_session",
]

_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionUser:
    """What a request needs of its user: read as columns with the session, not as an ORM
    object (the ORM's load of the user was a tenth of a web save's time, issue 17)."""

    id: int
    username: str
    role: Role
    active: bool
    must_change_password: bool

    @classmethod
    def of(cls, user: User) -> SessionUser:
        """The request's view of an account loaded otherwise (an API token's user)."""
        return cls(user.id, user.username, user.role, user.active, user.must_change_password)


@dataclass(frozen=True)
class SessionFound:
    """A live session: its id, CSRF token, user and the user's site ids."""

    session_id: int
    csrf: str
    user: SessionUser
    site_ids: frozenset[int]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(session: Session, user: User, *, lifetime: timedelta) -> tuple[str, str]:
    """A new session for ``user``: (cookie token, CSRF token); the token is never stored."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    now = datetime.now(UTC)
    session.add(
        WebSession(
            digest=_digest(token),
            user_id=user.id,
            csrf=csrf,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
        )
    )
    session.commit()
    return token, csrf


#: Built once: every request runs it (profile of a web save). Columns, read through the
#: connection: no ORM object is built for the session or its user.
_LIVE_SESSION = (
    select(
        WebSession.id,
        WebSession.csrf,
        WebSession.last_seen_at,
        User.id,
        User.username,
        User.role,
        User.active,
        User.must_change_password,
        UserSite.site_id,
    )
    .join(User, User.id == WebSession.user_id)
    .outerjoin(UserSite, UserSite.user_id == User.id)
    .where(
        WebSession.digest == bindparam("digest"),
        WebSession.revoked_at.is_(None),
        WebSession.expires_at > bindparam("now", type_=WebSession.expires_at.type),
        WebSession.last_seen_at > bindparam("seen_after", type_=WebSession.last_seen_at.type),
        User.active.is_(True),
    )
)


def find_session(
    session: Session, token: str, *, idle: timedelta, now: datetime | None = None
) -> SessionFound | None:
    """The live session of a cookie token with its user and sites, or None (unknown,
    revoked, idle too long, past its lifetime, or its user disabled)."""
    moment = now or datetime.now(UTC)
    rows = (
        session.connection()
        .execute(
            _LIVE_SESSION, {"digest": _digest(token), "now": moment, "seen_after": moment - idle}
        )
        .all()
    )
    if not rows:
        return None
    session_id, csrf, last_seen_at, user_id, username, role, active, must_change, _ = rows[0]
    if moment - last_seen_at > _TOUCH_EVERY:
        session.execute(
            update(WebSession).where(WebSession.id == session_id).values(last_seen_at=moment)
        )
        session.commit()
    sites = frozenset(row[-1] for row in rows if row[-1] is not None)
    return SessionFound(
        session_id, csrf, SessionUser(user_id, username, role, active, must_change), sites
    )


def end_session(session: Session, session_id: int) -> None:
    """Revoke one session (logout)."""
    session.execute(
        update(WebSession)
        .where(WebSession.id == session_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    session.commit()


def revoke_user_sessions(session: Session, user_id: int, *, keep: int | None = None) -> int:
    """Revoke every live session of a user (but ``keep``); the number revoked."""
    statement = update(WebSession).where(
        WebSession.user_id == user_id, WebSession.revoked_at.is_(None)
    )
    if keep is not None:
        statement = statement.where(WebSession.id != keep)
    result = session.execute(statement.values(revoked_at=datetime.now(UTC)))
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)
