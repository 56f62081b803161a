"""Safety tables: adverse events by category and grade, the SAE listing, laboratory shifts."""

from __future__ import annotations

import pandas as pd

from alstrial.services.frames import AnalysisFrames

__all__ = ["events_by_category_and_grade", "lab_shift_table", "sae_listing"]


def events_by_category_and_grade(frames: AnalysisFrames) -> pd.DataFrame:
    """Per arm, category and CTCAE grade: number of events and of patients with one."""
    events = frames.adverse_events
    columns = ["arm", "category", "grade", "events", "patients"]
    if events.empty:
        return pd.DataFrame(columns=columns)
    grouped = events.groupby(["arm", "category", "severity_grade"], sort=True)
    table = grouped.agg(events=("term", "size"), patients=("subject", "nunique")).reset_index()
    return table.rename(columns={"severity_grade": "grade"})[columns]


def sae_listing(frames: AnalysisFrames) -> pd.DataFrame:
    """Every serious adverse event, one row each, in order of onset."""
    events = frames.adverse_events
    columns = [
        "subject",
        "arm",
        "term",
        "onset_date",
        "severity_grade",
        "seriousness",
        "relatedness",
        "expected",
        "outcome",
        "provenance",
    ]
    if events.empty:
        return pd.DataFrame(columns=columns)
    serious = events[events["serious"].astype(bool)]
    return serious.sort_values(["onset_date", "subject"])[columns].reset_index(drop=True)


def lab_shift_table(frames: AnalysisFrames, analyte: str) -> pd.DataFrame:
    """Patients by baseline CTCAE grade (first value) and worst grade after it, per arm."""
    labs = frames.labs[frames.labs["analyte"] == analyte.upper()]
    columns = ["arm", "baseline_grade", "worst_grade", "patients"]
    if labs.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for (subject, arm), own in labs.sort_values("sample_date").groupby(["subject", "arm"]):
        grades = own["ctcae_grade"].fillna(0).astype(int).tolist()
        later = grades[1:] or grades[:1]
        rows.append(
            {"subject": subject, "arm": arm, "baseline_grade": grades[0], "worst_grade": max(later)}
        )
    frame = pd.DataFrame(rows)
    shifted = frame.groupby(["arm", "baseline_grade", "worst_grade"]).size()
    return shifted.rename("patients").reset_index()[columns]
