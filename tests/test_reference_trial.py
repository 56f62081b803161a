"""The reference trial in the store reproduces the paper's Tables 1-3 and participant flow."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.orm import Session

from alstrial.interop.reference_trial import published_adverse_events, published_patients
from alstrial.reporting.tables import (
    FLOW_STATUSES,
    flow_status,
    participant_flow,
    table1_patients,
    table2_cell_product,
    table3_adverse_events,
)
from alstrial.services import build_analysis_frames, verify_audit_trail


def test_demo_store_verifies(demo_session: Session) -> None:
    result = verify_audit_trail(demo_session)
    assert result.ok, result.problem
    assert result.records > 400


def test_table1_is_the_papers(demo_session: Session) -> None:
    """Paper Table 1 (patients.csv): age, sex, onset, months from diagnosis, PEG, trach."""
    table = table1_patients(build_analysis_frames(demo_session))
    for patient, row in zip(published_patients(), table.itertuples(), strict=True):
        assert row.patient == patient.code
        assert row.arm == patient.arm
        assert row.age_years == patient.age_years
        assert row.sex.lower() == patient.sex.value
        assert row.onset.lower() == patient.onset.value
        assert row.months_from_diagnosis == str(patient.months_from_diagnosis)
        assert row.peg_months == (str(patient.peg_months) if patient.peg_months else "N/A")
        trach = patient.tracheostomy_months
        assert row.tracheostomy_months == (str(trach) if trach else "N/A")


def test_table2_is_the_papers(demo_session: Session) -> None:
    """Paper Table 2: the 12 published rows exactly; patients 6 and 14 marked synthetic."""
    table = table2_cell_product(build_analysis_frames(demo_session)).set_index("patient")
    for patient in published_patients():
        row = table.loc[patient.code]
        if patient.cell_count_millions is None:
            assert row["provenance"] == "synthetic"
            continue
        assert row["provenance"] == "publication"
        assert row["route"] == patient.arm
        assert row["cell_count_millions"] == patient.cell_count_millions
        assert row["viability_pct"] == patient.viability_pct
        assert (row["bacteriology"], row["mycoplasma"]) == ("NC", "NC")
        assert row["endotoxin_eu_per_ml"] == patient.endotoxin == "<0.125"
        assert row["karyotype"] == patient.karyotype


def test_table3_is_the_papers(demo_session: Session) -> None:
    """Paper Table 3 (adverse_events.csv): every term, patients, weeks and outcome, exactly."""
    table = table3_adverse_events(build_analysis_frames(demo_session))
    published = pd.DataFrame(published_adverse_events())
    assert list(table["term"]) == list(published["term"])
    assert list(table["category"]) == list(published["category"])
    assert list(table["patients"]) == [int(v) for v in published["patients"]]
    assert list(table["time_of_occurrence_weeks"]) == [
        int(v) for v in published["time_of_occurrence_weeks"]
    ]
    assert list(table["outcome"]) == list(published["outcome"].fillna(""))
    by_term = table.set_index("term")
    assert (
        by_term.loc["Hypotension", "patients_IV"],
        by_term.loc["Hypotension", "patients_IT"],
    ) == (1, 0)
    assert (by_term.loc["Headache", "patients_IV"], by_term.loc["Headache", "patients_IT"]) == (
        0,
        2,
    )


def test_participant_flow_is_the_papers(demo_session: Session) -> None:
    """14 enrolled (IV 6, IT 8); one lost in each arm; 5 IV and 7 IT completed; one IV
    patient died after completing. Each patient is counted once: the statuses add up."""
    flow = participant_flow(build_analysis_frames(demo_session)).set_index("arm")
    assert flow.loc["IV"].to_dict() == {
        "enrolled": 6,
        "treated": 6,
        "not_treated": 0,
        "lost_to_follow_up": 1,
        "withdrawn": 0,
        "died_in_follow_up": 0,
        "completed_then_died": 1,
        "completed": 4,
        "in_follow_up": 0,
        "completed_12_months": 5,
    }
    assert flow.loc["IT"].to_dict() == {
        "enrolled": 8,
        "treated": 8,
        "not_treated": 0,
        "lost_to_follow_up": 1,
        "withdrawn": 0,
        "died_in_follow_up": 0,
        "completed_then_died": 0,
        "completed": 7,
        "in_follow_up": 0,
        "completed_12_months": 7,
    }
    for arm in ("IV", "IT", "All"):
        assert sum(flow.loc[arm, s] for s in FLOW_STATUSES) == flow.loc[arm, "enrolled"]


@pytest.mark.parametrize(
    ("administered", "disposition", "completed", "status"),
    [
        (False, None, False, "not_treated"),
        (False, "withdrawn", False, "not_treated"),
        (True, "lost_to_follow_up", False, "lost_to_follow_up"),
        (True, "withdrawn", True, "withdrawn"),
        (True, "died", False, "died_in_follow_up"),
        (True, "died", True, "completed_then_died"),
        (True, "completed", True, "completed"),
        (True, None, False, "in_follow_up"),
    ],
)
def test_each_patient_has_one_place_in_the_flow(
    administered: bool, disposition: str | None, completed: bool, status: str
) -> None:
    assert flow_status(administered, disposition, completed) == status


def test_generated_values_are_labelled_synthetic(demo_session: Session) -> None:
    frames = build_analysis_frames(demo_session)
    assert frames.synthetic
    assert set(frames.measures["provenance"]) == {"synthetic"}
    assert set(frames.subjects["provenance"]) == {"synthetic"}


def test_narrative_of_the_synthetic_courses(demo_session: Session) -> None:
    """Declines in both arms, patient 9 stable, lost patients without follow-up values."""
    measures = build_analysis_frames(demo_session).measures
    alsfrs = measures[measures["measure"] == "alsfrs_r_total"].pivot(
        index="subject", columns="visit", values="value"
    )
    for lost in ("P06", "P14"):
        assert alsfrs.loc[lost, ["M2", "M4", "M6", "M12"]].isna().all()
    completers = alsfrs.drop(index=["P06", "P14", "P09"])
    assert (completers["M12"] < completers["W-1"] - 3).all()
    assert abs(alsfrs.loc["P09", "M12"] - alsfrs.loc["P09", "W-6"]) <= 2


def test_shipped_tables_match_shared_reference(shared: Path) -> None:
    """The CSV copies in the package are the shared reference files, unchanged."""
    package = Path(__file__).resolve().parents[1] / "src/alstrial/data/reference_trial"
    for name in ("patients.csv", "adverse_events.csv"):
        with (package / name).open() as ours, (shared / "reference-trial" / name).open() as theirs:
            assert list(csv.reader(ours)) == list(csv.reader(theirs))
