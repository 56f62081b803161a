"""The study definition: the reference protocol, validation errors, schedule, eligibility."""

from __future__ import annotations

from datetime import date

import pytest

from alstrial.exceptions import NotFoundError, ProtocolError
from alstrial.protocol import (
    CriterionStatus,
    WindowStatus,
    evaluate_eligibility,
    load_protocol,
    parse_protocol,
    plan_visits,
    reference_protocol_text,
    window_status,
)

REFERENCE = reference_protocol_text()


def test_reference_protocol_matches_the_paper() -> None:
    protocol = parse_protocol(REFERENCE)
    assert [(a.code, a.route, a.dose_cells_per_kg, a.volume_ml) for a in protocol.arms] == [
        ("IV", "intravenous", 2e6, 5),
        ("IT", "intrathecal", 2e6, 5),
    ]
    assert [a.registration for a in protocol.arms] == ["NCT01759797", "NCT01771640"]
    assert [v.day for v in protocol.visits] == [-42, -28, -14, -7, 0, 1, 61, 122, 183, 365]
    assert [v.code for v in protocol.visits if "mri" in v.assessments] == ["W-1", "M12"]
    assert protocol.administration_visit.code == "D0"
    assert len(protocol.adverse_event_checklist) == 29
    assert {c.id for c in protocol.eligibility} == {"I1", "I2", "I3", "I4", "I5", "I6", "E1", "E2"}


@pytest.mark.parametrize(
    ("old", "new", "key", "expected"),
    [
        ("day = 61", 'day = "two months"', "visits[6].day", "valid integer"),
        (
            '"labs", "vitals", "mri"]',
            '"labs", "vitals", "xray"]',
            "visits[3].assessments",
            "unknown assessment(s) xray",
        ),
        (
            'dose_cells_per_kg = 2.0e6\ndose_tolerance_pct = 10\nvolume_ml = 5\nexcipient = "0.9 % '
            'sodium chloride with 2 % human serum albumin"\nregistration = "NCT01771640"',
            'dose_cells_per_kg = -1.0\ndose_tolerance_pct = 10\nvolume_ml = 5\nregistration = "x"',
            "arms[1].dose_cells_per_kg",
            "greater than 0",
        ),
        (
            'route = "intrathecal"',
            'route = "oral"',
            "arms[1].route",
            "'intravenous' or 'intrathecal'",
        ),
        ('code = "W-4"', 'code = "W-6"', "(file)", "duplicate visits code(s): W-6"),
        (
            'assessments = ["administration", "vitals", "adverse_events"]',
            'assessments = ["vitals", "adverse_events"]',
            "(file)",
            "exactly one visit must schedule 'administration'",
        ),
    ],
)
def test_broken_protocol_names_key_value_and_expectation(
    old: str, new: str, key: str, expected: str
) -> None:
    assert old in REFERENCE
    with pytest.raises(ProtocolError) as caught:
        parse_protocol(REFERENCE.replace(old, new, 1), source="bad.toml")
    assert caught.value.field == key
    assert expected in caught.value.message
    assert caught.value.message.startswith(f"bad.toml: key {key}: ")


def test_bad_toml_and_missing_file(tmp_path: object) -> None:
    with pytest.raises(ProtocolError, match="not valid TOML"):
        parse_protocol("[study\n")
    with pytest.raises(NotFoundError, match="does not exist"):
        load_protocol("/nonexistent/protocol.toml")


def test_schedule_and_window_status() -> None:
    plan = {p.code: p for p in plan_visits(parse_protocol(REFERENCE), date(2024, 3, 1))}
    assert plan["W-6"].planned_date == date(2024, 1, 19)
    assert plan["M2"].window_start == date(2024, 4, 24)
    assert plan["M2"].window_end == date(2024, 5, 8)
    m2 = plan["M2"]
    assert window_status(m2.window_start, m2.window_start, m2.window_end) is WindowStatus.IN_WINDOW
    assert window_status(date(2024, 4, 23), m2.window_start, m2.window_end) is WindowStatus.EARLY
    assert window_status(date(2024, 5, 9), m2.window_start, m2.window_end) is WindowStatus.LATE


def test_eligibility_boundaries_and_missing_data() -> None:
    criteria = parse_protocol(REFERENCE).eligibility
    base = {
        "el_escorial_category": "definite",
        "familial_als": False,
        "disease_duration_months": 6.5,
        "alsfrs_total": 24,
        "fvc_percent_predicted": 40.0,
        "riluzole": True,
        "concomitant_disease": False,
        "immunotherapy_last_6_months": False,
    }
    assert evaluate_eligibility(criteria, base).eligible
    at_six = evaluate_eligibility(criteria, base | {"disease_duration_months": 6})
    assert [r.id for r in at_six.failing] == ["I3"]
    low_frs = evaluate_eligibility(criteria, base | {"alsfrs_total": 23})
    assert [r.id for r in low_frs.failing] == ["I4"]
    excluded = evaluate_eligibility(criteria, base | {"immunotherapy_last_6_months": True})
    assert [(r.id, r.status) for r in excluded.failing] == [("E2", CriterionStatus.MET)]
    probable = evaluate_eligibility(criteria, base | {"el_escorial_category": "probable"})
    assert [r.id for r in probable.failing] == ["I1"]
    missing = evaluate_eligibility(criteria, {k: v for k, v in base.items() if k != "riluzole"})
    assert [(r.id, r.status) for r in missing.failing] == [("I6", CriterionStatus.MISSING)]
    wrong_type = evaluate_eligibility(criteria, base | {"alsfrs_total": "high"})
    assert wrong_type.failing[0].status is CriterionStatus.MISSING
