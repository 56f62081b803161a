"""Trial statistics: pure computation on data frames (numpy, scipy), no I/O."""

from alstrial.stats.descriptives import describe_by
from alstrial.stats.rm_anova import AnovaEffect, ExcludedSubject, Mauchly, RmAnovaResult, rm_anova

__all__ = [
    "AnovaEffect",
    "ExcludedSubject",
    "Mauchly",
    "RmAnovaResult",
    "describe_by",
    "rm_anova",
]
