"""Protocol stopping rules evaluated on the safety records.

A rule counts events that match it (relatedness to the product, minimum grade, seriousness,
an optional term) and is triggered when the count reaches its threshold; for example "any
related death" is ``min_grade = 5, related = true, threshold = 1`` and "two related grade >= 3
events" is ``min_grade = 3, related = true, threshold = 2``. A triggered rule blocks new
administrations until an investigator records a decision with a reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from alstrial.exceptions import ValidationError
from alstrial.safety.events import is_related
from alstrial.vocabulary import Relatedness

__all__ = ["SafetyEvent", "StoppingRule", "TriggeredRule", "evaluate_stopping_rules"]


@dataclass(frozen=True)
class StoppingRule:
    """One rule: which events count, and how many trigger it."""

    id: str
    text: str
    threshold: int = 1
    min_grade: int = 1
    related: bool = True
    serious_only: bool = False
    term: str | None = None

    def __post_init__(self) -> None:
        if self.threshold < 1 or not 1 <= self.min_grade <= 5:
            raise ValidationError(
                f"stopping rule {self.id}: threshold >= 1 and min_grade 1-5 are needed",
                form="protocol",
                field="stopping_rules",
                value=self.id,
            )


@dataclass(frozen=True)
class SafetyEvent:
    """What a stopping rule reads of an adverse event."""

    subject: str
    term: str
    grade: int
    serious: bool
    product_relatedness: Relatedness


@dataclass(frozen=True)
class TriggeredRule:
    """A rule that fired, with the events that made it fire."""

    rule: StoppingRule
    events: tuple[SafetyEvent, ...]


def _matches(rule: StoppingRule, event: SafetyEvent) -> bool:
    return (
        event.grade >= rule.min_grade
        and (not rule.related or is_related(event.product_relatedness))
        and (not rule.serious_only or event.serious)
        and (rule.term is None or event.term.lower() == rule.term.lower())
    )


def evaluate_stopping_rules(
    rules: Sequence[StoppingRule], events: Iterable[SafetyEvent]
) -> list[TriggeredRule]:
    """The rules whose matching events reach their threshold, in protocol order."""
    all_events = list(events)
    triggered = []
    for rule in rules:
        matching = tuple(e for e in all_events if _matches(rule, e))
        if len(matching) >= rule.threshold:
            triggered.append(TriggeredRule(rule, matching))
    return triggered
