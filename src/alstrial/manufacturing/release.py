"""Testing a batch against the protocol's release specification.

Each criterion of ``release_specification`` is a numeric range (inclusive or exclusive
bounds), an expected result, or one of two special tests:

- ``endotoxin``: the EU/kg given for the subject's route against K (5 EU/kg intravenous,
  0.2 EU/kg intrathecal) unless the criterion sets ``upper``; see :mod:`.dose`;
- ``identity``: flow cytometry percent positive per marker against the ISCT minimal criteria
  (Dominici et al. 2006, Cytotherapy 8:315-7): >= 95 % CD73, CD90, CD105; <= 2 % CD34, CD45,
  CD11b or CD14, CD19 or CD79a, HLA-DR (bounds inclusive). The ISCT verdict is ``incomplete``
  (never ``pass``) while an ISCT marker has no result. For release, a protocol may name its
  panel (``markers``): every panel marker must then have a passing result, and ISCT markers
  outside the panel, and markers it adds, are listed as deviations (the certificate states
  them); without a panel the whole ISCT set is required.

A karyotype reported as a normal human karyotype (``46,XY``, ``46XX``) meets "normal".
Every criterion comes back as ``pass``, ``fail``, ``missing`` or ``incomplete``; a batch
conforms when all pass, with deviations when its panel lacks ISCT markers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from alstrial.exceptions import ValidationError
from alstrial.manufacturing.dose import endotoxin_dose
from alstrial.protocol.model import ReleaseCriterion

__all__ = [
    "ISCT_NEGATIVE",
    "ISCT_POSITIVE",
    "CriterionOutcome",
    "IdentityOutcome",
    "ReleaseEvaluation",
    "autologous_karyotype",
    "evaluate_identity",
    "evaluate_release",
    "karyotype_sex",
]

#: ISCT positive markers: percent positive >= 95 (inclusive).
ISCT_POSITIVE: tuple[str, ...] = ("CD73", "CD90", "CD105")
#: ISCT negative markers: percent positive <= 2 (inclusive); a group is met by any one member.
ISCT_NEGATIVE: tuple[tuple[str, ...], ...] = (
    ("CD34",),
    ("CD45",),
    ("CD11b", "CD14"),
    ("CD19", "CD79a"),
    ("HLA-DR",),
)
_POSITIVE_MIN = 95.0
_NEGATIVE_MAX = 2.0
_NORMAL_KARYOTYPE = re.compile(r"^46\s*,?\s*X[XY]$", re.IGNORECASE)


@dataclass(frozen=True)
class CriterionOutcome:
    """One release test: its status, the value found and the limit."""

    test: str
    status: str  # pass, fail, missing
    value: str
    limit: str
    note: str = ""


@dataclass(frozen=True)
class IdentityOutcome:
    """Identity by flow cytometry against ISCT: per-marker rows and deviations."""

    rows: tuple[CriterionOutcome, ...]
    deviations: tuple[str, ...]
    untested: tuple[str, ...] = ()  # ISCT markers (or groups) without a result

    @property
    def status(self) -> str:
        """``fail`` if a tested marker fails, ``missing`` if nothing was tested,
        ``incomplete`` while an ISCT marker has not been tested, else ``pass``."""
        if not self.rows:
            return "missing"
        if any(r.status == "fail" for r in self.rows):
            return "fail"
        return "incomplete" if self.untested else "pass"


def _canonical(marker: str) -> str:
    return marker.strip().upper().replace(" ", "")


def evaluate_identity(percent_positive: Mapping[str, float]) -> IdentityOutcome:
    """Each tested marker against ISCT; untested ISCT markers and extra markers as deviations."""
    found = {_canonical(k): (k, float(v)) for k, v in percent_positive.items()}
    for name, (_, value) in found.items():
        if not 0 <= value <= 100:
            raise ValidationError(
                f"percent positive for {name} must be 0-100, got {value}",
                form="identity",
                field=name,
                value=value,
                allowed="0-100 %",
            )
    rows: list[CriterionOutcome] = []
    deviations: list[str] = []
    untested: list[str] = []
    used: set[str] = set()
    for marker in ISCT_POSITIVE:
        key = _canonical(marker)
        if key in found:
            used.add(key)
            value = found[key][1]
            status = "pass" if value >= _POSITIVE_MIN else "fail"
            rows.append(CriterionOutcome(marker, status, f"{value:.1f} %", ">= 95 %"))
        else:
            deviations.append(f"{marker} not tested (ISCT: >= 95 % positive)")
            untested.append(marker)
    for group in ISCT_NEGATIVE:
        tested = [m for m in group if _canonical(m) in found]
        label = " or ".join(group)
        if not tested:
            deviations.append(f"{label} not tested (ISCT: <= 2 % positive)")
            untested.append(label)
            continue
        for marker in tested:
            used.add(_canonical(marker))
            value = found[_canonical(marker)][1]
            status = "pass" if value <= _NEGATIVE_MAX else "fail"
            rows.append(CriterionOutcome(marker, status, f"{value:.1f} %", "<= 2 %"))
    for key, (name, value) in found.items():
        if key not in used:
            deviations.append(f"{name} tested in addition to ISCT: {value:.1f} % positive")
            rows.append(
                CriterionOutcome(
                    name, "pass", f"{value:.1f} %", "no ISCT limit", note="additional marker"
                )
            )
    return IdentityOutcome(tuple(rows), tuple(deviations), tuple(untested))


def _identity_release(criterion: ReleaseCriterion, outcome: IdentityOutcome) -> tuple[str, str]:
    """Release status of identity and its note: against the protocol's panel when it names
    one (ISCT markers outside it stay deviations), else against the whole ISCT set."""
    failing = [r.test for r in outcome.rows if r.status == "fail"]
    if failing:
        return "fail", f"failing: {', '.join(failing)}"
    if not criterion.markers:
        if outcome.untested:
            return "incomplete", f"not tested: {', '.join(outcome.untested)}"
        return outcome.status, ""
    tested = {_canonical(r.test) for r in outcome.rows}
    absent = [m for m in criterion.markers if _canonical(m) not in tested]
    if absent:
        return "incomplete", f"the protocol's panel lacks results for {', '.join(absent)}"
    return "pass", ""


@dataclass(frozen=True)
class ReleaseEvaluation:
    """All release tests of a batch, the identity detail, and the verdict."""

    outcomes: tuple[CriterionOutcome, ...]
    identity: IdentityOutcome | None = None
    deviations: tuple[str, ...] = field(default=())

    @property
    def conforms(self) -> bool:
        """Every test passes."""
        return all(o.status == "pass" for o in self.outcomes)

    @property
    def failing(self) -> tuple[CriterionOutcome, ...]:
        """Tests that fail or were not done."""
        return tuple(o for o in self.outcomes if o.status != "pass")


def _bounds(criterion: ReleaseCriterion) -> str:
    parts = []
    if criterion.lower is not None:
        parts.append(f"{'>=' if criterion.lower_inclusive else '>'} {criterion.lower:g}")
    if criterion.upper is not None:
        parts.append(f"{'<=' if criterion.upper_inclusive else '<'} {criterion.upper:g}")
    return " and ".join(parts) + (f" {criterion.unit}" if criterion.unit else "")


def _numeric(criterion: ReleaseCriterion, value: object) -> CriterionOutcome:
    limit = _bounds(criterion)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return CriterionOutcome(criterion.test, "fail", repr(value), limit, "not a number")
    ok = True
    if criterion.lower is not None:
        ok &= number >= criterion.lower if criterion.lower_inclusive else number > criterion.lower
    if criterion.upper is not None:
        ok &= number <= criterion.upper if criterion.upper_inclusive else number < criterion.upper
    unit = f" {criterion.unit}" if criterion.unit else ""
    return CriterionOutcome(criterion.test, "pass" if ok else "fail", f"{number:g}{unit}", limit)


def _expected(criterion: ReleaseCriterion, value: object) -> CriterionOutcome:
    text = str(value).strip()
    expected = str(criterion.expected).strip()
    normalised = text
    note = ""
    if criterion.test == "karyotype" and _NORMAL_KARYOTYPE.match(text):
        normalised, note = "normal", f"{text} is a normal human karyotype"
    ok = normalised.lower() == expected.lower()
    return CriterionOutcome(criterion.test, "pass" if ok else "fail", text, expected, note)


def evaluate_release(
    specification: Sequence[ReleaseCriterion],
    results: Mapping[str, object],
    *,
    route: str | None = None,
    volume_ml: float | None = None,
    weight_kg: float | None = None,
    identity: Mapping[str, float] | None = None,
) -> ReleaseEvaluation:
    """Evaluate every criterion of ``specification`` (module docstring).

    Parameters
    ----------
    specification
        The protocol's release criteria.
    results
        Test name to result (``viability``: 97, ``bacteriology``: ``"NC"``, ``endotoxin``:
        ``"<0.125"`` in EU/ml, ``karyotype``: ``"46XY"``).
    route, volume_ml, weight_kg
        Needed by ``endotoxin``: the arm's route, the volume given and the subject's weight.
    identity
        Marker to percent positive, for ``identity``.
    """
    outcomes: list[CriterionOutcome] = []
    identity_outcome: IdentityOutcome | None = None
    deviations: list[str] = []
    for criterion in specification:
        if criterion.test == "identity":
            if not identity:
                outcomes.append(CriterionOutcome("identity", "missing", "", "ISCT", "no flow data"))
                continue
            identity_outcome = evaluate_identity(identity)
            deviations += identity_outcome.deviations
            status, note = _identity_release(criterion, identity_outcome)
            outcomes.append(
                CriterionOutcome(
                    "identity",
                    status,
                    ", ".join(f"{r.test} {r.value}" for r in identity_outcome.rows),
                    "ISCT (Dominici 2006)"
                    + (f", panel {', '.join(criterion.markers)}" if criterion.markers else ""),
                    note,
                )
            )
            continue
        value = results.get(criterion.test)
        if value is None or (isinstance(value, str) and not value.strip()):
            outcomes.append(
                CriterionOutcome(
                    criterion.test,
                    "missing",
                    "",
                    _bounds(criterion) if criterion.expected is None else criterion.expected,
                )
            )
            continue
        if criterion.test == "endotoxin":
            if route is None or volume_ml is None or weight_kg is None:
                outcomes.append(
                    CriterionOutcome(
                        "endotoxin",
                        "missing",
                        str(value),
                        "K/M",
                        "route, volume and weight are needed",
                    )
                )
                continue
            dose = endotoxin_dose(
                str(value),
                volume_ml=volume_ml,
                weight_kg=weight_kg,
                route=route,
                limit_eu_per_kg=criterion.upper,
            )
            loq = " (below LOQ, counted as the LOQ)" if dose.below_loq else ""
            outcomes.append(
                CriterionOutcome(
                    "endotoxin",
                    "pass" if dose.passes else "fail",
                    f"{dose.eu_per_kg:.4g} EU/kg ({value} EU/ml x {volume_ml:g} ml / "
                    f"{weight_kg:g} kg){loq}",
                    f"<= {dose.limit_eu_per_kg:g} EU/kg ({route})",
                )
            )
            continue
        if criterion.expected is not None:
            outcomes.append(_expected(criterion, value))
        else:
            outcomes.append(_numeric(criterion, value))
    return ReleaseEvaluation(tuple(outcomes), identity_outcome, tuple(deviations))


_SEX_CHROMOSOMES = re.compile(r"^\s*\d{2}\s*,?\s*(?P<sex>X+Y*)\b", re.IGNORECASE)


def karyotype_sex(karyotype: str) -> str | None:
    """``male`` for a karyotype with a Y (46,XY), ``female`` for one of X only (46,XX), else
    None (unreadable: no check is made). ISCN: count, comma, sex chromosomes."""
    match = _SEX_CHROMOSOMES.match(karyotype or "")
    if match is None:
        return None
    return "male" if "Y" in match["sex"].upper() else "female"


def autologous_karyotype(
    karyotype: str, subject_sex: str | None, override: str | None
) -> CriterionOutcome | None:
    """An autologous product's karyotype carries its donor's sex chromosomes: a 46,XY product
    for a female subject is another person's cells, a mix-up or a chimera. ``fail`` unless QC
    recorded why it is accepted (``override``); None when either sex is unknown."""
    product = karyotype_sex(karyotype)
    if product is None or subject_sex is None:
        return None
    limit = f"sex chromosomes of a {subject_sex} subject"
    if product == subject_sex:
        return CriterionOutcome("autologous karyotype", "pass", karyotype, limit)
    if override:
        return CriterionOutcome(
            "autologous karyotype", "pass", karyotype, limit, f"accepted by QC: {override}"
        )
    return CriterionOutcome(
        "autologous karyotype",
        "fail",
        karyotype,
        limit,
        f"a {product} karyotype for a {subject_sex} subject: autologous identity in doubt "
        "(record why it is accepted, or reject the batch)",
    )
