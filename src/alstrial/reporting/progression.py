"""Report tables of progression: per-patient pre- versus post-administration slopes, King's and
MiToS stages at baseline and last rating, and the ENCALS natural-history yardstick."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from alstrial.exceptions import ValidationError
from alstrial.scoring import EncalsInputs, encals_predict, months_between, pre_post_slopes
from alstrial.services.frames import AnalysisFrames
from alstrial.vocabulary import MONTH_DAYS

__all__ = ["encals_table", "pre_post_table", "stage_table"]

PRE_POST_COLUMNS = [
    "subject",
    "arm",
    "n_pre",
    "n_post",
    "pre",
    "post",
    "difference",
    "ci_low",
    "ci_high",
    "p",
    "note",
]


def pre_post_table(frames: AnalysisFrames, measure: str) -> pd.DataFrame:
    """Each patient's slope per month before and after administration, and the change.

    The broken-stick model of :func:`~alstrial.scoring.pre_post_slopes` (lines joined at
    administration), with time = days from administration / 30.4375. A patient with too few
    ratings on one side gets a row with the reason in ``note``.
    """
    data = frames.measures[
        (frames.measures["measure"] == measure)
        & frames.measures["days_from_administration"].notna()
    ]
    rows: list[dict[str, object]] = []
    for (subject, arm), own in data.groupby(["subject", "arm"], sort=True):
        months = own["days_from_administration"].to_numpy(dtype=float) / MONTH_DAYS
        values = own["value"].to_numpy(dtype=float)
        try:
            fit = pre_post_slopes(months, values)
        except ValidationError as error:
            rows.append({"subject": subject, "arm": arm, "note": error.message})
            continue
        rows.append(
            {
                "subject": subject,
                "arm": arm,
                "n_pre": fit.n_pre,
                "n_post": fit.n_post,
                "pre": fit.pre,
                "post": fit.post,
                "difference": fit.difference,
                "ci_low": fit.ci_low,
                "ci_high": fit.ci_high,
                "p": fit.p_value,
                "note": "",
            }
        )
    return pd.DataFrame(rows, columns=PRE_POST_COLUMNS)


def _stage_label(value: object) -> str:
    return "" if value is None or pd.isna(value) else str(int(value))  # type: ignore[call-overload]


def stage_table(frames: AnalysisFrames) -> pd.DataFrame:
    """King's and MiToS stage at the first and at the last ALSFRS-R rating of each patient."""
    stages = frames.measures[frames.measures["measure"].isin(["kings_stage", "mitos_stage"])]
    rows = []
    for (subject, arm), own in stages.groupby(["subject", "arm"], sort=True):
        row: dict[str, object] = {"subject": subject, "arm": arm}
        for measure, name in (("kings_stage", "kings"), ("mitos_stage", "mitos")):
            series = own[own["measure"] == measure].sort_values("date")
            row[f"{name}_first"] = _stage_label(series["value"].iloc[0])
            row[f"{name}_last"] = _stage_label(series["value"].iloc[-1])
            row["first_visit"] = series["visit"].iloc[0]
            row["last_visit"] = series["visit"].iloc[-1]
        rows.append(row)
    columns = [
        "subject",
        "arm",
        "first_visit",
        "kings_first",
        "mitos_first",
        "last_visit",
        "kings_last",
        "mitos_last",
    ]
    return pd.DataFrame(rows, columns=columns)


def encals_table(frames: AnalysisFrames) -> pd.DataFrame:
    """ENCALS predicted median survival from diagnosis for each patient.

    ENCALS wants its predictors at diagnosis; a trial sees its patients later. The table uses
    the first ALSFRS-R rating and FVC % predicted of the trial and the delta-FS from onset to
    that rating, and says so: a yardstick for the natural history of each patient, not a
    prediction of his survival.
    """
    measures = frames.measures
    rows: list[dict[str, object]] = []
    for record in frames.subjects.to_dict("records"):
        subject = _Subject(record)
        if subject.onset_date is None or subject.diagnosis_date is None:
            continue
        own = measures[measures["subject"] == subject.subject].sort_values("date")
        total = own[own["measure"] == "alsfrs_r_total"]
        fvc = own[own["measure"] == "fvc_percent_predicted"]
        if total.empty or fvc.empty or subject.enrolment_date is None:
            continue
        first_date = total["date"].iloc[0]
        months_onset = months_between(subject.onset_date, first_date)
        years_since_onset = (subject.enrolment_date - subject.onset_date).days / 365.25
        inputs = EncalsInputs(
            age_at_onset=float(subject.age_years) - years_since_onset,
            delta_fs=(48 - float(total["value"].iloc[0])) / months_onset,
            diagnostic_delay_months=months_between(subject.onset_date, subject.diagnosis_date),
            fvc_percent_predicted=float(fvc["value"].iloc[0]),
            bulbar_onset=subject.onset_region == "bulbar",
            definite_el_escorial=subject.diagnostic_category == "definite",
        )
        try:
            prediction = encals_predict(inputs)
        except ValidationError as error:
            rows.append({"subject": subject.subject, "arm": subject.arm, "note": error.message})
            continue
        followed = None
        if subject.disposition_date is not None:
            followed = months_between(subject.diagnosis_date, subject.disposition_date)
        rows.append(
            {
                "subject": subject.subject,
                "arm": subject.arm,
                "age_at_onset": inputs.age_at_onset,
                "delta_fs": inputs.delta_fs,
                "diagnostic_delay_months": inputs.diagnostic_delay_months,
                "fvc_percent_predicted": inputs.fvc_percent_predicted,
                "median_months": prediction.median_months,
                "support": prediction.support,
                "followed_months": followed,
                "disposition": subject.disposition,
                "note": "",
            }
        )
    columns = [
        "subject",
        "arm",
        "age_at_onset",
        "delta_fs",
        "diagnostic_delay_months",
        "fvc_percent_predicted",
        "median_months",
        "support",
        "followed_months",
        "disposition",
        "note",
    ]
    return pd.DataFrame(rows, columns=columns)


class _Subject:
    """Typed view of one row of the subjects frame (the fields the ENCALS table reads)."""

    def __init__(self, record: dict[Any, Any]) -> None:
        self.subject: str = record["subject"]
        self.arm: str | None = record["arm"]
        self.age_years: int = int(record["age_years"])
        self.onset_region: str = record["onset_region"]
        self.diagnostic_category: str | None = record["diagnostic_category"]
        self.onset_date: date | None = _day(record["onset_date"])
        self.diagnosis_date: date | None = _day(record["diagnosis_date"])
        self.enrolment_date: date | None = _day(record["enrolment_date"])
        self.disposition: str | None = record["disposition"]
        self.disposition_date: date | None = _day(record["disposition_date"])


def _day(value: object) -> date | None:
    return value if isinstance(value, date) else None
