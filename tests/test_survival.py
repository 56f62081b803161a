"""Kaplan-Meier and log-rank against R survival on its aml data.

Expected values: ``tests/reference/survival_aml.csv`` from ``tests/reference/survival_aml.R``
(R 4.2.2, survival 3.5). Tolerance 1e-10 relative: the same closed-form estimators.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alstrial.exceptions import ValidationError
from alstrial.stats.survival import kaplan_meier, log_rank

REFERENCE = Path(__file__).parent / "reference"


def expected() -> dict[str, float | None]:
    with (REFERENCE / "survival_aml.csv").open(encoding="utf-8") as handle:
        return {
            row["quantity"]: None if row["value"] == "NA" else float(row["value"])
            for row in csv.DictReader(handle)
        }


@pytest.fixture(scope="module")
def aml() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "aml.csv")


@pytest.mark.parametrize("conf_type", ["log", "log-log", "plain"])
@pytest.mark.parametrize("group", ["Maintained", "Nonmaintained"])
def test_kaplan_meier_against_r(aml: pd.DataFrame, conf_type: str, group: str) -> None:
    values = expected()
    own = aml[aml["x"] == group]
    fit = kaplan_meier(own["time"], own["status"], conf_type=conf_type)
    for i, time in enumerate(fit.time):
        key = f"{conf_type}:{group}:{time:g}"
        assert fit.n_risk[i] == values[f"{key}:n.risk"]
        assert fit.survival[i] == pytest.approx(values[f"{key}:surv"], rel=1e-10)
        reference_se = values[f"{key}:se"]
        if reference_se is not None and math.isfinite(reference_se):
            assert fit.se[i] == pytest.approx(reference_se, rel=1e-10)
        for mine, theirs in ((fit.ci_low[i], "lower"), (fit.ci_high[i], "upper")):
            reference = values[f"{key}:{theirs}"]
            if reference is None:
                assert np.isnan(mine)
            else:
                assert mine == pytest.approx(reference, rel=1e-10), (key, theirs)
    assert fit.median == values[f"{conf_type}:{group}:median"]
    assert fit.median_ci == (
        values[f"{conf_type}:{group}:median_lcl"],
        values[f"{conf_type}:{group}:median_ucl"],
    )


def test_log_rank_against_r(aml: pd.DataFrame) -> None:
    values = expected()
    test = log_rank(aml["time"], aml["status"], aml["x"])
    assert test.chi2 == pytest.approx(values["logrank:chisq"], rel=1e-10)
    assert test.df == 1
    assert test.expected == pytest.approx(
        [values["logrank:expected:Maintained"], values["logrank:expected:Nonmaintained"]],
        rel=1e-10,
    )
    assert test.observed.tolist() == [7, 11]


def test_bad_input_is_named() -> None:
    with pytest.raises(ValidationError, match="non-negative"):
        kaplan_meier([1, -2], [1, 0])
    with pytest.raises(ValidationError, match="0 \\(censored\\) or 1"):
        kaplan_meier([1, 2], [1, 2])
    with pytest.raises(ValidationError, match="two groups"):
        log_rank([1, 2], [1, 1], ["a", "a"])
    with pytest.raises(ValidationError, match="confidence interval type"):
        kaplan_meier([1, 2], [1, 1], conf_type="arcsine")
