"""Kaplan-Meier estimates and the log-rank test.

- Kaplan-Meier: S(t) = prod_{t_j <= t} (1 - d_j / n_j) over distinct event times t_j with d_j
  events among n_j at risk; Greenwood's variance Var S = S^2 sum d_j / (n_j (n_j - d_j)).
  Confidence intervals on the log scale by default (R survival's ``conf.type = "log"``:
  S exp(+-z se / S)), or log-log (SAS LIFETEST's default), or plain; clipped to [0, 1].
  Median: the first time S(t) <= 0.5 (R's convention, including the midpoint when S equals
  0.5 exactly over an interval); its confidence limits are where the CI bands cross 0.5.
- Log-rank (Mantel-Haenszel) test of k groups: observed minus expected events
  O_g - E_g with E_g = sum_j n_gj d_j / n_j and the hypergeometric covariance
  V_gh = sum_j d_j (n_j - d_j) / (n_j - 1) (n_gj / n_j)(delta_gh - n_hj / n_j);
  chi-square on k - 1 df from any k - 1 groups (R survival's ``survdiff``).

References
----------
Kaplan EL, Meier P (1958), JASA 53:457-81. Greenwood M (1926). Mantel N (1966), Cancer
Chemother Rep 50:163-70. Therneau TM, R package survival (survfit, survdiff).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from alstrial.exceptions import ValidationError
from alstrial.stats.distributions import chi2_sf, norm_ppf

__all__ = ["KaplanMeier", "LogRank", "kaplan_meier", "log_rank"]

Vector = npt.NDArray[np.float64]
_CONF_TYPES = ("log", "log-log", "plain")


@dataclass(frozen=True)
class KaplanMeier:
    """The Kaplan-Meier curve at each distinct event time, with the median."""

    time: Vector
    n_risk: Vector
    n_event: Vector
    survival: Vector
    se: Vector
    ci_low: Vector
    ci_high: Vector
    median: float | None
    median_ci: tuple[float | None, float | None]
    n: int
    events: int

    def at(self, t: float) -> float:
        """S(t): the estimate at the last event time on or before ``t``."""
        index = int(np.searchsorted(self.time, t, side="right")) - 1
        return 1.0 if index < 0 else float(self.survival[index])

    def table(self) -> pd.DataFrame:
        """The curve as a table (time, at risk, events, survival, SE, CI)."""
        return pd.DataFrame(
            {
                "time": self.time,
                "n_risk": self.n_risk,
                "n_event": self.n_event,
                "survival": self.survival,
                "se": self.se,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
            }
        )


def _check(time: Vector, event: Vector) -> None:
    if time.ndim != 1 or time.shape != event.shape:
        raise ValidationError("time and event must be 1-d arrays of one length", field="time")
    if len(time) == 0:
        raise ValidationError("no subjects to analyse", field="time")
    if np.any(~np.isfinite(time)) or np.any(time < 0):
        raise ValidationError("times must be finite and non-negative", field="time")
    if not np.all(np.isin(event, (0, 1))):
        raise ValidationError("event must be 0 (censored) or 1 (event)", field="event")


def _risk_table(t: Vector, e: Vector, times: Vector | None = None) -> tuple[Vector, Vector, Vector]:
    """Distinct event times (or the given ``times``), events and number at risk at each.

    At risk at u: the subjects with t >= u, n - (number with t < u), by binary search in the
    sorted times: O(n log n), not one pass over the data per event time.
    """
    event_times, counts = np.unique(t[e == 1], return_counts=True)
    if times is None:
        times = event_times
    n_event = np.zeros(len(times))
    found = np.searchsorted(times, event_times)
    n_event[found] = counts
    n_risk = len(t) - np.searchsorted(np.sort(t), times, side="left")
    return times, n_event, n_risk.astype(np.float64)


def _median(time: Vector, curve: Vector) -> float | None:
    below = np.flatnonzero(curve <= 0.5 + 1e-12)
    if below.size == 0:
        return None
    first = below[0]
    if abs(curve[first] - 0.5) < 1e-12 and first + 1 < len(time):
        return float((time[first] + time[first + 1]) / 2)
    return float(time[first])


def kaplan_meier(
    time: Sequence[float] | Vector,
    event: Sequence[int] | Vector,
    *,
    conf_type: str = "log",
    level: float = 0.95,
) -> KaplanMeier:
    """Kaplan-Meier estimate with Greenwood standard errors (module docstring).

    Parameters
    ----------
    time
        Follow-up time of each subject (any unit; months in alstrial's reports).
    event
        1 when the event happened at ``time``, 0 when the subject was censored then.
    conf_type
        ``log`` (default, as R), ``log-log`` (as SAS) or ``plain``.
    level
        Confidence level.

    Raises
    ------
    ValidationError
        For negative or missing times, events other than 0/1, or an unknown ``conf_type``.
    """
    t = np.asarray(time, dtype=np.float64)
    e = np.asarray(event, dtype=np.float64)
    _check(t, e)
    if conf_type not in _CONF_TYPES:
        raise ValidationError(
            f"unknown confidence interval type {conf_type!r}",
            field="conf_type",
            value=conf_type,
            allowed=", ".join(_CONF_TYPES),
        )
    times, n_event, n_risk = _risk_table(t, e)
    survival: Vector = np.asarray(np.cumprod(1 - n_event / n_risk), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(n_event / (n_risk * (n_risk - n_event)))
        se: Vector = np.asarray(survival * np.sqrt(greenwood), dtype=np.float64)
        z = norm_ppf(0.5 + level / 2)
        low: Vector
        high: Vector
        if conf_type == "log":
            low = survival * np.exp(-z * np.sqrt(greenwood))
            high = survival * np.exp(z * np.sqrt(greenwood))
        elif conf_type == "log-log":
            log_s = np.log(survival)
            spread = z * np.sqrt(greenwood) / np.abs(log_s)
            low = survival ** np.exp(spread)
            high = survival ** np.exp(-spread)
        else:
            low, high = survival - z * se, survival + z * se
    low = np.where(survival > 0, np.clip(low, 0, 1), np.nan)
    high = np.where(survival > 0, np.clip(high, 0, 1), np.nan)
    # The median's interval: the times whose survival interval contains 0.5 (R's rule).
    median_low = _median(times, np.nan_to_num(low, nan=1.0))
    median_high = _median(times, np.nan_to_num(high, nan=1.0))
    return KaplanMeier(
        time=times,
        n_risk=n_risk,
        n_event=n_event,
        survival=survival,
        se=se,
        ci_low=low,
        ci_high=high,
        median=_median(times, survival),
        median_ci=(median_low, median_high),
        n=len(t),
        events=int(e.sum()),
    )


@dataclass(frozen=True)
class LogRank:
    """Log-rank test: observed and expected events per group, chi-square, df and p."""

    groups: tuple[str, ...]
    observed: Vector
    expected: Vector
    chi2: float
    df: int
    p: float


def log_rank(
    time: Sequence[float] | Vector,
    event: Sequence[int] | Vector,
    group: Sequence[object],
) -> LogRank:
    """Log-rank test of equal survival across groups (module docstring)."""
    t = np.asarray(time, dtype=np.float64)
    e = np.asarray(event, dtype=np.float64)
    _check(t, e)
    labels = np.asarray([str(g) for g in group])
    if labels.shape != t.shape:
        raise ValidationError("group must have one value per subject", field="group")
    names = tuple(sorted(set(labels.tolist())))
    if len(names) < 2:
        raise ValidationError("the log-rank test needs at least two groups", field="group")
    k = len(names)
    times = np.unique(t[e == 1])
    deaths = np.empty((len(times), k))
    at_risk = np.empty((len(times), k))
    for j, name in enumerate(names):  # one pass per group, vectorised over event times
        own = labels == name
        _, deaths[:, j], at_risk[:, j] = _risk_table(t[own], e[own], times)
    n = at_risk.sum(axis=1)
    d = deaths.sum(axis=1)
    observed = deaths.sum(axis=0)
    expected = (at_risk * (d / n)[:, None]).sum(axis=0)
    several = n > 1
    weight = np.where(several, d * (n - d) / np.where(several, n - 1, 1.0), 0.0)
    share = at_risk / n[:, None]
    covariance = np.diag((weight[:, None] * share).sum(axis=0)) - np.einsum(
        "u,ua,ub->ab", weight, share, share
    )
    difference = (observed - expected)[:-1]
    chi2 = float(difference @ np.linalg.solve(covariance[:-1, :-1], difference))
    return LogRank(names, observed, expected, chi2, k - 1, chi2_sf(chi2, k - 1))
