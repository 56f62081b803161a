"""Laboratory analytes: canonical units, unit conversion, reference ranges, flags.

Every value is stored in its analyte's canonical (SI) unit; a value entered in another unit is
converted with the factor below, and a unit that cannot be converted is refused. Conversion
factors are the standard ones (molar masses: creatinine 113.12 g/mol -> 88.42, bilirubin
584.66 g/mol -> 17.104, glucose 180.16 g/mol -> 18.016; 1 ukat/L = 60 U/L; haemoglobin
(monomer) 16.114 g/mmol).

The default reference ranges are typical adult intervals, for illustration and tests; a site
loads its own laboratory's ranges (by sex and age band), which take precedence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from alstrial.exceptions import ValidationError
from alstrial.vocabulary import Sex

__all__ = [
    "ANALYTES",
    "QUALITATIVE_RESULTS",
    "QUALITATIVE_TESTS",
    "Analyte",
    "LabFlag",
    "ReferenceRange",
    "convert",
    "flag",
    "normalise_unit",
    "reference_range",
]


@dataclass(frozen=True)
class ReferenceRange:
    """Lower and upper limit of normal in the canonical unit."""

    lln: float | None
    uln: float | None


@dataclass(frozen=True)
class Analyte:
    """A laboratory test: panel, canonical unit, accepted units (factor to canonical)."""

    code: str
    name: str
    panel: str
    unit: str
    factors: Mapping[str, float]
    ranges: Mapping[str, ReferenceRange]  # "male", "female" or "any"


def _a(
    code: str,
    name: str,
    panel: str,
    unit: str,
    factors: dict[str, float],
    ranges: dict[str, tuple[float | None, float | None]],
) -> Analyte:
    return Analyte(
        code,
        name,
        panel,
        unit,
        {unit: 1.0, **factors},
        {k: ReferenceRange(*v) for k, v in ranges.items()},
    )


_COUNT = {"10^9/l": 1.0, "10^3/ul": 1.0, "10^3/mm3": 1.0, "/ul": 1e-3, "/mm3": 1e-3}
ANALYTES: dict[str, Analyte] = {
    a.code: a
    for a in (
        _a(
            "ALT",
            "Alanine aminotransferase",
            "liver",
            "U/L",
            {"ukat/l": 60.0},
            {"male": (7, 55), "female": (7, 45)},
        ),
        _a(
            "AST",
            "Aspartate aminotransferase",
            "liver",
            "U/L",
            {"ukat/l": 60.0},
            {"male": (8, 48), "female": (8, 43)},
        ),
        _a(
            "ALP",
            "Alkaline phosphatase",
            "liver",
            "U/L",
            {"ukat/l": 60.0},
            {"male": (40, 129), "female": (35, 104)},
        ),
        _a("BILI", "Total bilirubin", "liver", "umol/L", {"mg/dl": 17.104}, {"any": (3.4, 20.5)}),
        _a(
            "CREAT",
            "Creatinine",
            "kidney",
            "umol/L",
            {"mg/dl": 88.42},
            {"male": (62, 106), "female": (44, 80)},
        ),
        _a("UREA", "Urea", "kidney", "mmol/L", {"mg/dl": 0.357}, {"any": (2.5, 7.1)}),
        _a("K", "Potassium", "kidney", "mmol/L", {"meq/l": 1.0}, {"any": (3.5, 5.0)}),
        _a("NA", "Sodium", "kidney", "mmol/L", {"meq/l": 1.0}, {"any": (135, 145)}),
        _a(
            "GLU",
            "Glucose (fasting)",
            "chemistry",
            "mmol/L",
            {"mg/dl": 1 / 18.016},
            {"any": (3.9, 5.6)},
        ),
        _a(
            "HGB",
            "Haemoglobin",
            "haematology",
            "g/L",
            {"g/dl": 10.0, "mmol/l": 16.114},
            {"male": (135, 175), "female": (120, 155)},
        ),
        _a("WBC", "White blood cells", "haematology", "10^9/L", _COUNT, {"any": (3.5, 10.5)}),
        _a("ANC", "Neutrophils", "haematology", "10^9/L", _COUNT, {"any": (1.7, 7.0)}),
        _a("LYM", "Lymphocytes", "haematology", "10^9/L", _COUNT, {"any": (0.9, 2.9)}),
        _a("PLT", "Platelets", "haematology", "10^9/L", _COUNT, {"any": (150, 450)}),
        _a(
            "TSH",
            "Thyroid-stimulating hormone",
            "thyroid",
            "mIU/L",
            {"uiu/ml": 1.0},
            {"any": (0.4, 4.0)},
        ),
        _a("FT4", "Free thyroxine", "thyroid", "pmol/L", {"ng/dl": 12.87}, {"any": (12, 22)}),
    )
}


def normalise_unit(unit: str) -> str:
    """Lower-case, 'u' for micro, no spaces, 'x10^9/l' and '10e9/l' as '10^9/l'."""
    text = unit.strip().lower().replace("µ", "u").replace("μ", "u").replace(" ", "")
    text = text.replace("x10", "10").replace("10e", "10^").replace("10**", "10^")
    return text


def _analyte(code: str) -> Analyte:
    analyte = ANALYTES.get(code.upper())
    if analyte is None:
        raise ValidationError(
            f"unknown laboratory analyte {code!r}",
            form="labs",
            field="analyte",
            value=code,
            allowed=", ".join(ANALYTES),
        )
    return analyte


def convert(code: str, value: float, unit: str) -> float:
    """``value`` in ``unit`` expressed in the analyte's canonical unit.

    Raises
    ------
    ValidationError
        For an unknown analyte, a unit that cannot be converted (the accepted units are
        named), or a negative value.

    Examples
    --------
    >>> round(convert("CREAT", 1.0, "mg/dL"), 2)
    88.42
    """
    analyte = _analyte(code)
    factors = {normalise_unit(k): v for k, v in analyte.factors.items()}
    factor = factors.get(normalise_unit(unit))
    if factor is None:
        raise ValidationError(
            f"{analyte.name} in {unit!r} cannot be converted to {analyte.unit}",
            form="labs",
            field="unit",
            value=unit,
            allowed=", ".join(analyte.factors),
        )
    if value < 0:
        raise ValidationError(
            f"{analyte.name} cannot be negative ({value})", form="labs", field="value", value=value
        )
    return value * factor


def _age_band(key: str) -> tuple[float, float] | None:
    low, sep, high = key.partition("-")
    try:
        return (float(low), float(high)) if sep else None
    except ValueError:
        return None


def reference_range(
    code: str,
    sex: Sex | str,
    overrides: Mapping[str, ReferenceRange] | None = None,
    *,
    age_years: float | None = None,
) -> ReferenceRange:
    """The site's range when given, else the default.

    Site ranges are keyed, most specific first: ``CODE:sex:low-high`` (an age band in years,
    inclusive of ``low``, exclusive of ``high``), ``CODE::low-high``, ``CODE:sex``, ``CODE``.
    """
    analyte = _analyte(code)
    gender = str(Sex(sex))
    if overrides:
        if age_years is not None:
            for prefix in (f"{analyte.code}:{gender}:", f"{analyte.code}::"):
                for key, limits in overrides.items():
                    band = _age_band(key[len(prefix) :]) if key.startswith(prefix) else None
                    if band is not None and band[0] <= age_years < band[1]:
                        return limits
        for key in (f"{analyte.code}:{gender}", analyte.code):
            if key in overrides:
                return overrides[key]
    return analyte.ranges.get(gender) or analyte.ranges["any"]


@dataclass(frozen=True)
class LabFlag:
    """A value against its range: ``L``, ``H`` or ``""`` (normal)."""

    value: float
    unit: str
    range: ReferenceRange
    flag: str


def flag(
    code: str,
    value: float,
    sex: Sex | str,
    overrides: Mapping[str, ReferenceRange] | None = None,
    *,
    age_years: float | None = None,
) -> LabFlag:
    """Flag a canonical-unit value against the reference range (limits are normal)."""
    limits = reference_range(code, sex, overrides, age_years=age_years)
    mark = ""
    if limits.lln is not None and value < limits.lln:
        mark = "L"
    elif limits.uln is not None and value > limits.uln:
        mark = "H"
    return LabFlag(value, _analyte(code).unit, limits, mark)


#: Categorical tests of the reference trial's panels (serology, virology, urinalysis, culture).
QUALITATIVE_TESTS: dict[str, tuple[str, ...]] = {
    "serology": ("HBsAg", "anti-HCV", "anti-HIV", "VDRL"),
    "virology": ("CMV IgM", "EBV IgM", "HTLV-I/II"),
    "urinalysis": ("protein", "glucose", "blood", "leukocytes", "nitrite"),
    "culture": ("urine culture", "blood culture"),
}
#: Results a categorical test may have.
QUALITATIVE_RESULTS: tuple[str, ...] = ("negative", "positive", "equivocal", "trace", "not done")
