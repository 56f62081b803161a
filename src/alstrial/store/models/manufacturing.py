"""The batch record of an autologous cell product: culture events, flow cytometry results and
the signed release decision (the batch itself is :class:`~.clinical.ProductBatch`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from alstrial.store.base import Audited, Base, enum_column
from alstrial.vocabulary import CultureEventKind, Provenance, ReleaseStatus

__all__ = ["CultureEvent", "FlowMarkerResult", "ReleaseDecision"]


class CultureEvent(Audited, Base):
    """A step of the culture: medium change, passage (with confluence) or harvest."""

    __tablename__ = "culture_event"
    __table_args__ = (
        CheckConstraint(
            "confluence_pct IS NULL OR confluence_pct BETWEEN 0 AND 100", name="confluence_range"
        ),
        CheckConstraint("passage_number IS NULL OR passage_number >= 0", name="passage_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("product_batch.id"), index=True)
    event_date: Mapped[date]
    kind: Mapped[CultureEventKind] = mapped_column(enum_column(CultureEventKind, "culture_kind"))
    passage_number: Mapped[int | None]
    confluence_pct: Mapped[float | None]
    note: Mapped[str] = mapped_column(Text, default="")


class FlowMarkerResult(Audited, Base):
    """Percent positive of one identity marker, with the files it was computed from."""

    __tablename__ = "flow_marker_result"
    __table_args__ = (
        UniqueConstraint("batch_id", "marker"),
        CheckConstraint("percent_positive BETWEEN 0 AND 100", name="percent_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("product_batch.id"), index=True)
    marker: Mapped[str] = mapped_column(String(40))
    percent_positive: Mapped[float]
    isotype_percent: Mapped[float | None]
    threshold: Mapped[float | None]
    method: Mapped[str] = mapped_column(String(20))
    stained_sha256: Mapped[str | None] = mapped_column(String(64))
    isotype_sha256: Mapped[str | None] = mapped_column(String(64))
    provenance: Mapped[Provenance] = mapped_column(enum_column(Provenance, "provenance"))
    #: The stained and isotype histograms the result was computed from (log-spaced ``edges``
    #: and event ``stained``/``isotype`` counts), kept for the report's Fig. 2; None for a
    #: result entered as a number.
    histogram: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class ReleaseDecision(Audited, Base):
    """QC's signed decision on a batch, with the evaluation it rests on."""

    __tablename__ = "release_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("product_batch.id"), unique=True)
    decision: Mapped[ReleaseStatus] = mapped_column(enum_column(ReleaseStatus, "release_status"))
    signed_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    signed_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    evaluation: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    deviations: Mapped[list[str]] = mapped_column(JSON)
