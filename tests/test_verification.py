"""Source data verification on both back ends: a monitor verifies a visit record or single
fields; a later change to a verified value removes that verification in the same audited
transaction (with the change's reason); the web shows the record read-only to the monitor."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from alstrial.exceptions import NotFoundError, ValidationError
from alstrial.services import record_alsfrs
from alstrial.services.accounts import create_account
from alstrial.services.verification import record_view, verification_progress, verify_source
from alstrial.store import make_session_factory
from alstrial.store.audit import AuditEvent
from alstrial.store.models import SourceVerification
from alstrial.web.app import create_app
from tests.helpers import ACTOR, DAY0, FULL_ITEMS, enrolled, post_login, refused

W6 = DAY0 - timedelta(days=42)
PASSWORD = "correct horse battery"


def _alsfrs(session: Session, reason: str | None = None, **items: int) -> None:
    record_alsfrs(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="W-6",
        assessment_date=W6,
        items=FULL_ITEMS | items,
        reason=reason,
    )


def test_a_change_clears_the_verification_it_touches(session: Session) -> None:
    enrolled(session)
    refused(
        session,
        NotFoundError,
        lambda: verify_source(
            session, actor="mon", subject_code="S01", visit_code="W-6", form="alsfrs"
        ),
    )
    _alsfrs(session)
    view = verify_source(
        session, actor="mon", subject_code="S01", visit_code="W-6", form="alsfrs", fields=["item_3"]
    )
    assert set(view.verified) == {"item_3"}
    assert not view.fully_verified
    error = refused(
        session,
        ValidationError,
        lambda: verify_source(
            session,
            actor="mon",
            subject_code="S01",
            visit_code="W-6",
            form="alsfrs",
            fields=["item_99"],
        ),
    )
    assert "item_99" in error.message
    assert "item_3" in str(error.allowed)
    view = verify_source(session, actor="mon", subject_code="S01", visit_code="W-6", form="alsfrs")
    assert view.fully_verified
    assert view.verified[""][0] == "mon"
    # A change to item 1: the whole-record verification goes, item 3's stays.
    _alsfrs(session, reason="source says 3", item_1=3)
    view = record_view(session, "S01", "W-6", "alsfrs")
    assert set(view.verified) == {"item_3"}
    removal = session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.entity == "source_verification", AuditEvent.action == "delete"
        )
    ).first()
    assert removal is not None
    assert removal.reason == "source says 3"
    _alsfrs(session, reason="item 3 was 2 in the source", item_1=3, item_3=2)
    assert record_view(session, "S01", "W-6", "alsfrs").verified == {}
    progress = verification_progress(session)
    assert [(p.subject, p.records, p.verified) for p in progress] == [("S01", 1, 0)]


@pytest.fixture
def web(engine: Engine) -> Iterator[TestClient]:
    with make_session_factory(engine)() as session:
        enrolled(session, "S01", site="A")
        _alsfrs(session)
        for username, role in (("mon-a", "monitor"), ("coord-a", "coordinator")):
            create_account(
                session, actor=ACTOR, username=username, role=role, sites=["A"], password=PASSWORD
            )
    app = create_app(
        engine, secret_key="test-secret-key-long-enough-0123456789abcdefghij", secure_cookies=False
    )
    with TestClient(app) as client:
        yield client


def _csrf(client: TestClient, username: str) -> str:
    assert post_login(client, username, PASSWORD).status_code == 303
    return client.get("/password").text.split('name="csrf" value="')[1].split('"')[0]


def test_the_monitor_reads_the_form_and_verifies_it(web: TestClient, engine: Engine) -> None:
    """Issue 15: a monitor who opened a form got "your role may not enter data"."""
    url = "/subjects/S01/visits/W-6/alsfrs"
    csrf = _csrf(web, "mon-a")
    page = web.get(url)
    assert page.status_code == 200
    assert 'id="record"' in page.text
    assert 'id="entry-form"' not in page.text
    assert 'id="value-item_3"' in page.text
    assert "Not source-verified" in page.text
    empty = web.post(f"{url}/verify", data={"csrf": csrf})
    assert empty.status_code == 400
    ticked = web.post(
        f"{url}/verify", data={"csrf": csrf, "fields": ["item_3", "item_4"]}, follow_redirects=False
    )
    assert ticked.status_code == 303
    whole = web.post(f"{url}/verify", data={"csrf": csrf, "whole": "yes"}, follow_redirects=False)
    assert whole.status_code == 303
    assert "Source-verified by mon-a" in web.get(url).text
    nothing = web.get("/subjects/S01/visits/W-6/spirometry")
    assert "Nothing is recorded" in nothing.text
    with make_session_factory(engine)() as session:
        fields = set(session.scalars(sa.select(SourceVerification.field)))
    assert fields == {"", "item_3", "item_4"}
    coordinator = _csrf(web, "coord-a")
    assert web.post(f"{url}/verify", data={"csrf": coordinator, "whole": "yes"}).status_code == 403
    assert 'id="entry-form"' in web.get(url).text  # the coordinator still enters data
    board = web.get("/dashboard").text.split('id="sdv-sites"')[1].split("</table>")[0]
    assert "<td>A</td><td>1</td><td>1</td><td>100</td>" in board
