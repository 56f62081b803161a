"""Session cookies and CSRF tokens.

The session is a signed, timestamped cookie (itsdangerous, HMAC-SHA1 with the settings'
secret key) holding the user id and a random CSRF token; it is HttpOnly, SameSite=Lax and
Secure outside development, and expires after 8 hours. Every form carries the CSRF token in
a hidden field and every POST is refused (403) without the matching one.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

__all__ = ["COOKIE", "MAX_AGE_S", "SessionData", "SessionSigner"]

COOKIE = "alstrial_session"
MAX_AGE_S = 8 * 3600


@dataclass(frozen=True)
class SessionData:
    """Who is logged in, and the CSRF token of the session."""

    user_id: int
    csrf: str

    def csrf_matches(self, token: str | None) -> bool:
        """Constant-time comparison with a submitted token."""
        return bool(token) and hmac.compare_digest(self.csrf, token or "")


class SessionSigner:
    """Signs and reads session cookies with the application's secret key."""

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="alstrial-session")

    def new(self, user_id: int) -> tuple[SessionData, str]:
        data = SessionData(user_id, secrets.token_urlsafe(24))
        return data, self._serializer.dumps({"uid": user_id, "csrf": data.csrf})

    def read(self, cookie: str | None) -> SessionData | None:
        if not cookie:
            return None
        try:
            payload: Any = self._serializer.loads(cookie, max_age=MAX_AGE_S)
        except BadSignature:
            return None
        try:
            return SessionData(int(payload["uid"]), str(payload["csrf"]))
        except (KeyError, TypeError, ValueError):
            return None
