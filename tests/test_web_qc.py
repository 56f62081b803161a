"""QC's manufacturing screens through the web (TestClient, real store on both back ends): a new
batch with its release results, the batch record with a reasoned correction, culture steps,
identity from uploaded FCS files, and the site boundary for all of them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from alstrial.services.accounts import create_account
from alstrial.store import make_session_factory
from alstrial.store.audit import AuditEvent
from alstrial.store.models import CultureEvent, FlowMarkerResult, ProductBatch
from alstrial.web.app import create_app
from tests.fcs_writer import write_fcs
from tests.helpers import ACTOR, enrolled, post_login

PASSWORD = "correct horse battery"
NEW_BATCH = {
    "subject": "S01",
    "batch_code": "B-S01",
    "final_cell_count": "1.2e8",
    "viability_pct": "97",
    "bacteriology": "NC",
    "mycoplasma": "NC",
    "endotoxin_eu_per_ml": "0.125",
    "endotoxin_below_loq": "yes",
    "karyotype": "46,XY",
}


@pytest.fixture
def web(engine: Engine) -> Iterator[TestClient]:
    with make_session_factory(engine)() as session:
        enrolled(session, "S01", site="A")
        enrolled(session, "S02", site="B")
        for username, role, site in (
            ("qc-a", "qc", "A"),
            ("coord-a", "coordinator", "A"),
            ("monitor-a", "monitor", "A"),
        ):
            create_account(
                session, actor=ACTOR, username=username, role=role, sites=[site], password=PASSWORD
            )
    app = create_app(
        engine, secret_key="test-secret-key-long-enough-0123456789abcdefghij", secure_cookies=False
    )
    with TestClient(app) as client:
        yield client


def login(client: TestClient, username: str) -> str:
    response = post_login(client, username, PASSWORD)
    assert response.status_code == 303
    return client.get("/password").text.split('name="csrf" value="')[1].split('"')[0]


def test_new_batch_errors_at_the_field_and_site_boundary(web: TestClient, engine: Engine) -> None:
    csrf = login(web, "qc-a")
    assert 'href="/batches/new"' in web.get("/batches").text
    form = web.get("/batches/new").text
    assert '<option value="S01"' in form
    assert '<option value="S02"' not in form  # another site's subject is not offered
    bad = web.post("/batches/new", data=NEW_BATCH | {"viability_pct": "150", "csrf": csrf})
    assert bad.status_code == 400
    assert 'data-field="viability_pct"' in bad.text
    other = web.post("/batches/new", data=NEW_BATCH | {"subject": "S02", "csrf": csrf})
    assert other.status_code == 404
    assert web.post("/batches/new", data=NEW_BATCH).status_code == 403  # no CSRF token
    with make_session_factory(engine)() as session:
        assert session.scalars(sa.select(ProductBatch)).first() is None
    saved = web.post("/batches/new", data=NEW_BATCH | {"csrf": csrf}, follow_redirects=False)
    assert saved.status_code == 303
    assert saved.headers["location"] == "/batches/B-S01"
    page = web.get("/batches/B-S01").text
    assert "Batch B-S01 (subject S01)" in page
    assert 'id="batch-actions"' in page
    again = web.post("/batches/new", data=NEW_BATCH | {"csrf": csrf})
    assert again.status_code == 400
    assert "batch codes are unique across the trial" in again.text
    # A coordinator enters clinical data, not batches; a monitor reads them.
    csrf = login(web, "coord-a")
    assert web.get("/batches/new").status_code == 403
    assert web.post("/batches/new", data=NEW_BATCH | {"csrf": csrf}).status_code == 403
    login(web, "monitor-a")
    assert web.get("/batches/B-S01").status_code == 200
    assert web.get("/batches/B-S01/forms/batch_record").status_code == 403


def test_batch_record_and_culture(web: TestClient, engine: Engine) -> None:
    csrf = login(web, "qc-a")
    web.post("/batches/new", data=NEW_BATCH | {"csrf": csrf})
    url = "/batches/B-S01/forms/batch_record"
    aspiration = (date.today() - timedelta(days=30)).isoformat()
    record = {
        "aspiration_date": aspiration,
        "aspiration_volume_ml": "60",
        "mnc_count": "6.1e8",
        "viability_method": "trypan blue",
        "viability_trypan_blue": "96",
        "viability_nucleocounter": "94.5",
        "concentration_per_ml": "2.4e7",
        "product_volume_ml": "5",
        "excipient": "saline + 1% albumin",
        "csrf": csrf,
    }
    bad = web.post(url, data=record | {"mnc_count": "-1"})
    assert bad.status_code == 400
    assert 'data-field="mnc_count"' in bad.text
    assert web.post(url, data=record, follow_redirects=False).status_code == 303
    shown = web.get(url).text  # a correction starts from the saved values
    assert 'value="60.0"' in shown
    assert 'value="94.5"' in shown
    unreasoned = web.post(url, data=record | {"aspiration_volume_ml": "55"})
    assert unreasoned.status_code == 400
    assert 'data-field="reason"' in unreasoned.text
    corrected = web.post(
        url,
        data=record | {"aspiration_volume_ml": "55", "reason": "transcription error"},
        follow_redirects=False,
    )
    assert corrected.status_code == 303
    with make_session_factory(engine)() as session:
        batch = session.scalars(sa.select(ProductBatch)).one()
        assert batch.aspiration_volume_ml == 55.0
        assert batch.viability_by_method == {"trypan blue": 96.0, "nucleocounter": 94.5}
        change = session.scalars(
            sa.select(AuditEvent).where(AuditEvent.field == "aspiration_volume_ml")
        ).all()
        assert [(e.old_value, e.new_value, e.reason) for e in change][-1] == (
            "60.0",
            "55.0",
            "transcription error",
        )

    steps = "/batches/B-S01/forms/culture_event"
    passage = {"event_date": aspiration, "kind": "passage", "confluence_pct": "85", "csrf": csrf}
    missing = web.post(steps, data=passage)
    assert missing.status_code == 400
    assert 'data-field="passage_number"' in missing.text
    before = (date.today() - timedelta(days=40)).isoformat()
    early = web.post(steps, data=passage | {"passage_number": "1", "event_date": before})
    assert early.status_code == 400
    assert "before the marrow was aspirated" in early.text
    done = web.post(steps, data=passage | {"passage_number": "1"}, follow_redirects=False)
    assert done.status_code == 303
    assert web.get("/batches/B-S01/forms/nonsense").status_code == 404
    page = web.get("/batches/B-S01").text
    assert "saline + 1% albumin" in page
    assert 'id="culture"' in page
    with make_session_factory(engine)() as session:
        assert session.scalars(sa.select(CultureEvent.passage_number)).all() == [1]


def _tubes(tmp: Path) -> tuple[bytes, bytes]:
    """A stained tube with CD73 bright on 97 % of cells and CD34 dim, and its isotype."""
    rng = np.random.default_rng(9)
    n = 4000
    scatter = np.column_stack([rng.uniform(200, 800, n), rng.uniform(100, 600, n)])
    isotype = np.column_stack([scatter, rng.normal(50, 10, (n, 2)).clip(0)])
    stained = isotype.copy()
    stained[: int(0.97 * n), 2] = rng.normal(600, 50, int(0.97 * n))
    channels, markers = ["FSC-H", "SSC-H", "FL1-H", "FL2-H"], ["", "", "CD73", "CD34"]
    s = write_fcs(tmp / "s.fcs", stained, channels, markers=markers, version="2.0")
    i = write_fcs(tmp / "i.fcs", isotype, channels, markers=markers, version="2.0")
    return s.read_bytes(), i.read_bytes()


def test_identity_from_uploaded_fcs_files(web: TestClient, engine: Engine, tmp_path: Path) -> None:
    csrf = login(web, "qc-a")
    web.post("/batches/new", data=NEW_BATCH | {"csrf": csrf})
    stained, isotype = _tubes(tmp_path)
    url = "/batches/B-S01/flow"
    assert "Identity by flow cytometry" in web.get(url).text

    def upload(stained_bytes: bytes, **form: str) -> Any:
        return web.post(
            url,
            data={"markers": "CD73, CD34", "csrf": csrf} | form,
            files={
                "stained": ("stained.fcs", stained_bytes, "application/octet-stream"),
                "isotype": ("isotype.fcs", isotype, "application/octet-stream"),
            },
            follow_redirects=False,
        )

    truncated = upload(stained[:-40])
    assert truncated.status_code == 400
    assert "stained.fcs" in truncated.text
    for percentile in ("ninety", "150"):  # not a number; outside (0, 100)
        gate = upload(stained, percentile=percentile)
        assert gate.status_code == 400
        assert 'data-field="percentile"' in gate.text
    absent = upload(stained, markers="CD105")
    assert absent.status_code == 400
    assert "CD105" in absent.text
    with make_session_factory(engine)() as session:
        assert session.scalars(sa.select(FlowMarkerResult)).first() is None
    assert upload(stained).status_code == 303
    with make_session_factory(engine)() as session:
        rows = {r.marker: r for r in session.scalars(sa.select(FlowMarkerResult))}
    assert rows["CD73"].percent_positive == pytest.approx(97.0, abs=1.0)
    assert rows["CD34"].percent_positive < 3.0
    assert rows["CD73"].stained_sha256 == hashlib.sha256(stained).hexdigest()
    page = web.get("/batches/B-S01").text
    assert 'id="identity"' in page
    assert "CD73" in page
    # Replacing stored results is a change of saved data: it needs a reason.
    again = upload(stained, percentile="95")
    assert again.status_code == 400
    assert "reason" in again.text
    assert upload(stained, percentile="95", reason="gate agreed with the QP").status_code == 303


def test_fcs_upload_faults_are_400_with_the_cause(
    web: TestClient, engine: Engine, tmp_path: Path
) -> None:
    """Issue 16: an FCS file with $P1B=7 over 16-bit data was a 500; a file of two data sets
    must name them; scatter names a vendor uses are given on the form."""
    from tests.fcs_writer import chain, fcs_bytes

    csrf = login(web, "qc-a")
    web.post("/batches/new", data=NEW_BATCH | {"csrf": csrf})
    rng = np.random.default_rng(11)
    n = 3000
    scatter = np.column_stack([rng.uniform(200, 800, n), rng.uniform(100, 600, n)])
    isotype = np.column_stack([scatter, rng.normal(50, 10, n).clip(0)])
    stained = isotype.copy()
    stained[: int(0.97 * n), 2] = rng.normal(600, 50, int(0.97 * n))
    odd = ["Scatter 1", "Scatter 2", "FL1"]
    markers = ["", "", "CD73"]

    def upload(stained_bytes: bytes, isotype_bytes: bytes, **form: str) -> Any:
        return web.post(
            "/batches/B-S01/flow",
            data={"markers": "CD73", "csrf": csrf} | form,
            files={
                "stained": ("stained.fcs", stained_bytes, "application/octet-stream"),
                "isotype": ("isotype.fcs", isotype_bytes, "application/octet-stream"),
            },
            follow_redirects=False,
        )

    seven = fcs_bytes(stained, odd, markers=markers, datatype="I", extra={"$P1B": "7"})
    iso = fcs_bytes(isotype, odd, markers=markers, datatype="I")
    refused = upload(seven, iso)
    assert refused.status_code == 400
    assert "but the segment holds" in refused.text
    two = chain(
        (stained, odd, {"markers": markers, "datatype": "I"}),
        (stained, odd, {"markers": markers}),
    )
    several = upload(two, iso)
    assert several.status_code == 400
    assert "holds 2 data sets" in several.text
    iso_two = chain(
        (isotype, odd, {"markers": markers, "datatype": "I"}),
        (isotype, odd, {"markers": markers}),
    )
    unnamed = upload(two, iso_two, dataset="2")
    assert unnamed.status_code == 400
    assert "no forward-scatter channel recognised" in unnamed.text
    assert upload(two, iso, dataset="x").status_code == 400
    with make_session_factory(engine)() as session:
        assert session.scalars(sa.select(FlowMarkerResult)).first() is None
    stored = upload(two, iso_two, dataset="2", fsc="Scatter 1", ssc="Scatter 2")
    assert stored.status_code == 303, stored.text
    with make_session_factory(engine)() as session:
        row = session.scalars(sa.select(FlowMarkerResult)).one()
    assert row.percent_positive == pytest.approx(97.0, abs=1.0)


def test_qc_corrects_a_result_releases_and_shows_the_record(
    web: TestClient, engine: Engine
) -> None:
    """Issue 15, item 6: a release result corrected after "New batch" (with its reason), then
    released; the batch page shows who signed, when and why, and links the certificate."""
    from alstrial.services.accounts import create_account as add
    from alstrial.services.manufacturing import record_flow_results
    from tests.helpers import CONFORMING_IDENTITY

    csrf = login(web, "qc-a")
    web.post("/batches/new", data=NEW_BATCH | {"viability_pct": "67", "csrf": csrf})
    with make_session_factory(engine)() as session:
        record_flow_results(
            session, actor=ACTOR, batch_code="B-S01", percent_positive=CONFORMING_IDENTITY
        )
    page = web.get("/batches/B-S01").text
    assert 'href="/batches/B-S01/forms/release_results"' in page
    assert "does not conform" in page  # viability 67 % < 70 %
    form = web.get("/batches/B-S01/forms/release_results").text
    assert 'value="67.0"' in form  # a correction starts from the saved value
    fields = {k: v for k, v in NEW_BATCH.items() if k not in ("subject", "batch_code")} | {
        "csrf": csrf,
        "viability_pct": "97",
    }
    no_reason = web.post("/batches/B-S01/forms/release_results", data=fields)
    assert no_reason.status_code == 400
    assert 'data-field="reason"' in no_reason.text
    fixed = web.post(
        "/batches/B-S01/forms/release_results",
        data=fields | {"reason": "transcription error: the count sheet says 97 %"},
        follow_redirects=False,
    )
    assert fixed.status_code == 303, fixed.text
    assert "does not conform" not in web.get("/batches/B-S01").text
    released = web.post(
        "/batches/B-S01/release",
        data={
            "decision": "released",
            "reason": "all tests pass",
            "password": PASSWORD,
            "csrf": csrf,
        },
        follow_redirects=False,
    )
    assert released.status_code == 303
    page = web.get("/batches/B-S01").text
    record = page.split('id="release-decision"')[1]
    assert "released</strong> by <strong>qc-a</strong>" in record
    assert "all tests pass" in record
    assert 'href="/batches/B-S01/certificate"' in record
    assert 'href="/batches/B-S01/forms/release_results"' not in page  # signed results stand
    late = web.post("/batches/B-S01/forms/release_results", data=fields | {"reason": "late"})
    assert late.status_code == 400
    assert "signed results stand" in late.text
    certificate = web.get("/batches/B-S01/certificate")
    assert certificate.status_code == 200
    assert "B-S01" in certificate.text
    assert "script-src" not in certificate.headers["content-security-policy"]
    with make_session_factory(engine)() as session:
        add(
            session,
            actor=ACTOR,
            username="coord-b",
            role="coordinator",
            sites=["B"],
            password=PASSWORD,
        )
    login(web, "coord-b")
    assert web.get("/batches/B-S01/certificate").status_code in (403, 404)
