"""Subjects, screening with eligibility, enrolment and visits."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from alstrial.protocol.schedule import WindowStatus
from alstrial.store.base import Audited, Base, enum_column
from alstrial.vocabulary import DiagnosticCategory, OnsetRegion, Provenance, Sex, VisitStatus

__all__ = ["Enrolment", "Screening", "Subject", "Visit"]


class Subject(Audited, Base):
    """A patient, known only by a pseudonymous study code."""

    __tablename__ = "subject"
    casebook_key = "id"
    __table_args__ = (
        UniqueConstraint("study_id", "study_code"),
        CheckConstraint("age_years BETWEEN 0 AND 120", name="age_range"),
        CheckConstraint("height_cm IS NULL OR height_cm BETWEEN 50 AND 250", name="height_range"),
        CheckConstraint("weight_kg IS NULL OR weight_kg BETWEEN 10 AND 300", name="weight_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    study_code: Mapped[str] = mapped_column(String(40))
    sex: Mapped[Sex] = mapped_column(enum_column(Sex, "sex"))
    age_years: Mapped[int]
    birth_year: Mapped[int | None]
    height_cm: Mapped[float | None]
    weight_kg: Mapped[float | None]
    ethnicity: Mapped[str | None] = mapped_column(String(30))
    onset_region: Mapped[OnsetRegion] = mapped_column(enum_column(OnsetRegion, "onset_region"))
    onset_date: Mapped[date | None]
    diagnosis_date: Mapped[date | None]
    diagnostic_category: Mapped[DiagnosticCategory | None] = mapped_column(
        enum_column(DiagnosticCategory, "diagnostic_category")
    )
    riluzole: Mapped[bool]
    provenance: Mapped[Provenance] = mapped_column(enum_column(Provenance, "provenance"))


class Screening(Audited, Base):
    """A screening: the data entered and each eligibility criterion's result."""

    __tablename__ = "screening"
    casebook_key = "subject_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    protocol_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_version.id"))
    screening_date: Mapped[date]
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    eligible: Mapped[bool]
    override_reason: Mapped[str | None] = mapped_column(Text)


class Enrolment(Audited, Base):
    """Enrolment of a subject into an arm of the protocol."""

    __tablename__ = "enrolment"
    casebook_key = "subject_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), unique=True)
    screening_id: Mapped[int] = mapped_column(ForeignKey("screening.id"))
    arm_code: Mapped[str] = mapped_column(String(20))
    enrolment_date: Mapped[date]
    planned_administration_date: Mapped[date]


class Visit(Audited, Base):
    """A scheduled visit with its window and, once held, the actual date."""

    __tablename__ = "visit"
    casebook_key = "subject_id"
    __table_args__ = (UniqueConstraint("subject_id", "code"),)
    workflow_fields = frozenset({"status", "window_status"})

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    day: Mapped[int]
    planned_date: Mapped[date]
    window_start: Mapped[date]
    window_end: Mapped[date]
    actual_date: Mapped[date | None]
    status: Mapped[VisitStatus] = mapped_column(enum_column(VisitStatus, "visit_status"))
    window_status: Mapped[WindowStatus | None] = mapped_column(
        enum_column(WindowStatus, "window_status")
    )
