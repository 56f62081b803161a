"""The MMRM against SAS PROC MIXED (published listings) and nlme::gls (run here).

SAS values: ``stats-reference/README.md`` (mmrm's design/SAS listings). nlme values:
``tests/reference/fev_nlme.csv`` from ``tests/reference/fev_nlme.R``.

Tolerances. alstrial and nlme reach the same REML maximum (-2 log-likelihood equal to 1e-7);
the SAS listing stops 6e-6 short of it, so SAS estimates differ from both by up to 1.6e-4 in
absolute value (TRT:VIS2, an estimate near zero). Against nlme: 1e-5 relative. Against SAS:
1e-4 relative, or 2e-4 x SE for estimates smaller than their SE; covariances 2e-4 of
sqrt(sigma_ii sigma_jj) (the REML surface is flat along some covariance directions: nlme
and alstrial agree to 2e-5 of that scale at equal likelihood); Satterthwaite df 1e-2 plus
the listing's rounding; F 0.01 (two
decimals published); -2 log-likelihood 1e-5.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alstrial.exceptions import ValidationError
from alstrial.stats.mmrm import MmrmResult, mmrm

REFERENCE = Path(__file__).parent / "reference"
FORMULA = "FEV1 ~ RACE + SEX + ARMCD*AVISIT"

# SAS PROC MIXED, REML, UN: estimate, SE, Satterthwaite df.
SAS = {
    "(Intercept)": (30.77748, 0.88656, 218.80),
    "RACEBlack or African American": (1.53050, 0.62448, 168.67),
    "RACEWhite": (5.64357, 0.66561, 157.14),
    "SEXFemale": (0.32606, 0.53195, 166.13),
    "ARMCDTRT": (3.77423, 1.07415, 145.55),
    "AVISITVIS2": (4.83959, 0.80172, 143.88),
    "AVISITVIS3": (10.34211, 0.82269, 155.56),
    "AVISITVIS4": (15.05390, 1.31281, 138.47),
    "ARMCDTRT:AVISITVIS2": (-0.04193, 1.12932, 138.56),
    "ARMCDTRT:AVISITVIS3": (-0.69369, 1.18765, 158.17),
    "ARMCDTRT:AVISITVIS4": (0.62423, 1.85085, 129.72),
}
SAS_SIGMA = {
    (0, 0): 40.5537,
    (1, 1): 26.5715,
    (2, 2): 14.8979,
    (3, 3): 95.5568,
    (0, 1): 14.3960,
    (0, 2): 4.9747,
    (0, 3): 13.3867,
    (1, 2): 2.7855,
    (1, 3): 7.4745,
    (2, 3): 0.9082,
}


@pytest.fixture(scope="module")
def fev() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "fev_data.csv")


@pytest.fixture(scope="module")
def fit(fev: pd.DataFrame) -> MmrmResult:
    return mmrm(fev, FORMULA, subject="USUBJID", visit="AVISIT", references={"SEX": "Male"})


def close_to_sas(value: float, reference: float, se: float) -> bool:
    if abs(reference) >= se:
        return abs(value - reference) <= 1e-4 * abs(reference)
    return abs(value - reference) <= 2e-4 * se


def test_counts_and_likelihood(fit: MmrmResult) -> None:
    assert (fit.n_subjects, fit.n_obs) == (197, 537)
    assert fit.neg2_loglik == pytest.approx(3386.44987722, abs=1e-5)  # SAS
    assert fit.aic == pytest.approx(3406.4, abs=0.05)  # SAS, 1 decimal


def test_coefficients_against_sas(fit: MmrmResult) -> None:
    rows = {c.term: c for c in fit.coefficients}
    assert set(rows) == set(SAS)
    for term, (estimate, se, df) in SAS.items():
        got = rows[term]
        assert close_to_sas(got.estimate, estimate, se), (term, got.estimate, estimate)
        assert got.se == pytest.approx(se, rel=1e-4), term
        assert got.df == pytest.approx(df, abs=1e-2 + 5e-3), term


def test_covariance_against_sas(fit: MmrmResult) -> None:
    for (i, j), value in SAS_SIGMA.items():
        scale = np.sqrt(SAS_SIGMA[(i, i)] * SAS_SIGMA[(j, j)])
        assert fit.sigma[i, j] == pytest.approx(value, abs=2e-4 * scale), (i, j)
        assert fit.sigma[j, i] == fit.sigma[i, j]


def test_type3_against_sas(fit: MmrmResult) -> None:
    """SAS: ARMCD F 31.67 (1, 169); AVISIT 142.11 (3, 148); AVISIT x ARMCD 0.26 (3, 148)
    p 0.8555; RACE 36.92 (2, 166); SEX 0.38 (1, 166) p 0.5406 (F to 2 decimals, df whole)."""
    table = {row.effect: row for row in fit.type3}
    expected = {
        "ARMCD": (31.67, 1, 169),
        "AVISIT": (142.11, 3, 148),
        "ARMCD:AVISIT": (0.26, 3, 148),
        "RACE": (36.92, 2, 166),
        "SEX": (0.38, 1, 166),
    }
    for effect, (f_value, df_num, df_den) in expected.items():
        row = table[effect]
        assert pytest.approx(f_value, abs=0.01) == row.F, effect
        assert row.df_num == df_num
        assert abs(row.df_den - df_den) <= 0.5, (effect, row.df_den)
    assert table["ARMCD:AVISIT"].p == pytest.approx(0.8555, abs=5e-5)
    assert table["SEX"].p == pytest.approx(0.5406, abs=2e-4)


def test_lsmeans_against_sas(fit: MmrmResult) -> None:
    """SAS: TRT - PBO (SE, df) VIS1 3.7745 (1.0741, 146), VIS2 3.7322 (0.8588, 145),
    VIS3 3.0806 (0.6896, 131), VIS4 4.3985 (1.6805, 133); LS mean VIS2/TRT 41.9037 (0.6023)."""
    differences = fit.differences("ARMCD", "AVISIT").set_index("AVISIT")
    expected = {
        "VIS1": (3.7745, 1.0741, 146),
        "VIS2": (3.7322, 0.8588, 145),
        "VIS3": (3.0806, 0.6896, 131),
        "VIS4": (4.3985, 1.6805, 133),
    }
    for visit, (estimate, se, df) in expected.items():
        row = differences.loc[visit]
        assert row["estimate"] == pytest.approx(estimate, abs=5e-5 + 2e-4 * se), visit
        assert row["se"] == pytest.approx(se, abs=5e-5 + 1e-4 * se), visit
        assert abs(row["df"] - df) <= 0.5 + 1e-2, visit
    means = fit.lsmeans(["ARMCD", "AVISIT"]).set_index(["ARMCD", "AVISIT"])
    assert means.loc[("TRT", "VIS2"), "estimate"] == pytest.approx(41.9037, abs=5e-5 + 2e-4)
    assert means.loc[("TRT", "VIS2"), "se"] == pytest.approx(0.6023, abs=5e-5)


def nlme_values() -> dict[str, float]:
    with (REFERENCE / "fev_nlme.csv").open(encoding="utf-8") as handle:
        return {row["quantity"]: float(row["value"]) for row in csv.DictReader(handle)}


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_against_nlme_gls(fev: pd.DataFrame, method: str) -> None:
    expected = nlme_values()
    fit = mmrm(
        fev,
        FORMULA,
        subject="USUBJID",
        visit="AVISIT",
        references={"SEX": "Male"},
        reml=method == "REML",
    )
    assert fit.neg2_loglik == pytest.approx(expected[f"{method}:-2loglik"], abs=1e-5)
    # nlme's summary scales ML standard errors by sqrt(N / (N - p)); SAS and alstrial do not.
    scale = np.sqrt(fit.n_obs / (fit.n_obs - len(fit.beta))) if method == "ML" else 1.0
    for coefficient in fit.coefficients:
        assert coefficient.estimate == pytest.approx(
            expected[f"{method}:estimate:{coefficient.term}"], rel=1e-5, abs=1e-5 * coefficient.se
        ), coefficient.term
        assert coefficient.se * scale == pytest.approx(
            expected[f"{method}:se:{coefficient.term}"], rel=1e-5
        ), coefficient.term
    for i in range(4):
        for j in range(i, 4):
            scale = np.sqrt(fit.sigma[i, i] * fit.sigma[j, j])
            assert fit.sigma[i, j] == pytest.approx(
                expected[f"{method}:sigma:{i + 1},{j + 1}"], abs=2e-5 * scale
            )


def test_ml_likelihood_against_sas(fev: pd.DataFrame) -> None:
    fit = mmrm(
        fev, FORMULA, subject="USUBJID", visit="AVISIT", references={"SEX": "Male"}, reml=False
    )
    assert fit.neg2_loglik == pytest.approx(3397.57220025, abs=1e-4)


@pytest.mark.parametrize(("structure", "expected"), [("cs", 3917.98183508), ("ar1", 3875.49945459)])
def test_other_structures_against_sas(fev: pd.DataFrame, structure: str, expected: float) -> None:
    """SAS -2 REML log-likelihood of the intercept-only model under CS and AR(1)."""
    fit = mmrm(fev, "FEV1 ~ 1", subject="USUBJID", visit="AVISIT", covariance=structure)
    assert fit.neg2_loglik == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("structure", ["csh", "ar1h", "toep"])
def test_richer_structures_nest_the_simpler(fev: pd.DataFrame, structure: str) -> None:
    """CSH contains CS, ARH(1) contains AR(1), Toeplitz contains AR(1) and CS: the richer
    structure's maximum can be no lower, and no higher than the unstructured one's."""
    simpler = {"csh": "cs", "ar1h": "ar1", "toep": "ar1"}[structure]
    rich = mmrm(fev, FORMULA, subject="USUBJID", visit="AVISIT", covariance=structure)
    base = mmrm(fev, FORMULA, subject="USUBJID", visit="AVISIT", covariance=simpler)
    full = mmrm(fev, FORMULA, subject="USUBJID", visit="AVISIT", covariance="us")
    assert full.neg2_loglik - 1e-6 <= rich.neg2_loglik <= base.neg2_loglik + 1e-6
    assert np.all(np.linalg.eigvalsh(rich.sigma) > 0)


def test_kenward_roger_against_sas(fev: pd.DataFrame) -> None:
    """SAS DDFM=KR, FEV1 ~ ARMCD + UN: difference 3.81972, SE 0.661244, df 160.733.

    alstrial's df is 160.69 (0.04 below SAS): Kenward-Roger's W here is the observed
    information, which reproduces SAS's Satterthwaite df to 1e-2; what SAS uses for W in KR is
    not documented precisely enough to close the gap. The test holds the gap at 0.05.
    """
    fit = mmrm(fev, "FEV1 ~ ARMCD", subject="USUBJID", visit="AVISIT", df="kenward-roger")
    arm = {c.term: c for c in fit.coefficients}["ARMCDTRT"]
    assert arm.estimate == pytest.approx(3.81972, rel=1e-4)
    assert arm.se == pytest.approx(0.661244, rel=1e-4)
    assert arm.df == pytest.approx(160.733, abs=0.05)


def test_bad_input_is_named(fev: pd.DataFrame) -> None:
    with pytest.raises(ValidationError, match="covariance structure 'un'"):
        mmrm(fev, FORMULA, subject="USUBJID", visit="AVISIT", covariance="un")
    with pytest.raises(ValidationError, match="'AGE' of the formula"):
        mmrm(fev, "FEV1 ~ AGE", subject="USUBJID", visit="AVISIT")
    with pytest.raises(ValidationError, match="two rows at visit"):
        mmrm(pd.concat([fev, fev.head(2)]), FORMULA, subject="USUBJID", visit="AVISIT")
    with pytest.raises(ValidationError, match="without ARMCD"):
        mmrm(fev, "FEV1 ~ AVISIT + ARMCD:AVISIT", subject="USUBJID", visit="AVISIT")
    with pytest.raises(ValidationError, match="degrees-of-freedom"):
        mmrm(fev, FORMULA, subject="USUBJID", visit="AVISIT", df="residual")
