"""CAFS (Berry et al. 2013): pairwise ranking worked by hand, and its rank test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from alstrial.exceptions import ValidationError
from alstrial.stats.cafs import cafs

NAN = float("nan")


def test_scores_by_hand() -> None:
    """Four patients, follow-up 12 months:
    A died at 3, B died at 6, C alive with change -10, D alive with change -4.
    A loses to B, C, D (-3); B beats A, loses to C, D (-1); C beats A, B, loses to D (+1);
    D beats all (+3). Scores always sum to zero."""
    data = pd.DataFrame(
        {
            "subject": ["A", "B", "C", "D"],
            "arm": ["x", "x", "y", "y"],
            "death_time": [3, 6, NAN, NAN],
            "followup_time": [3, 6, 12, 12],
            "change": [NAN, -8, -10, -4],
        }
    )
    result = cafs(data)
    assert result.scores["score"].tolist() == [-3, -1, 1, 3]
    assert result.mean_score == {"x": -2.0, "y": 2.0}
    expected = stats.mannwhitneyu([1, 3], [-3, -1], alternative="two-sided")
    assert result.p == pytest.approx(expected.pvalue)


def test_death_after_the_other_followup_ends_is_not_counted() -> None:
    """B is followed 6 months only; A dies at 9: over their common 6 months neither died,
    so function decides (A lost 2, B lost 5: A ranks higher)."""
    data = pd.DataFrame(
        {
            "subject": ["A", "B"],
            "arm": ["x", "y"],
            "death_time": [9, NAN],
            "followup_time": [9, 6],
            "change": [-2, -5],
        }
    )
    assert cafs(data).scores["score"].tolist() == [1, -1]


def test_ties_and_symmetry() -> None:
    rng = np.random.default_rng(3)
    n = 30
    death = np.where(rng.random(n) < 0.3, rng.integers(1, 12, n).astype(float), np.nan)
    data = pd.DataFrame(
        {
            "subject": [f"S{i}" for i in range(n)],
            "arm": ["a", "b"] * (n // 2),
            "death_time": death,
            "followup_time": np.where(np.isnan(death), 12.0, death),
            "change": rng.integers(-15, 0, n).astype(float),
        }
    )
    scores = cafs(data).scores["score"]
    assert scores.sum() == 0
    assert scores.abs().max() <= n - 1


def test_bad_input() -> None:
    data = pd.DataFrame(
        {
            "subject": ["A"],
            "arm": ["x"],
            "death_time": [NAN],
            "followup_time": [12],
            "change": [NAN],
        }
    )
    with pytest.raises(ValidationError, match="two arms"):
        cafs(data)
    two = pd.concat([data, data.assign(subject="B", arm="y", change=-3.0)])
    with pytest.raises(ValidationError, match="no ALSFRS-R change"):
        cafs(two)
