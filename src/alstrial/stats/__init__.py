"""Trial statistics: pure computation on data frames (numpy, scipy), no I/O.

- :mod:`~alstrial.stats.descriptives`: n, mean, SD, SE, CI, median, IQR by group;
- :mod:`~alstrial.stats.rm_anova`: repeated-measures ANOVA as SPSS GLM computes it;
- :mod:`~alstrial.stats.mmrm`: MMRM (REML/ML; us, cs, csh, ar1, ar1h, toep; Satterthwaite and
  Kenward-Roger df; Type III; LS means), on :mod:`~alstrial.stats.design` and
  :mod:`~alstrial.stats.inference`;
- :mod:`~alstrial.stats.lmm`: random intercept and slope, piecewise lead-in model;
- :mod:`~alstrial.stats.survival`: Kaplan-Meier and log-rank;
- :mod:`~alstrial.stats.cafs`: Combined Assessment of Function and Survival;
- :mod:`~alstrial.stats.power`: sample size and power, analytic and by simulation.
"""

from alstrial.stats.cafs import CafsResult, cafs
from alstrial.stats.descriptives import describe_by
from alstrial.stats.lmm import PiecewiseSlopes, lmm, piecewise_lmm
from alstrial.stats.mmrm import MmrmConvergenceError, MmrmResult, mmrm
from alstrial.stats.power import (
    SimulatedPower,
    diggle_slope_n,
    llc_n,
    llc_phi,
    random_slope_delta,
    random_slope_n,
    simulate_power,
)
from alstrial.stats.rm_anova import AnovaEffect, ExcludedSubject, Mauchly, RmAnovaResult, rm_anova
from alstrial.stats.survival import KaplanMeier, LogRank, kaplan_meier, log_rank

__all__ = [
    "AnovaEffect",
    "CafsResult",
    "ExcludedSubject",
    "KaplanMeier",
    "LogRank",
    "Mauchly",
    "MmrmConvergenceError",
    "MmrmResult",
    "PiecewiseSlopes",
    "RmAnovaResult",
    "SimulatedPower",
    "cafs",
    "describe_by",
    "diggle_slope_n",
    "kaplan_meier",
    "llc_n",
    "llc_phi",
    "lmm",
    "log_rank",
    "mmrm",
    "piecewise_lmm",
    "random_slope_delta",
    "random_slope_n",
    "rm_anova",
    "simulate_power",
]
