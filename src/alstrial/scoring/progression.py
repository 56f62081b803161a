"""Progression rates: delta-FS from onset, per-patient slopes, and pre- versus post-treatment slope.

- Delta-FS (Kimura et al. 2006, Neurology 66:265-7): (maximum - total) / months from symptom
  onset to the rating, months = days / 30.4375; the maximum is 48 for the ALSFRS-R.
- Per-patient slope: ordinary least squares of the value on time in months over a window,
  with its standard error and a t confidence interval (n - 2 degrees of freedom).
- Pre- versus post-administration slope: the per-patient "broken stick"
  ``y = b0 + b_pre min(t, 0) + b_post max(t, 0)`` with t the months from administration, so
  the two lines meet at administration (or, with ``joined=False``, a separate level after it:
  ``+ b_jump [t > 0]``). The change of slope ``b_post - b_pre`` gets its standard error from
  the OLS covariance and a t interval with n - p degrees of freedom. A lead-in design
  (the reference trial rated patients 6, 4, 2 and 1 weeks before administration) makes each
  patient his own control; the paper asked this question of its patient 9 only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from alstrial.exceptions import ValidationError
from alstrial.vocabulary import MONTH_DAYS

__all__ = [
    "PrePostSlopes",
    "Slope",
    "delta_fs",
    "delta_fs_array",
    "months_between",
    "pre_post_slopes",
    "slope",
]


def months_between(start: date, end: date) -> float:
    """Months from ``start`` to ``end``: days / 30.4375 (365.25 / 12)."""
    return (end - start).days / MONTH_DAYS


def delta_fs(total: float, onset: date, visit: date, *, maximum: int = 48) -> float:
    """Delta-FS: points lost per month since symptom onset.

    .. math:: \\Delta FS = (maximum - total) / ((visit - onset)_{days} / 30.4375)

    Parameters
    ----------
    total
        The ALSFRS-R total at the visit (0-48), or an original ALSFRS total with
        ``maximum=40``.
    onset, visit
        Date of first symptom and date of the rating.
    maximum
        The scale's best total.

    Raises
    ------
    ValidationError
        For a total outside 0-maximum, or a visit on or before onset.

    Examples
    --------
    >>> round(delta_fs(40, date(2023, 1, 15), date(2023, 11, 15)), 5)
    0.80099
    """
    if not 0 <= total <= maximum:
        raise ValidationError(
            f"total {total} is outside 0-{maximum}",
            field="total",
            value=total,
            allowed=f"0-{maximum}",
        )
    months = months_between(onset, visit)
    if months <= 0:
        raise ValidationError(
            f"the rating ({visit.isoformat()}) must come after symptom onset ({onset.isoformat()})",
            field="onset_date",
            value=onset.isoformat(),
            allowed=f"a date before {visit.isoformat()}",
        )
    return (maximum - total) / months


def delta_fs_array(
    total: npt.ArrayLike, months_since_onset: npt.ArrayLike, *, maximum: int = 48
) -> npt.NDArray[np.float64]:
    """Vectorised delta-FS: ``(maximum - total) / months``; NaN where either is missing."""
    totals = np.asarray(total, dtype=np.float64)
    months = np.asarray(months_since_onset, dtype=np.float64)
    if np.any((totals < 0) | (totals > maximum)):
        raise ValidationError(f"a total is outside 0-{maximum}", field="total")
    if np.any(months <= 0):
        raise ValidationError("months since onset must be positive", field="months_since_onset")
    return (maximum - totals) / months


@dataclass(frozen=True)
class Slope:
    """A least-squares slope per month with its standard error and confidence interval."""

    estimate: float
    se: float
    df: int
    ci_low: float
    ci_high: float
    n: int


def _arrays(
    times: Sequence[float] | npt.ArrayLike, values: Sequence[float] | npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if t.shape != y.shape or t.ndim != 1:
        raise ValidationError(
            f"times and values must be 1-d of one length, got {t.shape} and {y.shape}",
            field="values",
        )
    keep = np.isfinite(t) & np.isfinite(y)
    return t[keep], y[keep]


def _ols(
    design: npt.NDArray[np.float64], y: npt.NDArray[np.float64], what: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], int]:
    """Coefficients, their covariance and the residual df of an OLS fit."""
    n, p = design.shape
    df = n - p
    if df < 1:
        raise ValidationError(
            f"{what} needs at least {p + 1} observations with distinct times, got {n}",
            field="values",
            value=n,
            allowed=f">= {p + 1} observations",
        )
    xtx = design.T @ design
    if np.linalg.matrix_rank(xtx) < p:
        raise ValidationError(
            f"{what} cannot be estimated: the times do not span the model "
            "(all on one side of administration, or all at one time)",
            field="times",
        )
    xtx_inv = np.linalg.inv(xtx)
    beta = xtx_inv @ design.T @ y
    residual = y - design @ beta
    sigma2 = float(residual @ residual) / df
    return beta, sigma2 * xtx_inv, df


def _interval(estimate: float, se: float, df: int, level: float) -> tuple[float, float]:
    from scipy import stats  # deferred: scipy.stats costs 0.5 s to import

    half = float(stats.t.ppf(0.5 + level / 2, df)) * se
    return estimate - half, estimate + half


def slope(
    months: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    window: tuple[float, float] | None = None,
    level: float = 0.95,
) -> Slope:
    """OLS slope of ``values`` on ``months`` (units per month) over an optional window.

    .. math:: \\hat b = \\sum (t - \\bar t)(y - \\bar y) / \\sum (t - \\bar t)^2,\\quad
              SE = \\hat\\sigma / \\sqrt{\\sum (t - \\bar t)^2},\\ df = n - 2

    Parameters
    ----------
    months, values
        Times (months from any origin) and values (ALSFRS-R total, FVC % predicted, ...);
        NaN pairs are dropped.
    window
        Inclusive ``(start, end)`` in the same months; points outside are ignored.
    level
        Confidence level of the interval.

    Raises
    ------
    ValidationError
        With fewer than 3 points, or all at one time.
    """
    t, y = _arrays(months, values)
    if window is not None:
        inside = (t >= window[0]) & (t <= window[1])
        t, y = t[inside], y[inside]
    design = np.column_stack([np.ones_like(t), t])
    beta, cov, df = _ols(design, y, "a slope")
    se = float(np.sqrt(cov[1, 1]))
    low, high = _interval(float(beta[1]), se, df, level)
    return Slope(float(beta[1]), se, df, low, high, len(t))


@dataclass(frozen=True)
class PrePostSlopes:
    """One patient's slope before and after administration and the change between them."""

    pre: float
    post: float
    difference: float
    se_difference: float
    df: int
    ci_low: float
    ci_high: float
    p_value: float
    n_pre: int
    n_post: int
    joined: bool


def pre_post_slopes(
    months_from_administration: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    joined: bool = True,
    level: float = 0.95,
) -> PrePostSlopes:
    """Slopes before and after administration for one patient, and their difference.

    Parameters
    ----------
    months_from_administration
        Time of each rating in months, negative before administration, 0 at it.
    values
        The ratings; NaN pairs are dropped.
    joined
        True (default): the two lines meet at administration (broken stick, 3 parameters).
        False: the level may jump at administration (4 parameters). A point at time 0 belongs
        to the pre-administration segment.
    level
        Confidence level for the difference.

    Returns
    -------
    PrePostSlopes
        ``difference = post - pre`` (a positive value: slower decline after treatment), its
        standard error, t interval and two-sided p-value on the residual df.

    Raises
    ------
    ValidationError
        When there are too few points on either side to estimate both slopes.
    """
    t, y = _arrays(months_from_administration, values)
    n_pre, n_post = int((t <= 0).sum()), int((t > 0).sum())
    if n_pre < 2 or n_post < 2:
        raise ValidationError(
            f"pre/post slopes need at least 2 ratings on each side of administration, got "
            f"{n_pre} before and {n_post} after",
            field="values",
            allowed=">= 2 before and >= 2 after",
        )
    columns = [np.ones_like(t), np.minimum(t, 0.0), np.maximum(t, 0.0)]
    if not joined:
        columns.append((t > 0).astype(np.float64))
    beta, cov, df = _ols(np.column_stack(columns), y, "pre/post slopes")
    contrast = np.zeros(len(beta))
    contrast[1], contrast[2] = -1.0, 1.0
    difference = float(contrast @ beta)
    se = float(np.sqrt(contrast @ cov @ contrast))
    low, high = _interval(difference, se, df, level)
    from scipy import stats  # deferred: scipy.stats costs 0.5 s to import

    p_value = float(2 * stats.t.sf(abs(difference / se), df)) if se > 0 else 0.0
    return PrePostSlopes(
        pre=float(beta[1]),
        post=float(beta[2]),
        difference=difference,
        se_difference=se,
        df=df,
        ci_low=low,
        ci_high=high,
        p_value=p_value,
        n_pre=n_pre,
        n_post=n_post,
        joined=joined,
    )
