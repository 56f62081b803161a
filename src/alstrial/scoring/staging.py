"""King's clinical stage and MiToS functional stage, estimated from the ALSFRS-R.

King's stage (Roche et al. 2012, Brain 135:847-52), estimated from the ALSFRS-R as in Balendra
et al. 2014 (Amyotroph Lateral Scler Frontotemporal Degener 15:279-84):

- a region is involved when: bulbar, any of items 1-3 < 4; upper limb, item 4 < 4 or item 5a
  < 4; lower limb, item 8 < 4 (item 9 is not used). Stages 1-3 count the regions involved;
  no region gives stage 0;
- stage 4A: gastrostomy (item 5b answered, or a gastrostomy recorded on or before the visit);
- stage 4B: non-invasive ventilation (item 10 = 0 or item 12 < 4, or NIV recorded); item 11 is
  not used. 4A and 4B are two flags: both may hold;
- stage 5: death.

MiToS stage (Chio et al. 2015, J Neurol Neurosurg Psychiatry 86:38-44, Table 1) counts the
domains lost: walking/self-care (item 8 <= 1 or item 6 <= 1), swallowing (item 3 <= 1),
communicating (item 1 <= 1 and item 4 <= 1), breathing (item 10 <= 1 or item 12 <= 2);
stage 0-4, 5 = death. Both stages need the ALSFRS-R (items 10-12 do not exist in the ALSFRS).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from alstrial.exceptions import ValidationError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
from alstrial.scoring.alsfrs import AlsfrsScale, AlsfrsScore, _as_item_matrix

__all__ = [
    "KingsStage",
    "MitosStage",
    "kings_stage",
    "kings_stage_array",
    "mitos_stage",
    "mitos_stage_array",
]


@dataclass(frozen=True)
class KingsStage:
    """King's stage: the number (0-5), the regions involved and the 4A/4B flags."""

    stage: int
    regions: tuple[str, ...]
    gastrostomy: bool
    niv: bool

    @property
    def label(self) -> str:
        """``"0"``-``"3"``, ``"4A"``, ``"4B"``, ``"4A + 4B"`` or ``"5"``."""
        if self.stage != 4:
            return str(self.stage)
        return " + ".join(flag for flag, on in (("4A", self.gastrostomy), ("4B", self.niv)) if on)


@dataclass(frozen=True)
class MitosStage:
    """MiToS stage (0-5) and the domains lost."""

    stage: int
    domains_lost: tuple[str, ...]


def _require_complete_r(score: AlsfrsScore, what: str) -> None:
    if score.scale is not AlsfrsScale.ALSFRS_R:
        raise ValidationError(
            f"{what} is estimated from the ALSFRS-R; this rating used the {score.scale}",
            form="alsfrs",
            field="scale_version",
            value=str(score.scale),
            allowed="ALSFRS-R",
        )
    if score.missing:
        raise ValidationError(
            f"{what} not estimated: {', '.join(score.missing)} missing",
            form="alsfrs_r",
            field=score.missing[0],
            allowed="an integer 0-4",
        )


def _complete_items(score: AlsfrsScore) -> dict[int, int]:
    """Items 1-12 of a complete rating (item 5 whichever of 5a/5b was answered)."""
    values = {n: score.item(n) for n in range(1, 13)}
    return {n: value for n, value in values.items() if value is not None}


def kings_stage(
    score: AlsfrsScore, *, gastrostomy: bool = False, niv: bool = False, dead: bool = False
) -> KingsStage:
    """King's stage of one ALSFRS-R rating (module docstring).

    Parameters
    ----------
    score
        A complete ALSFRS-R rating.
    gastrostomy, niv
        Whether a gastrostomy or non-invasive ventilation is recorded on or before the visit,
        outside the scale; either sets its flag even when the items do not.
    dead
        Death gives stage 5.

    Raises
    ------
    ValidationError
        For an original-ALSFRS rating or one with a missing item.
    """
    _require_complete_r(score, "King's stage")
    v = _complete_items(score)
    item_5a = score.items.get("item_5a")
    involved = []
    if min(v[1], v[2], v[3]) < 4:
        involved.append("bulbar")
    if v[4] < 4 or (item_5a is not None and item_5a < 4):
        involved.append("upper_limb")
    if v[8] < 4:
        involved.append("lower_limb")
    flag_4a = gastrostomy or score.gastrostomy
    flag_4b = niv or v[10] == 0 or v[12] < 4
    if dead:
        stage = 5
    elif flag_4a or flag_4b:
        stage = 4
    else:
        stage = len(involved)
    return KingsStage(stage, tuple(involved), bool(flag_4a), bool(flag_4b))


def mitos_stage(score: AlsfrsScore, *, dead: bool = False) -> MitosStage:
    """MiToS stage of one ALSFRS-R rating (module docstring); death gives stage 5.

    Raises
    ------
    ValidationError
        For an original-ALSFRS rating or one with a missing item.
    """
    _require_complete_r(score, "MiToS stage")
    v = _complete_items(score)
    lost = []
    if v[8] <= 1 or v[6] <= 1:
        lost.append("walking_self_care")
    if v[3] <= 1:
        lost.append("swallowing")
    if v[1] <= 1 and v[4] <= 1:
        lost.append("communicating")
    if v[10] <= 1 or v[12] <= 2:
        lost.append("breathing")
    return MitosStage(5 if dead else len(lost), tuple(lost))


def _flags(values: npt.ArrayLike | bool | None, n: int, name: str) -> npt.NDArray[np.bool_]:
    import numpy as np  # deferred: the scalar scoring of a form needs no numpy

    array = np.zeros(n, dtype=bool) if values is None else np.asarray(values, dtype=bool)
    array = np.broadcast_to(array, (n,)) if array.ndim == 0 else array
    if array.shape != (n,):
        raise ValidationError(
            f"{name} must have one value per rating ({n}), got shape {array.shape}",
            field=name,
        )
    return array


def kings_stage_array(
    items: npt.ArrayLike,
    item_5b: npt.ArrayLike | bool | None = None,
    *,
    gastrostomy: npt.ArrayLike | bool | None = None,
    niv: npt.ArrayLike | bool | None = None,
    dead: npt.ArrayLike | bool | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """King's stage of many ALSFRS-R ratings at once.

    Parameters
    ----------
    items
        ``(n, 12)`` item matrix, column 5 holding whichever of 5a/5b was answered; NaN missing.
    item_5b
        Per row, whether column 5 is item 5b (the patient has a gastrostomy).
    gastrostomy, niv, dead
        Per row, records from outside the scale (module docstring).

    Returns
    -------
    stage, flag_4a, flag_4b
        Stage 0-5 as floats (NaN when an item the stage needs is missing and the subject is
        alive), and the 4A and 4B flags.
    """
    import numpy as np  # deferred: the scalar scoring of a form needs no numpy

    matrix = _as_item_matrix(items, AlsfrsScale.ALSFRS_R)
    n = matrix.shape[0]
    is_5b = _flags(item_5b, n, "item_5b")
    item = {k: matrix[:, k - 1] for k in range(1, 13)}
    bulbar = (item[1] < 4) | (item[2] < 4) | (item[3] < 4)
    upper = (item[4] < 4) | (~is_5b & (item[5] < 4))
    lower = item[8] < 4
    regions = bulbar.astype(np.float64) + upper + lower
    flag_4a = is_5b | _flags(gastrostomy, n, "gastrostomy")
    flag_4b = (item[10] == 0) | (item[12] < 4) | _flags(niv, n, "niv")
    needed = [1, 2, 3, 4, 5, 8, 10, 12]
    incomplete = np.isnan(matrix[:, [k - 1 for k in needed]]).any(axis=1)
    stage = np.where(flag_4a | flag_4b, 4.0, regions)
    stage = np.where(incomplete & ~(flag_4a | flag_4b), np.nan, stage)
    stage = np.where(_flags(dead, n, "dead"), 5.0, stage)
    return stage, flag_4a, flag_4b


def mitos_stage_array(
    items: npt.ArrayLike, *, dead: npt.ArrayLike | bool | None = None
) -> npt.NDArray[np.float64]:
    """MiToS stage of many ALSFRS-R ratings; NaN when a needed item is missing (and alive)."""
    import numpy as np  # deferred: the scalar scoring of a form needs no numpy

    matrix = _as_item_matrix(items, AlsfrsScale.ALSFRS_R)
    item = {k: matrix[:, k - 1] for k in range(1, 13)}
    lost = (
        ((item[8] <= 1) | (item[6] <= 1)).astype(np.float64)
        + (item[3] <= 1)
        + ((item[1] <= 1) & (item[4] <= 1))
        + ((item[10] <= 1) | (item[12] <= 2))
    )
    needed = [1, 3, 4, 6, 8, 10, 12]
    incomplete = np.isnan(matrix[:, [k - 1 for k in needed]]).any(axis=1)
    stage = np.where(incomplete, np.nan, lost)
    return np.where(_flags(dead, len(stage), "dead"), 5.0, stage)
