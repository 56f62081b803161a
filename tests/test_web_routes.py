"""Every route of the web application against every role and the site boundary.

``ROUTES`` classifies each route the application has; a test fails when a route is added
without being classified here, so no route escapes these checks:

- a *subject* route reaches one subject's data (or a query, a batch of his): a user of site A
  gets 403 or 404 for site B's subject through it, pages and API alike, and nothing is written;
- a *list* route lists what the user may see: site B's subject never appears in it;
- an *own* route concerns only the user himself (password, tokens, login).

The permission matrix is checked from the other side: for each role, each action route on a
subject of the user's own site answers 403 exactly when :mod:`alstrial.web.permissions`
says the role may not, and something else (200, 303, 400) when it may.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from typing import cast

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from alstrial.protocol.form_values import FileUpload
from alstrial.services import open_query, record_lab
from alstrial.services.accounts import create_account
from alstrial.services.api_tokens import create_api_token
from alstrial.services.dictionary_forms import save_form_instance
from alstrial.services.outcomes import AdverseEventReport, report_adverse_event
from alstrial.store import make_session_factory
from alstrial.store.models import Subject, Visit
from alstrial.vocabulary import AdverseEventOutcome, Relatedness, Role
from alstrial.web.app import ROUTE_MODULES, create_app
from alstrial.web.forms import FORMS
from alstrial.web.permissions import allowed
from tests.helpers import ACTOR, DAY0, audit_count, batch, enrolled, post_login
from tests.test_dictionary import protocol_text
from tests.test_dictionary_services import CONSENT_FORM, amend

PASSWORD = "correct horse battery"

#: (method, path) -> kind ("subject", "list", "own") and, for action routes, the permission.
ROUTES: dict[tuple[str, str], tuple[str, str | None]] = {
    ("GET", "/login"): ("own", None),
    ("POST", "/login"): ("own", None),
    ("POST", "/logout"): ("own", None),
    ("GET", "/password"): ("own", None),
    ("POST", "/password"): ("own", None),
    ("GET", "/tokens"): ("own", None),
    ("POST", "/tokens"): ("own", None),
    ("POST", "/tokens/{token_id}/revoke"): ("own", None),
    ("GET", "/"): ("list", "view_subjects"),
    ("GET", "/dashboard"): ("list", "view_subjects"),
    ("GET", "/status"): ("list", "view_subjects"),
    ("GET", "/api/status"): ("list", "view_subjects"),
    ("GET", "/queries"): ("list", "view_subjects"),
    ("GET", "/batches"): ("list", "view_batches"),
    ("GET", "/batches/new"): ("list", "record_batch"),
    ("GET", "/api/subjects"): ("list", "view_subjects"),
    ("GET", "/api/queries"): ("list", "view_subjects"),
    ("GET", "/api/dashboard"): ("list", "view_subjects"),
    ("GET", "/api/export/{frame}"): ("list", "export"),
    ("GET", "/report"): ("list", "export"),
    ("GET", "/export"): ("list", "export"),
    ("POST", "/export"): ("list", "export"),
    ("GET", "/api/export-files"): ("list", "export"),
    ("GET", "/admin/users"): ("list", "manage_users"),
    ("GET", "/admin/sites"): ("list", "manage_users"),
    ("POST", "/admin/users"): ("admin", "manage_users"),
    ("POST", "/admin/users/{username}/{action}"): ("admin", "manage_users"),
    ("POST", "/admin/sites"): ("admin", "manage_users"),
    ("GET", "/subjects/new"): ("own", "enter_data"),
    ("POST", "/subjects/new"): ("own", "enter_data"),
    ("POST", "/queries"): ("subject", "open_query"),
    ("POST", "/queries/{query_id}/answer"): ("subject", "answer_query"),
    ("POST", "/queries/{query_id}/close"): ("subject", "close_query"),
    ("POST", "/queries/{query_id}/cancel"): ("subject", "open_query"),
    ("POST", "/queries/{query_id}/reopen"): ("subject", "close_query"),
    ("POST", "/subjects/{code}/visits/{visit_code}/sign"): ("subject", "sign"),
    ("POST", "/subjects/{code}/sign"): ("subject", "sign"),
    ("GET", "/subjects/{code}/screening"): ("subject", "view_subjects"),
    ("POST", "/subjects/{code}/screening"): ("subject", "enter_data"),
    ("POST", "/subjects/{code}/enrol"): ("subject", "enter_data"),
    ("GET", "/subjects/{code}"): ("subject", "view_subjects"),
    ("GET", "/subjects/{code}/audit"): ("subject", "view_audit"),
    ("GET", "/subjects/{code}/adverse-events/{event_id}"): ("subject", "view_subjects"),
    ("GET", "/subjects/{code}/labs/{lab_id}/review"): ("subject", "view_subjects"),
    ("POST", "/subjects/{code}/labs/{lab_id}/review"): ("subject", "enter_data"),
    ("POST", "/subjects/{code}/adverse-events/{event_id}"): ("subject", "enter_data"),
    ("GET", "/batches/{code}"): ("subject", "view_batches"),
    ("GET", "/batches/{code}/certificate"): ("subject", "view_batches"),
    ("POST", "/batches/{code}/release"): ("subject", "release_batch"),
    ("POST", "/batches/new"): ("subject", "record_batch"),
    ("GET", "/batches/{code}/forms/{name}"): ("subject", "record_batch"),
    ("POST", "/batches/{code}/forms/{name}"): ("subject", "record_batch"),
    ("GET", "/batches/{code}/flow"): ("subject", "record_batch"),
    ("POST", "/batches/{code}/flow"): ("subject", "record_batch"),
    ("GET", "/api/subjects/{code}"): ("subject", "view_subjects"),
    ("GET", "/api/subjects/{code}/audit"): ("subject", "view_audit"),
    ("POST", "/api/subjects/{code}/visits/{visit}/alsfrs"): ("subject", "enter_data"),
    ("GET", "/subjects/{code}/visits/{visit}/{name}"): ("subject", "view_subjects"),
    ("POST", "/subjects/{code}/visits/{visit}/{name}/verify"): ("subject", "verify_source"),
    ("POST", "/subjects/{code}/visits/{visit}/{name}"): ("subject", "enter_data"),
    ("POST", "/subjects/{code}/visits/{visit}/{name}/check"): ("subject", "enter_data"),
    ("GET", "/subjects/{code}/forms/{name}"): ("subject", "enter_data"),
    ("POST", "/subjects/{code}/forms/{name}"): ("subject", "enter_data"),
    ("POST", "/subjects/{code}/forms/{name}/check"): ("subject", "enter_data"),
    ("GET", "/subjects/{code}/crf/{name}"): ("subject", "view_subjects"),
    ("POST", "/subjects/{code}/crf/{name}"): ("subject", "enter_data"),
    ("POST", "/subjects/{code}/crf/{name}/check"): ("subject", "enter_data"),
    ("POST", "/subjects/{code}/crf/{name}/verify"): ("subject", "verify_source"),
    ("GET", "/subjects/{code}/files/{attachment_id}"): ("subject", "view_subjects"),
    ("GET", "/forms/{name}/preview"): ("list", "view_subjects"),
    ("GET", "/forms/{name}/print"): ("list", "view_subjects"),
    ("GET", "/subjects/{code}/crf/{name}/print"): ("subject", "view_subjects"),
}

SITE_ROLES = ["coordinator", "investigator", "monitor", "qc"]
ALL_ROLES = [*SITE_ROLES, "statistician", "administrator"]


@pytest.fixture
def web(engine: Engine) -> Iterator[tuple[TestClient, Engine, dict[str, int]]]:
    """Site A's S01 and site B's S02, both enrolled, each with an unreleased batch and an open
    query; one account per role and site."""
    ids: dict[str, int] = {}
    with make_session_factory(engine)() as session:
        # The protocol's own forms (issue 17), with a file field.
        amend(session, protocol_text() + CONSENT_FORM)
        enrolled(session, "S01", site="A")
        enrolled(session, "S02", site="B")
        batch(session, "S01", release=False)
        batch(session, "S02", release=False)
        for role in ALL_ROLES:
            for site in ("A", "B"):
                create_account(
                    session,
                    actor=ACTOR,
                    username=f"{role}-{site.lower()}",
                    role=role,
                    sites=[site] if role in SITE_ROLES else [],
                    password=PASSWORD,
                )
        for code, monitor in (("S01", "monitor-a"), ("S02", "monitor-b")):
            first_visit = session.scalars(
                sa.select(Visit.id).join(Subject).where(Subject.study_code == code)
            ).first()
            ids[code] = open_query(
                session,
                actor=monitor,
                subject_code=code,
                record_table="visit",
                record_id=str(first_visit),
                field="actual_date",
                text=f"check {code}",
            ).id
        for code in ("S01", "S02"):
            ids[f"ae-{code}"] = report_adverse_event(
                session,
                actor=ACTOR,
                subject_code=code,
                report=AdverseEventReport(
                    term="Headache",
                    category="Neurological",
                    onset_date=DAY0,
                    severity_grade=1,
                    serious=False,
                    relatedness=Relatedness.UNLIKELY,
                    outcome=AdverseEventOutcome.RECOVERING,
                ),
            ).id
            ids[f"lab-{code}"] = record_lab(
                session,
                actor=ACTOR,
                subject_code=code,
                visit_code="W-6",
                sample_date=DAY0 - timedelta(days=42),
                analyte="ALT",
                value=300,
                unit="U/L",
            ).id
            scan = save_form_instance(
                session,
                actor=ACTOR,
                subject_code=code,
                form="consent_scan",
                entered={"scan": FileUpload(f"{code}.pdf", "application/pdf", b"%PDF")},
            ).values["scan"]
            ids[f"file-{code}"] = int(str(scan).split(":")[1])
        ids["token-b"] = create_api_token(session, username="coordinator-b", name="b").token.id
    app = create_app(
        engine, secret_key="test-secret-key-long-enough-0123456789abcdefghij", secure_cookies=False
    )
    with TestClient(app) as client:
        yield client, engine, ids


def _login(client: TestClient, username: str) -> str:
    response = post_login(client, username, PASSWORD)
    assert response.status_code == 303, username
    page = client.get("/password").text
    return page.split('name="csrf" value="')[1].split('"')[0]


def _requests(
    code: str, ids: dict[str, int], csrf: str
) -> Iterator[tuple[str, str, str, dict[str, object]]]:
    """(route, method, url, form) for every subject route, aimed at ``code``."""
    query_id, event_id, lab_id = ids[code], ids[f"ae-{code}"], ids[f"lab-{code}"]
    visit = "W-6"
    day = (DAY0 - timedelta(days=42)).isoformat()
    form = {"csrf": csrf}
    yield from (
        (
            "/queries",
            "POST",
            "/queries",
            form
            | {
                "subject": code,
                "record_table": "visit",
                "record_id": "1",
                "field": "actual_date",
                "text": "q",
            },
        ),
        (
            "/queries/{query_id}/answer",
            "POST",
            f"/queries/{query_id}/answer",
            form | {"answer": "a"},
        ),
        ("/queries/{query_id}/close", "POST", f"/queries/{query_id}/close", form),
        (
            "/queries/{query_id}/cancel",
            "POST",
            f"/queries/{query_id}/cancel",
            form | {"reason": "opened by mistake"},
        ),
        (
            "/queries/{query_id}/reopen",
            "POST",
            f"/queries/{query_id}/reopen",
            form | {"reason": "the answer does not settle it"},
        ),
        (
            "/subjects/{code}/visits/{visit_code}/sign",
            "POST",
            f"/subjects/{code}/visits/{visit}/sign",
            form | {"password": PASSWORD},
        ),
        ("/subjects/{code}/sign", "POST", f"/subjects/{code}/sign", form | {"password": PASSWORD}),
        ("/subjects/{code}/screening", "GET", f"/subjects/{code}/screening", {}),
        (
            "/subjects/{code}/screening",
            "POST",
            f"/subjects/{code}/screening",
            form | {"screening_date": day},
        ),
        (
            "/subjects/{code}/enrol",
            "POST",
            f"/subjects/{code}/enrol",
            form | {"arm": "IV", "enrolment_date": day, "planned_administration_date": day},
        ),
        ("/subjects/{code}", "GET", f"/subjects/{code}", {}),
        ("/subjects/{code}/audit", "GET", f"/subjects/{code}/audit", {}),
        (
            "/subjects/{code}/adverse-events/{event_id}",
            "GET",
            f"/subjects/{code}/adverse-events/{event_id}",
            {},
        ),
        (
            "/subjects/{code}/adverse-events/{event_id}",
            "POST",
            f"/subjects/{code}/adverse-events/{event_id}",
            form | {"outcome": "recovered", "reason": "r"},
        ),
        (
            "/subjects/{code}/labs/{lab_id}/review",
            "GET",
            f"/subjects/{code}/labs/{lab_id}/review",
            {},
        ),
        (
            "/subjects/{code}/labs/{lab_id}/review",
            "POST",
            f"/subjects/{code}/labs/{lab_id}/review",
            form | {"decision": "not_an_ae", "note": "haemolysed"},
        ),
        ("/batches/{code}", "GET", f"/batches/B-{code}", {}),
        ("/batches/{code}/certificate", "GET", f"/batches/B-{code}/certificate", {}),
        (
            "/batches/{code}/release",
            "POST",
            f"/batches/B-{code}/release",
            form | {"decision": "rejected", "reason": "r", "password": PASSWORD},
        ),
        (
            "/batches/new",
            "POST",
            "/batches/new",
            form | {"subject": code, "batch_code": f"B2-{code}", "final_cell_count": "1e8"},
        ),
        (
            "/batches/{code}/forms/{name}",
            "GET",
            f"/batches/B-{code}/forms/batch_record",
            {},
        ),
        (
            "/batches/{code}/forms/{name}",
            "POST",
            f"/batches/B-{code}/forms/culture_event",
            form | {"kind": "medium_change"},
        ),
        ("/batches/{code}/flow", "GET", f"/batches/B-{code}/flow", {}),
        (
            "/batches/{code}/flow",
            "POST",
            f"/batches/B-{code}/flow",
            form | {"markers": "CD73", "files": {"stained": b"x", "isotype": b"y"}},
        ),
        ("/api/subjects/{code}", "GET", f"/api/subjects/{code}", {}),
        ("/api/subjects/{code}/audit", "GET", f"/api/subjects/{code}/audit", {}),
        (
            "/api/subjects/{code}/visits/{visit}/alsfrs",
            "POST",
            f"/api/subjects/{code}/visits/{visit}/alsfrs",
            {"json": {"assessment_date": day, "items": {"item_1": 4}}},
        ),
    )
    crf = f"/subjects/{code}/crf/neuro_exam?visit=W-1"
    exam = {"weight_kg": "70", "height_cm": "175", "fasciculations": "1"}
    yield "/subjects/{code}/crf/{name}", "GET", crf, {}
    printed = f"/subjects/{code}/crf/neuro_exam/print?visit=W-1"
    yield "/subjects/{code}/crf/{name}/print", "GET", printed, {}
    yield "/subjects/{code}/crf/{name}", "POST", crf, form | exam
    check = f"/subjects/{code}/crf/neuro_exam/check"
    yield "/subjects/{code}/crf/{name}/check", "POST", check, form | exam
    verify = f"/subjects/{code}/crf/neuro_exam/verify?visit=W-1"
    yield "/subjects/{code}/crf/{name}/verify", "POST", verify, form | {"whole": "yes"}
    file = f"/subjects/{code}/files/{ids[f'file-{code}']}"
    yield "/subjects/{code}/files/{attachment_id}", "GET", file, {}
    for name, spec in FORMS.items():
        base = (
            f"/subjects/{code}/visits/{visit}/{name}"
            if spec.scope == "visit"
            else f"/subjects/{code}/forms/{name}"
        )
        template = (
            "/subjects/{code}/visits/{visit}/{name}"
            if spec.scope == "visit"
            else "/subjects/{code}/forms/{name}"
        )
        yield template, "GET", base, {}
        yield template, "POST", base, form
        yield template + "/check", "POST", base + "/check", form
        if spec.scope == "visit":
            yield template + "/verify", "POST", base + "/verify", form | {"whole": "yes"}


def _send(client: TestClient, method: str, url: str, form: dict[str, object], csrf: str) -> int:
    if method == "GET":
        return client.get(url, follow_redirects=False).status_code
    if "json" in form:
        return client.post(
            url, json=form["json"], headers={"X-CSRF-Token": csrf}, follow_redirects=False
        ).status_code
    if "files" in form:
        files = cast(dict[str, bytes], form["files"])
        data = {k: v for k, v in form.items() if k != "files"}
        return client.post(
            url,
            data=data,
            files={name: (f"{name}.fcs", content) for name, content in files.items()},
            follow_redirects=False,
        ).status_code
    return client.post(url, data=form, follow_redirects=False).status_code


def test_every_route_is_classified() -> None:
    app_routes = {
        (method, route.path)
        for module in ROUTE_MODULES
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    assert app_routes == set(ROUTES)


@pytest.mark.parametrize("role", SITE_ROLES)
def test_site_b_is_out_of_reach_of_site_a(
    web: tuple[TestClient, Engine, dict[str, int]], role: str
) -> None:
    """A user of site A gets 403 or 404 for site B's subject through every subject route,
    and no request writes anything; lists never show site B's subject."""
    client, engine, ids = web
    csrf = _login(client, f"{role}-a")
    with make_session_factory(engine)() as session:
        before = audit_count(session)
    tried = set()
    for template, method, url, form in _requests("S02", ids, csrf):
        tried.add((method, template))
        status = _send(client, method, url, form, csrf)
        assert status in (403, 404), (role, method, url, status)
    subject_routes = {key for key, (kind, _) in ROUTES.items() if kind == "subject"}
    assert {(m, p) for m, p in subject_routes} == tried
    with make_session_factory(engine)() as session:
        assert audit_count(session) == before
    for (method, path), (kind, _) in ROUTES.items():
        if kind == "list" and method == "GET":
            url = path.replace("{frame}", "subjects").replace("{name}", "neuro_exam")
            response = client.get(url)
            assert "S02" not in response.text, (role, url)
            if "S01" not in response.text:
                assert response.status_code == 403 or any(
                    part in url for part in ("queries", "batches", "preview", "print")
                )


@pytest.mark.parametrize("role", ALL_ROLES)
def test_permission_matrix(web: tuple[TestClient, Engine, dict[str, int]], role: str) -> None:
    """On a subject of the user's own site (or, for study-wide roles, any), each action route
    answers 403 exactly when the role lacks the permission."""
    client, _, ids = web
    csrf = _login(client, f"{role}-a")
    for template, method, url, form in _requests("S01", ids, csrf):
        kind, action = ROUTES[(method, template)]
        assert action is not None
        status = _send(client, method, url, form, csrf)
        if allowed(Role(role), action):
            assert status not in (401, 403, 404), (role, method, url, status)
        else:
            assert status == 403, (role, method, url, status)
    for (_, path), (kind, action) in ROUTES.items():
        if kind == "list" and action is not None:
            url = path.replace("{frame}", "subjects").replace("{name}", "neuro_exam")
            status = client.get(url).status_code
            assert (status == 200) == allowed(Role(role), action), (role, path, status)
    for url, form in (
        ("/admin/users", {"username": f"new-{role}", "role": "monitor"}),
        ("/admin/users/coordinator-b/unlock", {}),
        ("/admin/sites", {"code": f"N{len(role)}", "name": "New site"}),
    ):
        status = client.post(url, data=form | {"csrf": csrf}, follow_redirects=False).status_code
        assert (status in (200, 303)) == allowed(Role(role), "manage_users"), (role, url, status)
        assert status in (200, 303, 403), (role, url, status)


def test_api_tokens(web: tuple[TestClient, Engine, dict[str, int]]) -> None:
    """A statistician makes a token on the Tokens page and exports with it (no cookie); a
    revoked, forged or another user's token is refused (401); tokens never reach pages."""
    client, _, ids = web
    csrf = _login(client, "statistician-a")
    page = client.post("/tokens", data={"name": "exports", "days": "30", "csrf": csrf}).text
    secret = page.split('id="new-token">')[1].split("<")[0]
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {secret}"}
    export = client.get("/api/export/subjects", headers=bearer)
    assert export.status_code == 200
    assert {row["subject"] for row in export.json()} == {"S01", "S02"}
    csv = client.get("/api/export/measures?format=csv", headers=bearer)
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    files = client.get("/api/export-files?format=stata&cut=seq:1000000", headers=bearer)
    assert files.status_code == 200  # a cut after the last event: the data as they stand
    assert files.headers["content-type"] == "application/zip"
    # The subjects' files (one each, stored by the fixture) only when asked for.
    names = zipfile.ZipFile(io.BytesIO(files.content)).namelist()
    assert not any(name.startswith("files/") for name in names)
    with_files = client.get("/api/export-files?format=csv&files=true", headers=bearer)
    names = zipfile.ZipFile(io.BytesIO(with_files.content)).namelist()
    assert "attachments.csv" in names
    assert sum(name.startswith("files/") for name in names) == 2
    assert (
        json.loads(zipfile.ZipFile(io.BytesIO(with_files.content)).read("manifest.json"))[
            "attached_files"
        ]
        == 2
    )
    early = client.get("/api/export-files?format=stata&cut=1990-01-01", headers=bearer)
    assert early.status_code == 422
    assert "before the study existed" in early.json()["message"]
    assert client.get("/", headers=bearer, follow_redirects=False).status_code == 303
    forged = {"Authorization": "Bearer alst_" + "x" * 43}
    assert client.get("/api/export/subjects", headers=forged).status_code == 401
    csrf = _login(client, "statistician-a")
    token_id = int(page.split('action="/tokens/')[1].split("/")[0])
    response = client.post(
        f"/tokens/{ids['token-b']}/revoke", data={"csrf": csrf}, follow_redirects=False
    )
    assert response.status_code == 404  # another user's token
    client.post(f"/tokens/{token_id}/revoke", data={"csrf": csrf})
    client.cookies.clear()
    assert client.get("/api/export/subjects", headers=bearer).status_code == 401
    schema = client.get("/openapi.json").json()
    assert "/api/export/{frame}" in schema["paths"]
    assert "/api/export-files" in schema["paths"]
    assert not any(path.startswith("/subjects") for path in schema["paths"])
