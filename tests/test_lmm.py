"""Random intercept and slope model, and the piecewise lead-in model, against lmerTest.

Expected values: ``tests/reference/lmm_lmertest.csv`` from ``tests/reference/lmm_lmertest.R``
(lmerTest 3.1-3, REML, Satterthwaite) on the simulated trial it writes to ``lmm_data.csv``.
Tolerances: estimates and SEs 1e-6 relative, df 1e-3, -2 REML log-likelihood 1e-6, variance
components 1e-5 relative (lme4's bobyqa stops within about 1e-7 of the maximum).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from alstrial.exceptions import ValidationError
from alstrial.stats.lmm import LmmResult, lmm, piecewise_lmm

REFERENCE = Path(__file__).parent / "reference"


def expected() -> dict[str, float]:
    with (REFERENCE / "lmm_lmertest.csv").open(encoding="utf-8") as handle:
        return {row["quantity"]: float(row["value"]) for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "lmm_data.csv")


def check(fit: LmmResult, model: str) -> None:
    values = expected()
    assert fit.neg2_loglik == pytest.approx(values[f"{model}:-2reml"], abs=1e-6)
    for c in fit.coefficients:
        assert c.estimate == pytest.approx(values[f"{model}:estimate:{c.term}"], rel=1e-6)
        assert c.se == pytest.approx(values[f"{model}:se:{c.term}"], rel=1e-6)
        assert c.df == pytest.approx(values[f"{model}:df:{c.term}"], abs=1e-3)
    g11, g21, g22, s2 = fit.phi
    assert g11 == pytest.approx(values[f"{model}:G11"], rel=1e-5)
    assert g21 == pytest.approx(values[f"{model}:G21"], rel=1e-4, abs=1e-6)
    assert g22 == pytest.approx(values[f"{model}:G22"], rel=1e-5)
    assert s2 == pytest.approx(values[f"{model}:s2"], rel=1e-5)


def test_random_slope_against_lmertest(data: pd.DataFrame) -> None:
    check(lmm(data, "score ~ arm*months", subject="id", time="months"), "slope")


def test_piecewise_against_lmertest(data: pd.DataFrame) -> None:
    result = piecewise_lmm(data, value="score", subject="id", months="months", arm="arm")
    check(result.fit, "piecewise")
    values = expected()
    it_change = values["piecewise:estimate:post_administration"]
    iv_change = it_change + values["piecewise:estimate:armIV:post_administration"]
    assert result.change["IT"].estimate == pytest.approx(it_change, rel=1e-6)
    assert result.change["IV"].estimate == pytest.approx(iv_change, rel=1e-6)
    assert result.pre["IT"].estimate == pytest.approx(values["piecewise:estimate:months"], rel=1e-6)
    for arm in ("IT", "IV"):
        assert result.post[arm].estimate == pytest.approx(
            result.pre[arm].estimate + result.change[arm].estimate, rel=1e-12
        )


def test_time_must_be_numeric(data: pd.DataFrame) -> None:
    with pytest.raises(ValidationError, match="must be numeric; it holds 'soon'"):
        lmm(data.assign(months="soon"), "score ~ arm", subject="id", time="months")


def test_any_number_of_distinct_times(data: pd.DataFrame) -> None:
    # Before: refused over 60 distinct times ("use nominal visit times").
    spread = data.assign(months=data["months"] + data.index * 1e-3)
    fit = lmm(spread, "score ~ arm*months", subject="id", time="months")
    assert fit.n_times == len(spread)
    assert fit.coefficients[2].estimate == pytest.approx(
        lmm(data, "score ~ arm*months", subject="id", time="months").coefficients[2].estimate,
        rel=0.05,
    )
