"""The statistics engine whatever the units, the visit coding and the data's shape.

Each test reproduces a defect found on data alstrial had never seen (issue 13) and failed
before the fix:

- FEV1 in mL stopped after 2 Newton steps with a wrong answer, x1e4 and x1e-6 were refused;
- numeric visits (ages 8, 10, 12, 14) were ordered as text, so AR(1) used wrong neighbours;
- Satterthwaite df of ar1 / csh / ar1h were 1-4 % off where the information matrix is
  ill-conditioned (numerical second derivatives); csh did not converge on BodyWeight;
- degenerate input gave F = 5.8e32, a wrong df or a traceback.

R references: ``tests/reference/mmrm_structures.R`` (nlme::gls estimates, SEs and -2 REML;
Satterthwaite df from the REML likelihood written in R with numDeriv's Richardson
derivatives) on nlme's BodyWeight and Orthodont, written to ``mmrm_structures.csv``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alstrial.exceptions import ValidationError
from alstrial.stats.mmrm import MmrmResult, mmrm
from alstrial.stats.rm_anova import rm_anova
from tests.helpers import run_cli

REFERENCE = Path(__file__).parent / "reference"
FORMULA = "FEV1 ~ RACE + SEX + ARMCD*AVISIT"


@pytest.fixture(scope="module")
def fev() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "fev_data.csv")


@pytest.fixture(scope="module")
def r_values() -> pd.Series:
    return pd.read_csv(REFERENCE / "mmrm_structures.csv").set_index("quantity")["value"]


def _fit(fev: pd.DataFrame, factor: float, covariance: str = "us", reml: bool = True) -> MmrmResult:
    data = fev.assign(FEV1=fev["FEV1"] * factor)
    return mmrm(data, FORMULA, subject="USUBJID", visit="AVISIT", covariance=covariance, reml=reml)


@pytest.mark.parametrize("factor", [1e-6, 1e-3, 1e3, 1e4, 1e6])
def test_units_do_not_change_t_f_or_df(fev: pd.DataFrame, factor: float) -> None:
    # Exact invariance: the same model in other units. Tolerance 1e-7 relative (round-off).
    base, scaled = _fit(fev, 1.0), _fit(fev, factor)
    for a, b in zip(base.coefficients, scaled.coefficients, strict=True):
        assert b.t == pytest.approx(a.t, rel=1e-7)
        assert b.df == pytest.approx(a.df, rel=1e-7)
        assert b.estimate == pytest.approx(a.estimate * factor, rel=1e-7)
    for a3, b3 in zip(base.type3, scaled.type3, strict=True):
        assert (b3.F, b3.df_den) == pytest.approx((a3.F, a3.df_den), rel=1e-7)
    n, p = base.n_obs, len(base.beta)
    # -2 REML shifts by exactly 2 (n - p) log c.
    shift = 2 * (n - p) * np.log(factor)
    assert scaled.neg2_loglik - base.neg2_loglik == pytest.approx(shift, abs=1e-6)
    assert scaled.sigma == pytest.approx(base.sigma * factor**2, rel=1e-6)


def test_units_under_ml_and_other_structures(fev: pd.DataFrame) -> None:
    base, scaled = _fit(fev, 1.0, reml=False), _fit(fev, 1000.0, reml=False)
    assert scaled.neg2_loglik - base.neg2_loglik == pytest.approx(
        2 * base.n_obs * np.log(1000.0), abs=1e-6
    )
    for structure in ("ar1", "csh", "toep"):
        a, b = _fit(fev, 1.0, structure), _fit(fev, 1000.0, structure)
        assert [c.t for c in b.coefficients] == pytest.approx([c.t for c in a.coefficients])
        assert [c.df for c in b.coefficients] == pytest.approx([c.df for c in a.coefficients])
        # correlations do not scale, variances by c^2
        assert b.phi == pytest.approx(a.structure.rescale_phi(a.phi, 1000.0), rel=1e-6)


def test_numeric_visits_are_ordered_by_value(r_values: pd.Series) -> None:
    data = pd.read_csv(REFERENCE / "orthodont.csv")
    shuffled = data.sample(frac=1.0, random_state=3)
    fit = mmrm(shuffled, "distance ~ Sex * age", subject="Subject", visit="age", covariance="ar1")
    assert fit.visits == ("8", "10", "12", "14")
    coefficients = {c.term: c for c in fit.coefficients}
    # nlme::gls(distance ~ Sex*age, corAR1): SE of Sex:age 0.18323 (text order gave 0.127).
    for term, c in coefficients.items():
        assert c.estimate == pytest.approx(r_values[f"orthodont_ar1:estimate:{term}"], rel=1e-6)
        assert c.se == pytest.approx(r_values[f"orthodont_ar1:se:{term}"], rel=1e-6)
        assert c.df == pytest.approx(r_values[f"orthodont_ar1:df:{term}"], rel=1e-5)
    assert fit.neg2_loglik == pytest.approx(r_values["orthodont_ar1:-2loglik"], abs=1e-6)
    assert any("covariate" in note for note in fit.notes)


def test_text_visits_with_numbers_sort_as_numbers(fev: pd.DataFrame) -> None:
    renamed = fev.assign(
        AVISIT=fev["AVISIT"].map({"VIS1": "W2", "VIS2": "W4", "VIS3": "W8", "VIS4": "W12"})
    )
    fit = mmrm(renamed, "FEV1 ~ ARMCD*AVISIT", subject="USUBJID", visit="AVISIT", covariance="ar1")
    assert fit.visits == ("W2", "W4", "W8", "W12")
    assert fit.design.levels["AVISIT"][0] == "W2"  # the reference is the first visit


@pytest.mark.parametrize(
    ("case", "structure", "df_tolerance"),
    [
        # nlme reaches the ar1 maximum to 1e-8 in phi: df agree to 2e-5.
        ("bodyweight_ar1", "ar1", 2e-5),
        # nlme stops 1e-8 short of the csh / ar1h maximum alstrial reaches (phi 2e-5 apart)
        # and the df move with phi on this near-singular surface (rho 0.997): 1e-3.
        ("bodyweight_csh", "csh", 1e-3),
        ("bodyweight_ar1h", "ar1h", 1e-3),
    ],
)
def test_nonlinear_structures_against_r(
    r_values: pd.Series, case: str, structure: str, df_tolerance: float
) -> None:
    data = pd.read_csv(REFERENCE / "bodyweight.csv")
    fit = mmrm(data, "weight ~ Diet + Time", subject="Rat", visit="Time", covariance=structure)
    assert fit.neg2_loglik == pytest.approx(r_values[f"{case}:-2loglik"], abs=1e-6)
    for c in fit.coefficients:
        assert c.estimate == pytest.approx(r_values[f"{case}:estimate:{c.term}"], rel=5e-5)
        assert c.se == pytest.approx(r_values[f"{case}:se:{c.term}"], rel=5e-5)
        assert c.df == pytest.approx(r_values[f"{case}:df:{c.term}"], rel=df_tolerance)


def test_one_visit_reduces_to_least_squares(fev: pd.DataFrame) -> None:
    last = fev[fev["AVISIT"] == "VIS4"]
    fit = mmrm(last, "FEV1 ~ ARMCD + SEX", subject="USUBJID", visit="AVISIT", covariance="cs")
    n, p = fit.n_obs, len(fit.beta)
    assert [c.df for c in fit.coefficients] == pytest.approx([n - p] * p, rel=1e-8)
    assert any("single variance" in note for note in fit.notes)
    ols_se = np.sqrt(np.diag(np.linalg.inv(fit.design.X.T @ fit.design.X)) * fit.sigma[0, 0])
    assert [c.se for c in fit.coefficients] == pytest.approx(ols_se.tolist(), rel=1e-8)


@pytest.mark.parametrize(
    ("value", "words"),
    [("high", "must be numeric"), (np.inf, "infinite")],
)
def test_bad_outcome_values_are_named(fev: pd.DataFrame, value: object, words: str) -> None:
    data = fev.astype({"FEV1": object})
    data.loc[3, "FEV1"] = value
    with pytest.raises(ValidationError, match=words) as raised:
        mmrm(data, FORMULA, subject="USUBJID", visit="AVISIT")
    assert raised.value.field == "FEV1"


def test_constant_outcome_is_refused(fev: pd.DataFrame) -> None:
    with pytest.raises(ValidationError, match="no variation"):
        mmrm(fev.assign(FEV1=5.0), FORMULA, subject="USUBJID", visit="AVISIT")


def _rm_frame() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    rows = [
        {"id": f"S{i}", "arm": "A" if i < 6 else "B", "visit": v, "y": float(rng.normal())}
        for i in range(12)
        for v in (0, 3, 6)
    ]
    return pd.DataFrame(rows)


def test_rm_anova_constant_response_is_refused() -> None:
    # afex gives NaN; alstrial F = 5.8e32 before.
    frame = _rm_frame().assign(y=7.0)
    with pytest.raises(ValidationError, match="no between-subjects residual variation"):
        rm_anova(frame, dv="y", subject="id", within="visit", between=["arm"])


def test_rm_anova_between_factor_left_with_one_level() -> None:
    frame = _rm_frame()
    frame.loc[(frame["arm"] == "B") & (frame["visit"] == 6), "y"] = np.nan
    with pytest.raises(ValidationError, match="'arm' has 1 level") as raised:
        rm_anova(frame, dv="y", subject="id", within="visit", between=["arm"])
    assert raised.value.field == "arm"


def test_rm_anova_text_and_inf_outcomes_are_named() -> None:
    frame = _rm_frame().astype({"y": object})
    frame.loc[0, "y"] = "n/a"
    with pytest.raises(ValidationError, match="must be numeric; it holds 'n/a'"):
        rm_anova(frame, dv="y", subject="id", within="visit")
    frame.loc[0, "y"] = np.inf
    with pytest.raises(ValidationError, match="infinite"):
        rm_anova(frame.astype({"y": float}), dv="y", subject="id", within="visit")


def test_cli_mmrm_on_numeric_visits_without_lsmeans(tmp_path: Path) -> None:
    # Before: a KeyError traceback (LS means over the numeric age).
    path = tmp_path / "orthodont.csv"
    pd.read_csv(REFERENCE / "orthodont.csv").to_csv(path, index=False)
    args = [
        "stats",
        "mmrm",
        str(path),
        "--formula",
        "distance ~ Sex*age",
        "--subject",
        "Subject",
        "--visit",
        "age",
        "--cov",
        "ar1",
    ]
    done = run_cli(*args, "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["visits"] == ["8", "10", "12", "14"]
    assert [row["Sex"] for row in payload["lsmeans"]] == ["Female", "Male"]
    assert any("covariate" in note for note in payload["notes"])
    refused = run_cli(*args, "--lsmeans", "age")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "error: LS means need categorical factors of the model; 'age' is not one "
        "(field='lsmeans', value='age', allowed='Sex')"
    ]
    as_factor = run_cli(*args, "--factor", "age", "--json")
    assert as_factor.returncode == 0, as_factor.stderr
    terms = [c["term"] for c in json.loads(as_factor.stdout)["coefficients"]]
    assert {"age10", "age12", "age14"} <= set(terms)


def test_kenward_roger_terms_against_a_direct_sum(fev: pd.DataFrame) -> None:
    # sum_ab W_ab (Q_ab - R_ab / 4) computed per pattern must equal the textbook sum over
    # subjects of X_i'V^-1 V_a V^-1 V_b V^-1 X_i and X_i'V^-1 V_ab V^-1 X_i (ar1: R != 0).
    import importlib

    engine = importlib.import_module("alstrial.stats.mmrm")
    from alstrial.stats.covariance import covariance_structure
    from alstrial.stats.design import build_design, level_codes

    data = fev.dropna(subset=["FEV1"]).reset_index(drop=True)
    visits = ("VIS1", "VIS2", "VIS3", "VIS4")
    design = build_design("FEV1 ~ ARMCD*AVISIT", data, orders={"AVISIT": visits})
    padded = engine._padded(
        design, data["USUBJID"].to_numpy(dtype=object), level_codes(data["AVISIT"], visits), 4
    )
    structure = covariance_structure("ar1", 4)
    phi = np.array([30.0, 0.4])
    evaluation = engine._evaluate(structure.sigma_phi(phi), padded, True, design.X.shape[1])
    jacobian, second = structure.jacobian_phi(phi), structure.hessian_phi(phi)
    weights = np.array([[2.0, 0.3], [0.3, 0.5]])
    fast = engine._kr_weighted_terms(padded, evaluation, jacobian, second, weights)
    sigma = structure.sigma_phi(phi)
    direct = np.zeros_like(fast)
    for x_padded, pattern in zip(padded.X, padded.pattern_of, strict=True):
        seen = padded.pattern_masks[pattern]
        inverse = np.linalg.inv(sigma[np.ix_(seen, seen)])
        xi = x_padded[seen]
        for a in range(2):
            for b in range(2):
                v_a = jacobian[a][np.ix_(seen, seen)]
                v_b = jacobian[b][np.ix_(seen, seen)]
                v_ab = second[a, b][np.ix_(seen, seen)]
                q_ab = xi.T @ inverse @ v_a @ inverse @ v_b @ inverse @ xi
                r_ab = xi.T @ inverse @ v_ab @ inverse @ xi
                direct += weights[a, b] * (q_ab - r_ab / 4)
    assert fast == pytest.approx(direct, rel=1e-10, abs=1e-12)


def test_an_arm_never_seen_at_a_visit_is_named(fev: pd.DataFrame) -> None:
    data = fev[~((fev["ARMCD"] == "TRT") & (fev["AVISIT"] == "VIS4"))]
    with pytest.raises(ValidationError, match="ARMCDTRT:AVISITVIS4 has no observation") as error:
        mmrm(data, "FEV1 ~ ARMCD*AVISIT", subject="USUBJID", visit="AVISIT")
    assert error.value.field == "ARMCD:AVISIT"


@pytest.mark.parametrize(
    ("extra", "formula", "column"),
    [
        ({"W2": "WEIGHT"}, "FEV1 ~ WEIGHT + W2 + AVISIT", "W2"),
        ({"C": None}, "FEV1 ~ C + AVISIT", "C"),
    ],
    ids=["collinear", "constant"],
)
def test_collinear_or_constant_covariates_are_named(
    fev: pd.DataFrame, extra: dict[str, str | None], formula: str, column: str
) -> None:
    name, source = next(iter(extra.items()))
    data = fev.assign(**{name: fev[source] * 2 if source else 3.0})
    with pytest.raises(ValidationError, match=f"{column} is a linear combination") as error:
        mmrm(data, formula, subject="USUBJID", visit="AVISIT")
    assert error.value.field == column


def test_subjects_with_one_observation(fev: pd.DataFrame) -> None:
    # A subject seen once informs the variance at that visit, as in SAS and nlme.
    complete = fev.dropna(subset=["FEV1"])
    counts = complete.groupby("USUBJID")["FEV1"].transform("size")
    mixed = pd.concat([complete[counts > 1], complete[counts == 1]])
    fit = mmrm(mixed, "FEV1 ~ ARMCD + AVISIT", subject="USUBJID", visit="AVISIT")
    assert fit.n_subjects == mixed["USUBJID"].nunique()
    # When every subject is seen once, no correlation between visits can be estimated.
    single = complete.groupby("USUBJID").head(1)
    with pytest.raises(ValidationError, match="every subject has one observation"):
        mmrm(single, "FEV1 ~ ARMCD + AVISIT", subject="USUBJID", visit="AVISIT", covariance="cs")


def test_missing_covariates_drop_their_rows(fev: pd.DataFrame) -> None:
    data = fev.copy()
    data.loc[data.index[:40], "WEIGHT"] = np.nan
    fit = mmrm(data, "FEV1 ~ WEIGHT + AVISIT", subject="USUBJID", visit="AVISIT")
    expected = data.dropna(subset=["FEV1", "WEIGHT"])
    assert fit.n_obs == len(expected)


def test_a_factor_left_with_one_level_is_named(fev: pd.DataFrame) -> None:
    data = fev.assign(FEV1=np.where(fev["ARMCD"] == "TRT", np.nan, fev["FEV1"]))
    with pytest.raises(ValidationError, match="ARMCD has a single level") as error:
        mmrm(data, "FEV1 ~ ARMCD*AVISIT", subject="USUBJID", visit="AVISIT")
    assert error.value.field == "ARMCD"


def test_lmm_on_degenerate_input() -> None:
    from alstrial.stats.lmm import lmm

    data = pd.read_csv(REFERENCE / "lmm_data.csv")
    with pytest.raises(ValidationError, match="no variation"):
        lmm(data.assign(score=4.0), "score ~ arm*months", subject="id", time="months")
    with pytest.raises(ValidationError, match=r"(months|double) is a linear combination"):
        lmm(
            data.assign(double=data["months"] * 2),
            "score ~ months + double",
            subject="id",
            time="months",
        )


BAD_ROWS = "id,arm,visit,y,t,e\n1,A,1,x,3,1\n1,A,2,2,3,1\n2,B,1,3,abc,0\n2,B,2,inf,5,1\n"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["describe", "FILE", "--value", "y", "--by", "arm"], "column 'y' must be numeric"),
        (["km", "FILE", "--time", "t", "--event", "e"], "column 't' must be numeric"),
        (["rm-anova", "FILE", "--subject", "id", "--within", "visit", "--dv", "y"], "'y'"),
        (["mmrm", "FILE", "--formula", "y ~ arm", "--subject", "id", "--visit", "visit"], "'y'"),
        (["lmm", "FILE", "--formula", "y ~ arm", "--subject", "id", "--time", "visit"], "'y'"),
        (
            [
                "cafs",
                "FILE",
                "--subject",
                "id",
                "--arm",
                "arm",
                "--death-time",
                "t",
                "--followup-time",
                "t",
                "--change",
                "y",
            ],
            "column 't' must be numeric",
        ),
    ],
    ids=["describe", "km", "rm-anova", "mmrm", "lmm", "cafs"],
)
def test_every_stats_command_names_text_in_a_numeric_column(
    tmp_path: Path, args: list[str], words: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(BAD_ROWS, encoding="utf-8")
    done = run_cli("stats", *[str(path) if a == "FILE" else a for a in args])
    assert done.returncode == 2, done.stderr
    assert words in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1  # one line, no traceback
