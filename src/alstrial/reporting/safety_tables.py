"""Safety tables: adverse events by category and grade, the SAE listing, laboratory shifts."""

from __future__ import annotations

import pandas as pd

from alstrial.services.frames import AnalysisFrames

__all__ = [
    "GRADES",
    "NO_VALUE",
    "events_by_category_and_grade",
    "lab_shift_matrix",
    "lab_shift_table",
    "sae_listing",
]


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


#: The rows and columns of a shift matrix: CTCAE grades 0-4, and a patient without a value.
GRADES = (0, 1, 2, 3, 4)
NO_VALUE = "none"


def _shifts(frames: AnalysisFrames, analyte: str) -> pd.DataFrame:
    """Each treated patient's baseline grade (the last value on or before the day of the
    administration) and worst grade after it; ``NO_VALUE`` where there is none. A value
    with no grade (an analyte CTCAE does not grade in that direction) counts as grade 0."""
    labs = frames.labs[frames.labs["analyte"] == analyte.upper()]
    treated = frames.subjects[frames.subjects["administered"].astype(bool)]
    rows = []
    for subject, arm, day0 in zip(
        treated["subject"], treated["arm"], treated["administration_date"], strict=True
    ):
        own = labs[labs["subject"] == subject].sort_values("sample_date", kind="stable")
        if own.empty:
            continue
        grades = own["ctcae_grade"].fillna(0).astype(int)
        before = grades[own["sample_date"] <= day0]
        after = grades[own["sample_date"] > day0]
        rows.append(
            {
                "subject": subject,
                "arm": arm,
                "baseline_grade": int(before.iloc[-1]) if len(before) else NO_VALUE,
                "worst_grade": int(after.max()) if len(after) else NO_VALUE,
            }
        )
    return pd.DataFrame(rows, columns=["subject", "arm", "baseline_grade", "worst_grade"])


def lab_shift_table(frames: AnalysisFrames, analyte: str) -> pd.DataFrame:
    """Treated patients by baseline CTCAE grade and worst grade after the administration,
    per arm, one row per combination that occurs (:func:`lab_shift_matrix` for the
    definitions)."""
    columns = ["arm", "baseline_grade", "worst_grade", "patients"]
    shifts = _shifts(frames, analyte)
    if shifts.empty:
        return pd.DataFrame(columns=columns)
    counted = shifts.groupby(["arm", "baseline_grade", "worst_grade"], sort=False).size()
    table = counted.rename("patients").reset_index()[columns]
    order = {g: i for i, g in enumerate((*GRADES, NO_VALUE))}
    return table.sort_values(
        ["arm", "baseline_grade", "worst_grade"],
        key=lambda c: c.map(order) if c.name != "arm" else c,
    ).reset_index(drop=True)


def lab_shift_matrix(frames: AnalysisFrames, analyte: str) -> dict[str, pd.DataFrame]:
    """Per arm, the shift matrix of ``analyte``: treated patients by baseline CTCAE grade
    (rows: the last value on or before the day of the administration) and worst grade after
    it (columns), with a row and a column for patients without such a value, and totals.
    Every treated patient with a value of the analyte is counted once per arm."""
    shifts = _shifts(frames, analyte)
    labels = [*GRADES, NO_VALUE]
    matrices = {}
    for arm, own in shifts.groupby("arm", sort=True):
        matrix = pd.crosstab(own["baseline_grade"], own["worst_grade"])
        matrix = matrix.reindex(index=labels, columns=labels, fill_value=0)
        matrix["total"] = matrix.sum(axis=1)
        matrix.loc["total"] = matrix.sum(axis=0)
        matrix.index.name = "baseline"
        matrix.columns.name = "worst after"
        matrices[str(arm)] = matrix.astype(int)
    return matrices
