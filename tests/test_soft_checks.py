"""Soft checks and automatic queries (issue 15, item 3), on both back ends: a protocol's soft
check warns while the form is filled in and, with ``auto_queries``, opens a query on the
field once the record is saved, written by the system identity, once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from alstrial.exceptions import PermissionDeniedError
from alstrial.protocol import reference_protocol_text
from alstrial.services.accounts import authenticate, create_account
from alstrial.services.safety import VitalsReading, record_vitals
from alstrial.services.setup import add_site, add_user, create_study
from alstrial.services.soft_checks import SYSTEM_ACTOR, raise_automatic_queries
from alstrial.store import make_session_factory
from alstrial.store.models import DataQuery, User
from alstrial.web.app import create_app
from tests.helpers import ACTOR, DAY0, enrolled, post_login

PASSWORD = "correct horse battery"
CHECKS = """
[[soft_checks]]
id = "SC1"
form = "vitals"
field = "systolic_mmhg"
operator = ">"
value = 180
message = "systolic above 180 mmHg: confirm against the source"
"""


def _study(engine: Engine, *, auto: bool) -> Session:
    session = make_session_factory(engine)()
    text = ("auto_queries = true\n" if auto else "") + reference_protocol_text() + CHECKS
    create_study(session, actor=ACTOR, protocol_text=text)
    add_site(session, actor=ACTOR, code="A", name="Site A")
    add_user(session, actor=ACTOR, username=ACTOR)
    enrolled(session)
    return session


def _vitals(session: Session, systolic: int, minute: int = 0) -> int:
    moment = datetime.combine(DAY0 - timedelta(days=42), datetime.min.time(), tzinfo=UTC)
    return record_vitals(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="W-6",
        reading=VitalsReading(moment + timedelta(hours=9, minutes=minute), systolic, 80, 70),
    ).id


def test_a_failed_soft_check_opens_one_query(empty_engine: Engine) -> None:
    session = _study(empty_engine, auto=True)
    first = _vitals(session, 150)
    assert raise_automatic_queries(session, "S01", "W-6", "vitals", first) == []
    second = _vitals(session, 195, minute=5)  # a second reading: the one saved is checked
    (query,) = raise_automatic_queries(session, "S01", "W-6", "vitals", second)
    assert query.record_id == str(second)
    assert query.field == "systolic_mmhg"
    assert query.text.startswith("SC1: systolic above 180 mmHg")
    opener = session.get(User, query.opened_by_id)
    assert opener is not None
    assert (opener.username, opener.active) == (SYSTEM_ACTOR, False)
    assert raise_automatic_queries(session, "S01", "W-6", "vitals", second) == []  # once
    with pytest.raises(PermissionDeniedError):
        authenticate(session, SYSTEM_ACTOR, "")  # the system identity cannot log in
    session.close()


def test_without_auto_queries_nothing_is_opened(empty_engine: Engine) -> None:
    session = _study(empty_engine, auto=False)
    _vitals(session, 200)
    assert raise_automatic_queries(session, "S01", "W-6", "vitals") == []
    assert session.scalars(sa.select(DataQuery)).first() is None
    session.close()


@pytest.fixture
def web(empty_engine: Engine) -> Iterator[TestClient]:
    session = _study(empty_engine, auto=True)
    create_account(
        session, actor=ACTOR, username="coord", role="coordinator", sites=["A"], password=PASSWORD
    )
    session.close()
    app = create_app(
        empty_engine,
        secret_key="test-secret-key-long-enough-0123456789abcdefghij",
        secure_cookies=False,
    )
    with TestClient(app) as client:
        yield client


def test_the_form_warns_and_the_save_opens_the_query(web: TestClient, empty_engine: Engine) -> None:
    assert post_login(web, "coord", PASSWORD).status_code == 303
    csrf = web.get("/password").text.split('name="csrf" value="')[1].split('"')[0]
    form = {
        "measured_at": (DAY0 - timedelta(days=42)).isoformat() + "T09:00",
        "systolic_mmhg": "190",
        "diastolic_mmhg": "85",
        "csrf": csrf,
    }
    live = web.post("/subjects/S01/visits/W-6/vitals/check", data=form)
    assert "Check: systolic above 180 mmHg" in live.text
    saved = web.post("/subjects/S01/visits/W-6/vitals", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    with make_session_factory(empty_engine)() as session:
        query = session.scalars(sa.select(DataQuery)).one()
    assert query.field == "systolic_mmhg"
    assert "1 query open" in web.get("/subjects/S01").text
