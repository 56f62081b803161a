"""Authentication and request hardening (issue 14), on SQLite and PostgreSQL.

Each test reproduces a defect found from outside, which it failed before the change:
40 concurrent wrong passwords all checked (lockout race), an unknown name answered faster
and differently from a real one, sessions surviving logout and a password change, a forged
cookie under the public default key, weak passwords accepted, a login form without CSRF, no
security headers, and request bodies of any size read before the redirect to the login.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from alstrial.exceptions import ConfigurationError, PermissionDeniedError, ValidationError
from alstrial.services import accounts
from alstrial.services.accounts import (
    MAX_FAILED_LOGINS,
    REFUSED_LOGIN,
    authenticate,
    check_password_policy,
    create_account,
    set_password,
)
from alstrial.services.web_sessions import find_session, start_session
from alstrial.store import make_session_factory
from alstrial.store.models import LoginThrottle, User
from alstrial.web.app import create_app
from alstrial.web.security import COOKIE, Limits
from tests.helpers import ACTOR, post_login, run_cli

PASSWORD = "correct horse battery"
KEY = "security-test-secret-key-0123456789abcdefghij"


@pytest.fixture
def accounts_made(engine: Engine) -> Engine:
    with make_session_factory(engine)() as session:
        for username, role in (("coord", "coordinator"), ("admin", "administrator")):
            create_account(session, actor=ACTOR, username=username, role=role, password=PASSWORD)
    return engine


@pytest.fixture
def web(accounts_made: Engine) -> Iterator[TestClient]:
    app = create_app(
        accounts_made, secret_key=KEY, secure_cookies=False, limits=Limits(anonymous=16 * 1024)
    )
    with TestClient(app) as client:
        yield client


class CountingHasher:
    """argon2 with a count of the verifications of real (non-dummy) hashes."""

    def __init__(self, real: Any, dummy: str) -> None:
        self.real, self.dummy, self.real_checks, self.all_checks = real, dummy, 0, 0

    def verify(self, stored: str, password: str) -> bool:
        self.all_checks += 1
        if stored != self.dummy:
            self.real_checks += 1
        return bool(self.real.verify(stored, password))

    def hash(self, password: str) -> str:
        return str(self.real.hash(password))


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    real = accounts._hasher()
    counter = CountingHasher(real, accounts._dummy_hash())
    monkeypatch.setattr(accounts, "_hasher", lambda: counter)
    return counter


def test_concurrent_wrong_passwords_cannot_pass_the_lock(
    accounts_made: Engine, counting: CountingHasher
) -> None:
    # Before: 40 parallel wrong passwords were all checked and left the count at 3.
    factory = make_session_factory(accounts_made)

    def attempt(_: int) -> str:
        with factory() as session:
            try:
                authenticate(session, "coord", "not the password!")
            except PermissionDeniedError as error:
                return error.message
            return "logged in"

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(40)))
    assert set(results) == {REFUSED_LOGIN}
    assert counting.real_checks <= MAX_FAILED_LOGINS
    assert counting.all_checks == 40  # every refusal costs one verification, real or dummy
    with factory() as session:
        row = session.get(LoginThrottle, "user:coord")
        assert row is not None
        assert row.locked_until is not None
        with pytest.raises(PermissionDeniedError, match="wrong user name or password"):
            authenticate(session, "coord", PASSWORD)  # the right password, but locked
    with factory() as session:  # after the lock, a new count starts
        later = datetime.now(UTC) + timedelta(minutes=accounts.LOCK_MINUTES + 1)
        assert authenticate(session, "coord", PASSWORD, later).username == "coord"


def test_unknown_and_real_users_are_answered_alike(
    accounts_made: Engine, counting: CountingHasher
) -> None:
    with make_session_factory(accounts_made)() as session:
        messages = []
        for name in ("coord", "nobody"):
            before = counting.all_checks
            with pytest.raises(PermissionDeniedError) as refused:
                authenticate(session, name, "not the password!")
            messages.append(refused.value.message)
            assert counting.all_checks == before + 1  # one argon2 verification each
        for _ in range(MAX_FAILED_LOGINS):
            with pytest.raises(PermissionDeniedError):
                authenticate(session, "coord", "not the password!")
        with pytest.raises(PermissionDeniedError) as locked:
            authenticate(session, "coord", PASSWORD)
        messages.append(locked.value.message)
    assert len(set(messages)) == 1


def test_one_client_is_throttled_across_user_names(accounts_made: Engine) -> None:
    with make_session_factory(accounts_made)() as session:
        for n in range(accounts.MAX_CLIENT_FAILURES):
            with pytest.raises(PermissionDeniedError):
                authenticate(session, f"guess{n}", "not the password!", client="10.9.8.7")
        with pytest.raises(PermissionDeniedError):
            authenticate(session, "coord", PASSWORD, client="10.9.8.7")
        assert authenticate(session, "coord", PASSWORD, client="10.9.8.8").username == "coord"


@pytest.mark.parametrize(
    ("password", "words"),
    [
        (" " * 12, "different characters"),
        ("a" * 12, "different characters"),
        ("password1234", "too easy to guess"),
        ("short", "at least 12 characters"),
        ("coord-is-my-name!", "user name"),
        ("qwertyuiopasdf", "too easy to guess"),
    ],
)
def test_weak_passwords_are_refused(password: str, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        check_password_policy(password, "coord")


def test_a_strong_password_passes() -> None:
    check_password_policy("violet-anchor-mistral-42", "coord")


def test_sessions_end_at_logout_and_password_change(web: TestClient) -> None:
    assert post_login(web, "coord", PASSWORD).status_code == 303
    first = web.cookies.get(COOKIE)
    assert web.get("/", follow_redirects=False).status_code == 200
    csrf = web.get("/password").text.split('name="csrf" value="')[1].split('"')[0]
    web.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    web.cookies.set(COOKIE, first)  # a copy of the cookie kept after logout
    assert web.get("/", follow_redirects=False).headers["location"] == "/login"

    other = TestClient(web.app)
    assert post_login(other, "coord", PASSWORD).status_code == 303
    assert post_login(web, "coord", PASSWORD).status_code == 303
    csrf = web.get("/password").text.split('name="csrf" value="')[1].split('"')[0]
    changed = web.post(
        "/password",
        data={
            "current_password": PASSWORD,
            "new_password": "violet-anchor-mistral-42",
            "repeat_password": "violet-anchor-mistral-42",
            "csrf": csrf,
        },
    )
    assert changed.status_code == 200
    assert web.get("/", follow_redirects=False).status_code == 200  # this session goes on
    assert other.get("/", follow_redirects=False).status_code == 303  # the other one ended


def test_a_reset_by_the_administrator_ends_every_session(
    accounts_made: Engine, web: TestClient
) -> None:
    assert post_login(web, "coord", PASSWORD).status_code == 303
    with make_session_factory(accounts_made)() as session:
        set_password(session, actor="admin", username="coord", password="violet-anchor-mistral-42")
    assert web.get("/", follow_redirects=False).status_code == 303


def test_idle_and_absolute_timeouts(accounts_made: Engine) -> None:
    with make_session_factory(accounts_made)() as session:
        user = session.scalars(select(User).where(User.username == "coord")).one()
        token, _ = start_session(session, user, lifetime=timedelta(hours=12))
        idle = timedelta(minutes=30)
        now = datetime.now(UTC)
        assert find_session(session, token, idle=idle, now=now) is not None
        assert find_session(session, token, idle=idle, now=now + timedelta(minutes=31)) is None
        short, _ = start_session(session, user, lifetime=timedelta(minutes=5))
        assert find_session(session, short, idle=idle, now=now + timedelta(minutes=6)) is None


def test_forged_cookies_do_not_log_in(web: TestClient) -> None:
    # Before: a cookie signed with the public development key logged in as the administrator.
    for key in (KEY, "development-only-not-secret"):
        forged = URLSafeTimedSerializer(key, salt="alstrial-session")
        for payload in ({"uid": 1, "csrf": "x"}, "a-token-that-was-never-issued"):
            web.cookies.clear()
            web.cookies.set(COOKIE, forged.dumps(payload))
            assert web.get("/", follow_redirects=False).headers["location"] == "/login"
            assert web.get("/api/subjects").status_code == 401


def test_login_form_needs_its_csrf_token(web: TestClient) -> None:
    web.cookies.clear()
    response = web.post(
        "/login", data={"username": "coord", "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403
    assert COOKIE not in response.cookies


def test_no_default_secret_key(accounts_made: Engine, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="at least 32 characters"):
        create_app(accounts_made, secret_key="")
    env = {k: v for k, v in os.environ.items() if k != "ALSTRIAL_SECRET_KEY"}
    done = run_cli(
        "serve", "--port", "1", "--database", f"sqlite:///{tmp_path / 'none.db'}", env=env
    )
    assert done.returncode == 2
    assert "needs ALSTRIAL_SECRET_KEY" in done.stderr
    assert "--insecure-dev" in done.stderr


def test_insecure_development_mode_says_so_on_every_page(accounts_made: Engine) -> None:
    app = create_app(accounts_made, secret_key=KEY, secure_cookies=False, insecure_dev=True)
    with TestClient(app) as client:
        assert "INSECURE DEVELOPMENT MODE" in client.get("/login").text
        post_login(client, "coord", PASSWORD)
        assert "INSECURE DEVELOPMENT MODE" in client.get("/").text


def test_security_headers_everywhere(web: TestClient) -> None:
    post_login(web, "coord", PASSWORD)
    for path, cached in (
        ("/", False),
        ("/api/subjects", False),
        ("/no/such/page", False),
        ("/static/app.css", True),
    ):
        headers = web.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert (headers.get("cache-control") == "no-store") is not cached, path
        assert "strict-transport-security" not in headers  # not on plain HTTP
    app = create_app(web.app.state.session_factory.kw["bind"], secret_key=KEY)
    with TestClient(app, base_url="https://testserver") as secure:
        assert "max-age" in secure.get("/login").headers["strict-transport-security"]


def test_oversized_bodies_are_refused_before_anything_reads_them(web: TestClient) -> None:
    # Before: an anonymous 2 x 500 MB body was read and spooled before the redirect.
    web.cookies.clear()
    big = web.post(
        "/subjects/new",
        content=b"x" * (64 * 1024),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert big.status_code == 413
    assert "over the limit" in big.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(64):
            yield b"y" * 1024

    streamed = web.post(
        "/login", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert streamed.status_code == 413
    post_login(web, "coord", PASSWORD)
    form = web.post(
        "/subjects/new",
        content=b"z" * (2 * 1024 * 1024),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 413
    small = web.post("/subjects/new", data={"study_code": "S99"})
    assert small.status_code != 413


def test_login_session_query_count_stays_one(accounts_made: Engine, web: TestClient) -> None:
    # The session, its user and the user's sites come in one statement per request.
    from sqlalchemy import event

    post_login(web, "coord", PASSWORD)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(accounts_made, "before_cursor_execute", count)
    try:
        web.get("/queries")
    finally:
        event.remove(accounts_made, "before_cursor_execute", count)
    assert sum("web_session" in s for s in statements) == 1


def _session(engine: Engine) -> Session:
    return make_session_factory(engine)()


def test_an_administrator_ends_a_users_sessions_from_the_command_line(
    accounts_made: Engine, web: TestClient
) -> None:
    assert post_login(web, "coord", PASSWORD).status_code == 303
    assert web.get("/", follow_redirects=False).status_code == 200
    url = accounts_made.url.render_as_string(hide_password=False)
    done = run_cli("users", "revoke-sessions", "coord", "--database", url)
    assert done.returncode == 0, done.stderr
    assert "1 session(s) of coord ended" in done.stdout
    assert web.get("/", follow_redirects=False).status_code == 303
