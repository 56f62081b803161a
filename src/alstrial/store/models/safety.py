"""Safety records: laboratory results (with unit, flag and CTCAE grade), vital signs, and
investigators' decisions on triggered stopping rules."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from alstrial.store.base import Audited, Base, enum_column
from alstrial.vocabulary import Provenance

__all__ = [
    "ChecklistReview",
    "LabResult",
    "LabSafetyReview",
    "MriExam",
    "MriFindingRecord",
    "QualitativeLabResult",
    "SaeNotification",
    "StoppingDecision",
    "VitalSigns",
]


class LabResult(Audited, Base):
    """One analyte at one visit: as entered, in the canonical unit, flagged and graded."""

    __tablename__ = "lab_result"
    casebook_key = "subject_id"
    __table_args__ = (
        UniqueConstraint("visit_id", "analyte"),
        CheckConstraint("value >= 0", name="value_nonnegative"),
        CheckConstraint("ctcae_grade IS NULL OR ctcae_grade BETWEEN 0 AND 4", name="grade_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"))
    sample_date: Mapped[date]
    analyte: Mapped[str] = mapped_column(String(20))
    value_entered: Mapped[float]
    unit_entered: Mapped[str] = mapped_column(String(20))
    value: Mapped[float]
    unit: Mapped[str] = mapped_column(String(20))
    lln: Mapped[float | None]
    uln: Mapped[float | None]
    flag: Mapped[str] = mapped_column(String(2), default="")
    ctcae_grade: Mapped[int | None]
    provenance: Mapped[Provenance] = mapped_column(enum_column(Provenance, "provenance"))


class LabSafetyReview(Audited, Base):
    """The review of a laboratory value graded at or above the protocol's alert grade: an
    adverse event reported from it, or why it is not one (issue 15). Not a casebook row: a
    review leaves the visit's signature in place."""

    __tablename__ = "lab_safety_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_result_id: Mapped[int] = mapped_column(ForeignKey("lab_result.id"), unique=True)
    decision: Mapped[str] = mapped_column(String(20))  # reported, not_an_ae
    note: Mapped[str] = mapped_column(Text)
    adverse_event_id: Mapped[int | None] = mapped_column(ForeignKey("adverse_event.id"))
    reviewed_by: Mapped[str] = mapped_column(String(80))
    reviewed_at: Mapped[datetime]


class VitalSigns(Audited, Base):
    """Vital signs at a time of a visit (several per visit: before and after an infusion)."""

    __tablename__ = "vital_signs"
    casebook_key = "subject_id"
    __table_args__ = (
        CheckConstraint(
            "systolic_mmhg IS NULL OR systolic_mmhg BETWEEN 40 AND 300", name="systolic_range"
        ),
        CheckConstraint(
            "diastolic_mmhg IS NULL OR diastolic_mmhg BETWEEN 20 AND 200", name="diastolic_range"
        ),
        CheckConstraint(
            "heart_rate_bpm IS NULL OR heart_rate_bpm BETWEEN 20 AND 250", name="heart_rate_range"
        ),
        CheckConstraint(
            "temperature_c IS NULL OR temperature_c BETWEEN 30 AND 45", name="temperature_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"))
    measured_at: Mapped[datetime]
    systolic_mmhg: Mapped[int | None]
    diastolic_mmhg: Mapped[int | None]
    heart_rate_bpm: Mapped[int | None]
    respiratory_rate: Mapped[int | None]
    temperature_c: Mapped[float | None]
    spo2_pct: Mapped[float | None]
    note: Mapped[str] = mapped_column(Text, default="")
    provenance: Mapped[Provenance] = mapped_column(enum_column(Provenance, "provenance"))


class StoppingDecision(Audited, Base):
    """An investigator's decision on a triggered stopping rule (continue, pause, stop)."""

    __tablename__ = "stopping_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(40))
    events_seen: Mapped[int]
    decision: Mapped[str] = mapped_column(String(20))
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    decided_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)


class SaeNotification(Audited, Base):
    """A report a serious adverse event requires: what, to whom, due when, sent when."""

    __tablename__ = "sae_notification"
    workflow_fields = frozenset({"sent_at"})

    id: Mapped[int] = mapped_column(primary_key=True)
    adverse_event_id: Mapped[int] = mapped_column(ForeignKey("adverse_event.id"), index=True)
    kind: Mapped[str] = mapped_column(String(60))
    recipient: Mapped[str] = mapped_column(String(80))
    due_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class ChecklistReview(Audited, Base):
    """At a visit, the solicited checklist was asked; ``none_reported`` says nothing was
    found. No row means the checklist was not asked, which is not the same as "none"."""

    __tablename__ = "checklist_review"
    casebook_key = "visit_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"), unique=True)
    reviewed_on: Mapped[date]
    none_reported: Mapped[bool]


class MriExam(Audited, Base):
    """One MRI examination of a subject (brain, spinal cord) at a visit."""

    __tablename__ = "mri_exam"
    casebook_key = "subject_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"))
    exam_date: Mapped[date]
    regions: Mapped[str] = mapped_column(String(40))
    sequences: Mapped[str] = mapped_column(String(200), default="")
    normal: Mapped[bool]


class MriFindingRecord(Audited, Base):
    """An abnormality seen on an examination; ``new`` is derived against the baseline exam."""

    __tablename__ = "mri_finding"
    casebook_key = "exam_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("mri_exam.id"), index=True)
    region: Mapped[str] = mapped_column(String(20))
    sequence: Mapped[str] = mapped_column(String(40), default="")
    abnormality: Mapped[str] = mapped_column(String(200))
    mass: Mapped[bool]
    description: Mapped[str] = mapped_column(Text, default="")
    new: Mapped[bool]


class QualitativeLabResult(Audited, Base):
    """A test with a categorical result: serology, virology, urinalysis dipstick, culture."""

    __tablename__ = "qualitative_lab_result"
    casebook_key = "subject_id"
    __table_args__ = (UniqueConstraint("visit_id", "test"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"))
    sample_date: Mapped[date]
    panel: Mapped[str] = mapped_column(String(20))
    test: Mapped[str] = mapped_column(String(60))
    result: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")
    provenance: Mapped[Provenance] = mapped_column(enum_column(Provenance, "provenance"))
