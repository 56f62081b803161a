"""Delta-FS, per-patient slopes and pre- versus post-administration slopes."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from scipy import stats

from alstrial.exceptions import ValidationError
from alstrial.scoring import delta_fs, delta_fs_array, pre_post_slopes, slope


def test_delta_fs_reference_vector() -> None:
    """clinical-reference/README.md: total 40, onset 2023-01-15, visit 2023-11-15 ->
    9.98768 months -> 0.80099 points/month (published to 5 decimals)."""
    assert delta_fs(40, date(2023, 1, 15), date(2023, 11, 15)) == pytest.approx(0.80099, abs=5e-6)
    assert delta_fs_array([40], [304 / 30.4375])[0] == pytest.approx(0.80099, abs=5e-6)


def test_delta_fs_refusals() -> None:
    with pytest.raises(ValidationError, match="after symptom onset"):
        delta_fs(40, date(2023, 11, 15), date(2023, 11, 15))
    with pytest.raises(ValidationError, match="outside 0-48"):
        delta_fs(49, date(2023, 1, 15), date(2023, 11, 15))
    assert delta_fs(30, date(2023, 1, 15), date(2023, 11, 15), maximum=40) == pytest.approx(
        10 / (304 / 30.4375)
    )


def test_slope_agrees_with_scipy_linregress() -> None:
    rng = np.random.default_rng(7)
    t = np.array([-1.4, -0.9, -0.5, -0.2, 2.0, 4.0, 6.0, 12.0])
    y = 40 - 0.9 * t + rng.normal(0, 0.7, t.size)
    fit = slope(t, y)
    reference = stats.linregress(t, y)
    assert fit.estimate == pytest.approx(reference.slope, rel=1e-12)
    assert fit.se == pytest.approx(reference.stderr, rel=1e-10)
    half = stats.t.ppf(0.975, t.size - 2) * reference.stderr
    assert (fit.ci_low, fit.ci_high) == pytest.approx(
        (reference.slope - half, reference.slope + half)
    )
    windowed = slope(t, y, window=(0.0, 12.0))
    assert windowed.n == 4
    assert windowed.estimate == pytest.approx(stats.linregress(t[4:], y[4:]).slope, rel=1e-12)


def test_slope_ignores_missing_and_refuses_too_few() -> None:
    assert slope([0, 1, 2, 3], [10, np.nan, 8, 7]).n == 3
    with pytest.raises(ValidationError, match="at least 3 observations"):
        slope([0, 1], [10, 9])
    with pytest.raises(ValidationError, match="do not span"):
        slope([1, 1, 1], [10, 9, 8])


def test_pre_post_recovers_a_known_change_of_slope() -> None:
    """Noise-free broken stick: pre -0.5, post -1.5 points/month, exactly recovered."""
    t = np.array([-1.38, -0.92, -0.46, -0.23, 2.0, 4.0, 6.0, 12.0])
    y = 40 - 0.5 * np.minimum(t, 0) - 1.5 * np.maximum(t, 0)
    result = pre_post_slopes(t, y)
    assert (result.pre, result.post, result.difference) == pytest.approx((-0.5, -1.5, -1.0))
    assert result.se_difference == pytest.approx(0.0, abs=1e-9)
    assert (result.n_pre, result.n_post, result.df) == (4, 4, 5)


def test_pre_post_separate_lines_equal_two_regressions() -> None:
    """Unjoined, the model fits the two segments independently: each slope is that segment's
    own OLS slope, and the SE of the difference pools the residual variance."""
    rng = np.random.default_rng(11)
    t = np.array([-1.38, -0.92, -0.46, -0.23, 2.0, 4.0, 6.0, 12.0])
    y = 40 - 0.3 * np.minimum(t, 0) - 1.2 * np.maximum(t, 0) + rng.normal(0, 0.6, t.size)
    result = pre_post_slopes(t, y, joined=False)
    before, after = stats.linregress(t[:4], y[:4]), stats.linregress(t[4:], y[4:])
    assert result.pre == pytest.approx(before.slope, rel=1e-10)
    assert result.post == pytest.approx(after.slope, rel=1e-10)
    residual = np.concatenate(
        [
            y[:4] - before.intercept - before.slope * t[:4],
            y[4:] - after.intercept - after.slope * t[4:],
        ]
    )
    sigma2 = residual @ residual / (t.size - 4)
    sxx = [((s - s.mean()) ** 2).sum() for s in (t[:4], t[4:])]
    assert result.se_difference == pytest.approx(np.sqrt(sigma2 / sxx[0] + sigma2 / sxx[1]))
    assert 0 < result.p_value < 1
    assert result.ci_low < result.difference < result.ci_high


def test_pre_post_needs_two_ratings_each_side() -> None:
    with pytest.raises(ValidationError, match="1 before and 3 after"):
        pre_post_slopes([-1, 2, 4, 6], [40, 39, 38, 37])
