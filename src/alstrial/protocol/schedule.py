"""The visit schedule: planned dates and window status.

Days count from the administration day (day 0), so lead-in visits are planned backwards from
the planned administration date and follow-up visits forwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from alstrial.protocol.model import Protocol, Visit

__all__ = ["PlannedVisit", "WindowStatus", "plan_visits", "window_status"]


class WindowStatus(StrEnum):
    """Where an actual visit date falls relative to its window."""

    EARLY = "early"
    IN_WINDOW = "in_window"
    LATE = "late"


@dataclass(frozen=True)
class PlannedVisit:
    """One visit of one subject's calendar."""

    code: str
    label: str
    day: int
    planned_date: date
    window_start: date
    window_end: date


def plan_visits(protocol: Protocol, administration_date: date) -> list[PlannedVisit]:
    """Plan every visit of the protocol around a (planned) administration date."""
    return [_plan(visit, administration_date) for visit in protocol.visits]


def _plan(visit: Visit, administration_date: date) -> PlannedVisit:
    planned = administration_date + timedelta(days=visit.day)
    return PlannedVisit(
        code=visit.code,
        label=visit.label,
        day=visit.day,
        planned_date=planned,
        window_start=planned - timedelta(days=visit.window_before),
        window_end=planned + timedelta(days=visit.window_after),
    )


def window_status(actual: date, window_start: date, window_end: date) -> WindowStatus:
    """Classify an actual visit date against its inclusive window."""
    if actual < window_start:
        return WindowStatus.EARLY
    if actual > window_end:
        return WindowStatus.LATE
    return WindowStatus.IN_WINDOW
