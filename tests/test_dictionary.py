"""The data dictionary in the protocol (issue 17): a study's own forms, validated when the
protocol is read, each error naming the form, the field and what was expected."""

from __future__ import annotations

import pytest

from alstrial.exceptions import ProtocolError
from alstrial.protocol import parse_protocol, reference_protocol_text
from alstrial.protocol.expressions import evaluate

FORMS = """
[[forms]]
name = "study_medication"
title = "Concomitant medication"
scope = "subject"
repeating = true

[[forms.fields]]
name = "drug"
label = "Drug"
type = "text"
required = true
max_length = 120

[[forms.fields]]
name = "daily_dose_mg"
label = "Daily dose"
type = "decimal"
unit = "mg"
decimals = 1
min = 0
max = 5000
soft_max = 400

[[forms.fields]]
name = "started"
label = "Started on"
type = "date"
min = "1990-01-01"

[[forms]]
name = "neuro_exam"
title = "Neurological examination"
scope = "visit"

[[forms.fields]]
name = "weight_kg"
label = "Weight"
type = "decimal"
unit = "kg"
min = 20
max = 250

[[forms.fields]]
name = "height_cm"
label = "Height"
type = "integer"
unit = "cm"
min = 100
max = 230

[[forms.fields]]
name = "bmi"
label = "Body-mass index"
type = "calc"
calc = "round(weight_kg / (height_cm / 100) ** 2, 1)"
decimals = 1

[[forms.fields]]
name = "bmi_low"
label = "Underweight"
type = "calc"
calc = "bmi < 18.5"

[[forms.fields]]
name = "fasciculations"
label = "Fasciculations"
type = "choice"
choices = [{code = "0", label = "absent"}, {code = "1", label = "present"}]
required = true

[[forms.fields]]
name = "pregnancy_test"
label = "Pregnancy test done"
type = "yesno"
show_if = 'subject.sex == "female" and subject.age_years < 55'
"""


def protocol_text(forms: str = FORMS, schedule: str = "neuro_exam") -> str:
    text = reference_protocol_text()
    old = 'assessments = ["physical_exam", "alsfrs_r", "spirometry", "labs", "vitals", "mri"]'
    assert old in text
    return (
        text.replace(old, old.replace('"mri"]', f'"mri", "{schedule}"]'), 1) + forms
        if schedule
        else text + forms
    )


def test_a_dictionary_parses_and_schedules_its_visit_form() -> None:
    protocol = parse_protocol(protocol_text())
    assert [f.name for f in protocol.forms][-2:] == ["study_medication", "neuro_exam"]
    exam = protocol.form("neuro_exam")
    assert "neuro_exam" in protocol.visit("W-1").assessments
    assert exam.calc_order() == ["bmi", "bmi_low"]
    bmi = exam.expression("bmi", "calc")
    assert bmi is not None
    assert evaluate(bmi, {"weight_kg": 70.0, "height_cm": 175}) == 22.9
    medication = protocol.form("study_medication")
    assert medication.repeating
    assert medication.field("drug").required
    assert medication.field("daily_dose_mg").soft_max == 400


def _replace(old: str, new: str) -> str:
    assert old in FORMS, old
    return FORMS.replace(old, new, 1)


@pytest.mark.parametrize(
    ("forms", "schedule", "expected"),
    [
        (
            _replace('calc = "bmi < 18.5"', 'calc = "bmi < 18.5 and wieght_kg > 0"'),
            "neuro_exam",
            "form 'neuro_exam', field 'bmi_low', calc: unknown name 'wieght_kg' at position 16",
        ),
        (
            _replace('subject.sex == "female"', 'subject.gender == "female"'),
            "neuro_exam",
            "unknown name 'subject.gender' at position 1",
        ),
        (
            _replace(
                'calc = "round(weight_kg / (height_cm / 100) ** 2, 1)"',
                'calc = "bmi_low + 1"',
            ),
            "neuro_exam",
            "calculated fields depend on each other in a cycle: bmi -> bmi_low -> bmi",
        ),
        (
            _replace('{code = "1", label = "present"}', '{code = "0", label = "present"}'),
            "neuro_exam",
            "field 'fasciculations': choice code(s) 0 repeated",
        ),
        (
            _replace("min = 20\nmax = 250", "min = 250\nmax = 20"),
            "neuro_exam",
            "field 'weight_kg': min 250 is above max 20",
        ),
        (
            _replace("soft_max = 400", "soft_max = 6000"),
            "neuro_exam",
            "soft_max 6000 is above max 5000 (the soft range lies inside the hard one)",
        ),
        (
            _replace('min = "1990-01-01"', 'min = "01/01/1990"'),
            "neuro_exam",
            "range bound '01/01/1990' is not an ISO 8601 date",
        ),
        (
            _replace("max_length = 120", 'max_length = 120\npattern = "[A-Z"'),
            "neuro_exam",
            "pattern '[A-Z' is not a regular expression",
        ),
        (
            _replace("round(weight_kg", "round(weight_kg $"),
            "neuro_exam",
            "form 'neuro_exam', field 'bmi', calc: unexpected character '$' at position 17",
        ),
        (FORMS, "neuro_exams", "unknown assessment(s) neuro_exams"),
        (FORMS, "study_medication", "unknown assessment(s) study_medication"),
        (
            _replace('name = "neuro_exam"', 'name = "vitals"'),
            "",
            "form(s) vitals take the name of a built-in assessment",
        ),
        (
            _replace('name = "height_cm"', 'name = "weight_kg"'),
            "neuro_exam",
            "form 'neuro_exam': field(s) weight_kg repeated",
        ),
        (
            _replace('type = "yesno"', 'type = "yesno"\nrequired = true\nmin = 1'),
            "neuro_exam",
            "min apply to numbers, dates and times, not yesno",
        ),
        (
            _replace('type = "choice"\n', 'type = "radio"\n'),
            "neuro_exam",
            "fields[4].type",
        ),
        (
            _replace('type = "yesno"', 'type = "yesno"\nlayout = "select"'),
            "neuro_exam",
            "layout 'select' (a drop-down list) is for choice fields only (this one is yesno)",
        ),
    ],
)
def test_a_bad_dictionary_is_refused_naming_form_field_and_expectation(
    forms: str, schedule: str, expected: str
) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_protocol(protocol_text(forms, schedule))
    assert expected in caught.value.message
