"""The web application's accounts, sessions and site boundaries (FastAPI TestClient, real
store on both back ends). Browser tests come with the forms."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from alstrial.services.accounts import MAX_FAILED_LOGINS, create_account
from alstrial.store import make_session_factory
from alstrial.web.app import create_app
from alstrial.web.security import COOKIE
from tests.helpers import ACTOR, DAY0, enrolled, post_login

PASSWORD = "correct horse battery"


@pytest.fixture
def web(engine: Engine) -> Iterator[TestClient]:
    with make_session_factory(engine)() as session:
        enrolled(session, "S01")  # site A
        from tests.helpers import register

        register(session, "S02", site="B")
        for username, role, sites in (
            ("coord-a", "coordinator", ["A"]),
            ("coord-b", "coordinator", ["B"]),
            ("monitor-a", "monitor", ["A"]),
            ("stats", "statistician", []),
            ("admin", "administrator", []),
        ):
            create_account(
                session, actor=ACTOR, username=username, role=role, sites=sites, password=PASSWORD
            )
    app = create_app(
        engine, secret_key="test-secret-key-long-enough-0123456789abcdefghij", secure_cookies=False
    )
    with TestClient(app) as client:
        yield client


def login(client: TestClient, username: str, password: str = PASSWORD) -> int:
    return int(post_login(client, username, password).status_code)


def test_login_and_site_boundary(web: TestClient) -> None:
    assert login(web, "coord-a", "wrong password") == 401
    assert login(web, "nobody", "wrong password") == 401
    assert login(web, "coord-a") == 303
    page = web.get("/").text
    assert "S01" in page
    assert "S02" not in page
    assert [s["study_code"] for s in web.get("/api/subjects").json()] == ["S01"]
    assert web.get("/subjects/S01").status_code == 200
    assert web.get("/subjects/S02").status_code == 404
    assert web.get("/api/subjects/S02").status_code == 404
    assert web.get("/api/subjects/S01").json()["subject"] == "S01"
    assert login(web, "coord-b") == 303
    assert [s["study_code"] for s in web.get("/api/subjects").json()] == ["S02"]
    assert web.get("/api/subjects/S01").status_code == 404
    assert login(web, "admin") == 303
    assert {s["study_code"] for s in web.get("/api/subjects").json()} == {"S01", "S02"}


def test_roles(web: TestClient) -> None:
    """A statistician exports but does not browse subjects: 403 on pages and API alike."""
    assert login(web, "stats") == 303
    assert web.get("/api/subjects").status_code == 403
    assert web.get("/").status_code == 403
    assert login(web, "monitor-a") == 303
    assert web.get("/api/subjects/S01").status_code == 200


def test_sessions_and_csrf(web: TestClient) -> None:
    web.cookies.clear()
    assert web.get("/api/subjects").status_code == 401
    assert web.get("/", follow_redirects=False).headers["location"] == "/login"
    login(web, "coord-a")
    cookie = web.cookies.get(COOKIE)
    assert cookie
    web.cookies.clear()
    web.cookies.set(COOKIE, cookie[:-2] + ("xx" if not cookie.endswith("xx") else "yy"))
    assert web.get("/api/subjects").status_code == 401
    login(web, "coord-a")
    assert web.post("/logout", data={"csrf": "forged"}).status_code == 403
    token = web.get("/").text.split('name="csrf" value="')[1].split('"')[0]
    response = web.post("/logout", data={"csrf": token}, follow_redirects=False)
    assert response.status_code == 303


def test_login_throttling(web: TestClient) -> None:
    for _ in range(MAX_FAILED_LOGINS):
        assert login(web, "coord-a", "wrong password") == 401
    response = post_login(web, "coord-a", PASSWORD)
    assert response.status_code == 401
    assert "locked" in response.text


def csrf_of(client: TestClient) -> str:
    return client.get("/").text.split('name="csrf" value="')[1].split('"')[0]


def test_queries_and_signature_through_the_web(web: TestClient, engine: Engine) -> None:
    """A monitor opens a query on S01 (site A); a coordinator of site B cannot see or answer
    it (404); the coordinator of A answers; the monitor closes. Signing needs an
    investigator's role and password."""
    with make_session_factory(engine)() as session:
        create_account(
            session,
            actor=ACTOR,
            username="inv-a",
            role="investigator",
            sites=["A"],
            password=PASSWORD,
        )
        from alstrial.services import record_alsfrs
        from tests.helpers import DAY0, FULL_ITEMS

        record_alsfrs(
            session,
            actor=ACTOR,
            subject_code="S01",
            visit_code="W-6",
            assessment_date=DAY0 - timedelta(days=42),
            items=FULL_ITEMS,
        )
    login(web, "monitor-a")
    form = {
        "subject": "S01",
        "record_table": "alsfrs_assessment",
        "record_id": "1",
        "field": "item_3",
        "text": "please check item 3",
    }
    assert web.post("/queries", data=form).status_code == 403  # no CSRF token
    token = csrf_of(web)
    # Issue 15: a record or a field that does not exist is refused, not stored.
    missing = web.post("/queries", data=form | {"record_id": "999", "csrf": token})
    assert missing.status_code == 404
    assert "no alsfrs_assessment record 999" in missing.text
    bogus = web.post("/queries", data=form | {"field": "item_99", "csrf": token})
    assert bogus.status_code == 422
    assert "has no field" in bogus.text
    # The query is opened from the field on the record's read-only page, and returns there.
    record = web.get("/subjects/S01/visits/W-6/alsfrs").text
    assert 'form="query-item_3"' in record
    back = "/subjects/S01/visits/W-6/alsfrs"
    opened = web.post("/queries", data=form | {"csrf": token, "back": back}, follow_redirects=False)
    assert opened.status_code == 303
    assert opened.headers["location"] == back
    assert "please check item 3" in web.get(back).text.split('id="value-item_3"')[1]
    assert "1 query open" in web.get("/subjects/S01").text.split('id="visit-W-6"')[1]
    login(web, "coord-a")
    entry = web.get(back).text  # the coordinator's form shows the query at its field
    assert 'id="query-at-item_3-1"' in entry
    assert (
        "please check item 3" in entry.split('id="field-item_3"')[1].split('id="field-item_4"')[0]
    )
    login(web, "monitor-a")
    token = csrf_of(web)
    mistaken = web.post(
        "/queries",
        data=form | {"field": "item_4", "text": "wrong field", "csrf": token},
        follow_redirects=False,
    )
    assert mistaken.status_code == 303
    assert "Open a query" not in web.get("/queries").text  # no ids typed any more
    cancelled = web.post(
        "/queries/2/cancel",
        data={"reason": "meant item 3", "csrf": token},
        follow_redirects=False,
    )
    assert cancelled.status_code == 303
    assert "cancelled: meant item 3" in web.get("/queries").text
    assert "please check item 3" in web.get("/queries").text
    login(web, "coord-b")
    assert "please check item 3" not in web.get("/queries").text
    response = web.post("/queries/1/answer", data={"answer": "x", "csrf": csrf_of(web)})
    assert response.status_code == 404
    login(web, "coord-a")
    assert web.post("/queries/1/close", data={"csrf": csrf_of(web)}).status_code == 403
    assert (
        web.post(
            "/queries/1/answer",
            data={"answer": "corrected", "csrf": csrf_of(web)},
            follow_redirects=False,
        ).status_code
        == 303
    )
    login(web, "monitor-a")
    assert (
        web.post(
            "/queries/1/close", data={"csrf": csrf_of(web)}, follow_redirects=False
        ).status_code
        == 303
    )
    assert "closed" in web.get("/queries").text
    login(web, "coord-a")
    sign = "/subjects/S01/visits/W-6/sign"
    assert web.post(sign, data={"password": PASSWORD, "csrf": csrf_of(web)}).status_code == 403
    login(web, "inv-a")
    token = csrf_of(web)
    wrong = web.post(sign, data={"password": "wrong password", "csrf": token})
    assert wrong.status_code == 403
    # Issue 15: the refusal keeps the subject's page, with the message at the password field.
    assert 'id="sign-error-W-6"' in wrong.text
    assert 'aria-describedby="sign-error-W-6"' in wrong.text
    assert 'id="visits"' in wrong.text
    incomplete = web.post(sign, data={"password": PASSWORD, "csrf": token})
    assert incomplete.status_code == 409
    assert (
        "is not complete: physical_exam, spirometry, labs, vitals neither recorded nor marked "
        "not done" in (incomplete.text.split('id="sign-error-W-6">')[1])
    )
    login(web, "coord-a")
    token = csrf_of(web)
    not_done = "/subjects/S01/visits/W-6/not_done"
    assert 'name="assessment"' in web.get(not_done).text
    for assessment in ("physical_exam", "spirometry", "labs", "vitals"):
        saved = web.post(
            not_done,
            data={"assessment": assessment, "reason": "patient too tired", "csrf": token},
            follow_redirects=False,
        )
        assert saved.status_code == 303, saved.text
    twice = web.post(not_done, data={"assessment": "labs", "reason": "again", "csrf": token})
    assert twice.status_code == 400
    assert "marked not done already" in twice.text
    unscheduled = web.post(not_done, data={"assessment": "mri", "reason": "r", "csrf": token})
    assert unscheduled.status_code == 400
    assert "does not schedule &#39;mri&#39;" in unscheduled.text
    page = web.get("/subjects/S01").text
    assert "not done (patient too tired)" in page
    login(web, "inv-a")
    token = csrf_of(web)
    assert (
        web.post(
            sign, data={"password": PASSWORD, "csrf": token}, follow_redirects=False
        ).status_code
        == 303
    )
    assert "signed by inv-a" in web.get("/subjects/S01").text


def test_alsfrs_form_errors_at_the_field_then_saves(web: TestClient, engine: Engine) -> None:
    """A coordinator enters an ALSFRS-R with item 3 = 7: the form comes back (400) with the
    error at item 3 and nothing saved; corrected, it saves; a later change needs a reason.
    Another site's coordinator gets 404; a monitor 403."""
    import sqlalchemy as sa

    from alstrial.store.models import AlsfrsAssessment
    from tests.helpers import DAY0

    day = (DAY0 - timedelta(days=42)).isoformat()
    url = "/subjects/S01/visits/W-6/alsfrs"
    login(web, "coord-a")
    assert web.get(url).status_code == 200
    items = {f"item_{n}": "4" for n in range(1, 13) if n != 5} | {"item_5a": "4"}
    form = {"assessment_date": day, "csrf": csrf_of(web)} | items
    bad = web.post(url, data=form | {"item_3": "7"})
    assert bad.status_code == 400
    assert 'data-field="item_3"' in bad.text
    with make_session_factory(engine)() as session:
        assert session.scalars(sa.select(AlsfrsAssessment)).first() is None
    assert web.post(url, data=form, follow_redirects=False).status_code == 303
    again = web.post(url, data=form | {"item_3": "3"})
    assert again.status_code == 400
    assert "give a reason" in again.text
    assert (
        web.post(
            url, data=form | {"item_3": "3", "reason": "source says 3"}, follow_redirects=False
        ).status_code
        == 303
    )
    with make_session_factory(engine)() as session:
        assert session.scalars(sa.select(AlsfrsAssessment)).one().total == 47
    login(web, "coord-b")
    assert web.get(url).status_code == 404
    login(web, "monitor-a")
    seen = web.get(url)  # issue 15: read-only for the monitor, no longer a 403
    assert seen.status_code == 200
    assert 'id="entry-form"' not in seen.text
    assert web.post(url, data={"csrf": csrf_of(web)}).status_code == 403


def test_qualitative_lab_and_checklist_forms(web: TestClient, engine: Engine) -> None:
    """The serology and checklist forms save through their services; an unknown result is
    refused at its field with nothing written; a second checklist needs a reason."""
    import sqlalchemy as sa

    from alstrial.store.models import QualitativeLabResult
    from alstrial.store.models.safety import ChecklistReview
    from tests.helpers import DAY0

    login(web, "coord-a")
    token = csrf_of(web)
    url = "/subjects/S01/visits/W-6/qualitative_lab"
    lab = {"sample_date": (DAY0 - timedelta(days=42)).isoformat(), "csrf": token}
    bad = web.post(url, data=lab | {"test": "serology: HBsAg", "result": "maybe"})
    assert bad.status_code == 400
    assert 'data-field="result"' in bad.text
    ok = web.post(
        url, data=lab | {"test": "serology: HBsAg", "result": "negative"}, follow_redirects=False
    )
    assert ok.status_code == 303
    checklist = "/subjects/S01/visits/M2/checklist"
    form = {"reviewed_on": (DAY0 + timedelta(days=61)).isoformat(), "none_reported": "yes"}
    form["csrf"] = token
    assert web.post(checklist, data=form, follow_redirects=False).status_code == 303
    again = web.post(checklist, data=form)
    assert again.status_code == 400
    assert "give a reason" in again.text
    with make_session_factory(engine)() as session:
        results = session.scalars(sa.select(QualitativeLabResult)).all()
        assert [(r.test, r.result) for r in results] == [("HBsAg", "negative")]
        assert session.scalars(sa.select(ChecklistReview)).one().none_reported is True


def test_registration_screening_and_enrolment_refuse_bad_input(
    web: TestClient, engine: Engine
) -> None:
    """Each bad value comes back at its field (400) and writes nothing; good values register,
    screen (each criterion shown) and enrol."""
    from tests.helpers import ENROLMENT, row_counts

    login(web, "coord-a")
    token = csrf_of(web)
    subject = {
        "csrf": token,
        "study_code": "S03",
        "site": "A",
        "sex": "female",
        "age_years": "fifty",
        "onset_region": "limb",
        "riluzole": "yes",
        "onset_date": "2022-01-10",
        "diagnostic_category": "definite",
    }
    with make_session_factory(engine)() as session:
        before = row_counts(session)
    for field, value in (("age_years", "fifty"), ("age_years", "12"), ("site", "B")):
        refused = web.post("/subjects/new", data=subject | {field: value})
        assert refused.status_code == 400, (field, value)
        assert f'id="err-{field}">' in refused.text
        assert f'id="err-{field}"></span>' not in refused.text, (field, value)
    with make_session_factory(engine)() as session:
        assert row_counts(session) == before
    created = web.post("/subjects/new", data=subject | {"age_years": "50"}, follow_redirects=False)
    assert created.headers["location"] == "/subjects/S03/screening"
    screening = {
        "csrf": token,
        "screening_date": ENROLMENT.isoformat(),
        "familial_als": "no",
        "alsfrs_total": "38",
        "fvc_percent_predicted": "80",
        "concomitant_disease": "no",
        "immunotherapy_last_6_months": "no",
    }
    with make_session_factory(engine)() as session:
        before = row_counts(session)
    bad = web.post("/subjects/S03/screening", data=screening | {"alsfrs_total": "abc"})
    assert bad.status_code == 400
    assert "not a number" in bad.text.split('id="err-alsfrs_total">')[1].split("<")[0]
    with make_session_factory(engine)() as session:
        assert row_counts(session) == before
    assert web.post("/subjects/S03/screening", data=screening).status_code == 200
    page = web.get("/subjects/S03/screening").text
    assert 'id="eligibility" class="pass">eligible' in page
    enrol = {"csrf": token, "enrolment_date": ENROLMENT.isoformat()}
    enrol["planned_administration_date"] = (ENROLMENT + timedelta(days=50)).isoformat()
    unknown_arm = web.post("/subjects/S03/enrol", data=enrol | {"arm": "XX"})
    assert unknown_arm.status_code == 400
    assert "is not one of the choices (IV = Intravenous BM-MSC, IT = " in unknown_arm.text
    done = web.post("/subjects/S03/enrol", data=enrol | {"arm": "IT"}, follow_redirects=False)
    assert done.headers["location"] == "/subjects/S03"


def test_token_days_must_be_a_number(web: TestClient, engine: Engine) -> None:
    from alstrial.store.models import ApiToken

    login(web, "stats")
    response = web.post("/tokens", data={"name": "x", "days": "many", "csrf": csrf_of_page(web)})
    assert response.status_code == 400
    assert "days must be a whole number" in response.text
    with make_session_factory(engine)() as session:
        assert session.query(ApiToken).count() == 0


def csrf_of_page(client: TestClient, url: str = "/tokens") -> str:
    return client.get(url).text.split('name="csrf" value="')[1].split('"')[0]


def test_casebook_signature_through_the_web(web: TestClient, engine: Engine) -> None:
    """The subject page says what stops the casebook being signed; once complete, only an
    investigator with his password signs it; a later entry needs a reason (asked at the
    field) and removes the signature."""
    import sqlalchemy as sa

    from alstrial.services import record_alsfrs
    from alstrial.store.models import CasebookSignature, VitalSigns
    from tests.helpers import DAY0, FULL_ITEMS, withdraw_and_close_visits

    w6 = DAY0 - timedelta(days=42)
    with make_session_factory(engine)() as session:
        create_account(
            session,
            actor=ACTOR,
            username="inv-a",
            role="investigator",
            sites=["A"],
            password=PASSWORD,
        )
        record_alsfrs(
            session,
            actor=ACTOR,
            subject_code="S01",
            visit_code="W-6",
            assessment_date=w6,
            items=FULL_ITEMS,
        )
    login(web, "inv-a")
    page = web.get("/subjects/S01").text
    assert "Not ready to sign" in page
    assert "no disposition is recorded" in page
    assert "Sign the casebook" not in page
    refused = web.post("/subjects/S01/sign", data={"password": PASSWORD, "csrf": csrf_of(web)})
    assert refused.status_code == 409
    with make_session_factory(engine)() as session:
        withdraw_and_close_visits(session)
    assert "Sign the casebook" in web.get("/subjects/S01").text
    login(web, "coord-a")
    assert "Sign the casebook" not in web.get("/subjects/S01").text
    sign = {"password": PASSWORD, "csrf": csrf_of(web)}
    assert web.post("/subjects/S01/sign", data=sign).status_code == 403
    login(web, "inv-a")
    token = csrf_of(web)
    assert (
        web.post("/subjects/S01/sign", data={"password": "wrong password", "csrf": token})
    ).status_code == 403
    response = web.post(
        "/subjects/S01/sign", data={"password": PASSWORD, "csrf": token}, follow_redirects=False
    )
    assert response.status_code == 303
    assert "Signed by inv-a" in web.get("/subjects/S01").text
    assert web.get("/api/subjects/S01").json()["casebook"]["signed_by"] == "inv-a"

    login(web, "coord-a")
    url = "/subjects/S01/visits/W-6/vitals"
    assert "The casebook is signed by inv-a" in web.get(url).text
    form = {"measured_at": f"{w6.isoformat()}T10:00", "heart_rate_bpm": "72", "csrf": csrf_of(web)}
    locked = web.post(url, data=form)
    assert locked.status_code == 400
    assert 'data-field="reason"' in locked.text
    assert "casebook of S01 is signed" in locked.text
    with make_session_factory(engine)() as session:
        assert session.scalars(sa.select(VitalSigns)).first() is None
        assert session.scalars(sa.select(CasebookSignature)).first() is not None
    saved = web.post(
        url, data=form | {"reason": "late entry from the source"}, follow_redirects=False
    )
    assert saved.status_code == 303
    with make_session_factory(engine)() as session:
        assert session.scalars(sa.select(CasebookSignature)).first() is None
    assert web.get("/api/subjects/S01").json()["casebook"]["signed_by"] is None


@pytest.mark.parametrize(
    ("username", "home", "shown", "hidden"),
    [
        ("coord-a", "/", ["/queries", "/dashboard"], ["/report", "/batches"]),
        ("monitor-a", "/", ["/queries", "/batches"], ["/report"]),
        ("stats", "/tokens", ["/report", "/tokens"], ['href="/"', "/queries", "/batches"]),
        ("admin", "/", ["/report", "/batches"], []),
    ],
)
def test_navigation_and_landing_follow_the_role(
    web: TestClient, username: str, home: str, shown: list[str], hidden: list[str]
) -> None:
    # Issue 15: a statistician landed on a 403 page after logging in; a coordinator was
    # offered Batches and an administrator pages his role may not open.
    response = post_login(web, username, PASSWORD)
    assert response.headers["location"] == home
    landing = web.get(home)
    assert landing.status_code == 200
    nav = landing.text.split("<nav>")[1].split("</nav>")[0]
    for link in shown:
        assert link in nav, (username, link)
    for link in hidden:
        assert link not in nav, (username, link)


def test_error_pages_keep_the_navigation(web: TestClient) -> None:
    post_login(web, "coord-a", PASSWORD)
    refused = web.get("/batches")  # a coordinator may not see batches
    assert refused.status_code == 403
    assert "<nav>" in refused.text
    assert "coord-a (coordinator)" in refused.text
    missing = web.get("/subjects/NOPE")
    assert missing.status_code == 404
    assert "<nav>" in missing.text


def test_the_report_opens_from_the_web_for_study_wide_roles(web: TestClient) -> None:
    post_login(web, "stats", PASSWORD)
    report = web.get("/report")
    assert report.status_code == 200
    assert "Table 1" in report.text
    csp = report.headers["content-security-policy"]
    assert "script-src" not in csp  # default-src 'none': no script may run
    assert "default-src 'none'" in csp
    post_login(web, "coord-a", PASSWORD)
    assert web.get("/report").status_code == 403


def test_adverse_event_list_and_follow_up(web: TestClient, engine: Engine) -> None:
    """Issue 15: a saved AE appears on the subject's page with a link; its follow-up starts
    from the saved values, needs a reason, keeps the earlier version in the history, and an
    upgrade to serious starts the expedited-report clocks. A monitor sees it read-only."""
    from alstrial.store.models import AdverseEvent, SaeNotification

    login(web, "coord-a")
    token = csrf_of(web)
    onset = (DAY0 + timedelta(days=3)).isoformat()
    report = {
        "term": "Back pain",
        "category": "Musculoskeletal",
        "onset_date": onset,
        "severity_grade": "2",
        "relatedness": "possible",
        "outcome": "not_recovered",
        "csrf": token,
    }
    # Serious and expected are questions nobody may skip: no default answers them (issue 17).
    unanswered = web.post("/subjects/S01/forms/adverse_event", data=report)
    assert unanswered.status_code == 400
    for name in ("serious", "expected"):
        at = unanswered.text.split(f'id="err-{name}">')[1].split("</span>")[0]
        assert "required" in at, name
        radios = unanswered.text.split(f'id="field-{name}"')[1].split("</fieldset>")[0]
        assert f'id="{name}-yes"' in radios
        assert f'id="{name}-no"' in radios
        assert "checked" not in radios
    report |= {"serious": "no", "expected": "no"}
    saved = web.post("/subjects/S01/forms/adverse_event", data=report, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    page = web.get("/subjects/S01").text
    assert 'id="ae-list"' in page
    assert "Back pain" in page
    with make_session_factory(engine)() as session:
        event_id = session.scalars(sa.select(AdverseEvent.id)).one()
    url = f"/subjects/S01/adverse-events/{event_id}"
    assert f'href="{url}"' in page
    form = web.get(url).text
    assert 'value="Back pain"' in form  # a follow-up starts from what is saved
    assert '<option value="not_recovered" selected' in form
    follow = report | {"outcome": "recovered", "end_date": (DAY0 + timedelta(days=9)).isoformat()}
    no_reason = web.post(url, data=follow)
    assert no_reason.status_code == 400
    assert 'data-field="reason"' in no_reason.text
    assert '<option value="recovered" selected' in no_reason.text  # what was typed is kept
    done = web.post(url, data=follow | {"reason": "phone call 2024-03-10"}, follow_redirects=False)
    assert done.status_code == 303
    history = web.get(url).text.split('id="ae-history"')[1]
    assert "not_recovered" in history
    assert "phone call 2024-03-10" in history
    unchanged = web.post(url, data=follow | {"reason": "again"})
    assert unchanged.status_code == 400
    assert "changes nothing" in unchanged.text
    serious = follow | {
        "serious": "yes",
        "seriousness": "hospitalisation",
        "severity_grade": "3",
        "reason": "admitted for pain control",
    }
    assert web.post(url, data=serious, follow_redirects=False).status_code == 303
    with make_session_factory(engine)() as session:
        event = session.get(AdverseEvent, event_id)
        assert event is not None
        assert (event.serious, event.severity_grade, event.outcome.value) == (True, 3, "recovered")
        assert session.scalars(sa.select(SaeNotification)).all()
    login(web, "monitor-a")
    seen = web.get(url)
    assert seen.status_code == 200
    assert 'id="entry-form"' not in seen.text
    assert ">View<" in web.get("/subjects/S01").text
    assert web.post(url, data=follow | {"csrf": csrf_of(web), "reason": "x"}).status_code == 403
    login(web, "coord-b")
    assert web.get(url).status_code == 404


def test_an_administrators_pages(web: TestClient, engine: Engine) -> None:
    """Issue 15, item 9: users and sites managed in the browser, each change audited with its
    reason; a one-time password shown once; a locked user unlocked."""
    from alstrial.store.audit import AuditEvent
    from alstrial.store.models import Site, User

    for _ in range(MAX_FAILED_LOGINS):
        login(web, "coord-b", "not the password at all")
    assert login(web, "coord-b") != 303  # locked
    login(web, "admin")
    token = csrf_of(web)
    users = web.get("/admin/users").text
    assert 'href="/admin/users"' in users  # in the administrator's navigation
    assert "locked" in users.split('id="user-coord-b"')[1].split("</tr>")[0]
    added = web.post(
        "/admin/users",
        data={"username": "nurse-a", "role": "coordinator", "sites": "A", "csrf": token},
    )
    assert added.status_code == 200
    secret = added.text.split('id="one-time-password">')[1].split("<")[0]
    assert len(secret) >= 15
    assert secret not in web.get("/admin/users").text  # shown once
    twice = web.post(
        "/admin/users", data={"username": "nurse-a", "role": "coordinator", "csrf": token}
    )
    assert twice.status_code == 409
    assert "exists already" in twice.text
    assert web.post("/admin/users/coord-b/unlock", data={"csrf": token}).status_code == 200
    no_reason = web.post("/admin/users/coord-a/disable", data={"csrf": token})
    assert no_reason.status_code == 400
    assert "say why" in no_reason.text
    self_disable = web.post("/admin/users/admin/disable", data={"csrf": token, "reason": "x"})
    assert self_disable.status_code == 400
    reason = "left the study team"
    assert (
        web.post("/admin/users/coord-a/disable", data={"csrf": token, "reason": reason}).status_code
        == 200
    )
    granted = web.post(
        "/admin/users/nurse-a/grant",
        data={"csrf": token, "role": "investigator", "sites": "B", "reason": "covers site B"},
    )
    assert granted.status_code == 200
    reset = web.post("/admin/users/nurse-a/reset", data={"csrf": token, "reason": "forgotten"})
    assert 'id="one-time-password"' in reset.text
    site = web.post("/admin/sites", data={"code": "C", "name": "Third site", "csrf": token})
    assert site.status_code == 200
    assert 'id="site-C"' in site.text
    assert (
        web.post("/admin/sites", data={"code": "C", "name": "x", "csrf": token}).status_code == 409
    )
    login(web, "coord-b")  # unlocked: he logs in again
    assert web.get("/").status_code == 200
    assert web.get("/admin/users").status_code == 403
    assert (
        web.post("/admin/sites", data={"code": "D", "name": "x", "csrf": csrf_of(web)}).status_code
        == 403
    )
    with make_session_factory(engine)() as session:
        nurse = session.scalars(sa.select(User).where(User.username == "nurse-a")).one()
        assert nurse.role.value == "investigator"
        assert nurse.must_change_password
        assert session.scalars(sa.select(Site.code).order_by(Site.code)).all() == ["A", "B", "C"]
        reasons = set(session.scalars(sa.select(AuditEvent.reason)))
    assert {reason, "covers site B", "forgotten"} <= reasons


def test_a_high_grade_lab_value_prompts_an_adverse_event(web: TestClient, engine: Engine) -> None:
    """Issue 15, item 7: an ALT of 250 U/L (grade 3) was stored with no prompt. Now the grade
    shows as it is typed, the save asks for a review, the AE form comes prefilled from the
    value, and the dashboard lists the value until it is reviewed."""
    from alstrial.store.models import LabSafetyReview

    w6 = (DAY0 - timedelta(days=42)).isoformat()
    login(web, "coord-a")
    token = csrf_of(web)
    # 300 U/L is 5.5 x the ULN of a man (55 U/L): grade 3 (250 is for a woman, ULN 45).
    form = {"sample_date": w6, "analyte": "ALT", "value": "300", "unit": "U/L", "csrf": token}
    live = web.post("/subjects/S01/visits/W-6/lab/check", data=form)
    assert "CTCAE grade" in live.text
    assert "3 (Alanine aminotransferase increased): at the alert grade" in live.text
    saved = web.post("/subjects/S01/visits/W-6/lab", data=form, follow_redirects=False)
    assert saved.status_code == 303
    prompt_url = saved.headers["location"]
    assert prompt_url.startswith("/subjects/S01/labs/")
    prompt = web.get(prompt_url).text
    assert 'id="prompt"' in prompt
    lab_id = prompt_url.split("/")[4]
    assert f'/subjects/S01/labs/{lab_id}/review"' in web.get("/dashboard").text
    report = web.get(f"/subjects/S01/forms/adverse_event?from_lab={lab_id}").text
    assert 'value="Alanine aminotransferase increased"' in report
    assert '<option value="3" selected' in report
    assert "Prefilled from ALT 300 U/L" in report
    posted = web.post(
        "/subjects/S01/forms/adverse_event",
        data={
            "term": "Alanine aminotransferase increased",
            "category": "Investigations",
            "onset_date": w6,
            "severity_grade": "3",
            "relatedness": "unlikely",
            "outcome": "recovering",
            "serious": "no",
            "expected": "no",
            "from_lab": lab_id,
            "csrf": token,
        },
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text
    assert "awaiting review" in web.get("/dashboard").text
    assert f"/labs/{lab_id}/review" not in web.get("/dashboard").text
    with make_session_factory(engine)() as session:
        review = session.scalars(sa.select(LabSafetyReview)).one()
        assert (review.decision, review.reviewed_by) == ("reported", "coord-a")
    second = web.post(
        "/subjects/S01/visits/W-4/lab",
        data=form | {"analyte": "AST", "sample_date": (DAY0 - timedelta(days=28)).isoformat()},
        follow_redirects=False,
    )
    url = second.headers["location"]
    blank = web.post(url, data={"decision": "not_an_ae", "note": "", "csrf": token})
    assert blank.status_code == 400
    assert "say why" in blank.text
    done = web.post(
        url,
        data={"decision": "not_an_ae", "note": "haemolysed sample", "csrf": token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert 'id="high-grades-none"' in web.get("/dashboard").text
    normal = web.post(
        "/subjects/S01/visits/W-2/lab",
        data=form | {"value": "30", "sample_date": (DAY0 - timedelta(days=14)).isoformat()},
        follow_redirects=False,
    )
    assert normal.headers["location"] == "/subjects/S01"  # below the alert grade: no prompt


def test_no_clinical_field_arrives_chosen(web: TestClient) -> None:
    """Issue 17: required fields came pre-filled with values nobody chose (sex male, onset
    bulbar, AE grade 1, not related, recovered, route intravenous, item 5 as 5a). Every new
    form, built-in or the protocol's own, opens with nothing chosen."""
    import re

    from alstrial.web.forms import FORMS

    login(web, "coord-a")
    pages = ["/subjects/new", "/subjects/S01/screening"]
    for name, spec in FORMS.items():
        if spec.scope == "visit" and not spec.corrects and name not in ("visit_date", "missed"):
            pages.append(f"/subjects/S01/visits/W-6/{name}")
        elif spec.scope == "visit":
            pages.append(f"/subjects/S01/visits/D0/{name}")
        elif spec.scope == "subject":
            pages.append(f"/subjects/S01/forms/{name}")
    pages += ["/subjects/S01/crf/physical_exam?visit=W-6", "/subjects/S01/crf/family_history"]
    for url in pages:
        page = web.get(url)
        assert page.status_code == 200, url
        chosen = re.findall(r'<option value="([^"]+)"[^>]* selected', page.text)
        # A select whose first option has a value shows that value as chosen.
        chosen += [
            m.group(2)
            for m in re.finditer(r'<select id="([^"]+)"[^>]*>\s*<option value="([^"]*)"', page.text)
            if m.group(2)
        ]
        checked = re.findall(r'<input type="radio"[^>]*value="([^"]+)"[^>]* checked', page.text)
        assert not chosen, (url, chosen)
        assert not checked, (url, checked)


def test_the_alsfrs_form_offers_each_items_published_wording(web: TestClient) -> None:
    """Issue 17: ALSFRS-R items were text boxes labelled "0-4". Each item is now a radio group
    whose five choices carry the scale's wording as declared (Cedarbaum 1999, Table 1; item
    12's anchors as in ../shared/clinical-reference/README.md), 4 first."""
    import re

    from alstrial.web.forms import DECLARED

    login(web, "coord-a")
    page = web.get("/subjects/S01/visits/W-6/alsfrs").text
    items = [f for f in DECLARED["alsfrs"].fields if f.name.startswith("item_")]
    assert len(items) == 13  # items 1-12 with 5a and 5b
    for item in items:
        radios = re.findall(rf'<input type="radio" id="{item.name}-(\d)" name="{item.name}"', page)
        assert radios == ["4", "3", "2", "1", "0"], item.name
        for choice in item.choices:
            assert choice.label in page, (item.name, choice.code)
            assert choice.label.startswith(f"{choice.code}: ")
    assert "0: Invasive mechanical ventilation by intubation or tracheostomy" in page
    assert "1: Continuous use of BiPAP during the night and day" in page
    assert 'class="hint">0-4<' not in page


def test_alsfrs_item_5_needs_exactly_one_of_5a_and_5b(web: TestClient, engine: Engine) -> None:
    """Both 5a and 5b answered (or neither) is refused at item 5a, by the live check and the
    save alike, and nothing is written."""
    import sqlalchemy as sa

    from alstrial.store.models import AlsfrsAssessment
    from tests.helpers import DAY0

    login(web, "coord-a")
    url = "/subjects/S01/visits/W-6/alsfrs"
    data = {f"item_{n}": "4" for n in range(1, 13) if n != 5}
    data |= {"csrf": csrf_of(web), "assessment_date": (DAY0 - timedelta(days=42)).isoformat()}
    for extra, which in (({"item_5a": "3", "item_5b": "2"}, "both"), ({}, "neither")):
        live = web.post(url + "/check", data=data | extra).text
        saved = web.post(url, data=data | extra)
        assert saved.status_code == 400
        for text in (live, saved.text):
            message = text.split('id="err-item_5a"')[1].split("</span>")[0]
            assert f"{which} is answered" in message or f"{which} are answered" in message
    with make_session_factory(engine)() as session:
        assert session.scalars(sa.select(AlsfrsAssessment)).first() is None
    ok = web.post(url, data=data | {"item_5b": "2"}, follow_redirects=False)
    assert ok.status_code == 303
    with make_session_factory(engine)() as session:
        row = session.scalars(sa.select(AlsfrsAssessment)).one()
        assert (row.item_5a, row.item_5b) == (None, 2)
    read = web.get(url + "?read=1").text
    assert "2: Some help needed with closures and fasteners" in read


def test_a_form_saved_with_three_bad_fields_shows_all_three(web: TestClient) -> None:
    """Issue 17: a save reported one error at a time."""
    login(web, "coord-a")
    token = csrf_of(web)
    data = {"csrf": token, "item_3": "7", "item_4": "x", "item_5a": "3"}
    data |= {f"item_{n}": "3" for n in (1, 2, 6, 7, 8, 9, 10, 11, 12)}
    page = web.post("/subjects/S01/visits/W-6/alsfrs", data=data)
    assert page.status_code == 400
    for field in ("assessment_date", "item_3", "item_4"):
        message = page.text.split(f'id="err-{field}">')[1].split("</span>")[0]
        assert message, field
    assert "3 problems, nothing saved" in page.text


def test_the_live_check_and_the_save_agree(web: TestClient) -> None:
    """Issue 17: the live check skipped blank fields, so it and the save disagreed on which
    fields were wrong; both now read the form the same way."""
    login(web, "coord-a")
    token = csrf_of(web)
    data = {"csrf": token, "item_3": "7", "item_4": "x", "item_1": "4"}
    live = web.post("/subjects/S01/visits/W-6/alsfrs/check", data=data).text
    saved = web.post("/subjects/S01/visits/W-6/alsfrs", data=data).text

    def marked(page: str) -> set[str]:
        return {
            m.group(1)
            for m in re.finditer(r'id="err-([a-z0-9_]+)"[^>]*>([^<]+)</span>', page)
            if m.group(2).strip()
        }

    assert marked(live) == marked(saved)
    assert {"assessment_date", "item_3", "item_4", "item_5a", "item_12"} <= marked(live)
    assert "item_1" not in marked(live)


def test_the_statistician_downloads_an_export_as_a_zip(web: TestClient, engine: Engine) -> None:
    """Issue 19, item 6: the export page gives a zip of labelled files and the manifest;
    a bad cut is refused on the page by name; a site role may not export; each export is
    recorded under the user who made it."""
    import io
    import json
    import zipfile

    import sqlalchemy as sa

    from alstrial.store.audit import AuditEvent
    from alstrial.store.models import DataExport

    login(web, "coord-a")
    assert web.get("/export").status_code == 403
    web.cookies.clear()
    login(web, "stats")
    page = web.get("/export")
    assert page.status_code == 200
    assert 'value="spss"' in page.text
    token = csrf_of_page(web, "/export")
    bad = web.post("/export", data={"csrf": token, "format": "spss", "cut": "last week"})
    assert bad.status_code == 400
    assert "neither a time" in bad.text
    done = web.post("/export", data={"csrf": token, "format": "spss"})
    assert done.status_code == 200
    assert done.headers["content-type"] == "application/zip"
    assert ".zip" in done.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(done.content))
    names = set(archive.namelist())
    assert {"subjects.sav", "measures_wide.sav", "manifest.json"} <= names
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format"] == "spss"
    with make_session_factory(engine)() as session:
        assert [r.format for r in session.scalars(sa.select(DataExport))] == ["spss"]
        actors = session.scalars(
            sa.select(AuditEvent.actor).where(AuditEvent.entity == "data_export")
        ).all()
        assert actors == ["stats"]
    recent = web.get("/export").text.split('id="exports"')[1]
    assert "spss" in recent
    # The box for the subjects' attached files; this study has none, and the record says so.
    assert 'name="with_files"' in page.text
    boxed = web.post("/export", data={"csrf": token, "format": "csv", "with_files": "yes"})
    assert boxed.status_code == 200
    assert (
        json.loads(zipfile.ZipFile(io.BytesIO(boxed.content)).read("manifest.json"))[
            "attached_files"
        ]
        == 0
    )
    with make_session_factory(engine)() as session:
        counts = session.scalars(sa.select(DataExport.attached_files).order_by(DataExport.id))
        assert counts.all() == [0, 0]
