"""Adverse events: validation, seriousness, SUSARs and their notification deadlines.

- Grade: CTCAE v5, 1-5 (5 = death related to the event).
- Seriousness (ICH E2A): death, life-threatening, hospitalisation (initial or prolonged),
  persistent or significant disability, congenital anomaly, important medical event. An event
  is serious if and only if at least one criterion holds; a grade-5 event is serious (death).
- Relatedness is judged separately for the cell product and each procedure (bone-marrow
  aspiration, lumbar puncture, intravenous infusion); related = possible, probable or
  definite.
- SUSAR: serious, related to the product, and unexpected (not in the reference safety
  information). Notification: every SAE to the sponsor within 24 hours; a SUSAR to the
  authorities within 7 days when fatal or life-threatening (with a follow-up within 8 more
  days, day 15), otherwise within 15 days (EU CT-3 guidance, ICH E2A).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from alstrial.exceptions import ValidationError
from alstrial.vocabulary import Relatedness

__all__ = [
    "PROCEDURES",
    "SERIOUSNESS_CRITERIA",
    "Notification",
    "is_related",
    "notifications_due",
    "validate_event",
]

SERIOUSNESS_CRITERIA: tuple[str, ...] = (
    "death",
    "life_threatening",
    "hospitalisation",
    "disability",
    "congenital_anomaly",
    "important_medical_event",
)
PROCEDURES: tuple[str, ...] = (
    "product",
    "bone_marrow_aspiration",
    "lumbar_puncture",
    "intravenous_infusion",
)
_RELATED = {Relatedness.POSSIBLE, Relatedness.PROBABLE, Relatedness.DEFINITE}


def is_related(relatedness: Relatedness | str) -> bool:
    """Possible, probable or definite."""
    return Relatedness(relatedness) in _RELATED


def _refuse(field: str, value: object, allowed: str, message: str) -> ValidationError:
    return ValidationError(message, form="adverse_event", field=field, value=value, allowed=allowed)


def validate_event(
    *,
    grade: int,
    onset: date,
    end: date | None,
    seriousness: tuple[str, ...] | list[str],
    relatedness: Mapping[str, Relatedness | str],
    today: date | None = None,
) -> None:
    """Refuse an inconsistent event with a clear error (module docstring).

    Raises
    ------
    ValidationError
        For a grade outside 1-5, an end before onset, a date in the future, an unknown
        seriousness criterion or procedure, a grade-5 event without the death criterion, or
        a relatedness that is not one of the vocabulary's values.
    """
    if isinstance(grade, bool) or not isinstance(grade, int) or not 1 <= grade <= 5:
        raise _refuse(
            "grade", grade, "an integer 1-5 (CTCAE v5)", f"grade {grade!r} is not a CTCAE grade"
        )
    if end is not None and end < onset:
        raise _refuse(
            "end_date",
            end.isoformat(),
            f"on or after the onset {onset.isoformat()}",
            "the event ends before it starts",
        )
    limit = today or date.today()
    for name, day in (("onset_date", onset), ("end_date", end)):
        if day is not None and day > limit:
            raise _refuse(
                name, day.isoformat(), f"not after {limit.isoformat()}", "a date in the future"
            )
    unknown = sorted(set(seriousness) - set(SERIOUSNESS_CRITERIA))
    if unknown:
        raise _refuse(
            "seriousness",
            unknown[0],
            ", ".join(SERIOUSNESS_CRITERIA),
            f"unknown seriousness criterion {unknown[0]!r}",
        )
    if grade == 5 and "death" not in seriousness:
        raise _refuse(
            "seriousness",
            list(seriousness),
            "death",
            "a grade-5 event is a death: the death criterion must be recorded",
        )
    for procedure, judgement in relatedness.items():
        if procedure not in PROCEDURES:
            raise _refuse(
                "relatedness", procedure, ", ".join(PROCEDURES), f"unknown procedure {procedure!r}"
            )
        try:
            Relatedness(judgement)
        except ValueError:
            raise _refuse(
                "relatedness",
                judgement,
                ", ".join(Relatedness),
                f"unknown relatedness {judgement!r} for {procedure}",
            ) from None


@dataclass(frozen=True)
class Notification:
    """A report that is due: what, to whom, by when."""

    kind: str
    recipient: str
    due: datetime


def notifications_due(
    *,
    aware_at: datetime,
    seriousness: tuple[str, ...] | list[str],
    related_to_product: bool,
    expected: bool,
) -> list[Notification]:
    """The reports an event requires, counted from when the site became aware of it."""
    if not seriousness:
        return []
    due = [Notification("SAE initial report", "sponsor", aware_at + timedelta(hours=24))]
    if related_to_product and not expected:
        if {"death", "life_threatening"} & set(seriousness):
            due.append(
                Notification(
                    "SUSAR (fatal or life-threatening)",
                    "authority and ethics committee",
                    aware_at + timedelta(days=7),
                )
            )
            due.append(
                Notification(
                    "SUSAR follow-up",
                    "authority and ethics committee",
                    aware_at + timedelta(days=15),
                )
            )
        else:
            due.append(
                Notification(
                    "SUSAR", "authority and ethics committee", aware_at + timedelta(days=15)
                )
            )
    return due
