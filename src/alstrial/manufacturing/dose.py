"""Dose of an autologous cell product, and its endotoxin dose per kg for the route.

- Target cells = dose per kg (protocol arm) x the subject's weight at administration; the
  protocol's tolerance (e.g. 10 %) gives the acceptable range; the volume to draw is
  target / measured concentration.
- Endotoxin: the limit is K / M (USP <85>, Ph. Eur. 5.1.10) with K = 5 EU/kg for parenteral
  (intravenous) and 0.2 EU/kg for intrathecal administration, M the dose per kg (here the
  whole product is given at once, so the limit applies to EU/kg). The dose is
  EU/kg = EU/ml x ml given / kg; a result reported as "< LOQ" counts as the LOQ.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from alstrial.exceptions import ValidationError

__all__ = [
    "ENDOTOXIN_K",
    "DosePlan",
    "EndotoxinDose",
    "endotoxin_dose",
    "parse_endotoxin",
    "plan_dose",
]

#: Endotoxin limit K in EU/kg per route (USP <85>).
ENDOTOXIN_K: dict[str, float] = {"intravenous": 5.0, "intrathecal": 0.2}
_WEIGHT_RANGE = (20.0, 250.0)


@dataclass(frozen=True)
class DosePlan:
    """What to give one subject: target cells, the acceptable range and the volume to draw."""

    weight_kg: float
    dose_per_kg: float
    target_cells: float
    min_cells: float
    max_cells: float
    concentration_per_ml: float
    volume_ml: float
    available_cells: float | None


def _refuse(field: str, value: object, allowed: str, message: str) -> ValidationError:
    return ValidationError(message, form="dose", field=field, value=value, allowed=allowed)


def plan_dose(
    *,
    weight_kg: float | None,
    dose_per_kg: float,
    concentration_per_ml: float,
    tolerance_pct: float = 10.0,
    available_cells: float | None = None,
) -> DosePlan:
    """Target cells, range and volume for a subject (module docstring).

    .. math:: N = d \\times w,\\quad V = N / c,\\quad N \\in [N (1 - \\tau), N (1 + \\tau)]

    Raises
    ------
    ValidationError
        For a missing or implausible weight, a concentration that is not positive, a dose per
        kg that is not positive, or a product too small for the lower end of the range.

    Examples
    --------
    >>> plan = plan_dose(weight_kg=70, dose_per_kg=2e6, concentration_per_ml=28e6)
    >>> plan.target_cells, plan.volume_ml
    (140000000.0, 5.0)
    """
    if weight_kg is None:
        raise _refuse(
            "weight_kg",
            None,
            "the weight at administration (kg)",
            "the subject's weight at administration is missing; the dose needs it",
        )
    low, high = _WEIGHT_RANGE
    if not low <= weight_kg <= high:
        hint = " (it looks like pounds)" if high < weight_kg <= 2.2046 * high else ""
        raise _refuse(
            "weight_kg",
            weight_kg,
            f"{low:g}-{high:g} kg",
            f"weight {weight_kg} kg is implausible{hint}",
        )
    if not (dose_per_kg > 0 and math.isfinite(dose_per_kg)):
        raise _refuse(
            "dose_per_kg", dose_per_kg, "> 0, finite", "the dose per kg must be a positive number"
        )
    if not (concentration_per_ml > 0 and math.isfinite(concentration_per_ml)):
        raise _refuse(
            "concentration_per_ml",
            concentration_per_ml,
            "> 0 cells/ml",
            f"the product concentration {concentration_per_ml} cells/ml is not "
            "positive: no volume can carry the dose",
        )
    if not 0 <= tolerance_pct < 100:
        raise _refuse("tolerance_pct", tolerance_pct, "0-100 %", "tolerance must be 0-100 %")
    target = dose_per_kg * weight_kg
    fraction = tolerance_pct / 100
    minimum = target * (1 - fraction)
    if available_cells is not None and available_cells < minimum:
        raise _refuse(
            "available_cells",
            available_cells,
            f">= {minimum:.3g} cells",
            f"the product is too small for the dose: {available_cells:.3g} cells available, "
            f"{target:.3g} needed ({minimum:.3g} at the lower tolerance)",
        )
    return DosePlan(
        weight_kg=weight_kg,
        dose_per_kg=dose_per_kg,
        target_cells=target,
        min_cells=minimum,
        max_cells=target * (1 + fraction),
        concentration_per_ml=concentration_per_ml,
        volume_ml=target / concentration_per_ml,
        available_cells=available_cells,
    )


_RESULT = re.compile(r"^\s*(<)?\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*$")


def parse_endotoxin(result: str | float) -> tuple[float, bool]:
    """An endotoxin result in EU/ml and whether it was below the LOQ (``"<0.125"``)."""
    if isinstance(result, int | float) and not isinstance(result, bool):
        if result < 0:
            raise _refuse("endotoxin", result, ">= 0 EU/ml", "endotoxin cannot be negative")
        return float(result), False
    match = _RESULT.match(str(result))
    if match is None:
        raise _refuse(
            "endotoxin",
            result,
            "a number in EU/ml, or '<LOQ' such as '<0.125'",
            f"endotoxin result {result!r} is not a number in EU/ml",
        )
    return float(match.group(2)), match.group(1) is not None


@dataclass(frozen=True)
class EndotoxinDose:
    """Endotoxin given per kg, and the route's limit."""

    eu_per_ml: float
    below_loq: bool
    eu_per_kg: float
    limit_eu_per_kg: float
    route: str

    @property
    def passes(self) -> bool:
        """Within the limit (the limit itself passes)."""
        return self.eu_per_kg <= self.limit_eu_per_kg


def endotoxin_dose(
    result: str | float,
    *,
    volume_ml: float,
    weight_kg: float,
    route: str,
    limit_eu_per_kg: float | None = None,
) -> EndotoxinDose:
    """EU/kg = EU/ml x ml / kg against K for the route (module docstring).

    Examples
    --------
    >>> endotoxin_dose("<0.125", volume_ml=5, weight_kg=50, route="intrathecal").eu_per_kg
    0.0125
    """
    value, below = parse_endotoxin(result)
    if not volume_ml > 0:
        raise _refuse("volume_ml", volume_ml, "> 0 ml", "the volume given must be positive")
    if not weight_kg > 0:
        raise _refuse("weight_kg", weight_kg, "> 0 kg", "the weight must be positive")
    if limit_eu_per_kg is None:
        if route not in ENDOTOXIN_K:
            raise _refuse(
                "route",
                route,
                ", ".join(ENDOTOXIN_K),
                f"no endotoxin limit is defined for route {route!r}",
            )
        limit_eu_per_kg = ENDOTOXIN_K[route]
    return EndotoxinDose(value, below, value * volume_ml / weight_kg, limit_eu_per_kg, route)
