"""The built-in forms are declared as data, in the data dictionary's language (issue 17)."""

from __future__ import annotations

from enum import Enum

import pytest

from alstrial.exceptions import ConfigurationError
from alstrial.protocol.builtin_forms import load_builtin_forms
from alstrial.scoring import GliEthnicity
from alstrial.services.builtin_forms import BUILTIN_CATALOGUES as _CATALOGUES
from alstrial.vocabulary import (
    AdverseEventOutcome,
    CultureEventKind,
    DiagnosticCategory,
    DispositionStatus,
    MilestoneKind,
    OnsetRegion,
    Relatedness,
    Sex,
)
from alstrial.web.batch_forms import BATCH_FORMS, NEW_BATCH, VIABILITY_FIELDS
from alstrial.web.forms import DECLARED, ENROLMENT, FORMS, REGISTRATION

#: Choices the declarations list that are alstrial's vocabularies: they must be exactly the
#: vocabulary's codes, or a site could choose a value the service refuses.
VOCABULARIES: list[tuple[str, str, type[Enum]]] = [
    ("registration", "sex", Sex),
    ("registration", "onset_region", OnsetRegion),
    ("registration", "ethnicity", GliEthnicity),
    ("registration", "diagnostic_category", DiagnosticCategory),
    ("adverse_event", "relatedness", Relatedness),
    ("adverse_event", "outcome", AdverseEventOutcome),
    ("milestone", "kind", MilestoneKind),
    ("disposition", "status", DispositionStatus),
    ("culture_event", "kind", CultureEventKind),
]


@pytest.mark.parametrize(("form", "field", "vocabulary"), VOCABULARIES)
def test_declared_choices_are_the_vocabularys_codes(
    form: str, field: str, vocabulary: type[Enum]
) -> None:
    declared = DECLARED[form].field(field)
    assert [c.code for c in declared.choices] == [m.value for m in vocabulary]


def test_every_web_form_is_a_declared_one() -> None:
    """The web's built-in forms take title, scope, fields, assessment and correction from
    the declarations: one source."""
    for spec in (*FORMS.values(), REGISTRATION, ENROLMENT, NEW_BATCH, *BATCH_FORMS.values()):
        declared = DECLARED[spec.name]
        assert (spec.title, spec.scope, spec.assessment, spec.corrects) == (
            declared.title,
            declared.scope,
            declared.assessment,
            declared.corrects,
        )
        assert [f.name for f in spec.fields] == [f.name for f in declared.fields]
        assert [f.label for f in spec.fields] == [f.label for f in declared.fields]
    assert set(DECLARED) == {*FORMS, "registration", "enrolment", NEW_BATCH.name, *BATCH_FORMS}
    # The manufacturing forms: entered for a batch; the batch record's viability by method
    # is read from the fields the declaration names, and offers exactly those methods.
    assert {NEW_BATCH.scope, *(spec.scope for spec in BATCH_FORMS.values())} == {"batch"}
    record = DECLARED["batch_record"]
    assert set(VIABILITY_FIELDS) <= {f.name for f in record.fields}
    assert [c.code for c in record.field("viability_method").choices] == list(
        VIABILITY_FIELDS.values()
    )


def test_alsfrs_item_12_wording_agrees_with_the_clinical_reference() -> None:
    """../shared/clinical-reference/README.md, ALSFRS-R: item 12 anchors: 4 none;
    3 intermittent BiPAP; 2 continuous BiPAP at night; 1 continuous BiPAP night and day;
    0 invasive mechanical ventilation."""
    item = DECLARED["alsfrs"].field("item_12")
    wording = {c.code: c.label.lower() for c in item.choices}
    assert wording["4"] == "4: none"
    assert "intermittent" in wording["3"]
    assert "bipap" in wording["3"]
    assert "continuous" in wording["2"]
    assert "night" in wording["2"]
    assert "night and day" in wording["1"]
    assert "invasive mechanical ventilation" in wording["0"]
    assert item.integer_codes
    assert item.layout == "radio"


def _shipped() -> str:
    from importlib import resources

    return resources.files("alstrial.data").joinpath("builtin_forms.toml").read_text("utf-8")


def test_a_declaration_edited_as_data_changes_the_form() -> None:
    text = _shipped().replace('label = "Systolic"', 'label = "Systolic blood pressure"', 1)
    forms = load_builtin_forms(_CATALOGUES, text)
    assert forms["vitals"].field("systolic_mmhg").label == "Systolic blood pressure"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('choices_from = "analytes"', 'choices_from = "enzymes"', "no choice catalogue 'enzymes'"),
        ('name = "fvc_litres"', 'name = "FVC litres"', "fvc_litres|FVC litres|pattern"),
        ('unit = "L"', 'unit = "L"\nmin = 9\nmax = 1', "min 9 is above max 1"),
    ],
)
def test_a_bad_declaration_is_refused_naming_the_form(old: str, new: str, expected: str) -> None:
    text = _shipped()
    assert old in text
    with pytest.raises(ConfigurationError, match=expected) as caught:
        load_builtin_forms(_CATALOGUES, text.replace(old, new, 1))
    assert "built-in form '" in caught.value.message


def test_a_declared_form_is_read_by_the_dictionarys_checker() -> None:
    """The web reads a built-in form through its declaration: a hard range added to the
    declaration (data, no code) is refused at its field by the live check and the save alike,
    every problem at once, and the values come back typed for the service."""
    from dataclasses import replace
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from alstrial.exceptions import FormValidationError
    from alstrial.web.forms import check_form, parse_form

    text = _shipped().replace('label = "Systolic"', 'label = "Systolic"\nmin = 50\nmax = 250', 1)
    spec = replace(FORMS["vitals"], declared=load_builtin_forms(_CATALOGUES, text)["vitals"])
    zone = ZoneInfo("Europe/Warsaw")
    raw = {"measured_at": "2025-03-01T09:30", "systolic_mmhg": "260", "heart_rate_bpm": "x"}
    values, errors = check_form(spec, raw, zone)
    assert "above maximum 250" in errors["systolic_mmhg"]
    assert "Heart rate" in errors["heart_rate_bpm"]
    assert values["measured_at"] == datetime(2025, 3, 1, 9, 30, tzinfo=zone)
    with pytest.raises(FormValidationError) as caught:
        parse_form(spec, raw, zone)
    assert set(caught.value.errors) == set(errors)
    good, none = check_form(spec, raw | {"systolic_mmhg": "120", "heart_rate_bpm": "72"}, zone)
    assert none == {}
    assert good["systolic_mmhg"] == 120
    assert good["note"] is None


def test_integer_codes_and_boxes_reach_the_services_typed() -> None:
    """An ALSFRS-R item's chosen code is a whole number; a yes/no answer is True or False,
    and no answer is refused; a multiple choice is a tuple."""
    from zoneinfo import ZoneInfo

    from alstrial.web.forms import check_form

    zone = ZoneInfo("UTC")
    values, _ = check_form(FORMS["alsfrs"], {"item_3": "2"}, zone)
    assert values["item_3"] == 2
    assert "item_5b" in values
    assert values["item_5b"] is None
    ae = {"serious": "yes", "seriousness": ["hospitalisation"], "expected": "no"}
    values, errors = check_form(FORMS["adverse_event"], ae, zone)
    assert values["serious"] is True
    assert values["expected"] is False
    # A yes/no question shown as radio buttons has no default: unanswered is refused.
    values, errors = check_form(FORMS["adverse_event"], ae | {"expected": ""}, zone)
    assert "expected" not in values
    assert "required" in errors["expected"]
    assert values["seriousness"] == ("hospitalisation",)
    assert "seriousness" not in errors


def test_the_screening_form_is_declared_from_the_protocols_criteria() -> None:
    """The screening form's fields are the protocol's criteria (run time), declared in the
    dictionary's language and read by its checker like every built-in form: each finding
    carries its criteria as help, a yes/no finding offers exactly yes and no, a number that
    is not one and a code not offered are refused at their fields, and a finding left blank
    is unknown, not refused."""
    from zoneinfo import ZoneInfo

    from alstrial.protocol import parse_protocol, reference_protocol_text
    from alstrial.web.forms import check_form, screening_form

    protocol = parse_protocol(reference_protocol_text())
    spec = screening_form(protocol)
    assert spec.declared is not None
    assert [f.name for f in spec.fields] == [f.name for f in spec.declared.fields]
    tested = {c.field for c in protocol.eligibility}
    assert {f.name for f in spec.fields} - {"screening_date"} <= tested
    familial = spec.declared.field("familial_als")
    assert [c.code for c in familial.choices] == ["yes", "no"]
    assert any(c.text in familial.help for c in protocol.eligibility if c.field == "familial_als")
    zone = ZoneInfo("UTC")
    raw = {"screening_date": "2024-01-10", "alsfrs_total": "abc", "familial_als": "maybe"}
    values, errors = check_form(spec, raw, zone)
    assert "not a number" in errors["alsfrs_total"]
    assert "not one of the choices" in errors["familial_als"]
    values, errors = check_form(spec, {"screening_date": "2024-01-10"}, zone)
    assert errors == {}
    assert values["alsfrs_total"] is None
