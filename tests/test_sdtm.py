"""``alstrial export sdtm`` (issue 19, item 3): CDISC SDTM datasets as SAS transport v5 with a
define.xml, read back with two independent readers (pyreadstat, pandas.read_sas) and checked
against the implementation guide's rules by code written here, not the exporter's own check.

Reference for the rules: SDTMIG 3.3 (CDISC 2018), sections 2.6 (names <= 8, labels <= 40),
4.1.4 (ISO 8601), 4.4.4 (study day: no day 0), 4.1.5 (--SEQ unique within a subject).
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from alstrial.exceptions import ValidationError
from alstrial.interop.sdtm import sdtm_datasets
from alstrial.interop.sdtm.conformance import check_datasets
from alstrial.interop.sdtm.spec import DOMAINS
from alstrial.interop.sdtm.timing import study_day
from alstrial.interop.study_export import export_study
from alstrial.protocol import Protocol
from alstrial.services import record_alsfrs
from alstrial.services.dictionary_forms import save_form_instance
from alstrial.services.enrolment import screen_subject
from alstrial.services.frames import build_analysis_frames
from alstrial.services.lookup import latest_protocol_version, only_study, protocol_of
from alstrial.services.outcomes import AdverseEventReport, report_adverse_event
from alstrial.store.models import Administration, AlsfrsAssessment, Spirometry, Subject
from alstrial.vocabulary import AdverseEventOutcome, Relatedness
from tests.helpers import ACTOR, DAY0, ELIGIBLE, FULL_ITEMS, administer, enrolled, register

ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
ISO = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2})?)?)?)?$")


def _read(folder: Path) -> dict[str, pd.DataFrame]:
    """Every .xpt of ``folder`` by pandas' reader (dataset code to frame)."""
    return {
        path.stem.upper(): pd.read_sas(path, format="xport", encoding="utf-8")
        for path in sorted(folder.glob("*.xpt"))
    }


def _blank(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, float) and value != value)


@pytest.fixture
def trial(session: Session) -> Session:
    """S01 treated intravenously with an SAE related to the marrow aspiration and a medical
    history entry; S02 enrolled, never treated; S03 a screen failure."""
    enrolled(session, "S01")
    administer(session, "S01")
    enrolled(session, "S02", arm="IT")
    register(session, "S03")
    screen_subject(
        session,
        actor=ACTOR,
        subject_code="S03",
        screening_date=DAY0 - timedelta(days=60),
        data=ELIGIBLE | {"familial_als": True},
    )
    record_alsfrs(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="W-6",
        assessment_date=DAY0 - timedelta(days=42),
        items=FULL_ITEMS | {"item_3": 3},
    )
    report_adverse_event(
        session,
        actor=ACTOR,
        subject_code="S01",
        report=AdverseEventReport(
            term="Back pain",
            category="Procedural",
            onset_date=DAY0,
            onset_time=time(14, 0),
            end_date=DAY0 + timedelta(days=3),
            severity_grade=3,
            serious=True,
            seriousness=("hospitalisation",),
            relatedness=Relatedness.UNLIKELY,
            relatedness_by_procedure={"bone_marrow_aspiration": "probable"},
            outcome=AdverseEventOutcome.RECOVERED,
        ),
    )
    save_form_instance(
        session,
        actor=ACTOR,
        subject_code="S01",
        form="medical_history",
        entered={"condition": "Hypertension", "onset": "2019-05-01", "ongoing": "yes"},
    )
    return session


def test_the_datasets_follow_the_implementation_guide(trial: Session, tmp_path: Path) -> None:
    export_study(trial, "sdtm", tmp_path / "sdtm", actor=ACTOR)
    folder = tmp_path / "sdtm"
    data = _read(folder)
    assert {"DM", "DS", "EX", "AE", "SUPPAE", "QS", "MH", "SUPPMH", "TS", "TA", "TE"} <= set(data)
    for code, frame in data.items():
        _, meta = pyreadstat.read_xport(str(folder / f"{code.lower()}.xpt"))
        assert meta.table_name == code
        assert len(code) <= 8
        assert list(frame.columns) == list(DOMAINS[code].names)
        for name, label in meta.column_names_to_labels.items():
            assert re.fullmatch(r"[A-Z][A-Z0-9_]{0,7}", name), (code, name)
            assert label, (code, name)
            assert len(label) <= 40, (code, name, label)
        for variable in DOMAINS[code].variables:
            if variable.core == "Req":  # present and never null
                assert not frame[variable.name].map(_blank).any(), (code, variable.name)
        seq = f"{code}SEQ"
        if seq in frame.columns:
            within = "USUBJID" if "USUBJID" in frame.columns else "TSPARMCD"
            assert not frame.duplicated([within, seq]).any(), code
        for column in (c for c in frame.columns if c.endswith("DTC")):
            for value in frame[column]:
                assert _blank(value) or ISO.match(value), (code, column, value)
    # The study-day rule, computed here from DM.RFSTDTC: day 1 is the reference day, no day 0.
    start = {
        u: date.fromisoformat(s[:10]) if s else None
        for u, s in zip(data["DM"]["USUBJID"], data["DM"]["RFSTDTC"], strict=True)
    }
    checked = 0
    for frame in data.values():
        for column in (c for c in frame.columns if c.endswith("DY") and c != "VISITDY"):
            for usubjid, day, when in zip(
                frame["USUBJID"], frame[column], frame[column[:-2] + "DTC"], strict=True
            ):
                if _blank(day):
                    continue
                delta = (date.fromisoformat(when[:10]) - start[usubjid]).days  # type: ignore[operator]
                assert day == (delta + 1 if delta >= 0 else delta)
                assert day != 0
                checked += 1
    assert checked > 10


def test_the_values_are_the_stores(trial: Session, tmp_path: Path) -> None:
    export_study(trial, "sdtm", tmp_path / "sdtm", actor=ACTOR)
    data = _read(tmp_path / "sdtm")
    dm = data["DM"].set_index("SUBJID")
    assert dm.loc["S01", "ARMCD"] == "IV"
    assert dm.loc["S01", "ACTARMCD"] == "IV"
    assert dm.loc["S01", "RFSTDTC"] == datetime.combine(DAY0, time(9)).isoformat(timespec="minutes")
    assert dm.loc["S02", "ARMCD"] == "IT"
    assert dm.loc["S02", "ACTARMCD"] == ""
    assert dm.loc["S02", "ARMNRS"] == "ASSIGNED, NOT TREATED"
    assert dm.loc["S03", "ARMCD"] == ""
    assert dm.loc["S03", "ARMNRS"] == "SCREEN FAILURE"
    assert set(dm["COUNTRY"]) == {"IRN"}
    assert set(dm["SEX"]) == {"M"}
    ds = data["DS"]
    assert list(ds.loc[ds["USUBJID"].str.endswith("S03"), "DSDECOD"]) == ["SCREEN FAILURE"]
    [ex] = data["EX"].itertuples()
    given = trial.scalars(sa.select(Administration)).one()
    weight = trial.scalars(sa.select(Subject).where(Subject.study_code == "S01")).one().weight_kg
    assert ex.EXROUTE == "INTRAVENOUS"
    assert ex.EXDOSU == "cells/kg"
    assert pytest.approx(given.cells_given / weight) == ex.EXDOSE  # type: ignore[operator]
    assert ex.EXSTDY == 1.0
    assert ex.EPOCH == "TREATMENT"
    [ae] = data["AE"].itertuples()
    assert (ae.AESER, ae.AESHOSP, ae.AESDTH, ae.AESEV, ae.AETOXGR) == ("Y", "Y", "N", "SEVERE", "3")
    assert ae.AEREL == "UNLIKELY RELATED"
    assert f"{DAY0.isoformat()}T14:00" == ae.AESTDTC
    supp = data["SUPPAE"].set_index("QNAM")
    assert supp.loc["AERELBMA", "QVAL"] == "PROBABLY RELATED"
    assert supp.loc["AERELBMA", "IDVARVAL"] == f"{ae.AESEQ:g}"
    qs = data["QS"]
    rating = trial.scalars(sa.select(AlsfrsAssessment)).one()
    total = qs[qs["QSTESTCD"] == "ALSFRTOT"].iloc[0]
    assert total["QSSTRESN"] == rating.total == 47
    assert total["QSDRVFL"] == "Y"
    item = qs[qs["QSTESTCD"] == "ALSFRS03"].iloc[0]
    assert item["QSSTRESN"] == 3
    assert item["QSORRES"]
    assert item["QSBLFL"] == "Y"  # the only rating before the administration
    assert len(qs) == 13  # 12 items (5a, not 5b) and the total
    [mh] = data["MH"].itertuples()
    assert (mh.MHTERM, mh.MHSTDTC) == ("Hypertension", "2019-05-01")
    assert data["SUPPMH"].set_index("QNAM").loc["ONGOING", "QVAL"] == "Y"


def test_define_xml_lists_exactly_what_was_written(trial: Session, tmp_path: Path) -> None:
    export_study(trial, "sdtm", tmp_path / "sdtm", actor=ACTOR)
    folder = tmp_path / "sdtm"
    data = _read(folder)
    root = ET.parse(folder / "define.xml").getroot()
    assert root.get("ODMVersion") == "1.3.2"
    mdv = root.find(f"{ODM}Study/{ODM}MetaDataVersion")
    assert mdv is not None
    assert mdv.get("{http://www.cdisc.org/ns/def/v2.1}DefineVersion") == "2.1.0"
    items = {i.get("OID"): i for i in mdv.findall(f"{ODM}ItemDef")}
    groups = {g.get("Name"): g for g in mdv.findall(f"{ODM}ItemGroupDef")}
    assert set(groups) == set(data)
    code_lists = {c.get("OID") for c in mdv.findall(f"{ODM}CodeList")}
    for code, group in groups.items():
        names = [items[ref.get("ItemOID")].get("Name") for ref in group.findall(f"{ODM}ItemRef")]
        assert names == list(data[code].columns), code
        leaf = group.find("{http://www.cdisc.org/ns/def/v2.1}leaf")
        assert leaf is not None
        assert leaf.get("{http://www.w3.org/1999/xlink}href") == f"{code.lower()}.xpt"
    for item in items.values():
        ref = item.find(f"{ODM}CodeListRef")
        if ref is not None:
            assert ref.get("CodeListOID") in code_lists
        origin = item.find("{http://www.cdisc.org/ns/def/v2.1}Origin")
        assert origin is not None
        assert origin.get("Type") in {
            "Collected",
            "Derived",
            "Assigned",
            "Protocol",
        }
    sex = mdv.find(f"{ODM}CodeList[@OID='CL.SEX']")
    assert sex is not None
    assert [e.get("CodedValue") for e in sex] == ["M"]


def test_the_same_data_give_the_same_bytes(trial: Session, tmp_path: Path) -> None:
    first = export_study(trial, "sdtm", tmp_path / "one", actor=ACTOR)
    second = export_study(trial, "sdtm", tmp_path / "two", actor=ACTOR)
    assert {f.file: f.sha256 for f in first.files} == {f.file: f.sha256 for f in second.files}
    for f in first.files:
        assert hashlib.sha256((tmp_path / "one" / f.file).read_bytes()).hexdigest() == f.sha256


def test_the_demo_exports_and_marks_its_synthetic_values(
    demo_session: Session, tmp_path: Path
) -> None:
    export_study(demo_session, "sdtm", tmp_path / "sdtm", actor=ACTOR)
    folder = tmp_path / "sdtm"
    data = _read(folder)
    assert len(data["DM"]) == 14
    assert set(data["EX"]["EXROUTE"]) == {"INTRAVENOUS", "INTRATHECAL"}
    intrathecal = data["EX"].loc[data["EX"]["EXROUTE"] == "INTRATHECAL", "USUBJID"]
    punctures = data["PR"].loc[data["PR"]["PRTRT"] == "LUMBAR PUNCTURE", "USUBJID"]
    assert sorted(punctures) == sorted(intrathecal)
    fvc = data["RE"][data["RE"]["RETESTCD"] == "FVC"]
    stored = sorted(s.fvc_litres for s in demo_session.scalars(sa.select(Spirometry)))
    assert sorted(fvc["RESTRESN"]) == pytest.approx(stored)
    _, meta = pyreadstat.read_xport(str(folder / "qs.xpt"))
    assert "SYNTHETIC" in meta.file_label
    notes = (folder / "notes.csv").read_text()
    assert "QS,,holds SYNTHETIC values" in notes
    assert "not coded to MedDRA" in notes
    assert "physical_exam,form names no sdtm_domain" in notes
    define = (folder / "define.xml").read_text()
    assert "SYNTHETIC" in define


def test_the_pilot_submission_uses_the_same_labels(
    trial: Session, tmp_path: Path, shared: Path
) -> None:
    """The CDISC pilot's DM, AE and EX (SDTMIG 3.2, ../shared) name and label the variables
    both studies have as alstrial does."""
    export_study(trial, "sdtm", tmp_path / "sdtm", actor=ACTOR)
    pilot = shared / "interop-reference" / "cdisc_sdtm" / "cdiscpilot01"
    compared = 0
    for code in ("dm", "ae", "ex", "ds"):
        _, theirs = pyreadstat.read_xport(str(pilot / f"{code}.xpt"), metadataonly=True)
        _, ours = pyreadstat.read_xport(str(tmp_path / "sdtm" / f"{code}.xpt"), metadataonly=True)
        for name, label in ours.column_names_to_labels.items():
            if name in theirs.column_names_to_labels:
                assert theirs.column_names_to_labels[name] == label, (code, name)
                compared += 1
    assert compared >= 40


def test_a_protocol_without_a_country_is_refused(trial: Session, tmp_path: Path) -> None:
    protocol = _protocol(trial)
    stateless = protocol.model_copy(
        update={"study": protocol.study.model_copy(update={"country": None})}
    )
    with pytest.raises(ValidationError) as raised:
        sdtm_datasets(trial, stateless, build_analysis_frames(trial).forms)
    assert "study.country" in str(raised.value)


def test_the_study_day_rule() -> None:
    start = date(2013, 3, 26)
    assert study_day(date(2013, 3, 26), start) == 1
    assert study_day(date(2013, 3, 27), start) == 2
    assert study_day(date(2013, 3, 25), start) == -1
    assert study_day(datetime(2013, 3, 26, 23, 0), start) == 1
    assert study_day(None, start) != study_day(None, start)  # NaN: no date, no day


def test_the_check_names_each_broken_rule(trial: Session) -> None:
    frames, _, _ = sdtm_datasets(trial, _protocol(trial), build_analysis_frames(trial).forms)
    assert check_datasets(frames) == []
    broken = {k: v.copy() for k, v in frames.items()}
    broken["AE"].loc[0, "AESTDY"] = 0.0
    broken["QS"].loc[1, "QSSEQ"] = broken["QS"].loc[0, "QSSEQ"]
    broken["DM"].loc[0, "RFSTDTC"] = "26/03/2013"
    broken["EX"].loc[0, "EXTRT"] = ""
    messages = [str(p) for p in check_datasets(broken)]
    assert any(m.startswith("AE.AESTDY row 1: study day 0") for m in messages)
    assert any(m.startswith("QS.QSSEQ: not unique") for m in messages)
    assert any("'26/03/2013' is not ISO 8601" in m for m in messages), messages
    assert any(m.startswith("EX.EXTRT row 1: required but null") for m in messages)


def _protocol(session: Session) -> Protocol:
    return protocol_of(latest_protocol_version(session, only_study(session)))


def test_a_dictionary_form_maps_to_sdtm_only_as_declared() -> None:
    from alstrial.protocol.dictionary import DictionaryForm

    field = {"name": "drug", "label": "Drug", "type": "text"}
    form = {"name": "cm", "title": "Medication", "scope": "subject", "repeating": True}
    DictionaryForm.model_validate(
        form | {"sdtm_domain": "CM", "fields": [field | {"sdtm": "CMTRT"}]}
    )
    for entry, message in (
        (form | {"fields": [field | {"sdtm": "CMTRT"}]}, "names no sdtm_domain"),
        (
            form | {"sdtm_domain": "CM", "fields": [field | {"sdtm": "MHTERM"}]},
            "not one of domain CM",
        ),
        (
            form
            | {
                "sdtm_domain": "CM",
                "fields": [field | {"sdtm": "CMTRT"}, field | {"name": "again", "sdtm": "CMTRT"}],
            },
            "CMTRT mapped twice",
        ),
        (form | {"sdtm_domain": "cm", "fields": [field]}, "sdtm_domain"),
    ):
        with pytest.raises(ValueError, match=message):
            DictionaryForm.model_validate(entry)


def test_a_rating_on_the_original_alsfrs_goes_to_its_own_category(
    trial: Session, tmp_path: Path
) -> None:
    """The original ALSFRS (10 items, item 10 the one respiratory item) is not the
    ALSFRS-R: its records carry QSCAT ALSFRS and item 10 is named for what it asks."""
    from alstrial.services.transaction import transaction
    from alstrial.store.models import Visit

    subject = trial.scalars(sa.select(Subject).where(Subject.study_code == "S01")).one()
    visit = trial.scalars(
        sa.select(Visit).where(Visit.subject_id == subject.id, Visit.code == "W-4")
    ).one()
    with transaction(trial, actor=ACTOR):
        trial.add(
            AlsfrsAssessment(
                subject_id=subject.id,
                visit_id=visit.id,
                assessment_date=DAY0 - timedelta(days=28),
                scale_version="ALSFRS",
                **{f"item_{n}": 3 for n in (1, 2, 3, 4, 6, 7, 8, 9, 10)},
                item_5a=3,
                total=30,
                provenance="source",
            )
        )
    export_study(trial, "sdtm", tmp_path / "sdtm", actor=ACTOR)
    qs = _read(tmp_path / "sdtm")["QS"]
    original = qs[qs["QSCAT"] == "ALSFRS"]
    assert len(original) == 11  # 10 items (5a) and the total
    assert "ALSFRS-Respiratory" in set(original["QSTEST"])
    assert original.loc[original["QSTESTCD"] == "ALSFRTOT", "QSSTRESN"].iloc[0] == 30
