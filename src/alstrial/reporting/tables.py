"""The paper's tables and the participant flow, computed from analysis frames."""

from __future__ import annotations

import pandas as pd

from alstrial.services.frames import AnalysisFrames
from alstrial.stats import describe_by
from alstrial.vocabulary import MONTH_DAYS

__all__ = [
    "ANOVA_VISITS",
    "FLOW_STATUSES",
    "MEASURE_LABELS",
    "characteristics_by_arm",
    "flow_status",
    "participant_flow",
    "table1_patients",
    "table2_cell_product",
    "table3_adverse_events",
    "visit_summary",
]

MEASURE_LABELS = {
    "alsfrs_r_total": "ALSFRS-R total (points)",
    "fvc_percent_predicted": "FVC (% predicted)",
}
#: Visits of the repeated-measures ANOVA: the last lead-in visit (baseline) and follow-up.
ANOVA_VISITS = ("W-1", "M2", "M4", "M6", "M12")


def _round_months(value: object) -> str:
    if value is None or not isinstance(value, int | float) or pd.isna(value):
        return "N/A"
    return str(round(float(value)))


def table1_patients(frames: AnalysisFrames) -> pd.DataFrame:
    """Table 1: each patient's age, sex, onset, months from diagnosis, PEG and tracheostomy."""
    milestones = frames.milestones
    rows = []
    for subject in frames.subjects.itertuples():
        own = milestones[milestones["subject"] == subject.subject]

        def months(kind: str, own: pd.DataFrame = own) -> str:
            found = own[own["kind"] == kind]["months_from_administration"]
            return _round_months(found.iloc[0] if len(found) else None)

        rows.append(
            {
                "patient": subject.subject,
                "arm": subject.arm,
                "age_years": subject.age_years,
                "sex": str(subject.sex).capitalize(),
                "onset": str(subject.onset_region).capitalize(),
                "months_from_diagnosis": _round_months(subject.months_from_diagnosis),
                "peg_months": months("gastrostomy"),
                "tracheostomy_months": months("tracheostomy"),
            }
        )
    return pd.DataFrame(rows)


def characteristics_by_arm(frames: AnalysisFrames) -> pd.DataFrame:
    """Baseline characteristics summarised by arm (n, age, sex, onset, disease duration)."""
    subjects = frames.subjects[frames.subjects["enrolled"].astype(bool)]
    rows = []
    for arm, group in [*subjects.groupby("arm"), ("All", subjects)]:
        age = group["age_years"]
        duration = group["months_from_diagnosis"].astype(float)
        rows.append(
            {
                "arm": arm,
                "n": len(group),
                "age_mean": float(age.mean()),
                "age_sd": float(age.std(ddof=1)),
                "age_min": int(age.min()) if len(group) else None,  # no subject yet
                "age_max": int(age.max()) if len(group) else None,
                "male": int((group["sex"] == "male").sum()),
                "female": int((group["sex"] == "female").sum()),
                "bulbar_onset": int((group["onset_region"] == "bulbar").sum()),
                "limb_onset": int((group["onset_region"] == "limb").sum()),
                "months_from_diagnosis_median": float(duration.median()),
            }
        )
    return pd.DataFrame(rows)


def table2_cell_product(frames: AnalysisFrames) -> pd.DataFrame:
    """Table 2: route, cell count (x 10^6), viability and release results per patient."""
    batches = frames.batches
    routes = {"intravenous": "IV", "intrathecal": "IT"}
    return pd.DataFrame(
        {
            "patient": batches["subject"],
            "route": batches["route"].map(routes),
            "cell_count_millions": batches["final_cell_count"] / 1e6,
            "viability_pct": batches["viability_pct"],
            "bacteriology": batches["bacteriology"],
            "mycoplasma": batches["mycoplasma"],
            "endotoxin_eu_per_ml": [
                f"<{v:g}" if below else f"{v:g}"
                for v, below in zip(
                    batches["endotoxin_eu_per_ml"], batches["endotoxin_below_loq"], strict=True
                )
            ],
            "karyotype": batches["karyotype"],
            "provenance": batches["provenance"],
        }
    )


def _outcome_text(events: pd.DataFrame) -> str:
    if events.empty:
        return ""
    recovered = events["outcome"].isin(["recovered", "recovering"]).all()
    treated = (events["treatment"].str.strip() != "").all()
    if recovered and treated:
        return "Improved after treatment"
    if recovered:
        return "Recovered"
    return ", ".join(sorted(events["outcome"].str.replace("_", " ").unique()))


def table3_adverse_events(frames: AnalysisFrames) -> pd.DataFrame:
    """Table 3: every checklist term with patients (n), by arm, week of occurrence, outcome.

    The week of occurrence is ``floor(days from administration / 7) + 1`` (day 0 is week 1),
    the latest over the term's events; 0 when nobody had the event, as the paper prints it.
    """
    events = frames.adverse_events
    arms = sorted(frames.arms["arm"])
    rows = []
    for item in frames.checklist.itertuples():
        own = events[events["term"] == item.term]
        weeks = (own["days_from_administration"] // 7 + 1).max() if len(own) else 0
        rows.append(
            {
                "category": item.category,
                "term": item.term,
                "patients": own["subject"].nunique(),
                **{f"patients_{arm}": own[own["arm"] == arm]["subject"].nunique() for arm in arms},
                "time_of_occurrence_weeks": int(weeks),
                "outcome": _outcome_text(own),
            }
        )
    return pd.DataFrame(rows)


#: Each enrolled patient's one place in the participant flow, in the table's order.
FLOW_STATUSES = (
    "not_treated",
    "lost_to_follow_up",
    "withdrawn",
    "died_in_follow_up",
    "completed_then_died",
    "completed",
    "in_follow_up",
)


def flow_status(administered: bool, disposition: object, completed: bool) -> str:
    """A patient's one place in the flow (:data:`FLOW_STATUSES`): never treated; else lost
    or withdrawn; else died, before or after completing follow-up (an assessment at the
    protocol's last visit); else completed; else still in follow-up."""
    if not administered:
        return "not_treated"
    if disposition in ("lost_to_follow_up", "withdrawn"):
        return str(disposition)
    if disposition == "died":
        return "completed_then_died" if completed else "died_in_follow_up"
    return "completed" if completed else "in_follow_up"


def participant_flow(frames: AnalysisFrames) -> pd.DataFrame:
    """Counts by arm: enrolled and treated, then each enrolled patient in exactly one of
    :data:`FLOW_STATUSES` (:func:`flow_status`), so that the statuses add up to the enrolled;
    ``completed_12_months`` (the paper's column) is the completed alive plus those who died
    after completing."""
    subjects = frames.subjects[frames.subjects["enrolled"].astype(bool)]
    measures = frames.measures
    last_visit = frames.visits["visit"].iloc[-1]
    with_m12 = set(measures[measures["visit"] == last_visit]["subject"])
    statuses = pd.Series(
        [
            flow_status(bool(a), d, s in with_m12)
            for a, d, s in zip(
                subjects["administered"], subjects["disposition"], subjects["subject"], strict=True
            )
        ],
        index=subjects.index,
        dtype=object,
    )
    rows = []
    for arm, group in [*subjects.groupby("arm"), ("All", subjects)]:
        counts = statuses.loc[group.index].value_counts()
        row: dict[str, object] = {
            "arm": arm,
            "enrolled": len(group),
            "treated": int(group["administered"].sum()),
        }
        row |= {status: int(counts.get(status, 0)) for status in FLOW_STATUSES}
        row["completed_12_months"] = row["completed"] + row["completed_then_died"]  # type: ignore[operator]
        rows.append(row)
    return pd.DataFrame(rows)


def visit_summary(frames: AnalysisFrames, measure: str) -> pd.DataFrame:
    """Mean, SD, SE and n of a measure by arm and visit, in schedule order."""
    data = frames.measures[frames.measures["measure"] == measure]
    summary = describe_by(data, value="value", by=["arm", "nominal_day", "visit"])
    summary["month"] = summary["nominal_day"] / MONTH_DAYS
    return summary.sort_values(["arm", "nominal_day"], ignore_index=True)
