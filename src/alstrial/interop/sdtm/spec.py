"""The SDTM datasets alstrial writes: each domain's variables, in the implementation guide's
order, with label, type, core and origin.

One table per domain, read once at import, so that the writer, the conformance check and
define.xml work from the same declaration. Labels and core designations follow the SDTM
Implementation Guide 3.3 (CDISC, 2018); the variables are those of the IG's domain tables that
alstrial holds data for, in the IG's order.

References
----------
CDISC Submission Data Standards Team. *Study Data Tabulation Model Implementation Guide:
Human Clinical Trials*, version 3.3. CDISC, 2018.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DOMAINS", "SDTMIG_VERSION", "SDTM_VERSION", "Domain", "Variable"]

#: The versions the datasets follow (TS parameters SDTIGVER and SDTMVER, define.xml).
SDTMIG_VERSION = "3.3"
SDTM_VERSION = "1.7"

Core = Literal["Req", "Exp", "Perm"]
Origin = Literal["Collected", "Derived", "Assigned", "Protocol"]


@dataclass(frozen=True)
class Variable:
    """One variable of a domain."""

    name: str
    label: str
    type: Literal["Char", "Num"]
    core: Core
    origin: Origin


@dataclass(frozen=True)
class Domain:
    """One dataset: its code, label, class, structure, keys and variables."""

    code: str
    label: str
    klass: str
    structure: str
    keys: tuple[str, ...]
    variables: tuple[Variable, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variables)

    def variable(self, name: str) -> Variable:
        for v in self.variables:
            if v.name == name:
                return v
        raise KeyError(f"{self.code} has no variable {name}")


def _domain(code: str, label: str, klass: str, structure: str, keys: str, table: str) -> Domain:
    variables = []
    for line in filter(None, (row.strip() for row in table.splitlines())):
        name, text, kind, core, origin = (part.strip() for part in line.split("|"))
        variables.append(Variable(name, text, kind, core, origin))  # type: ignore[arg-type]
    return Domain(code, label, klass, structure, tuple(keys.split()), tuple(variables))


_ID = """
STUDYID|Study Identifier|Char|Req|Assigned
DOMAIN|Domain Abbreviation|Char|Req|Assigned
USUBJID|Unique Subject Identifier|Char|Req|Assigned
"""

_VISIT = """
VISITNUM|Visit Number|Num|Exp|Assigned
VISIT|Visit Name|Char|Perm|Assigned
EPOCH|Epoch|Char|Perm|Derived
"""

_SUPP = """
STUDYID|Study Identifier|Char|Req|Assigned
RDOMAIN|Related Domain Abbreviation|Char|Req|Assigned
USUBJID|Unique Subject Identifier|Char|Req|Assigned
IDVAR|Identifying Variable|Char|Exp|Assigned
IDVARVAL|Identifying Variable Value|Char|Exp|Assigned
QNAM|Qualifier Variable Name|Char|Req|Assigned
QLABEL|Qualifier Variable Label|Char|Req|Assigned
QVAL|Data Value|Char|Req|Collected
QORIG|Origin|Char|Req|Assigned
QEVAL|Evaluator|Char|Exp|Assigned
"""


def _supp(parent: str, label: str) -> Domain:
    return _domain(
        f"SUPP{parent}",
        f"Supplemental Qualifiers for {parent}",
        "RELATIONSHIP",
        "One record per supplemental qualifier per related parent domain record",
        "STUDYID RDOMAIN USUBJID IDVAR IDVARVAL QNAM",
        _SUPP,
    )


DM = _domain(
    "DM",
    "Demographics",
    "SPECIAL PURPOSE",
    "One record per subject",
    "STUDYID USUBJID",
    _ID
    + """
SUBJID|Subject Identifier for the Study|Char|Req|Assigned
RFSTDTC|Subject Reference Start Date/Time|Char|Exp|Derived
RFENDTC|Subject Reference End Date/Time|Char|Exp|Derived
RFXSTDTC|Date/Time of First Study Treatment|Char|Exp|Derived
RFXENDTC|Date/Time of Last Study Treatment|Char|Exp|Derived
RFPENDTC|Date/Time of End of Participation|Char|Exp|Derived
DTHDTC|Date/Time of Death|Char|Exp|Collected
DTHFL|Subject Death Flag|Char|Exp|Derived
SITEID|Study Site Identifier|Char|Req|Assigned
BRTHDTC|Date/Time of Birth|Char|Perm|Collected
AGE|Age|Num|Exp|Collected
AGEU|Age Units|Char|Exp|Assigned
SEX|Sex|Char|Req|Collected
RACE|Race|Char|Exp|Collected
ARMCD|Planned Arm Code|Char|Exp|Assigned
ARM|Description of Planned Arm|Char|Exp|Assigned
ACTARMCD|Actual Arm Code|Char|Exp|Derived
ACTARM|Description of Actual Arm|Char|Exp|Derived
ARMNRS|Reason Arm and/or Actual Arm is Null|Char|Exp|Derived
COUNTRY|Country|Char|Req|Protocol
DMDTC|Date/Time of Collection|Char|Perm|Collected
DMDY|Study Day of Collection|Num|Perm|Derived
""",
)

DS = _domain(
    "DS",
    "Disposition",
    "EVENTS",
    "One record per disposition status or protocol milestone per subject",
    "STUDYID USUBJID DSDECOD DSSTDTC",
    _ID
    + """
DSSEQ|Sequence Number|Num|Req|Derived
DSTERM|Reported Term for the Disposition Event|Char|Req|Collected
DSDECOD|Standardized Disposition Term|Char|Req|Assigned
DSCAT|Category for Disposition Event|Char|Exp|Assigned
EPOCH|Epoch|Char|Perm|Derived
DSSTDTC|Start Date/Time of Disposition Event|Char|Exp|Collected
DSSTDY|Study Day of Start of Disposition Event|Num|Perm|Derived
""",
)

SV = _domain(
    "SV",
    "Subject Visits",
    "SPECIAL PURPOSE",
    "One record per actual visit per subject",
    "STUDYID USUBJID VISITNUM",
    _ID
    + """
VISITNUM|Visit Number|Num|Req|Assigned
VISIT|Visit Name|Char|Perm|Assigned
VISITDY|Planned Study Day of Visit|Num|Perm|Protocol
EPOCH|Epoch|Char|Perm|Derived
SVSTDTC|Start Date/Time of Visit|Char|Exp|Collected
SVENDTC|End Date/Time of Visit|Char|Exp|Collected
SVSTDY|Study Day of Start of Visit|Num|Perm|Derived
SVENDY|Study Day of End of Visit|Num|Perm|Derived
""",
)

SE = _domain(
    "SE",
    "Subject Elements",
    "SPECIAL PURPOSE",
    "One record per actual Element per subject",
    "STUDYID USUBJID ETCD SESTDTC",
    _ID
    + """
SESEQ|Sequence Number|Num|Req|Derived
ETCD|Element Code|Char|Req|Assigned
ELEMENT|Description of Element|Char|Perm|Assigned
TAETORD|Planned Order of Element within Arm|Num|Perm|Assigned
EPOCH|Epoch|Char|Perm|Assigned
SESTDTC|Start Date/Time of Element|Char|Req|Derived
SEENDTC|End Date/Time of Element|Char|Exp|Derived
SESTDY|Study Day of Start of Element|Num|Perm|Derived
SEENDY|Study Day of End of Element|Num|Perm|Derived
""",
)

EX = _domain(
    "EX",
    "Exposure",
    "INTERVENTIONS",
    "One record per constant dosing interval per subject",
    "STUDYID USUBJID EXTRT EXSTDTC",
    _ID
    + """
EXSEQ|Sequence Number|Num|Req|Derived
EXLNKID|Link ID|Char|Perm|Assigned
EXTRT|Name of Treatment|Char|Req|Protocol
EXDOSE|Dose|Num|Exp|Derived
EXDOSU|Dose Units|Char|Exp|Protocol
EXDOSFRM|Dose Form|Char|Exp|Protocol
EXROUTE|Route of Administration|Char|Perm|Collected
EXLOT|Lot Number|Char|Perm|Collected
"""
    + _VISIT
    + """
EXSTDTC|Start Date/Time of Treatment|Char|Exp|Collected
EXENDTC|End Date/Time of Treatment|Char|Perm|Collected
EXSTDY|Study Day of Start of Treatment|Num|Perm|Derived
EXENDY|Study Day of End of Treatment|Num|Perm|Derived
""",
)

AE = _domain(
    "AE",
    "Adverse Events",
    "EVENTS",
    "One record per adverse event per subject",
    "STUDYID USUBJID AETERM AESTDTC",
    _ID
    + """
AESEQ|Sequence Number|Num|Req|Derived
AETERM|Reported Term for the Adverse Event|Char|Req|Collected
AELLTCD|Lowest Level Term Code|Num|Perm|Assigned
AEDECOD|Dictionary-Derived Term|Char|Req|Assigned
AECAT|Category for Adverse Event|Char|Perm|Collected
AESEV|Severity/Intensity|Char|Perm|Derived
AESER|Serious Event|Char|Exp|Collected
AEACNOTH|Other Action Taken|Char|Perm|Collected
AEREL|Causality|Char|Exp|Collected
AEOUT|Outcome of Adverse Event|Char|Perm|Collected
AESCONG|Congenital Anomaly or Birth Defect|Char|Perm|Collected
AESDISAB|Persist or Signif Disability/Incapacity|Char|Perm|Collected
AESDTH|Results in Death|Char|Perm|Collected
AESHOSP|Requires or Prolongs Hospitalization|Char|Perm|Collected
AESLIFE|Is Life Threatening|Char|Perm|Collected
AESMIE|Other Medically Important Serious Event|Char|Perm|Collected
AETOXGR|Standard Toxicity Grade|Char|Perm|Collected
EPOCH|Epoch|Char|Perm|Derived
AESTDTC|Start Date/Time of Adverse Event|Char|Exp|Collected
AEENDTC|End Date/Time of Adverse Event|Char|Exp|Collected
AESTDY|Study Day of Start of Adverse Event|Num|Perm|Derived
AEENDY|Study Day of End of Adverse Event|Num|Perm|Derived
""",
)

QS = _domain(
    "QS",
    "Questionnaires",
    "FINDINGS",
    "One record per questionnaire per question per time point per visit per subject",
    "STUDYID USUBJID QSCAT QSTESTCD VISITNUM",
    _ID
    + """
QSSEQ|Sequence Number|Num|Req|Derived
QSTESTCD|Question Short Name|Char|Req|Assigned
QSTEST|Question Name|Char|Req|Assigned
QSCAT|Category of Question|Char|Req|Assigned
QSORRES|Finding in Original Units|Char|Exp|Collected
QSSTRESC|Character Result/Finding in Std Format|Char|Exp|Derived
QSSTRESN|Numeric Finding in Standard Units|Num|Exp|Derived
QSBLFL|Baseline Flag|Char|Exp|Derived
QSDRVFL|Derived Flag|Char|Perm|Derived
"""
    + _VISIT
    + """
QSDTC|Date/Time of Finding|Char|Exp|Collected
QSDY|Study Day of Finding|Num|Perm|Derived
""",
)


def _findings(code: str, label: str, names: tuple[str, str, str, str], extra: str = "") -> Domain:
    """A findings domain; ``names``: the labels of --TESTCD, --TEST, --CAT and --DTC."""
    p = code
    short, name, category, when = names
    return _domain(
        code,
        label,
        "FINDINGS",
        "One record per test per visit per subject",
        f"STUDYID USUBJID {p}TESTCD VISITNUM {p}DTC",
        _ID
        + f"""
{p}SEQ|Sequence Number|Num|Req|Derived
{p}TESTCD|{short}|Char|Req|Assigned
{p}TEST|{name}|Char|Req|Assigned
{p}CAT|{category}|Char|Perm|Assigned
{p}ORRES|Result or Finding in Original Units|Char|Exp|Collected
{p}ORRESU|Original Units|Char|Exp|Collected
{p}STRESC|Character Result/Finding in Std Format|Char|Exp|Derived
{p}STRESN|Numeric Result/Finding in Standard Units|Num|Exp|Derived
{p}STRESU|Standard Units|Char|Exp|Assigned
"""
        + extra
        + f"""
{p}BLFL|Baseline Flag|Char|Exp|Derived
VISITNUM|Visit Number|Num|Exp|Assigned
VISIT|Visit Name|Char|Perm|Assigned
EPOCH|Epoch|Char|Perm|Derived
{p}DTC|{when}|Char|Exp|Collected
{p}DY|Study Day of {when.removeprefix("Date/Time of ")}|Num|Perm|Derived
""",
    )


VS = _findings(
    "VS",
    "Vital Signs",
    (
        "Vital Signs Test Short Name",
        "Vital Signs Test Name",
        "Category for Vital Signs",
        "Date/Time of Measurements",
    ),
)
RE = _findings(
    "RE",
    "Respiratory System Findings",
    (
        "Short Name of Respiratory Test",
        "Name of Respiratory Test",
        "Category for Respiratory Test",
        "Date/Time of Test",
    ),
    """
RESPEC|Specimen Material Type|Char|Perm|Assigned
REMETHOD|Method of Test or Examination|Char|Perm|Assigned
""",
)
LB = _findings(
    "LB",
    "Laboratory Test Results",
    (
        "Lab Test or Examination Short Name",
        "Lab Test or Examination Name",
        "Category for Lab Test",
        "Date/Time of Specimen Collection",
    ),
    """
LBSTNRLO|Normal Range Lower Limit-Std Units|Num|Exp|Assigned
LBSTNRHI|Normal Range Upper Limit-Std Units|Num|Exp|Assigned
LBNRIND|Reference Range Indicator|Char|Exp|Derived
LBTOXGR|Standard Toxicity Grade|Char|Perm|Derived
""",
)

PR = _domain(
    "PR",
    "Procedures",
    "INTERVENTIONS",
    "One record per recorded procedure per occurrence per subject",
    "STUDYID USUBJID PRTRT PRSTDTC",
    _ID
    + """
PRSEQ|Sequence Number|Num|Req|Derived
PRTRT|Reported Name of Procedure|Char|Req|Collected
PRCAT|Category|Char|Perm|Assigned
"""
    + _VISIT
    + """
PRSTDTC|Start Date/Time of Procedure|Char|Exp|Collected
PRSTDY|Study Day of Start of Procedure|Num|Perm|Derived
""",
)

MH = _domain(
    "MH",
    "Medical History",
    "EVENTS",
    "One record per medical history event per subject",
    "STUDYID USUBJID MHTERM MHSTDTC",
    _ID
    + """
MHSEQ|Sequence Number|Num|Req|Derived
MHTERM|Reported Term for the Medical History|Char|Req|Collected
MHCAT|Category for Medical History|Char|Perm|Assigned
MHSTDTC|Start Date/Time of Medical History Event|Char|Perm|Collected
MHENDTC|End Date/Time of Medical History Event|Char|Perm|Collected
""",
)

CM = _domain(
    "CM",
    "Concomitant/Prior Medications",
    "INTERVENTIONS",
    "One record per recorded intervention occurrence or constant-dosing interval per subject",
    "STUDYID USUBJID CMTRT CMSTDTC",
    _ID
    + """
CMSEQ|Sequence Number|Num|Req|Derived
CMTRT|Reported Name of Drug, Med, or Therapy|Char|Req|Collected
CMCAT|Category for Medication|Char|Perm|Assigned
CMDOSE|Dose per Administration|Num|Perm|Collected
CMDOSU|Dose Units|Char|Perm|Collected
CMDOSFRQ|Dosing Frequency per Interval|Char|Perm|Collected
CMROUTE|Route of Administration|Char|Perm|Collected
CMSTDTC|Start Date/Time of Medication|Char|Perm|Collected
CMENDTC|End Date/Time of Medication|Char|Perm|Collected
CMSTDY|Study Day of Start of Medication|Num|Perm|Derived
CMENDY|Study Day of End of Medication|Num|Perm|Derived
""",
)

TA = _domain(
    "TA",
    "Trial Arms",
    "TRIAL DESIGN",
    "One record per planned Element per Arm",
    "STUDYID ARMCD TAETORD",
    """
STUDYID|Study Identifier|Char|Req|Protocol
DOMAIN|Domain Abbreviation|Char|Req|Assigned
ARMCD|Planned Arm Code|Char|Req|Protocol
ARM|Description of Planned Arm|Char|Req|Protocol
TAETORD|Planned Order of Element within Arm|Num|Req|Protocol
ETCD|Element Code|Char|Req|Protocol
ELEMENT|Description of Element|Char|Perm|Protocol
TABRANCH|Branch|Char|Exp|Protocol
TATRANS|Transition Rule|Char|Exp|Protocol
EPOCH|Epoch|Char|Req|Protocol
""",
)

TE = _domain(
    "TE",
    "Trial Elements",
    "TRIAL DESIGN",
    "One record per planned Element",
    "STUDYID ETCD",
    """
STUDYID|Study Identifier|Char|Req|Protocol
DOMAIN|Domain Abbreviation|Char|Req|Assigned
ETCD|Element Code|Char|Req|Protocol
ELEMENT|Description of Element|Char|Req|Protocol
TESTRL|Rule for Start of Element|Char|Req|Protocol
TEENRL|Rule for End of Element|Char|Perm|Protocol
TEDUR|Planned Duration of Element|Char|Perm|Protocol
""",
)

TV = _domain(
    "TV",
    "Trial Visits",
    "TRIAL DESIGN",
    "One record per planned Visit per Arm",
    "STUDYID VISITNUM ARMCD",
    """
STUDYID|Study Identifier|Char|Req|Protocol
DOMAIN|Domain Abbreviation|Char|Req|Assigned
VISITNUM|Visit Number|Num|Req|Protocol
VISIT|Visit Name|Char|Perm|Protocol
VISITDY|Planned Study Day of Visit|Num|Perm|Protocol
ARMCD|Planned Arm Code|Char|Exp|Protocol
TVSTRL|Visit Start Rule|Char|Req|Protocol
TVENRL|Visit End Rule|Char|Perm|Protocol
""",
)

TI = _domain(
    "TI",
    "Trial Inclusion/Exclusion Criteria",
    "TRIAL DESIGN",
    "One record per I/E criterion",
    "STUDYID IETESTCD TIVERS",
    """
STUDYID|Study Identifier|Char|Req|Protocol
DOMAIN|Domain Abbreviation|Char|Req|Assigned
IETESTCD|Incl/Excl Criterion Short Name|Char|Req|Protocol
IETEST|Inclusion/Exclusion Criterion|Char|Req|Protocol
IECAT|Inclusion/Exclusion Category|Char|Req|Protocol
TIVERS|Protocol Criteria Versions|Char|Perm|Protocol
""",
)

TS = _domain(
    "TS",
    "Trial Summary",
    "TRIAL DESIGN",
    "One record per trial summary parameter value",
    "STUDYID TSPARMCD TSSEQ",
    """
STUDYID|Study Identifier|Char|Req|Protocol
DOMAIN|Domain Abbreviation|Char|Req|Assigned
TSSEQ|Sequence Number|Num|Req|Derived
TSPARMCD|Trial Summary Parameter Short Name|Char|Req|Assigned
TSPARM|Trial Summary Parameter|Char|Req|Assigned
TSVAL|Parameter Value|Char|Exp|Protocol
""",
)

#: Every dataset alstrial can write, in the order define.xml lists them.
DOMAINS: dict[str, Domain] = {
    d.code: d
    for d in (
        TA,
        TE,
        TV,
        TI,
        TS,
        DM,
        SE,
        SV,
        EX,
        PR,
        CM,
        AE,
        DS,
        MH,
        LB,
        QS,
        RE,
        VS,
        _supp("DM", "Demographics"),
        _supp("EX", "Exposure"),
        _supp("AE", "Adverse Events"),
        _supp("RE", "Respiratory System Findings"),
        _supp("MH", "Medical History"),
        _supp("CM", "Concomitant/Prior Medications"),
    )
}
