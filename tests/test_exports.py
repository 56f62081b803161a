"""``alstrial export csv|spss|stata`` (issue 19, item 1 in part): the analysis frames as
files SPSS, Stata and R read labelled, checked by reading them back with pyreadstat (an
independent reader of the formats) and pandas."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from sqlalchemy.orm import Session

from alstrial.exceptions import ValidationError
from alstrial.interop.data_cut import DataCut
from alstrial.interop.study_export import FRAMES, ExportManifest, export_study
from alstrial.services import record_alsfrs
from tests.helpers import ACTOR, DAY0, FULL_ITEMS
from tests.test_dictionary_services import (  # noqa: F401  (study: the fixture)
    exam_without_fasciculations,
    study,
)


def _export(session: Session, fmt: str, out: Path, cut: DataCut | None = None) -> ExportManifest:
    return export_study(session, fmt, out, actor=ACTOR, cut=cut)


def _rate(session: Session, *, item_3: int, reason: str | None = None) -> None:
    """S01's ALSFRS-R at W-6: every item 4 but item 3 (a correction with ``reason``)."""
    record_alsfrs(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="W-6",
        assessment_date=DAY0 - timedelta(days=42),
        items=FULL_ITEMS | {"item_3": item_3},
        reason=reason,
    )


@pytest.fixture
def filled(study: Session) -> Session:  # noqa: F811
    """Two enrolled subjects (S01 male, S02 female), an ALSFRS-R rating, and a neurological
    examination whose fasciculations were not examined (missing-data code)."""
    _rate(study, item_3=3)
    exam_without_fasciculations(study, "not_done", "patient declined")
    return study


def test_spss_files_carry_labels_codes_dates_and_user_missing(
    filled: Session, tmp_path: Path
) -> None:
    manifest = _export(filled, "spss", tmp_path / "spss")
    folder = tmp_path / "spss"
    subjects, meta = pyreadstat.read_sav(str(folder / "subjects.sav"))
    assert meta.column_names_to_labels["arm"] == "Treatment arm"
    assert meta.variable_value_labels["sex"] == {1.0: "male", 2.0: "female"}
    by_code = dict(zip(subjects["subject"], subjects["sex"], strict=True))
    assert (by_code["S01"], by_code["S02"]) == (1.0, 2.0)
    assert meta.original_variable_types["enrolment_date"] == "DATE11"
    assert meta.variable_value_labels["enrolled"] == {0.0: "no", 1.0: "yes"}
    _, measures = pyreadstat.read_sav(str(folder / "measures.sav"))
    labels = measures.variable_value_labels["visit"]  # numbered in the protocol's order
    assert labels[1.0].startswith("W-6: ")
    forms, meta = pyreadstat.read_sav(str(folder / "forms.sav"), user_missing=True)
    row = forms[forms["field"] == "fasciculations"].iloc[0]
    assert row["number"] == -97.0  # not done: SPSS user-missing, labelled
    assert meta.missing_ranges["number"][0] == {"lo": -97.0, "hi": -97.0}
    assert meta.variable_value_labels["number"][-97.0] == "not done"
    plain, _ = pyreadstat.read_sav(str(folder / "forms.sav"))
    assert pd.isna(plain[plain["field"] == "fasciculations"].iloc[0]["number"])
    assert manifest.files[0].file == "arms.sav"
    assert [f.frame for f in manifest.files] == list(FRAMES)


def test_stata_files_carry_labels_and_extended_missing(filled: Session, tmp_path: Path) -> None:
    _export(filled, "stata", tmp_path / "stata")
    forms, meta = pyreadstat.read_dta(str(tmp_path / "stata" / "forms.dta"), user_missing=True)
    row = forms[forms["field"] == "fasciculations"].iloc[0]
    assert row["number"] == "a"  # .a: not done
    assert meta.missing_user_values["number"] == ["a"]
    weight = forms[forms["field"] == "weight_kg"].iloc[0]
    assert weight["number"] == 60.0
    wide, meta = pyreadstat.read_dta(str(tmp_path / "stata" / "measures_wide.dta"))
    assert meta.column_names_to_labels["alsfrs_r_total"] == "ALSFRS-R total (0-48)"
    assert wide.loc[wide["subject"] == "S01", "alsfrs_r_total"].tolist() == [47.0]


def test_csv_and_the_manifest_say_what_was_written(filled: Session, tmp_path: Path) -> None:
    from alstrial.store.audit import AuditHead

    head = filled.get(AuditHead, 1)
    assert head is not None
    before = (head.last_seq, head.last_hash)  # the data's last event (the export adds one)
    manifest = _export(filled, "csv", tmp_path / "csv")
    folder = tmp_path / "csv"
    written = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert (written["audit_head_seq"], written["audit_head_hash"]) == before
    assert written["protocol_version"] == "2"
    for entry in written["files"]:
        data = (folder / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert len(pd.read_csv(folder / entry["file"])) == entry["rows"]
    assert written["synthetic"] is False
    assert manifest.synthetic is False
    measures = pd.read_csv(folder / "measures.csv")
    assert measures.loc[measures["measure"] == "alsfrs_r_total", "value"].tolist() == [47.0]


def test_a_refused_export_writes_nothing(filled: Session, tmp_path: Path) -> None:
    tmp_path = tmp_path / "exports"  # beside the study's database file
    tmp_path.mkdir()
    with pytest.raises(ValidationError, match="unknown export format 'sas7bdat'"):
        _export(filled, "sas7bdat", tmp_path / "x")
    a_file = tmp_path / "taken"
    a_file.write_text("keep me", encoding="utf-8")
    with pytest.raises(ValidationError, match="is a file"):
        _export(filled, "csv", a_file)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "old.csv").write_text("x", encoding="utf-8")
    with pytest.raises(ValidationError, match="not empty"):
        _export(filled, "spss", busy)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "taken"]
    assert a_file.read_text(encoding="utf-8") == "keep me"
    assert [p.name for p in busy.iterdir()] == ["old.csv"]


def test_the_cli_exports_a_study_with_no_subjects_yet(tmp_path: Path) -> None:
    """A study just set up (no subject): every format writes its files and manifest; an
    unknown format is refused by name with exit status 2 and nothing written."""
    from tests.helpers import run_cli

    url = f"sqlite:///{tmp_path / 'trial.db'}"
    assert run_cli("init", "--database", url).returncode == 0
    for fmt in ("csv", "spss", "stata", "sas", "r"):
        done = run_cli("export", fmt, "--out", str(tmp_path / fmt), "--database", url, "--json")
        assert done.returncode == 0, done.stderr
        manifest = json.loads(done.stdout)
        assert {f["rows"] for f in manifest["files"] if f["frame"] != "visits"} <= {0, 2}
    boxed = run_cli(
        "export", "csv", "--with-files", "--out", str(tmp_path / "files"), "--database", url,
        "--json",
    )  # fmt: skip
    assert boxed.returncode == 0, boxed.stderr
    assert json.loads(boxed.stdout)["attached_files"] == 0  # asked for, and there are none
    subjects, meta = pyreadstat.read_sav(str(tmp_path / "spss" / "subjects.sav"))
    assert subjects.empty
    assert meta.column_names_to_labels["subject"] == "Subject (pseudonymous study code)"
    refused = run_cli("export", "xlsx", "--out", str(tmp_path / "xlsx"), "--database", url)
    assert refused.returncode == 2
    assert "unknown export format 'xlsx'" in refused.stderr
    assert not (tmp_path / "xlsx").exists()


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_the_same_data_export_to_the_same_bytes(filled: Session, tmp_path: Path) -> None:
    """Issue 19: exporting the same data twice gives byte-identical files. SPSS and Stata
    headers hold the time of writing; alstrial writes the time of the last audit event
    instead (the writer is called a second later, and the bytes still agree)."""
    import time

    for fmt in ("csv", "spss", "stata"):
        first = _export(filled, fmt, tmp_path / f"{fmt}-1")
        time.sleep(1.1)
        second = _export(filled, fmt, tmp_path / f"{fmt}-2")
        assert [f.sha256 for f in first.files] == [f.sha256 for f in second.files], fmt
        one, two = _digests(tmp_path / f"{fmt}-1"), _digests(tmp_path / f"{fmt}-2")
        one.pop("manifest.json")
        two.pop("manifest.json")
        assert one == two


def test_a_cut_before_a_correction_shows_the_old_value(filled: Session, tmp_path: Path) -> None:
    """The data at a cut are rebuilt from the audit trail: a cut taken before a correction
    exports the value before it; the export without a cut, the corrected one; the same cut
    twice, the same bytes."""
    from alstrial.interop.data_cut import parse_cut
    from alstrial.store.audit import AuditHead

    head = filled.get(AuditHead, 1)
    assert head is not None
    before = head.last_seq
    _rate(filled, item_3=1, reason="source document says 1")
    cut = parse_cut(f"seq:{before}")
    old = _export(filled, "csv", tmp_path / "cut", cut=cut)
    now = _export(filled, "csv", tmp_path / "now")
    totals = {}
    for name in ("cut", "now"):
        measures = pd.read_csv(tmp_path / name / "measures.csv")
        totals[name] = measures.loc[measures["measure"] == "alsfrs_r_total", "value"].tolist()
    assert totals == {"cut": [47.0], "now": [45.0]}
    assert old.audit_head_seq == before
    assert now.audit_head_seq > before
    assert old.data_cut == f"seq:{before}"
    again = _export(filled, "spss", tmp_path / "cut-spss-1", cut=cut)
    twice = _export(filled, "spss", tmp_path / "cut-spss-2", cut=cut)
    assert [f.sha256 for f in again.files] == [f.sha256 for f in twice.files]
    forms, _ = pyreadstat.read_sav(str(tmp_path / "cut-spss-1" / "forms.sav"))
    assert set(forms["field"]) >= {"weight_kg", "fasciculations"}


def test_a_cut_is_refused_by_name_when_it_cannot_be_made(filled: Session, tmp_path: Path) -> None:
    from alstrial.interop.data_cut import parse_cut

    with pytest.raises(ValidationError, match="before the study existed"):
        _export(filled, "csv", tmp_path / "early", cut=parse_cut("2000-01-01"))
    assert not (tmp_path / "early").exists()
    for text in ("yesterday", "seq:0", "seq:x"):
        with pytest.raises(ValidationError, match="cut"):
            parse_cut(text)
    assert parse_cut("2025-01-01T12:00+02:00").at.isoformat() == "2025-01-01T10:00:00+00:00"  # type: ignore[union-attr]


def test_sas_transport_files_and_their_formats_program(filled: Session, tmp_path: Path) -> None:
    """SAS: version 8 transport files (long names and labels) read back by pyreadstat, and a
    program that defines a format per coded variable and puts it on each variable. The
    same data give the same bytes (the transport header's times are the data's)."""
    import time

    first = _export(filled, "sas", tmp_path / "sas")
    subjects, meta = pyreadstat.read_xport(str(tmp_path / "sas" / "subjects.xpt"))
    assert meta.column_names_to_labels["arm"] == "Treatment arm"
    assert sorted(subjects["sex"].tolist()) == [1.0, 2.0]
    assert meta.original_variable_types["enrolment_date"] == "DATE9."
    program = (tmp_path / "sas" / "formats.sas").read_text(encoding="utf-8")
    assert "  value sex 1 = 'male' 2 = 'female';" in program
    for name in FRAMES:
        assert f"filespec='{name}.xpt'" in program
    assert "format arm arm. sex sex." in program
    assert first.files[-1].file == "formats.sas"
    time.sleep(1.1)
    second = _export(filled, "sas", tmp_path / "sas-again")
    assert [f.sha256 for f in first.files] == [f.sha256 for f in second.files]


def test_the_r_script_makes_factors_in_the_protocols_order(filled: Session, tmp_path: Path) -> None:
    """R: the CSV files and load.R, which turns coded variables into factors (levels the
    codes in the protocol's order, labels their wording), dates into Date, and sets each
    variable's label. (No R on this machine: the script's text is checked, not run.)"""
    manifest = _export(filled, "r", tmp_path / "r")
    script = (tmp_path / "r" / "load.R").read_text(encoding="utf-8")
    assert 'subjects <- read_frame("subjects.csv")' in script
    visits = pd.read_csv(tmp_path / "r" / "visits.csv")["visit"].tolist()
    levels = ", ".join(f'"{v}"' for v in visits)
    assert f'measures[["visit"]] <- factor(measures[["visit"]], levels = c({levels})' in script
    assert 'subjects[["enrolment_date"]] <- as.Date(subjects[["enrolment_date"]])' in script
    assert 'attr(subjects[["arm"]], \'label\') <- "Treatment arm"' in script
    assert script.count("(") == script.count(")")
    assert manifest.files[-1].file == "load.R"


def test_each_export_is_recorded_in_the_audit_trail(filled: Session, tmp_path: Path) -> None:
    """Issue 19, item 6: who took which data out, in which format and cut, with the hash of
    the manifest; the record's own event does not count as a change of the data."""
    import sqlalchemy as sa

    from alstrial.services import verify_audit_trail
    from alstrial.store.audit import AuditEvent
    from alstrial.store.models import DataExport

    first = _export(filled, "stata", tmp_path / "one")
    second = _export(filled, "stata", tmp_path / "two")
    assert first.audit_head_seq == second.audit_head_seq  # the first record is not "data"
    records = filled.scalars(sa.select(DataExport).order_by(DataExport.id)).all()
    assert [r.format for r in records] == ["stata", "stata"]
    manifest = (tmp_path / "two" / "manifest.json").read_bytes()
    assert records[1].manifest_sha256 == hashlib.sha256(manifest).hexdigest()
    assert records[1].audit_head_seq == second.audit_head_seq
    events = filled.scalars(sa.select(AuditEvent).where(AuditEvent.entity == "data_export")).all()
    assert {e.actor for e in events} == {ACTOR}
    assert verify_audit_trail(filled).ok


def test_the_protocols_forms_go_to_redcap_as_a_longitudinal_project(
    filled: Session, tmp_path: Path
) -> None:
    """Issue 19, item 5: the data dictionary, the events (one per visit), which form each
    event collects, and the records (yes/no as 1/0, checkboxes as 0/1 columns); what REDCap
    cannot take (a calculated value, a missing-data code) is listed, not dropped silently.
    The dictionary imports back into the same forms."""
    import csv
    import io

    from alstrial.interop.redcap_dictionary import import_redcap_dictionary

    manifest = _export(filled, "redcap", tmp_path / "redcap")
    folder = tmp_path / "redcap"
    records = list(csv.DictReader(io.StringIO((folder / "records.csv").read_text())))
    exam = next(r for r in records if r["record_id"] == "S02")
    assert exam["redcap_event_name"] == "w_1_arm_1"
    assert (exam["weight_kg"], exam["height_cm"]) == ("60.0", "165")
    assert exam["pregnancy_test"] == "0"
    assert exam["fasciculations"] == ""  # closed with a missing-data code
    assert "bmi" not in exam  # REDCap calculates it
    events = list(csv.DictReader(io.StringIO((folder / "events.csv").read_text())))
    assert [e["event_name"] for e in events if e["event_name"] != "subject"][:2] == ["W-6", "W-4"]
    designation = (folder / "instrument_designation.csv").read_text()
    assert "1,w_1_arm_1,neuro_exam\n" in designation
    untranslated = (folder / "untranslated.csv").read_text()
    assert "neuro_exam.bmi,calculated by REDCap" in untranslated
    assert "1 value(s) closed with a missing-data code" in untranslated
    dictionary = (folder / "data_dictionary.csv").read_text()
    back = import_redcap_dictionary(dictionary, visit_forms=["neuro_exam"])
    assert "neuro_exam" in {f["name"] for f in back.forms}
    assert {f.file for f in manifest.files} >= {"records.csv", "data_dictionary.csv"}
    # The built-in instruments too, from their typed tables, each variable named once.
    rating = next(
        r for r in records if r["record_id"] == "S01" and r["redcap_event_name"] == "w_6_arm_1"
    )
    assert (rating["alsfrs_item_3"], rating["alsfrs_item_1"], rating["alsfrs_item_5b"]) == (
        "3",
        "4",
        "",
    )
    assert "1,w_6_arm_1,alsfrs\n" in designation
    assert "1,w_6_arm_1,spirometry\n" in designation
    names = [row["Variable / Field Name"] for row in csv.DictReader(io.StringIO(dictionary))]
    assert len(names) == len(set(names))
    # Two of the protocol's forms ask for "drug": REDCap names a variable once per project.
    assert "study_medication.drug,renamed study_medication_drug" in untranslated
    assert {"concomitant_medication_drug", "study_medication_drug"} <= set(names)
    assert {"alsfrs", "vitals", "lab", "adverse_event", "disposition"} <= {
        f["name"] for f in back.forms
    }


def test_a_named_cut_exports_the_same_data_after_later_changes(
    filled: Session, tmp_path: Path
) -> None:
    """Issue 19: `alstrial cut create NAME` freezes the data; an export of the cut after a
    correction shows the data as frozen, byte for byte the same as one made before it. A
    second cut of the same name, a bad name and an unknown name are refused by name."""
    from alstrial.exceptions import ConflictError
    from alstrial.interop.data_cut import create_named_cut, named_cuts, resolve_cut

    cut = create_named_cut(filled, actor=ACTOR, name="interim-1", purpose="DSMB meeting 1")
    before = _export(filled, "spss", tmp_path / "before", resolve_cut(filled, "interim-1"))
    _rate(filled, item_3=1, reason="source document says 1")
    after = _export(filled, "spss", tmp_path / "after", resolve_cut(filled, "interim-1"))
    assert [f.sha256 for f in before.files] == [f.sha256 for f in after.files]
    measures, _ = pyreadstat.read_sav(str(tmp_path / "after" / "measures.sav"))
    assert 47.0 in measures["value"].tolist()
    assert after.audit_head_seq == cut.seq
    assert [c.name for c in named_cuts(filled)] == ["interim-1"]
    with pytest.raises(ConflictError, match="named 'interim-1' already"):
        create_named_cut(filled, actor=ACTOR, name="interim-1", purpose="again")
    with pytest.raises(ValidationError, match="cut name"):
        create_named_cut(filled, actor=ACTOR, name="1st interim", purpose="x")
    with pytest.raises(ValidationError, match="no cut is named 'interim-2'"):
        resolve_cut(filled, "interim-2")
    with pytest.raises(ValidationError, match="before the study existed"):
        create_named_cut(
            filled, actor=ACTOR, name="early", purpose="x", at=resolve_cut(filled, "2000-01-01")
        )


def test_the_cli_creates_lists_and_exports_a_named_cut(tmp_path: Path) -> None:
    from tests.helpers import run_cli

    url = f"sqlite:///{tmp_path / 'trial.db'}"
    assert run_cli("init", "--database", url).returncode == 0
    made = run_cli("cut", "create", "lock", "--purpose", "database lock", "--database", url)
    assert made.returncode == 0, made.stderr
    listed = json.loads(run_cli("cut", "list", "--database", url, "--json").stdout)
    assert [c["name"] for c in listed] == ["lock"]
    done = run_cli("export", "csv", "--out", str(tmp_path / "out"), "--cut", "lock",
                   "--database", url, "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["audit_head_seq"] == listed[0]["seq"]


def test_parquet_files_carry_labels_and_code_lists_in_their_schema(
    filled: Session, tmp_path: Path
) -> None:
    """Read back with pyarrow (the schema) and pandas (the data): coded variables are
    categoricals in the protocol's order, labels are in the field metadata."""
    import pyarrow.parquet as pq

    _export(filled, "parquet", tmp_path / "pq")
    folder = tmp_path / "pq"
    schema = pq.read_schema(folder / "subjects.parquet")
    assert schema.field("arm").metadata[b"label"] == b"Treatment arm"
    assert json.loads(schema.field("sex").metadata[b"value_labels"]) == {
        "male": "male",
        "female": "female",
    }
    subjects = pd.read_parquet(folder / "subjects.parquet")
    assert list(subjects["sex"].cat.categories) == ["male", "female"]
    assert dict(zip(subjects["subject"], subjects["sex"], strict=True)) == {
        "S01": "male",
        "S02": "female",
    }
    measures = pd.read_parquet(folder / "measures.parquet")
    assert measures["visit"].cat.categories[0] == "W-6"  # the protocol's order
    forms = pd.read_parquet(folder / "forms.parquet")
    row = forms[forms["field"] == "fasciculations"].iloc[0]
    assert row["missing_code"] == "not_done"
    again = _export(filled, "parquet", tmp_path / "again")
    first = json.loads((folder / "manifest.json").read_text())["files"]
    assert [f["sha256"] for f in first] == [f.sha256 for f in again.files]


def test_a_renamed_field_is_renamed_in_expressions_but_not_in_quoted_text() -> None:
    from alstrial.interop.redcap_records import _renamed

    mapping = {"dose": "cm_dose", "unit": "cm_unit"}
    assert _renamed('dose * 2 > 10 and unit == "dose"', mapping) == (
        'cm_dose * 2 > 10 and cm_unit == "dose"'
    )
    assert _renamed("subject.dose + doses", mapping) == "subject.dose + doses"
    assert _renamed(None, mapping) is None


def test_an_export_carries_the_attached_files_only_when_asked(
    study: Session,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Issue 17: a file field's item is exported as its reference; asked for, the files go
    with it, byte for byte under ``files/``, with ``attachments.csv`` leading from each item
    to its file (in every format, the zip too, and a cut's files are those its items name);
    the export's record counts them; a file changed behind alstrial's back stops the export
    with nothing written."""
    import io
    import zipfile

    import sqlalchemy as sa

    from alstrial.exceptions import IntegrityError
    from alstrial.interop.data_cut import parse_cut
    from alstrial.interop.study_export import export_zip
    from alstrial.protocol.form_values import FileUpload
    from alstrial.services.dictionary_forms import save_form_instance
    from alstrial.store.audit import AuditHead
    from alstrial.store.models import DataExport
    from tests.test_dictionary import protocol_text
    from tests.test_dictionary_services import CONSENT_FORM, amend

    amend(study, protocol_text() + CONSENT_FORM, version="3")
    scans = {"S01": b"%PDF-1.4 consent S01\n" * 50, "S02": b"%PDF-1.4 consent S02\n" * 70}

    def attach(code: str, name: str) -> str:
        saved = save_form_instance(
            study,
            actor=ACTOR,
            subject_code=code,
            form="consent_scan",
            entered={"scan": FileUpload(name, "application/pdf", scans[code])},
        )
        return str(saved.values["scan"])

    first = attach("S01", "C:\\scans\\consent: S01?.pdf")  # a name Windows would refuse
    head = study.get(AuditHead, 1)
    assert head is not None
    after_first = head.last_seq
    second = attach("S02", "consent.pdf")

    plain = _export(study, "csv", tmp_path / "plain")
    forms = pd.read_csv(tmp_path / "plain" / "forms.csv")
    assert set(forms.loc[forms["field"] == "scan", "value"]) == {first, second}
    assert not (tmp_path / "plain" / "files").exists()
    assert not (tmp_path / "plain" / "attachments.csv").exists()
    assert plain.attached_files == 0

    manifest = export_study(study, "spss", tmp_path / "with", actor=ACTOR, with_files=True)
    folder = tmp_path / "with"
    index = pd.read_csv(folder / "attachments.csv", keep_default_na=False)
    assert index["subject"].tolist() == ["S01", "S02"]
    assert index["reference"].tolist() == [first, second]
    assert index["filename"].tolist() == ["consent: S01?.pdf", "consent.pdf"]
    first_id = first.split(":")[1]
    assert index["file"].tolist()[0] == f"files/{first_id}-consent_ S01_.pdf"
    listed = {f.file: f.sha256 for f in manifest.files}
    for row in index.itertuples():
        content = (folder / row.file).read_bytes()
        assert content == scans[row.subject]
        assert hashlib.sha256(content).hexdigest() == row.sha256 == listed[row.file]
        assert row.size_bytes == len(content)
    assert manifest.attached_files == 2
    assert json.loads((folder / "manifest.json").read_text())["attached_files"] == 2
    records = study.scalars(sa.select(DataExport).order_by(DataExport.id)).all()
    assert [r.attached_files for r in records] == [0, 2]  # the plain export, then this one

    archive, zipped = export_zip(study, "odm", actor=ACTOR, with_files=True)
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        assert opened.read(index["file"].tolist()[1]) == scans["S02"]
        assert "attachments.csv" in opened.namelist()
    assert zipped.attached_files == 2
    redcap = export_study(study, "redcap", tmp_path / "redcap", actor=ACTOR, with_files=True)
    untranslated = (tmp_path / "redcap" / "untranslated.csv").read_text(encoding="utf-8")
    assert "consent_scan.scan,REDCap's data import takes no files: upload them from files/" in (
        untranslated
    )
    assert redcap.attached_files == 2
    assert (tmp_path / "redcap" / index["file"].tolist()[0]).read_bytes() == scans["S01"]

    cut = _export_with_files(study, tmp_path / "cut", parse_cut(f"seq:{after_first}"))
    cut_index = pd.read_csv(tmp_path / "cut" / "attachments.csv")
    assert cut_index["reference"].tolist() == [first]
    assert sorted(p.name for p in (tmp_path / "cut" / "files").iterdir()) == [
        f"{first_id}-consent_ S01_.pdf"
    ]
    assert cut.attached_files == 1

    if study.get_bind().dialect.name == "sqlite":  # the trigger stands in the way elsewhere
        study.execute(sa.text("DROP TRIGGER attachment_no_update"))
        study.execute(
            sa.text("UPDATE attachment SET content = :forged WHERE id = :id"),
            {"forged": b"%PDF forged", "id": int(first_id)},
        )
        study.commit()
        exports = study.scalar(sa.select(sa.func.count()).select_from(DataExport))
        with pytest.raises(IntegrityError, match="does not match the digest"):
            _export_with_files(study, tmp_path / "forged")
        study.rollback()
        assert not (tmp_path / "forged").exists()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".forged")] == []
        assert study.scalar(sa.select(sa.func.count()).select_from(DataExport)) == exports


def _export_with_files(session: Session, out: Path, cut: DataCut | None = None) -> ExportManifest:
    return export_study(session, "csv", out, actor=ACTOR, cut=cut, with_files=True)


def test_an_attached_files_name_in_the_export_is_safe_and_short() -> None:
    """The export's name of a file: its id first (names repeat across subjects), without the
    characters Windows or a shell refuse, at most 120 characters after the id, the suffix
    kept; a name of nothing but such characters becomes ``file``."""
    from alstrial.interop.export_attachments import export_name

    assert export_name(7, "consent: S01?.pdf") == "7-consent_ S01_.pdf"
    assert export_name(8, 'a<b>c|d"e*f\x01.pdf') == "8-a_b_c_d_e_f_.pdf"
    long = export_name(9, "x" * 300 + ".tiff")
    assert long.startswith("9-xxx")
    assert long.endswith(".tiff")
    assert len(long) == len("9-") + 120
    assert len(export_name(10, "y" * 300)) == len("10-") + 120
    assert export_name(11, "...") == "11-file"
