"""CDISC ODM 1.3.2 (issue 19, item 4): the study's metadata, data, audit trail and signatures
out; ODM metadata in as the protocol's forms. Read back with ElementTree and, where
``../shared`` holds CDISC's schema (MIT, cdisc-org/DataExchange-ODM), validated with lxml
against ODM1-3-2.xsd."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from alstrial.exceptions import ValidationError
from alstrial.interop.data_cut import DataCut
from alstrial.interop.odm_metadata import (
    import_odm_metadata,
    protocol_metadata_document,
    protocol_with_forms,
)
from alstrial.interop.study_export import export_study
from alstrial.protocol import Protocol, parse_protocol, reference_protocol_text
from alstrial.services import sign_visit
from alstrial.services.dictionary_forms import save_form_instance
from alstrial.services.lookup import latest_protocol_version, only_study
from tests.helpers import ACTOR, run_cli
from tests.test_dictionary_services import (  # noqa: F401  (study: the fixture)
    EXAM,
    PASSWORD,
    _signed_w1,
    exam_without_fasciculations,
    study,
)

ODM = "{http://www.cdisc.org/ns/odm/v1.3}"


def _odm(session: Session, folder: Path, cut: DataCut | None = None) -> ET.Element:
    export_study(session, "odm", folder, actor=ACTOR, cut=cut)
    return ET.parse(folder / "study.odm.xml").getroot()


def _validate(path: Path, shared: Path) -> list[str]:
    from lxml import etree

    schema_path = shared / "interop-reference" / "cdisc_odm" / "schema" / "ODM1-3-2.xsd"
    schema = etree.XMLSchema(etree.parse(str(schema_path)))
    valid = schema.validate(etree.parse(str(path)))
    return [] if valid else [f"{e.line}: {e.message}" for e in schema.error_log]


@pytest.fixture
def audited(study: Session) -> Session:  # noqa: F811
    """S01's W-1 examination signed, corrected with a reason (which unsigns it) and signed
    again; S02's examination with fasciculations closed as unknown."""
    _signed_w1(study, EXAM)
    save_form_instance(
        study,
        actor=ACTOR,
        subject_code="S01",
        form="neuro_exam",
        visit_code="W-1",
        entered=EXAM | {"height_cm": "176"},
        reason="transcription error",
    )
    sign_visit(study, actor="inv", subject_code="S01", visit_code="W-1", password=PASSWORD)
    exam_without_fasciculations(study, "unknown", "not examined")
    return study


def test_the_audit_trail_goes_out_as_odm_transactions(audited: Session, tmp_path: Path) -> None:
    root = _odm(audited, tmp_path / "odm")
    assert root.get("ODMVersion") == "1.3.2"
    assert root.get("FileType") == "Transactional"
    users = {u.get("OID") for u in root.iter(f"{ODM}User")}
    locations = {loc.get("OID") for loc in root.iter(f"{ODM}Location")}
    for ref in root.iter(f"{ODM}UserRef"):
        assert ref.get("UserOID") in users
    for ref in root.iter(f"{ODM}LocationRef"):
        assert ref.get("LocationOID") in locations
    height = [
        (item, block)
        for block in root.iter(f"{ODM}ClinicalData")
        for item in block.iter(f"{ODM}ItemData")
        if item.get("ItemOID") == "I.neuro_exam.height_cm"
        and block.find(f"{ODM}SubjectData").get("SubjectKey") == "S01"  # type: ignore[union-attr]
    ]
    assert [i.get("TransactionType") for i, _ in height] == ["Insert", "Update"]
    assert [i.get("Value") for i, _ in height] == ["175", "176"]
    update = height[1][0]
    record = update.find(f"{ODM}AuditRecord")
    assert record is not None
    assert record.findtext(f"{ODM}ReasonForChange") == "transcription error"
    assert record.findtext(f"{ODM}UserRef") is not None
    assert record.find(f"{ODM}UserRef").get("UserOID") == f"USR.{ACTOR}"  # type: ignore[union-attr]
    assert record.findtext(f"{ODM}SourceID", "").startswith("alstrial audit seq ")
    assert "old value: 175" in [
        a.findtext(f"{ODM}Comment") for a in update.iter(f"{ODM}Annotation")
    ]
    unknown = next(
        i
        for i in root.iter(f"{ODM}ItemData")
        if i.get("ItemOID") == "I.neuro_exam.fasciculations" and i.get("IsNull") == "Yes"
    )
    assert unknown.get("Value") is None
    assert "missing: unknown (not examined)" in [
        a.findtext(f"{ODM}Comment") for a in unknown.iter(f"{ODM}Annotation")
    ]
    signatures = list(root.iter(f"{ODM}Signature"))
    assert len(signatures) == 1  # the second signature stands; the first was removed
    assert signatures[0].find(f"{ODM}SignatureRef").get("SignatureOID") == "SD.VISIT"  # type: ignore[union-attr]
    assert signatures[0].find(f"{ODM}UserRef").get("UserOID") == "USR.inv"  # type: ignore[union-attr]
    defined = {d.get("OID") for d in root.iter(f"{ODM}ItemDef")}
    for item in root.iter(f"{ODM}ItemData"):
        assert item.get("ItemOID") in defined


def test_a_cut_before_the_correction_holds_the_old_value_and_repeats_byte_for_byte(
    audited: Session, tmp_path: Path
) -> None:
    import sqlalchemy as sa

    from alstrial.store.audit import AuditEvent

    reasoned = audited.scalar(
        sa.select(sa.func.min(AuditEvent.seq)).where(AuditEvent.reason == "transcription error")
    )
    cut = DataCut(seq=int(reasoned) - 1)  # type: ignore[arg-type]
    first = _odm(audited, tmp_path / "one", cut)
    values = [
        i.get("Value")
        for i in first.iter(f"{ODM}ItemData")
        if i.get("ItemOID") == "I.neuro_exam.height_cm"
    ]
    assert values == ["175"]
    _odm(audited, tmp_path / "two", cut)
    assert (tmp_path / "one" / "study.odm.xml").read_bytes() == (
        tmp_path / "two" / "study.odm.xml"
    ).read_bytes()


def test_the_document_is_valid_odm_1_3_2(audited: Session, tmp_path: Path, shared: Path) -> None:
    _odm(audited, tmp_path / "odm")
    assert _validate(tmp_path / "odm" / "study.odm.xml", shared) == []


def test_the_demo_document_is_valid_and_marks_synthetic_values(
    demo_session: Session, tmp_path: Path, shared: Path
) -> None:
    root = _odm(demo_session, tmp_path / "odm")
    assert "SYNTHETIC" in (
        root.findtext(f"{ODM}Study/{ODM}GlobalVariables/{ODM}StudyDescription") or ""
    )
    assert _validate(tmp_path / "odm" / "study.odm.xml", shared) == []


def _metadata(document: bytes) -> bytes:
    mdv = ET.fromstring(document).find(f"{ODM}Study/{ODM}MetaDataVersion")
    assert mdv is not None
    return ET.tostring(mdv)


def _reference() -> Protocol:
    return parse_protocol(reference_protocol_text())


def test_export_import_export_gives_the_same_metadata() -> None:
    protocol = _reference()
    first = protocol_metadata_document(protocol)
    imported = import_odm_metadata(first)
    assert imported.untranslated == []
    assert [f["name"] for f in imported.forms] == [f.name for f in protocol.forms]
    again = protocol_metadata_document(protocol_with_forms(protocol, imported))
    assert _metadata(again) == _metadata(first)
    assert protocol_with_forms(protocol, imported).forms == protocol.forms


def test_every_field_kind_survives_the_round_trip(study: Session) -> None:  # noqa: F811
    """The dictionary test protocol has calculated, branching, soft-range and missing-code
    fields: all come back as they were."""
    from alstrial.services.lookup import protocol_of

    protocol = protocol_of(latest_protocol_version(study, only_study(study)))
    imported = import_odm_metadata(protocol_metadata_document(protocol))
    assert imported.untranslated == []
    assert protocol_with_forms(protocol, imported).forms == protocol.forms
    kinds = {f.type for form in protocol.forms for f in form.fields}
    assert {"calc", "choice", "yesno", "decimal", "date"} <= kinds


def test_another_systems_metadata_is_translated_and_the_rest_listed(shared: Path) -> None:
    odm = shared / "interop-reference" / "cdisc_odm"
    openedc = import_odm_metadata((odm / "openedc" / "metadata.xml").read_bytes())
    assert len(openedc.forms) == 5
    reasons = [u.reason for u in openedc.untranslated]
    assert any("range check LT" in r for r in reasons)
    assert any("language(s), not alstrial's" in r for r in reasons)
    cdash = import_odm_metadata((odm / "odmlib" / "cdash-odm-test.xml").read_bytes())
    assert cdash.forms
    assert any(
        "'NOT RELATED' is not a code alstrial can store" in u.reason for u in cdash.untranslated
    )
    from alstrial.protocol.dictionary import DictionaryForm

    for form in openedc.forms + cdash.forms:  # every form returned is a valid form
        DictionaryForm.model_validate(form)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"<ODM", "not well-formed XML"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
            "DOCTYPE or entities",
        ),
        (b"<ODM xmlns='urn:other'/>", "not ODM 1.3's ODM"),
        (b"<ODM xmlns='http://www.cdisc.org/ns/odm/v1.3'/>", "no MetaDataVersion"),
        (b" " * 20_000_001, "at most 20,000,000 are read"),
    ],
)
def test_a_bad_document_is_refused_by_name(document: bytes, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        import_odm_metadata(document)


def test_the_cli_writes_and_reads_odm_metadata(tmp_path: Path) -> None:
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(reference_protocol_text(), encoding="utf-8")
    document = tmp_path / "metadata.xml"
    written = run_cli("protocol", "export-odm", str(protocol), "--out", str(document))
    assert written.returncode == 0, written.stderr
    result = run_cli("protocol", "import-odm", str(document), "--out", str(tmp_path / "forms.toml"))
    assert result.returncode == 0, result.stderr
    assert "4 forms written" in result.stdout
    assert "visit W-6 schedules: physical_exam" in result.stderr
    text = (tmp_path / "forms.toml").read_text()
    assert 'sdtm_domain = "CM"' in text
    assert 'sdtm = "CMTRT"' in text
    refused = run_cli("protocol", "import-odm", str(protocol))
    assert refused.returncode != 0
    assert "not well-formed XML" in refused.stderr


def test_a_late_cut_equals_the_data_as_they_stand(audited: Session, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    later = DataCut(at=datetime.now(UTC) + timedelta(days=1))
    _odm(audited, tmp_path / "now")
    _odm(audited, tmp_path / "cut", later)
    now = ET.parse(tmp_path / "now" / "study.odm.xml").getroot()
    cut = ET.parse(tmp_path / "cut" / "study.odm.xml").getroot()
    assert len(list(now.iter(f"{ODM}ItemData"))) == len(list(cut.iter(f"{ODM}ItemData")))
