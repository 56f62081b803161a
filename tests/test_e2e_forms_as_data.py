"""Forms as data, end to end (issue 17): a trial team adds a repeating form and a visit form
by editing the protocol file only, applies it with ``alstrial protocol amend``, and a
coordinator enters both in Chromium while the application keeps running: no code changed.

Screenshots go to ``out/e2e-screenshots/`` with the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from alstrial.protocol import reference_protocol_text
from alstrial.store import make_session_factory
from tests.helpers import enrolled, run_cli
from tests.test_e2e_browser import CHROMIUM, FLAGS, SHOTS, log_in, server, sqlite_engine

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["server", "sqlite_engine"]  # the fixtures this module uses

NEW_FORMS = """
[[forms]]
name = "grip_strength"
title = "Grip strength"
description = "Hand-held dynamometer, best of three per hand."

[[forms.fields]]
name = "right_kg"
label = "Right hand"
type = "decimal"
unit = "kg"
decimals = 1
required = true
min = 0
max = 90
soft_max = 60

[[forms.fields]]
name = "left_kg"
label = "Left hand"
type = "decimal"
unit = "kg"
decimals = 1
required = true
min = 0
max = 90
soft_max = 60

[[forms.fields]]
name = "dominant"
label = "Dominant hand"
type = "choice"
required = true
choices = [{code = "R", label = "Right"}, {code = "L", label = "Left"}]

[[forms.fields]]
name = "mean_kg"
label = "Mean of both hands"
type = "calc"
unit = "kg"
decimals = 1
calc = "round(mean(right_kg, left_kg), 1)"

[[forms]]
name = "hospitalisation"
title = "Hospitalisation"
scope = "subject"
repeating = true

[[forms.fields]]
name = "admitted"
label = "Admitted on"
type = "date"
required = true

[[forms.fields]]
name = "why"
label = "Reason for admission"
type = "text"
required = true
max_length = 200

[[forms.fields]]
name = "letter"
label = "Discharge letter"
type = "file"
"""


def _amended() -> str:
    text = reference_protocol_text()
    old = 'assessments = ["physical_exam", "alsfrs_r", "spirometry", "labs", "vitals", "mri"]'
    assert old in text
    text = text.replace(old, old.replace('"mri"]', '"mri", "grip_strength"]'), 1)
    return (
        text.replace('protocol_version = "', 'protocol_version = "amendment-1 of ', 1) + NEW_FORMS
    )


def _amend(engine: Engine, text: str, folder: Path, reason: str) -> None:
    """Apply a protocol file as an amendment, as a trial team does (`alstrial protocol amend`)."""
    protocol = folder / "amended.toml"
    protocol.write_text(text, encoding="utf-8")
    assert run_cli("protocol", "check", str(protocol)).returncode == 0
    url = engine.url.render_as_string(hide_password=False)
    done = run_cli("protocol", "amend", str(protocol), "--reason", reason, "--database", url)
    assert done.returncode == 0, done.stderr


@contextmanager
def _coordinator(server: str) -> Iterator[Page]:
    """Chromium, logged in as the site's coordinator."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        log_in(page, server, "coord")
        yield page
        browser.close()


def test_a_new_visit_form_and_a_repeating_form_without_code(
    server: str, sqlite_engine: Engine, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with make_session_factory(sqlite_engine)() as session:
        enrolled(session, "G01", site="A")
    _amend(sqlite_engine, _amended(), tmp_path, "grip strength")
    with _coordinator(server) as page:

        def shot(name: str) -> None:
            page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

        page.goto(f"{server}/subjects/G01")
        page.click("#visit-W-1 >> text=Grip strength")
        expect(page.locator("h1")).to_contain_text("Grip strength: G01, visit W-1")
        expect(page.locator("input[name=dominant]:checked")).to_have_count(0)
        # Three bad fields: every problem at its field at once.
        page.fill("#right_kg", "95")
        page.fill("#left_kg", "4O")
        page.click("#save")
        expect(page.locator("#err-right_kg")).to_contain_text("above maximum 90 kg")
        expect(page.locator("#err-left_kg")).to_contain_text("'4O' is not a number")
        expect(page.locator("#err-dominant")).to_contain_text("Dominant hand is required")
        expect(page.locator("#form-error")).to_contain_text("Grip strength: 3 problems")
        expect(page.locator("#calc-mean_kg")).to_have_text("")  # never from a refused value
        shot("40-dictionary-form-three-errors")
        page.fill("#right_kg", "31.5")
        page.fill("#left_kg", "28.5")
        page.check("input[name=dominant][value=R]")
        expect(page.locator("#calc-mean_kg")).to_have_text("30.0")  # live, as typed
        expect(page.locator("#err-right_kg")).to_have_text("")
        expect(page.locator("#form-error")).to_have_text("")  # no stale banner after the fix
        shot("41-dictionary-form-calculated-live")
        page.click("#save")
        expect(page.locator("h1")).to_contain_text("Subject G01")
        expect(page.locator('#visit-W-1 li[data-assessment="grip_strength"]')).to_contain_text(
            "recorded"
        )
        page.click("a.dictionary-form >> text=Hospitalisation")
        for day, why in (("2026-01-10", "pneumonia"), ("2026-03-02", "gastrostomy")):
            page.fill("#admitted", day)
            page.fill("#why", why)
            if why == "gastrostomy":  # a file field: the discharge letter, as a file
                letter = tmp_path / "discharge letter.pdf"
                letter.write_bytes(b"%PDF-1.4 discharged 2026-03-09\n")
                page.set_input_files("#letter", str(letter))
            page.click("#save")
            expect(page.locator("#instances")).to_contain_text(why)
        expect(page.locator("#instance-2")).to_contain_text("gastrostomy")
        expect(page.locator("#instance-2 a[href^='/subjects/G01/files/']")).to_have_text(
            "discharge letter.pdf"
        )
        with page.expect_download() as download:
            page.click("#instance-2 a:has-text('discharge letter.pdf')")
        saved = tmp_path / "downloaded.pdf"
        download.value.save_as(saved)
        assert saved.read_bytes() == b"%PDF-1.4 discharged 2026-03-09\n"
        shot("42-repeating-form-two-instances")

        # The monitor verifies the second admission field by field, then whole.
        log_in(page, server, "monitor")
        page.goto(f"{server}/subjects/G01/crf/hospitalisation")
        expect(page.locator("#sdv-state-2")).to_contain_text("Not source-verified")
        page.check("#record-2 input[aria-label='verify Admitted on of #2']")
        page.click("#verify-fields-2")
        expect(page.locator("#value-2-admitted")).to_contain_text("monitor")
        page.click("#verify-whole-2")
        expect(page.locator("#sdv-state-2")).to_contain_text("Source-verified by monitor")
        expect(page.locator("#sdv-state-1")).to_contain_text("Not source-verified")
        shot("43-monitor-verifies-a-dictionary-form")

        # The statistician's export carries the letter only when he ticks the box.
        log_in(page, server, "stats")
        page.goto(f"{server}/export")
        page.check("#format-csv")
        expect(page.locator("#with-files")).not_to_be_checked()
        page.check("#with-files")
        shot("44-export-with-the-subjects-files")
        with page.expect_download() as download:
            page.click("#download")
        import zipfile

        with zipfile.ZipFile(download.value.path()) as archive:
            letters = [n for n in archive.namelist() if n.startswith("files/")]
            assert [n.split("-", 1)[1] for n in letters] == ["discharge letter.pdf"]
            assert archive.read(letters[0]) == b"%PDF-1.4 discharged 2026-03-09\n"
            index = archive.read("attachments.csv").decode("utf-8")
            assert "G01,hospitalisation" in index
        page.goto(f"{server}/export")
        expect(page.locator("#exports tr").nth(1)).to_contain_text("csv")
        expect(page.locator("#exports tr").nth(1).locator("td").nth(5)).to_have_text("1")


EVERY_TYPE = """
[[forms]]
name = "every_type"
title = "Every field type"

[[forms.fields]]
name = "intro"
label = "Ask the questions in this order."
type = "descriptive"

[[forms.fields]]
name = "count"
label = "Count"
type = "integer"
required = true
min = 0
max = 10

[[forms.fields]]
name = "level"
label = "Level"
type = "decimal"
unit = "mmol/L"
decimals = 2
soft_max = 5

[[forms.fields]]
name = "code"
label = "Code"
type = "text"
pattern = "[A-Z]{3}"

[[forms.fields]]
name = "remarks"
label = "Remarks"
type = "notes"

[[forms.fields]]
name = "seen_on"
label = "Seen on"
type = "date"

[[forms.fields]]
name = "seen_at"
label = "Seen at"
type = "datetime"

[[forms.fields]]
name = "at_time"
label = "Time of dose"
type = "time"

[[forms.fields]]
name = "ok"
label = "Tolerated"
type = "yesno"

[[forms.fields]]
name = "colour"
label = "Colour"
type = "choice"
choices = [{code = "r", label = "Red"}, {code = "g", label = "Green"}]

[[forms.fields]]
name = "tags"
label = "Tags"
type = "multichoice"
choices = [
  {code = "a", label = "Alpha"},
  {code = "b", label = "Beta"},
  {code = "c", label = "Gamma"},
]

[[forms.fields]]
name = "double"
label = "Twice the count"
type = "calc"
calc = "count * 2"
"""


def test_every_field_type_in_chromium(server: str, sqlite_engine: Engine, tmp_path: Path) -> None:
    """Each field type entered in the browser, a soft-range value confirmed, and the typed
    values read back from the store."""
    from playwright.sync_api import expect

    from alstrial.services.dictionary_forms import form_instances

    with make_session_factory(sqlite_engine)() as session:
        enrolled(session, "T01", site="A")
    text = reference_protocol_text()
    old = 'assessments = ["physical_exam", "alsfrs_r", "spirometry", "labs", "vitals", "mri"]'
    text = text.replace(old, old.replace('"mri"]', '"mri", "every_type"]'), 1)
    text = text.replace('protocol_version = "', 'protocol_version = "types-', 1) + EVERY_TYPE
    _amend(sqlite_engine, text, tmp_path, "every field type")
    with _coordinator(server) as page:
        page.goto(f"{server}/subjects/T01/crf/every_type?visit=W-1")
        expect(page.locator("#field-intro")).to_contain_text("Ask the questions")
        page.fill("#count", "4")
        page.fill("#level", "7.25")
        page.fill("#code", "ABC")
        page.fill("#remarks", "two\nlines")
        page.fill("#seen_on", "2026-01-05")
        page.fill("#seen_at", "2026-01-05T09:30")
        page.fill("#at_time", "08:15")
        page.check("input[name=ok][value=yes]")
        page.check("input[name=colour][value=g]")
        page.check("input[name=tags][value=a]")
        page.check("input[name=tags][value=c]")
        expect(page.locator("#calc-double")).to_have_text("8")
        expect(page.locator("#err-level")).to_contain_text("above the expected maximum 5")
        page.check("input[name=confirm__level]")
        expect(page.locator("#err-level")).to_have_text("")
        page.screenshot(path=str(SHOTS / "43-every-field-type.png"), full_page=True)
        page.click("#save")
        expect(page.locator("h1")).to_contain_text("Subject T01")
    with make_session_factory(sqlite_engine)() as session:
        [saved] = form_instances(session, "T01", "every_type")
    assert saved.values == {
        "count": 4,
        "level": 7.25,
        "code": "ABC",
        "remarks": "two\nlines",
        "seen_on": date(2026, 1, 5),
        "seen_at": datetime(2026, 1, 5, 9, 30),
        "at_time": time(8, 15),
        "ok": True,
        "colour": "g",
        "tags": ["a", "c"],
        "double": 8,
    }
    assert saved.confirmed == {"level"}
