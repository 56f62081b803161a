"""Checking a dictionary form's values (issue 17): every problem at once, at its field, with
its label; branching hides and drops; calculated fields from what was read; soft ranges need
a confirmation; a required field closes with a missing-data code and a reason."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from alstrial.protocol import parse_protocol
from alstrial.protocol.dictionary import DictionaryForm
from alstrial.protocol.form_values import (
    Missing,
    check_form,
    decode_value,
    encode_value,
    read_value,
)
from tests.test_dictionary import protocol_text


@pytest.fixture(scope="module")
def exam() -> DictionaryForm:
    return parse_protocol(protocol_text()).form("neuro_exam")


@pytest.fixture(scope="module")
def medication() -> DictionaryForm:
    return parse_protocol(protocol_text()).form("study_medication")


FEMALE = {"sex": "female", "age_years": 41}
MALE = {"sex": "male", "age_years": 41}


def test_a_good_form_computes_its_calculated_fields(exam: DictionaryForm) -> None:
    checked = check_form(
        exam,
        {"weight_kg": "70", "height_cm": "175", "fasciculations": "1", "pregnancy_test": "no"},
        subject=FEMALE,
    )
    assert checked.ok, checked.errors
    assert checked.values["bmi"] == 22.9
    assert checked.values["bmi_low"] is False
    assert checked.values["pregnancy_test"] is False


def test_every_error_is_shown_at_once_with_its_label(exam: DictionaryForm) -> None:
    """Issue 17: a save reported one error at a time, with internal names."""
    checked = check_form(
        exam,
        {"weight_kg": "seventy", "height_cm": "400", "fasciculations": "2", "colour": "x"},
        subject=MALE,
    )
    assert checked.errors == {
        "weight_kg": "Weight: 'seventy' is not a number",
        "height_cm": "Height: 400 cm is above maximum 230 cm",
        "fasciculations": "Fasciculations: '2' is not one of the choices (0 = absent, 1 = present)",
        "colour": "Neurological examination has no field 'colour'",
    }
    assert checked.values["bmi"] is None  # blank over a refused value, not a wrong number


def test_branching_hides_and_drops_what_was_entered_in_a_hidden_field(
    exam: DictionaryForm,
) -> None:
    entered = {"weight_kg": "70", "height_cm": "175", "fasciculations": "0"}
    checked = check_form(exam, entered | {"pregnancy_test": "yes"}, subject=MALE)
    assert checked.ok
    assert "pregnancy_test" in checked.hidden
    assert checked.dropped == {"pregnancy_test"}
    assert "pregnancy_test" not in checked.values
    shown = check_form(exam, entered, subject=FEMALE)
    assert "pregnancy_test" not in shown.hidden
    older = check_form(exam, entered, subject={"sex": "female", "age_years": 60})
    assert "pregnancy_test" in older.hidden


def test_required_fields_close_with_a_missing_code_and_a_reason(exam: DictionaryForm) -> None:
    entered = {"weight_kg": "70", "height_cm": "175"}
    blank = check_form(exam, entered, subject=MALE)
    assert blank.errors == {
        "fasciculations": "Fasciculations is required (or close it with a missing-data code "
        "and a reason)"
    }
    closed = check_form(
        exam,
        entered,
        subject=MALE,
        missing={"fasciculations": Missing("not_done", "patient too tired")},
    )
    assert closed.ok
    assert closed.missing["fasciculations"].code == "not_done"
    no_reason = check_form(
        exam, entered, subject=MALE, missing={"fasciculations": Missing("unknown", " ")}
    )
    assert no_reason.errors["fasciculations"] == (
        "Fasciculations: a missing-data code needs its reason"
    )
    wrong_code = check_form(
        exam, entered, subject=MALE, missing={"fasciculations": Missing("lost", "x")}
    )
    assert "'lost' is not allowed" in wrong_code.errors["fasciculations"]
    both = check_form(
        exam,
        entered | {"fasciculations": "1"},
        subject=MALE,
        missing={"fasciculations": Missing("unknown", "x")},
    )
    assert "has a value and a missing-data code" in both.errors["fasciculations"]


def test_a_soft_range_value_needs_a_confirmation(medication: DictionaryForm) -> None:
    entered = {"drug": "riluzole", "daily_dose_mg": "500", "started": "2024-05-01"}
    first = check_form(medication, entered)
    assert not first.ok
    assert not first.errors
    assert first.soft == {
        "daily_dose_mg": "Daily dose: 500.0 mg is above the expected maximum 400 mg; "
        "confirm the value to save it"
    }
    confirmed = check_form(medication, entered, confirmed={"daily_dose_mg"})
    assert confirmed.ok
    assert confirmed.confirmed == {"daily_dose_mg"}
    hard = check_form(medication, entered | {"daily_dose_mg": "5001"}, confirmed={"daily_dose_mg"})
    assert hard.errors["daily_dose_mg"] == "Daily dose: 5001.0 mg is above maximum 5000 mg"


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("daily_dose_mg", "12.25", "12.25 has 2 decimals; at most 1"),
        ("daily_dose_mg", "nan", "'nan' is not a number"),
        ("daily_dose_mg", "1e999", "is not a finite number"),
        ("started", "01/05/2024", "'01/05/2024' is not a date (YYYY-MM-DD)"),
        ("started", "1989-12-31", "1989-12-31 is below minimum 1990-01-01"),
        ("drug", "x" * 121, "121 characters; at most 120"),
    ],
)
def test_bad_values_are_refused_at_their_field(
    medication: DictionaryForm, name: str, raw: str, message: str
) -> None:
    entered = {"drug": "riluzole", "daily_dose_mg": "100", "started": "2024-05-01"}
    checked = check_form(medication, entered | {name: raw})
    assert message in checked.errors[name]
    assert set(checked.errors) == {name}


def test_values_round_trip_through_their_stored_text(exam: DictionaryForm) -> None:
    protocol = parse_protocol(protocol_text())
    medication = protocol.form("study_medication")
    for form, name, value in (
        (exam, "weight_kg", 70.5),
        (exam, "height_cm", 175),
        (exam, "fasciculations", "1"),
        (exam, "pregnancy_test", True),
        (medication, "started", date(2024, 5, 1)),
        (exam, "bmi", 22.9),
        (exam, "bmi_low", False),
    ):
        f = form.field(name)
        assert decode_value(f, encode_value(value)) == value
    # Every type the check returns, as read from what a browser sends: the save's view of a
    # new instance is the checked value itself, which must be what a later read decodes.
    choice = exam.field("fasciculations")
    for kind, raw in (
        ("integer", " 12 "),
        ("decimal", "70.50"),
        ("text", "  riluzole 50 mg "),
        ("notes", "first line\r\n  second "),
        ("yesno", "no"),
        ("choice", " 1 "),
        ("multichoice", ["0", "1"]),
        ("date", "2024-05-01"),
        ("time", "09:30"),
        ("datetime", "2024-05-01T09:30"),
    ):
        f = (choice if kind in ("choice", "multichoice") else exam.field("weight_kg")).model_copy(
            update={"type": kind, "min": None, "max": None}
        )
        typed = read_value(f, raw)
        assert decode_value(f, encode_value(typed)) == typed, kind
        assert type(decode_value(f, encode_value(typed))) is type(typed), kind
    with pytest.raises(ValueError, match="time zone"):
        read_value(
            exam.field("weight_kg").model_copy(update={"type": "datetime"}),
            datetime.fromisoformat("2026-01-01T10:00+01:00"),
        )
