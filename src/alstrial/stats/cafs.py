"""CAFS: the Combined Assessment of Function and Survival (Berry et al. 2013).

Every patient is compared with every other; the pair's comparison is

1. on survival, over their common follow-up (up to the earlier end of the two): a patient who
   died in it ranks below one who did not; if both died, the earlier death ranks lower;
   deaths on the same day tie;
2. when neither died in the common follow-up, on the change of ALSFRS-R from baseline (to each
   patient's last rating): the larger loss ranks lower; equal changes tie.

A patient's CAFS score is (wins - losses) over all others; the arms are compared by the
Wilcoxon rank-sum (Mann-Whitney) test of the scores, and the mean score per arm is reported.
The score is a ranking, not a measure: it depends on the whole sample.

Reference
---------
Berry JD, Miller R, Moore DH, et al. The Combined Assessment of Function and Survival (CAFS):
a new endpoint for ALS clinical trials. Amyotroph Lateral Scler Frontotemporal Degener 2013;
14:162-8.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alstrial.exceptions import ValidationError
from alstrial.stats.design import numeric_column

__all__ = ["CafsResult", "cafs"]


@dataclass(frozen=True)
class CafsResult:
    """Per-patient scores and the rank test between two arms."""

    scores: pd.DataFrame
    mean_score: dict[str, float]
    statistic: float
    p: float


def _compare(
    death_i: float, end_i: float, change_i: float, death_j: float, end_j: float, change_j: float
) -> int:
    """+1 when patient i ranks above j, -1 below, 0 tied."""
    common = min(end_i, end_j)
    died_i = not np.isnan(death_i) and death_i <= common
    died_j = not np.isnan(death_j) and death_j <= common
    if died_i and died_j:
        return int(np.sign(death_i - death_j))
    if died_i != died_j:
        return -1 if died_i else 1
    return int(np.sign(change_i - change_j))


def cafs(
    data: pd.DataFrame,
    *,
    subject: str = "subject",
    arm: str = "arm",
    death_time: str = "death_time",
    followup_time: str = "followup_time",
    change: str = "change",
) -> CafsResult:
    """CAFS scores and their rank test (module docstring).

    Parameters
    ----------
    data
        One row per patient: arm, time of death (NaN when alive at the end of follow-up), end
        of follow-up (the death time for those who died), and the ALSFRS-R change from
        baseline (NaN only for a patient who died before any follow-up rating).

    Raises
    ------
    ValidationError
        For missing columns, a number of arms other than two, negative times, a death after
        the end of follow-up, or a survivor without a change.
    """
    missing = [c for c in (subject, arm, death_time, followup_time, change) if c not in data]
    if missing:
        raise ValidationError(f"column {missing[0]!r} is not in the data", field=missing[0])
    arms = sorted({str(a) for a in data[arm]})
    if len(arms) != 2:
        raise ValidationError(
            f"CAFS compares two arms; the data have {len(arms)}", field=arm, value=len(arms)
        )
    death = numeric_column(data, death_time)
    end = numeric_column(data, followup_time)
    delta = numeric_column(data, change)
    if np.any(end < 0) or np.any(np.nan_to_num(death, nan=0.0) < 0):
        raise ValidationError("times must be non-negative", field=followup_time)
    if np.any(death > end + 1e-9):
        raise ValidationError("a death after the end of follow-up", field=death_time)
    if np.any(np.isnan(death) & np.isnan(delta)):
        raise ValidationError("a surviving patient has no ALSFRS-R change", field=change)
    n = len(data)
    scores = np.zeros(n)
    for i in range(n):
        for j in range(i + 1, n):
            outcome = _compare(death[i], end[i], delta[i], death[j], end[j], delta[j])
            scores[i] += outcome
            scores[j] -= outcome
    table = pd.DataFrame(
        {
            "subject": data[subject].astype(str).to_numpy(),
            "arm": data[arm].astype(str).to_numpy(),
            "score": scores,
        }
    )
    first = table.loc[table["arm"] == arms[0], "score"]
    second = table.loc[table["arm"] == arms[1], "score"]
    from scipy import stats  # deferred: scipy.stats costs 0.5 s to import

    test = stats.mannwhitneyu(second, first, alternative="two-sided")
    return CafsResult(
        scores=table,
        mean_score={a: float(table.loc[table["arm"] == a, "score"].mean()) for a in arms},
        statistic=float(test.statistic),
        p=float(test.pvalue),
    )
