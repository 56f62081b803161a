"""ALSFRS-R: item validation, total and domain subscores.

The revised ALS Functional Rating Scale (Cedarbaum et al. 1999, J Neurol Sci 169:13-21) has
12 items scored 0-4 (4 = normal); item 5 is answered as 5a (no gastrostomy) or 5b (with
gastrostomy), never both. Domains: bulbar = items 1-3, fine motor = 4, 5, 6, gross motor =
7-9, respiratory = 10-12; each 0-12, total 0-48. A missing item leaves the total missing:
no prorating rule has been published, so none is guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from alstrial.exceptions import ValidationError

__all__ = ["ALSFRS_R_DOMAINS", "ALSFRS_R_ITEMS", "AlsfrsRScore", "score_alsfrs_r"]

#: Item keys in questionnaire order; exactly one of ``item_5a``/``item_5b`` is answered.
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

ALSFRS_R_DOMAINS: Mapping[str, tuple[str, ...]] = {
    "bulbar": ("item_1", "item_2", "item_3"),
    "fine_motor": ("item_4", "item_5", "item_6"),
    "gross_motor": ("item_7", "item_8", "item_9"),
    "respiratory": ("item_10", "item_11", "item_12"),
}


@dataclass(frozen=True)
class AlsfrsRScore:
    """Total and domain subscores of one ALSFRS-R assessment (0-48 and 0-12 each)."""

    total: int
    bulbar: int
    fine_motor: int
    gross_motor: int
    respiratory: int
    gastrostomy: bool


def score_alsfrs_r(items: Mapping[str, int | None]) -> AlsfrsRScore:
    """Validate the 12 ALSFRS-R items and compute the total and domain subscores.

    Parameters
    ----------
    items
        Keys ``item_1`` ... ``item_12`` with ``item_5a`` or ``item_5b`` in place of item 5;
        the unanswered one of 5a/5b may be absent or ``None``.

    Returns
    -------
    AlsfrsRScore
        ``total = sum(items)``; domains as in the module docstring.

    Raises
    ------
    ValidationError
        For a score outside 0-4, a non-integer, a missing item, both or neither of 5a/5b,
        or an unknown key; the error names the item and the value.

    Examples
    --------
    >>> score_alsfrs_r({**{f"item_{i}": 4 for i in range(1, 13) if i != 5}, "item_5a": 3}).total
    47
    """
    unknown = sorted(set(items) - set(ALSFRS_R_ITEMS))
    if unknown:
        raise ValidationError(
            f"unknown ALSFRS-R item {unknown[0]}",
            form="alsfrs_r",
            field=unknown[0],
            allowed=", ".join(ALSFRS_R_ITEMS),
        )
    answered_5 = [key for key in ("item_5a", "item_5b") if items.get(key) is not None]
    if len(answered_5) != 1:
        raise ValidationError(
            "ALSFRS-R item 5 needs exactly one of 5a (no gastrostomy) or 5b (gastrostomy); "
            f"{'both' if answered_5 else 'neither'} given",
            form="alsfrs_r",
            field="item_5",
            allowed="exactly one of item_5a, item_5b",
        )
    values: dict[str, int] = {}
    for key in ALSFRS_R_ITEMS:
        if key in ("item_5a", "item_5b") and key not in answered_5:
            continue
        value = items.get(key)
        if value is None:
            raise ValidationError(
                f"ALSFRS-R {key} is missing; the total is not computed with a missing item",
                form="alsfrs_r",
                field=key,
                allowed="an integer 0-4",
            )
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 4:
            raise ValidationError(
                f"ALSFRS-R {key} must be an integer 0-4, got {value!r}",
                form="alsfrs_r",
                field=key,
                value=value,
                allowed="an integer 0-4",
            )
        values["item_5" if key in ("item_5a", "item_5b") else key] = value
    domains = {name: sum(values[k] for k in keys) for name, keys in ALSFRS_R_DOMAINS.items()}
    return AlsfrsRScore(
        total=sum(domains.values()),
        gastrostomy=answered_5 == ["item_5b"],
        **domains,
    )
