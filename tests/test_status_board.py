"""The record status dashboard (issue 15, item 1), on both back ends: each cell's status from
the records, queries, verifications, not-done marks and signatures; filters; the site
boundary; the same board as JSON."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from alstrial.services import open_query, record_alsfrs
from alstrial.services.accounts import create_account
from alstrial.services.completeness import mark_assessment_not_done
from alstrial.services.status_board import status_board
from alstrial.services.verification import verify_source
from alstrial.store import make_session_factory
from alstrial.web.app import create_app
from tests.helpers import ACTOR, DAY0, FULL_ITEMS, enrolled, post_login

PASSWORD = "correct horse battery"
W6 = DAY0 - timedelta(days=42)


def _fill(session: Session) -> None:
    enrolled(session, "S01", site="A")
    enrolled(session, "S02", site="A")
    enrolled(session, "S03", site="B")
    for code in ("S01", "S02", "S03"):
        rating = record_alsfrs(
            session,
            actor=ACTOR,
            subject_code=code,
            visit_code="W-6",
            assessment_date=W6,
            items=FULL_ITEMS,
        )
        if code == "S02":
            open_query(
                session,
                actor=ACTOR,
                subject_code=code,
                record_table="alsfrs_assessment",
                record_id=str(rating.id),
                field="item_3",
                text="check",
            )
    verify_source(session, actor=ACTOR, subject_code="S01", visit_code="W-6", form="alsfrs")
    mark_assessment_not_done(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="W-6",
        assessment="labs",
        reason="not drawn",
    )


def test_cells_take_the_first_status_that_applies(session: Session) -> None:
    _fill(session)
    board = status_board(session)
    column = {c: i for i, c in enumerate(board.columns)}
    rows = {r.subject: r.cells for r in board.rows}
    assert rows["S01"][column[("W-6", "alsfrs_r")]] == "verified"
    assert rows["S01"][column[("W-6", "labs")]] == "not_done"
    assert rows["S01"][column[("W-6", "spirometry")]] == "not_started"
    assert rows["S02"][column[("W-6", "alsfrs_r")]] == "queried"
    assert rows["S03"][column[("W-6", "alsfrs_r")]] == "complete"
    assert ("W-6", "eligibility") not in column  # screening, not a visit form: no cell
    # The protocol's own visit form (issue 17) has its cells like the built-in ones.
    assert rows["S01"][column[("W-6", "physical_exam")]] == "not_started"
    from alstrial.services.dictionary_forms import save_form_instance

    save_form_instance(
        session,
        actor=ACTOR,
        subject_code="S03",
        form="physical_exam",
        visit_code="W-6",
        entered={"exam_date": W6.isoformat(), "general": "normal", "new_symptoms": "no"},
    )
    board = status_board(session)
    assert {r.subject: r.cells for r in board.rows}["S03"][column[("W-6", "physical_exam")]] == (
        "complete"
    )
    assert board.counts["queried"] == 1
    only = status_board(session, status="queried")
    assert [r.subject for r in only.rows] == ["S02"]
    site_a = status_board(session, site="A", visit="W-6")
    assert [r.subject for r in site_a.rows] == ["S01", "S02"]
    assert {v for v, _ in site_a.columns} == {"W-6"}
    page = status_board(session, offset=1, limit=1)
    assert (page.total_subjects, [r.subject for r in page.rows]) == (3, ["S02"])


@pytest.fixture
def web(engine: Engine) -> Iterator[TestClient]:
    with make_session_factory(engine)() as session:
        _fill(session)
        create_account(
            session, actor=ACTOR, username="mon-a", role="monitor", sites=["A"], password=PASSWORD
        )
    app = create_app(
        engine, secret_key="test-secret-key-long-enough-0123456789abcdefghij", secure_cookies=False
    )
    with TestClient(app) as client:
        yield client


def test_the_board_in_the_browser_and_as_json(web: TestClient) -> None:
    assert post_login(web, "mon-a", PASSWORD).status_code == 303
    page = web.get("/status").text
    assert 'id="status-board"' in page
    assert 'id="row-S01"' in page
    assert 'id="row-S03"' not in page  # another site's subject
    assert 'href="/subjects/S02/visits/W-6/alsfrs"' in page
    assert 'class="cell queried"' in page
    filtered = web.get("/status", params={"status": "verified"}).text
    assert 'id="row-S01"' in filtered
    assert 'id="row-S02"' not in filtered
    data = web.get("/api/status", params={"visit": "W-6"}).json()
    assert data["subjects"] == 2
    assert {r["subject"] for r in data["rows"]} == {"S01", "S02"}
    first = {c["assessment"]: i for i, c in enumerate(data["columns"])}
    cells = {r["subject"]: r["cells"] for r in data["rows"]}
    assert cells["S02"][first["alsfrs_r"]] == "queried"
    assert web.get("/api/status", params={"status": "bogus"}).status_code == 422
