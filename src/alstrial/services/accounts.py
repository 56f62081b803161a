"""Accounts for the web application: roles, sites, argon2 passwords, login throttling.

Passwords are hashed with argon2id (argon2-cffi defaults). A new account gets a random
one-time password, shown once to whoever creates it; it is never stored in clear, and the web
application makes its owner replace it at the first login (``must_change_password``).

Throttling (issue 14: 40 concurrent wrong passwords were all checked, and the count ended at
3). Every attempt first takes a slot in ``login_throttle`` in one atomic statement (an
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` on SQLite and PostgreSQL alike), for the
account (``user:NAME``, 5 attempts, then locked 15 minutes) and for the client address
(``client:ADDR``, 50 failed attempts, then locked 15 minutes: a hospital's NAT carries many
users); only an attempt that got a slot has its password checked, and a success gives the
slots back. An unknown user name takes the same path, verifies against a dummy hash (the
same argon2 time as a real one) and gets the same message as a wrong password or a locked
account, so that nothing tells which names exist.

Password policy (``check_password_policy``): at least 12 characters, at least 5 distinct
ones, not the user name (nor containing it), and not guessable by zxcvbn (score >= 3 of 4,
with its frequency lists of common passwords, names and words shipped with the package).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from alstrial.exceptions import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from alstrial.services.lookup import find_site
from alstrial.services.transaction import transaction
from alstrial.store.models import LoginThrottle, User, UserSite
from alstrial.vocabulary import Role

if TYPE_CHECKING:
    from argon2 import PasswordHasher

__all__ = [
    "MAX_FAILED_LOGINS",
    "MIN_PASSWORD_LENGTH",
    "REFUSED_LOGIN",
    "AccountLine",
    "NewAccount",
    "authenticate",
    "change_password",
    "check_password_policy",
    "create_account",
    "grant",
    "list_accounts",
    "reset_password",
    "set_active",
    "set_password",
    "unlock",
    "user_and_sites",
    "user_site_ids",
]

MAX_FAILED_LOGINS = 5
MAX_CLIENT_FAILURES = 50
LOCK_MINUTES = 15
MIN_PASSWORD_LENGTH = 12
_MIN_DISTINCT = 5
_MIN_ZXCVBN_SCORE = 3
REFUSED_LOGIN = (
    "wrong user name or password (after 5 failed attempts an account is locked for 15 minutes)"
)


def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher  # deferred: only accounts need it

    return PasswordHasher()


@dataclass(frozen=True)
class NewAccount:
    """A created account and its one-time password (shown once)."""

    user: User
    one_time_password: str


def check_password_policy(password: str, username: str = "") -> None:
    """Refuse a weak password with the reason (module docstring).

    Raises
    ------
    ValidationError
        Naming what is wrong: too short, too few distinct characters, the user name, a NUL
        byte, or a password zxcvbn guesses (its feedback is quoted).
    """

    def refuse(message: str) -> ValidationError:
        return ValidationError(message, form="user", field="password")

    if "\x00" in password:
        raise refuse("a password cannot contain a NUL byte")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise refuse(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if len(set(password)) < _MIN_DISTINCT or not password.strip():
        raise refuse(f"a password has at least {_MIN_DISTINCT} different characters")
    name = username.strip().lower()
    if name and name in password.lower():
        raise refuse("a password cannot contain the user name")
    from zxcvbn import zxcvbn  # deferred: its frequency lists load in 0.1 s

    verdict = zxcvbn(password[:100], user_inputs=[username] if username else [])
    if verdict["score"] < _MIN_ZXCVBN_SCORE:
        feedback = verdict.get("feedback", {})
        hint = feedback.get("warning") or " ".join(feedback.get("suggestions", [])) or ""
        raise refuse("the password is too easy to guess" + (f": {hint}" if hint else ""))


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
    secret = password or secrets.token_urlsafe(15)
    check_password_policy(secret, username)
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
    """Set a user's password (argon2 hash); unlocks the account and ends its sessions."""
    check_password_policy(password, username)
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise PermissionDeniedError(f"no user {username!r}", form="user", field="username")
    _replace_password(session, user, actor=actor, reason=reason, secret=password)
    return user


def _replace_password(
    session: Session, user: User, *, actor: str, reason: str, secret: str, one_time: bool = False
) -> None:
    """Store a new password (audited), lift the account's lock and end its sessions."""
    from alstrial.services.web_sessions import revoke_user_sessions

    with transaction(session, actor=actor, reason=reason):
        user.password_hash = _hasher().hash(secret)
        if one_time:
            user.must_change_password = True
    _release(session, f"user:{user.username}")
    revoke_user_sessions(session, user.id)


def change_password(
    session: Session,
    *,
    username: str,
    current_password: str,
    new_password: str,
    keep: int | None = None,
) -> User:
    """A user replaces his own password, proving the current one (also a one-time one).

    The new password must differ from the current one and meet the policy; a wrong current
    password counts as a failed login. Every other session of the user ends (``keep``: the
    session id that made the change, which goes on).
    """
    from alstrial.services.web_sessions import revoke_user_sessions

    user = authenticate(session, username, current_password)
    if new_password == current_password:
        raise ValidationError(
            "the new password is the current one", form="password", field="new_password"
        )
    try:
        check_password_policy(new_password, username)
    except ValidationError as error:
        error.form, error.field = "password", "new_password"
        raise
    with transaction(session, actor=username, reason="password changed by its owner"):
        user.password_hash = _hasher().hash(new_password)
        user.must_change_password = False
    revoke_user_sessions(session, user.id, keep=keep)
    return user


@cache
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def _take_slot(session: Session, key: str, limit: int, now: datetime) -> bool:
    """Count one attempt for ``key`` atomically; False when the key is locked (or this
    attempt is over the limit, which locks it). An expired lock starts a new count."""
    from sqlalchemy.dialects import postgresql, sqlite

    table = LoginThrottle
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    expired = table.locked_until.is_not(None) & (table.locked_until <= now)
    statement = (
        insert(table)
        .values(key=key, attempts=1, locked_until=None, updated_at=now)
        .on_conflict_do_update(
            index_elements=[table.key],
            set_={
                "attempts": case((expired, 1), else_=table.attempts + 1),
                "locked_until": case((expired, None), else_=table.locked_until),
                "updated_at": now,
            },
        )
        .returning(table.attempts, table.locked_until)
    )
    attempts, locked_until = session.execute(statement).one()
    if locked_until is not None and locked_until.replace(tzinfo=UTC) > now:
        session.commit()
        return False
    if attempts > limit:
        session.execute(
            update(table)
            .where(table.key == key, table.locked_until.is_(None))
            .values(locked_until=now + timedelta(minutes=LOCK_MINUTES))
        )
        session.commit()
        return False
    session.commit()
    return True


def _release(session: Session, key: str, *, one: bool = False) -> None:
    """Give back the slots of ``key`` (all of them, or ``one``) after a success."""
    table = LoginThrottle
    values: dict[str, Any] = (
        {"attempts": table.attempts - 1} if one else {"attempts": 0, "locked_until": None}
    )
    session.execute(update(table).where(table.key == key).values(**values))
    session.commit()


def authenticate(
    session: Session,
    username: str,
    password: str,
    now: datetime | None = None,
    *,
    client: str | None = None,
) -> User:
    """The user whose password this is, or PermissionDeniedError with one message for an
    unknown user, a wrong password and a locked account (module docstring)."""
    from argon2.exceptions import VerificationError

    moment = now or datetime.now(UTC)
    refused = PermissionDeniedError(REFUSED_LOGIN, form="login", field="password")
    keys = [(f"user:{username[:150]}", MAX_FAILED_LOGINS)]
    if client:
        keys.append((f"client:{client[:150]}", MAX_CLIENT_FAILURES))
    slots = [_take_slot(session, key, limit, moment) for key, limit in keys]
    user = session.scalars(select(User).where(User.username == username)).first()
    usable = user is not None and user.active and user.password_hash is not None
    # A locked key's password is not checked at all; an unknown or locked name is verified
    # against a dummy hash, so every refusal costs one argon2 verification, as a real one.
    stored = user.password_hash if usable and user is not None and all(slots) else None
    try:
        _hasher().verify(stored or _dummy_hash(), password)
        verified = stored is not None
    except VerificationError:
        verified = False
    if not all(slots) or not verified or user is None:
        raise refused
    _release(session, keys[0][0])
    if client:
        _release(session, keys[1][0], one=True)
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


@dataclass(frozen=True)
class AccountLine:
    """One account as the administrator lists it."""

    username: str
    full_name: str
    role: str
    active: bool
    sites: tuple[str, ...]
    locked: bool
    must_change_password: bool


def list_accounts(session: Session, now: datetime | None = None) -> list[AccountLine]:
    """Every account with its role, sites, and whether it is disabled or locked."""
    from alstrial.store.models import Site

    moment = now or datetime.now(UTC)
    sites: dict[int, list[str]] = {}
    for user_id, code in session.execute(
        select(UserSite.user_id, Site.code).join(Site, Site.id == UserSite.site_id)
    ):
        sites.setdefault(user_id, []).append(code)
    locks = {
        key.removeprefix("user:")
        for key, until in session.execute(
            select(LoginThrottle.key, LoginThrottle.locked_until).where(
                LoginThrottle.key.startswith("user:")
            )
        )
        if until is not None and until.replace(tzinfo=UTC) > moment
    }
    return [
        AccountLine(
            user.username,
            user.full_name,
            user.role.value,
            user.active,
            tuple(sorted(sites.get(user.id, []))),
            user.username in locks,
            user.must_change_password,
        )
        for user in session.scalars(select(User).order_by(User.username))
    ]


def _account(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFoundError(f"no user {username!r}", form="user", field="username", value=username)
    return user


def set_active(session: Session, *, actor: str, username: str, active: bool, reason: str) -> User:
    """Disable (or enable again) an account, audited with the reason; disabling ends its
    sessions at once (a disabled user's session and API tokens no longer authenticate)."""
    from alstrial.services.web_sessions import revoke_user_sessions

    user = _account(session, username)
    if user.username == actor and not active:
        raise ValidationError(
            "an administrator cannot disable his own account", form="user", field="username"
        )
    with transaction(session, actor=actor, reason=reason):
        user.active = active
    if not active:
        revoke_user_sessions(session, user.id)
    return user


def unlock(session: Session, *, username: str) -> None:
    """Lift a login lock of the account before its 15 minutes are over."""
    _account(session, username)
    _release(session, f"user:{username}")


def reset_password(session: Session, *, actor: str, username: str, reason: str) -> str:
    """A new one-time password (returned once), to be replaced at the next login; the
    account's sessions end and its lock is lifted."""
    user = _account(session, username)
    secret = secrets.token_urlsafe(15)
    _replace_password(session, user, actor=actor, reason=reason, secret=secret, one_time=True)
    return secret


def grant(
    session: Session,
    *,
    actor: str,
    username: str,
    reason: str,
    role: Role | str | None = None,
    sites: Sequence[str] = (),
) -> User:
    """Change an account's role and/or give it sites, audited with the reason."""
    user = _account(session, username)
    new_role = None
    if role is not None:
        try:
            new_role = Role(role)
        except ValueError:
            raise ValidationError(
                f"unknown role {role!r}",
                form="user",
                field="role",
                value=role,
                allowed=", ".join(Role),
            ) from None
    site_rows = [find_site(session, code) for code in sites]
    held = user_site_ids(session, user)
    with transaction(session, actor=actor, reason=reason):
        if new_role is not None:
            user.role = new_role
        for site in site_rows:
            if site.id not in held:
                session.add(UserSite(user_id=user.id, site_id=site.id))
    return user
