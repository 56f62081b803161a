"""The t, F, chi-square and normal distributions the tests need, from ``scipy.special``.

``scipy.stats`` costs about half a second to import (it loads every distribution and test);
the handful of tail areas and quantiles used here come from the same Cephes routines in
``scipy.special`` (``stdtr``, ``fdtrc``, ``chdtrc``, ``ndtri``), which import in a quarter
of that: a command-line analysis starts faster with identical numbers.
"""

from __future__ import annotations

import math

from scipy import special

__all__ = ["chi2_sf", "f_sf", "norm_ppf", "norm_sf", "t_ppf", "t_sf", "t_two_sided"]


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t on ``df`` degrees of freedom."""
    return float(special.stdtr(df, -t))


def t_two_sided(t: float, df: float) -> float:
    """P(|T| > |t|); the normal limit when ``df`` is infinite."""
    if not math.isfinite(df):
        return 2.0 * norm_sf(abs(t))
    return 2.0 * t_sf(abs(t), df)


def t_ppf(p: float, df: float) -> float:
    """The p quantile of Student's t."""
    if not math.isfinite(df):
        return norm_ppf(p)
    return float(special.stdtrit(df, p))


def f_sf(F: float, df_num: float, df_den: float) -> float:
    """P(F(df_num, df_den) > F)."""
    return float(special.fdtrc(df_num, df_den, F))


def chi2_sf(x: float, df: float) -> float:
    """P(chi2(df) > x)."""
    return float(special.chdtrc(df, x))


def norm_sf(z: float) -> float:
    """P(Z > z) for the standard normal."""
    return float(special.ndtr(-z))


def norm_ppf(p: float) -> float:
    """The p quantile of the standard normal."""
    return float(special.ndtri(p))
