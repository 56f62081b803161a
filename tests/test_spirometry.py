"""FVC % predicted, z and LLN against the shared reference's GLI vectors.

Source: ``clinical-reference/README.md``, "FVC percent predicted" tables (copied here). The
reference gives predicted litres to 4 decimals, LLN to 3, % predicted to 2 and z to 2, so each
value is checked to half a unit of its last published digit.
"""

from __future__ import annotations

import numpy as np
import pytest

from alstrial.exceptions import ValidationError
from alstrial.scoring import fvc_percent_predicted, fvc_percent_predicted_array

# sex, age, height, ethnicity, predicted L, LLN L, measured L, % predicted, z
GLI_2012 = [
    ("male", 50, 175, "caucasian", 4.8011, 3.752, 4.0, 83.31, -1.25),
    ("female", 35, 160, "caucasian", 3.6257, 2.900, 3.0, 82.74, -1.41),
    ("male", 70, 170, "caucasian", 3.8142, None, 3.0, 78.65, None),
    ("male", 50, 175, "african-american", 4.0570, None, 4.0, 98.59, None),
    ("male", 50, 175, "north-east-asian", 4.6106, None, None, None, None),
    ("male", 65.3, 180, "caucasian", 4.5670, None, None, None, None),
]
GLI_GLOBAL = [
    ("male", 50, 175, None, 4.4587, 3.392, 4.0, 89.71, -0.70),
    ("female", 35, 160, None, 3.3640, 2.585, 3.0, 89.18, None),
    ("male", 40, 175, None, 4.6986, None, 4.5, 95.77, None),
]


def check(row: tuple[object, ...], equation: str) -> None:
    sex, age, height, ethnicity, predicted, lln, measured, percent, z = row
    result = fvc_percent_predicted(
        float(measured or 3.0),  # type: ignore[arg-type]
        sex=str(sex),
        age_years=float(age),  # type: ignore[arg-type]
        height_cm=float(height),  # type: ignore[arg-type]
        equation=equation,
        ethnicity=ethnicity,  # type: ignore[arg-type]
    )
    assert result.predicted_l == pytest.approx(predicted, abs=5e-5)
    if lln is not None:
        assert result.lln_l == pytest.approx(lln, abs=5e-4)
    if percent is not None:
        assert result.percent_predicted == pytest.approx(percent, abs=5e-3)
    if z is not None:
        assert result.z == pytest.approx(z, abs=5e-3)
    assert result.equation == equation


@pytest.mark.parametrize("row", GLI_2012)
def test_gli_2012_vectors(row: tuple[object, ...]) -> None:
    check(row, "gli2012")


@pytest.mark.parametrize("row", GLI_GLOBAL)
def test_gli_global_vectors(row: tuple[object, ...]) -> None:
    check(row, "gli-global")


def test_vectorised_matches_scalar() -> None:
    ages = np.array([25.0, 50.0, 65.3, 80.0])
    arrays = fvc_percent_predicted_array(
        [4.2, 4.0, 3.1, 2.5], sex="male", age_years=ages, height_cm=175.0, equation="gli-global"
    )
    for i, age in enumerate(ages):
        one = fvc_percent_predicted(
            [4.2, 4.0, 3.1, 2.5][i],
            sex="male",
            age_years=age,
            height_cm=175.0,
            equation="gli-global",
        )
        assert arrays["percent_predicted"][i] == pytest.approx(one.percent_predicted, rel=1e-12)
        assert arrays["lln_l"][i] == pytest.approx(one.lln_l, rel=1e-12)


def test_z_of_the_lln_is_minus_1645() -> None:
    """By definition LLN = M (1 - 1.645 L S)^(1/L): an FVC equal to the LLN has z = -1.645."""
    first = fvc_percent_predicted(
        1.0, sex="female", age_years=61, height_cm=158, equation="gli2012", ethnicity="other"
    )
    at_lln = fvc_percent_predicted(
        first.lln_l,
        sex="female",
        age_years=61,
        height_cm=158,
        equation="gli2012",
        ethnicity="other",
    )
    assert at_lln.z == pytest.approx(-1.645, abs=1e-9)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"fvc_l": 85.0}, "fvc_litres", "% predicted entered as litres"),
        ({"fvc_l": 2900.0}, "fvc_litres", "millilitres"),
        ({"fvc_l": 0.0}, "fvc_litres", "implausible"),
        ({"fvc_l": -1.0}, "fvc_litres", "implausible"),
        ({"age_years": 2.0}, "age_years", "outside the GLI tables"),
        ({"age_years": 96.0}, "age_years", "outside the GLI tables"),
        ({"height_cm": 1.75}, "height_cm", "metres"),
        ({"height_cm": 320.0}, "height_cm", "implausible"),
        ({"sex": "x"}, "sex", "unknown sex"),
        ({"equation": "knudson"}, "equation", "unknown reference equation"),
        ({"ethnicity": None}, "ethnicity", "needs an ethnic group"),
        ({"ethnicity": "martian"}, "ethnicity", "unknown GLI-2012 group"),
    ],
)
def test_bad_input_is_named(change: dict[str, object], field: str, words: str) -> None:
    arguments: dict[str, object] = {
        "fvc_l": 3.0,
        "sex": "male",
        "age_years": 58.0,
        "height_cm": 168.0,
        "equation": "gli2012",
        "ethnicity": "caucasian",
    }
    arguments.update(change)
    with pytest.raises(ValidationError, match=words) as caught:
        fvc_percent_predicted(**arguments)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_vectorised_refusal_names_the_row() -> None:
    with pytest.raises(ValidationError, match=r"\(row 2\)"):
        fvc_percent_predicted_array(
            [3.0, 3.1, 0.0], sex="male", age_years=50, height_cm=170, equation="gli-global"
        )
