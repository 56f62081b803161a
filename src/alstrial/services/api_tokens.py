"""Bearer tokens for the JSON API (the statistician's exports).

A token is 32 random bytes (URL-safe base64) prefixed ``alst_``; it is shown once, when it is
made. The database keeps its SHA-256 digest (a random 256-bit secret needs no slow hash: no
dictionary can reach it), its first 12 characters to tell tokens apart, an expiry date and,
once revoked, the revocation time. Making and revoking a token are audited like every change.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import NotFoundError, PermissionDeniedError, ValidationError
from alstrial.services.transaction import transaction
from alstrial.store.models import ApiToken, User

__all__ = ["NewToken", "create_api_token", "list_api_tokens", "revoke_api_token", "token_user"]

_PREFIX = "alst_"
MAX_DAYS = 365


@dataclass(frozen=True)
class NewToken:
    """A made token and its secret (shown once)."""

    token: ApiToken
    secret: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_api_token(session: Session, *, username: str, name: str, days: int = 90) -> NewToken:
    """Make a token for ``username`` valid for ``days`` (1-365)."""
    if not name.strip() or len(name) > 80:
        raise ValidationError("a token name is 1-80 characters", form="token", field="name")
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError(
            f"a token lasts 1-{MAX_DAYS} days, not {days}",
            form="token",
            field="days",
            value=days,
            allowed=f"1-{MAX_DAYS}",
        )
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFoundError(f"no user {username!r}", form="token", field="username")
    secret = _PREFIX + secrets.token_urlsafe(32)
    with transaction(session, actor=username):
        token = ApiToken(
            user_id=user.id,
            name=name.strip(),
            prefix=secret[:12],
            digest=_digest(secret),
            expires_at=datetime.now(UTC) + timedelta(days=days),
        )
        session.add(token)
    return NewToken(token, secret)


def list_api_tokens(session: Session, *, username: str) -> list[ApiToken]:
    """A user's tokens, newest first (revoked ones included)."""
    return list(
        session.scalars(
            select(ApiToken)
            .join(User, User.id == ApiToken.user_id)
            .where(User.username == username)
            .order_by(ApiToken.id.desc())
        )
    )


def revoke_api_token(session: Session, *, username: str, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens."""
    token = session.get(ApiToken, token_id)
    user = session.scalars(select(User).where(User.username == username)).first()
    if token is None or user is None or token.user_id != user.id:
        raise NotFoundError(f"no token {token_id} of {username}", form="token", field="id")
    if token.revoked_at is None:
        with transaction(session, actor=username, reason="token revoked by its owner"):
            token.revoked_at = datetime.now(UTC)
    return token


def token_user(session: Session, secret: str, now: datetime | None = None) -> User:
    """The active user a bearer token belongs to; PermissionDeniedError when it is unknown,
    revoked or expired (the message does not say which of the first two)."""
    moment = now or datetime.now(UTC)
    refused = PermissionDeniedError("unknown or revoked API token", form="token", field="token")
    if not secret.startswith(_PREFIX):
        raise refused
    token = session.scalars(select(ApiToken).where(ApiToken.digest == _digest(secret))).first()
    if token is None or token.revoked_at is not None:
        raise refused
    if token.expires_at <= moment:
        raise PermissionDeniedError(
            f"the API token expired on {token.expires_at:%Y-%m-%d}", form="token", field="token"
        )
    user = session.get(User, token.user_id)
    if user is None or not user.active:
        raise refused
    return user
