"""Power for the next trial from this trial's data (issue 18, item 4).

The paper asks for a larger, controlled trial. This module turns the trial's ALSFRS-R
ratings into the sample size per arm of a randomised two-arm phase-2 trial that would detect
a slowing of the decline by 25 %, 35 % or 50 % at 6 and at 12 months:

1. **Slope model.** A linear mixed model with a random intercept and slope per patient,
   :math:`y_{it} = b_0 + b_1 t + u_{0i} + u_{1i} t + e_{it}`, REML, fitted to every rating
   from the last lead-in visit (week -1, the next trial's baseline) to the end of follow-up,
   both arms pooled (this trial has no control arm: its patients' decline stands for the
   next trial's control arm). It gives the mean decline :math:`b_1` (points per month), the
   slope variance :math:`\\sigma^2_{u_1}` and the residual variance :math:`\\sigma^2_e`.
2. **Analytic sample size** (random-slope model; Diggle et al. 2002, longpower's
   ``lmmpower``): with :math:`\\delta = f |b_1|` the slowing and the next trial's rating times
   :math:`t_j` (this protocol's ALSFRS-R visits up to the horizon),

   .. math:: n = 2 (z_{1-\\alpha/2} + z_{1-\\beta})^2
             (\\sigma^2_e / \\textstyle\\sum_j (t_j - \\bar t)^2 + \\sigma^2_{u_1}) / \\delta^2

   per arm, and :math:`n / r_H` to allow for dropout, :math:`r_H` the share of this trial's
   patients still rated at the horizon.
3. **Simulation** (optional, slower): trials of that size drawn from the slope model's
   implied visit covariance :math:`Z G Z^T + \\sigma^2_e I`, control mean
   :math:`b_0 + b_1 t`, treated :math:`b_0 + (1 - f) b_1 t`, dropout as observed, each
   analysed by an MMRM of the difference at the horizon; the share significant is the power,
   with its Monte-Carlo standard error :math:`\\sqrt{p(1-p)/n_{sim}}`.

References
----------
Diggle PJ, Heagerty P, Liang K-Y, Zeger SL. *Analysis of Longitudinal Data*, 2nd ed. Oxford
University Press, 2002, section 2.4. Donohue MC, Edland SD. longpower: Sample Size
Calculations for Longitudinal Data (R package), ``lmmpower``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import accumulate, pairwise

import numpy as np
import pandas as pd

from alstrial.exceptions import ValidationError
from alstrial.services.frames import AnalysisFrames
from alstrial.stats.lmm import lmm
from alstrial.stats.power import SimulatedPower, random_slope_n, simulate_power
from alstrial.vocabulary import MONTH_DAYS

__all__ = ["NextTrialPower", "conditional_retention", "next_trial_power"]

SLOWINGS = (0.25, 0.35, 0.50)
HORIZONS = (6.0, 12.0)


@dataclass(frozen=True)
class NextTrialPower:
    """The estimates taken from the trial, the sample sizes, and every assumption."""

    slope: float
    var_slope: float
    var_residual: float
    n_patients: int
    n_ratings: int
    table: pd.DataFrame
    assumptions: tuple[str, ...] = field(default_factory=tuple)


def _ratings(frames: AnalysisFrames) -> pd.DataFrame:
    """Every ALSFRS-R total from the last lead-in visit on, with months from the
    administration (nominal)."""
    measures = frames.measures
    data = measures[measures["measure"] == "alsfrs_r_total"].copy()
    lead_in = frames.visits[frames.visits["day"] < 0]
    first = int(lead_in["day"].max()) if len(lead_in) else 0
    data = data[data["nominal_day"] >= first]
    data["months"] = data["nominal_day"] / MONTH_DAYS
    return data


def _retention(data: pd.DataFrame, horizon: float) -> float:
    """The share of patients rated at baseline who are rated at the visit nearest the
    horizon."""
    baseline = set(data.loc[data["months"] <= 0, "subject"])
    months = sorted(set(data["months"]))
    nearest = min(months, key=lambda m: abs(m - horizon))
    rated = set(data.loc[data["months"] == nearest, "subject"])
    return len(rated & baseline) / len(baseline) if baseline else float("nan")


def next_trial_power(
    frames: AnalysisFrames,
    *,
    slowings: tuple[float, ...] = SLOWINGS,
    horizons: tuple[float, ...] = HORIZONS,
    alpha: float = 0.05,
    power: float = 0.8,
    n_sim: int = 0,
    seed: int = 20130101,
) -> NextTrialPower:
    """Sample size per arm of the next trial (module docstring); ``n_sim`` > 0 adds the
    simulated power of that size.

    Raises
    ------
    ValidationError
        Too few patients or ratings to fit the slope model, or a mean slope that is not a
        decline (nothing to slow).
    """
    data = _ratings(frames)
    if data["subject"].nunique() < 3 or len(data) < 6:
        raise ValidationError(
            "power from the study needs ALSFRS-R ratings of at least 3 patients",
            field="alsfrs_r_total",
            value=int(data["subject"].nunique()),
        )
    fit = lmm(data, "value ~ months", subject="subject", time="months", random="slope")
    names = list(fit.design.column_names)
    slope = float(fit.beta[names.index("months")])
    if slope >= 0:
        raise ValidationError(
            f"the mean ALSFRS-R slope is {slope:+.3f} points/month, not a decline: there is "
            "no decline to slow",
            field="alsfrs_r_total",
            value=slope,
        )
    var_slope = float(fit.G[1, 1])
    var_residual = float(fit.residual_variance)
    visit_months = sorted(
        {float(m) for m in data["months"] if m > 0}  # the follow-up rating times
    )
    rows = []
    for horizon in horizons:
        times = [0.0, *[m for m in visit_months if m <= horizon + 0.5]]
        retention = _retention(data, horizon)
        for fraction in slowings:
            delta = fraction * abs(slope)
            n = random_slope_n(
                delta, times, var_slope=var_slope, var_residual=var_residual,
                alpha=alpha, power=power,
            )  # fmt: skip
            per_arm = math.ceil(n)
            with_dropout = math.ceil(n / retention) if retention > 0 else None
            row: dict[str, object] = {
                "horizon_months": horizon,
                "slowing": fraction,
                "delta_points_per_month": delta,
                "times": ", ".join(f"{t:g}" for t in (round(t, 2) for t in times)),
                "n_per_arm": per_arm,
                "retention": retention,
                "n_per_arm_with_dropout": with_dropout,
                "simulated_power": float("nan"),
                "mc_se": float("nan"),
            }
            if n_sim > 0 and with_dropout is not None:
                simulated = _simulate(fit.beta[0], slope, fit.G, var_residual, times, fraction,
                                      data, with_dropout, n_sim, alpha, seed)  # fmt: skip
                row["simulated_power"] = simulated.power
                row["mc_se"] = simulated.mc_se
            rows.append(row)
    assumptions = (
        "The next trial's control arm declines as this trial's patients did after week -1 "
        "(both arms pooled; this trial had no control arm).",
        "The decline is linear in time over the horizon, with patient-specific random "
        "intercepts and slopes (REML).",
        f"Two-sided test at alpha = {alpha:g}, power {power:.0%}, 1:1 allocation.",
        "Rating times: baseline and this protocol's ALSFRS-R follow-up visits up to the horizon.",
        "Dropout: the share of this trial's patients still rated at the visit nearest the "
        "horizon; n with dropout = n / that share.",
        "The slowing is of the mean slope (points per month): 25 % slowing means the treated "
        "arm declines at 75 % of the control's rate.",
    )
    return NextTrialPower(
        slope=slope,
        var_slope=var_slope,
        var_residual=var_residual,
        n_patients=int(data["subject"].nunique()),
        n_ratings=len(data),
        table=pd.DataFrame(rows),
        assumptions=assumptions
        + (
            (
                f"Simulation: {n_sim} trials per row from the slope model's visit covariance "
                "and the observed dropout, each analysed by an MMRM (unstructured) of the "
                "difference at the horizon; Monte-Carlo SE = sqrt(p(1 - p)/n_sim).",
            )
            if n_sim > 0
            else ()
        ),
    )


def _simulate(
    intercept: float,
    slope: float,
    g_matrix: np.ndarray,
    var_residual: float,
    times: list[float],
    fraction: float,
    data: pd.DataFrame,
    n_per_arm: int,
    n_sim: int,
    alpha: float,
    seed: int,
) -> SimulatedPower:
    t = np.asarray(times, dtype=np.float64)
    z = np.column_stack([np.ones_like(t), t])
    covariance = z @ g_matrix @ z.T + var_residual * np.eye(len(t))
    visits = [f"M{m:g}" for m in (round(x, 2) for x in t)]
    means = pd.DataFrame(
        [intercept + slope * t, intercept + (1 - fraction) * slope * t],
        index=["control", "treated"],
        columns=visits,
    )
    observed = [1.0, *[_retention(data, float(m)) for m in t[1:]]]
    return simulate_power(
        means, covariance, n_per_arm=n_per_arm, retention=conditional_retention(observed),
        n_sim=n_sim, alpha=alpha, seed=seed,
    )  # fmt: skip


def conditional_retention(observed: list[float]) -> list[float]:
    """Per-visit probabilities of staying, from the shares still observed at each visit.

    :func:`~alstrial.stats.power.simulate_power` draws each visit's staying independently and
    keeps a patient while every draw so far succeeds, so the share observed at visit ``t`` is
    the product of its probabilities up to ``t``: :math:`c_t = m_t / m_{t-1}`, with ``m`` the
    observed shares made monotone (a later visit cannot keep more patients than an earlier
    one); 0 after a visit nobody reached.
    """
    monotone = list(accumulate(observed, min))
    return [
        monotone[0],
        *(current / previous if previous > 0 else 0.0 for previous, current in pairwise(monotone)),
    ]
