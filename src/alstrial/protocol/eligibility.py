"""Evaluate a protocol's eligibility criteria against screening data.

Each criterion is a rule ``field operator value``. For an inclusion criterion the rule must
hold; for an exclusion criterion it describes the excluding condition. Every criterion comes
back as met, not met or missing data, with the reason in words, so that a screening form can
show each line and an override can name what it overrides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from alstrial.protocol.model import EligibilityCriterion

__all__ = ["CriterionResult", "CriterionStatus", "EligibilityResult", "evaluate_eligibility"]

ScreeningValue = float | int | bool | str | None


class CriterionStatus(StrEnum):
    """Whether a criterion's rule holds for the screening data."""

    MET = "met"
    NOT_MET = "not_met"
    MISSING = "missing"


@dataclass(frozen=True)
class CriterionResult:
    """The outcome of one criterion for one subject."""

    id: str
    kind: str
    text: str
    status: CriterionStatus
    reason: str

    @property
    def passes(self) -> bool:
        """True when this criterion does not stand in the way of enrolment."""
        if self.status is CriterionStatus.MISSING:
            return False
        holds = self.status is CriterionStatus.MET
        return holds if self.kind == "inclusion" else not holds


@dataclass(frozen=True)
class EligibilityResult:
    """All criteria of one screening, and the verdict."""

    criteria: tuple[CriterionResult, ...]

    @property
    def eligible(self) -> bool:
        """Eligible when every criterion passes (and no data is missing)."""
        return all(result.passes for result in self.criteria)

    @property
    def failing(self) -> tuple[CriterionResult, ...]:
        """The criteria that stand in the way, in protocol order."""
        return tuple(result for result in self.criteria if not result.passes)


def _holds(criterion: EligibilityCriterion, value: ScreeningValue) -> bool:
    target = criterion.value
    op = criterion.operator
    if op == "in":
        return value in target  # type: ignore[operator]
    if op == "not_in":
        return value not in target  # type: ignore[operator]
    if op == "==":
        return value == target
    if op == "!=":
        return value != target
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{criterion.field} must be a number for {op}, got {value!r}")
    number = float(target)  # type: ignore[arg-type]
    comparisons = {
        ">=": value >= number,
        ">": value > number,
        "<=": value <= number,
        "<": value < number,
    }
    return comparisons[op]


def evaluate_criterion(
    criterion: EligibilityCriterion, screening: Mapping[str, ScreeningValue]
) -> CriterionResult:
    """Evaluate one criterion; a missing or ill-typed field gives status ``missing``."""
    rule = f"{criterion.field} {criterion.operator} {criterion.value!r}"
    value = screening.get(criterion.field)
    if value is None:
        status, reason = CriterionStatus.MISSING, f"{criterion.field} was not recorded"
    else:
        try:
            holds = _holds(criterion, value)
        except TypeError as error:
            status, reason = CriterionStatus.MISSING, str(error)
        else:
            status = CriterionStatus.MET if holds else CriterionStatus.NOT_MET
            verb = "holds" if holds else "does not hold"
            reason = f"{criterion.field} = {value!r}: {rule} {verb}"
    return CriterionResult(criterion.id, criterion.kind, criterion.text, status, reason)


def evaluate_eligibility(
    criteria: Sequence[EligibilityCriterion], screening: Mapping[str, ScreeningValue]
) -> EligibilityResult:
    """Evaluate all criteria of a protocol against one subject's screening data."""
    return EligibilityResult(tuple(evaluate_criterion(c, screening) for c in criteria))
