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
(A = sum X'Sigma^-1 X; the middle term for REML only); Newton steps on the analytic Hessian
(BFGS first when Newton from the start fails) also give the asymptotic covariance of the
covariance parameters, W = 2 H^-1, used by the degrees of freedom.

Scale. The fit is made on the response divided by c, the root mean square of its ordinary
least-squares residuals, and mapped back (variances times c^2, correlations unchanged), and
convergence is judged by the Newton decrement g' H^-1 g, which does not depend on the units
of y or of the parameters. So the same data in litres or in millilitres give the same t, F and
df, and -2 log-likelihood shifted by exactly 2 (n - p) log c (REML; 2 n log c under ML).

References
----------
Mallinckrodt CH et al. (2008), Drug Inf J 42:303-19 (MMRM). Satterthwaite FE (1946),
Biometrics Bull 2:110-4. Kenward MG, Roger JH (1997), Biometrics 53:983-97. SAS/STAT PROC MIXED
documentation (Type III tests, LSMEANS, DDFM=SATTERTHWAITE and KR).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import linalg

from alstrial.exceptions import ValidationError
from alstrial.stats.covariance import CovarianceStructure, covariance_structure
from alstrial.stats.design import (
    Design,
    build_design,
    formula_variables,
    level_codes,
    numeric_column,
    visit_levels,
)
from alstrial.stats.inference import KenwardRoger
from alstrial.stats.newton import (
    DECREMENT_ACCEPTED,
    DECREMENT_CONVERGED,
    INFORMATION_TYPES,
    NotPositiveDefiniteError,
    check_inference_options,
    newton_decrement,
    newton_step,
)
from alstrial.stats.results import Coefficient, FixedEffectsInference, Type3Row

__all__ = [
    "INFORMATION_TYPES",
    "Coefficient",
    "MmrmConvergenceError",
    "MmrmResult",
    "Type3Row",
    "mmrm",
]

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]
LOG_2PI = float(np.log(2 * np.pi))


class MmrmConvergenceError(ValidationError):
    """The optimiser did not reach a maximum of the likelihood."""


@dataclass(frozen=True)
class _Data:
    """Subjects padded to all T visits (zero rows where a visit is missing), with patterns.

    A missing visit gets a unit variance uncoupled from the others, zero X rows and zero y:
    it adds nothing to the likelihood, so every subject can be handled in one batched array.
    """

    X: npt.NDArray[np.float64]  # (N, T, p)
    y: npt.NDArray[np.float64]  # (N, T)
    pattern_of: npt.NDArray[np.intp]  # (N,)
    pattern_masks: npt.NDArray[np.bool_]  # (P, T)
    counts: npt.NDArray[np.float64]  # (P,) subjects per pattern
    starts: npt.NDArray[np.intp]  # (P,) first subject of each pattern (subjects sorted)

    def per_pattern(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Sum of per-subject ``values`` (N, ...) within each pattern: (P, ...)."""
        return np.asarray(np.add.reduceat(values, self.starts, axis=0), dtype=np.float64)

    @property
    def outer_masks(self) -> npt.NDArray[np.bool_]:
        return self.pattern_masks[:, :, None] & self.pattern_masks[:, None, :]


@dataclass
class _Evaluation:
    f: float
    beta: Vector
    A: Matrix
    a_inverse: Matrix
    gradient_sigma: Matrix
    inverses: npt.NDArray[np.float64]  # (P, T, T), zero outside each pattern's visits
    Z: npt.NDArray[np.float64]  # (N, T, p) = V_i^-1 X_i
    u: npt.NDArray[np.float64]  # (N, T) = V_i^-1 r_i


def _padded(
    design: Design,
    subject: npt.NDArray[np.object_],
    visit_index: npt.NDArray[np.intp],
    n_visits: int,
) -> _Data:
    _, codes = np.unique(subject.astype(str), return_inverse=True)
    subjects = np.unique(codes)
    n, p = len(subjects), design.X.shape[1]
    X = np.zeros((n, n_visits, p))
    y = np.zeros((n, n_visits))
    mask = np.zeros((n, n_visits), dtype=bool)
    visits = np.asarray(visit_index, dtype=np.intp)
    X[codes, visits] = design.X
    y[codes, visits] = design.y
    mask[codes, visits] = True
    patterns, pattern_of = np.unique(mask, axis=0, return_inverse=True)
    pattern_of = pattern_of.reshape(-1)
    # Subjects sorted by pattern, so per-pattern sums are one reduceat (no P x N indicator,
    # which took 800 MB for 1,000 patterns of 100,000 subjects).
    order = np.argsort(pattern_of, kind="stable")
    pattern_of = pattern_of[order]
    counts = np.bincount(pattern_of, minlength=len(patterns))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
    return _Data(X[order], y[order], pattern_of, patterns, counts.astype(float), starts)


def _evaluate(sigma: Matrix, data: _Data, reml: bool, p: int) -> _Evaluation:
    """-2 log-likelihood (without its constant), beta-hat, A and dF/dSigma for one Sigma."""
    outer = data.outer_masks
    t = sigma.shape[0]
    blocks = np.where(outer, sigma[None], 0.0) + np.eye(t)[None] * ~data.pattern_masks[:, None, :]
    try:
        lower = np.linalg.cholesky(blocks)
    except np.linalg.LinAlgError:
        raise NotPositiveDefiniteError from None
    logdets = 2.0 * np.log(np.diagonal(lower, axis1=1, axis2=2)).sum(axis=1)
    inverses = np.asarray(np.linalg.inv(blocks) * outer, dtype=np.float64)
    per_subject = inverses[data.pattern_of]
    n = data.X.shape[0]
    Z = np.matmul(per_subject, data.X)
    A = data.X.reshape(n * t, p).T @ Z.reshape(n * t, p)
    b = Z.reshape(n * t, p).T @ data.y.reshape(n * t)
    try:
        a_factor = linalg.cho_factor(A, lower=True, check_finite=False)
    except linalg.LinAlgError:
        raise NotPositiveDefiniteError from None
    beta = linalg.cho_solve(a_factor, b, check_finite=False)
    a_inverse = linalg.cho_solve(a_factor, np.eye(p), check_finite=False)
    residual = data.y - data.X @ beta
    u = np.matmul(per_subject, residual[:, :, None])[:, :, 0]
    f = float(data.counts @ logdets) + float(np.sum(u * residual))
    gradient = np.tensordot(data.counts, inverses, axes=1) - u.T @ u
    if reml:
        f += 2.0 * float(np.log(np.diag(a_factor[0])).sum())
        # sum_i Z_i A^-1 Z_i', as batched products (tensordot copied Z twice, transposed)
        gradient -= np.matmul(Z @ a_inverse, np.swapaxes(Z, 1, 2)).sum(axis=0)
    gradient = 0.5 * (gradient + gradient.T)
    return _Evaluation(f, beta, A, a_inverse, gradient, inverses, Z, u)


@dataclass
class _SecondOrder:
    ok: bool
    evaluation: _Evaluation
    jacobian: npt.NDArray[np.float64]
    gradient: Vector
    hessian: Matrix
    M: npt.NDArray[np.float64]  # M_k = X' V^-1 V_k V^-1 X = -dA/dphi_k
    expected: Matrix  # E[hessian]: tr(P V_k P V_l) (REML) or tr(V^-1 V_k V^-1 V_l) (ML)


def _second_order(
    structure: CovarianceStructure, phi: Vector, data: _Data, reml: bool, p: int
) -> _SecondOrder:
    """-2 log-likelihood with its analytic gradient and Hessian in phi.

    With V_k = dV/dphi_k, V_kl the second derivatives, u = V^-1 r, w_k = V_k u,
    M_k = X'V^-1 V_k V^-1 X, h_k = X'V^-1 w_k, B = V^-1 X A^-1 X' V^-1 (per subject):
    H_kl = -tr(V^-1 V_k V^-1 V_l) + tr(V^-1 V_kl) - u' V_kl u
           + 2 [w_k' V^-1 w_l - h_k' A^-1 h_l]
           + REML: 2 tr(V_k V^-1 V_l B) - tr(A^-1 M_k A^-1 M_l) - tr(V_kl B),
    summed over subjects (the last line is d2 log|A|).
    """
    q = len(phi)
    sigma = structure.sigma_phi(phi)
    empty = np.zeros((q, q))
    try:
        evaluation = _evaluate(sigma, data, reml, p)
    except NotPositiveDefiniteError:
        t = sigma.shape[0]
        dummy = _Evaluation(
            float("inf"),
            np.zeros(p),
            np.eye(p),
            np.eye(p),
            sigma,
            np.zeros((0, t, t)),
            np.zeros((0, t, p)),
            np.zeros((0, t)),
        )
        return _SecondOrder(False, dummy, np.zeros((q, t, t)), np.zeros(q), empty, empty, empty)
    jacobian = structure.jacobian_phi(phi)  # (q, T, T)
    second = structure.hessian_phi(phi)
    inverses, Z, u = evaluation.inverses, evaluation.Z, evaluation.u
    a_inverse = evaluation.a_inverse
    sv = np.matmul(inverses[:, None], jacobian[None])  # (P, q, T, T): S^-1 V_a per pattern
    t1 = np.einsum("p,paij,pbji->ab", data.counts, sv, sv, optimize=True)
    hessian = -t1
    # sum_i u_i' V_a S_i^-1 V_b u_i = sum_p tr(V_a S_p^-1 V_b U_p), U_p = sum_{i in p} u_i u_i':
    # per pattern, so no (q, N, T) arrays (they took 900 MB at 100,000 subjects, q = 55).
    U = data.per_pattern(u[:, :, None] * u[:, None, :])
    hessian += 2 * np.einsum("aij,pbjk,pki->ab", jacobian, sv, U, optimize=True)
    flat = Z.reshape(Z.shape[0], -1)
    cross = (flat.T @ flat).reshape(Z.shape[1:] * 2)  # (T, p, T, p), no transposed copy
    M = np.einsum("aij,ipjq->apq", jacobian, cross)
    h = np.einsum("ajk,jpk->ap", jacobian, np.einsum("njp,nk->jpk", Z, u, optimize=True))
    hessian -= 2 * h @ a_inverse @ h.T
    B_subject = np.matmul(Z @ a_inverse, np.swapaxes(Z, 1, 2))  # (N, T, T)
    B = data.per_pattern(B_subject)
    expected = t1
    if reml:
        t2 = np.einsum("aij,pbjk,pki->ab", jacobian, sv, B, optimize=True)
        am = np.matmul(a_inverse, M)
        t3 = np.einsum("aij,bji->ab", am, am)
        hessian += 2 * t2 - t3
        expected = t1 - (t2 + t2.T) + t3
    if np.any(second):
        hessian += np.einsum("p,pij,abji->ab", data.counts, inverses, second, optimize=True)
        hessian -= np.einsum("abij,ij->ab", second, u.T @ u)
        if reml:
            hessian -= np.einsum("abij,ji->ab", second, B.sum(axis=0))
    gradient = np.einsum("ij,kij->k", evaluation.gradient_sigma, jacobian)
    hessian = 0.5 * (hessian + hessian.T)
    expected = 0.5 * (expected + expected.T)
    return _SecondOrder(True, evaluation, jacobian, gradient, hessian, M, expected)


@dataclass(frozen=True)
class MmrmResult(FixedEffectsInference):
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
    information: str
    """The information matrix behind W in the Kenward-Roger df (observed or expected)."""
    notes: tuple[str, ...]
    """What a reader must know about the fit (a structure reduced, a visit as covariate)."""
    _P: npt.NDArray[np.float64] = field(repr=False)
    _kr: KenwardRoger | None = field(repr=False, default=None)


def _visit_variances(
    residual: Vector, visit_index: npt.NDArray[np.integer], n_visits: int
) -> Vector:
    """Start values: the OLS residuals' variance at each visit (floored above zero)."""
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


def _newton(
    structure: CovarianceStructure,
    phi: Vector,
    data: _Data,
    reml: bool,
    p: int,
    max_iterations: int,
) -> tuple[Vector, _SecondOrder, int] | None:
    """Newton-Raphson in phi with step halving; ``None`` unless it converges.

    A step must keep Sigma positive definite and not raise -2 log-likelihood. Where the
    Hessian is not positive definite (far from the maximum) the step is Fisher scoring's, on
    the expected information; where neither is, the caller falls back to BFGS. Converged: the Newton
    decrement g' H^-1 g (twice the predicted gain in -2 log-likelihood; free of units) below
    1e-12.
    """
    second = _second_order(structure, phi, data, reml, p)
    for iteration in range(1, max_iterations + 1):
        if not second.ok:
            return None
        step = newton_step(second.hessian, second.expected, second.gradient)
        if step is None:
            return None
        if float(second.gradient @ step) < DECREMENT_CONVERGED:
            return phi, second, iteration - 1
        scale = max(1.0, abs(second.evaluation.f))
        for _ in range(30):
            candidate = _second_order(structure, phi - step, data, reml, p)
            if candidate.ok and candidate.evaluation.f <= second.evaluation.f + 1e-12 * scale:
                break
            step = step / 2
        else:
            return None
        phi, second = phi - step, candidate
    return None


def response_scale(design: Design, name: str) -> tuple[float, Vector]:
    """Root mean square of the OLS residuals, the unit the fit is made in (module
    docstring), and the residuals themselves (the start values come from them: one least
    squares fit per model). The response is finite already (``numeric_column``).

    Raises
    ------
    ValidationError
        When the fixed effects fit the response exactly (a constant response): no residual
        variation is left to model.
    """
    beta, *_ = np.linalg.lstsq(design.X, design.y, rcond=None)
    residual = design.y - design.X @ beta
    scale = float(np.sqrt(np.mean(residual**2)))
    size = float(np.max(np.abs(design.y))) if len(design.y) else 0.0
    if not scale > 1e-10 * max(size, np.finfo(float).tiny):
        raise ValidationError(
            f"the response {name!r} has no variation left once the fixed effects are fitted "
            "(a constant response?); there is no covariance to estimate",
            field=name,
        )
    return scale, residual


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
    categorical: Sequence[str] = (),
    information: str = "observed",
    max_iterations: int = 1000,
    structure: CovarianceStructure | None = None,
) -> MmrmResult:
    """Fit an MMRM (module docstring).

    Parameters
    ----------
    data
        Long data, one row per subject and visit; rows with a missing value in the formula's
        variables are dropped (missing at random).
    formula
        Fixed effects, e.g. ``"FEV1 ~ RACE + SEX + ARMCD*AVISIT"``. A numeric column enters as
        a covariate (as in R) unless it is named in ``categorical`` (SAS ``CLASS``).
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
        Order of the visits; AR(1) and Toeplitz depend on it. Default :func:`visit_levels`:
        numeric visits by value, text visits by label with embedded numbers as numbers.
    categorical
        Numeric columns of the formula to treat as classification factors.
    information
        The information matrix behind W in the Kenward-Roger df: ``observed`` (the Hessian,
        as SAS PROC MIXED) or ``expected`` (Fisher scoring, as R pbkrtest). Satterthwaite
        always uses the observed one, as SAS and lmerTest.
    structure
        A covariance structure built by the caller over the visits in ``visit_order``;
        overrides ``covariance``.

    Raises
    ------
    ValidationError
        For bad columns, a non-numeric or infinite response, a subject seen twice at a
        visit, a constant response, or a rank-deficient design.
    MmrmConvergenceError
        When the optimiser does not reach a maximum; the message says what to try.
    """
    df_method = check_inference_options(df, information)
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
    if variables[0] in used.columns:
        used = used.assign(**{variables[0]: numeric_column(used, variables[0])})
    duplicated = used.duplicated([subject, visit])
    if duplicated.any():
        first = used[duplicated].iloc[0]
        raise ValidationError(
            f"subject {first[subject]} has two rows at visit {first[visit]}",
            field=visit,
            value=str(first[visit]),
        )
    visits = (
        tuple(str(v) for v in visit_order) if visit_order is not None else visit_levels(data[visit])
    )
    unknown = sorted({str(v) for v in pd.unique(used[visit].to_numpy(dtype=object))} - set(visits))
    if unknown:
        raise ValidationError(
            f"visit {unknown[0]!r} is not in the visit order", field=visit, value=unknown[0]
        )
    design = build_design(
        formula, used, references=references, orders={visit: visits}, categorical=categorical
    )
    visit_index = level_codes(used[visit], visits)
    notes: list[str] = []
    if structure is None:
        if len(visits) == 1 and covariance != "us":
            notes.append(
                f"one visit: the {covariance} structure reduces to a single variance "
                "(ordinary least squares); fitted as us"
            )
            covariance = "us"
        structure = covariance_structure(covariance, len(visits))
    elif structure.n_visits != len(visits):
        raise ValidationError(
            f"the covariance structure has {structure.n_visits} visits, the data {len(visits)}",
            field="visit",
        )
    if visit in design.means:
        notes.append(
            f"{visit} is numeric and enters the formula as a covariate (a linear trend); "
            f"treat it as a factor for one mean per visit"
        )
    covariance = structure.name
    if len(visits) > 1 and not used.duplicated(subject).any():
        raise ValidationError(
            f"every subject has one observation: the {covariance} covariance between visits "
            "cannot be estimated; analyse one visit, or use a model without correlation",
            field=subject,
        )
    padded = _padded(design, used[subject].to_numpy(dtype=object), visit_index, len(visits))
    p = design.X.shape[1]
    n = len(design.y)
    if n - p <= 0:
        raise ValidationError(f"{n} observations cannot fit {p} fixed effects", field="data")
    scale, residual = response_scale(design, design.response)
    unit = replace(padded, y=padded.y / scale)

    def objective(theta: Vector) -> tuple[float, Vector]:
        try:
            evaluation = _evaluate(structure.sigma_theta(theta), unit, reml, p)
        except NotPositiveDefiniteError:
            return float("inf"), np.zeros_like(theta)
        return evaluation.f, _gradient_theta(structure, theta, evaluation.gradient_sigma)

    theta0 = structure.start(_visit_variances(residual / scale, visit_index, len(visits)))
    newton = _newton(structure, structure.phi_of_theta(theta0), unit, reml, p, max_iterations)
    if newton is not None:
        phi_unit, _, iterations = newton
        message = "Newton iterations converged"
    else:  # Newton from the start did not converge: BFGS, then Newton to polish
        from scipy import optimize  # the fallback only: Newton usually converges

        found = optimize.minimize(
            objective,
            theta0,
            jac=True,
            method="BFGS",
            options={"maxiter": max_iterations, "gtol": 1e-8},
        )
        message = str(found.message)
        polished = _newton(structure, structure.phi_of_theta(found.x), unit, reml, p, 50)
        if polished is None:
            phi_unit = structure.phi_of_theta(np.asarray(found.x, dtype=np.float64))
            iterations = int(found.nit)
        else:
            phi_unit, _, extra = polished
            iterations = int(found.nit) + extra
    phi = structure.rescale_phi(phi_unit, scale)
    second = _second_order(structure, phi, padded, reml, p)
    decrement = newton_decrement(second.hessian, second.gradient) if second.ok else float("inf")
    if not second.ok or decrement > DECREMENT_ACCEPTED:
        if second.ok and np.all(np.isfinite(second.hessian)) and decrement == float("inf"):
            reason = "at a point that is not a maximum of the likelihood"
        else:
            reason = f"short of the maximum ({message}; Newton decrement {decrement:.2g})"
        raise MmrmConvergenceError(
            f"the {covariance} MMRM stopped {reason}; try a simpler covariance structure "
            "(cs, ar1), or check that every visit has enough subjects",
            field="cov",
            value=covariance,
        )
    sigma = structure.sigma_phi(phi)
    evaluation = second.evaluation
    jacobian = second.jacobian
    try:
        phi_cov = np.asarray(2.0 * np.linalg.inv(second.hessian), dtype=np.float64)
    except np.linalg.LinAlgError:
        raise MmrmConvergenceError(
            "the covariance parameters' information matrix is singular; the model is "
            "over-parametrised for these data: try a simpler covariance structure",
            field="cov",
            value=covariance,
        ) from None
    beta_cov = np.asarray(np.linalg.inv(evaluation.A), dtype=np.float64)
    P = -second.M
    kr = None
    beta_cov_adjusted = beta_cov
    if df_method == "kenward-roger":
        W = phi_cov
        if information == "expected":
            W = np.asarray(2.0 * np.linalg.inv(second.expected), dtype=np.float64)
        weighted = _kr_weighted_terms(padded, evaluation, jacobian, structure.hessian_phi(phi), W)
        kr = KenwardRoger.build(beta_cov=beta_cov, P=P, W=W, weighted_qr=weighted)
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
        information=information if df_method == "kenward-roger" else "observed",
        notes=tuple(notes),
        _P=P,
        _kr=kr,
    )


def _kr_weighted_terms(
    data: _Data,
    evaluation: _Evaluation,
    jacobian: npt.NDArray[np.float64],
    second: npt.NDArray[np.float64],
    W: Matrix,
) -> Matrix:
    """sum_ab W_ab (Q_ab - R_ab / 4), the only form in which Kenward-Roger uses Q and R.

    Q_ab = sum_i X_i'V^-1 V_a V^-1 V_b V^-1 X_i = sum_i Z_i' V_a S^-1 V_b Z_i (Z_i = V_i^-1 X_i)
    and R_ab = sum_i Z_i' V_ab Z_i, so the weighted sum is sum_i Z_i' G_p(i) Z_i with
    G_p = sum_a V_a S_p^-1 (sum_b W_ab V_b) - (sum_ab W_ab V_ab) / 4 for each pattern p: T x T
    per pattern instead of q^2 matrices of p x p (which took 4 s at q = 55, p = 50).
    """
    combined = np.tensordot(W, jacobian, axes=([1], [0]))  # sum_b W_ab V_b, (q, T, T)
    G = np.einsum("aij,pjk,akl->pil", jacobian, evaluation.inverses, combined, optimize=True)
    G -= 0.25 * np.einsum("ab,abij->ij", W, second)[None]
    Z = evaluation.Z
    per_subject = G[data.pattern_of]
    return np.asarray(
        np.einsum("nkx,nkl,nly->xy", Z, per_subject, Z, optimize=True), dtype=np.float64
    )
