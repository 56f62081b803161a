"""Recording laboratory results and vital signs; evaluating the protocol's stopping rules and
recording an investigator's decision on a triggered rule.

A laboratory value is converted to its analyte's canonical unit (a unit that cannot be
converted is refused), flagged against the reference range (the site's when configured) and
graded by CTCAE v5 against the subject's baseline (the first value of that analyte). A
triggered stopping rule blocks new administrations until a decision with a reason is
recorded for the number of events that triggered it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import NotFoundError, ValidationError
from alstrial.safety.ctcae import GRADED_ANALYTES, ctcae_grade
from alstrial.safety.labs import (
    ANALYTES,
    QUALITATIVE_RESULTS,
    QUALITATIVE_TESTS,
    LabFlag,
    ReferenceRange,
    convert,
    flag,
)
from alstrial.safety.mri import REGIONS as MRI_REGIONS
from alstrial.safety.mri import MriFinding, new_abnormal_findings
from alstrial.safety.stopping import (
    SafetyEvent,
    StoppingRule,
    TriggeredRule,
    evaluate_stopping_rules,
)
from alstrial.services.assessments import age_at
from alstrial.services.lookup import current_protocol, find_subject
from alstrial.services.transaction import transaction
from alstrial.services.visits import hold_visit, visit_for_assessment
from alstrial.store.models import (
    AdverseEvent,
    ChecklistReview,
    LabResult,
    MriExam,
    MriFindingRecord,
    QualitativeLabResult,
    SaeNotification,
    StoppingDecision,
    Subject,
    User,
    VitalSigns,
)
from alstrial.vocabulary import Provenance

__all__ = [
    "GradedLab",
    "VitalsReading",
    "grade_lab",
    "mark_notification_sent",
    "open_stopping_rules",
    "overdue_notifications",
    "record_checklist_review",
    "record_lab",
    "record_mri",
    "record_qualitative_lab",
    "record_stopping_decision",
    "record_vitals",
    "refuse_if_stopped",
    "triggered_stopping_rules",
]

STOPPING_DECISIONS = ("continue", "pause", "stop")


@dataclass(frozen=True)
class GradedLab:
    """A laboratory value in its canonical unit, flagged and CTCAE-graded."""

    analyte: str
    value: float
    unit: str
    checked: LabFlag
    grade: int | None
    term: str | None


def grade_lab(
    session: Session,
    *,
    subject_code: str,
    analyte: str,
    value: float,
    unit: str,
    sample_date: date,
    ranges: Mapping[str, ReferenceRange] | None = None,
) -> GradedLab:
    """Convert, flag and grade a value as :func:`record_lab` stores it (also the live check's
    preview: the grade is shown as it is typed). Grades against the subject's first value of
    the analyte as baseline where the CTCAE rule needs one."""
    subject = find_subject(session, subject_code)
    code = analyte.upper()
    try:
        canonical = convert(code, value, unit)
    except ValidationError as error:
        error.subject = subject_code
        raise
    checked = flag(
        code, canonical, subject.sex, ranges, age_years=age_at(session, subject, sample_date)
    )
    baseline = session.scalars(
        select(LabResult.value)
        .where(LabResult.subject_id == subject.id, LabResult.analyte == code)
        .order_by(LabResult.sample_date)
    ).first()
    grade = term = None
    if code in GRADED_ANALYTES:
        result = ctcae_grade(code, canonical, checked.range, baseline=baseline)
        grade, term = result.grade, result.term
    return GradedLab(code, canonical, ANALYTES[code].unit, checked, grade, term)


def record_lab(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    visit_code: str,
    sample_date: date,
    analyte: str,
    value: float,
    unit: str,
    ranges: Mapping[str, ReferenceRange] | None = None,
    provenance: Provenance = Provenance.SOURCE,
    reason: str | None = None,
) -> LabResult:
    """Record one laboratory value (module docstring); a second one at the visit corrects it."""
    subject = find_subject(session, subject_code)
    code = analyte.upper()
    graded = grade_lab(
        session,
        subject_code=subject_code,
        analyte=code,
        value=value,
        unit=unit,
        sample_date=sample_date,
        ranges=ranges,
    )
    canonical, checked, grade = graded.value, graded.checked, graded.grade
    visit = visit_for_assessment(session, subject, visit_code, "labs", sample_date)
    existing = session.scalars(
        select(LabResult).where(LabResult.visit_id == visit.id, LabResult.analyte == code)
    ).one_or_none()
    if existing is not None and not (reason and reason.strip()):
        raise ValidationError(
            f"{code} of {subject_code} at {visit_code} is recorded already; give a reason to "
            "correct it",
            subject=subject_code,
            form="labs",
            field="reason",
        )
    with transaction(session, actor=actor, reason=reason):
        row = existing or LabResult(subject_id=subject.id, visit_id=visit.id, analyte=code)
        row.sample_date = sample_date
        row.value_entered = float(value)
        row.unit_entered = unit
        row.value = canonical
        row.unit = ANALYTES[code].unit
        row.lln, row.uln = checked.range.lln, checked.range.uln
        row.flag = checked.flag
        row.ctcae_grade = grade
        row.provenance = provenance
        if existing is None:
            session.add(row)
        hold_visit(visit, sample_date)
    return row


@dataclass(frozen=True)
class VitalsReading:
    """One set of vital signs."""

    measured_at: datetime
    systolic_mmhg: int | None = None
    diastolic_mmhg: int | None = None
    heart_rate_bpm: int | None = None
    respiratory_rate: int | None = None
    temperature_c: float | None = None
    spo2_pct: float | None = None
    note: str = ""


_VITAL_RANGES = {
    "systolic_mmhg": (40, 300, "mmHg"),
    "diastolic_mmhg": (20, 200, "mmHg"),
    "heart_rate_bpm": (20, 250, "/min"),
    "respiratory_rate": (4, 80, "/min"),
    "temperature_c": (30.0, 45.0, "degrees C"),
    "spo2_pct": (50.0, 100.0, "%"),
}


def record_vitals(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    visit_code: str,
    reading: VitalsReading,
    provenance: Provenance = Provenance.SOURCE,
    reason: str | None = None,
) -> VitalSigns:
    """Record a set of vital signs (the trial's 85/60 mmHg after IV infusion is one).

    ``reason`` is needed once the visit or the subject's casebook is signed: the change
    removes the signature.
    """
    subject = find_subject(session, subject_code)
    if reading.measured_at.tzinfo is None:
        raise ValidationError(
            "the time of a reading needs its time zone",
            subject=subject_code,
            form="vitals",
            field="measured_at",
        )
    for name, (low, high, unit) in _VITAL_RANGES.items():
        value = getattr(reading, name)
        if value is not None and not low <= value <= high:
            hint = " (it looks like degrees F)" if name == "temperature_c" and value > 86 else ""
            raise ValidationError(
                f"{name} {value} {unit} is implausible{hint}",
                subject=subject_code,
                form="vitals",
                field=name,
                value=value,
                allowed=f"{low}-{high} {unit}",
            )
    if (reading.systolic_mmhg is None) != (reading.diastolic_mmhg is None):
        raise ValidationError(
            "blood pressure needs both systolic and diastolic",
            subject=subject_code,
            form="vitals",
            field="diastolic_mmhg",
        )
    if (
        reading.systolic_mmhg is not None
        and reading.diastolic_mmhg is not None
        and reading.diastolic_mmhg >= reading.systolic_mmhg
    ):
        raise ValidationError(
            f"diastolic {reading.diastolic_mmhg} is not below systolic {reading.systolic_mmhg}",
            subject=subject_code,
            form="vitals",
            field="diastolic_mmhg",
            value=reading.diastolic_mmhg,
            allowed=f"< {reading.systolic_mmhg} mmHg",
        )
    visit = visit_for_assessment(session, subject, visit_code, "vitals", reading.measured_at.date())
    with transaction(session, actor=actor, reason=reason):
        row = VitalSigns(
            subject_id=subject.id, visit_id=visit.id, provenance=provenance, **vars(reading)
        )
        session.add(row)
        hold_visit(visit, reading.measured_at.date())
    return row


def _rules(session: Session) -> list[StoppingRule]:
    return [
        StoppingRule(r.id, r.text, r.threshold, r.min_grade, r.related, r.serious_only, r.term)
        for r in current_protocol(session).stopping_rules
    ]


def triggered_stopping_rules(session: Session) -> list[TriggeredRule]:
    """The protocol's stopping rules that the recorded adverse events trigger."""
    codes = {s.id: s.study_code for s in session.scalars(select(Subject))}
    events = [
        SafetyEvent(codes[e.subject_id], e.term, e.severity_grade, e.serious, e.relatedness)
        for e in session.scalars(select(AdverseEvent))
    ]
    return evaluate_stopping_rules(_rules(session), events)


def open_stopping_rules(session: Session) -> list[TriggeredRule]:
    """Triggered rules without a decision covering every event that triggered them."""
    open_rules = []
    for triggered in triggered_stopping_rules(session):
        decision = session.scalars(
            select(StoppingDecision)
            .where(StoppingDecision.rule_id == triggered.rule.id)
            .order_by(StoppingDecision.id.desc())
        ).first()
        if (
            decision is None
            or decision.events_seen < len(triggered.events)
            or decision.decision != "continue"
        ):
            open_rules.append(triggered)
    return open_rules


def record_stopping_decision(
    session: Session, *, actor: str, rule_id: str, decision: str, reason: str
) -> StoppingDecision:
    """An investigator's decision on a triggered rule; ``continue`` reopens administration."""
    triggered = {t.rule.id: t for t in triggered_stopping_rules(session)}
    if rule_id not in triggered:
        raise ValidationError(
            f"stopping rule {rule_id} is not triggered",
            form="stopping",
            field="rule_id",
            value=rule_id,
            allowed=", ".join(triggered),
        )
    if decision not in STOPPING_DECISIONS:
        raise ValidationError(
            f"unknown decision {decision!r}",
            form="stopping",
            field="decision",
            value=decision,
            allowed=", ".join(STOPPING_DECISIONS),
        )
    if not reason.strip():
        raise ValidationError(
            "a decision on a stopping rule needs its reason", form="stopping", field="reason"
        )
    user = session.scalars(select(User).where(User.username == actor)).first()
    if user is None:
        raise NotFoundError(
            f"{actor!r} is not a user of the study", form="stopping", field="actor", value=actor
        )
    with transaction(session, actor=actor, reason=reason):
        row = StoppingDecision(
            rule_id=rule_id,
            events_seen=len(triggered[rule_id].events),
            decision=decision,
            decided_by_id=user.id,
            decided_at=datetime.now(UTC),
            reason=reason,
        )
        session.add(row)
    return row


def refuse_if_stopped(session: Session, subject_code: str) -> None:
    """Administration guard: no new administration while a stopping rule is open."""
    pending = open_stopping_rules(session)
    if pending:
        names = "; ".join(f"{t.rule.id} ({t.rule.text}, {len(t.events)} events)" for t in pending)
        raise ValidationError(
            f"administration is blocked by stopping rule {names}: an investigator must record "
            "a decision with a reason",
            subject=subject_code,
            form="administration",
            field="stopping_rules",
        )


def record_checklist_review(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    visit_code: str,
    reviewed_on: date,
    none_reported: bool,
    reason: str | None = None,
) -> ChecklistReview:
    """Record that the solicited checklist was asked at a visit, and whether nothing was found.

    ``none_reported=True`` is the explicit "none of the checklist"; a visit without a review
    was not asked. Reporting "none" at a visit that has a checklist event is refused.
    """
    subject = find_subject(session, subject_code)
    visit = visit_for_assessment(session, subject, visit_code, "adverse_events", reviewed_on)
    existing = session.scalars(
        select(ChecklistReview).where(ChecklistReview.visit_id == visit.id)
    ).one_or_none()
    if existing is not None and not (reason and reason.strip()):
        raise ValidationError(
            f"the checklist of {subject_code} at {visit_code} is reviewed already; give a "
            "reason to correct it",
            subject=subject_code,
            form="checklist",
            field="reason",
        )
    with transaction(session, actor=actor, reason=reason):
        row = existing or ChecklistReview(visit_id=visit.id)
        row.reviewed_on = reviewed_on
        row.none_reported = none_reported
        if existing is None:
            session.add(row)
        hold_visit(visit, reviewed_on)
    return row


def overdue_notifications(session: Session, now: datetime | None = None) -> list[SaeNotification]:
    """SAE and SUSAR reports past their due time and not sent, oldest first."""
    moment = now or datetime.now(UTC)
    return [
        n
        for n in session.scalars(select(SaeNotification).order_by(SaeNotification.due_at))
        if n.sent_at is None and n.due_at.replace(tzinfo=n.due_at.tzinfo or UTC) < moment
    ]


def mark_notification_sent(
    session: Session, *, actor: str, notification_id: int, sent_at: datetime
) -> SaeNotification:
    """Record when a report was sent."""
    notification = session.get(SaeNotification, notification_id)
    if notification is None:
        raise NotFoundError(
            f"no notification {notification_id}",
            form="notification",
            field="id",
            value=notification_id,
        )
    if sent_at.tzinfo is None:
        raise ValidationError(
            "the sending time needs its time zone", form="notification", field="sent_at"
        )
    with transaction(session, actor=actor):
        notification.sent_at = sent_at
    return notification


def record_mri(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    visit_code: str,
    exam_date: date,
    regions: Sequence[str],
    findings: Sequence[MriFinding] = (),
    sequences: Sequence[str] = (),
    reason: str | None = None,
) -> MriExam:
    """Record an MRI examination and its findings; each finding is marked ``new`` when the
    subject's earlier (baseline) examination did not show it (same region and abnormality,
    or a mass where there was none).

    ``reason`` is needed once the visit or the subject's casebook is signed: the change
    removes the signature.
    """
    subject = find_subject(session, subject_code)
    unknown = sorted(set(regions) - set(MRI_REGIONS))
    if not regions or unknown:
        raise ValidationError(
            f"MRI regions must be among {', '.join(MRI_REGIONS)}",
            subject=subject_code,
            form="mri",
            field="regions",
            value=", ".join(regions),
            allowed=", ".join(MRI_REGIONS),
        )
    visit = visit_for_assessment(session, subject, visit_code, "mri", exam_date)
    earlier = session.scalars(
        select(MriExam)
        .where(MriExam.subject_id == subject.id, MriExam.exam_date < exam_date)
        .order_by(MriExam.exam_date)
    ).first()
    baseline: list[MriFinding] = []
    if earlier is not None:
        baseline = [
            MriFinding(f.region, f.abnormality, f.sequence, f.mass, f.description)
            for f in session.scalars(
                select(MriFindingRecord).where(MriFindingRecord.exam_id == earlier.id)
            )
        ]
    new = {id(f) for f in new_abnormal_findings(baseline, findings)} if earlier else set()
    with transaction(session, actor=actor, reason=reason):
        exam = MriExam(
            subject_id=subject.id,
            visit_id=visit.id,
            exam_date=exam_date,
            regions=",".join(regions),
            sequences=",".join(sequences),
            normal=not findings,
        )
        session.add(exam)
        session.flush()
        for finding in findings:
            session.add(
                MriFindingRecord(
                    exam_id=exam.id,
                    region=finding.region,
                    sequence=finding.sequence,
                    abnormality=finding.abnormality,
                    mass=finding.mass,
                    description=finding.description,
                    new=id(finding) in new,
                )
            )
        hold_visit(visit, exam_date)
    return exam


def record_qualitative_lab(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    visit_code: str,
    sample_date: date,
    panel: str,
    test: str,
    result: str,
    detail: str = "",
    provenance: Provenance = Provenance.SOURCE,
    reason: str | None = None,
) -> QualitativeLabResult:
    """Record a serology, virology, urinalysis or culture result (a controlled vocabulary).

    ``reason`` is needed once the visit or the subject's casebook is signed: the change
    removes the signature.
    """
    subject = find_subject(session, subject_code)
    tests = QUALITATIVE_TESTS.get(panel)
    if tests is None:
        raise ValidationError(
            f"unknown panel {panel!r}",
            subject=subject_code,
            form="labs",
            field="panel",
            value=panel,
            allowed=", ".join(QUALITATIVE_TESTS),
        )
    if test not in tests:
        raise ValidationError(
            f"{test!r} is not a test of the {panel} panel",
            subject=subject_code,
            form="labs",
            field="test",
            value=test,
            allowed=", ".join(tests),
        )
    if result not in QUALITATIVE_RESULTS:
        raise ValidationError(
            f"unknown result {result!r} for {test}",
            subject=subject_code,
            form="labs",
            field="result",
            value=result,
            allowed=", ".join(QUALITATIVE_RESULTS),
        )
    visit = visit_for_assessment(session, subject, visit_code, "labs", sample_date)
    with transaction(session, actor=actor, reason=reason):
        row = QualitativeLabResult(
            subject_id=subject.id,
            visit_id=visit.id,
            sample_date=sample_date,
            panel=panel,
            test=test,
            result=result,
            detail=detail,
            provenance=provenance,
        )
        session.add(row)
        hold_visit(visit, sample_date)
    return row
