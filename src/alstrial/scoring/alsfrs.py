"""ALSFRS-R and the original ALSFRS: item validation, total and domain subscores.

The revised ALS Functional Rating Scale (Cedarbaum et al. 1999, J Neurol Sci 169:13-21) has
12 items scored 0-4 (4 = normal); item 5 is answered as 5a (no gastrostomy) or 5b (with
gastrostomy), never both. Domains: bulbar = items 1-3, fine motor = 4, 5, 6, gross motor =
7-9, respiratory = 10-12; each 0-12, total 0-48.

The original ALSFRS (ALS CNTF Treatment Study Group 1996, Arch Neurol 53:141-7) has 10 items,
total 0-40: items 1-9 as above and item 10, a single respiratory item (0-4). There is no
official conversion between the scales, so every score carries its scale and the two are never
summed or compared without saying so.

A missing item leaves the total, and the subscore of its domain, missing with the reason: no
prorating rule has been published, so none is guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from numbers import Integral
from typing import TYPE_CHECKING

from alstrial.exceptions import ValidationError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "ALSFRS_DOMAINS",
    "ALSFRS_ITEMS",
    "ALSFRS_R_DOMAINS",
    "ALSFRS_R_ITEMS",
    "AlsfrsArrays",
    "AlsfrsScale",
    "AlsfrsScore",
    "scale_items",
    "scale_maximum",
    "score_alsfrs",
    "score_alsfrs_array",
    "score_alsfrs_r",
]


class AlsfrsScale(StrEnum):
    """Which ALS Functional Rating Scale a rating used."""

    ALSFRS_R = "ALSFRS-R"
    ALSFRS = "ALSFRS"


#: ALSFRS-R item keys in questionnaire order; exactly one of ``item_5a``/``item_5b`` is answered.
ALSFRS_R_ITEMS: tuple[str, ...] = (
    "item_1",
    "item_2",
    "item_3",
    "item_4",
    "item_5a",
    "item_5b",
    "item_6",
    "item_7",
    "item_8",
    "item_9",
    "item_10",
    "item_11",
    "item_12",
)

#: Original ALSFRS item keys: items 1-9 as in the ALSFRS-R, item 10 the respiratory item.
ALSFRS_ITEMS: tuple[str, ...] = ALSFRS_R_ITEMS[:11]

ALSFRS_R_DOMAINS: Mapping[str, tuple[str, ...]] = {
    "bulbar": ("item_1", "item_2", "item_3"),
    "fine_motor": ("item_4", "item_5", "item_6"),
    "gross_motor": ("item_7", "item_8", "item_9"),
    "respiratory": ("item_10", "item_11", "item_12"),
}

ALSFRS_DOMAINS: Mapping[str, tuple[str, ...]] = {
    **{name: keys for name, keys in ALSFRS_R_DOMAINS.items() if name != "respiratory"},
    "respiratory": ("item_10",),
}

_DOMAINS = {AlsfrsScale.ALSFRS_R: ALSFRS_R_DOMAINS, AlsfrsScale.ALSFRS: ALSFRS_DOMAINS}
_ITEMS = {AlsfrsScale.ALSFRS_R: ALSFRS_R_ITEMS, AlsfrsScale.ALSFRS: ALSFRS_ITEMS}


def scale_items(scale: AlsfrsScale) -> tuple[str, ...]:
    """The item keys of a scale, with both ``item_5a`` and ``item_5b``."""
    return _ITEMS[AlsfrsScale(scale)]


def scale_maximum(scale: AlsfrsScale) -> int:
    """The best possible total: 48 for the ALSFRS-R, 40 for the original ALSFRS."""
    return 4 * (len(_ITEMS[AlsfrsScale(scale)]) - 1)


@dataclass(frozen=True)
class AlsfrsScore:
    """One rating: its scale, items, total and domain subscores.

    ``total`` and a domain subscore are ``None`` when one of their items is missing; ``missing``
    names those items, in questionnaire order.
    """

    scale: AlsfrsScale
    items: Mapping[str, int | None]
    total: int | None
    bulbar: int | None
    fine_motor: int | None
    gross_motor: int | None
    respiratory: int | None
    gastrostomy: bool
    missing: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """True when every item is answered and the total exists."""
        return not self.missing

    @property
    def missing_reason(self) -> str | None:
        """Why the total is missing, in words, or ``None`` when it is not."""
        if not self.missing:
            return None
        return (
            f"{self.scale} total not computed: {', '.join(self.missing)} missing "
            "(no prorating rule has been published)"
        )

    def item(self, number: int) -> int | None:
        """Item ``number`` (1-12); item 5 is whichever of 5a/5b was answered."""
        if number == 5:
            return self.items.get("item_5b" if self.gastrostomy else "item_5a")
        return self.items.get(f"item_{number}")

    def require_total(self) -> int:
        """The total, or a ValidationError naming the missing items."""
        if self.total is None:
            raise ValidationError(
                self.missing_reason or "total missing",
                form=_form(self.scale),
                field=self.missing[0] if self.missing else None,
                allowed="an integer 0-4",
            )
        return self.total


def _form(scale: AlsfrsScale) -> str:
    return "alsfrs_r" if scale is AlsfrsScale.ALSFRS_R else "alsfrs"


def _check_item(scale: AlsfrsScale, key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or not 0 <= int(value) <= 4:
        raise ValidationError(
            f"{scale} {key} must be an integer 0-4, got {value!r}",
            form=_form(scale),
            field=key,
            value=value,
            allowed="an integer 0-4",
        )
    return int(value)


def score_alsfrs(
    items: Mapping[str, int | None], scale: AlsfrsScale = AlsfrsScale.ALSFRS_R
) -> AlsfrsScore:
    """Validate the items of one rating and compute its total and domain subscores.

    Parameters
    ----------
    items
        Keys ``item_1`` ... ``item_12`` (ALSFRS-R) or ``item_1`` ... ``item_10`` (ALSFRS), with
        ``item_5a`` or ``item_5b`` in place of item 5; the unanswered one may be absent or
        ``None``. A ``None`` item is missing.
    scale
        The scale the rating used.

    Returns
    -------
    AlsfrsScore
        ``total = sum(items)``; each domain the sum of its items (module docstring). With a
        missing item, the total and that item's domain are ``None`` and ``missing`` says why.

    Raises
    ------
    ValidationError
        For a score outside 0-4 or not an integer, both or neither of 5a/5b, or a key that is
        not an item of the scale; the error names the item and the value.

    Examples
    --------
    >>> score_alsfrs_r({**{f"item_{i}": 4 for i in range(1, 13) if i != 5}, "item_5a": 3}).total
    47
    """
    scale = AlsfrsScale(scale)
    known = _ITEMS[scale]
    unknown = sorted(set(items) - set(known))
    if unknown:
        raise ValidationError(
            f"{unknown[0]} is not an item of the {scale}",
            form=_form(scale),
            field=unknown[0],
            allowed=", ".join(known),
        )
    answered_5 = [key for key in ("item_5a", "item_5b") if items.get(key) is not None]
    if len(answered_5) != 1:
        raise ValidationError(
            f"{scale} item 5 needs exactly one of 5a (no gastrostomy) or 5b (gastrostomy); "
            f"{'both' if answered_5 else 'neither'} given",
            form=_form(scale),
            field="item_5",
            allowed="exactly one of item_5a, item_5b",
        )
    values: dict[str, int | None] = {}
    missing: list[str] = []
    for key in known:
        if key in ("item_5a", "item_5b") and key not in answered_5:
            continue
        value = items.get(key)
        if value is None:
            missing.append(key)
        else:
            value = _check_item(scale, key, value)
        values["item_5" if key.startswith("item_5") else key] = value
    domains: dict[str, int | None] = {}
    for name, keys in _DOMAINS[scale].items():
        parts = [values[key] for key in keys]
        domains[name] = None if None in parts else sum(p for p in parts if p is not None)
    totals = list(domains.values())
    return AlsfrsScore(
        scale=scale,
        items={key: items.get(key) for key in known},
        total=None if None in totals else sum(t for t in totals if t is not None),
        gastrostomy=answered_5 == ["item_5b"],
        missing=tuple(missing),
        **domains,
    )


def score_alsfrs_r(items: Mapping[str, int | None]) -> AlsfrsScore:
    """Score an ALSFRS-R rating; see :func:`score_alsfrs`."""
    return score_alsfrs(items, AlsfrsScale.ALSFRS_R)


@dataclass(frozen=True)
class AlsfrsArrays:
    """Totals and domain subscores of many ratings; NaN where an item is missing."""

    total: npt.NDArray[np.float64]
    bulbar: npt.NDArray[np.float64]
    fine_motor: npt.NDArray[np.float64]
    gross_motor: npt.NDArray[np.float64]
    respiratory: npt.NDArray[np.float64]


def _as_item_matrix(items: npt.ArrayLike, scale: AlsfrsScale) -> npt.NDArray[np.float64]:
    """Check an ``(n, k)`` item matrix (NaN = missing) and return it as float64."""
    import numpy as np  # deferred: the scalar scoring of a form needs no numpy

    width = len(_ITEMS[scale]) - 1
    matrix = np.asarray(items, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != width:
        raise ValidationError(
            f"{scale} item matrix must have shape (n, {width}), got {matrix.shape}",
            form=_form(scale),
            allowed=f"{width} columns, item 5 being whichever of 5a/5b was answered",
        )
    finite = np.isfinite(matrix)
    bad = (finite & ((matrix < 0) | (matrix > 4) | (matrix != np.round(matrix)))) | (
        np.isinf(matrix)
    )
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise ValidationError(
            f"{scale} row {row}, item {column + 1} must be an integer 0-4, "
            f"got {matrix[row, column]!r}",
            form=_form(scale),
            field=f"item_{column + 1}",
            value=float(matrix[row, column]),
            allowed="an integer 0-4",
        )
    return matrix


def score_alsfrs_array(
    items: npt.ArrayLike, scale: AlsfrsScale = AlsfrsScale.ALSFRS_R
) -> AlsfrsArrays:
    """Score many ratings at once.

    Parameters
    ----------
    items
        An ``(n, 12)`` matrix for the ALSFRS-R, ``(n, 10)`` for the ALSFRS, in questionnaire
        order with column 5 holding whichever of 5a/5b was answered; NaN marks a missing item.
    scale
        The scale all rows used.

    Returns
    -------
    AlsfrsArrays
        Totals and domain subscores as float arrays; NaN where an item of the sum is missing.

    Raises
    ------
    ValidationError
        For a wrong shape, or the first value that is not an integer 0-4 (row and item named).
    """

    scale = AlsfrsScale(scale)
    matrix = _as_item_matrix(items, scale)
    sums: dict[str, npt.NDArray[np.float64]] = {}
    for name, keys in _DOMAINS[scale].items():
        columns = [int(key.removeprefix("item_")) - 1 for key in keys]
        sums[name] = matrix[:, columns].sum(axis=1)
    total = sums["bulbar"] + sums["fine_motor"] + sums["gross_motor"] + sums["respiratory"]
    return AlsfrsArrays(total=total, **sums)
