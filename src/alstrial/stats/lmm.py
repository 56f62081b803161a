"""Linear mixed model with a random intercept and slope, and the piecewise (lead-in) model.

Model: y_ij = x_ij' beta + b_0i + b_1i t_ij + e_ij, (b_0i, b_1i) ~ N(0, G), e_ij ~ N(0, s2),
fitted by REML (or ML) with Satterthwaite (or Kenward-Roger) degrees of freedom, as
``lmerTest::lmer(y ~ ... + (t | subject))`` and SAS ``RANDOM INTERCEPT t / TYPE=UN``. The
marginal covariance of a subject observed at times t is Z G Z' + s2 I with Z = [1, t]: the
same GLS engine as the MMRM fits it, with that structure over the grid of distinct times (the
trial's nominal visit times; times measured in days on a continuous scale would give one grid
point per distinct day).

The piecewise model for a lead-in design adds a change of slope at administration:
``y ~ arm * (t + post)`` with ``post = max(t, 0)``, t in months from administration, so the
slope is ``t`` before and ``t + post`` after; :func:`piecewise_lmm` builds it and reports the
pre- and post-administration slope of each arm and their difference.

References
----------
Laird NM, Ware JH (1982), Biometrics 38:963-74. Kuznetsova A, Brockhoff PB, Christensen RHB
(2017), J Stat Softw 82(13) (lmerTest).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alstrial.exceptions import ValidationError
from alstrial.stats.covariance import random_slope_structure
from alstrial.stats.inference import ContrastResult
from alstrial.stats.mmrm import MmrmResult, mmrm

__all__ = ["PiecewiseSlopes", "lmm", "piecewise_lmm"]

_MAX_GRID = 60


def lmm(
    data: pd.DataFrame,
    formula: str,
    *,
    subject: str,
    time: str,
    reml: bool = True,
    df: str = "satterthwaite",
    references: Mapping[str, str] | None = None,
) -> MmrmResult:
    """Fit a random intercept and slope model on the column ``time`` (module docstring).

    Raises
    ------
    ValidationError
        When ``time`` is missing or not numeric, or takes more than 60 distinct values.
    """
    if time not in data.columns:
        raise ValidationError(
            f"column {time!r} is not in the data",
            field=time,
            allowed=", ".join(map(str, data.columns)),
        )
    times = pd.to_numeric(data[time], errors="coerce")
    if (data[time].notna() & times.isna()).any():
        raise ValidationError(f"time column {time!r} must be numeric", field=time)
    grid = np.unique(times.dropna().to_numpy(dtype=float))
    if len(grid) > _MAX_GRID:
        raise ValidationError(
            f"time column {time!r} has {len(grid)} distinct values; the random-slope model is "
            f"fitted over a grid of at most {_MAX_GRID} (use nominal visit times)",
            field=time,
            value=len(grid),
        )
    order = [f"{float(v)!r}" for v in grid]
    keyed = data.assign(_grid=times.map(lambda v: None if pd.isna(v) else f"{float(v)!r}"))
    return mmrm(
        keyed,
        formula,
        subject=subject,
        visit="_grid",
        reml=reml,
        df=df,
        references=references,
        visit_order=order,
        structure=random_slope_structure(grid.tolist()),
    )


@dataclass(frozen=True)
class PiecewiseSlopes:
    """Slopes before and after administration per arm, and the change, from one model."""

    fit: MmrmResult
    pre: dict[str, ContrastResult]
    post: dict[str, ContrastResult]
    change: dict[str, ContrastResult]


def piecewise_lmm(
    data: pd.DataFrame,
    *,
    value: str,
    subject: str,
    months: str,
    arm: str | None = None,
    reml: bool = True,
) -> PiecewiseSlopes:
    """Random intercept and slope model with a change of slope at administration.

    Parameters
    ----------
    data
        Long data; ``months`` is the time from administration (negative in the lead-in).
    value, subject, months
        Columns of the response, the subject and the time.
    arm
        Optional arm column: each arm gets its own slopes.

    Returns
    -------
    PiecewiseSlopes
        Per arm (or ``"all"``): slope before, slope after, and after - before, each with SE,
        Satterthwaite df and CI.
    """
    frame = data.copy()
    frame["post_administration"] = np.maximum(pd.to_numeric(frame[months]), 0.0)
    rhs = f"{months} + post_administration"
    formula = f"{value} ~ {arm} * ({rhs})" if arm else f"{value} ~ {rhs}"
    fit = lmm(frame, formula, subject=subject, time=months, reml=reml)
    names = fit.design.column_names
    groups = list(fit.design.levels[arm]) if arm else ["all"]
    pre, post, change = {}, {}, {}
    for index, group in enumerate(groups):
        slope = np.zeros(len(names))
        jump = np.zeros(len(names))
        slope[names.index(months)] = 1.0
        jump[names.index("post_administration")] = 1.0
        if arm and index > 0:
            level = f"{arm}{group}"
            slope[names.index(f"{level}:{months}")] = 1.0
            jump[names.index(f"{level}:post_administration")] = 1.0
        pre[group] = fit.contrast(slope)
        post[group] = fit.contrast(slope + jump)
        change[group] = fit.contrast(jump)
    return PiecewiseSlopes(fit, pre, post, change)
