"""Recording ALSFRS-R ratings and spirometry."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError, ValidationError
from alstrial.scoring import ALSFRS_R_ITEMS, score_alsfrs_r
from alstrial.services.lookup import find_subject
from alstrial.services.transaction import transaction
from alstrial.services.visits import hold_visit, visit_for_assessment
from alstrial.store.models import AlsfrsAssessment, Spirometry, Visit
from alstrial.vocabulary import Provenance

__all__ = ["SPIROMETRY_EQUATIONS", "record_alsfrs_r", "record_spirometry"]

#: Equations a % predicted may come from. ``device``: as printed by the spirometer.
SPIROMETRY_EQUATIONS: frozenset[str] = frozenset({"device", "gli2012", "gli-global", "synthetic"})


Recorded = TypeVar("Recorded", AlsfrsAssessment, Spirometry)


def _existing_for_correction(
    session: Session,
    model: type[Recorded],
    visit: Visit,
    *,
    subject_code: str,
    form: str,
    label: str,
    reason: str | None,
) -> Recorded | None:
    """The record already made at this visit, if any; replacing it needs a reason."""
    existing = session.scalars(select(model).where(model.visit_id == visit.id)).one_or_none()
    if existing is not None and not (reason and reason.strip()):
        raise ConflictError(
            f"{label} of {subject_code} at {visit.code} is recorded already; "
            "give a reason to correct it",
            subject=subject_code,
            form=form,
            field="reason",
        )
    return existing


def record_alsfrs_r(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    visit_code: str,
    assessment_date: date,
    items: Mapping[str, int | None],
    provenance: Provenance = Provenance.SOURCE,
    reason: str | None = None,
) -> AlsfrsAssessment:
    """Record the ALSFRS-R of a visit; a second call for the same visit corrects it.

    A correction needs a reason. Items are validated (0-4, exactly one of 5a/5b) and the
    total is computed here, never taken from the caller.
    """
    subject = find_subject(session, subject_code)
    try:
        score = score_alsfrs_r(items)
    except ValidationError as error:
        error.subject = subject_code
        raise
    visit = visit_for_assessment(session, subject, visit_code, "alsfrs_r", assessment_date)
    existing = _existing_for_correction(
        session,
        AlsfrsAssessment,
        visit,
        subject_code=subject_code,
        form="alsfrs_r",
        label="ALSFRS-R",
        reason=reason,
    )
    with transaction(session, actor=actor, reason=reason):
        record = existing or AlsfrsAssessment(subject_id=subject.id, visit_id=visit.id)
        record.assessment_date = assessment_date
        record.scale_version = "ALSFRS-R"
        for key in ALSFRS_R_ITEMS:
            setattr(record, key, items.get(key))
        record.total = score.total
        record.provenance = provenance
        if existing is None:
            session.add(record)
        hold_visit(visit, assessment_date)
    return record


def record_spirometry(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    visit_code: str,
    assessment_date: date,
    fvc_litres: float,
    percent_predicted: float | None,
    equation: str,
    provenance: Provenance = Provenance.SOURCE,
    reason: str | None = None,
) -> Spirometry:
    """Record the FVC of a visit in litres, with its % predicted and the equation used."""
    subject = find_subject(session, subject_code)

    def refuse(field: str, value: object, allowed: str, message: str) -> ValidationError:
        return ValidationError(
            message,
            subject=subject_code,
            form="spirometry",
            field=field,
            value=value,
            allowed=allowed,
        )

    if not 0 < fvc_litres <= 10:
        hint = " (it looks like % predicted entered as litres)" if fvc_litres > 10 else ""
        raise refuse("fvc_litres", fvc_litres, "0-10 L", f"FVC {fvc_litres} L is implausible{hint}")
    if percent_predicted is not None and not 0 < percent_predicted <= 200:
        raise refuse(
            "percent_predicted",
            percent_predicted,
            "0-200 %",
            f"FVC {percent_predicted} % predicted is outside 0-200 %",
        )
    if equation not in SPIROMETRY_EQUATIONS:
        raise refuse(
            "equation",
            equation,
            ", ".join(sorted(SPIROMETRY_EQUATIONS)),
            f"unknown % predicted equation {equation!r}",
        )
    visit = visit_for_assessment(session, subject, visit_code, "spirometry", assessment_date)
    existing = _existing_for_correction(
        session,
        Spirometry,
        visit,
        subject_code=subject_code,
        form="spirometry",
        label="spirometry",
        reason=reason,
    )
    with transaction(session, actor=actor, reason=reason):
        record = existing or Spirometry(subject_id=subject.id, visit_id=visit.id)
        record.assessment_date = assessment_date
        record.fvc_litres = float(fvc_litres)
        record.percent_predicted = None if percent_predicted is None else float(percent_predicted)
        record.equation = equation
        record.provenance = provenance
        if existing is None:
            session.add(record)
        hold_visit(visit, assessment_date)
    return record
