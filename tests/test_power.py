"""Power and sample size against longpower's test values (stats-reference/README.md), and the
Monte-Carlo power against the analytic value it estimates."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from alstrial.exceptions import ValidationError
from alstrial.stats.power import (
    diggle_slope_n,
    llc_n,
    llc_phi,
    random_slope_delta,
    random_slope_n,
    simulate_power,
)


@pytest.mark.parametrize(
    ("rho", "sigma2", "n"),
    [
        (0.2, 100, 313),
        (0.2, 200, 625),
        (0.2, 300, 938),
        (0.5, 100, 196),
        (0.5, 200, 391),
        (0.5, 300, 586),
        (0.8, 100, 79),
        (0.8, 200, 157),
        (0.8, 300, 235),
    ],
)
def test_diggle_table(rho: float, sigma2: float, n: int) -> None:
    """Diggle et al. (2002) p. 29: d = 0.5, t = (0, 2, 5), one-sided, power 0.80 (rounded up)."""
    got = diggle_slope_n(0.5, [0, 2, 5], sigma2, rho, power=0.8, alternative="one-sided")
    assert math.ceil(got) == n


def test_random_slope_model() -> None:
    """longpower: delta 1.5, t = 0..1.5 by 0.25, var slope 24, residual 10 -> 207.3101 per group;
    with 208 the detectable delta is 1.49751 (published to 4 and 5 decimals)."""
    times = np.arange(0, 1.51, 0.25)
    assert random_slope_n(1.5, times, var_slope=24, var_residual=10) == pytest.approx(
        207.3101, abs=5e-5
    )
    assert random_slope_delta(208, times, var_slope=24, var_residual=10) == pytest.approx(
        1.49751, abs=5e-6
    )


@pytest.mark.parametrize(
    ("phi1", "phi2", "ratio", "z_total", "t_total"),
    [
        (1, 1, 1, 168.119, 170.148),
        (1, 1, 2, 189.134, 191.158),
        (2, 2, 1, 336.238, 338.245),
        (2, 2, 2, 378.267, 380.272),
    ],
)
def test_lu_luo_chen_table(
    phi1: float, phi2: float, ratio: float, z_total: float, t_total: float
) -> None:
    """Lu, Luo and Chen (2008) Table 1: alpha 0.05 two-sided, power 0.90, effect 0.5 SD."""
    kwargs = {"phi1": phi1, "phi2": phi2, "ratio": ratio, "power": 0.9}
    assert llc_n(0.5, **kwargs) == pytest.approx(z_total, abs=5e-4)
    assert llc_n(0.5, test="t", **kwargs) == pytest.approx(t_total, abs=5e-3)


def test_llc_phi() -> None:
    correlation = 0.5 * np.eye(4) + 0.5
    assert llc_phi([1, 1, 1, 1], correlation) == pytest.approx(1.0)
    with_dropout = llc_phi([1, 0.9, 0.8, 0.7], correlation)
    assert 1 < with_dropout < 1 / 0.7  # correlation with earlier visits recovers some of it
    assert llc_phi([1, 0.9, 0.8, 0.7], np.eye(4)) == pytest.approx(1 / 0.7)


def test_simulated_power_agrees_with_the_analytic_value() -> None:
    """Two arms, 4 visits, no dropout: the last-visit difference of an MMRM has about the
    power of a two-sample t test at that visit; 200 seeded trials must land within 3
    Monte-Carlo standard errors of the t-test power (0.69 for 0.6 SD with 40 per arm)."""
    sigma = 4.0 * (0.5 * np.eye(4) + 0.5)
    means = pd.DataFrame(
        [[0.0, 0.0, 0.0, 0.0], [0.0, 0.4, 0.8, 1.2]],
        index=["A", "B"],
        columns=["V1", "V2", "V3", "V4"],
    )
    result = simulate_power(means, sigma, n_per_arm=40, n_sim=200, seed=7)
    from scipy import stats

    effect = 1.2 / 2.0
    df = 78
    noncentrality = effect * math.sqrt(40 / 2)
    critical = stats.t.ppf(0.975, df)
    analytic = stats.nct.sf(critical, df, noncentrality) + stats.nct.cdf(
        -critical, df, noncentrality
    )
    assert result.failures == 0
    assert abs(result.power - analytic) <= 3 * result.mc_se
    assert result.mc_se == pytest.approx(math.sqrt(result.power * (1 - result.power) / 200))


def test_bad_input_is_named() -> None:
    with pytest.raises(ValidationError, match="two distinct times"):
        diggle_slope_n(0.5, [1, 1], 100, 0.2)
    with pytest.raises(ValidationError, match="retention"):
        llc_phi([0.9, 1.0], np.eye(2))
    with pytest.raises(ValidationError, match="alpha and power"):
        llc_n(0.5, power=1.2)


def test_simulation_inputs_from_a_fitted_model() -> None:
    """The next trial simulated from fev_data's own MMRM: means in arm x visit order, the
    fitted covariance, and a power that the simulation can compute."""
    from pathlib import Path

    from alstrial.stats import mmrm
    from alstrial.stats.power import simulation_inputs

    data = pd.read_csv(Path(__file__).parent / "reference" / "fev_data.csv")
    fit = mmrm(data, "FEV1 ~ ARMCD*AVISIT", subject="USUBJID", visit="AVISIT")
    means, sigma = simulation_inputs(fit, arm="ARMCD", visit="AVISIT")
    assert means.index.tolist() == ["PBO", "TRT"]
    assert means.columns.tolist() == ["VIS1", "VIS2", "VIS3", "VIS4"]
    assert np.allclose(sigma, fit.sigma)
    result = simulate_power(means, sigma, n_per_arm=30, n_sim=20, seed=3)
    assert 0 <= result.power <= 1
    assert result.failures == 0
