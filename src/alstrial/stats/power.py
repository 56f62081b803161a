"""Power and sample size for the next trial: analytic formulas and Monte-Carlo refitting.

- Difference in mean slopes with exchangeable correlation (Diggle, Heagerty, Liang and Zeger
  2002, Analysis of Longitudinal Data, 2nd ed., section 2.4):
  n per group = 2 (z_a + z_b)^2 sigma^2 (1 - rho) / (d^2 sum (t_j - t_bar)^2).
- Random intercept and slope (Diggle et al.; Liu and Liang 1997; Edland 2009): the variance of
  a subject's least-squares slope is s2 / sum (t_j - t_bar)^2 + var(slope), and
  n per group = 2 (z_a + z_b)^2 [s2 / sum (t_j - t_bar)^2 + var(slope)] / delta^2.
- MMRM with dropout (Lu, Luo and Chen 2008, Stat Biopharm Res 1:60-71): total
  N = (1 + lambda) n_1, n_1 = (z_a + z_b)^2 (phi_1 + phi_2 / lambda) / Delta^2, Delta the
  effect at the last visit in SD units, lambda = n_2 / n_1, phi the variance inflation of a
  group, phi = [sum_j (r_j - r_{j+1}) pad(R_j^-1)]^-1_{JJ} for retention r_1 >= ... >= r_J
  (r_{J+1} = 0) and R_j the leading j x j block of the correlation matrix; the t version
  replaces z by t quantiles and iterates, on N - 4 df: that is the df that reproduces the
  published t-test column (longpower); N - 2 gives 0.02-0.03 fewer subjects.
- Monte-Carlo: simulate whole trials from a mean model and covariance (taken from a fitted
  MMRM or given by hand), with dropout, refit the MMRM to each, and count the trials whose
  last-visit arm difference has p < alpha; the power is reported with its Monte-Carlo
  standard error sqrt(p (1 - p) / n_sim).

z_a is z_{1 - alpha} one-sided or z_{1 - alpha/2} two-sided; z_b = z_{power}.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from alstrial.exceptions import ValidationError
from alstrial.stats.distributions import norm_ppf, t_ppf

if TYPE_CHECKING:
    from alstrial.stats.mmrm import MmrmResult

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]

__all__ = [
    "SimulatedPower",
    "diggle_slope_n",
    "llc_n",
    "llc_phi",
    "random_slope_delta",
    "random_slope_n",
    "simulate_power",
    "simulation_inputs",
]


def _z(alpha: float, power: float, alternative: str) -> float:
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValidationError(
            "alpha and power must lie strictly between 0 and 1",
            field="alpha",
            value=f"alpha={alpha}, power={power}",
        )
    if alternative not in ("two-sided", "one-sided"):
        raise ValidationError(
            f"unknown alternative {alternative!r}",
            field="alternative",
            value=alternative,
            allowed="two-sided, one-sided",
        )
    tail = alpha if alternative == "one-sided" else alpha / 2
    return norm_ppf(1 - tail) + norm_ppf(power)


def _spread(times: Sequence[float]) -> float:
    t = np.asarray(times, dtype=np.float64)
    if t.size < 2 or np.ptp(t) == 0:
        raise ValidationError("at least two distinct times are needed", field="times")
    return float(((t - t.mean()) ** 2).sum())


def _positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValidationError(f"{name} must be positive, got {value}", field=name, value=value)


def diggle_slope_n(
    delta: float,
    times: Sequence[float],
    sigma2: float,
    rho: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: str = "two-sided",
) -> float:
    """Subjects per group to detect a difference ``delta`` in mean slopes (module docstring).

    Examples
    --------
    >>> math.ceil(diggle_slope_n(0.5, [0, 2, 5], 100, 0.2, alternative="one-sided"))
    313
    """
    _positive(delta=abs(delta), sigma2=sigma2)
    if not -1 < rho < 1:
        raise ValidationError("rho must lie in (-1, 1)", field="rho", value=rho)
    z = _z(alpha, power, alternative)
    return 2 * z**2 * sigma2 * (1 - rho) / (delta**2 * _spread(times))


def _slope_variance(times: Sequence[float], var_slope: float, var_residual: float) -> float:
    _positive(var_residual=var_residual)
    if var_slope < 0:
        raise ValidationError("var_slope cannot be negative", field="var_slope", value=var_slope)
    return var_residual / _spread(times) + var_slope


def random_slope_n(
    delta: float,
    times: Sequence[float],
    *,
    var_slope: float,
    var_residual: float,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: str = "two-sided",
) -> float:
    """Subjects per group for a difference ``delta`` in mean slope under a random slope model."""
    _positive(delta=abs(delta))
    z = _z(alpha, power, alternative)
    return 2 * z**2 * _slope_variance(times, var_slope, var_residual) / delta**2


def random_slope_delta(
    n_per_group: float,
    times: Sequence[float],
    *,
    var_slope: float,
    var_residual: float,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: str = "two-sided",
) -> float:
    """The difference in mean slope detectable with ``n_per_group`` subjects per group."""
    _positive(n_per_group=n_per_group)
    z = _z(alpha, power, alternative)
    return math.sqrt(2 * z**2 * _slope_variance(times, var_slope, var_residual) / n_per_group)


def llc_phi(retention: Sequence[float], correlation: npt.ArrayLike) -> float:
    """Lu-Luo-Chen variance inflation of a group with ``retention`` (module docstring)."""
    r = np.asarray(retention, dtype=np.float64)
    R = np.asarray(correlation, dtype=np.float64)
    J = len(r)
    if R.shape != (J, J):
        raise ValidationError(
            f"the correlation matrix must be {J} x {J}", field="correlation", value=str(R.shape)
        )
    if r[0] != 1 or np.any(np.diff(r) > 0) or np.any(r <= 0) or np.any(r > 1):
        raise ValidationError(
            "retention must start at 1 and not increase, each in (0, 1]",
            field="retention",
            value=str(r.tolist()),
        )
    information = np.zeros((J, J))
    following = np.append(r[1:], 0.0)
    for j in range(1, J + 1):
        information[:j, :j] += (r[j - 1] - following[j - 1]) * np.linalg.inv(R[:j, :j])
    return float(np.linalg.inv(information)[J - 1, J - 1])


def llc_n(
    effect_size: float,
    *,
    phi1: float = 1.0,
    phi2: float = 1.0,
    ratio: float = 1.0,
    alpha: float = 0.05,
    power: float = 0.9,
    test: str = "z",
) -> float:
    """Total sample size of a two-arm MMRM with dropout (Lu, Luo and Chen 2008).

    Examples
    --------
    >>> round(llc_n(0.5), 3)
    168.119
    """
    _positive(effect_size=abs(effect_size), phi1=phi1, phi2=phi2, ratio=ratio)
    if test not in ("z", "t"):
        raise ValidationError(f"unknown test {test!r}", field="test", value=test, allowed="z, t")
    inflation = (phi1 + phi2 / ratio) / effect_size**2
    z = _z(alpha, power, "two-sided")
    total = (1 + ratio) * z**2 * inflation
    if test == "z":
        return total

    def gap(n: float) -> float:
        df = n - 4  # longpower's df: reproduces its t-test column of LLC Table 1 to 1e-3
        t = t_ppf(1 - alpha / 2, df) + t_ppf(power, df)
        return n - (1 + ratio) * t**2 * inflation

    from scipy import optimize

    return float(optimize.brentq(gap, max(total * 0.5, 3.0), total * 2 + 10))


def simulation_inputs(fit: MmrmResult, *, arm: str, visit: str) -> tuple[pd.DataFrame, Matrix]:
    """Means (arm x visit LS means) and the visit covariance of a fitted MMRM, ready for
    :func:`simulate_power`: the next trial simulated from this trial's own estimates."""
    means = fit.lsmeans([arm, visit]).pivot(index=arm, columns=visit, values="estimate")
    ordered = means.loc[list(fit.design.levels[arm]), list(fit.visits)]
    return ordered, np.asarray(fit.sigma, dtype=np.float64)


@dataclass(frozen=True)
class SimulatedPower:
    """Monte-Carlo power with its standard error."""

    power: float
    mc_se: float
    n_sim: int
    n_per_arm: int
    failures: int
    seed: int
    workers: int
    scheduler: str | None


@dataclass(frozen=True)
class _TrialSpec:
    """What one simulated trial needs (pickled to the workers)."""

    means: Matrix  # arms x visits
    lower: Matrix  # Cholesky factor of the visit covariance
    retention: Vector
    arms: tuple[str, ...]
    visits: tuple[str, ...]
    n_per_arm: int
    alpha: float
    covariance_structure: str
    seed: int
    n_sim: int


def _simulate_trials(spec: _TrialSpec, indices: Sequence[int]) -> list[bool | None]:
    """Significant (True/False) or failed to fit (None), for each replicate in ``indices``.

    Replicate s draws from its own stream, SeedSequence(seed).spawn(n_sim)[s], so its trial
    is the same in whichever process it runs.
    """
    from alstrial.stats.mmrm import MmrmConvergenceError, mmrm

    streams = np.random.SeedSequence(spec.seed).spawn(spec.n_sim)
    arms, visits = list(spec.arms), list(spec.visits)
    T = len(visits)
    n = spec.n_per_arm * len(arms)
    mean_matrix = spec.means[np.repeat(np.arange(len(arms)), spec.n_per_arm)]
    subject_ids = np.repeat(np.arange(n), T)
    visit_ids = np.tile(visits, n)
    arm_ids = np.repeat(np.repeat(arms, spec.n_per_arm), T)
    out: list[bool | None] = []
    for s in indices:
        rng = np.random.default_rng(streams[s])
        outcomes = mean_matrix + rng.standard_normal((n, T)) @ spec.lower.T
        seen = (rng.random((n, T)) < spec.retention[None, :]).cumprod(axis=1).astype(bool)
        frame = pd.DataFrame(
            {
                "subject": subject_ids,
                "visit": visit_ids,
                "arm": arm_ids,
                "y": np.where(seen, outcomes, np.nan).reshape(-1),
            }
        )
        try:
            fit = mmrm(
                frame,
                "y ~ arm*visit",
                subject="subject",
                visit="visit",
                covariance=spec.covariance_structure,
                references={"arm": arms[0]},
                visit_order=visits,
            )
        except (MmrmConvergenceError, ValidationError):
            out.append(None)
            continue
        last = fit.differences("arm", "visit")
        p_value = float(last[last["visit"] == visits[-1]]["p"].iloc[0])
        out.append(p_value < spec.alpha)
    return out


def simulate_power(
    means: pd.DataFrame,
    covariance: npt.ArrayLike,
    *,
    n_per_arm: int,
    retention: Sequence[float] | None = None,
    n_sim: int = 200,
    alpha: float = 0.05,
    seed: int = 1,
    covariance_structure: str = "us",
    workers: int = 1,
    scheduler: str | None = None,
) -> SimulatedPower:
    """Power of the last-visit arm difference of an MMRM, by simulating and refitting trials.

    Parameters
    ----------
    means
        One row per arm with one column per visit, in visit order (the mean trajectory; take it
        from a fitted model's LS means or give it by hand); the index names the arms, the first
        is the reference.
    covariance
        Visit covariance (T x T).
    n_per_arm
        Subjects per arm.
    retention
        Probability of staying at each visit, drawn visit by visit (monotone dropout: a patient
        is observed at visit t while every draw up to t succeeds, so the share observed there
        is the product up to t); default 1.
    n_sim, alpha, seed
        Trials simulated, test level and random seed. Trial s is drawn from its own stream
        of ``seed`` (``numpy.random.SeedSequence.spawn``), so the result does not depend on
        ``workers`` or ``scheduler``.
    covariance_structure
        The structure refitted to each simulated trial.
    workers
        Local processes (1: this one); see :mod:`~alstrial.stats.parallel`.
    scheduler
        Address of a Dask distributed scheduler to run the trials on instead.
    """
    from alstrial.stats.parallel import run_replicates

    sigma = np.asarray(covariance, dtype=np.float64)
    visits = tuple(str(v) for v in means.columns)
    T = len(visits)
    if sigma.shape != (T, T):
        raise ValidationError(
            f"the covariance must be {T} x {T} for {T} visits", field="covariance"
        )
    if not np.all(np.isfinite(sigma)) or not np.all(np.isfinite(means.to_numpy(dtype=float))):
        raise ValidationError("the means and the covariance must be finite", field="covariance")
    if n_per_arm < 3 or n_sim < 1:
        raise ValidationError("n_per_arm >= 3 and n_sim >= 1 are needed", field="n_per_arm")
    try:
        lower = np.asarray(np.linalg.cholesky(sigma), dtype=np.float64)
    except np.linalg.LinAlgError:
        raise ValidationError(
            "the covariance is not positive definite", field="covariance"
        ) from None
    keep = np.ones(T) if retention is None else np.asarray(retention, dtype=np.float64)
    if keep.shape != (T,) or np.any((keep < 0) | (keep > 1)):
        raise ValidationError(
            f"retention needs {T} probabilities between 0 and 1", field="retention"
        )
    spec = _TrialSpec(
        means=means.to_numpy(dtype=np.float64),
        lower=lower,
        retention=keep,
        arms=tuple(str(a) for a in means.index),
        visits=visits,
        n_per_arm=n_per_arm,
        alpha=alpha,
        covariance_structure=covariance_structure,
        seed=seed,
        n_sim=n_sim,
    )
    outcomes = run_replicates(_simulate_trials, spec, n_sim, workers=workers, scheduler=scheduler)
    failures = sum(outcome is None for outcome in outcomes)
    significant = sum(outcome is True for outcome in outcomes)
    done = n_sim - failures
    power = significant / done if done else float("nan")
    return SimulatedPower(
        power=power,
        mc_se=math.sqrt(power * (1 - power) / done) if done else float("nan"),
        n_sim=n_sim,
        n_per_arm=n_per_arm,
        failures=failures,
        seed=seed,
        workers=workers,
        scheduler=scheduler,
    )
