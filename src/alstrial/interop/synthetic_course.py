"""Seeded, plausible ALSFRS-R and FVC courses for a lead-in trial. SYNTHETIC DATA.

The reference paper publishes no per-visit values, so the demo generates them. Everything
this module returns is synthetic and is stored with ``provenance = synthetic``.

Model (per patient): the ALSFRS-R loss from 48 grows linearly in time,
``loss(t) = loss_0 - slope * t + e``, with ``slope`` in points/month drawn around the
natural-history mean (-1.02 points/month, SD 2.3 in PRO-ACT, Atassi et al. 2014) and
``e ~ N(0, 0.5^2)``. The loss is spread over the 12 items by onset-specific weights (bulbar
items first in bulbar onset, limb items first in limb onset), each item losing at most 4,
and rounded so that the items sum to the rounded total loss. FVC % predicted declines
linearly (about -2.2 %/month, Atassi 2014) with ``N(0, 2^2)`` noise. Litres are derived from
that % predicted with the GLI Global 2022 equation, and the store computes the % predicted
back from the litres, as it does for real measurements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ITEM_KEYS",
    "PatientCourse",
    "SyntheticVisit",
    "generate_course",
    "items_for_loss",
]

ITEM_KEYS: tuple[str, ...] = tuple(f"item_{i}" for i in range(1, 13))

_BULBAR_WEIGHTS = np.array([3.0, 2.5, 3.0, 1.0, 1.0, 1.0, 1.0, 0.8, 0.8, 0.8, 0.6, 0.5])
_LIMB_WEIGHTS = np.array([0.7, 0.5, 0.6, 2.5, 2.5, 2.0, 1.8, 2.5, 2.8, 0.9, 0.6, 0.4])


@dataclass(frozen=True)
class SyntheticVisit:
    """Synthetic values of one visit: ALSFRS-R items (5a/5b resolved) and FVC."""

    visit: str
    month: float
    items: Mapping[str, int]
    fvc_percent_predicted: float
    fvc_litres: float


@dataclass(frozen=True)
class PatientCourse:
    """Parameters of one patient's synthetic course."""

    onset: str
    baseline_loss: float
    slope_pre: float
    slope_post: float
    fvc_baseline: float
    fvc_slope_pre: float
    fvc_slope_post: float
    predicted_fvc_litres: float
    gastrostomy_month: float | None = None
    tracheostomy_month: float | None = None


def items_for_loss(loss: float, weights: np.ndarray) -> np.ndarray:
    """Spread a total loss over 12 items (each losing 0-4) by weights; returns item scores.

    The items sum to ``48 - round(loss)`` (loss clipped to 0-48): the continuous share of
    each item is capped at 4 with the excess passed on to the others, then rounded by the
    largest-remainder method.
    """
    total_loss = int(np.clip(round(loss), 0, 48))
    share = np.zeros(12)
    remaining = float(total_loss)
    open_items = np.ones(12, dtype=bool)
    while remaining > 1e-9 and open_items.any():
        w = np.where(open_items, weights, 0.0)
        add = remaining * w / w.sum()
        share = share + add
        over = np.clip(share - 4.0, 0.0, None)
        share = np.minimum(share, 4.0)
        remaining = float(over.sum())
        open_items = share < 4.0 - 1e-12
    floors = np.floor(share).astype(int)
    shortfall = total_loss - int(floors.sum())
    order = np.argsort(-(share - floors), kind="stable")
    for index in order[:shortfall]:
        floors[index] += 1
    return np.asarray(4 - floors, dtype=int)


def generate_course(
    course: PatientCourse,
    visits: Sequence[tuple[str, float]],
    rng: np.random.Generator,
) -> list[SyntheticVisit]:
    """Generate the synthetic visits of one patient.

    Parameters
    ----------
    course
        The patient's parameters.
    visits
        ``(visit code, months from administration)`` in time order; negative months are
        the lead-in.
    rng
        A seeded generator; the same seed gives the same course.
    """
    weights = _BULBAR_WEIGHTS if course.onset == "bulbar" else _LIMB_WEIGHTS
    result: list[SyntheticVisit] = []
    for code, month in visits:
        slope = course.slope_pre if month < 0 else course.slope_post
        fvc_slope = course.fvc_slope_pre if month < 0 else course.fvc_slope_post
        loss = course.baseline_loss - slope * month + rng.normal(0.0, 0.5)
        if month >= 0:
            loss = max(loss, course.baseline_loss)
        items = items_for_loss(loss, weights)
        values = {key: int(value) for key, value in zip(ITEM_KEYS, items, strict=True)}
        if course.tracheostomy_month is not None and month >= course.tracheostomy_month:
            values["item_12"] = 0
        gastrostomy = course.gastrostomy_month is not None and month >= course.gastrostomy_month
        item_5 = values.pop("item_5")
        values["item_5b" if gastrostomy else "item_5a"] = item_5
        percent = course.fvc_baseline + fvc_slope * month + rng.normal(0.0, 2.0)
        percent = float(np.clip(round(percent, 1), 12.0, 130.0))
        litres = round(percent / 100 * course.predicted_fvc_litres, 2)
        result.append(SyntheticVisit(code, month, values, percent, litres))
    return result
