"""Security state of the web application that is not trial data: login throttling and the
server-side sessions. Neither is audited field by field (a failed login is not a change of
the trial's data); both are small tables written through single statements.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from alstrial.store.base import Base, utc_now

__all__ = ["LoginThrottle", "WebSession"]


class LoginThrottle(Base):
    """Login attempts counted per key (``user:NAME`` or ``client:ADDRESS``) and the time until
    which the key is locked. A count is taken before the password is checked, in one atomic
    statement, so concurrent guesses cannot all be checked before the lock holds."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class WebSession(Base):
    """A logged-in browser session, found by the SHA-256 of the random token in its cookie.

    Revoked at logout, at a password change and by an administrator; it ends after the idle
    timeout and the absolute lifetime of the settings, whatever the cookie says.
    """

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_seen_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
