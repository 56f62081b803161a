"""The analyses the reference paper lacked, computed from the analysis frames for the report:
MMRM of each outcome after administration, the piecewise lead-in model, and time to death or
tracheostomy."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from alstrial.exceptions import ValidationError
from alstrial.services.frames import AnalysisFrames
from alstrial.stats import kaplan_meier, log_rank, mmrm, piecewise_lmm
from alstrial.stats.mmrm import MmrmResult
from alstrial.vocabulary import MONTH_DAYS

__all__ = [
    "BASELINE_VISIT",
    "FOLLOW_UP_VISITS",
    "MmrmSummary",
    "SurvivalSummary",
    "mmrm_summary",
    "piecewise_summary",
    "survival_summary",
]

BASELINE_VISIT = "W-1"
FOLLOW_UP_VISITS = ("M2", "M4", "M6", "M12")
_STRUCTURES = ("us", "ar1", "cs")


@dataclass(frozen=True)
class MmrmSummary:
    """An MMRM of one outcome: the model, the structure that converged, and its tables."""

    measure: str
    formula: str
    structure: str
    fit: MmrmResult | None
    differences: pd.DataFrame
    type3: pd.DataFrame
    note: str


def mmrm_summary(frames: AnalysisFrames, measure: str) -> MmrmSummary:
    """``value ~ baseline + arm * visit`` over the follow-up visits, baseline = week -1.

    The unstructured covariance is tried first; with 14 patients it may not be estimable, and
    then AR(1) and compound symmetry are tried in turn; the table says which was used.
    """
    data = frames.measures[frames.measures["measure"] == measure]
    baseline = data[data["visit"] == BASELINE_VISIT].set_index("subject")["value"]
    follow_up = data[data["visit"].isin(FOLLOW_UP_VISITS)].copy()
    follow_up["baseline"] = follow_up["subject"].map(baseline)
    formula = "value ~ baseline + arm*visit"
    notes = []
    for structure in _STRUCTURES:
        try:
            fit = mmrm(
                follow_up,
                formula,
                subject="subject",
                visit="visit",
                covariance=structure,
                visit_order=list(FOLLOW_UP_VISITS),
            )
        except ValidationError as error:
            notes.append(f"{structure}: {error.message}")
            continue
        arms = fit.design.levels["arm"]
        differences = fit.differences("arm", "visit")
        type3 = pd.DataFrame([vars(row) for row in fit.type3])
        note = f"difference {arms[1]} - {arms[0]}; covariance {structure}"
        if notes:
            note += " (" + "; ".join(notes) + ")"
        return MmrmSummary(measure, formula, structure, fit, differences, type3, note)
    return MmrmSummary(measure, formula, "", None, pd.DataFrame(), pd.DataFrame(), "; ".join(notes))


def piecewise_summary(frames: AnalysisFrames, measure: str) -> pd.DataFrame:
    """Per arm: slope before and after administration and the change, from one LMM with a
    random intercept and slope (times = nominal visit months from administration)."""
    data = frames.measures[frames.measures["measure"] == measure].copy()
    data["months"] = data["nominal_day"] / MONTH_DAYS
    result = piecewise_lmm(data, value="value", subject="subject", months="months", arm="arm")
    rows = []
    for arm in result.pre:
        for label, contrast in (
            ("before", result.pre[arm]),
            ("after", result.post[arm]),
            ("change", result.change[arm]),
        ):
            rows.append({"arm": arm, "slope": label, **contrast.as_dict()})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class SurvivalSummary:
    """Time from administration to death or tracheostomy, by arm."""

    table: pd.DataFrame
    chi2: float | None
    p: float | None
    #: One row per treated patient: arm, months from administration, event (1) or censored.
    data: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["subject", "arm", "months", "event"])
    )


def survival_summary(frames: AnalysisFrames) -> SurvivalSummary:
    """Kaplan-Meier by arm of death or tracheostomy (the first), censored at disposition."""
    subjects = frames.subjects[frames.subjects["administered"].astype(bool)]
    milestones = frames.milestones
    rows = []
    for record in subjects.to_dict("records"):
        own = milestones[
            (milestones["subject"] == record["subject"])
            & milestones["kind"].isin(["death", "tracheostomy"])
        ]
        start = record["administration_date"]
        if not own.empty:
            end, event = min(own["event_date"]), 1
        else:
            end, event = record["disposition_date"], 0
        if end is None or start is None:
            continue
        rows.append(
            {
                "subject": record["subject"],
                "arm": record["arm"],
                "months": (end - start).days / MONTH_DAYS,
                "event": event,
            }
        )
    data = pd.DataFrame(rows, columns=["subject", "arm", "months", "event"])
    table = []
    for arm, own in data.groupby("arm", sort=True):
        fit = kaplan_meier(own["months"].to_numpy(float), own["event"].to_numpy(float))
        table.append(
            {
                "arm": arm,
                "n": fit.n,
                "events": fit.events,
                "survival_12_months": fit.at(12.0),
                "median": fit.median,
            }
        )
    test = None
    if data["event"].sum() > 0 and data["arm"].nunique() > 1:
        test = log_rank(
            data["months"].to_numpy(float), data["event"].to_numpy(float), data["arm"].tolist()
        )
    return SurvivalSummary(
        pd.DataFrame(table, columns=["arm", "n", "events", "survival_12_months", "median"]),
        None if test is None else test.chi2,
        None if test is None or np.isnan(test.p) else test.p,
        data,
    )
