"""Checks every SDTM dataset must pass before it is written.

The rules a reviewer's validator (Pinnacle 21, the FDA's business rules) applies first, and
that alstrial can check without the controlled-terminology files:

- dataset and variable names of at most 8 characters, letters, digits and underscores,
  starting with a letter; labels of at most 40 characters; character values of at most 200
  bytes (SAS transport version 5);
- the variables of each dataset are the declared ones, in the declared order;
- every required variable is present and never null;
- --SEQ is unique within each subject;
- every --DTC value is ISO 8601 (a date, or a date and time to the minute or second);
- every --DY is never 0 and equals the study day of its --DTC from DM.RFSTDTC (SDTMIG 3.3,
  section 4.4.4).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import pandas as pd

from alstrial.interop.sdtm.spec import DOMAINS

__all__ = ["Problem", "check_datasets"]

_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")
_ISO = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2})?)?)?)?$")


@dataclass(frozen=True)
class Problem:
    """One broken rule: where (dataset, variable, row) and what."""

    dataset: str
    variable: str
    row: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.dataset}.{self.variable}" if self.variable else self.dataset
        return f"{where}{'' if self.row is None else f' row {self.row + 1}'}: {self.message}"


def _iso_date(text: object) -> date | None:
    """The date of an ISO 8601 value; None for anything else (reported by the ISO rule)."""
    try:
        return date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def check_datasets(frames: Mapping[str, pd.DataFrame]) -> list[Problem]:
    """Every broken rule of the module docstring, in dataset order; empty when all pass.

    Each rule is checked on whole columns (or on a column's distinct values), so that a
    dataset of a million records takes seconds; the first row breaking a rule is named."""
    problems: list[Problem] = []
    reference: dict[str, date | None] = {}
    if "DM" in frames:
        dm = frames["DM"]
        for usubjid, start in zip(dm["USUBJID"].tolist(), dm["RFSTDTC"].tolist(), strict=True):
            reference[str(usubjid)] = _iso_date(start)
    for code, frame in frames.items():
        spec = DOMAINS.get(code)
        if spec is None or not _NAME.match(code):
            problems.append(Problem(code, "", None, "not a declared SDTM dataset name"))
            continue
        if tuple(frame.columns) != spec.names:
            problems.append(Problem(code, "", None, "variables differ from the declaration"))
            continue
        for variable in spec.variables:
            problems += _check_variable(code, variable.name, variable.label, variable.type, frame)
            if variable.core == "Req":
                column = frame[variable.name]
                null = column.isna()
                if variable.type == "Char":
                    null |= column.astype(str) == ""
                if null.any():
                    row = int(null.to_numpy().argmax())
                    problems.append(Problem(code, variable.name, row, "required but null"))
        seq = f"{code}SEQ"
        within = "USUBJID" if "USUBJID" in frame.columns else "TSPARMCD"
        if seq in frame.columns and frame.duplicated([within, seq]).any():
            problems.append(Problem(code, seq, None, f"not unique within each {within}"))
        problems += _check_days(code, frame, reference)
    return problems


def _check_variable(
    code: str, name: str, label: str, kind: str, frame: pd.DataFrame
) -> list[Problem]:
    out = []
    if not _NAME.match(name):
        out.append(Problem(code, name, None, "name not 1-8 letters, digits or underscores"))
    if len(label) > 40:
        out.append(Problem(code, name, None, f"label of {len(label)} characters (at most 40)"))
    if kind != "Char":
        return out
    values = frame[name].tolist()
    for value in dict.fromkeys(values):  # distinct values, in order of first appearance
        text = "" if value is None else str(value)
        if len(text.encode("utf-8")) > 200:
            out.append(Problem(code, name, values.index(value), "value longer than 200 bytes"))
            break
        if name.endswith("DTC") and text and not _ISO.match(text):
            out.append(Problem(code, name, values.index(value), f"{text!r} is not ISO 8601"))
            break
    return out


def _check_days(
    code: str, frame: pd.DataFrame, reference: Mapping[str, date | None]
) -> list[Problem]:
    out: list[Problem] = []
    if "USUBJID" not in frame.columns:
        return out
    starts = pd.to_datetime(frame["USUBJID"].map(lambda u: reference.get(str(u))), errors="coerce")
    for column in frame.columns:
        if not column.endswith("DY") or column in ("VISITDY",):
            continue
        dtc = column[:-2] + "DTC"
        if dtc not in frame.columns:
            continue
        day = pd.to_numeric(frame[column], errors="coerce")
        when = pd.to_datetime(frame[dtc].astype(str).str[:10], errors="coerce", format="%Y-%m-%d")
        delta = (when - starts).dt.days
        expected = delta.where(delta < 0, delta + 1)
        zero = day == 0
        wrong = day.notna() & ~(expected == day)
        if zero.any():
            row = int(zero.to_numpy().argmax())
            out.append(Problem(code, column, row, "study day 0 (SDTM has no day 0)"))
        elif wrong.any():
            row = int(wrong.to_numpy().argmax())
            out.append(
                Problem(
                    code,
                    column,
                    row,
                    f"{day.iloc[row]:g} is not the study day of {frame[dtc].iloc[row]} "
                    f"({expected.iloc[row]:g})",
                )
            )
    return out
