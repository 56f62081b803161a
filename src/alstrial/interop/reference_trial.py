"""Build the reference trial in a store: the paper's 14 patients and Tables 1-3, plus
synthetic per-visit data.

Published facts (age, sex, onset, months from diagnosis, PEG and tracheostomy months, route,
Table 2's product results, Table 3's events) are loaded from the CSV files shipped in
``alstrial/data/reference_trial``. Everything the paper does not give is generated, seeded,
and stored with ``provenance = synthetic``: calendar dates, weight and height, which patient
had which adverse event, and every ALSFRS-R and FVC value. All writes go through the services.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources

import numpy as np
from sqlalchemy.orm import Session

from alstrial.interop.synthetic_course import (
    PatientCourse,
    generate_course,
)
from alstrial.protocol import Visit, parse_protocol, reference_protocol_text
from alstrial.scoring import SpirometryEquation, fvc_percent_predicted
from alstrial.services import (
    AdverseEventReport,
    BatchResults,
    SubjectFacts,
    VitalsReading,
    add_site,
    add_user,
    create_study,
    enrol_subject,
    mark_visit_missed,
    record_administration,
    record_alsfrs,
    record_disposition,
    record_flow_results,
    record_lab,
    record_milestone,
    record_product_batch,
    record_spirometry,
    record_visit_date,
    record_vitals,
    register_subject,
    report_adverse_event,
    screen_subject,
    sign_release,
)
from alstrial.services.dictionary_forms import save_form_instance
from alstrial.vocabulary import (
    MONTH_DAYS,
    AdverseEventOutcome,
    DiagnosticCategory,
    DispositionStatus,
    MilestoneKind,
    OnsetRegion,
    Provenance,
    Relatedness,
    Sex,
)

__all__ = [
    "DEFAULT_SEED",
    "LOADER",
    "PublishedPatient",
    "load_reference_trial",
    "published_adverse_events",
    "published_patients",
]

DEFAULT_SEED = 20130101
LOADER = "reference-trial-loader"
QC_SIGNER = "qc-reference"
#: Per-batch flow results are not published (Fig. 2 shows one product qualitatively: CD73,
#: CD90, CD105 and CD44 high, CD34 and CD45 almost absent); the demo draws values that say
#: the same, on the trial's panel, labelled synthetic.
_PANEL_HIGH = ("CD73", "CD90", "CD105", "CD44")
_PANEL_LOW = ("CD34", "CD45", "CD11b")
SITE_CODE = "ROYAN"
ROUTES = {"IV": "intravenous", "IT": "intrathecal"}
FIRST_ENROLMENT = date(2013, 2, 4)
LEAD_IN_DAYS = 50

# Synthetic assignment of the published adverse events to patients (the paper does not say
# which patients): hypotension after IV infusion, headache and nausea after lumbar puncture.
_HYPOTENSION_PATIENT = 3
_LUMBAR_PUNCTURE_PATIENTS = (8, 11)
_STABLE_PATIENT = 9
_LOST_PATIENTS = (6, 14)
_DIED_PATIENT = 1


@dataclass(frozen=True)
class PublishedPatient:
    """One row of the paper's Tables 1 and 2."""

    number: int
    age_years: int
    sex: Sex
    onset: OnsetRegion
    months_from_diagnosis: int
    peg_months: int | None
    tracheostomy_months: int | None
    arm: str
    cell_count_millions: float | None
    viability_pct: float | None
    bacteriology: str
    mycoplasma: str
    endotoxin: str
    karyotype: str

    @property
    def code(self) -> str:
        """Pseudonymous study code."""
        return f"P{self.number:02d}"


def _data_file(name: str) -> Iterator[dict[str, str]]:
    text = resources.files("alstrial.data.reference_trial").joinpath(name).read_text("utf-8")
    yield from csv.DictReader(text.splitlines())


def _optional_int(text: str) -> int | None:
    return int(text) if text.strip() else None


def published_patients() -> list[PublishedPatient]:
    """The 14 patients of Tables 1 and 2, as published."""
    return [
        PublishedPatient(
            number=int(row["patient"]),
            age_years=int(row["age_years"]),
            sex=Sex(row["sex"].lower()),
            onset=OnsetRegion(row["onset"].lower()),
            months_from_diagnosis=int(row["als_duration_months_from_diagnosis"]),
            peg_months=_optional_int(row["peg_months_from_injection"]),
            tracheostomy_months=_optional_int(row["tracheostomy_months_from_injection"]),
            arm=row["route"],
            cell_count_millions=float(row["cell_count_millions"])
            if row["cell_count_millions"]
            else None,
            viability_pct=float(row["cell_viability_pct"]) if row["cell_viability_pct"] else None,
            bacteriology=row["bacteriology"],
            mycoplasma=row["mycoplasma"],
            endotoxin=row["endotoxin_eu_per_ml"],
            karyotype=row["karyotype"],
        )
        for row in _data_file("patients.csv")
    ]


def published_adverse_events() -> list[dict[str, str]]:
    """Table 3 as published: category, term, patients, weeks, outcome."""
    return list(_data_file("adverse_events.csv"))


def _days(months: float) -> timedelta:
    return timedelta(days=round(months * MONTH_DAYS))


def _course(patient: PublishedPatient, rng: np.random.Generator, predicted: float) -> PatientCourse:
    """Draw one patient's synthetic course parameters, following the paper's narrative."""
    baseline_loss = float(rng.uniform(6, 16))
    slope = float(np.clip(rng.normal(-1.0, 0.35), -2.0, -0.4))
    fvc_baseline = float(rng.uniform(62, 92))
    fvc_slope = float(np.clip(rng.normal(-2.2, 0.8), -4.0, -0.8))
    slope_post, fvc_slope_post = slope, fvc_slope
    if patient.number == _STABLE_PATIENT:
        slope = slope_post = -0.05
        fvc_slope = fvc_slope_post = -0.1
    if patient.number == _DIED_PATIENT:
        slope_post, fvc_slope_post = -2.0, -4.5
    if patient.peg_months is not None and patient.peg_months <= 4:
        slope_post, fvc_slope_post = -2.2, -5.0
    return PatientCourse(
        onset=patient.onset.value,
        baseline_loss=baseline_loss,
        slope_pre=slope,
        slope_post=slope_post,
        fvc_baseline=fvc_baseline,
        fvc_slope_pre=fvc_slope,
        fvc_slope_post=fvc_slope_post,
        predicted_fvc_litres=predicted,
        gastrostomy_month=patient.peg_months,
        tracheostomy_month=patient.tracheostomy_months,
    )


def load_reference_trial(
    session: Session,
    *,
    seed: int = DEFAULT_SEED,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Create the reference trial in an empty, migrated store.

    Parameters
    ----------
    seed
        Seed of the synthetic values; the same seed gives the same database.
    progress
        Called with each patient's code as it is loaded.
    """
    rng = np.random.default_rng(seed)
    protocol_text = reference_protocol_text()
    protocol = parse_protocol(protocol_text)
    actor = LOADER
    create_study(session, actor=actor, protocol_text=protocol_text)
    add_site(
        session, actor=actor, code=SITE_CODE, name="Royan Institute / Mostafa Khomeini Hospital"
    )
    add_user(
        session, actor=actor, username=LOADER, full_name="Reference-trial loader (synthetic data)"
    )
    add_user(
        session, actor=actor, username=QC_SIGNER, full_name="QC release (reference-trial demo)"
    )
    for index, patient in enumerate(published_patients()):
        _load_patient(session, patient, index, protocol.visits, rng)
        if progress is not None:
            progress(patient.code)


def _load_patient(
    session: Session,
    patient: PublishedPatient,
    index: int,
    visits: tuple[Visit, ...],
    rng: np.random.Generator,
) -> None:
    actor = LOADER
    synthetic = Provenance.SYNTHETIC
    enrolment_date = FIRST_ENROLMENT + timedelta(days=21 * index)
    administration_date = enrolment_date + timedelta(days=LEAD_IN_DAYS)
    weight = (
        patient.cell_count_millions / 2.0
        if patient.cell_count_millions is not None
        else float(round(rng.uniform(55, 75), 1))
    )
    height = float(round(rng.normal(174 if patient.sex is Sex.MALE else 161, 6)))
    diagnosis_date = enrolment_date - _days(patient.months_from_diagnosis)
    onset_date = diagnosis_date - timedelta(days=int(rng.integers(150, 420)))
    register_subject(
        session,
        actor=actor,
        facts=SubjectFacts(
            study_code=patient.code,
            site_code=SITE_CODE,
            sex=patient.sex,
            age_years=patient.age_years,
            onset_region=patient.onset,
            riluzole=True,
            height_cm=height,
            weight_kg=weight,
            onset_date=onset_date,
            diagnosis_date=diagnosis_date,
            diagnostic_category=DiagnosticCategory.DEFINITE,
            provenance=synthetic,
        ),
    )
    predicted = fvc_percent_predicted(
        1.0,
        sex=patient.sex,
        age_years=patient.age_years,
        height_cm=height,
        equation=SpirometryEquation.GLI_GLOBAL,
    ).predicted_l
    course = _course(patient, rng, predicted)
    schedule = [(v.code, v.day / MONTH_DAYS) for v in visits if "alsfrs_r" in v.assessments]
    values = generate_course(course, schedule, rng)
    screening_values = values[0]
    screen_subject(
        session,
        actor=actor,
        subject_code=patient.code,
        screening_date=enrolment_date,
        data={
            "familial_als": False,
            "alsfrs_total": sum(screening_values.items.values()),
            "fvc_percent_predicted": screening_values.fvc_percent_predicted,
            "concomitant_disease": False,
            "immunotherapy_last_6_months": False,
        },
    )
    enrol_subject(
        session,
        actor=actor,
        subject_code=patient.code,
        arm_code=patient.arm,
        enrolment_date=enrolment_date,
        planned_administration_date=administration_date,
    )
    _load_product_and_administration(session, patient, administration_date, weight, rng)
    lost = patient.number in _LOST_PATIENTS
    for visit, value in zip(
        [v for v in visits if "alsfrs_r" in v.assessments], values, strict=True
    ):
        when = administration_date + timedelta(days=visit.day + int(rng.integers(-1, 2)))
        if lost and visit.day > 0:
            mark_visit_missed(
                session,
                actor=actor,
                subject_code=patient.code,
                visit_code=visit.code,
                reason="lost to follow-up (synthetic calendar)",
            )
            continue
        record_alsfrs(
            session,
            actor=actor,
            subject_code=patient.code,
            visit_code=visit.code,
            assessment_date=when,
            items=value.items,
            provenance=synthetic,
        )
        record_spirometry(
            session,
            actor=actor,
            subject_code=patient.code,
            visit_code=visit.code,
            assessment_date=when,
            fvc_litres=value.fvc_litres,
            equation=SpirometryEquation.GLI_GLOBAL,
            provenance=synthetic,
        )
        if visit.code in _LAB_VISITS:
            _load_labs(session, patient, visit.code, when, rng)
        if "physical_exam" in visit.assessments:
            _load_physical_exam(session, patient, visit.code, when, rng)
    record_visit_date(
        session,
        actor=actor,
        subject_code=patient.code,
        visit_code="D1",
        actual_date=administration_date + timedelta(days=1),
    )
    _load_physical_exam(session, patient, "D1", administration_date + timedelta(days=1), rng)
    _load_subject_forms(session, patient, onset_date, enrolment_date)
    _load_events(session, patient, administration_date)


#: Regions with signs, by region of onset, for the synthetic examinations.
_SIGNS = {
    OnsetRegion.BULBAR: ["bulbar", "cervical"],
    OnsetRegion.LIMB: ["cervical", "lumbosacral"],
}


def _load_physical_exam(
    session: Session,
    patient: PublishedPatient,
    visit_code: str,
    when: date,
    rng: np.random.Generator,
) -> None:
    """A synthetic physical and neurological examination (the paper publishes none)."""
    regions = _SIGNS.get(patient.onset, ["cervical", "lumbosacral"])
    new_symptoms = bool(rng.random() < 0.15)
    entered: dict[str, object] = {
        "exam_date": when,
        "general": "normal",
        "umn_signs": regions,
        "lmn_signs": regions,
        "new_symptoms": new_symptoms,
    }
    if new_symptoms:
        entered["new_symptoms_text"] = "more weakness (synthetic)"
    save_form_instance(
        session,
        actor=LOADER,
        subject_code=patient.code,
        form="physical_exam",
        visit_code=visit_code,
        entered=entered,
        provenance=Provenance.SYNTHETIC,
    )


def _load_subject_forms(
    session: Session, patient: PublishedPatient, onset: date, enrolment: date
) -> None:
    """Riluzole as the protocol required, and a family history without ALS (the trial took
    sporadic ALS only): synthetic entries, not the trial's records."""
    # The paper: "riluzole, at a dose of 100 mg, twice per day"; read as the licensed 100 mg a
    # day in two doses of 50 mg (200 mg a day would be twice the licensed dose).
    save_form_instance(
        session,
        actor=LOADER,
        subject_code=patient.code,
        form="concomitant_medication",
        entered={
            "drug": "riluzole",
            "dose": 50,
            "dose_unit": "mg",
            "per_day": 2,
            "route": "oral",
            "started": min(onset + timedelta(days=120), enrolment - timedelta(days=30)),
        },
        provenance=Provenance.SYNTHETIC,
    )
    save_form_instance(
        session,
        actor=LOADER,
        subject_code=patient.code,
        form="family_history",
        entered={"als_in_family": False, "neuromuscular_in_family": False},
        provenance=Provenance.SYNTHETIC,
    )


def _load_product_and_administration(
    session: Session,
    patient: PublishedPatient,
    administration_date: date,
    weight: float,
    rng: np.random.Generator,
) -> None:
    published = patient.cell_count_millions is not None
    endotoxin = patient.endotoxin or "<0.125"
    record_product_batch(
        session,
        actor=LOADER,
        subject_code=patient.code,
        results=BatchResults(
            batch_code=f"MSC-{patient.code}",
            final_cell_count=(patient.cell_count_millions or weight * 2.0) * 1e6,
            viability_pct=patient.viability_pct or float(round(rng.uniform(92, 99), 1)),
            bacteriology=patient.bacteriology or "NC",
            mycoplasma=patient.mycoplasma or "NC",
            endotoxin_eu_per_ml=float(endotoxin.lstrip("<")),
            endotoxin_below_loq=endotoxin.startswith("<"),
            karyotype=patient.karyotype or ("46XY" if patient.sex is Sex.MALE else "46XX"),
        ),
        provenance=Provenance.PUBLICATION if published else Provenance.SYNTHETIC,
    )
    identity = {marker: float(round(rng.uniform(96.0, 99.8), 1)) for marker in _PANEL_HIGH}
    identity |= {marker: float(round(rng.uniform(0.1, 1.5), 1)) for marker in _PANEL_LOW}
    record_flow_results(
        session,
        actor=LOADER,
        batch_code=f"MSC-{patient.code}",
        percent_positive=identity,
        provenance=Provenance.SYNTHETIC,
    )
    sign_release(
        session,
        actor=QC_SIGNER,
        batch_code=f"MSC-{patient.code}",
        decision="released",
        reason="release tests pass (Table 2); identity on the trial's panel (synthetic values)",
        signed_at=datetime.combine(
            administration_date - timedelta(days=1), time(16, 0), tzinfo=UTC
        ),
    )
    record_administration(
        session,
        actor=LOADER,
        subject_code=patient.code,
        administered_at=datetime.combine(administration_date, time(9, 30), tzinfo=UTC),
        route=ROUTES[patient.arm],
        product_batch=f"MSC-{patient.code}",
        cells_given=weight * 2.0e6,
        volume_ml=5.0,
        provenance=Provenance.SYNTHETIC,
    )


#: The paper reports no laboratory adverse event but publishes no values (liver, kidney, blood):
#: the demo draws normal values (synthetic) at baseline and months 6 and 12.
_LAB_VISITS = ("W-1", "M6", "M12")
_LAB_MEANS = {
    "ALT": (25.0, 6.0, "U/L"),
    "AST": (24.0, 5.0, "U/L"),
    "CREAT": (70.0, 10.0, "umol/L"),
    "HGB": (140.0, 9.0, "g/L"),
    "PLT": (250.0, 45.0, "10^9/L"),
    "ANC": (4.0, 0.9, "10^9/L"),
}


def _load_labs(
    session: Session,
    patient: PublishedPatient,
    visit_code: str,
    when: date,
    rng: np.random.Generator,
) -> None:
    for analyte, (mean, sd, unit) in _LAB_MEANS.items():
        record_lab(
            session,
            actor=LOADER,
            subject_code=patient.code,
            visit_code=visit_code,
            sample_date=when,
            analyte=analyte,
            value=float(round(max(rng.normal(mean, sd), mean / 4), 1)),
            unit=unit,
            provenance=Provenance.SYNTHETIC,
        )


def _load_events(session: Session, patient: PublishedPatient, day0: date) -> None:
    actor, code = LOADER, patient.code
    publication = Provenance.PUBLICATION
    if patient.number == _HYPOTENSION_PATIENT:
        infusion = datetime.combine(day0, time(9, 45), tzinfo=UTC)
        for minutes, (systolic, diastolic), note in (
            (15, (85, 60), "immediately after the IV infusion (published)"),
            (120, (105, 80), "after 1000 ml 0.9 % sodium chloride (published)"),
        ):
            record_vitals(
                session,
                actor=actor,
                subject_code=code,
                visit_code="D0",
                reading=VitalsReading(
                    infusion + timedelta(minutes=minutes), systolic, diastolic, note=note
                ),
                provenance=publication,
            )
        report_adverse_event(
            session,
            actor=actor,
            subject_code=code,
            provenance=Provenance.SYNTHETIC,
            report=AdverseEventReport(
                term="Hypotension",
                category="Neurological",
                onset_date=day0,
                end_date=day0,
                severity_grade=2,
                serious=False,
                relatedness=Relatedness.POSSIBLE,
                attributed_to="intravenous infusion",
                outcome=AdverseEventOutcome.RECOVERED,
                treatment="1000 ml 0.9 % sodium chloride",
                description="85/60 mmHg immediately after the IV injection; 105/80 mmHg after "
                "saline. Published event; the patient it is attached to is synthetic.",
            ),
        )
    if patient.number in _LUMBAR_PUNCTURE_PATIENTS:
        for term in ("Headache", "Nausea and vomiting"):
            report_adverse_event(
                session,
                actor=actor,
                subject_code=code,
                provenance=Provenance.SYNTHETIC,
                report=AdverseEventReport(
                    term=term,
                    category="Neurological",
                    onset_date=day0,
                    end_date=day0 + timedelta(days=1),
                    severity_grade=1,
                    serious=False,
                    relatedness=Relatedness.UNLIKELY,
                    attributed_to="lumbar puncture",
                    outcome=AdverseEventOutcome.RECOVERED,
                    treatment="hydration and NSAIDs",
                    description="After the IT injection, lasted 24 h. Published event; the "
                    "patient it is attached to is synthetic.",
                ),
            )
    if patient.peg_months is not None:
        record_milestone(
            session,
            actor=actor,
            subject_code=code,
            kind=MilestoneKind.GASTROSTOMY,
            event_date=day0 + _days(patient.peg_months),
            provenance=publication,
        )
    if patient.tracheostomy_months is not None:
        record_milestone(
            session,
            actor=actor,
            subject_code=code,
            kind=MilestoneKind.TRACHEOSTOMY,
            event_date=day0 + _days(patient.tracheostomy_months),
            provenance=publication,
        )
    if patient.number == _DIED_PATIENT:
        death = day0 + timedelta(days=372)
        record_milestone(
            session,
            actor=actor,
            subject_code=code,
            kind=MilestoneKind.DEATH,
            event_date=death,
            cause="respiratory insufficiency and infection",
            provenance=publication,
        )
        record_disposition(
            session,
            actor=actor,
            subject_code=code,
            status=DispositionStatus.DIED,
            disposition_date=death,
            reason="died at the end of the study (respiratory infection)",
            provenance=publication,
        )
    elif patient.number in _LOST_PATIENTS:
        record_disposition(
            session,
            actor=actor,
            subject_code=code,
            status=DispositionStatus.LOST_TO_FOLLOW_UP,
            disposition_date=day0 + timedelta(days=30),
            reason="lost to follow-up after month 1",
            provenance=publication,
        )
    else:
        record_disposition(
            session,
            actor=actor,
            subject_code=code,
            status=DispositionStatus.COMPLETED,
            disposition_date=day0 + timedelta(days=365),
            provenance=publication,
        )
