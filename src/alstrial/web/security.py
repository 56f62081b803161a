"""Session cookies, CSRF tokens, security headers and request-size limits.

Sessions live on the server (:mod:`alstrial.services.web_sessions`): the cookie carries a
random 256-bit token, signed with the application's secret key (itsdangerous), HttpOnly,
SameSite=Lax and Secure outside development. Without its row in ``web_session`` the cookie
is worth nothing, so logout, a password change or an administrator ends a session at once
(issue 14: the stateless cookie survived all three). Every form carries the session's CSRF
token; the login form, which comes before any session, carries a double-submit token: a
random value in a short-lived cookie that the form must repeat.

:class:`SecurityMiddleware` (pure ASGI, so it runs before routing and authentication):

- refuses a request body over the limit with 413 as soon as its ``Content-Length`` says so,
  or as soon as the streamed bytes pass it; the limit is small for a request without
  credentials (no session cookie, no bearer token: only the login form), larger for forms and
  largest for the cytometer's file uploads;
- adds the security headers to every response: a Content-Security-Policy without inline
  scripts (``script-src 'self'``), ``frame-ancestors 'none'``, ``nosniff``, a strict
  Referrer-Policy, HSTS when cookies are Secure, and ``Cache-Control: no-store`` on
  everything but the static files (pages carry clinical data).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

__all__ = [
    "COOKIE",
    "LOGIN_CSRF_COOKIE",
    "Limits",
    "SecurityMiddleware",
    "SessionData",
    "SessionSigner",
]

COOKIE = "alstrial_session"
LOGIN_CSRF_COOKIE = "alstrial_login_csrf"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class SessionData:
    """The server-side session of a request: its id, user and CSRF token."""

    session_id: int
    user_id: int
    csrf: str

    def csrf_matches(self, token: str | None) -> bool:
        """Constant-time comparison with a submitted token."""
        return bool(token) and hmac.compare_digest(self.csrf, token or "")


class SessionSigner:
    """Signs and reads the session token of a cookie with the application's secret key."""

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="alstrial-session")

    def sign(self, token: str) -> str:
        return self._serializer.dumps(token)

    def read(self, cookie: str | None, max_age_s: int) -> str | None:
        """The session token of a cookie, or None if it is forged, altered or too old."""
        if not cookie or len(cookie) > 512:
            return None
        try:
            payload: Any = self._serializer.loads(cookie, max_age=max_age_s)
        except BadSignature:
            return None
        return payload if isinstance(payload, str) else None


def new_login_csrf() -> str:
    """A random token for the login form's double-submit check."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Limits:
    """Largest request bodies, in bytes."""

    anonymous: int = 16 * 1024
    form: int = 1024 * 1024
    upload: int = 64 * 1024 * 1024


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value)
    return None


class SecurityMiddleware:
    """Body limits before anything reads the body, and security headers (module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: Limits,
        upload_paths: Callable[[str], bool],
        hsts: bool,
    ) -> None:
        self.app = app
        self.limits = limits
        self.upload_paths = upload_paths
        self.hsts = hsts

    def _limit(self, scope: Scope) -> int:
        cookie = _header(scope, b"cookie") or b""
        authorization = _header(scope, b"authorization") or b""
        if COOKIE.encode() not in cookie and not authorization.lower().startswith(b"bearer "):
            return self.limits.anonymous
        if self.upload_paths(str(scope.get("path", ""))):
            return self.limits.upload
        return self.limits.form

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(send, limit)
            return
        seen = 0
        started = False
        refused = False

        async def limited_receive() -> Message:
            # Past the limit: answer 413 at once and tell the application that the client
            # went away (a raised error would be turned into a 400 by the form parser).
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    if not started:
                        await _too_large(send, limit)
                    return {"type": "http.disconnect"}
            return message

        path = str(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 is the answer
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                own_policy = any(key.lower() == b"content-security-policy" for key, _ in headers)
                extra = _security_headers(static=path.startswith("/static/"), hsts=self.hsts)
                if own_policy:  # a page that set a stricter or narrower policy keeps it
                    extra = [h for h in extra if h[0] != b"content-security-policy"]
                message["headers"] = headers + extra
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except Exception:
            if not refused:
                raise


_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


def _security_headers(*, static: bool, hsts: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", _CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if not static:
        headers.append((b"cache-control", b"no-store"))
    if hsts:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers


async def _too_large(send: Send, limit: int) -> None:
    body = f"request body over the limit of {limit} bytes".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *_security_headers(static=False, hsts=False),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
