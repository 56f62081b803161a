"""Source data verification on both back ends: a monitor verifies a visit record or single
fields; a later change to a verified value removes that verification in the same audited
transaction (with the change's reason); the web shows the record read-only to the monitor."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

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


def _two_vitals_and_two_labs(session: Session) -> tuple[int, int]:
    """Vital signs twice at W-6 (before and after something) and two laboratory values."""
    from alstrial.services import record_lab, record_vitals
    from alstrial.services.safety import VitalsReading

    ids = []
    for hour, systolic in ((9, 120), (11, 85)):
        reading = VitalsReading(
            measured_at=datetime(W6.year, W6.month, W6.day, hour, tzinfo=UTC),
            systolic_mmhg=systolic,
            diastolic_mmhg=60,
        )
        row = record_vitals(
            session, actor=ACTOR, subject_code="S01", visit_code="W-6", reading=reading
        )
        ids.append(row.id)
    for analyte, value, unit in (("ALT", 30.0, "U/L"), ("creat", 80.0, "umol/L")):
        record_lab(
            session,
            actor=ACTOR,
            subject_code="S01",
            visit_code="W-6",
            sample_date=W6,
            analyte=analyte,
            value=value,
            unit=unit,
        )
    return ids[0], ids[1]


def test_each_record_of_a_form_is_verified_on_its_own(session: Session) -> None:
    """Issue 15: the read-only view, SDV and the status board knew only the first record of a
    form that saves several at a visit (vital signs twice, a laboratory value per analyte):
    verifying it marked the whole form verified, and progress counted one of two records."""
    from alstrial.services import record_lab, record_vitals
    from alstrial.services.safety import VitalsReading
    from alstrial.services.status_board import status_board
    from alstrial.services.verification import record_views, verify_form

    enrolled(session)
    first, second = _two_vitals_and_two_labs(session)
    views = record_views(session, "S01", "W-6", "vitals")
    assert [v.values["systolic_mmhg"] for v in views] == [120, 85]
    error = refused(
        session,
        ValidationError,
        lambda: verify_source(
            session, actor="mon", subject_code="S01", visit_code="W-6", form="vitals"
        ),
    )
    assert "2 records" in error.message
    assert str(second) in str(error.allowed)
    view = verify_source(
        session,
        actor="mon",
        subject_code="S01",
        visit_code="W-6",
        form="vitals",
        record_id=first,
    )
    assert view.record_id == first
    assert view.fully_verified

    def cell(assessment: str) -> str | None:
        board = status_board(session)
        return board.rows[0].cells[board.columns.index(("W-6", assessment))]

    assert cell("vitals") == "complete"  # one of two records verified is not the form
    assert [(p.records, p.verified) for p in verification_progress(session)] == [(4, 1)]
    views = verify_form(session, actor="mon", subject_code="S01", visit_code="W-6", form="vitals")
    assert all(v.fully_verified for v in views)
    assert cell("vitals") == "verified"
    verify_form(session, actor="mon", subject_code="S01", visit_code="W-6", form="lab")
    assert cell("labs") == "verified"
    assert [(p.records, p.verified) for p in verification_progress(session)] == [(4, 4)]
    refused(
        session,
        NotFoundError,
        lambda: verify_source(
            session,
            actor="mon",
            subject_code="S01",
            visit_code="W-6",
            form="vitals",
            record_id=second + 100,
        ),
    )
    # A third reading: the form is no longer verified as a whole; the two others still are.
    reading = VitalsReading(
        measured_at=datetime(W6.year, W6.month, W6.day, 15, tzinfo=UTC),
        systolic_mmhg=110,
        diastolic_mmhg=70,
    )
    record_vitals(session, actor=ACTOR, subject_code="S01", visit_code="W-6", reading=reading)
    assert cell("vitals") == "complete"
    assert [v.fully_verified for v in record_views(session, "S01", "W-6", "vitals")] == [
        True,
        True,
        False,
    ]
    # A correction of one analyte removes its verification only.
    record_lab(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="W-6",
        sample_date=W6,
        analyte="ALT",
        value=31.0,
        unit="U/L",
        reason="transcription",
    )
    labs = {
        v.values["analyte"]: v.fully_verified for v in record_views(session, "S01", "W-6", "lab")
    }
    assert labs == {"ALT": False, "CREAT": True}


def test_a_verification_from_before_records_were_named_covers_the_first(session: Session) -> None:
    """Verifications made before migration 0017 name no record: they cover the first record
    of their table at their visit, and any change to that table at that visit removes them
    (never more verified than the monitor saw)."""
    from alstrial.services import record_lab
    from alstrial.services.lookup import find_subject, find_visit
    from alstrial.services.transaction import transaction
    from alstrial.services.verification import record_views

    enrolled(session)
    _two_vitals_and_two_labs(session)
    visit = find_visit(session, find_subject(session, "S01"), "W-6")
    with transaction(session, actor="mon"):
        session.add(
            SourceVerification(
                visit_id=visit.id,
                record_table="lab_result",
                record_id=None,
                field="",
                verified_by="mon",
                verified_at=datetime.now(UTC),
            )
        )
    labs = record_views(session, "S01", "W-6", "lab")
    assert [v.fully_verified for v in labs] == [True, False]
    record_lab(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="W-6",
        sample_date=W6,
        analyte="creat",
        value=81.0,
        unit="umol/L",
        reason="transcription",
    )
    assert [v.fully_verified for v in record_views(session, "S01", "W-6", "lab")] == [False, False]
    assert session.scalar(sa.select(sa.func.count()).select_from(SourceVerification)) == 0


def test_the_monitor_verifies_several_records_of_a_form_on_the_web(
    web: TestClient, engine: Engine
) -> None:
    """The read-only page shows every record a form saved at the visit, each verifiable on its
    own, by field or all at once; the coordinator's entry form says how many are saved and
    links to them."""
    with make_session_factory(engine)() as session:
        first, second = _two_vitals_and_two_labs(session)
    url = "/subjects/S01/visits/W-6/vitals"
    csrf = _csrf(web, "mon-a")
    page = web.get(url).text
    assert f'id="record-{first}"' in page
    assert f'id="record-{second}"' in page
    assert "0 of 2 records source-verified" in page
    assert f'value="{second}:systolic_mmhg"' in page
    ticked = web.post(
        f"{url}/verify",
        data={"csrf": csrf, "fields": [f"{second}:systolic_mmhg"]},
        follow_redirects=False,
    )
    assert ticked.status_code == 303
    plain = web.post(f"{url}/verify", data={"csrf": csrf, "fields": ["systolic_mmhg"]})
    assert plain.status_code == 400
    assert "name the one to verify" in plain.text
    one = web.post(
        f"{url}/verify", data={"csrf": csrf, "record": str(first)}, follow_redirects=False
    )
    assert one.status_code == 303
    assert "1 of 2 records source-verified" in web.get(url).text
    whole = web.post(f"{url}/verify", data={"csrf": csrf, "whole": "yes"}, follow_redirects=False)
    assert whole.status_code == 303
    assert "Every record is source-verified" in web.get(url).text
    with make_session_factory(engine)() as session:
        marks = set(
            session.execute(sa.select(SourceVerification.record_id, SourceVerification.field))
        )
    assert marks == {(first, ""), (second, ""), (second, "systolic_mmhg")}
    _csrf(web, "coord-a")
    entry = web.get(url).text
    assert 'id="entry-form"' in entry
    assert 'value="85"' not in entry  # a new reading opens empty
    lab = web.get("/subjects/S01/visits/W-6/lab").text
    assert 'value="30.0"' not in lab  # not ALT's value offered for the next analyte
    assert "2 records of this form saved at this visit" in lab
    assert "2 records of this form saved at this visit" in entry
    read = web.get(f"{url}?read=1").text
    assert f'id="record-{second}"' in read
    assert 'id="entry-form"' not in read
