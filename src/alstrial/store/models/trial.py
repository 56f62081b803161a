"""Study, protocol versions, sites and users (identity only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from alstrial.store.base import Audited, Base, enum_column, utc_now
from alstrial.vocabulary import Role

__all__ = ["ApiToken", "ProtocolVersion", "Site", "Study", "User", "UserSite"]


class Study(Audited, Base):
    """A study (one protocol, possibly several registrations)."""

    __tablename__ = "study"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(Text)
    sponsor: Mapped[str] = mapped_column(String(200), default="")
    phase: Mapped[str] = mapped_column(String(20), default="")
    registrations: Mapped[str] = mapped_column(String(400), default="")


class ProtocolVersion(Audited, Base):
    """A version of the study definition, kept verbatim with its digest."""

    __tablename__ = "protocol_version"
    __table_args__ = (UniqueConstraint("study_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    version: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(default=utc_now)


class Site(Audited, Base):
    """A clinical site."""

    __tablename__ = "site"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class User(Audited, Base):
    """A person who acts in the system (identity only; accounts come with the web app)."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    # Accounts (migration 0005): role, argon2 password hash, login throttling.
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"), default=Role.MONITOR)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    # Migration 0007: a one-time password must be replaced at the first login.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    workflow_fields = frozenset({"failed_logins", "locked_until"})


class UserSite(Audited, Base):
    """A site whose subjects a user may see and change."""

    __tablename__ = "user_site"
    __table_args__ = (UniqueConstraint("user_id", "site_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))


class ApiToken(Audited, Base):
    """A bearer token for the JSON API (a statistician's exports), stored as its SHA-256.

    The token itself is shown once when it is made; the database holds only its digest and
    its first characters (to tell tokens apart in lists).
    """

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(12))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
