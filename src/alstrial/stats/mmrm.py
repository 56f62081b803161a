"""Mixed model for repeated measures (MMRM): generalised least squares with a structured
residual covariance over visits, fitted by REML or ML, with Satterthwaite or Kenward-Roger
degrees of freedom, Type III F tests and LS means, as SAS PROC MIXED computes them.

Model: y_i = X_i beta + e_i, e_i ~ N(0, Sigma_i) with Sigma_i the rows and columns of the
visit covariance Sigma(phi) at the visits subject i attended (missing at random).

.. math::

    -2\\ell_R(\\phi) = \\sum_i \\log|\\Sigma_i| + \\log|\\textstyle\\sum_i X_i'\\Sigma_i^{-1}X_i|
        + \\sum_i r_i'\\Sigma_i^{-1} r_i + (n - p)\\log 2\\pi

with r_i = y_i - X_i beta-hat (ML drops the second term and uses n log 2 pi). Subjects are
grouped by their pattern of attended visits, so each pattern's Sigma_i is factorised once and
the sums are tensor contractions. The gradient is analytic:
dF/dSigma_i = Sigma_i^-1 - Sigma_i^-1 X_i A^-1 X_i' Sigma_i^-1 - Sigma_i^-1 r_i r_i' Sigma_i^-1
(A = sum X'Sigma^-1 X; the middle term for REML only); BFGS is followed by Newton steps on a
finite-difference Hessian of the analytic gradient, which also gives the asymptotic
covariance of the covariance parameters, W = 2 H^-1, used by the degrees of freedom.

References
----------
Mallinckrodt CH et al. (2008), Drug Inf J 42:303-19 (MMRM). Satterthwaite FE (1946),
Biometrics Bull 2:110-4. Kenward MG, Roger JH (1997), Biometrics 53:983-97. SAS/STAT PROC MIXED
documentation (Type III tests, LSMEANS, DDFM=SATTERTHWAITE and KR).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import linalg, optimize

from alstrial.exceptions import ValidationError
from alstrial.stats.covariance import CovarianceStructure, covariance_structure
from alstrial.stats.design import Design, build_design, formula_variables
from alstrial.stats.inference import (
    ContrastResult,
    FTestResult,
    KenwardRoger,
    contrast_satterthwaite,
    ftest_satterthwaite,
)

__all__ = ["MmrmConvergenceError", "MmrmResult", "mmrm"]

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]
LOG_2PI = float(np.log(2 * np.pi))


class MmrmConvergenceError(ValidationError):
    """The optimiser did not reach a maximum of the likelihood."""


@dataclass(frozen=True)
class _Pattern:
    idx: npt.NDArray[np.intp]
    X: Matrix  # (m, k, p)
    y: Matrix  # (m, k)


@dataclass
class _Evaluation:
    f: float
    beta: Vector
    A: Matrix
    gradient_sigma: Matrix
    inverses: list[Matrix]


def _patterns(
    design: Design, subject: Sequence[object], visit_index: Sequence[int]
) -> list[_Pattern]:
    frame = pd.DataFrame({"subject": subject, "visit": visit_index, "row": np.arange(len(subject))})
    frame = frame.sort_values(["subject", "visit"], kind="stable")
    by_pattern: dict[tuple[int, ...], list[npt.NDArray[np.intp]]] = {}
    for _, rows in frame.groupby("subject", sort=False):
        key = tuple(int(v) for v in rows["visit"])
        by_pattern.setdefault(key, []).append(rows["row"].to_numpy())
    patterns = []
    for key, members in by_pattern.items():
        stacked = np.stack(members)  # (m, k)
        patterns.append(
            _Pattern(np.array(key, dtype=np.intp), design.X[stacked], design.y[stacked])
        )
    return patterns


def _evaluate(sigma: Matrix, patterns: list[_Pattern], reml: bool, p: int) -> _Evaluation:
    A = np.zeros((p, p))
    b = np.zeros(p)
    logdet = 0.0
    inverses = []
    for pattern in patterns:
        block = sigma[np.ix_(pattern.idx, pattern.idx)]
        try:
            factor = linalg.cho_factor(block, lower=True, check_finite=False)
        except linalg.LinAlgError:
            raise _NotPositiveDefiniteError from None
        inverse = linalg.cho_solve(factor, np.eye(len(pattern.idx)), check_finite=False)
        inverses.append(inverse)
        logdet += pattern.X.shape[0] * 2.0 * float(np.log(np.diag(factor[0])).sum())
        weighted = np.einsum("mkp,kl->mlp", pattern.X, inverse)
        A += np.einsum("mlp,mlq->pq", weighted, pattern.X)
        b += np.einsum("mlp,ml->p", weighted, pattern.y)
    try:
        a_factor = linalg.cho_factor(A, lower=True, check_finite=False)
    except linalg.LinAlgError:
        raise _NotPositiveDefiniteError from None
    beta = linalg.cho_solve(a_factor, b, check_finite=False)
    a_inverse = linalg.cho_solve(a_factor, np.eye(p), check_finite=False)
    quadratic = 0.0
    gradient = np.zeros_like(sigma)
    for pattern, inverse in zip(patterns, inverses, strict=True):
        residual = pattern.y - pattern.X @ beta
        quadratic += float(np.einsum("mk,kl,ml->", residual, inverse, residual))
        outer = np.einsum("mk,ml->kl", residual, residual)
        middle = pattern.X.shape[0] * np.eye(len(pattern.idx))
        middle = middle - outer @ inverse
        if reml:
            spread = np.einsum("mkp,pq,mlq->kl", pattern.X, a_inverse, pattern.X)
            middle = middle - spread @ inverse
        gradient[np.ix_(pattern.idx, pattern.idx)] += inverse @ middle
    f = logdet + quadratic
    if reml:
        f += 2.0 * float(np.log(np.diag(a_factor[0])).sum())
    gradient = 0.5 * (gradient + gradient.T)
    return _Evaluation(f, beta, A, gradient, inverses)


class _NotPositiveDefiniteError(Exception):
    pass


@dataclass(frozen=True)
class Coefficient:
    """One fixed-effect coefficient."""

    term: str
    estimate: float
    se: float
    df: float
    t: float
    p: float


@dataclass(frozen=True)
class Type3Row:
    """The Type III F test of one model term."""

    effect: str
    df_num: int
    df_den: float
    F: float
    p: float


@dataclass(frozen=True)
class MmrmResult:
    """A fitted MMRM; see the module docstring for the model."""

    design: Design
    visits: tuple[str, ...]
    structure: CovarianceStructure
    reml: bool
    df_method: str
    beta: Vector
    beta_cov: Matrix
    beta_cov_adjusted: Matrix
    sigma: Matrix
    phi: Vector
    phi_cov: Matrix
    neg2_loglik: float
    n_subjects: int
    n_obs: int
    iterations: int
    _P: npt.NDArray[np.float64] = field(repr=False)
    _kr: KenwardRoger | None = field(repr=False, default=None)

    @property
    def loglik(self) -> float:
        """The (restricted) log-likelihood, constants included, as SAS reports it."""
        return -0.5 * self.neg2_loglik

    @property
    def aic(self) -> float:
        """-2 log-likelihood + 2 x covariance parameters (+ fixed effects under ML), as SAS."""
        extra = 0 if self.reml else len(self.beta)
        return self.neg2_loglik + 2 * (len(self.phi) + extra)

    def contrast(self, row: Sequence[float] | Vector) -> ContrastResult:
        """Estimate, SE, df, t and p of ``row @ beta`` with the model's df method."""
        vector = np.asarray(row, dtype=np.float64)
        if self._kr is not None:
            return self._kr.contrast(vector, self.beta)
        return contrast_satterthwaite(vector, self.beta, self.beta_cov, self._P, self.phi_cov)

    def test(self, rows: Matrix) -> FTestResult:
        """F test of ``rows @ beta = 0`` (rows of full rank)."""
        matrix = np.atleast_2d(np.asarray(rows, dtype=np.float64))
        if self._kr is not None:
            return self._kr.ftest(matrix, self.beta)
        return ftest_satterthwaite(matrix, self.beta, self.beta_cov, self._P, self.phi_cov)

    @property
    def coefficients(self) -> list[Coefficient]:
        """Every fixed effect with its SE, df, t and p."""
        out = []
        for j, name in enumerate(self.design.column_names):
            row = np.zeros(len(self.beta))
            row[j] = 1.0
            result = self.contrast(row)
            out.append(Coefficient(name, result.estimate, result.se, result.df, result.t, result.p))
        return out

    @property
    def type3(self) -> list[Type3Row]:
        """Type III F test of every term (SAS: hypotheses of the sum-to-zero coding)."""
        rows = []
        for term in self.design.terms:
            test = self.test(self.design.type3_contrast(term))
            rows.append(Type3Row(term.name, test.df_num, test.df_den, test.F, test.p))
        return rows

    def lsmeans(self, by: Sequence[str]) -> pd.DataFrame:
        """LS means for every combination of the factors ``by`` (SAS LSMEANS)."""
        grid = pd.MultiIndex.from_product([self.design.levels[f] for f in by], names=list(by))
        rows = []
        for combination in grid:
            at = dict(zip(by, combination, strict=True))
            result = self.contrast(self.design.lsmeans_row(at))
            rows.append({**at, **result.as_dict()})
        return pd.DataFrame(rows)

    def differences(self, factor: str, by: str) -> pd.DataFrame:
        """Each level of ``factor`` minus its reference, within each level of ``by``."""
        levels = self.design.levels[factor]
        rows = []
        for level_by in self.design.levels[by]:
            base = self.design.lsmeans_row({factor: levels[0], by: level_by})
            for level in levels[1:]:
                row = self.design.lsmeans_row({factor: level, by: level_by}) - base
                result = self.contrast(row)
                rows.append(
                    {by: level_by, "contrast": f"{level} - {levels[0]}", **result.as_dict()}
                )
        return pd.DataFrame(rows)


def _visit_variances(design: Design, visit_index: npt.NDArray[np.integer], n_visits: int) -> Vector:
    beta, *_ = np.linalg.lstsq(design.X, design.y, rcond=None)
    residual = design.y - design.X @ beta
    variances = np.array(
        [
            residual[visit_index == v].var() if (visit_index == v).sum() > 1 else 1.0
            for v in range(n_visits)
        ]
    )
    floor = 1e-6 * max(float(residual.var()), 1e-12)
    return np.asarray(np.maximum(variances, floor), dtype=np.float64)


def _gradient_theta(
    structure: CovarianceStructure, theta: Vector, gradient_sigma: Matrix
) -> Vector:
    if structure.name == "us":
        t = structure.n_visits
        rows, cols = np.tril_indices(t)
        lower = np.zeros((t, t))
        values = np.where(rows == cols, np.exp(theta), theta)
        lower[rows, cols] = values
        d_lower = 2.0 * gradient_sigma @ lower
        out = d_lower[rows, cols]
        return np.asarray(np.where(rows == cols, out * values, out), dtype=np.float64)
    jacobian = structure.jacobian_theta(theta)
    return np.asarray(np.einsum("ij,kij->k", gradient_sigma, jacobian), dtype=np.float64)


def _hessian(gradient: Callable[[Vector], Vector], x: Vector) -> Matrix:
    """Symmetrised central-difference Jacobian of an analytic gradient."""
    steps = 1e-4 * np.maximum(np.abs(x), 1e-2)
    columns = []
    for k, step in enumerate(steps):
        up, down = x.copy(), x.copy()
        up[k] += step
        down[k] -= step
        columns.append((gradient(up) - gradient(down)) / (2 * step))
    hessian = np.stack(columns, axis=1)
    return np.asarray(0.5 * (hessian + hessian.T), dtype=np.float64)


def mmrm(
    data: pd.DataFrame,
    formula: str,
    *,
    subject: str,
    visit: str,
    covariance: str = "us",
    reml: bool = True,
    df: str = "satterthwaite",
    references: Mapping[str, str] | None = None,
    visit_order: Sequence[str] | None = None,
    max_iterations: int = 1000,
) -> MmrmResult:
    """Fit an MMRM (module docstring).

    Parameters
    ----------
    data
        Long data, one row per subject and visit; rows with a missing value in the formula's
        variables are dropped (missing at random).
    formula
        Fixed effects, e.g. ``"FEV1 ~ RACE + SEX + ARMCD*AVISIT"``.
    subject, visit
        Columns identifying the subject and the visit (the covariance is over visits).
    covariance
        ``us``, ``cs``, ``csh``, ``ar1``, ``ar1h`` or ``toep``.
    reml
        REML (default) or ML.
    df
        ``satterthwaite`` or ``kenward-roger`` (``kr``).
    references
        Reference level per categorical factor (default: first level in sorted order).
    visit_order
        Order of the visits (default: sorted); AR(1) and Toeplitz depend on it.

    Raises
    ------
    ValidationError
        For bad columns, a subject seen twice at a visit, or a rank-deficient design.
    MmrmConvergenceError
        When the optimiser does not converge; the message says what to try.
    """
    df_method = {
        "satterthwaite": "satterthwaite",
        "kenward-roger": "kenward-roger",
        "kr": "kenward-roger",
    }.get(df)
    if df_method is None:
        raise ValidationError(
            f"unknown degrees-of-freedom method {df!r}",
            field="df",
            value=df,
            allowed="satterthwaite, kenward-roger",
        )
    for column in (subject, visit):
        if column not in data.columns:
            raise ValidationError(
                f"column {column!r} is not in the data",
                field=column,
                allowed=", ".join(map(str, data.columns)),
            )
    references = dict(references or {})
    variables = [*formula_variables(formula), subject, visit]
    used = data.dropna(subset=[v for v in variables if v in data.columns]).reset_index(drop=True)
    if used.empty:
        raise ValidationError("no complete rows to analyse", field="data")
    duplicated = used.duplicated([subject, visit])
    if duplicated.any():
        first = used[duplicated].iloc[0]
        raise ValidationError(
            f"subject {first[subject]} has two rows at visit {first[visit]}",
            field=visit,
            value=str(first[visit]),
        )
    visits = (
        tuple(visit_order)
        if visit_order is not None
        else tuple(sorted({str(v) for v in data[visit].dropna()}))
    )
    unknown = sorted({str(v) for v in used[visit]} - set(visits))
    if unknown:
        raise ValidationError(
            f"visit {unknown[0]!r} is not in the visit order", field=visit, value=unknown[0]
        )
    design = build_design(formula, used, references=references)
    visit_index = used[visit].astype(str).map({v: i for i, v in enumerate(visits)}).to_numpy()
    structure = covariance_structure(covariance, len(visits))
    patterns = _patterns(design, used[subject].tolist(), visit_index.tolist())
    p = design.X.shape[1]
    n = len(design.y)
    if n - p <= 0:
        raise ValidationError(f"{n} observations cannot fit {p} fixed effects", field="data")

    def objective(theta: Vector) -> tuple[float, Vector]:
        try:
            evaluation = _evaluate(structure.sigma_theta(theta), patterns, reml, p)
        except _NotPositiveDefiniteError:
            return float("inf"), np.zeros_like(theta)
        return evaluation.f, _gradient_theta(structure, theta, evaluation.gradient_sigma)

    theta0 = structure.start(_visit_variances(design, visit_index, len(visits)))
    found = optimize.minimize(
        objective,
        theta0,
        jac=True,
        method="BFGS",
        options={"maxiter": max_iterations, "gtol": 1e-6},
    )
    theta = np.asarray(found.x, dtype=np.float64)
    iterations = int(found.nit)
    for _ in range(5):  # polish with Newton steps on the analytic gradient
        f0, g0 = objective(theta)
        if not np.isfinite(f0) or np.max(np.abs(g0)) < 1e-9:
            break
        hessian = _hessian(lambda x: objective(x)[1], theta)
        try:
            step = np.linalg.solve(hessian, g0)
        except np.linalg.LinAlgError:
            break
        candidate = theta - step
        if objective(candidate)[0] <= f0 + 1e-10:
            theta = candidate
        else:
            break
    final_f, final_g = objective(theta)
    if not np.isfinite(final_f) or np.max(np.abs(final_g)) > 1e-3 * max(1.0, abs(final_f)) ** 0.5:
        raise MmrmConvergenceError(
            f"the {covariance} MMRM did not converge ({found.message}; gradient "
            f"{np.max(np.abs(final_g)):.2g}); try a simpler covariance structure (cs, ar1), "
            "check that every visit has enough subjects, or rescale the response",
            field="cov",
            value=covariance,
        )
    phi = structure.phi_of_theta(theta)
    sigma = structure.sigma_phi(phi)
    evaluation = _evaluate(sigma, patterns, reml, p)
    jacobian = structure.jacobian_phi(phi)  # (q, T, T)

    def gradient_phi(x: Vector) -> Vector:
        ev = _evaluate(structure.sigma_phi(x), patterns, reml, p)
        return np.asarray(
            np.einsum("ij,kij->k", ev.gradient_sigma, structure.jacobian_phi(x)), dtype=np.float64
        )

    hessian_phi = _hessian(gradient_phi, phi)
    try:
        phi_cov = np.asarray(2.0 * np.linalg.inv(hessian_phi), dtype=np.float64)
    except np.linalg.LinAlgError:
        raise MmrmConvergenceError(
            "the covariance parameters' information matrix is singular; the model is "
            "over-parametrised for these data: try a simpler covariance structure",
            field="cov",
            value=covariance,
        ) from None
    beta_cov = np.asarray(np.linalg.inv(evaluation.A), dtype=np.float64)
    P = np.zeros((len(phi), p, p))
    for pattern, inverse in zip(patterns, evaluation.inverses, strict=True):
        for k in range(len(phi)):
            block = jacobian[k][np.ix_(pattern.idx, pattern.idx)]
            middle = inverse @ block @ inverse
            P[k] -= np.einsum("mkp,kl,mlq->pq", pattern.X, middle, pattern.X)
    kr = None
    beta_cov_adjusted = beta_cov
    if df_method == "kenward-roger":
        kr = KenwardRoger.build(
            beta_cov=beta_cov,
            P=P,
            Q=_q_terms(patterns, evaluation.inverses, jacobian),
            R=_r_terms(patterns, evaluation.inverses, structure.hessian_phi(phi)),
            W=phi_cov,
        )
        beta_cov_adjusted = kr.adjusted_cov
    constant = (n - p) * LOG_2PI if reml else n * LOG_2PI
    return MmrmResult(
        design=design,
        visits=visits,
        structure=structure,
        reml=reml,
        df_method=df_method,
        beta=evaluation.beta,
        beta_cov=beta_cov,
        beta_cov_adjusted=beta_cov_adjusted,
        sigma=sigma,
        phi=phi,
        phi_cov=phi_cov,
        neg2_loglik=evaluation.f + constant,
        n_subjects=int(used[subject].nunique()),
        n_obs=n,
        iterations=iterations,
        _P=P,
        _kr=kr,
    )


def _q_terms(
    patterns: list[_Pattern], inverses: list[Matrix], jacobian: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    q = jacobian.shape[0]
    p = patterns[0].X.shape[2]
    Q = np.zeros((q, q, p, p))
    for pattern, inverse in zip(patterns, inverses, strict=True):
        blocks = jacobian[:, pattern.idx][:, :, pattern.idx]  # (q, k, k)
        left = np.einsum("ab,qbc->qac", inverse, blocks)  # S^-1 V_q
        cross = np.einsum("mkp,mlq->klpq", pattern.X, pattern.X)
        for i in range(q):
            chain = np.einsum("ab,rbc,cd->rad", left[i], left, inverse)  # S^-1 V_i S^-1 V_r S^-1
            Q[i] += np.einsum("rkl,klpq->rpq", chain, cross)
    return Q


def _r_terms(
    patterns: list[_Pattern], inverses: list[Matrix], second: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    q = second.shape[0]
    p = patterns[0].X.shape[2]
    R = np.zeros((q, q, p, p))
    if not np.any(second):
        return R
    for pattern, inverse in zip(patterns, inverses, strict=True):
        blocks = second[:, :, pattern.idx][:, :, :, pattern.idx]
        middle = np.einsum("ab,ijbc,cd->ijad", inverse, blocks, inverse)
        R += np.einsum("mkp,ijkl,mlq->ijpq", pattern.X, middle, pattern.X)
    return R
