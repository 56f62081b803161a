"""FVC % predicted, z-score and lower limit of normal from litres: GLI-2012 and GLI Global 2022.

Both equations are LMS models (Cole and Green 1992) with age splines from published lookup
tables:

.. math::

    M = \\exp(a_0 + a_1 \\ln h + a_2 \\ln a + \\textstyle\\sum_k a_k e_k + M_{spline}(a)),\\quad
    S = \\exp(p_0 + p_1 \\ln a + \\textstyle\\sum_k p_k e_k + S_{spline}(a)),\\quad L = q_0

with h the height in cm, a the age in years and e_k the GLI-2012 ethnic-group indicators
(African American, North-East Asian, South-East Asian, other/mixed; Caucasian is the reference;
GLI Global has none). Then % predicted = 100 FVC / M, z = ((FVC/M)^L - 1) / (L S) and
LLN = M (1 - 1.645 L S)^(1/L). The splines are tabulated every 0.25 years from 3 to 95 years
and interpolated linearly between rows, as the GLI calculators do.

References
----------
Quanjer PH et al. Multi-ethnic reference values for spirometry for the 3-95-yr age range: the
global lung function 2012 equations. Eur Respir J 2012;40:1324-43.
Bowerman C et al. A race-neutral approach to the interpretation of lung function measurements.
Am J Respir Crit Care Med 2023;207:768-74.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt

from alstrial.exceptions import ValidationError
from alstrial.vocabulary import Sex

__all__ = [
    "FVC_MAX_LITRES",
    "FvcPrediction",
    "GliEthnicity",
    "SpirometryEquation",
    "fvc_percent_predicted",
    "fvc_percent_predicted_array",
]

#: Above this an FVC is not a human value in litres (the largest recorded are about 8 L).
FVC_MAX_LITRES = 10.0
_HEIGHT_RANGE_CM = (80.0, 250.0)
_AGE_RANGE = (3.0, 95.0)
_Z_LLN = 1.645  # one-sided 5th centile


class SpirometryEquation(StrEnum):
    """Reference equation behind a % predicted."""

    GLI_2012 = "gli2012"
    GLI_GLOBAL = "gli-global"


class GliEthnicity(StrEnum):
    """The GLI-2012 ethnic groups (Quanjer 2012, Table 1)."""

    CAUCASIAN = "caucasian"
    AFRICAN_AMERICAN = "african-american"
    NORTH_EAST_ASIAN = "north-east-asian"
    SOUTH_EAST_ASIAN = "south-east-asian"
    OTHER = "other"


@dataclass(frozen=True)
class _Coefficients:
    a: tuple[float, float, float]  # a0, a1 (ln height), a2 (ln age)
    a_ethnic: tuple[float, float, float, float]
    p: tuple[float, float]  # p0, p1 (ln age)
    p_ethnic: tuple[float, float, float, float]
    q0: float


# FVC coefficients. GLI-2012: Quanjer 2012 online supplement, FVC sheet; ethnic terms in the
# order of GliEthnicity after Caucasian. GLI Global: Bowerman 2023 supplement, FVC.
_COEFFICIENTS: dict[tuple[SpirometryEquation, Sex], _Coefficients] = {
    (SpirometryEquation.GLI_2012, Sex.MALE): _Coefficients(
        (-11.2281, 2.4135, 0.0865),
        (-0.1684, -0.0405, -0.1177, -0.0825),
        (-2.2963, 0.0718),
        (0.0794, -0.46, 0.0325, -0.0503),
        0.9481,
    ),
    (SpirometryEquation.GLI_2012, Sex.FEMALE): _Coefficients(
        (-10.403, 2.2633, 0.0234),
        (-0.1555, -0.0262, -0.1516, -0.0833),
        (-2.3549, 0.1017),
        (0.081, -0.1809, 0.0459, -0.0503),
        0.8236,
    ),
    (SpirometryEquation.GLI_GLOBAL, Sex.MALE): _Coefficients(
        (-12.629131, 2.727421, 0.009174),
        (0.0, 0.0, 0.0, 0.0),
        (-2.195595, 0.068466),
        (0.0, 0.0, 0.0, 0.0),
        0.9346,
    ),
    (SpirometryEquation.GLI_GLOBAL, Sex.FEMALE): _Coefficients(
        (-12.055901, 2.621579, -0.035975),
        (0.0, 0.0, 0.0, 0.0),
        (-2.310148, 0.120428),
        (0.0, 0.0, 0.0, 0.0),
        0.899,
    ),
}

_TABLE_PREFIX = {SpirometryEquation.GLI_2012: "gli2012", SpirometryEquation.GLI_GLOBAL: "gliglobal"}


@cache
def _splines() -> dict[str, npt.NDArray[np.float64]]:
    """The FVC spline lookup tables shipped in ``alstrial/data/gli_fvc_splines.csv``."""
    text = resources.files("alstrial.data").joinpath("gli_fvc_splines.csv").read_text("utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    header = lines[0].split(",")
    values = np.array([[float(x) for x in line.split(",")] for line in lines[1:]])
    return {name: values[:, i] for i, name in enumerate(header)}


@dataclass(frozen=True)
class FvcPrediction:
    """An FVC measurement against its reference equation."""

    equation: SpirometryEquation
    fvc_l: float
    predicted_l: float
    percent_predicted: float
    z: float
    lln_l: float
    ethnicity: GliEthnicity | None


def _refuse(field: str, value: object, allowed: str, message: str) -> ValidationError:
    return ValidationError(message, form="spirometry", field=field, value=value, allowed=allowed)


def _first_bad(mask: npt.NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(mask)[0])


def _check_inputs(
    fvc: npt.NDArray[np.float64], age: npt.NDArray[np.float64], height: npt.NDArray[np.float64]
) -> None:
    where = "" if fvc.size == 1 else " (row {})"
    bad = ~np.isfinite(fvc) | (fvc <= 0) | (fvc > FVC_MAX_LITRES)
    if bad.any():
        i = _first_bad(bad)
        value = float(fvc.flat[i])
        hint = ""
        if 10 < value <= 200:
            hint = "; it looks like a % predicted entered as litres"
        elif value > 200:
            hint = "; it looks like millilitres entered as litres"
        raise _refuse(
            "fvc_litres",
            value,
            f"0 < FVC <= {FVC_MAX_LITRES:g} L",
            f"FVC {value:g} L{where.format(i)} is implausible{hint}",
        )
    bad = ~np.isfinite(age) | (age < _AGE_RANGE[0]) | (age > _AGE_RANGE[1])
    if bad.any():
        i = _first_bad(bad)
        raise _refuse(
            "age_years",
            float(age.flat[i]),
            "3-95 years",
            f"age {float(age.flat[i]):g} years{where.format(i)} is outside the GLI tables "
            "(3-95 years)",
        )
    low, high = _HEIGHT_RANGE_CM
    bad = ~np.isfinite(height) | (height < low) | (height > high)
    if bad.any():
        i = _first_bad(bad)
        value = float(height.flat[i])
        hint = "; it looks like metres entered as centimetres" if 0.5 <= value <= 2.5 else ""
        raise _refuse(
            "height_cm",
            value,
            f"{low:g}-{high:g} cm",
            f"height {value:g} cm{where.format(i)} is implausible{hint}",
        )


def _ethnic_vector(
    equation: SpirometryEquation, ethnicity: GliEthnicity | str | None
) -> tuple[GliEthnicity | None, npt.NDArray[np.float64]]:
    indicators = np.zeros(4)
    if equation is SpirometryEquation.GLI_GLOBAL:
        return None, indicators
    if ethnicity is None:
        raise _refuse(
            "ethnicity",
            None,
            ", ".join(GliEthnicity),
            "GLI-2012 needs an ethnic group; use --equation gli-global for the race-neutral "
            "equation",
        )
    try:
        group = GliEthnicity(ethnicity)
    except ValueError:
        raise _refuse(
            "ethnicity", ethnicity, ", ".join(GliEthnicity), f"unknown GLI-2012 group {ethnicity!r}"
        ) from None
    order = list(GliEthnicity)[1:]
    if group is not GliEthnicity.CAUCASIAN:
        indicators[order.index(group)] = 1.0
    return group, indicators


def _parse_sex(sex: Sex | str) -> Sex:
    try:
        return Sex(sex)
    except ValueError:
        raise _refuse("sex", sex, ", ".join(Sex), f"unknown sex {sex!r}") from None


def _parse_equation(equation: SpirometryEquation | str) -> SpirometryEquation:
    try:
        return SpirometryEquation(equation)
    except ValueError:
        raise _refuse(
            "equation",
            equation,
            ", ".join(SpirometryEquation),
            f"unknown reference equation {equation!r}",
        ) from None


def fvc_percent_predicted_array(
    fvc_l: npt.ArrayLike,
    *,
    sex: Sex | str,
    age_years: npt.ArrayLike,
    height_cm: npt.ArrayLike,
    equation: SpirometryEquation | str,
    ethnicity: GliEthnicity | str | None = None,
) -> dict[str, npt.NDArray[np.float64]]:
    """Predicted FVC, % predicted, z-score and LLN for many measurements of one sex.

    Parameters
    ----------
    fvc_l, age_years, height_cm
        Arrays of one shape (or scalars broadcast to it): FVC in litres, age in decimal years
        (3-95), height in centimetres.
    sex, equation, ethnicity
        As in :func:`fvc_percent_predicted`, shared by all rows.

    Returns
    -------
    dict
        ``predicted_l``, ``percent_predicted``, ``z`` and ``lln_l`` arrays (module docstring).

    Raises
    ------
    ValidationError
        Naming the first implausible value and its row.
    """
    eq = _parse_equation(equation)
    coefficients = _COEFFICIENTS[(eq, _parse_sex(sex))]
    _, ethnic = _ethnic_vector(eq, ethnicity)
    fvc, age, height = np.broadcast_arrays(
        np.asarray(fvc_l, dtype=np.float64),
        np.asarray(age_years, dtype=np.float64),
        np.asarray(height_cm, dtype=np.float64),
    )
    _check_inputs(fvc, age, height)
    table = _splines()
    prefix = f"{_TABLE_PREFIX[eq]}_{_parse_sex(sex)}"
    m_spline = np.interp(age, table["age"], table[f"{prefix}_mspline"])
    s_spline = np.interp(age, table["age"], table[f"{prefix}_sspline"])
    a0, a1, a2 = coefficients.a
    p0, p1 = coefficients.p
    log_age = np.log(age)
    m = np.exp(
        a0
        + a1 * np.log(height)
        + a2 * log_age
        + float(np.dot(coefficients.a_ethnic, ethnic))
        + m_spline
    )
    s = np.exp(p0 + p1 * log_age + float(np.dot(coefficients.p_ethnic, ethnic)) + s_spline)
    lam = coefficients.q0
    return {
        "predicted_l": m,
        "percent_predicted": 100.0 * fvc / m,
        "z": ((fvc / m) ** lam - 1.0) / (lam * s),
        "lln_l": m * (1.0 - _Z_LLN * lam * s) ** (1.0 / lam),
    }


def fvc_percent_predicted(
    fvc_l: float,
    *,
    sex: Sex | str,
    age_years: float,
    height_cm: float,
    equation: SpirometryEquation | str,
    ethnicity: GliEthnicity | str | None = None,
) -> FvcPrediction:
    """Compare one FVC in litres with its GLI reference (module docstring for the formulas).

    Parameters
    ----------
    fvc_l
        Measured FVC in litres (0 < FVC <= 10).
    sex
        ``male`` or ``female``.
    age_years
        Decimal age at the test, 3-95 years.
    height_cm
        Standing height in centimetres.
    equation
        ``gli2012`` or ``gli-global``.
    ethnicity
        The GLI-2012 group; required by GLI-2012, ignored by GLI Global.

    Returns
    -------
    FvcPrediction
        Predicted litres, % predicted, z-score and LLN, with the equation.

    Raises
    ------
    ValidationError
        For an FVC <= 0 or above 10 L (with a hint when it looks like % predicted or mL), an
        age outside 3-95, an implausible height (a hint when it looks like metres), an unknown
        sex, equation or ethnic group, or GLI-2012 without an ethnic group.

    Examples
    --------
    >>> p = fvc_percent_predicted(4.0, sex="male", age_years=50, height_cm=175,
    ...                           equation="gli2012", ethnicity="caucasian")
    >>> round(p.predicted_l, 4), round(p.percent_predicted, 2)
    (4.8011, 83.31)
    """
    eq = _parse_equation(equation)
    group, _ = _ethnic_vector(eq, ethnicity)
    result = fvc_percent_predicted_array(
        fvc_l, sex=sex, age_years=age_years, height_cm=height_cm, equation=eq, ethnicity=group
    )
    return FvcPrediction(
        equation=eq,
        fvc_l=float(fvc_l),
        predicted_l=float(result["predicted_l"]),
        percent_predicted=float(result["percent_predicted"]),
        z=float(result["z"]),
        lln_l=float(result["lln_l"]),
        ethnicity=group,
    )
