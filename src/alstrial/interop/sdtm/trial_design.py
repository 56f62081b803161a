"""The trial design datasets, from the protocol: TA, TE, TV, TI, TS; and each subject's
elements (SE) under the same design.

Every arm has three elements in order: the lead-in observation (epoch RUN-IN), the arm's cell
administration with its 24-hour observation (TREATMENT) and the follow-up (FOLLOW-UP). The
administration element's code is the arm's code after ``T`` (``TIV``), cut to 8 characters.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from alstrial.interop.sdtm.spec import DOMAINS, SDTM_VERSION, SDTMIG_VERSION
from alstrial.interop.sdtm.timing import (
    EPOCH_FOLLOW_UP,
    EPOCH_RUN_IN,
    EPOCH_TREATMENT,
    TREATMENT_DAYS,
    iso,
    planned_day,
)
from alstrial.protocol import Protocol

__all__ = ["subject_elements", "trial_design_domains"]

LEAD_IN = ("LEADIN", "Lead-in observation")
FOLLOW_UP = ("FOLLOWUP", "Follow-up")
_ROUTE = {"intravenous": "INTRAVENOUS", "intrathecal": "INTRATHECAL"}


def _treatment_code(arm_code: str) -> str:
    return ("T" + arm_code.upper().replace("-", "_"))[:8]


def _frame(code: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    spec = DOMAINS[code]
    frame = pd.DataFrame.from_records(
        [{"STUDYID": "", "DOMAIN": code} | row for row in rows], columns=list(spec.names)
    )
    for variable in spec.variables:
        if variable.type == "Num":
            frame[variable.name] = pd.to_numeric(frame[variable.name]).astype("float64")
        else:
            frame[variable.name] = frame[variable.name].fillna("").astype(str)
    return frame


def _duration(days: int) -> str:
    return f"P{days}D"


def trial_design_domains(protocol: Protocol, subjects_enrolled: int) -> dict[str, pd.DataFrame]:
    """TA, TE, TV, TI (when the protocol has eligibility criteria) and TS."""
    study = protocol.study.code
    last_day = max(v.day for v in protocol.visits)
    ta, te = [], []
    te.append(
        {
            "ETCD": LEAD_IN[0],
            "ELEMENT": LEAD_IN[1],
            "TESTRL": "First lead-in visit",
            "TEENRL": "Cell administration",
        }
    )
    for arm in protocol.arms:
        etcd = _treatment_code(arm.code)
        element = f"{arm.name} administration"[:200]
        te.append(
            {
                "ETCD": etcd,
                "ELEMENT": element,
                "TESTRL": f"Start of the {arm.route} administration of the cell product",
                "TEENRL": "End of the day after the administration (24-hour observation)",
                "TEDUR": _duration(TREATMENT_DAYS + 1),
            }
        )
        for order, (code, name, epoch, branch) in enumerate(
            (
                (*LEAD_IN, EPOCH_RUN_IN, f"Enrolled to arm {arm.code}"),
                (etcd, element, EPOCH_TREATMENT, ""),
                (*FOLLOW_UP, EPOCH_FOLLOW_UP, ""),
            ),
            start=1,
        ):
            ta.append(
                {
                    "ARMCD": arm.code,
                    "ARM": arm.name,
                    "TAETORD": order,
                    "ETCD": code,
                    "ELEMENT": name,
                    "TABRANCH": branch,
                    "TATRANS": "",
                    "EPOCH": epoch,
                }
            )
    te.append(
        {
            "ETCD": FOLLOW_UP[0],
            "ELEMENT": FOLLOW_UP[1],
            "TESTRL": f"Day {TREATMENT_DAYS + 1} after the administration",
            "TEENRL": f"Last protocol visit (day {last_day} after the administration)",
            "TEDUR": _duration(last_day - TREATMENT_DAYS),
        }
    )
    tv = [
        {
            "VISITNUM": number,
            "VISIT": v.label,
            "VISITDY": planned_day(v.day),
            "ARMCD": "",
            "TVSTRL": (
                f"Day {v.day} from the administration (day 0), window -{v.window_before}"
                f"/+{v.window_after} days"
            ),
            "TVENRL": "",
        }
        for number, v in enumerate(protocol.visits, start=1)
    ]
    ti = [
        {
            "IETESTCD": c.id.upper().replace("-", "")[:8],
            "IETEST": c.text[:200],
            "IECAT": c.kind.upper(),
            "TIVERS": protocol.study.protocol_version,
        }
        for c in protocol.eligibility
    ]
    frames = {
        "TA": _frame("TA", ta),
        "TE": _frame("TE", te),
        "TV": _frame("TV", tv),
        "TS": _frame("TS", _summary(protocol, subjects_enrolled)),
    }
    if ti:
        frames["TI"] = _frame("TI", ti)
    for frame in frames.values():
        frame["STUDYID"] = study
    return {code: frames[code] for code in DOMAINS if code in frames}


def _summary(protocol: Protocol, subjects_enrolled: int) -> list[dict[str, Any]]:
    s = protocol.study
    routes = sorted({_ROUTE.get(a.route, a.route.upper()) for a in protocol.arms})
    doses = sorted({a.dose_cells_per_kg for a in protocol.arms})
    last_day = max(v.day for v in protocol.visits)
    ages = {
        c.operator: c.value
        for c in protocol.eligibility
        if c.field == "age_years" and c.kind == "inclusion"
    }
    parameters: list[tuple[str, str, str]] = [
        ("TITLE", "Trial Title", s.title),
        ("SPONSOR", "Clinical Study Sponsor", s.sponsor),
        ("TPHASE", "Trial Phase Classification", _phase(s.phase)),
        ("STYPE", "Study Type", "INTERVENTIONAL"),
        ("INDIC", "Trial Disease/Condition Indication", "Amyotrophic Lateral Sclerosis"),
        (
            "TRT",
            "Investigational Therapy or Treatment",
            "Autologous bone marrow mesenchymal stromal cells",
        ),
        *(("ROUTE", "Route of Administration", r) for r in routes),
        *(("DOSE", "Dose per Administration", f"{d:.10g}") for d in doses),
        ("DOSU", "Dose Units", "cells/kg"),
        ("NARMS", "Planned Number of Arms", str(len(protocol.arms))),
        ("RANDOM", "Trial is Randomized", "N"),
        ("TBLIND", "Trial Blinding Schema", "OPEN LABEL"),
        ("TCNTRL", "Control Type", "NONE"),
        ("SEXPOP", "Sex of Participants", "BOTH"),
        ("LENGTH", "Trial Length", _duration(last_day + 1)),
        ("ACTSUB", "Actual Number of Subjects", str(subjects_enrolled)),
        *(("REGID", "Registry Identifier", r) for r in s.registrations),
        ("SDTIGVER", "SDTM IG Version", SDTMIG_VERSION),
        ("SDTMVER", "SDTM Version", SDTM_VERSION),
    ]
    if s.country:
        parameters.append(("FCNTRY", "Planned Country of Investigational Sites", s.country))
    for operator, parm, label in (
        (">=", "AGEMIN", "Planned Minimum Age of Subjects"),
        ("<=", "AGEMAX", "Planned Maximum Age of Subjects"),
    ):
        value = ages.get(operator)  # type: ignore[call-overload]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            parameters.append((parm, label, f"P{value:g}Y"))
    counters: dict[str, int] = {}
    rows = []
    for code, name, value in parameters:
        if not value:
            continue
        counters[code] = counters.get(code, 0) + 1
        rows.append(
            {"TSSEQ": counters[code], "TSPARMCD": code, "TSPARM": name, "TSVAL": value[:200]}
        )
    return rows


def _phase(phase: str) -> str:
    roman = {"1": "I", "2": "II", "3": "III", "4": "IV", "1/2": "I/II", "2/3": "II/III"}
    text = phase.strip().upper().removeprefix("PHASE").strip()
    return f"PHASE {roman.get(text, text)} TRIAL" if text else ""


def subject_elements(
    protocol: Protocol,
    arm_code: str,
    start: date,
    administered_at: datetime | None,
    end: date | None,
) -> list[dict[str, Any]]:
    """One subject's elements (SE rows without identifiers): lead-in from ``start`` to the
    administration; the arm's treatment element to the end of the next day; follow-up to
    ``end`` (the disposition or the last visit). Without an administration, the lead-in only,
    ending at ``end``."""
    arm = next((a for a in protocol.arms if a.code == arm_code), None)
    rows = [
        {
            "ETCD": LEAD_IN[0],
            "ELEMENT": LEAD_IN[1],
            "TAETORD": 1.0,
            "EPOCH": EPOCH_RUN_IN,
            "SESTDTC": iso(start),
            "SEENDTC": iso(administered_at) if administered_at else iso(end),
        }
    ]
    if administered_at is None or arm is None:
        return rows
    follow_start = administered_at.date() + timedelta(days=TREATMENT_DAYS + 1)
    rows.append(
        {
            "ETCD": _treatment_code(arm.code),
            "ELEMENT": f"{arm.name} administration"[:200],
            "TAETORD": 2.0,
            "EPOCH": EPOCH_TREATMENT,
            "SESTDTC": iso(administered_at),
            "SEENDTC": iso(follow_start),
        }
    )
    if end is not None and end >= follow_start:
        rows.append(
            {
                "ETCD": FOLLOW_UP[0],
                "ELEMENT": FOLLOW_UP[1],
                "TAETORD": 3.0,
                "EPOCH": EPOCH_FOLLOW_UP,
                "SESTDTC": iso(follow_start),
                "SEENDTC": iso(end),
            }
        )
    return rows
