"""Entering the protocol's own forms (issue 17) on both back ends: checked by the one check,
stored in the generic audited layout, corrected with a reason, refused whole, locked by
signatures, verified by the audit trail."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from alstrial.exceptions import (
    ConflictError,
    FormValidationError,
    NotFoundError,
    ValidationError,
)
from alstrial.protocol.form_values import Missing
from alstrial.services import verify_audit_trail
from alstrial.services.audit_trail import record_history
from alstrial.services.dictionary_forms import InstanceView, form_instances, save_form_instance
from alstrial.services.lookup import only_study
from alstrial.services.transaction import transaction
from alstrial.store.audit import ROWS, AuditEvent, encode_value, rows_event_records
from alstrial.store.models import FormInstance, ItemValue, ProtocolVersion
from alstrial.vocabulary import Sex
from tests.helpers import ACTOR, enrolled, refused, row_counts
from tests.test_dictionary import protocol_text

PASSWORD = "correct horse battery staple"
EXAM = {"weight_kg": "70", "height_cm": "175", "fasciculations": "1"}


def amend(session: Session, text: str, version: str = "2") -> None:
    """Load a new protocol version (an amendment), as `alstrial protocol amend` would."""
    with transaction(session, actor=ACTOR):
        session.add(
            ProtocolVersion(
                study_id=only_study(session).id,
                version=version,
                text=text,
                digest=hashlib.sha256(text.encode()).hexdigest(),
            )
        )


@pytest.fixture
def study(session: Session) -> Session:
    amend(session, protocol_text())
    enrolled(session, "S01")
    enrolled(session, "S02", sex=Sex.FEMALE)
    return session


def test_a_visit_form_is_saved_with_its_calculated_fields(study: Session) -> None:
    saved = save_form_instance(
        study, actor=ACTOR, subject_code="S01", form="neuro_exam", visit_code="W-1", entered=EXAM
    )
    assert saved.values["bmi"] == 22.9
    assert saved.values["fasciculations"] == "1"
    assert saved.instance == 1
    assert saved.visit == "W-1"
    [again] = form_instances(study, "S01", "neuro_exam")
    assert again.values == saved.values
    assert verify_audit_trail(study).ok
    # The items went into the chain as one rows event holding each item's row.
    [event] = study.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.entity == "item_value", AuditEvent.action == "insert"
        )
    ).all()
    assert (event.field, event.record_id) == (ROWS, f"form_instance_id={saved.id}")
    items = {i.field: i for i in study.scalars(sa.select(ItemValue))}
    records = rows_event_records(event.new_value)
    assert set(records) == {str(i.id) for i in items.values()}
    assert records[str(items["bmi"].id)]["field"] == '"bmi"'
    assert records[str(items["bmi"].id)]["value"] == encode_value(sa.Text(), items["bmi"].value)
    bmi_history = record_history(study, "item_value", str(items["bmi"].id))
    assert {(line.action, line.field, line.new_value) for line in bmi_history} >= {
        ("insert", "field", '"bmi"'),
        ("insert", "form_instance_id", str(saved.id)),
    }


def test_a_form_with_several_problems_is_refused_whole(study: Session) -> None:
    """Every problem at its field, and nothing written."""
    before = row_counts(study)
    error = refused(
        study,
        FormValidationError,
        lambda: save_form_instance(
            study,
            actor=ACTOR,
            subject_code="S01",
            form="neuro_exam",
            visit_code="W-1",
            entered={"weight_kg": "700", "height_cm": "tall"},
        ),
    )
    assert set(error.errors) == {"weight_kg", "height_cm", "fasciculations"}
    assert "3 problems, nothing saved" in error.message
    assert error.to_dict()["errors"]["weight_kg"] == "Weight: 700.0 kg is above maximum 250 kg"
    assert row_counts(study) == before


def test_where_a_form_is_entered(study: Session) -> None:
    for visit, message in (("D0", "does not schedule"), (None, "name it")):
        error = refused(
            study,
            ValidationError,
            lambda v=visit: save_form_instance(
                study,
                actor=ACTOR,
                subject_code="S01",
                form="neuro_exam",
                visit_code=v,
                entered=EXAM,
            ),
        )
        assert message in error.message
    error = refused(
        study,
        ValidationError,
        lambda: save_form_instance(
            study,
            actor=ACTOR,
            subject_code="S01",
            form="study_medication",
            visit_code="W-1",
            entered={"drug": "riluzole"},
        ),
    )
    assert "once per subject" in error.message
    error = refused(
        study,
        NotFoundError,
        lambda: save_form_instance(
            study, actor=ACTOR, subject_code="S01", form="no_such_form", entered={}
        ),
    )
    assert "study_medication" in str(error.allowed)


def test_a_repeating_form_adds_instances_and_corrects_one_with_a_reason(study: Session) -> None:
    def medication(drug: str, dose: str, **extra: object) -> object:
        return save_form_instance(
            study,
            actor=ACTOR,
            subject_code="S01",
            form="study_medication",
            entered={"drug": drug, "daily_dose_mg": dose},
            **extra,  # type: ignore[arg-type]
        )

    medication("riluzole", "100")
    medication("baclofen", "30")
    assert [i.values["drug"] for i in form_instances(study, "S01", "study_medication")] == [
        "riluzole",
        "baclofen",
    ]
    error = refused(study, ValidationError, lambda: medication("baclofen", "40", instance=2))
    assert "changing Daily dose needs a reason" in error.message
    unconfirmed = refused(
        study,
        FormValidationError,
        lambda: medication("baclofen", "450", instance=2, reason="dose increased"),
    )
    assert "confirm the value" in unconfirmed.unconfirmed["daily_dose_mg"]
    corrected = medication(
        "baclofen", "450", instance=2, reason="dose increased", confirmed={"daily_dose_mg"}
    )
    assert corrected.values["daily_dose_mg"] == 450.0
    assert corrected.confirmed == {"daily_dose_mg"}
    change = study.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.entity == "item_value",
            AuditEvent.field == "value",
            AuditEvent.action == "update",
        )
    ).one()
    # The audit trail stores values JSON-encoded.
    assert (change.old_value, change.new_value) == ('"30.0"', '"450.0"')
    assert change.reason == "dose increased"
    refused(study, NotFoundError, lambda: medication("x", "1", instance=9))


def test_branching_and_missing_codes_are_stored(study: Session) -> None:
    """The female subject is asked the pregnancy test; the male subject's answer is not kept;
    a required field closed with a code keeps the code and the reason."""
    women = save_form_instance(
        study,
        actor=ACTOR,
        subject_code="S02",
        form="neuro_exam",
        visit_code="W-1",
        entered={"weight_kg": "60", "height_cm": "165", "pregnancy_test": "yes"},
        missing={"fasciculations": Missing("not_done", "patient too tired")},
    )
    assert women.values["pregnancy_test"] is True
    assert women.missing == {"fasciculations": Missing("not_done", "patient too tired")}
    men = save_form_instance(
        study,
        actor=ACTOR,
        subject_code="S01",
        form="neuro_exam",
        visit_code="W-1",
        entered=EXAM | {"pregnancy_test": "yes"},
    )
    assert "pregnancy_test" not in men.values
    fields = set(
        study.scalars(
            sa.select(ItemValue.field)
            .join(FormInstance)
            .where(FormInstance.id == men.id)
        )
    )  # fmt: skip
    assert "pregnancy_test" not in fields


def _weighed_again(study: Session) -> InstanceView:
    """S01's W-1 neurological examination corrected: the weight is 72 kg (with a reason)."""
    return save_form_instance(
        study,
        actor=ACTOR,
        subject_code="S01",
        form="neuro_exam",
        visit_code="W-1",
        entered=EXAM | {"weight_kg": "72"},
        reason="scale recalibrated",
    )


def test_a_second_save_of_a_non_repeating_form_corrects_it(study: Session) -> None:
    first = save_form_instance(
        study, actor=ACTOR, subject_code="S01", form="neuro_exam", visit_code="W-1", entered=EXAM
    )
    second = _weighed_again(study)
    assert second.id == first.id
    assert second.values["bmi"] == 23.5
    assert len(form_instances(study, "S01", "neuro_exam")) == 1
    assert verify_audit_trail(study).ok


def exam_without_fasciculations(session: Session, code: str, reason: str) -> None:
    """S02's W-1 neurological examination with fasciculations closed with missing-data
    ``code`` for ``reason``."""
    save_form_instance(
        session,
        actor=ACTOR,
        subject_code="S02",
        form="neuro_exam",
        visit_code="W-1",
        entered={"weight_kg": "60", "height_cm": "165", "pregnancy_test": "no"},
        missing={"fasciculations": Missing(code, reason)},
    )


def _signed_w1(study: Session, entered: dict[str, str]) -> None:
    """S01's W-1 with ``entered`` in its neurological examination, every other assessment
    marked not done, and the visit signed by an investigator."""
    from alstrial.services import sign_visit
    from alstrial.services.accounts import create_account
    from alstrial.services.completeness import mark_assessment_not_done

    save_form_instance(
        study, actor=ACTOR, subject_code="S01", form="neuro_exam", visit_code="W-1", entered=entered
    )
    create_account(
        study, actor=ACTOR, username="inv", role="investigator", sites=["A"], password=PASSWORD
    )
    for assessment in ("physical_exam", "alsfrs_r", "spirometry", "labs", "vitals", "mri"):
        mark_assessment_not_done(
            study,
            actor=ACTOR,
            subject_code="S01",
            visit_code="W-1",
            assessment=assessment,
            reason="test",
        )
    sign_visit(study, actor="inv", subject_code="S01", visit_code="W-1", password=PASSWORD)


def test_a_signed_visit_locks_its_dictionary_forms(study: Session) -> None:
    from alstrial.services.completeness import visit_completeness

    assert "neuro_exam" in visit_completeness(study, "S01", "W-1").missing
    _signed_w1(study, EXAM)
    assert "neuro_exam" not in visit_completeness(study, "S01", "W-1").missing
    error = refused(
        study,
        (ConflictError, ValidationError),
        lambda: save_form_instance(
            study,
            actor=ACTOR,
            subject_code="S01",
            form="neuro_exam",
            visit_code="W-1",
            entered=EXAM | {"height_cm": "176"},
        ),
    )
    assert "reason" in error.message


def test_an_instance_keeps_the_version_it_was_checked_against(study: Session) -> None:
    saved = save_form_instance(
        study, actor=ACTOR, subject_code="S01", form="neuro_exam", visit_code="W-1", entered=EXAM
    )
    version = study.get(FormInstance, saved.id).protocol_version_id  # type: ignore[union-attr]
    amend(study, protocol_text().replace('title = "Neurological examination"',
                                         'title = "Neurological exam"'), "3")  # fmt: skip
    study.expire_all()
    assert study.get(FormInstance, saved.id).protocol_version_id == version  # type: ignore[union-attr]
    assert form_instances(study, "S01", "neuro_exam")[0].values["bmi"] == 22.9


def test_dictionary_values_reach_the_analysis_frames(study: Session) -> None:
    """Issue 17, item 7: items appear in the frames (and so the API and CSV export) with
    their labels, the choices' wording, numbers and missing-data codes."""
    from alstrial.services import build_analysis_frames

    save_form_instance(
        study,
        actor=ACTOR,
        subject_code="S02",
        form="neuro_exam",
        visit_code="W-1",
        entered={"weight_kg": "60", "height_cm": "165", "pregnancy_test": "no"},
        missing={"fasciculations": Missing("unknown", "not examined")},
    )
    forms = build_analysis_frames(study).forms
    rows = {r["field"]: r for r in forms.to_dict("records")}
    assert rows["bmi"]["number"] == 22.0
    assert rows["bmi"]["label"] == "Body-mass index"
    assert rows["weight_kg"]["unit"] == "kg"
    assert rows["pregnancy_test"]["value"] == "no"
    assert rows["fasciculations"]["missing_code"] == "unknown"
    assert pd.isna(rows["fasciculations"]["value"])
    assert {r["visit"] for r in rows.values()} == {"W-1"}
    assert {r["protocol_version"] for r in rows.values()} == {"2"}
    save_form_instance(
        study,
        actor=ACTOR,
        subject_code="S02",
        form="neuro_exam",
        visit_code="W-1",
        entered={"weight_kg": "60", "height_cm": "165", "pregnancy_test": "no",
                 "fasciculations": "1"},
        reason="examined after all",
    )  # fmt: skip
    rows = {r["field"]: r for r in build_analysis_frames(study).forms.to_dict("records")}
    assert rows["fasciculations"]["value_label"] == "present"


def test_the_demo_fills_the_reference_forms_marked_synthetic(demo_session: Session) -> None:
    """Issue 17, item 6: the reference protocol's own forms, filled by the demo with values
    labelled synthetic in the store and in the frames."""
    from alstrial.services import build_analysis_frames
    from alstrial.services.completeness import visit_completeness

    exams = form_instances(demo_session, "P01", "physical_exam")
    assert len(exams) >= 5
    assert all(e.synthetic for e in exams)
    [riluzole] = form_instances(demo_session, "P01", "concomitant_medication")
    assert riluzole.values["drug"] == "riluzole"
    assert riluzole.values["daily_dose"] == 100.0
    status = {
        a.assessment: a.status for a in visit_completeness(demo_session, "P01", "W-6").assessments
    }
    assert status["physical_exam"] == "recorded"
    forms = build_analysis_frames(demo_session).forms
    assert set(forms["provenance"]) == {"synthetic"}
    assert build_analysis_frames(demo_session).synthetic


def test_a_value_added_at_a_signed_visit_needs_a_reason_and_unsigns_it(study: Session) -> None:
    """Filling a field left blank inserts item rows only (the bulk insert, no ORM change):
    the signature lock still holds. Without a reason nothing is written; with one, the
    values are saved, the signature is removed, and the trail verifies."""
    from alstrial.store.models import VisitSignature

    _signed_w1(study, {"weight_kg": "70", "fasciculations": "1"})
    before = row_counts(study)
    error = refused(
        study,
        ConflictError,
        lambda: save_form_instance(
            study,
            actor=ACTOR,
            subject_code="S01",
            form="neuro_exam",
            visit_code="W-1",
            entered={"weight_kg": "70", "fasciculations": "1", "height_cm": "175"},
        ),
    )
    assert "W-1 is signed" in error.message
    assert row_counts(study) == before
    saved = save_form_instance(
        study,
        actor=ACTOR,
        subject_code="S01",
        form="neuro_exam",
        visit_code="W-1",
        entered={"weight_kg": "70", "fasciculations": "1", "height_cm": "175"},
        reason="height measured after the visit",
    )
    assert saved.values["height_cm"] == 175
    assert saved.values["bmi"] == 22.9
    assert study.scalars(sa.select(VisitSignature)).first() is None
    inserted = study.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.entity == "item_value",
            AuditEvent.reason == "height measured after the visit",
        )
    ).all()
    # One rows event holding the three items added: height, BMI and the low-BMI flag.
    [event] = inserted
    assert (event.action, event.field) == ("insert", ROWS)
    added = rows_event_records(event.new_value).values()
    assert sorted(str(row["field"]) for row in added) == ['"bmi"', '"bmi_low"', '"height_cm"']
    assert verify_audit_trail(study).ok


def test_the_bulk_insert_refuses_what_the_orm_refuses(study: Session) -> None:
    """A NUL byte or an over-long text, rows naming different columns, a row leaving out a
    column with a default, and a change without an actor: each refused by name, with
    nothing written."""
    from alstrial.store.audited_insert import insert_audited_rows

    saved = save_form_instance(
        study, actor=ACTOR, subject_code="S01", form="neuro_exam", visit_code="W-1", entered=EXAM
    )
    row = study.get(FormInstance, saved.id)
    assert row is not None
    good = {
        "form_instance_id": row.id,
        "subject_id": row.subject_id,
        "visit_id": row.visit_id,
        "field": "extra",
        "value": '"x"',
        "missing_code": None,
        "missing_reason": None,
        "confirmed": False,
    }
    before = row_counts(study)
    cases = [
        ([good | {"value": "a\x00b"}], "NUL byte"),
        ([good | {"field": "f" * 61}], "at most 60 fit"),
        ([good, {k: v for k, v in good.items() if k != "confirmed"}], "same columns"),
        # The default would be stored, and the audit event would hold no value for it.
        ([{k: v for k, v in good.items() if k != "confirmed"}], "column that has a default"),
    ]
    for rows, message in cases:
        with pytest.raises(ValidationError, match=message), transaction(study, actor=ACTOR):
            insert_audited_rows(study, ItemValue, rows)
        study.rollback()
        assert row_counts(study) == before, message
    with pytest.raises(ValidationError, match="no actor"):
        insert_audited_rows(study, ItemValue, [good])
    study.rollback()
    assert row_counts(study) == before


def test_the_keyed_bulk_insert_gives_each_row_its_own_id(study: Session) -> None:
    """With ``key``, the rows go in one statement and their ids are matched back by the key
    (SQLite does not promise RETURNING in row order): each id's stored row is the row it was
    returned for, its audit event carries it, and a key repeated between rows is refused with
    nothing written."""
    from alstrial.store.audited_insert import insert_audited_rows

    saved = save_form_instance(
        study, actor=ACTOR, subject_code="S01", form="neuro_exam", visit_code="W-1", entered=EXAM
    )
    row = study.get(FormInstance, saved.id)
    assert row is not None
    rows = [
        {
            "form_instance_id": row.id,
            "subject_id": row.subject_id,
            "visit_id": row.visit_id,
            "field": f"extra_{n}",
            "value": f'"{n}"',
            "missing_code": None,
            "missing_reason": None,
            "confirmed": n % 2 == 0,
        }
        for n in (5, 1, 4, 2, 3)
    ]
    with transaction(study, actor=ACTOR):
        ids = insert_audited_rows(study, ItemValue, rows, key="field")
    assert len(set(ids)) == len(rows)
    for new_id, given in zip(ids, rows, strict=True):
        stored = study.get(ItemValue, new_id)
        assert stored is not None
        assert (stored.field, stored.value, stored.confirmed) == (
            given["field"],
            given["value"],
            given["confirmed"],
        )
        history = record_history(study, "item_value", str(new_id))
        assert {line.field: line.new_value for line in history}["field"] == encode_value(
            sa.Text(), given["field"]
        )
    assert verify_audit_trail(study).ok
    before = row_counts(study)
    twice = [rows[0] | {"field": "again"}, rows[1] | {"field": "again"}]
    with pytest.raises(ValidationError, match="repeat their key"), transaction(study, actor=ACTOR):
        insert_audited_rows(study, ItemValue, twice, key="field")
    study.rollback()
    assert row_counts(study) == before


def test_a_monitor_verifies_a_form_instance_and_a_change_undoes_it(study: Session) -> None:
    """Source verification of the protocol's own forms (issue 17): a visit form and a
    subject-level repeating form, whole and field by field; a corrected item removes the
    instance's whole verification and that item's, not the others'; an item added later
    removes the whole verification; the progress counts instances; a field the form lacks,
    another subject's instance and an unknown instance are refused with nothing written."""
    from alstrial.services.verification import verification_progress, verify_instance
    from alstrial.store.models import SourceVerification

    exam = save_form_instance(
        study, actor=ACTOR, subject_code="S01", form="neuro_exam", visit_code="W-1", entered=EXAM
    )
    medication = save_form_instance(
        study,
        actor=ACTOR,
        subject_code="S01",
        form="study_medication",
        entered={"drug": "riluzole"},
    )
    progress = {p.subject: (p.records, p.verified) for p in verification_progress(study)}
    assert progress["S01"] == (2, 0)

    view = verify_instance(
        study,
        actor="monitor",
        subject_code="S01",
        form="neuro_exam",
        instance_id=exam.id,
        fields=["weight_kg", "height_cm"],
    )
    assert set(view.verified) == {"weight_kg", "height_cm"}
    assert not view.fully_verified
    view = verify_instance(
        study, actor="monitor", subject_code="S01", form="neuro_exam", instance_id=exam.id
    )
    assert view.fully_verified
    assert view.verified[""][0] == "monitor"
    whole = verify_instance(
        study,
        actor="monitor",
        subject_code="S01",
        form="study_medication",
        instance_id=medication.id,
    )
    assert whole.fully_verified  # at no visit: a subject-level form
    progress = {p.subject: (p.records, p.verified) for p in verification_progress(study)}
    assert progress["S01"] == (2, 2)

    _weighed_again(study)
    (after,) = form_instances(study, "S01", "neuro_exam")
    assert set(after.verified) == {"height_cm"}  # the whole and weight's went with the change
    save_form_instance(
        study,
        actor=ACTOR,
        subject_code="S01",
        form="study_medication",
        instance=1,
        entered={"drug": "riluzole", "daily_dose_mg": "100"},
        reason="dose found in the source",
    )
    (meds,) = form_instances(study, "S01", "study_medication")
    assert not meds.fully_verified  # an item added to a verified instance
    assert verify_audit_trail(study).ok

    error = refused(
        study,
        ValidationError,
        lambda: verify_instance(
            study,
            actor="monitor",
            subject_code="S01",
            form="neuro_exam",
            instance_id=exam.id,
            fields=["shoe_size"],
        ),
    )
    assert "shoe_size" in error.message
    assert "weight_kg" in str(error.allowed)
    other = save_form_instance(
        study, actor=ACTOR, subject_code="S02", form="neuro_exam", visit_code="W-1", entered=EXAM
    )
    for instance_id in (other.id, 99999):  # another subject's instance, and none
        refused(
            study,
            NotFoundError,
            lambda i=instance_id: verify_instance(  # type: ignore[misc]
                study, actor="monitor", subject_code="S01", form="neuro_exam", instance_id=i
            ),
        )
    assert study.scalar(sa.select(sa.func.count()).select_from(SourceVerification)) == 1


CONSENT_FORM = """
[[forms]]
name = "consent_scan"
title = "Signed consent"
scope = "subject"

[[forms.fields]]
name = "scan"
label = "Scanned consent"
type = "file"
required = true

[[forms.fields]]
name = "note"
label = "Note"
type = "text"
"""


def test_a_file_field_stores_the_file_with_its_digest(session: Session) -> None:
    """A file field (issue 17): the file is stored in the save's transaction and the audited
    item names it; it reads back byte for byte; a correction keeps it or, with a reason,
    replaces it; an oversized file, a name with control characters, a forged reference and
    another subject's file are refused at the field with nothing written; the database
    refuses to change or remove a stored file, and a file changed behind its back is refused
    when read."""
    from alstrial.exceptions import IntegrityError as StoreIntegrityError
    from alstrial.protocol.form_values import FileUpload
    from alstrial.services.attachments import read_attachment
    from alstrial.store.models import Attachment

    amend(session, protocol_text() + CONSENT_FORM)
    enrolled(session, "S01")
    enrolled(session, "S02", sex=Sex.FEMALE)
    pdf = b"%PDF-1.4 consent signed 2024-01-10\n" * 100

    def save(subject: str, scan: object, **extra: object) -> object:
        return save_form_instance(
            session,
            actor=ACTOR,
            subject_code=subject,
            form="consent_scan",
            entered={"scan": scan, **extra.pop("entered", {})},  # type: ignore[dict-item]
            **extra,  # type: ignore[arg-type]
        )

    saved = save("S01", FileUpload("C:\\scans\\consent S01.pdf", "application/pdf", pdf))
    reference = saved.values["scan"]  # type: ignore[attr-defined]
    assert isinstance(reference, str)
    assert reference.startswith("attachment:")
    attachment_id = int(reference.split(":")[1])
    info, content = read_attachment(session, "S01", attachment_id)
    assert content == pdf
    assert (info.filename, info.media_type, info.size_bytes) == (
        "consent S01.pdf",
        "application/pdf",
        len(pdf),
    )
    assert info.sha256 == hashlib.sha256(pdf).hexdigest()
    item = session.scalars(sa.select(ItemValue).where(ItemValue.field == "scan")).one()
    assert item.value == reference
    history = record_history(session, "item_value", str(item.id))
    assert {line.field: line.new_value for line in history}["value"] == encode_value(
        sa.Text(), reference
    )

    # A correction that keeps the file, and one that replaces it (a reason is needed).
    kept = save("S01", reference, entered={"note": "original in the site file"})
    assert kept.values["scan"] == reference  # type: ignore[attr-defined]
    error = refused(session, ValidationError, lambda: save("S01", FileUpload("v2.pdf", "", b"2")))
    assert "needs a reason" in error.message
    replaced = save("S01", FileUpload("v2.pdf", "", b"v2"), reason="re-scanned, legible")
    assert replaced.values["scan"] != reference  # type: ignore[attr-defined]
    assert read_attachment(session, "S01", attachment_id)[1] == pdf  # the first one stays

    # Refusals, each at the field, nothing written.
    other = save("S02", FileUpload("s02.pdf", "application/pdf", b"S02"))
    cases = [
        (FileUpload("big.pdf", "", b"x" * 2048), "at most 1,024"),
        (FileUpload("bad\x07name.pdf", "", b"x"), "control characters"),
        (FileUpload("empty.pdf", "", b""), "is empty"),
        ("attachment:999999", "no such file of S01"),
        (other.values["scan"], "no such file of S01"),  # type: ignore[attr-defined]
        ("consent.pdf", "is not a file"),
    ]
    for scan, message in cases:
        failed = refused(
            session,
            FormValidationError,
            lambda s=scan: save("S01", s, max_file_bytes=1024, reason="test"),  # type: ignore[misc]
        )
        assert message in failed.errors["scan"], (scan, failed.errors)
    with pytest.raises(NotFoundError):
        read_attachment(session, "S01", int(str(other.values["scan"]).split(":")[1]))  # type: ignore[attr-defined]

    # Stored files never change: the database refuses; one changed behind its back is refused.
    for statement in ("UPDATE attachment SET filename = 'forged.pdf'", "DELETE FROM attachment"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            session.execute(sa.text(statement))
        session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 3
    if session.get_bind().dialect.name == "sqlite":
        session.execute(sa.text("DROP TRIGGER attachment_no_update"))
        session.execute(
            sa.text("UPDATE attachment SET content = :forged WHERE id = :id"),
            {"forged": b"%PDF forged", "id": attachment_id},
        )
        session.commit()
        with pytest.raises(StoreIntegrityError, match="does not match the digest"):
            read_attachment(session, "S01", attachment_id)
    assert verify_audit_trail(session).ok


def test_a_rows_event_replays_to_the_items_and_names_an_edited_one(study: Session) -> None:
    """A form instance's items are one rows event: ``audit verify`` replays each item from
    it and names one edited or removed behind alstrial's back, a data cut holds the items
    as saved, and a correction after it is a per-field event in the item's history."""
    from alstrial.interop.data_cut import DataCut, cut_session

    saved = save_form_instance(
        study, actor=ACTOR, subject_code="S01", form="neuro_exam", visit_code="W-1", entered=EXAM
    )
    assert verify_audit_trail(study).ok
    cut_at = study.scalar(sa.select(sa.func.max(AuditEvent.seq)))
    items = {i.field: i for i in study.scalars(sa.select(ItemValue))}
    as_saved = {field: item.value for field, item in items.items()}
    weight = items["weight_kg"]
    study.execute(sa.text("UPDATE item_value SET value = '99.0' WHERE id = :id"), {"id": weight.id})
    study.commit()
    problem = verify_audit_trail(study).problem or ""
    assert f"item_value record {weight.id} field value" in problem
    study.execute(sa.text("UPDATE item_value SET value = :v WHERE id = :id"), {
        "v": weight.value, "id": weight.id})  # fmt: skip
    study.execute(sa.text("DELETE FROM item_value WHERE id = :id"), {"id": items["bmi"].id})
    study.commit()
    problem = verify_audit_trail(study).problem or ""
    assert f"item_value record {items['bmi'].id} is in the audit trail but not in the data" in (
        problem
    )
    study.execute(
        sa.text(
            "INSERT INTO item_value (id, form_instance_id, subject_id, visit_id, field, value, "
            "missing_code, missing_reason, confirmed) VALUES (:id, :form_instance_id, "
            ":subject_id, :visit_id, :field, :value, :missing_code, :missing_reason, :confirmed)"
        ),
        {c: getattr(items["bmi"], c) for c in ItemValue.__table__.columns.keys()},  # noqa: SIM118
    )
    study.commit()
    assert verify_audit_trail(study).ok

    corrected = _weighed_again(study)
    assert corrected.values["weight_kg"] == 72.0
    history = record_history(study, "item_value", str(weight.id))
    assert [(line.action, line.field) for line in history if line.field == "value"] == [
        ("insert", "value"),
        ("update", "value"),
    ]
    assert history[-1].reason == "scale recalibrated"
    with cut_session(study, DataCut(seq=cut_at)) as cut:
        stored = {i.field: i.value for i in cut.scalars(sa.select(ItemValue))}
    assert stored == as_saved
    assert saved.id in {i.form_instance_id for i in items.values()}


def test_a_visit_found_unsigned_is_looked_up_again_once_signed_in_the_transaction(
    study: Session,
) -> None:
    """The lock check remembers, for one transaction, a visit it found unsigned (a form's
    instance and then its items are inserted at one visit). A signature added in that
    transaction makes it look again: rows inserted at the visit after it need a reason."""
    from datetime import UTC, datetime

    from alstrial.store.audited_insert import insert_audited_rows
    from alstrial.store.models import Subject, User, Visit, VisitSignature

    _signed_w1(study, {"weight_kg": "70", "fasciculations": "1"})
    with transaction(study, actor=ACTOR, reason="test: unsigned again"):
        study.delete(study.scalars(sa.select(VisitSignature)).one())
    subject = study.scalars(sa.select(Subject).where(Subject.study_code == "S01")).one()
    visit = study.scalars(
        sa.select(Visit).where(Visit.subject_id == subject.id, Visit.code == "W-1")
    ).one()
    instance = study.scalars(sa.select(FormInstance)).one()
    investigator = study.scalars(sa.select(User).where(User.username == "inv")).one()

    def item(field: str) -> dict[str, object]:
        return {
            "form_instance_id": instance.id,
            "subject_id": subject.id,
            "visit_id": visit.id,
            "field": field,
            "value": "1",
            "missing_code": None,
            "missing_reason": None,
            "confirmed": False,
        }

    with transaction(study, actor=ACTOR):
        insert_audited_rows(study, ItemValue, [item("extra_1")], key="field")  # unsigned
        study.add(
            VisitSignature(
                visit_id=visit.id,
                signed_by_id=investigator.id,
                signed_at=datetime.now(UTC),
                meaning="test",
            )
        )
        study.flush()
        with pytest.raises(ConflictError, match="W-1 is signed"):
            insert_audited_rows(study, ItemValue, [item("extra_2")], key="field")
    fields = set(study.scalars(sa.select(ItemValue.field)))
    assert "extra_1" in fields
    assert "extra_2" not in fields
    assert study.scalars(sa.select(VisitSignature)).one().visit_id == visit.id
    assert verify_audit_trail(study).ok


def test_the_history_of_a_removed_item_still_holds_its_insert(study: Session) -> None:
    """An item removed through alstrial (with a reason) is no longer in the data; its
    history still finds its insert in the rows event of its form instance, through the
    instance its delete event recorded, and the trail verifies."""
    save_form_instance(
        study, actor=ACTOR, subject_code="S01", form="neuro_exam", visit_code="W-1", entered=EXAM
    )
    item = study.scalars(sa.select(ItemValue).where(ItemValue.field == "bmi")).one()
    item_id, value = item.id, item.value
    with transaction(study, actor=ACTOR, reason="entered in error"):
        study.delete(item)
    history = record_history(study, "item_value", str(item_id))
    assert {(line.action, line.field, line.new_value) for line in history} >= {
        ("insert", "value", encode_value(sa.Text(), value)),
    }
    assert {line.action for line in history} == {"insert", "delete"}
    assert verify_audit_trail(study).ok


def test_two_saves_taking_one_instance_number_at_once_conflict(
    study: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two saves that read the same next instance number at the same moment: the second's
    insert breaks the instance's unique key, on SQLite through the driver's own statements
    (``store/sqlite_statements.py``) as on PostgreSQL; the user is told to retry, nothing of
    the second save is written, and the chain still verifies."""
    import alstrial.services.dictionary_forms as dictionary_forms

    def save() -> object:
        return save_form_instance(
            study,
            actor=ACTOR,
            subject_code="S01",
            form="study_medication",
            entered={"drug": "riluzole", "daily_dose_mg": "100"},
        )

    save()
    # The second save read the number before the first committed: 1, as the first did.
    monkeypatch.setattr(dictionary_forms, "_next_instance", lambda *args: 1)
    error = refused(study, ConflictError, save)
    assert "at the same time" in error.message
    assert [i.instance for i in form_instances(study, "S01", "study_medication")] == [1]
    assert verify_audit_trail(study).ok
