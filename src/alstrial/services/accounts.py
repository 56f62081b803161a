"""Accounts for the web application: roles, sites, argon2 passwords, login throttling.

Passwords are hashed with argon2id (argon2-cffi defaults). After 5 failed logins an account
is locked for 15 minutes; a successful login resets the count. A new account gets a random
one-time password, shown once to whoever creates it; it is never stored in clear, and the web
application makes its owner replace it at the first login (``must_change_password``).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError, PermissionDeniedError, ValidationError
from alstrial.services.lookup import find_site
from alstrial.services.transaction import transaction
from alstrial.store.models import User, UserSite
from alstrial.vocabulary import Role

if TYPE_CHECKING:
    from argon2 import PasswordHasher

__all__ = [
    "MAX_FAILED_LOGINS",
    "NewAccount",
    "authenticate",
    "change_password",
    "create_account",
    "set_password",
    "user_and_sites",
    "user_site_ids",
]

MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
_MIN_PASSWORD = 10


def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher  # deferred: only accounts need it

    return PasswordHasher()


@dataclass(frozen=True)
class NewAccount:
    """A created account and its one-time password (shown once)."""

    user: User
    one_time_password: str


def _check_password(password: str) -> None:
    if len(password) < _MIN_PASSWORD:
        raise ValidationError(
            f"a password has at least {_MIN_PASSWORD} characters", form="user", field="password"
        )


def create_account(
    session: Session,
    *,
    actor: str,
    username: str,
    role: Role | str,
    sites: Sequence[str] = (),
    full_name: str = "",
    password: str | None = None,
) -> NewAccount:
    """Create a user with a role, the sites he works at, and a password (random if none)."""
    if not username.strip() or len(username) > 80:
        raise ValidationError(
            "a user name is 1-80 characters", form="user", field="username", value=username
        )
    try:
        user_role = Role(role)
    except ValueError:
        raise ValidationError(
            f"unknown role {role!r}", form="user", field="role", value=role, allowed=", ".join(Role)
        ) from None
    if session.scalars(select(User).where(User.username == username)).first() is not None:
        raise ConflictError(
            f"user {username!r} exists already", form="user", field="username", value=username
        )
    secret = password or secrets.token_urlsafe(12)
    _check_password(secret)
    site_rows = [find_site(session, code) for code in sites]
    with transaction(session, actor=actor):
        user = User(
            username=username,
            full_name=full_name,
            role=user_role,
            password_hash=_hasher().hash(secret),
            active=True,
            failed_logins=0,
            must_change_password=password is None,
        )
        session.add(user)
        session.flush()
        for site in site_rows:
            session.add(UserSite(user_id=user.id, site_id=site.id))
    return NewAccount(user, secret)


def set_password(
    session: Session, *, actor: str, username: str, password: str, reason: str = "password changed"
) -> User:
    """Set a user's password (argon2 hash); also unlocks the account."""
    _check_password(password)
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise PermissionDeniedError(f"no user {username!r}", form="user", field="username")
    with transaction(session, actor=actor, reason=reason):
        user.password_hash = _hasher().hash(password)
        user.failed_logins = 0
        user.locked_until = None
    return user


def change_password(
    session: Session, *, username: str, current_password: str, new_password: str
) -> User:
    """A user replaces his own password, proving the current one (also a one-time one).

    The new password must differ from the current one and have at least 10 characters; a
    wrong current password counts as a failed login.
    """
    user = authenticate(session, username, current_password)
    if new_password == current_password:
        raise ValidationError(
            "the new password is the current one", form="password", field="new_password"
        )
    try:
        _check_password(new_password)
    except ValidationError as error:
        error.form, error.field = "password", "new_password"
        raise
    with transaction(session, actor=username, reason="password changed by its owner"):
        user.password_hash = _hasher().hash(new_password)
        user.must_change_password = False
    return user


def authenticate(
    session: Session, username: str, password: str, now: datetime | None = None
) -> User:
    """The user whose password this is, or PermissionDeniedError (same message for an
    unknown user and a wrong password); counts failures and locks after 5."""
    from argon2.exceptions import VerificationError

    moment = now or datetime.now(UTC)
    refused = PermissionDeniedError("wrong user name or password", form="login", field="password")
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.active or user.password_hash is None:
        raise refused
    locked = user.locked_until
    if locked is not None and locked > moment:
        raise PermissionDeniedError(
            f"too many failed logins: the account is locked until {locked:%H:%M} UTC",
            form="login",
            field="username",
        )
    try:
        _hasher().verify(user.password_hash, password)
    except VerificationError:
        with transaction(session, actor=username):
            user.failed_logins += 1
            if user.failed_logins >= MAX_FAILED_LOGINS:
                user.locked_until = moment + timedelta(minutes=LOCK_MINUTES)
                user.failed_logins = 0
        raise refused from None
    if user.failed_logins or user.locked_until is not None:
        with transaction(session, actor=username):
            user.failed_logins = 0
            user.locked_until = None
    return user


def user_and_sites(session: Session, user_id: int) -> tuple[User, set[int]] | None:
    """A user by id with the ids of the sites he works at, in one statement (the web asks on
    every request); None when there is no such user."""
    rows = session.execute(
        select(User, UserSite.site_id)
        .outerjoin(UserSite, UserSite.user_id == User.id)
        .where(User.id == user_id)
    ).all()
    if not rows:
        return None
    return rows[0][0], {site for _, site in rows if site is not None}


def user_site_ids(session: Session, user: User) -> set[int]:
    """The sites whose subjects the user may see."""
    return set(session.scalars(select(UserSite.site_id).where(UserSite.user_id == user.id)))
