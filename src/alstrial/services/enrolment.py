"""Registering, screening and enrolling subjects; enrolment schedules their visits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError, ValidationError
from alstrial.protocol import EligibilityResult, evaluate_eligibility, plan_visits
from alstrial.scoring import GliEthnicity, derive_screening_values
from alstrial.services.lookup import (
    check_code,
    current_protocol,
    find_site,
    find_subject,
    latest_protocol_version,
    only_study,
    protocol_of,
)
from alstrial.services.transaction import transaction
from alstrial.store.models import Enrolment, Screening, Subject, Visit
from alstrial.vocabulary import (
    MONTH_DAYS,
    DiagnosticCategory,
    OnsetRegion,
    Provenance,
    Sex,
    VisitStatus,
)

__all__ = ["SubjectFacts", "enrol_subject", "register_subject", "screen_subject"]

ScreeningValue = float | int | bool | str | None


@dataclass(frozen=True)
class SubjectFacts:
    """What is recorded of a subject at registration (no identifying data)."""

    study_code: str
    site_code: str
    sex: Sex
    age_years: int
    onset_region: OnsetRegion
    riluzole: bool
    birth_year: int | None = None
    height_cm: float | None = None
    weight_kg: float | None = None
    ethnicity: GliEthnicity | None = None
    onset_date: date | None = None
    diagnosis_date: date | None = None
    diagnostic_category: DiagnosticCategory | None = None
    provenance: Provenance = Provenance.SOURCE


def _check_range(
    facts: SubjectFacts, field: str, value: float | None, low: float, high: float, unit: str
) -> None:
    if value is not None and not low <= value <= high:
        raise ValidationError(
            f"{field} {value} {unit} is outside {low}-{high} {unit}",
            subject=facts.study_code,
            form="subject",
            field=field,
            value=value,
            allowed=f"{low}-{high} {unit}",
        )


def _validate_facts(facts: SubjectFacts) -> None:
    if not facts.study_code.strip() or len(facts.study_code) > 40:
        raise ValidationError(
            "a study code is 1-40 characters",
            form="subject",
            field="study_code",
            value=facts.study_code,
        )
    _check_range(facts, "age_years", facts.age_years, 18, 100, "years")
    _check_range(facts, "height_cm", facts.height_cm, 100, 230, "cm")
    _check_range(facts, "weight_kg", facts.weight_kg, 25, 250, "kg")
    if facts.ethnicity is not None and facts.ethnicity not in set(GliEthnicity):
        raise ValidationError(
            f"unknown GLI-2012 ethnic group {facts.ethnicity!r}",
            subject=facts.study_code,
            form="subject",
            field="ethnicity",
            value=facts.ethnicity,
            allowed=", ".join(GliEthnicity),
        )
    if facts.birth_year is not None:
        _check_range(facts, "birth_year", facts.birth_year, 1900, date.today().year, "")
    if facts.onset_date and facts.diagnosis_date and facts.diagnosis_date < facts.onset_date:
        raise ValidationError(
            "the diagnosis date is before the onset date",
            subject=facts.study_code,
            form="subject",
            field="diagnosis_date",
            value=facts.diagnosis_date.isoformat(),
            allowed=f"on or after {facts.onset_date}",
        )


def register_subject(session: Session, *, actor: str, facts: SubjectFacts) -> Subject:
    """Register a subject at a site under a pseudonymous study code."""
    check_code(facts.study_code, form="subject", field="study_code", length=40)
    _validate_facts(facts)
    study = only_study(session)
    site = find_site(session, facts.site_code)
    exists = session.scalars(select(Subject).where(Subject.study_code == facts.study_code)).first()
    if exists is not None:
        raise ConflictError(
            f"subject {facts.study_code} is registered already", subject=facts.study_code
        )
    with transaction(session, actor=actor):
        subject = Subject(
            study_id=study.id,
            site_id=site.id,
            study_code=facts.study_code,
            sex=facts.sex,
            age_years=facts.age_years,
            birth_year=facts.birth_year,
            height_cm=facts.height_cm,
            weight_kg=facts.weight_kg,
            ethnicity=None if facts.ethnicity is None else GliEthnicity(facts.ethnicity).value,
            onset_region=facts.onset_region,
            onset_date=facts.onset_date,
            diagnosis_date=facts.diagnosis_date,
            diagnostic_category=facts.diagnostic_category,
            riluzole=facts.riluzole,
            provenance=facts.provenance,
        )
        session.add(subject)
    return subject


def _screening_values(
    subject: Subject, screening_date: date, data: Mapping[str, ScreeningValue]
) -> dict[str, ScreeningValue]:
    """Screening answers completed with what the subject record already says, and with the
    values the raw findings imply (:func:`~alstrial.scoring.derive_screening_values`)."""
    values: dict[str, ScreeningValue] = {
        "age_years": subject.age_years,
        "sex": subject.sex.value,
        "height_cm": subject.height_cm,
        "ethnicity": subject.ethnicity,
        "riluzole": subject.riluzole,
        "el_escorial_category": (
            subject.diagnostic_category.value if subject.diagnostic_category else None
        ),
    }
    if subject.onset_date is not None:
        months = (screening_date - subject.onset_date).days / MONTH_DAYS
        values["disease_duration_months"] = round(months, 2)
    values.update(data)
    try:
        return derive_screening_values(values)
    except ValidationError as error:
        error.subject = subject.study_code
        raise


def screen_subject(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    screening_date: date,
    data: Mapping[str, ScreeningValue],
) -> tuple[Screening, EligibilityResult]:
    """Record a screening and evaluate each eligibility criterion of the protocol."""
    subject = find_subject(session, subject_code)
    for key, value in data.items():
        if not isinstance(value, bool | int | float | str) and value is not None:
            raise ValidationError(
                f"screening value {key} must be a number, a boolean or text",
                subject=subject_code,
                form="screening",
                field=key,
                value=repr(value),
            )
    version = latest_protocol_version(session, only_study(session))
    values = _screening_values(subject, screening_date, data)
    result = evaluate_eligibility(protocol_of(version).eligibility, values)
    with transaction(session, actor=actor):
        screening = Screening(
            subject_id=subject.id,
            protocol_version_id=version.id,
            screening_date=screening_date,
            data=dict(values),
            results=[_result_dict(r) for r in result.criteria],
            eligible=result.eligible,
        )
        session.add(screening)
    return screening, result


def _result_dict(result: Any) -> dict[str, Any]:
    return {
        "id": result.id,
        "kind": result.kind,
        "text": result.text,
        "status": result.status.value,
        "reason": result.reason,
        "passes": result.passes,
    }


def enrol_subject(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    arm_code: str,
    enrolment_date: date,
    planned_administration_date: date,
    override_reason: str | None = None,
) -> Enrolment:
    """Enrol a screened subject into an arm and schedule every visit of the protocol.

    An ineligible subject (by the latest screening) is refused unless an override reason is
    given; the reason is stored with the screening and in the audit trail.
    """
    subject = find_subject(session, subject_code)
    screening = session.scalars(
        select(Screening).where(Screening.subject_id == subject.id).order_by(Screening.id.desc())
    ).first()
    if screening is None:
        raise ConflictError(
            f"subject {subject_code} has not been screened", subject=subject_code, form="enrolment"
        )
    if session.scalars(select(Enrolment).where(Enrolment.subject_id == subject.id)).first():
        raise ConflictError(f"subject {subject_code} is enrolled already", subject=subject_code)
    protocol = current_protocol(session)
    arms = [arm.code for arm in protocol.arms]
    if arm_code not in arms:
        raise ValidationError(
            f"unknown arm {arm_code!r}",
            subject=subject_code,
            form="enrolment",
            field="arm",
            value=arm_code,
            allowed=", ".join(arms),
        )
    if not screening.eligible and not (override_reason and override_reason.strip()):
        failing = [r["id"] for r in screening.results if not r["passes"]]
        raise ConflictError(
            f"subject {subject_code} is not eligible (criteria {', '.join(failing)}); "
            "enrol only with an override reason",
            subject=subject_code,
            form="enrolment",
            field="eligibility",
            value=", ".join(failing),
        )
    if enrolment_date < screening.screening_date:
        raise ValidationError(
            "the enrolment date is before the screening date",
            subject=subject_code,
            form="enrolment",
            field="enrolment_date",
            value=enrolment_date.isoformat(),
            allowed=f"on or after {screening.screening_date}",
        )
    plan = plan_visits(protocol, planned_administration_date)
    if plan[0].window_start < enrolment_date:
        earliest = enrolment_date + (planned_administration_date - plan[0].window_start)
        raise ValidationError(
            f"the first visit {plan[0].code} would fall before enrolment",
            subject=subject_code,
            form="enrolment",
            field="planned_administration_date",
            value=planned_administration_date.isoformat(),
            allowed=f"on or after {earliest}",
        )
    override = override_reason.strip() if override_reason and not screening.eligible else None
    with transaction(session, actor=actor, reason=override):
        if override:
            screening.override_reason = override
        enrolment = Enrolment(
            subject_id=subject.id,
            screening_id=screening.id,
            arm_code=arm_code,
            enrolment_date=enrolment_date,
            planned_administration_date=planned_administration_date,
        )
        session.add(enrolment)
        for planned in plan:
            session.add(
                Visit(
                    subject_id=subject.id,
                    code=planned.code,
                    day=planned.day,
                    planned_date=planned.planned_date,
                    window_start=planned.window_start,
                    window_end=planned.window_end,
                    status=VisitStatus.SCHEDULED,
                )
            )
    return enrolment
