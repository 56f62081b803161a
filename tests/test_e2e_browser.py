"""End to end in a real browser: Debian's Chromium, headless, driven by Playwright for Python
with its executable path pointed there (Playwright's own browser download cannot reach the
internet from these machines). The application runs in uvicorn on a real SQLite file.

The walk: a coordinator logs in, registers a subject, screens him (each criterion's result
shown) and enrols him; enters an ALSFRS-R with an error (seen live, then at the field after
saving) and corrects it; a monitor opens a query on an item that the coordinator answers and
the monitor closes; an investigator signs the visit with his password. A second walk takes QC
through a new batch (an error at the field, corrected), identity from uploaded FCS files and
the signed release. Each main screen is saved as a PNG under ``out/e2e-screenshots/`` (or
``$ALSTRIAL_SCREENSHOTS``).

Without Chromium the test is skipped with a message saying how to install it, unless
``ALSTRIAL_REQUIRE_BROWSER`` is set (as ``.ci/run`` does), when it fails instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.engine import Engine

from alstrial.services.accounts import create_account
from alstrial.store import make_session_factory
from alstrial.web.app import create_app
from tests.conftest import Templates, _engine
from tests.fcs_writer import write_fcs
from tests.helpers import ACTOR, enrolled

if TYPE_CHECKING:
    from playwright.sync_api import Page

PASSWORD = "correct horse battery"
CHROMIUM = os.environ.get("ALSTRIAL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("ALSTRIAL_SCREENSHOTS", "out/e2e-screenshots"))
#: Flags for Chromium on a machine without a network or a display (no background traffic).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM}: run `bash scripts/ensure-chromium.sh` (Debian)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install -e '.[dev]'"
    return None


def log_in(page: Page, server: str, username: str, password: str = PASSWORD) -> None:
    """Log in on the login page as ``username``, after clearing the browser's cookies (the
    previous user's session)."""
    page.context.clear_cookies()
    page.goto(f"{server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("text=Log in")


@pytest.fixture
def sqlite_engine(templates: Templates, tmp_path: Path) -> Iterator[Engine]:
    """A SQLite file holding the reference protocol and sites A and B (the route tests cover
    PostgreSQL; the browser walk needs one back end)."""
    yield from _engine("study", "sqlite", templates, tmp_path)


@pytest.fixture
def server(sqlite_engine: Engine) -> Iterator[str]:
    """The application served by uvicorn on a free port of 127.0.0.1."""
    engine = sqlite_engine
    missing = _browser_missing()
    if missing:
        if os.environ.get("ALSTRIAL_REQUIRE_BROWSER"):
            pytest.fail(missing)
        pytest.skip(missing)
    import uvicorn

    with make_session_factory(engine)() as session:
        for username, role in (
            ("coord", "coordinator"),
            ("monitor", "monitor"),
            ("inv", "investigator"),
            ("qc", "qc"),
            ("admin", "administrator"),
            ("stats", "statistician"),
            ("locked-out", "coordinator"),
        ):
            create_account(
                session,
                actor=ACTOR,
                username=username,
                role=role,
                sites=[] if role in ("administrator", "statistician") else ["A"],
                password=PASSWORD,
            )
    app = create_app(
        engine, secret_key="e2e-secret-key-long-enough-0123456789abcdefghij", secure_cookies=False
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)


def test_site_workflow_in_chromium(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    today = date.today()
    day0 = today - timedelta(days=50)
    enrolment = day0 - timedelta(days=50)
    w6 = day0 - timedelta(days=42)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)

        def shot(name: str) -> None:
            page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

        def login(username: str) -> None:
            log_in(page, server, username)
            expect(page.locator("nav")).to_contain_text(username)

        # A wrong password is refused with a message.
        log_in(page, server, "coord", "not the password")
        expect(page.locator("#login-error")).to_contain_text("wrong user name or password")
        shot("01-login-refused")

        login("coord")
        page.click("#register-link")
        page.fill("#study_code", "E01")
        page.select_option("#site", "A")
        page.select_option("#sex", "female")
        page.fill("#age_years", "57")
        page.select_option("#onset_region", "bulbar")
        page.check("#riluzole-yes")
        page.fill("#height_cm", "164")
        page.fill("#weight_kg", "58")
        page.fill("#onset_date", (enrolment - timedelta(days=400)).isoformat())
        page.select_option("#diagnostic_category", "definite")
        shot("02-register")
        page.click("#save")

        # Screening: each criterion's result is shown; then enrolment.
        page.fill("#screening_date", enrolment.isoformat())
        page.select_option("#familial_als", "no")
        page.fill("#alsfrs_total", "39")
        page.fill("#fvc_percent_predicted", "84")
        page.select_option("#concomitant_disease", "no")
        page.select_option("#immunotherapy_last_6_months", "no")
        page.click("#screen")
        expect(page.locator("#eligibility")).to_have_text("eligible")
        expect(page.locator("#criteria tr")).to_have_count(9)
        shot("03-screening")
        page.select_option("#arm", "IV")
        page.fill("#enrolment_date", enrolment.isoformat())
        page.fill("#planned_administration_date", day0.isoformat())
        page.click("#enrol")
        expect(page.locator("h1")).to_have_text("Subject E01")
        expect(page.locator("#visit-M12")).to_contain_text("upcoming")
        expect(page.locator("#visit-W-6")).to_contain_text("overdue")
        shot("04-timeline")

        # ALSFRS-R (issue 17): each item is a radio group worded as the published scale, and
        # nothing arrives chosen. A save with three problems (no date, both 5a and 5b, item 12
        # unanswered) shows all three at their fields at once.
        page.click("#visit-W-6 >> text=ALSFRS-R")
        expect(page.locator("#field-item_1")).to_contain_text("4: Normal speech processes")
        expect(page.locator("#field-item_12")).to_contain_text(
            "0: Invasive mechanical ventilation by intubation or tracheostomy"
        )
        expect(page.locator("input[type=radio][value]:not([value=''])")).to_have_count(13 * 5)
        expect(page.locator("input[type=radio]:checked:not([value=''])")).to_have_count(0)
        for number in (1, 2, 3, 4, 6, 7, 8, 9, 10, 11):
            page.check(f"#item_{number}-3")
        page.check("#item_5a-3")
        page.check("#item_5b-2")
        expect(page.locator("#err-item_5a")).to_contain_text("both are answered", timeout=10_000)
        shot("05-alsfrs-live-error")
        page.click("#save")
        expect(page.locator("#form-error")).to_contain_text("3 problems, nothing saved")
        for name in ("assessment_date", "item_5a", "item_12"):
            expect(page.locator(f"#err-{name}")).not_to_be_empty()
        expect(page.locator("#err-item_3")).to_have_text("")
        expect(page.locator("#item_3-3")).to_be_checked()  # what was chosen stays chosen
        shot("06-alsfrs-three-errors-at-their-fields")
        page.fill("#assessment_date", w6.isoformat())
        page.check("#item_5b-none")
        page.check("#item_12-3")
        page.focus("#item_3-3")  # the keyboard moves within a radio group: 3 -> 2
        page.keyboard.press("ArrowDown")
        expect(page.locator("#item_3-2")).to_be_checked()
        expect(page.locator("#preview")).to_contain_text("35")
        expect(page.locator("#form-error")).to_have_text("")  # no stale banner after the fix
        expect(page.locator("#err-item_5a")).to_have_text("")
        shot("07-alsfrs-live-total")
        page.click("#save")
        expect(page.locator("#visit-W-6")).to_contain_text("done")
        shot("08-timeline-after-alsfrs")

        # The monitor reads the form (read-only), queries item 3 from the field, opens a
        # mistaken query on item 4 and cancels it, and verifies the record.
        login("monitor")
        page.goto(f"{server}/subjects/E01/visits/W-6/alsfrs")
        expect(page.locator("#record")).to_be_visible()
        expect(page.locator("#entry-form")).to_have_count(0)
        shot("09-monitor-reads-the-form")
        page.fill("input[aria-label='query on item_3']", "Item 3 is 2 here but 3 in the source")
        page.click("button[form=query-item_3]")
        expect(page.locator("#value-item_3")).to_contain_text("open")
        page.fill("input[aria-label='query on item_4']", "wrong field")
        page.click("button[form=query-item_4]")
        shot("10-query-at-the-field")
        page.goto(f"{server}/queries")
        row = page.locator("#queries tr", has_text="wrong field")
        row.locator("input[name=reason]").fill("opened on the wrong item")
        row.locator("button:has-text('Cancel the query')").click()
        expect(page.locator("#queries")).to_contain_text("cancelled: opened on the wrong item")
        shot("11-query-cancelled")
        page.goto(f"{server}/subjects/E01/visits/W-6/alsfrs")
        page.click("#verify-all")
        expect(page.locator("#sdv-state")).to_contain_text("Source-verified by monitor")
        shot("12-monitor-verified")
        login("coord")
        page.goto(f"{server}/queries")
        page.fill("#queries input[name=answer]", "Source checked: 2 is right")
        page.click("#queries button:has-text('Answer')")
        expect(page.locator("#queries")).to_contain_text("answered")
        shot("13-query-answered")
        login("monitor")
        page.goto(f"{server}/queries")
        page.click("#queries button:has-text('Close')")
        expect(page.locator("#queries")).to_contain_text("closed")
        page.goto(f"{server}/status")
        expect(page.locator("#row-E01")).to_contain_text("verified")
        shot("14-record-status")

        # The investigator is refused an incomplete visit, at the password field; the
        # coordinator marks what was not done; the investigator signs the complete visit.
        login("inv")
        page.goto(f"{server}/subjects/E01")
        page.fill("#visit-W-6 input[name=password]", PASSWORD)
        page.click("#visit-W-6 button:has-text('Sign')")
        expect(page.locator("#sign-error-W-6")).to_contain_text("is not complete")
        shot("15-incomplete-visit-refused")
        login("coord")
        for assessment in ("spirometry", "labs", "vitals"):
            page.goto(f"{server}/subjects/E01/visits/W-6/not_done")
            page.select_option("#assessment", assessment)
            page.fill("#reason", "patient too tired")
            page.click("#save")
            expect(page.locator("h1")).to_have_text("Subject E01")
        # The physical examination is the protocol's own form (issue 17): entered like any.
        page.click("#visit-W-6 >> text=Physical and neurological examination")
        page.fill("#exam_date", w6.isoformat())
        page.check("input[name=general][value=normal]")
        page.check("input[name=new_symptoms][value=no]")
        page.click("#save")
        expect(page.locator("h1")).to_have_text("Subject E01")
        expect(page.locator("#visit-W-6 .completeness")).to_have_text("complete")
        shot("16-visit-complete")
        login("inv")
        page.goto(f"{server}/subjects/E01")
        page.fill("#visit-W-6 input[name=password]", PASSWORD)
        page.click("#visit-W-6 button:has-text('Sign')")
        expect(page.locator("#visit-W-6")).to_contain_text("signed by inv")
        shot("17-visit-signed")

        # The coordinator reports an adverse event and follows it up.
        login("coord")
        page.goto(f"{server}/subjects/E01/forms/adverse_event")
        page.fill("#term", "Back pain")
        page.fill("#category", "Musculoskeletal")
        page.fill("#onset_date", (day0 + timedelta(days=2)).isoformat())
        page.select_option("#severity_grade", "2")
        page.select_option("#relatedness", "possible")
        page.select_option("#outcome", "not_recovered")
        # Serious and expected have no default answer: saved unanswered, both are refused
        # at their fields, with nothing saved (issue 17).
        expect(page.locator("#serious-yes")).not_to_be_checked()
        expect(page.locator("#serious-no")).not_to_be_checked()
        page.click("#save")
        expect(page.locator("#err-serious")).to_contain_text("required")
        expect(page.locator("#err-expected")).to_contain_text("required")
        page.check("#serious-no")
        page.check("#expected-no")
        page.click("#save")
        expect(page.locator("#ae-list")).to_contain_text("Back pain")
        page.click("#ae-list a:has-text('Follow up')")
        page.select_option("#outcome", "recovered")
        page.fill("#end_date", (day0 + timedelta(days=9)).isoformat())
        page.fill("#reason", "telephone follow-up")
        page.click("#save")
        expect(page.locator("#ae-history")).to_contain_text("telephone follow-up")
        shot("18-adverse-event-follow-up")

        # A signed visit: the form asks for a reason and says the signature will go.
        login("coord")
        page.goto(f"{server}/subjects/E01/visits/W-6/alsfrs")
        expect(page.locator("#notice")).to_contain_text("removes the signature")
        expect(page.locator("#item_3-2")).to_be_checked()
        shot("19-signed-visit-correction")

        page.goto(f"{server}/subjects/E01/audit?field=item_3")
        expect(page.locator("#audit")).to_contain_text("coord")
        shot("20-audit-item-3")
        page.goto(f"{server}/dashboard")
        expect(page.locator("#enrolment")).to_contain_text("IV 1")
        shot("21-dashboard")
        browser.close()
    assert len(list(SHOTS.glob("*.png"))) >= 21


#: The ISCT panel in one synthetic tube: bright on the positive markers, dim on the negative.
PANEL = ["CD73", "CD90", "CD105", "CD44", "CD34", "CD45", "CD11b", "CD14", "CD19", "HLA-DR"]


def _panel_tubes(folder: Path) -> tuple[Path, Path]:
    import numpy as np

    rng = np.random.default_rng(3)
    n = 5000
    scatter = np.column_stack([rng.uniform(200, 800, n), rng.uniform(100, 600, n)])
    isotype = np.column_stack([scatter, rng.normal(50, 10, (n, len(PANEL))).clip(0)])
    stained = isotype.copy()
    for column in range(4):  # CD73, CD90, CD105, CD44 bright on 98.5 % of cells
        bright = int(0.985 * n)
        stained[:bright, 2 + column] = rng.normal(700, 60, bright)
    channels = ["FSC-H", "SSC-H", *(f"FL{i}-H" for i in range(1, len(PANEL) + 1))]
    markers = ["", "", *PANEL]
    return (
        write_fcs(folder / "panel_stained.fcs", stained, channels, markers=markers),
        write_fcs(folder / "panel_isotype.fcs", isotype, channels, markers=markers),
    )


def test_qc_batch_walk_in_chromium(server: str, sqlite_engine: Engine, tmp_path: Path) -> None:
    """QC enters a batch (an error at the field, corrected), uploads the FCS files of the
    identity panel, and signs the release with his password."""
    from playwright.sync_api import expect, sync_playwright

    with make_session_factory(sqlite_engine)() as session:
        enrolled(session, "Q01", site="A")
    stained, isotype = _panel_tubes(tmp_path)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)

        def shot(name: str) -> None:
            page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

        log_in(page, server, "qc")
        page.goto(f"{server}/batches")
        page.click("#new-batch")
        page.select_option("#subject", "Q01")
        page.fill("#batch_code", "MSC-Q01")
        page.fill("#final_cell_count", "1.2e8")
        page.fill("#viability_pct", "197")
        page.fill("#bacteriology", "NC")
        page.fill("#mycoplasma", "NC")
        page.fill("#endotoxin_eu_per_ml", "0.125")
        page.check("#endotoxin_below_loq")
        page.fill("#karyotype", "46,XY")
        page.click("#save")
        expect(page.locator("#form-error")).to_have_attribute("data-field", "viability_pct")
        shot("22-batch-error-at-field")
        page.fill("#viability_pct", "97")
        page.click("#save")
        expect(page.locator("h1")).to_contain_text("Batch MSC-Q01 (subject Q01)")
        expect(page.locator("#release-status")).to_have_text("pending")
        shot("23-batch-pending")

        page.click("text=Identity from FCS files")
        page.set_input_files("#stained", str(stained))
        page.set_input_files("#isotype", str(isotype))
        shot("24-identity-upload")
        page.click("#save")
        expect(page.locator("#identity")).to_contain_text("CD105")
        shot("25-batch-identity")

        # A release result corrected with its reason, before the decision.
        page.click("text=Correct the release results")
        expect(page.locator("#viability_pct")).to_have_value("97.0")
        page.fill("#viability_pct", "96")
        page.fill("#reason", "count sheet re-read: 96 %")
        shot("26-release-result-correction")
        page.click("#save")
        expect(page.locator("#release-tests")).to_contain_text("96 %")

        form = page.locator("#release-form")
        form.locator("select[name=decision]").select_option("released")
        form.locator("input[name=reason]").fill("All release tests within specification")
        form.locator("input[name=password]").fill(PASSWORD)
        form.locator("button").click()
        expect(page.locator("#release-status")).to_have_text("released")
        expect(page.locator("#release-decision")).to_contain_text("by qc")
        shot("27-batch-released")
        page.click("#certificate-link")
        expect(page.locator("body")).to_contain_text("MSC-Q01")
        shot("28-certificate")
        browser.close()


def test_administrator_and_statistician_days_in_chromium(server: str) -> None:
    """The administrator adds a user to a site and unlocks another; the statistician lands on
    his exports and opens the report."""
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)

        def shot(name: str) -> None:
            page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

        for _ in range(6):  # locks the account
            log_in(page, server, "locked-out", "not the password at all")
        log_in(page, server, "admin")
        page.click("nav >> text=Users")
        expect(page.locator("#user-locked-out strong.due")).to_have_text("locked")
        shot("29-admin-users")
        page.locator("#user-locked-out").locator("button:has-text('Unlock')").click()
        expect(page.locator("#user-locked-out strong.due")).to_have_count(0)
        page.fill("#username", "nurse")
        page.fill("#full_name", "Night Nurse")
        page.select_option("#role", "coordinator")
        page.select_option("#sites", "A")
        page.click("#add-user")
        expect(page.locator("#one-time")).to_contain_text("nurse")
        expect(page.locator("#user-nurse")).to_contain_text("A")
        shot("30-admin-user-added")
        log_in(page, server, "locked-out")
        expect(page.locator("nav")).to_contain_text("locked-out")
        log_in(page, server, "stats")
        expect(page.locator("nav")).to_contain_text("Report")
        shot("31-statistician-home")
        page.click("nav >> text=Report")
        expect(page.locator("body")).to_contain_text("synthetic", ignore_case=True)
        shot("32-statistician-report")
        # Issue 19: the statistician downloads the data for SPSS as a zip, and the export is
        # listed (recorded in the audit trail).
        page.goto(f"{server}/export")
        page.check("#format-spss")
        with page.expect_download() as download:
            page.click("#download")
        name = download.value.suggested_filename
        assert "-spss-" in name
        assert name.endswith(".zip")
        import zipfile

        with zipfile.ZipFile(download.value.path()) as archive:
            assert {"subjects.sav", "manifest.json"} <= set(archive.namelist())
        page.goto(f"{server}/export")
        expect(page.locator("#exports")).to_contain_text("spss")
        shot("33-statistician-export")
        browser.close()


def test_api_docs_load_from_the_package_in_chromium(server: str) -> None:
    # Issue 15: /docs was blank without internet (Swagger UI came from a CDN); the
    # Content-Security-Policy now also forbids any script not served by alstrial itself.
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        hosts: set[str] = set()
        refused: list[str] = []
        page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
        page.on(
            "console",
            lambda message: (
                refused.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        page.goto(f"{server}/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("alstrial")
        expect(page.get_by_text("/api/export/{frame}")).to_be_visible()
        page.screenshot(path=str(SHOTS / "20-api-docs-offline.png"), full_page=False)
        browser.close()
    assert hosts == {server.split("/")[2]}, hosts  # nothing fetched from anywhere else
    assert not refused, refused
