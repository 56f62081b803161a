"""Labs, vitals and stopping rules through the services, on both back ends."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy.orm import Session

from alstrial.exceptions import NotFoundError, ValidationError
from alstrial.services import (
    AdverseEventReport,
    VitalsReading,
    mark_notification_sent,
    open_stopping_rules,
    overdue_notifications,
    record_administration,
    record_checklist_review,
    record_lab,
    record_stopping_decision,
    record_vitals,
    report_adverse_event,
    verify_audit_trail,
)
from alstrial.vocabulary import AdverseEventOutcome, Relatedness
from tests.helpers import ACTOR, DAY0, administer, batch, enrolled, refused

W6 = DAY0 - timedelta(days=42)


def test_lab_conversion_flag_and_grade(session: Session) -> None:
    """ALT 180 U/L entered as 3.0 ukat/L (x 60): above 3 x ULN 55 (male), grade 2; a
    creatinine in mg/dL is stored in umol/L; a baseline is the first value of the analyte."""
    enrolled(session)
    alt = record_lab(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="W-6",
        sample_date=W6,
        analyte="ALT",
        value=3.0,
        unit="ukat/L",
    )
    assert (alt.value, alt.unit, alt.flag, alt.ctcae_grade) == (pytest.approx(180.0), "U/L", "H", 2)
    creat = record_lab(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="W-6",
        sample_date=W6,
        analyte="creat",
        value=1.0,
        unit="mg/dL",
    )
    assert creat.value == pytest.approx(88.42)
    assert creat.ctcae_grade == 0
    refused(
        session,
        ValidationError,
        lambda: record_lab(
            session,
            actor=ACTOR,
            subject_code="S01",
            visit_code="W-4",
            sample_date=W6 + timedelta(days=14),
            analyte="CREAT",
            value=1.0,
            unit="mmHg",
        ),
        field="unit",
        subject="S01",
    )
    refused(
        session,
        ValidationError,
        lambda: record_lab(
            session,
            actor=ACTOR,
            subject_code="S01",
            visit_code="W-6",
            sample_date=W6,
            analyte="ALT",
            value=40,
            unit="U/L",
        ),
        field="reason",
    )
    assert verify_audit_trail(session).problem is None


def test_vitals_after_infusion(session: Session) -> None:
    """The trial's hypotension: 85/60 mmHg after IV infusion, 105/80 after 1000 ml saline."""
    enrolled(session)
    at = datetime.combine(DAY0, time(10), tzinfo=UTC)
    record_vitals(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="D0",
        reading=VitalsReading(at, 85, 60, 96, note="after IV infusion"),
    )
    record_vitals(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="D0",
        reading=VitalsReading(at + timedelta(hours=2), 105, 80, note="after 1000 ml saline"),
    )
    refused(
        session,
        ValidationError,
        lambda: record_vitals(
            session,
            actor=ACTOR,
            subject_code="S01",
            visit_code="D0",
            reading=VitalsReading(at, 80, 85),
        ),
        field="diastolic_mmhg",
    )
    refused(
        session,
        ValidationError,
        lambda: record_vitals(
            session,
            actor=ACTOR,
            subject_code="S01",
            visit_code="D0",
            reading=VitalsReading(at, temperature_c=98.6),
        ),
        field="temperature_c",
    )
    refused(
        session,
        ValidationError,
        lambda: record_vitals(
            session,
            actor=ACTOR,
            subject_code="S01",
            visit_code="D0",
            reading=VitalsReading(at, 120, None),
        ),
        field="diastolic_mmhg",
    )


def related_event(session: Session, code: str, grade: int) -> None:
    report_adverse_event(
        session,
        actor=ACTOR,
        subject_code=code,
        report=AdverseEventReport(
            term="Fever",
            category="Systemic",
            onset_date=DAY0,
            end_date=DAY0 + timedelta(days=2),
            severity_grade=grade,
            serious=grade >= 3,
            seriousness=("hospitalisation",) if grade >= 3 else (),
            relatedness=Relatedness.PROBABLE,
            outcome=AdverseEventOutcome.RECOVERED,
        ),
    )


def test_a_triggered_stopping_rule_blocks_administration(session: Session) -> None:
    """SR2: two related grade >= 3 events. One does not trigger; the second does, and the
    next administration is refused until an investigator decides to continue."""
    for code in ("S01", "S02", "S03"):
        enrolled(session, code)
    administer(session, "S01")
    related_event(session, "S01", 3)
    assert open_stopping_rules(session) == []
    related_event(session, "S01", 4)
    (rule,) = open_stopping_rules(session)
    assert rule.rule.id == "SR2"
    code = batch(session, "S02")
    give = lambda: record_administration(  # noqa: E731
        session,
        actor=ACTOR,
        subject_code="S02",
        administered_at=datetime.combine(DAY0, time(9), tzinfo=UTC),
        route="intravenous",
        product_batch=code,
        cells_given=1.2e8,
        volume_ml=5,
    )
    error = refused(session, ValidationError, give, field="stopping_rules")
    assert "SR2" in error.message
    refused(
        session,
        ValidationError,
        lambda: record_stopping_decision(
            session, actor=ACTOR, rule_id="SR2", decision="continue", reason=" "
        ),
        field="reason",
    )
    refused(
        session,
        NotFoundError,
        lambda: record_stopping_decision(
            session, actor="nobody", rule_id="SR2", decision="continue", reason="reviewed"
        ),
        field="actor",
    )
    record_stopping_decision(
        session,
        actor=ACTOR,
        rule_id="SR2",
        decision="continue",
        reason="DSMB reviewed both fevers: resolved, continue",
    )
    assert open_stopping_rules(session) == []
    give()
    related_event(session, "S02", 3)  # a third event reopens the rule
    assert [t.rule.id for t in open_stopping_rules(session)] == ["SR2"]


def test_sae_opens_its_notifications(session: Session) -> None:
    """A fatal, related, unexpected event: SAE report in 24 h, SUSAR in 7 days, follow-up in
    15; an SAE without a criterion, or criteria without 'serious', is refused."""
    enrolled(session)
    administer(session)
    aware = datetime.combine(DAY0 + timedelta(days=3), time(8), tzinfo=UTC)

    def report(**change: object) -> object:
        values: dict[str, object] = {
            "term": "Respiratory failure",
            "category": "Systemic",
            "onset_date": DAY0 + timedelta(days=3),
            "end_date": DAY0 + timedelta(days=3),
            "severity_grade": 5,
            "serious": True,
            "seriousness": ("death",),
            "relatedness": Relatedness.POSSIBLE,
            "outcome": AdverseEventOutcome.FATAL,
            "expected": False,
            "aware_at": aware,
            "relatedness_by_procedure": {"intravenous_infusion": "unlikely"},
        } | change
        return report_adverse_event(
            session, actor=ACTOR, subject_code="S01", report=AdverseEventReport(**values)
        )  # type: ignore[arg-type]

    error = refused(session, ValidationError, lambda: report(seriousness=()), field="seriousness")
    assert "needs at least one seriousness criterion" in error.message
    refused(session, ValidationError, lambda: report(serious=False), field="seriousness")
    refused(
        session,
        ValidationError,
        lambda: report(relatedness_by_procedure={"surgery": "possible"}),
        field="relatedness",
    )
    report()
    late = overdue_notifications(session, now=aware + timedelta(days=8))
    assert [n.kind for n in late] == ["SAE initial report", "SUSAR (fatal or life-threatening)"]
    mark_notification_sent(
        session, actor=ACTOR, notification_id=late[0].id, sent_at=aware + timedelta(hours=5)
    )
    assert len(overdue_notifications(session, now=aware + timedelta(days=8))) == 1
    assert len(overdue_notifications(session, now=aware + timedelta(days=16))) == 2


def test_checklist_none_is_distinct_from_not_asked(session: Session) -> None:
    enrolled(session)
    review = record_checklist_review(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="D1",
        reviewed_on=DAY0 + timedelta(days=1),
        none_reported=True,
    )
    assert review.none_reported is True
    refused(
        session,
        ValidationError,
        lambda: record_checklist_review(
            session,
            actor=ACTOR,
            subject_code="S01",
            visit_code="D1",
            reviewed_on=DAY0 + timedelta(days=1),
            none_reported=False,
        ),
        field="reason",
    )


def test_safety_tables(session: Session) -> None:
    """Shift table: S01 ALT normal before the administration, grade 2 after; S02 normal
    throughout; S03 treated with a baseline value only (counted under "none"). SAE listing
    and events by grade from the same frames."""
    from alstrial.reporting.safety_tables import (
        NO_VALUE,
        events_by_category_and_grade,
        lab_shift_matrix,
        lab_shift_table,
        sae_listing,
    )
    from alstrial.services import build_analysis_frames

    for code in ("S01", "S02", "S03"):
        enrolled(session, code)
        record_lab(
            session,
            actor=ACTOR,
            subject_code=code,
            visit_code="W-6",
            sample_date=W6,
            analyte="ALT",
            value=30,
            unit="U/L",
        )
    for code in ("S01", "S02", "S03"):
        administer(session, code)
    for code, value in (("S01", 200), ("S02", 40)):
        record_lab(
            session,
            actor=ACTOR,
            subject_code=code,
            visit_code="M2",
            sample_date=DAY0 + timedelta(days=61),
            analyte="ALT",
            value=value,
            unit="U/L",
        )
    related_event(session, "S01", 3)
    frames = build_analysis_frames(session)
    shift = lab_shift_table(frames, "ALT").set_index(["baseline_grade", "worst_grade"])
    assert shift.loc[(0, 2), "patients"] == 1
    assert shift.loc[(0, 0), "patients"] == 1
    assert shift.loc[(0, NO_VALUE), "patients"] == 1
    matrix = lab_shift_matrix(frames, "ALT")["IV"]
    assert (matrix.loc[0, 2], matrix.loc[0, 0], matrix.loc[0, NO_VALUE]) == (1, 1, 1)
    assert matrix.loc["total", "total"] == 3  # every treated patient once
    assert matrix.loc[[1, 2, 3, 4, NO_VALUE], "total"].sum() == 0
    listing = sae_listing(frames)
    assert listing["term"].tolist() == ["Fever"]
    assert listing["seriousness"].tolist() == ["hospitalisation"]
    grades = events_by_category_and_grade(frames)
    assert grades[["grade", "events", "patients"]].values.tolist() == [[3, 1, 1]]


def test_mri_new_findings_against_baseline(session: Session) -> None:
    """Baseline (W-1) shows a white-matter hyperintensity; month 12 shows it again (not new)
    and an intradural mass (new). An unknown region is refused."""
    from alstrial.safety.mri import MriFinding
    from alstrial.services import record_mri
    from alstrial.store.models import MriFindingRecord

    enrolled(session)
    hyper = MriFinding("brain", "white matter hyperintensity", "FLAIR")
    record_mri(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="W-1",
        exam_date=DAY0 - timedelta(days=7),
        regions=["brain", "spinal_cord"],
        findings=[hyper],
    )
    mass = MriFinding("spinal_cord", "intradural lesion", "T2", mass=True)
    exam = record_mri(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="M12",
        exam_date=DAY0 + timedelta(days=365),
        regions=["brain", "spinal_cord"],
        findings=[MriFinding("brain", "White matter hyperintensity", "FLAIR"), mass],
    )
    rows = session.query(MriFindingRecord).filter_by(exam_id=exam.id).all()
    assert {(r.abnormality, r.new) for r in rows} == {
        ("White matter hyperintensity", False),
        ("intradural lesion", True),
    }
    refused(
        session,
        ValidationError,
        lambda: record_mri(
            session,
            actor=ACTOR,
            subject_code="S01",
            visit_code="M12",
            exam_date=DAY0 + timedelta(days=365),
            regions=["liver"],
        ),
        field="regions",
    )


def test_qualitative_panels(session: Session) -> None:
    from alstrial.services import record_qualitative_lab

    enrolled(session)

    def record(**change: str) -> object:
        values = {"panel": "serology", "test": "HBsAg", "result": "negative"} | change
        return record_qualitative_lab(
            session, actor=ACTOR, subject_code="S01", visit_code="W-6", sample_date=W6, **values
        )

    record()
    refused(session, ValidationError, lambda: record(panel="genetics"), field="panel")
    refused(session, ValidationError, lambda: record(test="ALT"), field="test")
    refused(
        session, ValidationError, lambda: record(test="anti-HCV", result="maybe"), field="result"
    )


def test_follow_up_moves_stopping_rules_and_sae_clocks(session: Session) -> None:
    """Issue 15, item 4: a follow-up that upgrades a related grade 2 event to grade 3 serious
    triggers SR2 with the other grade 3 event and opens the SAE clocks; the earlier version
    stays in the audit trail."""
    import sqlalchemy as sa

    from alstrial.services.outcomes import follow_up_adverse_event, report_of
    from alstrial.store.audit import AuditEvent
    from alstrial.store.models import AdverseEvent, SaeNotification

    enrolled(session, "S01")
    administer(session, "S01")
    related_event(session, "S01", 3)
    related_event(session, "S01", 2)
    assert open_stopping_rules(session) == []
    event = session.scalars(sa.select(AdverseEvent).where(AdverseEvent.severity_grade == 2)).one()
    before = len(session.scalars(sa.select(SaeNotification)).all())
    worse = report_of(event)
    from dataclasses import replace

    follow_up_adverse_event(
        session,
        actor=ACTOR,
        subject_code="S01",
        event_id=event.id,
        report=replace(worse, severity_grade=3, serious=True, seriousness=("hospitalisation",)),
        reason="admitted on day 3",
    )
    assert [t.rule.id for t in open_stopping_rules(session)] == ["SR2"]
    assert len(session.scalars(sa.select(SaeNotification)).all()) > before
    changed = session.scalars(
        sa.select(AuditEvent.field).where(
            AuditEvent.entity == "adverse_event", AuditEvent.reason == "admitted on day 3"
        )
    ).all()
    assert {"severity_grade", "serious", "seriousness"} <= set(changed)
    with pytest.raises(ValidationError, match="reason"):
        follow_up_adverse_event(
            session, actor=ACTOR, subject_code="S01", event_id=event.id, report=worse, reason=""
        )
