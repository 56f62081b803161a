"""Clinical records: ALSFRS-R, spirometry, administration, adverse events, milestones,
disposition."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from alstrial.scoring import ALSFRS_R_ITEMS
from alstrial.store.base import Audited, Base, enum_column
from alstrial.vocabulary import (
    AdverseEventOutcome,
    DispositionStatus,
    MilestoneKind,
    Provenance,
    Relatedness,
    ReleaseStatus,
)

__all__ = [
    "Administration",
    "AdverseEvent",
    "AlsfrsAssessment",
    "Disposition",
    "Milestone",
    "ProductBatch",
    "Spirometry",
]

_ITEM_RANGE = " AND ".join(f"({name} IS NULL OR {name} BETWEEN 0 AND 4)" for name in ALSFRS_R_ITEMS)


class AlsfrsAssessment(Audited, Base):
    """One rating: the ALSFRS-R's twelve items or the original ALSFRS's ten (5a or 5b), the
    scale and the total. Items 11 and 12 exist in the ALSFRS-R only; the two scales' totals are
    never mixed (``scale_version`` says which)."""

    __tablename__ = "alsfrs_assessment"
    casebook_key = "subject_id"
    __table_args__ = (
        UniqueConstraint("visit_id"),
        CheckConstraint(_ITEM_RANGE, name="item_range"),
        CheckConstraint("(item_5a IS NULL) <> (item_5b IS NULL)", name="one_item_5"),
        CheckConstraint(
            "(scale_version = 'ALSFRS-R' AND item_11 IS NOT NULL AND item_12 IS NOT NULL "
            "AND total BETWEEN 0 AND 48) OR (scale_version = 'ALSFRS' AND item_11 IS NULL "
            "AND item_12 IS NULL AND total BETWEEN 0 AND 40)",
            name="scale_items",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"))
    assessment_date: Mapped[date]
    scale_version: Mapped[str] = mapped_column(String(20))
    item_1: Mapped[int]
    item_2: Mapped[int]
    item_3: Mapped[int]
    item_4: Mapped[int]
    item_5a: Mapped[int | None]
    item_5b: Mapped[int | None]
    item_6: Mapped[int]
    item_7: Mapped[int]
    item_8: Mapped[int]
    item_9: Mapped[int]
    item_10: Mapped[int]
    item_11: Mapped[int | None]
    item_12: Mapped[int | None]
    total: Mapped[int]
    provenance: Mapped[Provenance] = mapped_column(enum_column(Provenance, "provenance"))


class Spirometry(Audited, Base):
    """Forced vital capacity in litres with its % predicted and the equation behind it."""

    __tablename__ = "spirometry"
    casebook_key = "subject_id"
    __table_args__ = (
        UniqueConstraint("visit_id"),
        CheckConstraint("fvc_litres > 0 AND fvc_litres <= 10", name="fvc_range"),
        CheckConstraint(
            "percent_predicted IS NULL OR percent_predicted BETWEEN 0 AND 200",
            name="percent_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"))
    assessment_date: Mapped[date]
    fvc_litres: Mapped[float]
    percent_predicted: Mapped[float | None]
    equation: Mapped[str] = mapped_column(String(40))
    predicted_litres: Mapped[float | None]
    z_score: Mapped[float | None]
    lln_litres: Mapped[float | None]
    provenance: Mapped[Provenance] = mapped_column(enum_column(Provenance, "provenance"))


class ProductBatch(Audited, Base):
    """An autologous cell product with its release results (the manufacturing module adds
    the batch record, the dose calculation and the signed release)."""

    __tablename__ = "product_batch"
    __table_args__ = (
        CheckConstraint("final_cell_count > 0", name="count_positive"),
        CheckConstraint("viability_pct BETWEEN 0 AND 100", name="viability_range"),
        CheckConstraint("endotoxin_eu_per_ml >= 0", name="endotoxin_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_code: Mapped[str] = mapped_column(String(60), unique=True)
    source_subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    final_cell_count: Mapped[float]
    viability_pct: Mapped[float]
    bacteriology: Mapped[str] = mapped_column(String(40))
    mycoplasma: Mapped[str] = mapped_column(String(40))
    endotoxin_eu_per_ml: Mapped[float]
    endotoxin_below_loq: Mapped[bool]
    karyotype: Mapped[str] = mapped_column(String(40))
    provenance: Mapped[Provenance] = mapped_column(enum_column(Provenance, "provenance"))
    # The batch record (migration 0003); the target subject is the source (autologous).
    target_subject_id: Mapped[int | None] = mapped_column(ForeignKey("subject.id"))
    aspiration_date: Mapped[date | None]
    aspiration_volume_ml: Mapped[float | None]
    mnc_count: Mapped[float | None]
    seeding_density_per_cm2: Mapped[float | None]
    harvest_date: Mapped[date | None]
    viability_method: Mapped[str | None] = mapped_column(String(40))
    viability_by_method: Mapped[dict[str, float] | None] = mapped_column(JSON)
    concentration_per_ml: Mapped[float | None]
    product_volume_ml: Mapped[float | None]
    excipient: Mapped[str | None] = mapped_column(String(200))
    #: Why a karyotype whose sex chromosomes differ from the subject's sex is accepted
    #: (migration 0013); without it the release evaluation fails autologous identity.
    karyotype_override: Mapped[str | None] = mapped_column(Text)
    release_status: Mapped[ReleaseStatus] = mapped_column(
        enum_column(ReleaseStatus, "release_status"), default=ReleaseStatus.PENDING
    )
    workflow_fields = frozenset({"release_status"})


class Administration(Audited, Base):
    """Administration of the cell product."""

    __tablename__ = "administration"
    casebook_key = "subject_id"
    __table_args__ = (
        CheckConstraint("cells_given > 0", name="cells_positive"),
        CheckConstraint("volume_ml > 0", name="volume_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"), unique=True)
    administered_at: Mapped[datetime]
    route: Mapped[str] = mapped_column(String(20))
    product_batch_id: Mapped[int] = mapped_column(ForeignKey("product_batch.id"))
    cells_given: Mapped[float]
    volume_ml: Mapped[float]
    provenance: Mapped[Provenance] = mapped_column(enum_column(Provenance, "provenance"))


class AdverseEvent(Audited, Base):
    """An adverse event with grade, seriousness, relatedness and outcome."""

    __tablename__ = "adverse_event"
    casebook_key = "subject_id"
    __table_args__ = (
        CheckConstraint("severity_grade BETWEEN 1 AND 5", name="grade_range"),
        CheckConstraint("end_date IS NULL OR end_date >= onset_date", name="end_after_onset"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    term: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40))
    onset_date: Mapped[date]
    end_date: Mapped[date | None]
    severity_grade: Mapped[int]
    serious: Mapped[bool]
    relatedness: Mapped[Relatedness] = mapped_column(enum_column(Relatedness, "relatedness"))
    attributed_to: Mapped[str] = mapped_column(String(200), default="")
    treatment: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[AdverseEventOutcome] = mapped_column(
        enum_column(AdverseEventOutcome, "ae_outcome")
    )
    description: Mapped[str] = mapped_column(Text, default="")
    provenance: Mapped[Provenance] = mapped_column(enum_column(Provenance, "provenance"))
    # Safety detail (migration 0004): ICH E2A seriousness criteria, relatedness to each
    # procedure, expectedness, action taken, onset time, MedDRA code where licensed.
    onset_time: Mapped[time | None]
    seriousness: Mapped[list[str] | None] = mapped_column(JSON)
    relatedness_by_procedure: Mapped[dict[str, str] | None] = mapped_column(JSON)
    expected: Mapped[bool | None]
    action_taken: Mapped[str | None] = mapped_column(String(200))
    meddra_code: Mapped[str | None] = mapped_column(String(20))


class Milestone(Audited, Base):
    """Gastrostomy, non-invasive ventilation, tracheostomy or death, with its date."""

    __tablename__ = "milestone"
    casebook_key = "subject_id"
    __table_args__ = (UniqueConstraint("subject_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    kind: Mapped[MilestoneKind] = mapped_column(enum_column(MilestoneKind, "milestone_kind"))
    event_date: Mapped[date]
    cause: Mapped[str] = mapped_column(Text, default="")
    provenance: Mapped[Provenance] = mapped_column(enum_column(Provenance, "provenance"))


class Disposition(Audited, Base):
    """How and when a subject left the study."""

    __tablename__ = "disposition"
    casebook_key = "subject_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), unique=True)
    status: Mapped[DispositionStatus] = mapped_column(
        enum_column(DispositionStatus, "disposition_status")
    )
    disposition_date: Mapped[date]
    reason: Mapped[str] = mapped_column(Text, default="")
    provenance: Mapped[Provenance] = mapped_column(enum_column(Provenance, "provenance"))
