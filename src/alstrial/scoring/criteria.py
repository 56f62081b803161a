"""Diagnostic criteria for ALS from regional upper and lower motor neuron findings.

Four regions, rostral to caudal: bulbar, cervical, thoracic, lumbosacral. In each, the examiner
records clinical upper motor neuron (UMN) signs, clinical lower motor neuron (LMN) signs and
EMG evidence of LMN involvement.

Revised El Escorial (Airlie House; Brooks et al. 2000, ALS Other Motor Neuron Disord 1:293-9):

- clinically definite: UMN + LMN signs in 3 regions;
- clinically probable: UMN + LMN signs in >= 2 regions with some UMN signs rostral to LMN signs;
- probable, laboratory-supported: UMN + LMN signs in 1 region, or UMN signs alone in 1 region,
  plus EMG-defined LMN signs in >= 2 limbs;
- clinically possible: UMN + LMN signs in 1 region; or UMN signs alone in >= 2 regions; or LMN
  signs rostral to UMN signs.

Awaji (de Carvalho et al. 2008, Clin Neurophysiol 119:497-503): EMG evidence counts as LMN
signs in its region, and the laboratory-supported category is removed.

Gold Coast (Shefner et al. 2020, Clin Neurophysiol 131:1975-8): ALS when (1) progressive motor
impairment after normal function, (2) UMN + LMN dysfunction in >= 1 region, or LMN dysfunction
(clinical or EMG) in >= 2 regions, and (3) investigations exclude other disease.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from alstrial.exceptions import ValidationError
from alstrial.vocabulary import DiagnosticCategory

__all__ = [
    "REGIONS",
    "AwajiCategory",
    "CriteriaResult",
    "GoldCoastResult",
    "RegionFindings",
    "awaji",
    "el_escorial",
    "evaluate_criteria",
    "gold_coast",
]

#: Regions from rostral to caudal.
REGIONS: tuple[str, ...] = ("bulbar", "cervical", "thoracic", "lumbosacral")
_LIMBS = ("cervical", "lumbosacral")


@dataclass(frozen=True)
class RegionFindings:
    """What the examination and EMG found in one region."""

    umn: bool = False
    lmn: bool = False
    emg_lmn: bool = False


class AwajiCategory(StrEnum):
    """Awaji categories (no laboratory-supported category)."""

    DEFINITE = "definite"
    PROBABLE = "probable"
    POSSIBLE = "possible"


@dataclass(frozen=True)
class CriteriaResult:
    """A category, or ``None`` when the findings meet none, with the reason in words."""

    category: str | None
    reason: str


@dataclass(frozen=True)
class GoldCoastResult:
    """Gold Coast verdict: met, not met, or ``None`` when an item of it is unknown."""

    met: bool | None
    reason: str
    unknown: tuple[str, ...] = field(default=())


def _check(findings: Mapping[str, RegionFindings]) -> dict[str, RegionFindings]:
    unknown = sorted(set(findings) - set(REGIONS))
    if unknown:
        raise ValidationError(
            f"unknown region {unknown[0]!r}",
            form="diagnosis",
            field="region",
            value=unknown[0],
            allowed=", ".join(REGIONS),
        )
    return {region: findings.get(region, RegionFindings()) for region in REGIONS}


def _categorise(
    umn: list[bool], lmn: list[bool], emg_limbs: int | None, lab_supported: bool
) -> CriteriaResult:
    both = [u and low for u, low in zip(umn, lmn, strict=True)]
    n_both = sum(both)
    umn_idx = [i for i, u in enumerate(umn) if u]
    lmn_idx = [i for i, low in enumerate(lmn) if low]
    umn_rostral = bool(umn_idx and lmn_idx and min(umn_idx) < max(lmn_idx))
    lmn_rostral = bool(umn_idx and lmn_idx and min(lmn_idx) < min(umn_idx))
    n_umn = sum(umn)

    def named(flags: list[bool]) -> str:
        return ", ".join(r for r, on in zip(REGIONS, flags, strict=True) if on) or "none"

    if n_both >= 3:
        return CriteriaResult("definite", f"UMN + LMN signs in {n_both} regions ({named(both)})")
    if n_both >= 2 and umn_rostral:
        return CriteriaResult(
            "probable",
            f"UMN + LMN signs in 2 regions ({named(both)}) with UMN signs rostral to LMN signs",
        )
    if lab_supported and (n_both == 1 or n_umn >= 1) and (emg_limbs or 0) >= 2:
        return CriteriaResult(
            "probable_laboratory_supported",
            f"UMN signs in {named(umn)} with EMG-defined LMN signs in {emg_limbs} limbs",
        )
    if n_both >= 1:
        return CriteriaResult("possible", f"UMN + LMN signs in {named(both)}")
    if n_umn >= 2:
        return CriteriaResult("possible", f"UMN signs alone in {named(umn)}")
    if lmn_rostral:
        return CriteriaResult("possible", "LMN signs rostral to UMN signs")
    return CriteriaResult(
        None,
        f"findings meet no category (UMN: {named(umn)}; LMN: {named(lmn)})",
    )


def el_escorial(
    findings: Mapping[str, RegionFindings], *, emg_lmn_limbs: int | None = None
) -> CriteriaResult:
    """Revised El Escorial category from regional findings (module docstring).

    Parameters
    ----------
    findings
        Region name to findings; an absent region has no signs.
    emg_lmn_limbs
        Number of limbs (0-4) with EMG-defined LMN signs, for the laboratory-supported
        category. By default, the limb regions (cervical, lumbosacral) with EMG evidence.

    Returns
    -------
    CriteriaResult
        ``category`` one of :class:`~alstrial.vocabulary.DiagnosticCategory`'s values, or
        ``None``.
    """
    regions = _check(findings)
    if emg_lmn_limbs is not None and not 0 <= emg_lmn_limbs <= 4:
        raise ValidationError(
            f"EMG-defined LMN signs in {emg_lmn_limbs} limbs is impossible",
            form="diagnosis",
            field="emg_lmn_limbs",
            value=emg_lmn_limbs,
            allowed="0-4",
        )
    limbs = emg_lmn_limbs if emg_lmn_limbs is not None else sum(regions[r].emg_lmn for r in _LIMBS)
    result = _categorise(
        [regions[r].umn for r in REGIONS],
        [regions[r].lmn for r in REGIONS],
        limbs,
        lab_supported=True,
    )
    if result.category is not None:
        DiagnosticCategory(result.category)  # the store's vocabulary holds every category
    return result


def awaji(findings: Mapping[str, RegionFindings]) -> CriteriaResult:
    """Awaji category: EMG evidence counts as LMN signs; no laboratory-supported category."""
    regions = _check(findings)
    result = _categorise(
        [regions[r].umn for r in REGIONS],
        [regions[r].lmn or regions[r].emg_lmn for r in REGIONS],
        None,
        lab_supported=False,
    )
    if result.category is not None:
        AwajiCategory(result.category)
    return result


def gold_coast(
    findings: Mapping[str, RegionFindings],
    *,
    progressive: bool | None,
    other_disease_excluded: bool | None,
) -> GoldCoastResult:
    """Gold Coast criteria (module docstring); unknown history or work-up gives ``met=None``."""
    regions = _check(findings)
    with_both = [r for r in REGIONS if regions[r].umn and (regions[r].lmn or regions[r].emg_lmn)]
    with_lmn = [r for r in REGIONS if regions[r].lmn or regions[r].emg_lmn]
    motor = bool(with_both) or len(with_lmn) >= 2
    unknown = tuple(
        name
        for name, value in (
            ("progressive", progressive),
            ("other_disease_excluded", other_disease_excluded),
        )
        if value is None
    )
    if not motor:
        return GoldCoastResult(
            False,
            "neither UMN + LMN dysfunction in one region nor LMN dysfunction in two regions",
            unknown,
        )
    if progressive is False:
        return GoldCoastResult(False, "motor impairment is not progressive", unknown)
    if other_disease_excluded is False:
        return GoldCoastResult(False, "investigations have not excluded other disease", unknown)
    if unknown:
        return GoldCoastResult(None, f"not decidable: {', '.join(unknown)} unknown", unknown)
    where = (
        f"UMN + LMN dysfunction in {', '.join(with_both)}"
        if with_both
        else f"LMN dysfunction in {', '.join(with_lmn)}"
    )
    return GoldCoastResult(True, f"progressive; {where}; other disease excluded")


def evaluate_criteria(
    findings: Mapping[str, RegionFindings],
    *,
    emg_lmn_limbs: int | None = None,
    progressive: bool | None = None,
    other_disease_excluded: bool | None = None,
) -> dict[str, CriteriaResult | GoldCoastResult]:
    """All three sets of criteria for one examination, keyed ``el_escorial``, ``awaji``,
    ``gold_coast``."""
    return {
        "el_escorial": el_escorial(findings, emg_lmn_limbs=emg_lmn_limbs),
        "awaji": awaji(findings),
        "gold_coast": gold_coast(
            findings, progressive=progressive, other_disease_excluded=other_disease_excluded
        ),
    }
