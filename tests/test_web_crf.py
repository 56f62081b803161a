"""The protocol's own forms on the web (issue 17): linked from the timeline, nothing
pre-filled, every problem at its field at once, the live check agreeing with the save,
branching, calculated values, soft-range confirmation, missing codes, repeating forms as a
list, read-only for the monitor, and a preview for the protocol's author."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from alstrial.services.accounts import create_account
from alstrial.services.dictionary_forms import form_instances
from alstrial.store import make_session_factory
from alstrial.vocabulary import Sex
from alstrial.web.app import create_app
from tests.helpers import ACTOR, enrolled, post_login
from tests.test_dictionary import protocol_text
from tests.test_dictionary_services import amend

PASSWORD = "correct horse battery"
EXAM = "/subjects/S01/crf/neuro_exam?visit=W-1"
MEDS = "/subjects/S01/crf/study_medication"


@pytest.fixture
def web(engine: Engine) -> Iterator[tuple[TestClient, Engine]]:
    with make_session_factory(engine)() as session:
        amend(session, protocol_text())
        enrolled(session, "S01", site="A")
        enrolled(session, "S02", site="A", sex=Sex.FEMALE)
        for username, role in (
            ("coord", "coordinator"),
            ("mon", "monitor"),
            ("stat", "statistician"),
        ):
            create_account(
                session,
                actor=ACTOR,
                username=username,
                role=role,
                sites=[] if role == "statistician" else ["A"],
                password=PASSWORD,
            )
    app = create_app(
        engine, secret_key="test-secret-key-long-enough-0123456789abcdefghij", secure_cookies=False
    )
    with TestClient(app) as client:
        yield client, engine


def _csrf(client: TestClient, username: str) -> str:
    assert post_login(client, username, PASSWORD).status_code == 303
    return client.get("/password").text.split('name="csrf" value="')[1].split('"')[0]


def test_a_visit_form_from_the_timeline_to_the_save(web: tuple[TestClient, Engine]) -> None:
    client, engine = web
    csrf = _csrf(client, "coord")
    timeline = client.get("/subjects/S01").text
    assert 'href="/subjects/S01/crf/neuro_exam?visit=W-1"' in timeline
    assert 'href="/subjects/S01/crf/study_medication"' in timeline
    page = client.get(EXAM).text
    assert " checked" not in page  # no clinical field arrives filled
    assert 'id="vis-pregnancy_test" class="visibility hide"' in page  # male subject
    assert "present" in page  # choices show their wording
    bad = {"csrf": csrf, "weight_kg": "700", "height_cm": "tall"}
    live = client.post("/subjects/S01/crf/neuro_exam/check", data=bad).text
    saved = client.post(EXAM, data=bad, follow_redirects=False)
    assert saved.status_code == 400
    for message in (
        "Weight: 700.0 kg is above maximum 250 kg",
        "Height: &#39;tall&#39; is not a whole number",
        "Fasciculations is required",
    ):
        assert message in live  # the live check and the save agree
        assert message in saved.text
    assert "3 problems" in live
    good = {"csrf": csrf, "weight_kg": "70", "height_cm": "175", "fasciculations": "1"}
    live = client.post("/subjects/S01/crf/neuro_exam/check", data=good).text
    assert '<output id="calc-bmi" for="bmi" hx-swap-oob="true">22.9</output>' in live
    assert "No problems so far" in live
    assert client.post(EXAM, data=good, follow_redirects=False).status_code == 303
    again = client.get(EXAM).text
    assert 'value="70.0"' in again
    assert 'name="reason"' in again  # a correction needs its reason
    refused = client.post(EXAM, data=good | {"weight_kg": "72"})
    assert refused.status_code == 400
    assert "needs a reason" in refused.text
    fixed = good | {"weight_kg": "72", "reason": "scale recalibrated"}
    assert client.post(EXAM, data=fixed, follow_redirects=False).status_code == 303
    with make_session_factory(engine)() as session:
        [saved_exam] = form_instances(session, "S01", "neuro_exam")
    assert saved_exam.values["bmi"] == 23.5


def test_branching_missing_codes_and_soft_ranges(web: tuple[TestClient, Engine]) -> None:
    client, engine = web
    csrf = _csrf(client, "coord")
    female = client.get("/subjects/S02/crf/neuro_exam?visit=W-1").text
    assert 'id="vis-pregnancy_test" class="visibility"' in female
    closed = {
        "csrf": csrf,
        "weight_kg": "60",
        "height_cm": "165",
        "missing__fasciculations": "not_done",
        "missing_reason__fasciculations": "patient too tired",
        "pregnancy_test": "no",
    }
    response = client.post(
        "/subjects/S02/crf/neuro_exam?visit=W-1", data=closed, follow_redirects=False
    )
    assert response.status_code == 303
    medication = {"csrf": csrf, "drug": "riluzole", "daily_dose_mg": "500"}
    soft = client.post(MEDS, data=medication)
    assert soft.status_code == 400
    assert "above the expected maximum 400 mg" in soft.text
    assert 'name="confirm__daily_dose_mg"' in soft.text
    confirmed = medication | {"confirm__daily_dose_mg": "yes"}
    assert client.post(MEDS, data=confirmed, follow_redirects=False).status_code == 303
    second = {"csrf": csrf, "drug": "baclofen", "daily_dose_mg": "30"}
    assert client.post(MEDS, data=second, follow_redirects=False).status_code == 303
    listed = client.get(MEDS).text
    assert 'id="instance-1"' in listed
    assert 'id="instance-2"' in listed
    assert "baclofen" in listed
    with make_session_factory(engine)() as session:
        exams = form_instances(session, "S02", "neuro_exam")
        meds = form_instances(session, "S01", "study_medication")
    assert exams[0].missing["fasciculations"].reason == "patient too tired"
    assert [m.values["drug"] for m in meds] == ["riluzole", "baclofen"]
    assert meds[0].confirmed == {"daily_dose_mg"}


def test_the_monitor_reads_and_the_author_previews(web: tuple[TestClient, Engine]) -> None:
    client, _ = web
    csrf = _csrf(client, "coord")
    good = {"csrf": csrf, "weight_kg": "70", "height_cm": "175", "fasciculations": "0"}
    assert client.post(EXAM, data=good, follow_redirects=False).status_code == 303
    _csrf(client, "mon")
    page = client.get(EXAM).text
    assert 'id="entry-form"' not in page
    assert 'id="value-1-bmi"' in page
    assert "absent" in page  # the choice's wording, not its code
    preview = client.get("/forms/neuro_exam/preview").text
    assert "Entered at visits W-1" in preview
    assert "shown if" in preview
    assert client.get("/forms/family/preview").status_code == 404


def test_the_statistician_exports_the_forms(web: tuple[TestClient, Engine]) -> None:
    client, _ = web
    csrf = _csrf(client, "coord")
    good = {"csrf": csrf, "weight_kg": "70", "height_cm": "175", "fasciculations": "0"}
    assert client.post(EXAM, data=good, follow_redirects=False).status_code == 303
    _csrf(client, "stat")
    rows = client.get("/api/export/forms").json()
    answer = next(r for r in rows if r["field"] == "fasciculations")
    assert (answer["subject"], answer["visit"], answer["value"]) == ("S01", "W-1", "0")
    assert answer["value_label"] == "absent"
    csv = client.get("/api/export/forms?format=csv").text
    assert csv.splitlines()[0].startswith("subject,arm,form,form_title,visit,instance,field")
    assert "Body-mass index" in csv


def test_the_monitor_queries_a_dictionary_field_and_the_site_sees_it(
    web: tuple[TestClient, Engine],
) -> None:
    """Queries on the protocol's own forms: opened at the field (a field the form does not
    have is refused), shown on the form being corrected and on the status board."""
    from alstrial.services.status_board import status_board

    client, engine = web
    csrf = _csrf(client, "coord")
    good = {"csrf": csrf, "weight_kg": "70", "height_cm": "175", "fasciculations": "0"}
    assert client.post(EXAM, data=good, follow_redirects=False).status_code == 303
    with make_session_factory(engine)() as session:
        [exam] = form_instances(session, "S01", "neuro_exam")
    monitor = _csrf(client, "mon")
    query = {
        "csrf": monitor,
        "subject": "S01",
        "record_table": "form_instance",
        "record_id": str(exam.id),
        "back": EXAM,
    }
    assert 'name="record_table" value="form_instance"' in client.get(EXAM).text
    opened = client.post("/queries", data=query | {"field": "weight_kg", "text": "source says 72"})
    assert opened.status_code == 200  # followed back to the form
    assert "source says 72" in opened.text
    wrong = client.post("/queries", data=query | {"field": "colour", "text": "?"})
    assert wrong.status_code == 422
    assert "Neurological examination has no field &#39;colour&#39;" in wrong.text
    assert "weight_kg" in wrong.text  # the fields it has are listed
    with make_session_factory(engine)() as session:
        board = status_board(session)
        cells = {r.subject: r.cells for r in board.rows}
        assert cells["S01"][board.columns.index(("W-1", "neuro_exam"))] == "queried"
    _csrf(client, "coord")
    assert "source says 72" in client.get(EXAM).text  # on the form being corrected


def test_blank_and_filled_forms_print(web: tuple[TestClient, Engine]) -> None:
    """The paper CRF a site keeps as source: blank from the protocol, filled from the store."""
    client, _ = web
    csrf = _csrf(client, "coord")
    blank = client.get("/forms/neuro_exam/print").text
    assert "Neurological examination" in blank
    assert "&#9746;" not in blank  # nothing ticked on a blank form
    assert "only if subject.sex" in blank
    good = {"csrf": csrf, "weight_kg": "70", "height_cm": "175", "fasciculations": "1"}
    assert client.post(EXAM, data=good, follow_redirects=False).status_code == 303
    filled = client.get("/subjects/S01/crf/neuro_exam/print?visit=W-1").text
    assert '<span class="filled">70.0</span> kg' in filled
    assert "&#9746;</span> present" in filled
    assert 'id="synthetic"' not in filled  # entered at the site, not generated
    assert 'id="print-link"' in client.get(EXAM).text


def test_the_monitor_verifies_a_dictionary_form_on_the_web(
    web: tuple[TestClient, Engine],
) -> None:
    """Source verification of the protocol's own forms (issue 17): the monitor ticks fields,
    then verifies the whole instance, on the read-only view; nothing ticked and an unknown
    field are refused with the reason at the top; the coordinator may not verify."""
    client, engine = web
    coordinator = _csrf(client, "coord")
    good = {"csrf": coordinator, "weight_kg": "70", "height_cm": "175", "fasciculations": "0"}
    assert client.post(EXAM, data=good, follow_redirects=False).status_code == 303
    with make_session_factory(engine)() as session:
        [exam] = form_instances(session, "S01", "neuro_exam")
    verify = "/subjects/S01/crf/neuro_exam/verify?visit=W-1"
    refused = client.post(verify, data={"csrf": coordinator, "instance": str(exam.id)})
    assert refused.status_code == 403
    monitor = _csrf(client, "mon")
    page = client.get(EXAM).text
    assert "Not source-verified as a whole." in page
    assert 'aria-label="verify Weight"' in page
    nothing = client.post(verify, data={"csrf": monitor, "instance": str(exam.id)})
    assert nothing.status_code == 400
    assert "tick the fields to verify" in nothing.text
    unknown = client.post(
        verify, data={"csrf": monitor, "instance": str(exam.id), "fields": "shoe_size"}
    )
    assert unknown.status_code == 400
    assert "has no field shoe_size" in unknown.text
    ticked = {"csrf": monitor, "instance": str(exam.id), "fields": ["weight_kg"]}
    assert client.post(verify, data=ticked, follow_redirects=False).status_code == 303
    row = client.get(EXAM).text.split('id="value-1-weight_kg"')[1].split("</tr>")[0]
    assert "&#10003; mon" in row or "✓ mon" in row
    whole = {"csrf": monitor, "instance": str(exam.id), "whole": "yes"}
    assert client.post(verify, data=whole, follow_redirects=False).status_code == 303
    page = client.get(EXAM).text
    assert "Source-verified by mon on" in page
    assert 'id="verify-whole-1"' not in page  # nothing left to verify
    with make_session_factory(engine)() as session:
        [after] = form_instances(session, "S01", "neuro_exam")
    assert set(after.verified) == {"", "weight_kg"}


def test_a_file_field_uploads_and_downloads(web: tuple[TestClient, Engine]) -> None:
    """A file field on the web (issue 17): the form is sent as multipart, the file is
    stored and shown as a link, a correction keeps it unless another is chosen, and the
    download is an attachment that the browser never renders (octet-stream, nosniff); a file
    of another subject is answered 404 at this subject's address."""
    from tests.test_dictionary_services import CONSENT_FORM

    client, engine = web
    with make_session_factory(engine)() as session:
        amend(session, protocol_text() + CONSENT_FORM, version="3")
    csrf = _csrf(client, "coord")
    url = "/subjects/S01/crf/consent_scan"
    blank = client.get(url).text
    assert 'enctype="multipart/form-data"' in blank
    assert 'type="file" id="scan" name="scan"' in blank
    missing = client.post(url, data={"csrf": csrf})
    assert missing.status_code == 400
    assert "required" in missing.text.split('id="err-scan"')[1].split("</span>")[0]
    html = b"<html><script>alert(1)</script></html>"
    saved = client.post(
        url,
        data={"csrf": csrf},
        files={"scan": ("consent.html", html, "text/html")},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    page = client.get(url).text
    assert 'now: <a href="/subjects/S01/files/' in page
    link = page.split('now: <a href="')[1].split('"')[0]
    download = client.get(link)
    assert download.status_code == 200
    assert download.content == html
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    # A correction without a new file keeps the stored one.
    current = page.split('name="current__scan" value="')[1].split('"')[0]
    kept = client.post(
        url, data={"csrf": csrf, "current__scan": current, "note": "kept"}, follow_redirects=False
    )
    assert kept.status_code == 303
    with make_session_factory(engine)() as session:
        [instance] = form_instances(session, "S01", "consent_scan")
    assert instance.values == {"scan": current, "note": "kept"}
    # Another subject's address does not give S01's file.
    assert client.get(link.replace("/S01/", "/S02/")).status_code == 404
    assert client.get("/subjects/S01/files/999999").status_code == 404


def test_a_choice_field_as_a_drop_down_list(web: tuple[TestClient, Engine]) -> None:
    """``layout = "select"`` shows a choice field as a drop-down list (REDCap's dropdown),
    with nothing chosen; a chosen code saves, a forged one is refused at the field."""
    client, engine = web
    text = protocol_text().replace(
        'type = "choice"\nchoices = [{code = "0", label = "absent"}',
        'type = "choice"\nlayout = "select"\nchoices = [{code = "0", label = "absent"}',
        1,
    )
    assert 'layout = "select"' in text
    with make_session_factory(engine)() as session:
        amend(session, text, version="3")
    csrf = _csrf(client, "coord")
    page = client.get(EXAM).text
    listed = page.split('<select id="fasciculations" name="fasciculations"')[1].split("</select>")[
        0
    ]
    assert '<option value="" selected>choose</option>' in listed
    assert '<option value="1">present</option>' in listed
    assert 'type="radio" name="fasciculations"' not in page
    good = {"csrf": csrf, "weight_kg": "70", "height_cm": "175"}
    forged = client.post(EXAM, data=good | {"fasciculations": "7"})
    assert forged.status_code == 400
    assert (
        "&#39;7&#39; is not one of the choices" in forged.text.split('id="err-fasciculations"')[1]
    )
    saved = client.post(EXAM, data=good | {"fasciculations": "1"}, follow_redirects=False)
    assert saved.status_code == 303
    with make_session_factory(engine)() as session:
        [exam] = form_instances(session, "S01", "neuro_exam")
    assert exam.values["fasciculations"] == "1"


def test_one_macro_renders_built_in_and_protocol_fields_alike(
    web: tuple[TestClient, Engine],
) -> None:
    """Issue 17: the built-in forms and the protocol's own are rendered by one field macro,
    so a number with its unit, a choice of radio buttons and an error read the same way
    (ids, unit beside the input, help and error tied to the input) on both."""
    from importlib import resources

    client, _ = web
    _csrf(client, "coord")
    builtin = client.get("/subjects/S01/visits/W-1/vitals").text
    own = client.get(EXAM).text
    for page, name, unit in ((builtin, "systolic_mmhg", "mmHg"), (own, "weight_kg", "kg")):
        field = page.split(f'id="field-{name}"')[1].split("</div>")[0]
        assert f'<input id="{name}" name="{name}" value=""' in field
        assert f'<span class="unit">{unit}</span>' in field
        assert f'role="alert" id="err-{name}"' in field
    alsfrs = client.get("/subjects/S01/visits/W-1/alsfrs").text
    item = alsfrs.split('id="field-item_1"')[1].split("</div>")[0]
    assert 'id="item_1-4" name="item_1" value="4"' in item
    assert "checked" not in item
    exam = own.split('id="field-fasciculations"')[1].split("</div>")[0]
    assert 'id="fasciculations-1" name="fasciculations" value="1"' in exam
    templates = resources.files("alstrial.web").joinpath("templates")
    defining = sorted(t.name for t in templates.iterdir() if "{% macro" in t.read_text("utf-8"))
    assert defining == ["fields.html.j2"]
