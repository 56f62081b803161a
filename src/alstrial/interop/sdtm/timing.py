"""SDTM timing: ISO 8601 date-times, study days by the SDTM rule, epochs of the trial design.

The trial's elements, in each arm's order (TA, TE, SE): the lead-in observation before the
cell administration (epoch RUN-IN), the administration with its 24-hour observation (epoch
TREATMENT: the day of the administration and the next), and the follow-up (epoch FOLLOW-UP).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

__all__ = [
    "EPOCH_FOLLOW_UP",
    "EPOCH_RUN_IN",
    "EPOCH_TREATMENT",
    "epoch",
    "iso",
    "study_day",
]

EPOCH_RUN_IN = "RUN-IN"
EPOCH_TREATMENT = "TREATMENT"
EPOCH_FOLLOW_UP = "FOLLOW-UP"

#: Days after the administration that still belong to its element (the 24 h observation).
TREATMENT_DAYS = 1


def iso(value: date | datetime | None) -> str:
    """ISO 8601 text of a date (``2012-03-05``) or a time to the minute
    (``2012-03-05T09:30``; an aware time in UTC, which is how alstrial stores times);
    ``""`` for none (SDTM's null)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="minutes")
    return value.isoformat()


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def study_day(value: date | datetime | None, reference: date | None) -> float:
    """Study day of ``value`` by the SDTM rule: the reference start date (DM.RFSTDTC) is day
    1, the day before it day -1; there is no day 0.

    .. math:: \\mathrm{DY} = d - r + 1 \\text{ if } d \\ge r, \\quad d - r \\text{ otherwise}

    NaN (SDTM's null) when either date is missing.

    References
    ----------
    SDTMIG 3.3, section 4.4.4, "Use of the Study Day Variables".
    """
    if value is None or reference is None:
        return float("nan")
    days = (_day(value) - reference).days
    return float(days + 1 if days >= 0 else days)


def planned_day(protocol_day: int) -> int:
    """The SDTM planned study day (VISITDY) of a protocol day counted from the
    administration as day 0: day 0 and after are shifted by one, days before are not."""
    return protocol_day + 1 if protocol_day >= 0 else protocol_day


def epoch(value: date | datetime | None, administered: date | None) -> str:
    """The epoch a date falls in for a subject given the administration's date: RUN-IN
    before it, TREATMENT on it and the day after (the 24 h observation), FOLLOW-UP later; a
    subject never treated is in RUN-IN throughout; ``""`` for no date."""
    if value is None:
        return ""
    if administered is None:
        return EPOCH_RUN_IN
    day = _day(value)
    if day < administered:
        return EPOCH_RUN_IN
    if day <= administered + timedelta(days=TREATMENT_DAYS):
        return EPOCH_TREATMENT
    return EPOCH_FOLLOW_UP
