"""The batch record, release and the chain of identity through the services, on both back
ends; every refusal leaves every table (audit trail included) unchanged."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError, NotFoundError, ValidationError
from alstrial.services import (
    BatchRecord,
    BatchResults,
    evaluate_batch,
    record_administration,
    record_batch_record,
    record_culture_event,
    record_flow_results,
    record_product_batch,
    sign_release,
    verify_audit_trail,
)
from alstrial.store.models import ProductBatch, ReleaseDecision
from alstrial.vocabulary import ReleaseStatus
from tests.helpers import ACTOR, CONFORMING_IDENTITY, DAY0, batch, enrolled, refused

AT = datetime.combine(DAY0, time(9), tzinfo=UTC)


def give(session: Session, batch_code: str, subject: str = "S01") -> Any:
    return record_administration(
        session,
        actor=ACTOR,
        subject_code=subject,
        administered_at=AT,
        route="intravenous",
        product_batch=batch_code,
        cells_given=1.2e8,
        volume_ml=5.0,
    )


def test_an_unreleased_or_rejected_batch_never_reaches_a_patient(session: Session) -> None:
    enrolled(session, weight=60.0)
    pending = batch(session, "S01", release=False)
    error = refused(session, ValidationError, lambda: give(session, pending), field="product_batch")
    assert "pending, not released" in error.message
    sign_release(
        session,
        actor=ACTOR,
        batch_code=pending,
        decision="rejected",
        reason="mycoplasma result lost; remake",
    )
    error = refused(session, ValidationError, lambda: give(session, pending), field="product_batch")
    assert "rejected" in error.message


def test_chain_of_identity(session: Session) -> None:
    enrolled(session, weight=60.0)
    enrolled(session, "S02", weight=60.0)
    theirs = batch(session, "S02")
    error = refused(session, ValidationError, lambda: give(session, theirs), field="product_batch")
    assert "chain of identity" in error.message
    target = session.scalars(sa.select(ProductBatch).where(ProductBatch.batch_code == theirs)).one()
    assert target.target_subject_id == target.source_subject_id


def test_release_needs_every_test_to_pass(session: Session) -> None:
    enrolled(session, weight=60.0)
    record_product_batch(
        session,
        actor=ACTOR,
        subject_code="S01",
        results=BatchResults("B-LOW", 1.2e8, 65.0, "NC", "NC", 0.125, True, "46XY"),
    )
    error = refused(
        session,
        ValidationError,
        lambda: sign_release(
            session, actor=ACTOR, batch_code="B-LOW", decision="released", reason="looks fine"
        ),
        field="decision",
    )
    assert "viability (fail)" in error.message
    assert "identity (missing)" in error.message
    refused(
        session,
        ValidationError,
        lambda: sign_release(
            session, actor=ACTOR, batch_code="B-LOW", decision="rejected", reason="  "
        ),
        field="reason",
    )
    refused(
        session,
        NotFoundError,
        lambda: sign_release(
            session,
            actor="stranger",
            batch_code="B-LOW",
            decision="rejected",
            reason="low viability",
        ),
        field="actor",
    )
    signed = sign_release(
        session,
        actor=ACTOR,
        batch_code="B-LOW",
        decision="rejected",
        reason="viability 65 % < 70 %",
    )
    assert signed.decision is ReleaseStatus.REJECTED
    assert any(o["test"] == "viability" and o["status"] == "fail" for o in signed.evaluation)
    refused(
        session,
        ConflictError,
        lambda: sign_release(
            session, actor=ACTOR, batch_code="B-LOW", decision="released", reason="again"
        ),
        field="batch_code",
    )
    refused(
        session,
        ConflictError,
        lambda: record_flow_results(
            session, actor=ACTOR, batch_code="B-LOW", percent_positive={"CD73": 99.0}
        ),
        field="batch_code",
    )


def test_evaluation_uses_the_route_and_weight(session: Session) -> None:
    """IT: K = 0.2 EU/kg. 3 EU/ml x 5 ml / 60 kg = 0.25 EU/kg fails intrathecally, passes IV."""
    enrolled(session, "S01", weight=60.0, arm="IT")
    enrolled(session, "S02", weight=60.0, arm="IV")
    for code in ("S01", "S02"):
        record_product_batch(
            session,
            actor=ACTOR,
            subject_code=code,
            results=BatchResults(f"B-{code}", 1.2e8, 97.0, "NC", "NC", 3.0, False, "46XY"),
        )
        record_flow_results(
            session, actor=ACTOR, batch_code=f"B-{code}", percent_positive=CONFORMING_IDENTITY
        )
    it = {o.test: o for o in evaluate_batch(session, "B-S01").outcomes}
    iv = {o.test: o for o in evaluate_batch(session, "B-S02").outcomes}
    assert it["endotoxin"].status == "fail"
    assert "0.2 EU/kg" in it["endotoxin"].limit
    assert iv["endotoxin"].status == "pass"
    assert evaluate_batch(session, "B-S02").conforms


def test_batch_record_and_culture(session: Session) -> None:
    enrolled(session, weight=60.0)
    code = batch(session, "S01", release=False)
    aspiration = DAY0 - timedelta(days=30)
    record_batch_record(
        session,
        actor=ACTOR,
        batch_code=code,
        record=BatchRecord(
            aspiration_date=aspiration,
            aspiration_volume_ml=100,
            mnc_count=1.1e8,
            seeding_density_per_cm2=1e6,
            viability_method="NucleoCounter",
            viability_by_method={"trypan blue": 96.0, "NucleoCounter": 97.5},
            concentration_per_ml=2.4e7,
            product_volume_ml=5,
            excipient="0.9 % NaCl + 2 % HSA",
        ),
    )
    record_culture_event(
        session,
        actor=ACTOR,
        batch_code=code,
        event_date=aspiration + timedelta(days=4),
        kind="medium_change",
    )
    record_culture_event(
        session,
        actor=ACTOR,
        batch_code=code,
        event_date=aspiration + timedelta(days=14),
        kind="passage",
        passage_number=1,
        confluence_pct=90,
    )
    record_culture_event(
        session,
        actor=ACTOR,
        batch_code=code,
        event_date=aspiration + timedelta(days=25),
        kind="harvest",
        confluence_pct=90,
    )
    stored = session.scalars(sa.select(ProductBatch).where(ProductBatch.batch_code == code)).one()
    assert stored.harvest_date == aspiration + timedelta(days=25)
    assert stored.viability_by_method == {"trypan blue": 96.0, "NucleoCounter": 97.5}
    assert verify_audit_trail(session).problem is None
    refused(
        session,
        ValidationError,
        lambda: record_culture_event(
            session,
            actor=ACTOR,
            batch_code=code,
            event_date=aspiration - timedelta(days=1),
            kind="medium_change",
        ),
        field="event_date",
    )
    refused(
        session,
        ValidationError,
        lambda: record_culture_event(
            session, actor=ACTOR, batch_code=code, event_date=aspiration, kind="passage"
        ),
        field="passage_number",
    )
    refused(
        session,
        ValidationError,
        lambda: record_culture_event(
            session, actor=ACTOR, batch_code=code, event_date=aspiration, kind="thawing"
        ),
        field="kind",
    )
    refused(
        session,
        ValidationError,
        lambda: record_batch_record(
            session, actor=ACTOR, batch_code=code, record=BatchRecord(viability_method="guess")
        ),
        field="viability_method",
    )
    refused(
        session,
        ValidationError,
        lambda: record_batch_record(
            session,
            actor=ACTOR,
            batch_code=code,
            record=BatchRecord(harvest_date=aspiration - timedelta(days=2)),
        ),
        field="harvest_date",
    )
    refused(
        session,
        NotFoundError,
        lambda: record_culture_event(
            session, actor=ACTOR, batch_code="B-NONE", event_date=date(2024, 1, 1), kind="harvest"
        ),
        field="batch_code",
    )


def test_demo_batches_are_released_with_deviations_stated(demo_session: Session) -> None:
    decisions = demo_session.scalars(sa.select(ReleaseDecision)).all()
    assert len(decisions) == 14
    assert {d.decision for d in decisions} == {ReleaseStatus.RELEASED}
    for decision in decisions:
        assert any("CD19 or CD79a not tested" in text for text in decision.deviations)
        assert any(text.startswith("CD44 tested in addition") for text in decision.deviations)


def test_release_results_are_corrected_with_a_reason_until_the_decision(session: Session) -> None:
    """Issue 15, item 6: every release result can be corrected, with its reason, until the
    decision; the signed results then stand."""
    from alstrial.services import BatchResults
    from alstrial.services.product import correct_release_results
    from alstrial.store.audit import AuditEvent

    enrolled(session)
    code = batch(session, release=False)
    fixed = BatchResults(code, 1.3e8, 92.0, "NC", "NC", 0.25, False, "46,XY")
    refused(
        session,
        ValidationError,
        lambda: correct_release_results(
            session, actor=ACTOR, batch_code=code, results=fixed, reason=""
        ),
    )
    refused(
        session,
        ValidationError,
        lambda: correct_release_results(
            session,
            actor=ACTOR,
            batch_code=code,
            results=BatchResults(code, 1.3e8, 192.0, "NC", "NC", 0.25, False, "46,XY"),
            reason="typo",
        ),
    )
    correct_release_results(
        session, actor=ACTOR, batch_code=code, results=fixed, reason="lab report v2"
    )
    row = session.scalars(sa.select(ProductBatch)).one()
    assert (row.viability_pct, row.endotoxin_below_loq, row.karyotype) == (92.0, False, "46,XY")
    changed = set(
        session.scalars(
            sa.select(AuditEvent.field).where(
                AuditEvent.entity == "product_batch", AuditEvent.reason == "lab report v2"
            )
        )
    )
    assert changed == {
        "final_cell_count",
        "viability_pct",
        "endotoxin_eu_per_ml",
        "endotoxin_below_loq",
        "karyotype",
    }
    record_flow_results(session, actor=ACTOR, batch_code=code, percent_positive=CONFORMING_IDENTITY)
    sign_release(session, actor=ACTOR, batch_code=code, decision="released", reason="conforms")
    error = refused(
        session,
        ConflictError,
        lambda: correct_release_results(
            session, actor=ACTOR, batch_code=code, results=fixed, reason="late"
        ),
    )
    assert "signed results stand" in error.message


def test_a_karyotype_of_the_other_sex_fails_autologous_identity(session: Session) -> None:
    """A 46,XY product for a female subject passed; now it fails unless QC records why."""
    from alstrial.services import BatchResults
    from alstrial.services.product import correct_release_results
    from alstrial.vocabulary import Sex

    enrolled(session, sex=Sex.FEMALE)
    code = batch(session, release=False)  # the helper's karyotype is 46XY
    record_flow_results(session, actor=ACTOR, batch_code=code, percent_positive=CONFORMING_IDENTITY)
    evaluation = evaluate_batch(session, code)
    check = next(o for o in evaluation.outcomes if o.test == "autologous karyotype")
    assert check.status == "fail"
    assert "male karyotype for a female subject" in check.note
    error = refused(
        session,
        ValidationError,
        lambda: sign_release(
            session, actor=ACTOR, batch_code=code, decision="released", reason="r"
        ),
    )
    assert "autologous karyotype (fail)" in error.message
    results = BatchResults(code, 1.2e8, 97.0, "NC", "NC", 0.125, True, "46XY")
    correct_release_results(
        session,
        actor=ACTOR,
        batch_code=code,
        results=results,
        reason="cytogenetics confirmed donor chimerism after a prior transplant",
        karyotype_override="recipient of a male HSCT in 2015: chimerism confirmed",
    )
    check = next(
        o for o in evaluate_batch(session, code).outcomes if o.test == "autologous karyotype"
    )
    assert check.status == "pass"
    assert "chimerism confirmed" in check.note
    sign_release(session, actor=ACTOR, batch_code=code, decision="released", reason="conforms")
