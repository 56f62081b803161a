"""Descriptive statistics by group: n, mean, SD, SE, 95 % CI, median, IQR, missing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alstrial.exceptions import ValidationError
from alstrial.stats.design import numeric_column
from alstrial.stats.distributions import t_ppf

__all__ = ["describe_by"]


def describe_by(
    data: pd.DataFrame, *, value: str, by: Sequence[str], confidence: float = 0.95
) -> pd.DataFrame:
    """Summarise ``value`` within each combination of ``by``.

    ``se = sd / sqrt(n)`` (sample SD, ddof 1); the confidence interval is
    ``mean +- t(1 - alpha/2, n - 1) se``; quartiles by linear interpolation (R type 7, SPSS
    "HAVERAGE" differs slightly). ``n_missing`` counts rows whose value is missing.

    Examples
    --------
    >>> # In R: aggregate(value ~ arm + visit, data, function(x) c(mean(x), sd(x)))
    """
    missing = [c for c in (value, *by) if c not in data.columns]
    if missing:
        raise ValidationError(f"column {missing[0]!r} is not in the data", field=missing[0])
    if not 0 < confidence < 1:
        raise ValidationError(
            "confidence must be between 0 and 1", field="confidence", value=confidence
        )
    data = data.assign(**{value: numeric_column(data, value)})
    rows = []
    for key, group in data.groupby(list(by), sort=True, observed=True):
        values = group[value].dropna().to_numpy(dtype=float)
        n = len(values)
        mean = float(values.mean()) if n else np.nan
        sd = float(values.std(ddof=1)) if n > 1 else np.nan
        se = sd / np.sqrt(n) if n > 1 else np.nan
        half = t_ppf(0.5 + confidence / 2, n - 1) * se if n > 1 else np.nan
        key_tuple = key if isinstance(key, tuple) else (key,)
        rows.append(
            {
                **dict(zip(by, key_tuple, strict=True)),
                "n": n,
                "n_missing": int(group[value].isna().sum()),
                "mean": mean,
                "sd": sd,
                "se": se,
                "ci_low": mean - half,
                "ci_high": mean + half,
                "median": float(np.median(values)) if n else np.nan,
                "q1": float(np.percentile(values, 25)) if n else np.nan,
                "q3": float(np.percentile(values, 75)) if n else np.nan,
            }
        )
    columns = [*by, "n", "n_missing", "mean", "sd", "se", "ci_low", "ci_high", "median", "q1", "q3"]
    return pd.DataFrame(rows, columns=columns)  # the columns even when there is no group
