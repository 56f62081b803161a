"""What a form would store, computed before it is saved (the web's live validation).

The web layer computes no score (DESIGN.md, layers); these read-only services give it the
ALSFRS-R total, domain subscores and stages of items being typed, and the % predicted of an
FVC in litres for a subject, with exactly the scoring the recording services use. Nothing is
written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.scoring import AlsfrsScale, kings_stage, mitos_stage, score_alsfrs
from alstrial.services.assessments import predict_fvc
from alstrial.services.lookup import current_protocol, find_subject
from alstrial.store.models import Milestone
from alstrial.vocabulary import MilestoneKind

__all__ = ["AlsfrsPreview", "SpirometryPreview", "preview_alsfrs", "preview_spirometry"]


@dataclass(frozen=True)
class AlsfrsPreview:
    """Total, domains and stages of a (possibly incomplete) rating."""

    scale: str
    total: int | None
    domains: dict[str, int | None]
    missing: tuple[str, ...]
    kings: str | None
    mitos: int | None


def preview_alsfrs(
    session: Session, *, subject_code: str, items: Mapping[str, int | None]
) -> AlsfrsPreview:
    """Score items as :func:`~alstrial.services.record_alsfrs` would, without saving.

    King's stage takes the subject's recorded gastrostomy and NIV milestones into account
    (4A/4B), as the report does. Raises ValidationError for an out-of-range item.
    """
    subject = find_subject(session, subject_code)
    scale = AlsfrsScale(current_protocol(session).study.alsfrs_scale)
    score = score_alsfrs(items, scale)
    kings: str | None = None
    mitos: int | None = None
    if scale is AlsfrsScale.ALSFRS_R and not score.missing:
        kinds = set(
            session.scalars(select(Milestone.kind).where(Milestone.subject_id == subject.id))
        )
        kings = kings_stage(
            score,
            gastrostomy=MilestoneKind.GASTROSTOMY in kinds,
            niv=MilestoneKind.NIV in kinds,
        ).label
        mitos = mitos_stage(score).stage
    return AlsfrsPreview(
        scale=str(scale),
        total=score.total,
        domains={
            "bulbar": score.bulbar,
            "fine_motor": score.fine_motor,
            "gross_motor": score.gross_motor,
            "respiratory": score.respiratory,
        },
        missing=tuple(score.missing),
        kings=kings,
        mitos=mitos,
    )


@dataclass(frozen=True)
class SpirometryPreview:
    """% predicted, z-score and LLN of an FVC for one subject on one date."""

    equation: str
    percent_predicted: float
    z_score: float
    lln_litres: float


def preview_spirometry(
    session: Session, *, subject_code: str, assessment_date: date, fvc_litres: float
) -> SpirometryPreview:
    """The protocol equation's prediction for an FVC, as :func:`record_spirometry` stores it."""
    subject = find_subject(session, subject_code)
    equation = current_protocol(session).study.spirometry_equation
    prediction = predict_fvc(session, subject, fvc_litres, assessment_date, equation)
    return SpirometryPreview(
        equation=equation,
        percent_predicted=round(prediction.percent_predicted, 1),
        z_score=round(prediction.z, 2),
        lln_litres=round(prediction.lln_l, 2),
    )
