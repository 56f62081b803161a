"""Safety rules at their boundaries: CTCAE v5 laboratory grades, unit conversion, reference
flags, adverse-event validation and SUSAR deadlines, stopping rules, MRI comparison.

Source of every threshold: CTCAE v5.0 (NCI 2017), as listed in alstrial.safety.ctcae; a value
on an edge takes the lower grade ("> 3.0 - 5.0 x ULN")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from alstrial.exceptions import ValidationError
from alstrial.safety.ctcae import ctcae_grade
from alstrial.safety.events import notifications_due, validate_event
from alstrial.safety.labs import ReferenceRange, convert, flag, reference_range
from alstrial.safety.mri import MriFinding, new_abnormal_findings
from alstrial.safety.stopping import SafetyEvent, StoppingRule, evaluate_stopping_rules
from alstrial.vocabulary import Relatedness

ULN50 = ReferenceRange(7, 50)


@pytest.mark.parametrize(
    ("analyte", "value", "grade"),
    [
        ("ALT", 50, 0),
        ("ALT", 50.1, 1),
        ("ALT", 150, 1),
        ("ALT", 150.1, 2),
        ("ALT", 250, 2),
        ("ALT", 250.1, 3),
        ("ALT", 1000, 3),
        ("ALT", 1000.1, 4),
        ("AST", 150.1, 2),
        ("ALP", 125, 1),
        ("ALP", 125.1, 2),
        ("ALP", 250.1, 3),
        ("ALP", 1000.1, 4),
        ("BILI", 75, 1),
        ("BILI", 75.1, 2),
        ("BILI", 150.1, 3),
        ("BILI", 500.1, 4),
        ("CREAT", 75, 1),
        ("CREAT", 75.1, 2),
        ("CREAT", 150.1, 3),
        ("CREAT", 300.1, 4),
    ],
)
def test_increases_relative_to_uln(analyte: str, value: float, grade: int) -> None:
    assert ctcae_grade(analyte, value, ULN50).grade == grade


def test_baseline_abnormal_rules() -> None:
    """ALT with an abnormal baseline of 100 (ULN 50): G1 > 1.5-3.0 x baseline."""
    assert ctcae_grade("ALT", 150, ULN50, baseline=100).grade == 0
    assert ctcae_grade("ALT", 150.1, ULN50, baseline=100).grade == 1
    assert ctcae_grade("ALT", 300.1, ULN50, baseline=100).grade == 2
    # Creatinine: the higher of the ULN and baseline readings (baseline 40, ULN 100).
    limits = ReferenceRange(44, 100)
    assert ctcae_grade("CREAT", 60.1, limits, baseline=40).grade == 2  # > 1.5 x baseline
    assert ctcae_grade("CREAT", 120.1, limits, baseline=40).grade == 3  # > 3.0 x baseline


@pytest.mark.parametrize(
    ("analyte", "limits", "value", "grade"),
    [
        ("HGB", ReferenceRange(120, 155), 120, 0),
        ("HGB", ReferenceRange(120, 155), 119.9, 1),
        ("HGB", ReferenceRange(120, 155), 100, 1),
        ("HGB", ReferenceRange(120, 155), 99.9, 2),
        ("HGB", ReferenceRange(120, 155), 80, 2),
        ("HGB", ReferenceRange(120, 155), 79.9, 3),
        ("ANC", ReferenceRange(1.7, 7), 1.5, 1),
        ("ANC", ReferenceRange(1.7, 7), 1.49, 2),
        ("ANC", ReferenceRange(1.7, 7), 0.99, 3),
        ("ANC", ReferenceRange(1.7, 7), 0.49, 4),
        ("PLT", ReferenceRange(150, 450), 75, 1),
        ("PLT", ReferenceRange(150, 450), 74.9, 2),
        ("PLT", ReferenceRange(150, 450), 49.9, 3),
        ("PLT", ReferenceRange(150, 450), 24.9, 4),
        ("WBC", ReferenceRange(3.5, 10.5), 3.0, 1),
        ("WBC", ReferenceRange(3.5, 10.5), 2.99, 2),
        ("LYM", ReferenceRange(0.9, 2.9), 0.8, 1),
        ("LYM", ReferenceRange(0.9, 2.9), 0.19, 4),
        ("K", ReferenceRange(3.5, 5.0), 5.5, 1),
        ("K", ReferenceRange(3.5, 5.0), 5.51, 2),
        ("K", ReferenceRange(3.5, 5.0), 7.01, 4),
        ("K", ReferenceRange(3.5, 5.0), 3.0, 1),
        ("K", ReferenceRange(3.5, 5.0), 2.99, 3),
        ("K", ReferenceRange(3.5, 5.0), 2.49, 4),
        ("NA", ReferenceRange(135, 145), 150, 1),
        ("NA", ReferenceRange(135, 145), 160.1, 4),
        ("NA", ReferenceRange(135, 145), 130, 1),
        ("NA", ReferenceRange(135, 145), 129, 2),
        ("NA", ReferenceRange(135, 145), 124, 3),
        ("NA", ReferenceRange(135, 145), 119, 4),
    ],
)
def test_absolute_thresholds(
    analyte: str, limits: ReferenceRange, value: float, grade: int
) -> None:
    assert ctcae_grade(analyte, value, limits).grade == grade


def test_grading_refusals() -> None:
    with pytest.raises(ValidationError, match="no CTCAE rule"):
        ctcae_grade("TSH", 10, ReferenceRange(0.4, 4))
    with pytest.raises(ValidationError, match="positive ULN"):
        ctcae_grade("ALT", 10, ReferenceRange(7, None))
    with pytest.raises(ValidationError, match="negative"):
        ctcae_grade("PLT", -1, ReferenceRange(150, 450))


def test_unit_conversion_and_flags() -> None:
    assert convert("CREAT", 1.0, "mg/dL") == pytest.approx(88.42)
    assert convert("BILI", 1.0, "mg/dl") == pytest.approx(17.104)
    assert convert("HGB", 12.0, "g/dL") == pytest.approx(120.0)
    assert convert("PLT", 250.0, "x10^3/µL") == pytest.approx(250.0)
    assert convert("ANC", 1500, "/uL") == pytest.approx(1.5)
    assert convert("ALT", 1.0, "µkat/L") == pytest.approx(60.0)
    assert convert("GLU", 90, "mg/dL") == pytest.approx(4.9956, abs=1e-4)
    with pytest.raises(ValidationError, match="cannot be converted") as caught:
        convert("CREAT", 1.0, "mmHg")
    assert "mg/dl" in (caught.value.allowed or "")
    with pytest.raises(ValidationError, match="unknown laboratory analyte"):
        convert("XYZ", 1.0, "U/L")
    assert flag("HGB", 125, "male").flag == "L"
    assert flag("HGB", 125, "female").flag == ""
    assert flag("ALT", 55, "male").flag == ""  # the limit itself is normal
    site = {"ALT:male": ReferenceRange(0, 40)}
    assert reference_range("ALT", "male", site).uln == 40
    assert flag("ALT", 45, "male", site).flag == "H"


def test_event_validation() -> None:
    ok = {
        "grade": 2,
        "onset": date(2024, 1, 2),
        "end": date(2024, 1, 5),
        "seriousness": [],
        "relatedness": {"product": "possible", "lumbar_puncture": "probable"},
    }
    validate_event(**ok)  # type: ignore[arg-type]
    for change, words in [
        ({"grade": 7}, "not a CTCAE grade"),
        ({"grade": 0}, "not a CTCAE grade"),
        ({"end": date(2024, 1, 1)}, "ends before it starts"),
        ({"seriousness": ["bad luck"]}, "unknown seriousness criterion"),
        ({"grade": 5}, "death criterion"),
        ({"relatedness": {"surgery": "possible"}}, "unknown procedure"),
        ({"relatedness": {"product": "maybe"}}, "unknown relatedness"),
        ({"onset": date.today() + timedelta(days=2), "end": None}, "in the future"),
    ]:
        with pytest.raises(ValidationError, match=words):
            validate_event(**(ok | change))  # type: ignore[arg-type]


def test_notification_deadlines() -> None:
    aware = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert (
        notifications_due(aware_at=aware, seriousness=[], related_to_product=True, expected=False)
        == []
    )
    expected_sae = notifications_due(
        aware_at=aware, seriousness=["hospitalisation"], related_to_product=True, expected=True
    )
    assert [n.due for n in expected_sae] == [aware + timedelta(hours=24)]
    fatal = notifications_due(
        aware_at=aware, seriousness=["death"], related_to_product=True, expected=False
    )
    assert [n.due - aware for n in fatal] == [
        timedelta(hours=24),
        timedelta(days=7),
        timedelta(days=15),
    ]
    other = notifications_due(
        aware_at=aware, seriousness=["hospitalisation"], related_to_product=True, expected=False
    )
    assert [n.due - aware for n in other] == [timedelta(hours=24), timedelta(days=15)]


def test_stopping_rules_at_their_thresholds() -> None:
    death = StoppingRule("S1", "any related death", threshold=1, min_grade=5)
    severe = StoppingRule("S2", "two related grade >= 3 events", threshold=2, min_grade=3)
    events = [
        SafetyEvent("P01", "Respiratory failure", 5, True, Relatedness.NOT_RELATED),
        SafetyEvent("P02", "Headache", 3, False, Relatedness.POSSIBLE),
    ]
    assert evaluate_stopping_rules([death, severe], events) == []
    events.append(SafetyEvent("P03", "Fever", 3, False, Relatedness.PROBABLE))
    (fired,) = evaluate_stopping_rules([death, severe], events)
    assert fired.rule.id == "S2"
    assert len(fired.events) == 2
    events.append(SafetyEvent("P04", "Death", 5, True, Relatedness.POSSIBLE))
    assert [t.rule.id for t in evaluate_stopping_rules([death, severe], events)] == ["S1", "S2"]
    with pytest.raises(ValidationError, match="threshold"):
        StoppingRule("S3", "bad", threshold=0)


def test_new_mri_findings() -> None:
    baseline = [MriFinding("brain", "white matter hyperintensity", "FLAIR")]
    same = [MriFinding("brain", "White matter hyperintensity", "FLAIR")]
    assert new_abnormal_findings(baseline, same) == []
    mass = MriFinding("spinal_cord", "intradural lesion", "T2", mass=True)
    assert new_abnormal_findings(baseline, [*same, mass]) == [mass]
    with pytest.raises(ValidationError, match="unknown MRI region"):
        MriFinding("liver", "cyst")


def test_age_banded_site_ranges() -> None:
    """A site's ALT range for men 18-65 and over 65, and one for everyone over 65."""
    site = {
        "ALT:male:18-65": ReferenceRange(0, 45),
        "ALT:male:65-120": ReferenceRange(0, 35),
        "ALT::65-120": ReferenceRange(0, 33),
        "ALT": ReferenceRange(0, 50),
    }
    assert reference_range("ALT", "male", site, age_years=40).uln == 45
    assert reference_range("ALT", "male", site, age_years=65).uln == 35  # low bound inclusive
    assert reference_range("ALT", "female", site, age_years=70).uln == 33
    assert reference_range("ALT", "female", site, age_years=30).uln == 50
    assert flag("ALT", 40, "male", site, age_years=70).flag == "H"
    assert flag("ALT", 40, "male", site, age_years=40).flag == ""
