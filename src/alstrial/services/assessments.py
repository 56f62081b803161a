"""Recording functional ratings (ALSFRS-R or ALSFRS) and spirometry."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError, ValidationError
from alstrial.scoring import (
    ALSFRS_R_ITEMS,
    AlsfrsScale,
    FvcPrediction,
    SpirometryEquation,
    fvc_percent_predicted,
    score_alsfrs,
)
from alstrial.scoring.spirometry import FVC_MAX_LITRES
from alstrial.services.lookup import current_protocol, find_subject
from alstrial.services.transaction import transaction
from alstrial.services.visits import hold_visit, visit_for_assessment
from alstrial.store.models import AlsfrsAssessment, Screening, Spirometry, Subject, Visit
from alstrial.vocabulary import Provenance

__all__ = ["SPIROMETRY_EQUATIONS", "age_at", "predict_fvc", "record_alsfrs", "record_spirometry"]

#: Equations a % predicted may come from. ``device``: as printed by the spirometer.
SPIROMETRY_EQUATIONS: frozenset[str] = frozenset({"device", *SpirometryEquation})


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


def age_at(session: Session, subject: Subject, on: date) -> float:
    """Decimal age on a date: the age recorded at the first screening plus the time since.

    alstrial holds no birth date (pseudonymisation), so the age is exact to the year of the
    recorded age; GLI % predicted moves by about 0.3 % per year of age in adults.
    """
    first = session.scalars(
        select(Screening.screening_date)
        .where(Screening.subject_id == subject.id)
        .order_by(Screening.screening_date)
    ).first()
    elapsed = 0.0 if first is None else (on - first).days / 365.25
    return subject.age_years + max(elapsed, 0.0)


def record_alsfrs(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    visit_code: str,
    assessment_date: date,
    items: Mapping[str, int | None],
    scale: AlsfrsScale | None = None,
    provenance: Provenance = Provenance.SOURCE,
    reason: str | None = None,
) -> AlsfrsAssessment:
    """Record the ALSFRS-R (or original ALSFRS) of a visit; a second call corrects it.

    The scale is the protocol's (``study.alsfrs_scale``); a rating on the other scale is
    refused, so that one study's totals never mix the two. Items are validated (0-4, exactly
    one of 5a/5b, none missing) and the total is computed here, never taken from the caller.
    A correction needs a reason.
    """
    subject = find_subject(session, subject_code)
    protocol_scale = AlsfrsScale(current_protocol(session).study.alsfrs_scale)
    scale = protocol_scale if scale is None else AlsfrsScale(scale)
    if scale is not protocol_scale:
        raise ValidationError(
            f"the protocol rates function with the {protocol_scale}; a {scale} rating would "
            "mix the two scales",
            subject=subject_code,
            form="alsfrs",
            field="scale_version",
            value=str(scale),
            allowed=str(protocol_scale),
        )
    try:
        score = score_alsfrs(items, scale)
        total = score.require_total()
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
        label=str(scale),
        reason=reason,
    )
    with transaction(session, actor=actor, reason=reason):
        record = existing or AlsfrsAssessment(subject_id=subject.id, visit_id=visit.id)
        record.assessment_date = assessment_date
        record.scale_version = str(scale)
        for key in ALSFRS_R_ITEMS:
            setattr(record, key, items.get(key))
        record.total = total
        record.provenance = provenance
        if existing is None:
            session.add(record)
        hold_visit(visit, assessment_date)
    return record


def predict_fvc(
    session: Session, subject: Subject, fvc_litres: float, on: date, equation: str
) -> FvcPrediction:
    """GLI prediction for a subject's FVC on a date, from the subject record."""
    if subject.height_cm is None:
        raise ValidationError(
            f"{subject.study_code} has no height; % predicted ({equation}) needs it",
            subject=subject.study_code,
            form="spirometry",
            field="height_cm",
            allowed="the subject's height in cm",
        )
    try:
        return fvc_percent_predicted(
            fvc_litres,
            sex=subject.sex,
            age_years=age_at(session, subject, on),
            height_cm=subject.height_cm,
            equation=equation,
            ethnicity=subject.ethnicity,
        )
    except ValidationError as error:
        error.subject = subject.study_code
        raise


def record_spirometry(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    visit_code: str,
    assessment_date: date,
    fvc_litres: float,
    equation: str | None = None,
    percent_predicted: float | None = None,
    provenance: Provenance = Provenance.SOURCE,
    reason: str | None = None,
) -> Spirometry:
    """Record the FVC of a visit in litres; % predicted, z and LLN come from the equation.

    With ``gli2012`` or ``gli-global`` (default: the protocol's ``spirometry_equation``) the
    % predicted, z-score and LLN are computed from the litres, the subject's sex, height,
    GLI-2012 ethnic group and age at the test; a ``percent_predicted`` also given must agree
    within 1 point (a device on another equation disagrees, and is refused rather than
    silently stored). With ``device`` the % predicted printed by the spirometer is stored as
    given.
    """
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

    if not 0 < fvc_litres <= FVC_MAX_LITRES:
        hint = " (it looks like % predicted entered as litres)" if fvc_litres > 10 else ""
        raise refuse("fvc_litres", fvc_litres, "0-10 L", f"FVC {fvc_litres} L is implausible{hint}")
    if percent_predicted is not None and not 0 < percent_predicted <= 200:
        raise refuse(
            "percent_predicted",
            percent_predicted,
            "0-200 %",
            f"FVC {percent_predicted} % predicted is outside 0-200 %",
        )
    equation = equation or current_protocol(session).study.spirometry_equation
    if equation not in SPIROMETRY_EQUATIONS:
        raise refuse(
            "equation",
            equation,
            ", ".join(sorted(SPIROMETRY_EQUATIONS)),
            f"unknown % predicted equation {equation!r}",
        )
    prediction: FvcPrediction | None = None
    if equation in set(SpirometryEquation):
        prediction = predict_fvc(session, subject, fvc_litres, assessment_date, equation)
        if (
            percent_predicted is not None
            and abs(percent_predicted - prediction.percent_predicted) > 1.0
        ):
            raise refuse(
                "percent_predicted",
                percent_predicted,
                f"{prediction.percent_predicted:.1f} % by {equation}",
                f"the given {percent_predicted} % predicted disagrees with "
                f"{prediction.percent_predicted:.1f} % computed by {equation} from "
                f"{fvc_litres} L; record it with equation 'device' if the spirometer's value "
                "is wanted",
            )
        percent_predicted = round(prediction.percent_predicted, 2)
    elif percent_predicted is None and equation == "device":
        raise refuse(
            "percent_predicted",
            None,
            "the % predicted printed by the spirometer",
            "equation 'device' stores the spirometer's % predicted, and none was given",
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
        record.predicted_litres = None if prediction is None else round(prediction.predicted_l, 4)
        record.z_score = None if prediction is None else round(prediction.z, 3)
        record.lln_litres = None if prediction is None else round(prediction.lln_l, 4)
        record.provenance = provenance
        if existing is None:
            session.add(record)
        hold_visit(visit, assessment_date)
    return record
