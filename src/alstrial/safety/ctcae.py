"""CTCAE v5.0 grades of laboratory abnormalities (NCI, 27 November 2017).

Each rule lists the lower edge of grades 1-4 as a multiple of a reference (ULN, LLN-based
absolute thresholds, or baseline); a value on an edge takes the lower grade, as the CTCAE's
"> 3.0 - 5.0 x ULN" reads (grade 2 is above 3 and up to 5 times ULN). Values within the
reference range are grade 0. Grade 5 (death) is not a laboratory grade.

Increases, relative to ULN (baseline normal) or to baseline (baseline abnormal):
- ALT, AST increased: G1 > ULN-3.0 x ULN, G2 > 3.0-5.0, G3 > 5.0-20.0, G4 > 20.0;
  baseline abnormal: G1 > 1.5-3.0 x baseline, G2 > 3.0-5.0, G3 > 5.0-20.0, G4 > 20.0.
- Alkaline phosphatase: G1 > ULN-2.5 x ULN, G2 > 2.5-5.0, G3 > 5.0-20.0, G4 > 20.0;
  baseline abnormal: G1 > 2.0-2.5 x baseline, then as for ULN.
- Blood bilirubin: G1 > ULN-1.5 x ULN, G2 > 1.5-3.0, G3 > 3.0-10.0, G4 > 10.0;
  baseline abnormal: G1 > 1.0-1.5 x baseline, then as for ULN.
- Creatinine: G1 > ULN-1.5 x ULN, G2 > 1.5-3.0 x ULN (or > 1.5-3.0 x baseline),
  G3 > 3.0-6.0 x ULN (or > 3.0 x baseline), G4 > 6.0 x ULN; the higher of the two readings.
- Hyperkalaemia: G1 > ULN-5.5, G2 > 5.5-6.0, G3 > 6.0-7.0, G4 > 7.0 mmol/L.
- Hypernatraemia: G1 > ULN-150, G2 > 150-155, G3 > 155-160, G4 > 160 mmol/L.

Decreases, absolute thresholds below LLN:
- Anaemia (haemoglobin): G1 < LLN-100 g/L, G2 < 100-80, G3 < 80 g/L.
- Neutrophil count: G1 < LLN-1.5, G2 < 1.5-1.0, G3 < 1.0-0.5, G4 < 0.5 x 10^9/L.
- Platelet count: G1 < LLN-75, G2 < 75-50, G3 < 50-25, G4 < 25 x 10^9/L.
- White blood cells: G1 < LLN-3.0, G2 < 3.0-2.0, G3 < 2.0-1.0, G4 < 1.0 x 10^9/L.
- Lymphocytes: G1 < LLN-0.8, G2 < 0.8-0.5, G3 < 0.5-0.2, G4 < 0.2 x 10^9/L.
- Hypokalaemia: G1 < LLN-3.0, G3 < 3.0-2.5, G4 < 2.5 mmol/L (grade 2 is grade 1 with
  symptoms: not a laboratory grade).
- Hyponatraemia: G1 < LLN-130, G2 125-129, G3 120-124, G4 < 120 mmol/L (v5 makes 125-129
  grade 3 when symptomatic: a clinical, not a laboratory, judgement).
"""

from __future__ import annotations

from dataclasses import dataclass

from alstrial.exceptions import ValidationError
from alstrial.safety.labs import ReferenceRange

__all__ = ["GRADED_ANALYTES", "CtcaeGrade", "ctcae_grade"]


@dataclass(frozen=True)
class CtcaeGrade:
    """A CTCAE grade (0-4) with the term and the rule that gave it."""

    analyte: str
    term: str
    grade: int
    rule: str


# analyte -> (term, edges of G1..G4 as multiples of ULN, edges relative to baseline)
_ULN_RULES: dict[str, tuple[str, tuple[float, ...], tuple[float, ...] | None]] = {
    "ALT": ("Alanine aminotransferase increased", (1.0, 3.0, 5.0, 20.0), (1.5, 3.0, 5.0, 20.0)),
    "AST": ("Aspartate aminotransferase increased", (1.0, 3.0, 5.0, 20.0), (1.5, 3.0, 5.0, 20.0)),
    "ALP": ("Alkaline phosphatase increased", (1.0, 2.5, 5.0, 20.0), (2.0, 2.5, 5.0, 20.0)),
    "BILI": ("Blood bilirubin increased", (1.0, 1.5, 3.0, 10.0), (1.0, 1.5, 3.0, 10.0)),
}
# analyte -> (term, absolute lower edges of G1..G4 above ULN, unit)
_HIGH_ABSOLUTE = {
    "K": ("Hyperkalemia", (5.5, 6.0, 7.0)),
    "NA": ("Hypernatremia", (150.0, 155.0, 160.0)),
}
# analyte -> (term, absolute upper edges of G2..G4 below LLN; None = grade not lab-defined)
_LOW_ABSOLUTE: dict[str, tuple[str, tuple[float | None, ...]]] = {
    "HGB": ("Anemia", (100.0, 80.0, None)),
    "ANC": ("Neutrophil count decreased", (1.5, 1.0, 0.5)),
    "PLT": ("Platelet count decreased", (75.0, 50.0, 25.0)),
    "WBC": ("White blood cell decreased", (3.0, 2.0, 1.0)),
    "LYM": ("Lymphocyte count decreased", (0.8, 0.5, 0.2)),
}
GRADED_ANALYTES: tuple[str, ...] = (
    *_ULN_RULES,
    "CREAT",
    *_HIGH_ABSOLUTE,
    *_LOW_ABSOLUTE,
)


def _above(ratio: float, edges: tuple[float, ...]) -> int:
    """Grade from a ratio and the lower edges of grades 1-4 (exclusive)."""
    grade = 0
    for index, edge in enumerate(edges, start=1):
        if ratio > edge:
            grade = index
    return grade


def _require(value: float | None, name: str, analyte: str) -> float:
    if value is None or not value > 0:
        raise ValidationError(
            f"CTCAE grading of {analyte} needs a positive {name}",
            form="labs",
            field=name,
            value=value,
        )
    return value


def ctcae_grade(
    analyte: str, value: float, limits: ReferenceRange, *, baseline: float | None = None
) -> CtcaeGrade:
    """CTCAE v5 grade of a laboratory value in its canonical unit (module docstring).

    Parameters
    ----------
    analyte
        Code of :data:`alstrial.safety.labs.ANALYTES` (ALT, AST, ALP, BILI, CREAT, K, NA,
        HGB, ANC, PLT, WBC, LYM).
    value
        The value, in the analyte's canonical unit.
    limits
        The reference range (LLN, ULN) of the subject's laboratory.
    baseline
        The subject's baseline value, for the baseline-abnormal rules.

    Raises
    ------
    ValidationError
        For an analyte without a CTCAE rule, a negative value, or a missing limit.

    Examples
    --------
    >>> ctcae_grade("ALT", 150, ReferenceRange(7, 50)).grade
    2
    """
    code = analyte.upper()
    if value < 0:
        raise ValidationError(f"{code} cannot be negative", form="labs", field="value", value=value)
    if code in _ULN_RULES:
        term, edges, baseline_edges = _ULN_RULES[code]
        uln = _require(limits.uln, "ULN", code)
        if baseline is not None and baseline > uln and baseline_edges is not None:
            grade = _above(value / baseline, baseline_edges)
            return CtcaeGrade(code, term, grade, f"{value / baseline:.2f} x baseline (abnormal)")
        return CtcaeGrade(code, term, _above(value / uln, edges), f"{value / uln:.2f} x ULN")
    if code == "CREAT":
        uln = _require(limits.uln, "ULN", code)
        by_uln = _above(value / uln, (1.0, 1.5, 3.0, 6.0))
        by_baseline = 0
        if baseline is not None and baseline > 0:
            ratio = value / baseline
            by_baseline = 3 if ratio > 3.0 else 2 if ratio > 1.5 else 0
        grade = max(by_uln, by_baseline)
        rule = f"{value / uln:.2f} x ULN" + (
            f", {value / baseline:.2f} x baseline" if baseline else ""
        )
        return CtcaeGrade(code, "Creatinine increased", grade, rule)
    if code in _HIGH_ABSOLUTE:
        term, edges = _HIGH_ABSOLUTE[code]
        uln = _require(limits.uln, "ULN", code)
        if value > uln:
            return CtcaeGrade(code, term, 1 + _above(value, edges), f"{value:g} > ULN {uln:g}")
        return _low(code, value, limits)
    if code in _LOW_ABSOLUTE or code in ("K", "NA"):
        return _low(code, value, limits)
    raise ValidationError(
        f"no CTCAE rule for analyte {analyte!r}",
        form="labs",
        field="analyte",
        value=analyte,
        allowed=", ".join(GRADED_ANALYTES),
    )


def _low(code: str, value: float, limits: ReferenceRange) -> CtcaeGrade:
    lln = _require(limits.lln, "LLN", code)
    if code == "K":
        term = "Hypokalemia"
        if value >= lln:
            return CtcaeGrade(code, term, 0, "within range")
        grade = 4 if value < 2.5 else 3 if value < 3.0 else 1
        return CtcaeGrade(code, term, grade, f"{value:g} < LLN {lln:g}")
    if code == "NA":
        term = "Hyponatremia"
        if value >= lln:
            return CtcaeGrade(code, term, 0, "within range")
        grade = 4 if value < 120 else 3 if value < 125 else 2 if value < 130 else 1
        return CtcaeGrade(code, term, grade, f"{value:g} < LLN {lln:g}")
    term, low_edges = _LOW_ABSOLUTE[code]
    if value >= lln:
        return CtcaeGrade(code, term, 0, "within range")
    grade = 1
    for index, edge in enumerate(low_edges, start=2):
        if edge is not None and value < edge:
            grade = index
    return CtcaeGrade(code, term, grade, f"{value:g} < LLN {lln:g}")
