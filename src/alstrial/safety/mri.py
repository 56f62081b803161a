"""Structured MRI findings and the "new abnormal finding" derived by comparing examinations.

A finding is (region, sequence, abnormality, mass, description), region brain or spinal
cord. A finding at follow-up is new when no baseline finding of the same region and
abnormality exists; a new mass is always reported. The reference trial imaged at baseline and
month 12 and reported no new abnormality.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from alstrial.exceptions import ValidationError

__all__ = ["REGIONS", "MriFinding", "new_abnormal_findings"]

REGIONS: tuple[str, ...] = ("brain", "spinal_cord")


@dataclass(frozen=True)
class MriFinding:
    """One abnormality seen on one examination."""

    region: str
    abnormality: str
    sequence: str = ""
    mass: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if self.region not in REGIONS:
            raise ValidationError(
                f"unknown MRI region {self.region!r}",
                form="mri",
                field="region",
                value=self.region,
                allowed=", ".join(REGIONS),
            )
        if not self.abnormality.strip():
            raise ValidationError(
                "an MRI finding needs its abnormality", form="mri", field="abnormality"
            )

    @property
    def key(self) -> tuple[str, str]:
        return (self.region, self.abnormality.strip().lower())


def new_abnormal_findings(
    baseline: Sequence[MriFinding], follow_up: Sequence[MriFinding]
) -> list[MriFinding]:
    """Follow-up findings absent at baseline (same region and abnormality), and new masses."""
    seen = {finding.key for finding in baseline}
    masses = {finding.region for finding in baseline if finding.mass}
    return [
        finding
        for finding in follow_up
        if finding.key not in seen or (finding.mass and finding.region not in masses)
    ]
