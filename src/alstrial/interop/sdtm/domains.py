"""The subject-level SDTM datasets, built from the store: DM, DS, SV, SE, EX, PR, AE, QS, RE,
VS, LB, and MH, CM and any other domain a dictionary form of the protocol names.

Each builder returns its records as dictionaries keyed by the domain's variables
(:mod:`alstrial.interop.sdtm.spec`); :func:`build_subject_domains` adds the sequence numbers,
the study days, the baseline flags and the supplemental qualifiers. Codes follow CDISC
controlled terminology where it has a term for alstrial's value (sex, route, severity,
outcome, NY, units); where it has none (ALSFRS-R question codes, the cell product's name) the
values are alstrial's own and define.xml says so.

Choices made where the data leave the IG a choice, so a reviewer can check them:

- RFSTDTC is the date and time of the cell administration; a subject enrolled but never
  treated has the enrolment date; a screen failure has none (ARMNRS says why).
- Baseline (--BLFL) is the last value on or before the administration's date.
- AEDECOD holds the reported term, upper-cased: alstrial does not code to MedDRA. The export
  lists this in its notes, so nobody mistakes it for a coded term.
- The relationship of an adverse event to each procedure (bone-marrow aspiration, lumbar
  puncture, infusion) goes to SUPPAE, one qualifier per procedure.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.interop.sdtm.spec import DOMAINS
from alstrial.interop.sdtm.timing import epoch, iso, planned_day, study_day
from alstrial.interop.sdtm.trial_design import subject_elements
from alstrial.protocol import Protocol
from alstrial.protocol.dictionary import DictionaryForm
from alstrial.safety.labs import ANALYTES
from alstrial.scoring import ALSFRS_ITEMS, ALSFRS_R_ITEMS, AlsfrsScale
from alstrial.store.models import (
    Administration,
    AdverseEvent,
    AlsfrsAssessment,
    Disposition,
    Enrolment,
    LabResult,
    Milestone,
    ProductBatch,
    Screening,
    Site,
    Spirometry,
    Subject,
    Visit,
    VitalSigns,
)
from alstrial.vocabulary import MilestoneKind, Provenance

__all__ = ["SubjectDomains", "build_subject_domains"]

Record = dict[str, Any]

_SEX = {"male": "M", "female": "F"}
#: The GLI ethnic group recorded for the spirometry equation, as SDTM RACE.
_RACE = {
    "caucasian": "WHITE",
    "african-american": "BLACK OR AFRICAN AMERICAN",
    "north-east-asian": "ASIAN",
    "south-east-asian": "ASIAN",
    "other": "OTHER",
}
_ROUTE = {"intravenous": "INTRAVENOUS", "intrathecal": "INTRATHECAL"}
_REL = {
    "not_related": "NOT RELATED",
    "unlikely": "UNLIKELY RELATED",
    "possible": "POSSIBLY RELATED",
    "probable": "PROBABLY RELATED",
    "definite": "RELATED",
}
_OUT = {
    "recovered": "RECOVERED/RESOLVED",
    "recovering": "RECOVERING/RESOLVING",
    "not_recovered": "NOT RECOVERED/NOT RESOLVED",
    "recovered_with_sequelae": "RECOVERED/RESOLVED WITH SEQUELAE",
    "fatal": "FATAL",
    "unknown": "UNKNOWN",
}
#: Seriousness criteria as the AE flags they set.
_SERIOUS = {
    "death": "AESDTH",
    "life_threatening": "AESLIFE",
    "hospitalisation": "AESHOSP",
    "disability": "AESDISAB",
    "congenital_anomaly": "AESCONG",
    "important_medical_event": "AESMIE",
}
#: SUPPAE qualifiers for the relationship to each procedure.
_PROCEDURE_QUALIFIER = {
    "bone_marrow_aspiration": ("AERELBMA", "Relationship to Bone Marrow Aspiration"),
    "lumbar_puncture": ("AERELLP", "Relationship to Lumbar Puncture"),
    "intravenous_infusion": ("AERELIVI", "Relationship to Intravenous Infusion"),
}
_DISPOSITION = {
    "completed": ("COMPLETED", "COMPLETED"),
    "lost_to_follow_up": ("LOST TO FOLLOW-UP", "LOST TO FOLLOW-UP"),
    "withdrawn": ("WITHDRAWAL BY SUBJECT", "WITHDRAWAL BY SUBJECT"),
    "died": ("DEATH", "DEATH"),
}
#: alstrial's laboratory codes where CDISC's LBTESTCD differs.
_LBTESTCD = {"NA": "SODIUM", "GLU": "GLUC", "ANC": "NEUT", "PLT": "PLAT", "FT4": "T4FR"}
_LB_UNIT = {"10^9/L": "10^9/L", "umol/L": "umol/L", "mmol/L": "mmol/L", "g/L": "g/L"}
_NRIND = {"L": "LOW", "H": "HIGH", "LL": "LOW", "HH": "HIGH", "": "NORMAL"}
#: Vital-sign columns: test code, test name, unit.
_VITALS = (
    ("systolic_mmhg", "SYSBP", "Systolic Blood Pressure", "mmHg"),
    ("diastolic_mmhg", "DIABP", "Diastolic Blood Pressure", "mmHg"),
    ("heart_rate_bpm", "PULSE", "Pulse Rate", "beats/min"),
    ("respiratory_rate", "RESP", "Respiratory Rate", "breaths/min"),
    ("temperature_c", "TEMP", "Temperature", "C"),
    ("spo2_pct", "OXYSAT", "Oxygen Saturation", "%"),
)
#: ALSFRS-R question codes (alstrial's: 8 characters, the item's number).
_ALSFRS_TOTAL = ("ALSFRTOT", "ALSFRS-R Total Score")


@cache
def _alsfrs_wording() -> dict[str, tuple[str, dict[str, str]]]:
    """Each ALSFRS-R item's label and response wording, from the built-in form's
    declaration (``alstrial/data/builtin_forms.toml``)."""
    text = resources.files("alstrial.data").joinpath("builtin_forms.toml").read_text("utf-8")
    form = next(f for f in tomllib.loads(text)["forms"] if f["name"] == "alsfrs")
    return {
        f["name"]: (f["label"], {c["code"]: c["label"] for c in f.get("choices", [])})
        for f in form["fields"]
        if "name" in f
    }


def _question_code(item: str) -> str:
    return "ALSFRS" + item.removeprefix("item_").upper().rjust(2, "0")


@dataclass
class SubjectDomains:
    """The subject-level datasets (domain code to frame) and the notes a reviewer needs."""

    frames: dict[str, pd.DataFrame]
    synthetic: set[str] = field(default_factory=set)
    notes: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class _Subject:
    usubjid: str
    subject: Subject
    reference: date | None
    administered: date | None
    administered_at: datetime | None


class _Builder:
    def __init__(self, session: Session, protocol: Protocol):
        self.session = session
        self.protocol = protocol
        self.study = protocol.study.code
        self.records: dict[str, list[Record]] = defaultdict(list)
        self.supp: dict[str, list[Record]] = defaultdict(list)
        self.synthetic: set[str] = set()
        self.notes: list[tuple[str, str, str]] = []
        self.visit_number = {v.code: i for i, v in enumerate(protocol.visits, start=1)}
        self.visit_label = {v.code: v.label for v in protocol.visits}
        self.visits = {v.id: v for v in session.scalars(select(Visit))}
        self.enrolments = {e.subject_id: e for e in session.scalars(select(Enrolment))}
        self.administrations = {a.subject_id: a for a in session.scalars(select(Administration))}
        self.dispositions = {d.subject_id: d for d in session.scalars(select(Disposition))}
        #: Each subject's first and last held visit (DM's and SE's reference periods).
        self.first_visit: dict[int, date] = {}
        self.last_visit: dict[int, date] = {}
        for v in self.visits.values():
            if v.actual_date is None:
                continue
            held = v.actual_date
            self.first_visit[v.subject_id] = min(self.first_visit.get(v.subject_id, held), held)
            self.last_visit[v.subject_id] = max(self.last_visit.get(v.subject_id, held), held)
        self.subjects: dict[int, _Subject] = {}
        self.columnar: dict[str, pd.DataFrame] = {}
        for subject in session.scalars(select(Subject).order_by(Subject.study_code)):
            administration = self.administrations.get(subject.id)
            enrolment = self.enrolments.get(subject.id)
            administered = administration.administered_at.date() if administration else None
            reference = administered or (enrolment.enrolment_date if enrolment else None)
            self.subjects[subject.id] = _Subject(
                f"{self.study}-{subject.study_code}",
                subject,
                reference,
                administered,
                administration.administered_at if administration else None,
            )

    # -- helpers ------------------------------------------------------------------------

    def base(self, domain: str, subject_id: int, provenance: object = None) -> Record:
        if provenance is not None and str(getattr(provenance, "value", provenance)) == str(
            Provenance.SYNTHETIC.value
        ):
            self.synthetic.add(domain)
        return {
            "STUDYID": self.study,
            "DOMAIN": domain,
            "USUBJID": self.subjects[subject_id].usubjid,
        }

    def timed(
        self, record: Record, subject_id: int, prefix: str, when: date | datetime | None
    ) -> None:
        who = self.subjects[subject_id]
        record[f"{prefix}DTC"] = iso(when)
        record[f"{prefix}DY"] = study_day(when, who.reference)
        record["EPOCH"] = epoch(when, who.administered)

    def visit(self, record: Record, visit_id: int | None) -> None:
        visit = self.visits.get(visit_id) if visit_id is not None else None
        record["VISITNUM"] = self.visit_number.get(visit.code) if visit else None
        record["VISIT"] = self.visit_label.get(visit.code, "") if visit else ""

    def finding(
        self,
        domain: str,
        source: Any,
        when: date | datetime,
        code: str,
        name: str,
        value: float,
        unit: str,
    ) -> Record:
        """A findings record of a numeric result collected in its standard unit (the
        ``source`` row has subject, visit and provenance), added to ``domain``."""
        record = self.base(domain, source.subject_id, source.provenance)
        self.visit(record, source.visit_id)
        record.update(
            {
                f"{domain}TESTCD": code,
                f"{domain}TEST": name,
                f"{domain}ORRES": _g(value),
                f"{domain}ORRESU": unit,
                f"{domain}STRESC": _g(value),
                f"{domain}STRESN": float(value),
                f"{domain}STRESU": unit,
            }
        )
        self.timed(record, source.subject_id, domain, when)
        self.records[domain].append(record)
        return record

    def qualifier(
        self, domain: str, record: Record, qnam: str, qlabel: str, qval: object, origin: str
    ) -> None:
        if qval is None or qval == "":
            return
        self.supp[domain].append(
            {
                "STUDYID": self.study,
                "RDOMAIN": domain,
                "USUBJID": record["USUBJID"],
                "IDVAR": f"{domain}SEQ",
                "_record": record,
                "QNAM": qnam,
                "QLABEL": qlabel[:40],
                "QVAL": str(qval),
                "QORIG": origin,
                "QEVAL": "",
            }
        )

    # -- domains ------------------------------------------------------------------------

    def dm(self) -> None:
        arms = {a.code: a for a in self.protocol.arms}
        sites = {s.id: s.code for s in self.session.scalars(select(Site))}
        deaths = {
            m.subject_id: m.event_date
            for m in self.session.scalars(
                select(Milestone).where(Milestone.kind == MilestoneKind.DEATH)
            )
        }
        screenings: dict[int, Screening] = {}
        for s in self.session.scalars(select(Screening).order_by(Screening.id)):
            screenings[s.subject_id] = s  # the latest screening of each subject
        for subject_id, who in self.subjects.items():
            subject = who.subject
            record = self.base("DM", subject_id, subject.provenance)
            enrolment = self.enrolments.get(subject_id)
            administration = self.administrations.get(subject_id)
            disposition = self.dispositions.get(subject_id)
            arm = arms.get(enrolment.arm_code) if enrolment else None
            screening = screenings.get(subject_id)
            end = (
                disposition.disposition_date
                if disposition
                else deaths.get(subject_id, self.last_visit.get(subject_id))
            )
            if arm is None:
                reason = (
                    "SCREEN FAILURE" if screening and not screening.eligible else "NOT ASSIGNED"
                )
            elif administration is None:
                reason = "ASSIGNED, NOT TREATED"
            else:
                reason = ""
            treated = arm is not None and administration is not None
            record.update(
                SUBJID=subject.study_code,
                RFSTDTC=iso(administration.administered_at)
                if administration
                else iso(who.reference),
                RFENDTC=iso(end) if who.reference else "",
                RFXSTDTC=iso(administration.administered_at) if administration else "",
                RFXENDTC=iso(administration.administered_at) if administration else "",
                RFPENDTC=iso(end),
                DTHDTC=iso(deaths.get(subject_id)),
                DTHFL="Y" if subject_id in deaths else "",
                SITEID=sites[subject.site_id],
                BRTHDTC=str(subject.birth_year) if subject.birth_year else "",
                AGE=float(subject.age_years),
                AGEU="YEARS",
                SEX=_SEX[subject.sex.value],
                RACE=_RACE.get(subject.ethnicity or "", ""),
                ARMCD=arm.code if arm else "",
                ARM=arm.name if arm else "",
                ACTARMCD=arm.code if treated and arm else "",
                ACTARM=arm.name if treated and arm else "",
                ARMNRS=reason,
                COUNTRY=self.protocol.study.country or "",
                DMDTC=iso(screening.screening_date) if screening else "",
                DMDY=study_day(screening.screening_date if screening else None, who.reference),
            )
            self.records["DM"].append(record)
            if subject.onset_region is not None:
                self.qualifier(
                    "DM",
                    record,
                    "ONSETRGN",
                    "Region of Onset",
                    subject.onset_region.value.upper(),
                    "Collected",
                )
            if subject.diagnosis_date is not None:
                self.qualifier(
                    "DM",
                    record,
                    "DIAGDTC",
                    "Date of ALS Diagnosis",
                    iso(subject.diagnosis_date),
                    "Collected",
                )
            if subject.onset_date is not None:
                self.qualifier(
                    "DM",
                    record,
                    "ONSETDTC",
                    "Date of Symptom Onset",
                    iso(subject.onset_date),
                    "Collected",
                )

    def ds(self) -> None:
        for d in self.dispositions.values():
            term, decod = _DISPOSITION[d.status.value]
            record = self.base("DS", d.subject_id, d.provenance)
            record.update(
                DSTERM=d.reason[:200] if d.reason else term,
                DSDECOD=decod,
                DSCAT="DISPOSITION EVENT",
            )
            self.timed(record, d.subject_id, "DSST", d.disposition_date)
            self.records["DS"].append(record)
        for s in self.session.scalars(select(Screening)):
            if s.eligible or s.subject_id in self.enrolments:
                continue
            record = self.base("DS", s.subject_id)
            record.update(
                DSTERM="SCREEN FAILURE", DSDECOD="SCREEN FAILURE", DSCAT="DISPOSITION EVENT"
            )
            self.timed(record, s.subject_id, "DSST", s.screening_date)
            self.records["DS"].append(record)

    def sv(self) -> None:
        for v in self.visits.values():
            if v.actual_date is None or v.subject_id not in self.subjects:
                continue
            who = self.subjects[v.subject_id]
            record = self.base("SV", v.subject_id)
            self.visit(record, v.id)
            record.update(
                VISITDY=float(planned_day(v.day)),
                EPOCH=epoch(v.actual_date, who.administered),
                SVSTDTC=iso(v.actual_date),
                SVENDTC=iso(v.actual_date),
                SVSTDY=study_day(v.actual_date, who.reference),
                SVENDY=study_day(v.actual_date, who.reference),
            )
            self.records["SV"].append(record)

    def ex_pr(self) -> None:
        arms = {a.code: a for a in self.protocol.arms}
        batches = {b.id: b for b in self.session.scalars(select(ProductBatch))}
        for subject_id, a in self.administrations.items():
            who = self.subjects[subject_id]
            enrolment = self.enrolments.get(subject_id)
            arm = arms.get(enrolment.arm_code) if enrolment else None
            weight = who.subject.weight_kg
            record = self.base("EX", subject_id, a.provenance)
            self.visit(record, a.visit_id)
            batch = batches.get(a.product_batch_id)
            record.update(
                EXLNKID=batch.batch_code if batch else "",
                EXTRT="AUTOLOGOUS BONE MARROW MESENCHYMAL STROMAL CELLS",
                EXDOSE=a.cells_given / weight if weight else float("nan"),
                EXDOSU="cells/kg",
                EXDOSFRM="SUSPENSION",
                EXROUTE=_ROUTE.get(a.route, a.route.upper()),
                EXLOT=batch.batch_code if batch else "",
                EXSTDTC=iso(a.administered_at),
                EXENDTC=iso(a.administered_at),
                EXSTDY=study_day(a.administered_at, who.reference),
                EXENDY=study_day(a.administered_at, who.reference),
                EPOCH=epoch(a.administered_at, who.administered),
            )
            self.records["EX"].append(record)
            self.qualifier(
                "EX", record, "EXCELLS", "Number of Cells Given", _g(a.cells_given), "Collected"
            )
            self.qualifier(
                "EX", record, "EXVOL", "Volume Administered (mL)", _g(a.volume_ml), "Collected"
            )
            if arm is not None and weight is None:
                self.notes.append(("EX", who.usubjid, "EXDOSE: no weight recorded, so no dose/kg"))
            if a.route == "intrathecal":
                self._procedure(
                    subject_id, "LUMBAR PUNCTURE", a.administered_at, a.visit_id, a.provenance
                )
        for batch in batches.values():
            if batch.aspiration_date is not None and batch.source_subject_id in self.subjects:
                self._procedure(
                    batch.source_subject_id,
                    "BONE MARROW ASPIRATION",
                    batch.aspiration_date,
                    None,
                    batch.provenance,
                )

    def _procedure(
        self,
        subject_id: int,
        name: str,
        when: date | datetime,
        visit_id: int | None,
        provenance: object,
    ) -> None:
        record = self.base("PR", subject_id, provenance)
        self.visit(record, visit_id)
        record.update(PRTRT=name, PRCAT="TRIAL PROCEDURE")
        self.timed(record, subject_id, "PRST", when)
        self.records["PR"].append(record)

    def ae(self) -> None:
        for e in self.session.scalars(select(AdverseEvent).order_by(AdverseEvent.id)):
            record = self.base("AE", e.subject_id, e.provenance)
            who = self.subjects[e.subject_id]
            start: date | datetime = (
                datetime.combine(e.onset_date, e.onset_time) if e.onset_time else e.onset_date
            )
            criteria = set(e.seriousness or ())
            grade = e.severity_grade
            record.update(
                AETERM=e.term,
                AELLTCD=_number_code(e.meddra_code),
                AEDECOD=e.term.upper(),
                AECAT=e.category.upper(),
                AESEV="MILD" if grade == 1 else "MODERATE" if grade == 2 else "SEVERE",
                AESER="Y" if e.serious else "N",
                AEACNOTH=e.action_taken or "",
                AEREL=_REL[e.relatedness.value],
                AEOUT=_OUT[e.outcome.value],
                AETOXGR=str(grade),
                AESTDTC=iso(start),
                AEENDTC=iso(e.end_date),
                AESTDY=study_day(start, who.reference),
                AEENDY=study_day(e.end_date, who.reference),
                EPOCH=epoch(start, who.administered),
            )
            for criterion, flag in _SERIOUS.items():
                record[flag] = ("Y" if criterion in criteria else "N") if e.serious else ""
            self.records["AE"].append(record)
            for procedure, relation in sorted((e.relatedness_by_procedure or {}).items()):
                qnam, qlabel = _PROCEDURE_QUALIFIER.get(
                    procedure, (f"AEREL{procedure[:3].upper()}", f"Relationship to {procedure}")
                )
                self.qualifier(
                    "AE", record, qnam, qlabel, _REL.get(relation, relation), "Collected"
                )
            if e.expected is not None:
                self.qualifier(
                    "AE",
                    record,
                    "AEEXPECT",
                    "Expected Adverse Event",
                    "Y" if e.expected else "N",
                    "Collected",
                )
        if self.records["AE"]:
            self.notes.append(
                ("AE", "", "AEDECOD holds the reported term upper-cased: not coded to MedDRA")
            )

    def qs(self) -> None:
        """QS, built as columns: a rating gives 13 records that share their identifiers,
        visit and dates, and a large trial has a million of them (a dictionary per record
        would need several GiB)."""
        wording = _alsfrs_wording()
        names = DOMAINS["QS"].names
        columns: dict[str, list[Any]] = {name: [] for name in names}
        shared_names = (
            "STUDYID",
            "DOMAIN",
            "USUBJID",
            "VISITNUM",
            "VISIT",
            "EPOCH",
            "QSDTC",
            "QSDY",
        )
        for r in self.session.scalars(select(AlsfrsAssessment).order_by(AlsfrsAssessment.id)):
            revised = r.scale_version == AlsfrsScale.ALSFRS_R.value
            category = "ALSFRS-R" if revised else "ALSFRS"
            shared = self.base("QS", r.subject_id, r.provenance)
            self.visit(shared, r.visit_id)
            self.timed(shared, r.subject_id, "QS", r.assessment_date)
            rows: list[tuple[str, str, str, int, bool]] = []
            for item in ALSFRS_R_ITEMS if revised else ALSFRS_ITEMS:
                score = getattr(r, item)
                if score is None:
                    continue
                label, choices = wording.get(item, (item, {}))
                if not revised and item == "item_10":  # the original scale's one respiratory item
                    label = "10. Respiratory"
                text = choices.get(str(score), str(score)) if revised else str(score)
                name = f"{category}-{label.split('. ', 1)[-1]}"
                rows.append((_question_code(item), name, text.split(": ", 1)[-1], score, False))
            total_code, total_name = _ALSFRS_TOTAL
            name = total_name if revised else "ALSFRS Total Score"
            rows.append((total_code, name, str(r.total), r.total, True))
            for code, name, text, score, derived in rows:
                for key in shared_names:
                    columns[key].append(shared[key])
                columns["QSTESTCD"].append(code)
                columns["QSTEST"].append(name[:40])
                columns["QSCAT"].append(category)
                columns["QSORRES"].append(text)
                columns["QSSTRESC"].append(str(score))
                columns["QSSTRESN"].append(float(score))
                columns["QSDRVFL"].append("Y" if derived else "")
        if columns["USUBJID"]:
            columns["QSSEQ"] = [None] * len(columns["USUBJID"])
            columns["QSBLFL"] = [""] * len(columns["USUBJID"])
            self.columnar["QS"] = pd.DataFrame(columns, columns=list(names))

    def re(self) -> None:
        for s in self.session.scalars(select(Spirometry).order_by(Spirometry.id)):
            for code, name, value, unit in (
                ("FVC", "Forced Vital Capacity", s.fvc_litres, "L"),
                ("FVCPP", "Percent Predicted FVC", s.percent_predicted, "%"),
            ):
                if value is None:
                    continue
                record = self.finding("RE", s, s.assessment_date, code, name, value, unit)
                record.update(RECAT="SPIROMETRY", RESPEC="", REMETHOD="SPIROMETRY")
                if code == "FVCPP":
                    self.qualifier(
                        "RE",
                        record,
                        "REPREDEQ",
                        "Prediction Equation",
                        _EQUATIONS.get(s.equation, s.equation),
                        "Assigned",
                    )

    def vs(self) -> None:
        for v in self.session.scalars(select(VitalSigns).order_by(VitalSigns.id)):
            for column, code, name, unit in _VITALS:
                value = getattr(v, column)
                if value is None:
                    continue
                self.finding("VS", v, v.measured_at, code, name, value, unit)["VSCAT"] = ""

    def lb(self) -> None:
        for lab in self.session.scalars(select(LabResult).order_by(LabResult.id)):
            analyte = ANALYTES.get(lab.analyte)
            record = self.base("LB", lab.subject_id, lab.provenance)
            self.visit(record, lab.visit_id)
            record.update(
                LBTESTCD=_LBTESTCD.get(lab.analyte, lab.analyte),
                LBTEST=analyte.name if analyte else lab.analyte,
                LBCAT=(analyte.panel if analyte else "").upper(),
                LBORRES=_g(lab.value_entered),
                LBORRESU=lab.unit_entered,
                LBSTRESC=_g(lab.value),
                LBSTRESN=float(lab.value),
                LBSTRESU=lab.unit,
                LBSTNRLO=_num(lab.lln),
                LBSTNRHI=_num(lab.uln),
                LBNRIND=_NRIND.get(lab.flag, lab.flag)
                if lab.lln is not None or lab.uln is not None
                else "",
                LBTOXGR=str(lab.ctcae_grade) if lab.ctcae_grade is not None else "",
            )
            self.timed(record, lab.subject_id, "LB", lab.sample_date)
            self.records["LB"].append(record)

    def dictionary_forms(self, forms: pd.DataFrame) -> None:
        """Every dictionary form whose declaration names an SDTM domain: one record per
        instance, mapped fields to their variables, the others to SUPP--."""
        declared = {f.name: f for f in self.protocol.forms}
        by_code = {w.subject.study_code: sid for sid, w in self.subjects.items()}
        unmapped = sorted(
            {str(n) for n in forms.get("form", [])}
            - {n for n, f in declared.items() if f.sdtm_domain}
        )
        for name in unmapped:
            self.notes.append(("", name, "form names no sdtm_domain: not in the SDTM datasets"))
        if forms.empty:
            return
        keys = ["subject", "form", "visit", "instance"]
        for (code, form_name, visit, _), rows in forms.groupby(keys, sort=True, dropna=False):
            form = declared.get(str(form_name))
            if form is None or form.sdtm_domain is None:
                continue
            subject_id = by_code[str(code)]
            self._form_record(form, subject_id, visit, rows)

    def _form_record(
        self, form: DictionaryForm, subject_id: int, visit: object, rows: pd.DataFrame
    ) -> None:
        domain = str(form.sdtm_domain)
        record = self.base(domain, subject_id, rows["provenance"].iloc[0])
        fields = {f.name: f for f in form.fields}
        spec = DOMAINS.get(domain)
        later: list[tuple[str, str, str]] = []
        for row in rows.itertuples():
            f = fields.get(str(row.field))
            if f is None or f.type in ("descriptive", "file"):
                continue
            value = _form_value(f.type, row, unit=bool(f.sdtm and f.sdtm.endswith("U")))
            if f.sdtm and spec is not None and f.sdtm in spec.names:
                variable = spec.variable(f.sdtm)
                record[f.sdtm] = _typed(value, variable.type)
            else:
                later.append((f.name.replace("_", "")[:8].upper(), f.label, value))
        record[f"{domain}CAT"] = form.title.upper()[:200]
        visit_code = None if pd.isna(visit) else str(visit)  # type: ignore[call-overload]
        record["VISITNUM"] = self.visit_number.get(visit_code) if visit_code else None
        record["VISIT"] = self.visit_label.get(visit_code, "") if visit_code else ""
        who = self.subjects[subject_id]
        for prefix in ("ST", "EN"):
            dtc = f"{domain}{prefix}DTC"
            if spec and f"{domain}{prefix}DY" in spec.names and dtc in record:
                record[f"{domain}{prefix}DY"] = study_day(_date(record[dtc]), who.reference)
        self.records[domain].append(record)
        for qnam, label, value in later:
            self.qualifier(domain, record, qnam, label, value, "Collected")


_EQUATIONS = {
    "gli-global": "GLI Global 2022 (Bowerman et al., AJRCCM 2023)",
    "gli2012": "GLI-2012 (Quanjer et al., ERJ 2012)",
}


def _form_value(kind: str, row: Any, *, unit: bool) -> str:
    """A dictionary item's value as SDTM text: a choice by its wording upper-cased (``Oral``
    as ``ORAL``), except a unit, which keeps its code (CDISC units are case-sensitive:
    ``mg``, ``mL``); yes/no as Y/N; nothing for a value closed with a missing-data code."""
    if isinstance(row.missing_code, str) and row.missing_code:
        return ""
    if unit and isinstance(row.value, str):
        return row.value
    if kind in ("choice", "multichoice") and isinstance(row.value_label, str):
        return row.value_label.upper()
    if kind == "yesno" and isinstance(row.value, str):
        return {"yes": "Y", "no": "N", "true": "Y", "false": "N"}.get(row.value.lower(), "")
    return "" if row.value is None or pd.isna(row.value) else str(row.value)


def _number_code(code: str | None) -> float:
    """A MedDRA code (digits) as a number; NaN for none."""
    return float(code) if code is not None and code.isdigit() else float("nan")


def _typed(value: str, kind: str) -> object:
    if kind == "Num":
        try:
            return float(value)
        except ValueError:
            return float("nan")
    return value


def _date(text: object) -> date | None:
    try:
        return date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def _g(value: float | int) -> str:
    """A number as its shortest text (``2`` not ``2.0``; ``3.45``)."""
    return f"{value:.10g}"


def _num(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def build_subject_domains(
    session: Session,
    protocol: Protocol,
    forms: pd.DataFrame,
) -> SubjectDomains:
    """Every subject-level dataset with data, as frames in the domains' variable order
    (module docstring); with the SUPP-- datasets of the qualifiers."""
    b = _Builder(session, protocol)
    steps: Iterable[Callable[[], None]] = (b.dm, b.ds, b.sv, b.ex_pr, b.ae, b.qs, b.re, b.vs, b.lb)
    for step in steps:
        step()
    b.dictionary_forms(forms)
    frames: dict[str, pd.DataFrame] = {}
    for domain, records in b.records.items():
        if not records or domain not in DOMAINS:
            if records:
                b.notes.append((domain, "", "no SDTM domain declaration in alstrial: not written"))
            continue
        frame = pd.DataFrame.from_records(records, columns=list(DOMAINS[domain].names))
        frames[domain] = _finish(domain, frame, b.subjects, records)
    for domain, frame in b.columnar.items():
        frames[domain] = _finish(domain, frame, b.subjects)
    _add_se(b, frames)
    for domain, qualifiers in b.supp.items():
        if qualifiers and f"SUPP{domain}" in DOMAINS and domain in frames:
            frames[f"SUPP{domain}"] = _supp_frame(domain, qualifiers)
    return SubjectDomains(frames, b.synthetic, b.notes)


def _finish(
    domain: str,
    frame: pd.DataFrame,
    subjects: Mapping[int, _Subject],
    records: list[Record] | None = None,
) -> pd.DataFrame:
    """Sort by the domain's keys, number --SEQ within each subject (and give each of
    ``records``, the rows the frame was made from, its number, for the SUPP-- qualifiers
    that point at it), flag the baseline, and give each variable its type."""
    spec = DOMAINS[domain]
    seq = f"{domain}SEQ"
    order = {w.usubjid: i for i, w in enumerate(subjects.values())}
    sort_keys = _SORT.get(domain) or [k for k in spec.keys if k != "STUDYID"]
    keys = frame[sort_keys].copy()
    if "USUBJID" in keys.columns:
        keys["USUBJID"] = keys["USUBJID"].map(order)
    frame = frame.loc[keys.sort_values(sort_keys, kind="stable", na_position="last").index]
    if seq in spec.names:
        frame[seq] = (frame.groupby("USUBJID", sort=False).cumcount() + 1).astype("float64")
        if records is not None:
            for n, number in zip(frame.index.tolist(), frame[seq].tolist(), strict=True):
                records[n][seq] = number
    frame = frame.reset_index(drop=True)
    _baseline(domain, frame, subjects)
    for variable in spec.variables:
        column = frame[variable.name]
        if variable.type == "Num":
            frame[variable.name] = pd.to_numeric(column, errors="coerce").astype("float64")
        else:
            frame[variable.name] = column.where(column.notna(), "").astype(str)
    return frame


#: Sort orders other than the domain's keys: a subject's elements in time order.
_SORT = {"SE": ["USUBJID", "SESTDTC"]}


def _baseline(domain: str, frame: pd.DataFrame, subjects: Mapping[int, _Subject]) -> None:
    """--BLFL: per subject and test, the last result before the administration (a value
    with a time must precede the administration's time; a date alone may be its day)."""
    flag = f"{domain}BLFL"
    if flag not in DOMAINS[domain].names:
        return
    frame[flag] = ""
    moment = {w.usubjid: w.administered_at for w in subjects.values() if w.administered_at}
    at = frame["USUBJID"].map({u: iso(m) for u, m in moment.items()})
    day = frame["USUBJID"].map({u: iso(m.date()) for u, m in moment.items()})
    when = frame[f"{domain}DTC"].fillna("").astype(str)
    result = frame[f"{domain}STRESC"].fillna("").astype(str)
    if f"{domain}ORRES" in frame.columns:
        result = result.where(result != "", frame[f"{domain}ORRES"].fillna("").astype(str))
    timed = when.str.contains("T", regex=False)
    before = (timed & (when < at.fillna(""))) | (~timed & (when <= day.fillna("")))
    candidates = at.notna() & (when != "") & (result != "") & before
    if not candidates.any():
        return
    chosen = (
        frame.loc[candidates, ["USUBJID", f"{domain}TESTCD"]]
        .assign(_when=when[candidates])
        .sort_values("_when", kind="stable")
        .groupby(["USUBJID", f"{domain}TESTCD"], sort=False)
        .tail(1)
        .index
    )
    frame.loc[chosen, flag] = "Y"


def _supp_frame(domain: str, qualifiers: list[Record]) -> pd.DataFrame:
    spec = DOMAINS[f"SUPP{domain}"]
    rows = []
    for q in qualifiers:
        row = {k: v for k, v in q.items() if k != "_record"}
        row["IDVARVAL"] = (
            f"{q['_record'][f'{domain}SEQ']:g}" if f"{domain}SEQ" in q["_record"] else ""
        )
        if domain == "DM":
            row["IDVAR"] = ""
        rows.append(row)
    frame = pd.DataFrame.from_records(rows, columns=list(spec.names))
    frame = frame.sort_values(["USUBJID", "IDVARVAL", "QNAM"], kind="stable", key=_natural)
    return frame.fillna("").reset_index(drop=True)


def _natural(column: pd.Series) -> pd.Series:
    if column.name == "IDVARVAL":
        return pd.to_numeric(column, errors="coerce").fillna(0)
    return column


def _add_se(b: _Builder, frames: dict[str, pd.DataFrame]) -> None:
    """SE: each treated subject's lead-in, treatment and follow-up elements; a subject never
    treated has the lead-in only (:mod:`alstrial.interop.sdtm.trial_design`)."""
    records: list[Record] = []
    for subject_id, who in b.subjects.items():
        enrolment = b.enrolments.get(subject_id)
        if enrolment is None:
            continue
        start = b.first_visit.get(subject_id, enrolment.enrolment_date)
        disposition = b.dispositions.get(subject_id)
        end = disposition.disposition_date if disposition else b.last_visit.get(subject_id)
        administration = b.administrations.get(subject_id)
        for element in subject_elements(
            b.protocol,
            enrolment.arm_code,
            start,
            administration.administered_at if administration else None,
            end,
        ):
            record = b.base("SE", subject_id)
            record.update(element)
            record["SESTDY"] = study_day(_date(element["SESTDTC"]), who.reference)
            record["SEENDY"] = study_day(_date(element["SEENDTC"]), who.reference)
            records.append(record)
    if records:
        frame = pd.DataFrame.from_records(records, columns=list(DOMAINS["SE"].names))
        frames["SE"] = _finish("SE", frame, b.subjects)
