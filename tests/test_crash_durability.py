"""Durability (issue 14): ``alstrial serve --workers 2`` is killed with SIGKILL (every
process of it, no shutdown) while 4 clients save vital signs concurrently; afterwards every
save the server had acknowledged (303) is in the store, and the audit trail verifies. On
SQLite (WAL, each commit synced before its answer: ``store/sqlite_durability.py``) and
PostgreSQL."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from datetime import time as clock
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy import Engine

from alstrial.services.accounts import create_account
from alstrial.store import make_engine, make_session_factory
from alstrial.store.audit import verify_audit_trail
from tests.helpers import ACTOR, DAY0, enrolled, free_port, wait_until_served

PASSWORD = "correct horse battery"
CLIENTS = 4
ALSTRIAL = str(Path(sys.executable).parent / "alstrial")


def _request(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: dict[str, str] | None = None,
    cookie: str = "",
) -> tuple[int, list[str], str]:
    data = urlencode(body).encode() if body is not None else None
    headers = {"Cookie": cookie} if cookie else {}
    if data is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    text = response.read().decode("utf-8", "replace")
    return response.status, response.msg.get_all("Set-Cookie") or [], text


def _cookies(set_cookies: list[str], jar: dict[str, str]) -> str:
    for header in set_cookies:
        name, _, rest = header.partition("=")
        value = rest.split(";")[0]
        if value and value != '""':
            jar[name.strip()] = value
        else:
            jar.pop(name.strip(), None)
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def _client(
    port: int,
    subject: str,
    acknowledged: list[str],
    logged_in: threading.Event,
    stop: threading.Event,
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        _save_until_stopped(connection, subject, acknowledged, logged_in, stop)
    finally:
        connection.close()


def _save_until_stopped(
    connection: http.client.HTTPConnection,
    subject: str,
    acknowledged: list[str],
    logged_in: threading.Event,
    stop: threading.Event,
) -> None:
    jar: dict[str, str] = {}
    _, headers, page = _request(connection, "GET", "/login")
    cookie = _cookies(headers, jar)
    token = page.split('name="csrf" value="')[1].split('"')[0]
    status, headers, _ = _request(
        connection,
        "POST",
        "/login",
        {"username": "coord", "password": PASSWORD, "csrf": token},
        cookie,
    )
    assert status == 303
    cookie = _cookies(headers, jar)
    _, _, page = _request(connection, "GET", "/password", cookie=cookie)
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    logged_in.set()
    n = 0
    while not stop.is_set():
        moment = datetime.combine(DAY0, clock(8)) + timedelta(minutes=n)
        n += 1
        form = {
            "csrf": csrf,
            "measured_at": moment.isoformat(),
            "systolic_mmhg": "120",
            "diastolic_mmhg": "70",
            "heart_rate_bpm": "72",
            "temperature_c": "36.6",
        }
        try:
            status, _, _ = _request(
                connection, "POST", f"/subjects/{subject}/visits/D0/vitals", form, cookie
            )
        except (OSError, http.client.HTTPException):
            return  # the server died: this save was never acknowledged
        if status == 303:
            acknowledged.append(moment.isoformat())


def test_every_acknowledged_save_survives_sigkill(engine: Engine, tmp_path: Path) -> None:
    with make_session_factory(engine)() as session:
        for n in range(CLIENTS):
            enrolled(session, f"K{n}")
        create_account(
            session,
            actor=ACTOR,
            username="coord",
            role="coordinator",
            sites=["A"],
            password=PASSWORD,
        )
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    port = free_port()
    env = os.environ | {"ALSTRIAL_SECRET_KEY": "crash-test-secret-key-0123456789abcdefghij"}
    server = subprocess.Popen(
        [
            ALSTRIAL,
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--no-access-log",
            "--database",
            url,
        ],
        env=env,
        start_new_session=True,  # its own process group, so that every worker is killed
    )
    saved: dict[str, list[str]] = {f"K{n}": [] for n in range(CLIENTS)}
    logged_in = {code: threading.Event() for code in saved}
    stop = threading.Event()
    try:
        wait_until_served(server, port)
        threads = [
            threading.Thread(
                target=_client, args=(port, code, saved[code], logged_in[code], stop), daemon=True
            )
            for code in saved
        ]
        for thread in threads:
            thread.start()
        # Every client logged in before the count starts: the others' saves could otherwise
        # reach it while one still logs in, and the kill would break its login, not a save.
        for event in logged_in.values():
            assert event.wait(timeout=30), "a client could not log in"
        deadline = time.monotonic() + 20
        while sum(map(len, saved.values())) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(server.pid, signal.SIGKILL)  # mid-save, no shutdown
        server.wait(timeout=10)
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
    finally:
        stop.set()
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
    acknowledged = sum(map(len, saved.values()))
    assert acknowledged >= 40, "too few saves before the kill to test anything"
    reopened = make_engine(url)
    try:
        with make_session_factory(reopened)() as session:
            stored = set(
                session.execute(
                    sa.text(
                        "SELECT s.study_code, v.measured_at FROM vital_signs v "
                        "JOIN subject s ON s.id = v.subject_id"
                    )
                ).all()
            )
            stored_keys = {(code, _iso(moment)) for code, moment in stored}
            for code, moments in saved.items():
                for moment in moments:
                    assert (code, moment) in stored_keys, f"acknowledged save lost: {code} {moment}"
            verification = verify_audit_trail(session)
            assert verification.ok, verification.problem
    finally:
        reopened.dispose()


def _iso(moment: object) -> str:
    """A stored timestamp as the form sent it (SQLite returns text, PostgreSQL datetimes)."""
    if isinstance(moment, datetime):
        return moment.replace(tzinfo=None).isoformat()
    return datetime.fromisoformat(str(moment)).replace(tzinfo=None).isoformat()
