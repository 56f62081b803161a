r"""Linear mixed model with random effects on any time scale, and the piecewise lead-in model.

Model (Laird and Ware 1982): for subject i with n_i observations at times t_ij,

.. math::

    y_i = X_i\beta + Z_i b_i + e_i, \quad b_i \sim N(0, G), \quad e_i \sim N(0, \sigma^2 I),
    \quad V_i = Z_i G Z_i' + \sigma^2 I,

with Z_i = [1, t] (random intercept and slope), [1] (intercept only) or [1, t, t^2] (a
quadratic random term); G unstructured (``(1 + t | id)`` in lme4) or diagonal
(``(1 + t || id)``). Fitted by REML or ML with Satterthwaite or Kenward-Roger df, as
``lmerTest::lmer`` and SAS ``PROC MIXED; RANDOM INTERCEPT t / TYPE=UN SUBJECT=id``.

Computation. Times may take any number of distinct values (actual visit days): nothing is
laid on a grid. Each subject enters through the cross-products C_i = D_i'D_i of
D_i = [Z_i, X_i, y_i], and every quantity is an r x r computation per subject (r random
effects) by the Woodbury identity

.. math::

    V_i^{-1} = \sigma^{-2}(I - Z_i K_i Z_i'), \quad K_i = (\sigma^2 I + G M_i)^{-1} G,
    \quad M_i = Z_i'Z_i, \quad \log|V_i| = (n_i - r)\log\sigma^2 + \log|\sigma^2 I + G M_i|,

and (I - Z K Z')^j = I + Z \Pi_j Z' with \Pi_1 = -K, \Pi_{j+1} = \Pi_j - K - \Pi_j M K, so that
a'V^{-j}b = \sigma^{-2j}(a'b + a'Z \Pi_j Z'b) for any columns a, b of D (j = 1, 2, 3). The
covariance parameters phi (the entries of G, then sigma^2) are linear: V_k = Z E_k Z' or I.
From these forms come -2 log-likelihood, its exact gradient and observed Hessian (the
formulas of :mod:`~alstrial.stats.mmrm` with V_kl = 0), the expected information
tr(P V_k P V_l) and the Kenward-Roger terms Q_kl = sum X'V^-1 V_k V^-1 V_l V^-1 X. Cost is
O(N (r + p)^2 r) per evaluation for N subjects, p fixed effects: 100,000 subjects fit in
seconds.

Scale. As the MMRM, the fit is made on the response divided by the root mean square of its
OLS residuals, and on time divided by its largest absolute value, and mapped back; so the
units of the response and of time (days, months) do not change t, F or df.

The piecewise model for a lead-in design adds a change of slope at administration:
``y ~ arm * (t + post)`` with ``post = max(t, 0)``, t from administration (days or months), so
the slope is ``t`` before and ``t + post`` after; :func:`piecewise_lmm` builds it.

References
----------
Laird NM, Ware JH (1982), Biometrics 38:963-74. Kuznetsova A, Brockhoff PB, Christensen RHB
(2017), J Stat Softw 82(13) (lmerTest). Halekoh U, Hojsgaard S (2014), J Stat Softw 59(9)
(pbkrtest). Kenward MG, Roger JH (1997), Biometrics 53:983-97.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from alstrial.exceptions import ValidationError
from alstrial.stats.design import Design, build_design, formula_variables, numeric_column
from alstrial.stats.inference import ContrastResult, KenwardRoger
from alstrial.stats.mmrm import MmrmConvergenceError, response_scale
from alstrial.stats.newton import (
    DECREMENT_ACCEPTED,
    DECREMENT_CONVERGED,
    NotPositiveDefiniteError,
    check_inference_options,
    newton_decrement,
    newton_step,
)
from alstrial.stats.results import FixedEffectsInference

__all__ = ["RANDOM_TERMS", "LmmResult", "PiecewiseSlopes", "lmm", "piecewise_lmm"]

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]
Tensor = npt.NDArray[np.float64]
LOG_2PI = float(np.log(2 * np.pi))
RANDOM_TERMS = ("intercept", "slope", "quadratic")


@dataclass(frozen=True)
class _Random:
    """The random-effects covariance G: its basis E_k (G = sum phi_k E_k) and names."""

    terms: tuple[str, ...]
    correlated: bool
    basis: Tensor  # (q_G, r, r)
    pairs: tuple[tuple[int, int], ...]

    @property
    def r(self) -> int:
        return len(self.terms)

    @property
    def names(self) -> tuple[str, ...]:
        """SAS's names: UN(i,j) for TYPE=UN, the term's variance for TYPE=VC, Residual."""
        if self.correlated:
            labels = [f"UN({a + 1},{b + 1})" for a, b in self.pairs]
        else:
            labels = [f"Var({self.terms[a]})" for a, _ in self.pairs]
        return (*labels, "Residual")

    def covariance(self, phi: Vector) -> Matrix:
        """G = sum_k phi_k E_k."""
        return np.asarray(np.tensordot(phi[: len(self.pairs)], self.basis, axes=1))

    def phi_of_theta(self, theta: Vector) -> Vector:
        """theta: log-Cholesky of G (diagonal logs when independent), then log sigma^2."""
        r = self.r
        lower = np.zeros((r, r))
        if self.correlated:
            rows, cols = np.tril_indices(r)
            lower[rows, cols] = np.where(
                rows == cols, np.exp(theta[: len(rows)]), theta[: len(rows)]
            )
        else:
            lower[np.arange(r), np.arange(r)] = np.exp(theta[:r])
        G = lower @ lower.T
        values = [G[a, b] for a, b in self.pairs]
        return np.array([*values, np.exp(theta[-1])])

    def theta_of_phi(self, phi: Vector) -> Vector:
        G = self.covariance(phi)
        r = self.r
        if self.correlated:
            lower = np.linalg.cholesky(G + 1e-12 * np.trace(G) * np.eye(r))
            rows, cols = np.tril_indices(r)
            values = lower[rows, cols]
            theta = np.where(rows == cols, np.log(np.maximum(values, 1e-300)), values)
        else:
            theta = 0.5 * np.log(np.maximum(np.diag(G), 1e-300))
        return np.append(theta, np.log(phi[-1]))

    def rescale(self, phi: Vector, y_factor: float, time_factor: float) -> Vector:
        """phi of the response times ``y_factor`` and time times ``time_factor``."""
        powers = np.array([a + b for a, b in self.pairs], dtype=float)
        g = phi[: len(self.pairs)] * y_factor**2 / time_factor**powers
        return np.append(g, phi[-1] * y_factor**2)


def _random(random: str, correlated: bool) -> _Random:
    if random not in RANDOM_TERMS:
        raise ValidationError(
            f"unknown random-effects term {random!r}",
            field="random",
            value=random,
            allowed=", ".join(RANDOM_TERMS),
        )
    r = RANDOM_TERMS.index(random) + 1
    terms = ("intercept", "time", "time^2")[:r]
    if correlated:
        pairs = tuple((a, b) for a in range(r) for b in range(a + 1))
    else:
        pairs = tuple((a, a) for a in range(r))
    basis = np.zeros((len(pairs), r, r))
    for k, (a, b) in enumerate(pairs):
        basis[k, a, b] = basis[k, b, a] = 1.0
    return _Random(terms, correlated, basis, pairs)


@dataclass(frozen=True)
class _Subjects:
    """Per-subject cross-products of D = [Z, X, y] (module docstring)."""

    C: Tensor  # (N, m, m), m = r + p + 1
    n: Vector  # (N,) observations per subject
    r: int
    p: int


def _cross_products(codes: npt.NDArray[np.intp], D: Matrix, n_subjects: int) -> Tensor:
    m = D.shape[1]
    C = np.empty((n_subjects, m, m))
    for a in range(m):
        for b in range(a, m):
            column = np.bincount(codes, weights=D[:, a] * D[:, b], minlength=n_subjects)
            C[:, a, b] = column
            C[:, b, a] = column
    return C


def _subjects(
    codes: npt.NDArray[np.intp], Z: Matrix, X: Matrix, y: Vector, n_subjects: int
) -> _Subjects:
    D = np.column_stack([Z, X, y])
    n = np.bincount(codes, minlength=n_subjects).astype(float)
    return _Subjects(_cross_products(codes, D, n_subjects), n, Z.shape[1], X.shape[1])


@dataclass
class _Evaluation:
    """-2 log-likelihood (no constant) at phi, with what the derivatives need."""

    f: float
    beta: Vector
    A: Matrix
    a_inverse: Matrix
    K: Tensor
    Q1: Tensor
    M: Tensor  # Z'Z per subject
    c: Vector  # r = D c


def _evaluate(phi: Vector, data: _Subjects, random: _Random, reml: bool) -> _Evaluation:
    r, p = data.r, data.p
    s2 = float(phi[-1])
    G = random.covariance(phi)
    if not s2 > 0 or np.linalg.eigvalsh(G).min() < -1e-10 * max(1.0, float(np.abs(G).max())):
        raise NotPositiveDefiniteError
    M = data.C[:, :r, :r]
    core = s2 * np.eye(r)[None] + G[None] @ M  # sigma^2 I + G M
    K = np.asarray(np.linalg.solve(core, np.broadcast_to(G, core.shape)), dtype=np.float64)
    sign, logdets = np.linalg.slogdet(core)
    if np.any(sign <= 0):
        raise NotPositiveDefiniteError
    cz = data.C[:, :, :r]
    Q1 = (data.C - cz @ K @ np.swapaxes(cz, 1, 2)) / s2
    x = slice(r, r + p)
    A = Q1[:, x, x].sum(axis=0)
    b = Q1[:, x, r + p].sum(axis=0)
    try:
        lower = np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        raise NotPositiveDefiniteError from None
    beta = np.linalg.solve(A, b)
    a_inverse = np.linalg.inv(A)
    quadratic = float(Q1[:, r + p, r + p].sum() - b @ beta)
    f = float(np.sum((data.n - r) * np.log(s2) + logdets)) + quadratic
    if reml:
        f += 2.0 * float(np.log(np.diag(lower)).sum())
    c = np.concatenate([np.zeros(r), -beta, [1.0]])
    return _Evaluation(f, beta, A, a_inverse, K, Q1, M, c)


@dataclass
class _Derivatives:
    evaluation: _Evaluation
    gradient: Vector
    hessian: Matrix  # observed
    expected: Matrix
    M: Tensor  # M_k = X'V^-1 V_k V^-1 X, (q, p, p)
    N: Tensor  # N_kl = X'V^-1 V_k V^-1 V_l V^-1 X, (q, q, p, p)


def _derivatives(phi: Vector, data: _Subjects, random: _Random, reml: bool) -> _Derivatives:
    """Exact gradient, observed Hessian and expected information of -2 log-likelihood."""
    ev = _evaluate(phi, data, random, reml)
    r, p = data.r, data.p
    s2 = float(phi[-1])
    E = random.basis
    qg = len(random.pairs)
    q = qg + 1
    K, M = ev.K, ev.M
    pi2 = -2.0 * K + K @ M @ K
    pi3 = pi2 - K - pi2 @ M @ K
    cz = data.C[:, :, :r]
    zc = np.swapaxes(cz, 1, 2)
    Q1 = ev.Q1
    Q2 = (data.C + cz @ pi2 @ zc) / s2**2
    Q3 = (data.C + cz @ pi3 @ zc) / s2**3
    z, x = slice(0, r), slice(r, r + p)
    c = ev.c
    S = Q1[:, z, z]  # Z'V^-1 Z
    rho1 = Q1[:, z, :] @ c  # Z'V^-1 r
    rho2 = Q2[:, z, :] @ c  # Z'V^-2 r
    Y1 = Q1[:, x, z]  # X'V^-1 Z
    Y2 = Q2[:, x, z]  # X'V^-2 Z
    n_total = float(data.n.sum())
    trace_v1 = (n_total - float(np.einsum("iab,iba->", K, M))) / s2
    trace_v2 = (n_total + float(np.einsum("iab,iba->", pi2, M))) / s2**2

    # gradient
    gradient = np.zeros(q)
    gradient[:qg] = np.einsum("kab,ba->k", E, S.sum(axis=0)) - np.einsum(
        "kab,ab->k", E, np.einsum("ia,ib->ab", rho1, rho1)
    )
    gradient[qg] = trace_v1 - float(np.einsum("a,iab,b->", c, Q2, c))
    Mk = np.zeros((q, p, p))
    Mk[:qg] = np.einsum("kab,xayb->kxy", E, np.einsum("ixa,iyb->xayb", Y1, Y1, optimize=True))
    Mk[qg] = Q2[:, x, x].sum(axis=0)
    a_inv = ev.a_inverse
    if reml:
        gradient -= np.einsum("xy,kyx->k", a_inv, Mk)

    # pieces of the second derivatives
    T1 = np.zeros((q, q))
    SS = np.einsum("ibc,ida->bcda", S, S, optimize=True)
    T1[:qg, :qg] = np.einsum("kab,lcd,bcda->kl", E, E, SS, optimize=True)
    T1[:qg, qg] = T1[qg, :qg] = np.einsum("kab,ba->k", E, Q2[:, z, z].sum(axis=0))
    T1[qg, qg] = trace_v2
    Tu = np.zeros((q, q))
    rsr = np.einsum("ia,ibc,id->abcd", rho1, S, rho1, optimize=True)
    Tu[:qg, :qg] = np.einsum("kab,lcd,abcd->kl", E, E, rsr, optimize=True)
    Tu[:qg, qg] = Tu[qg, :qg] = np.einsum("kab,ab->k", E, np.einsum("ia,ib->ab", rho1, rho2))
    Tu[qg, qg] = float(np.einsum("a,iab,b->", c, Q3, c))
    h = np.zeros((q, p))
    h[:qg] = np.einsum("kab,xab->kx", E, np.einsum("ixa,ib->xab", Y1, rho1))
    h[qg] = np.einsum("ixa,a->x", Q2[:, x, :], c)
    N = np.zeros((q, q, p, p))
    ysy = np.einsum("ixa,ibc,iyd->xabcdy", Y1, S, Y1, optimize=True)
    N[:qg, :qg] = np.einsum("kab,lcd,xabcdy->klxy", E, E, ysy, optimize=True)
    cross = np.einsum("kab,xayb->kxy", E, np.einsum("ixa,iyb->xayb", Y1, Y2, optimize=True))
    N[:qg, qg] = cross
    N[qg, :qg] = np.swapaxes(cross, 1, 2)
    N[qg, qg] = Q3[:, x, x].sum(axis=0)
    hessian = -T1 + 2.0 * (Tu - h @ a_inv @ h.T)
    expected = T1.copy()
    if reml:
        T2 = np.einsum("xy,klyx->kl", a_inv, N)
        am = np.matmul(a_inv, Mk)
        T3 = np.einsum("kab,lba->kl", am, am)
        hessian += 2.0 * T2 - T3
        expected = T1 - 2.0 * T2 + T3
    hessian = 0.5 * (hessian + hessian.T)
    expected = 0.5 * (expected + expected.T)
    return _Derivatives(ev, gradient, hessian, expected, Mk, N)


def _newton(
    phi: Vector, data: _Subjects, random: _Random, reml: bool, max_iterations: int
) -> tuple[Vector, int] | None:
    """Newton-Raphson in phi with step halving (G must stay positive semi-definite); where
    the observed Hessian is not positive definite (far from the maximum), a Fisher scoring
    step on the expected information, as SAS PROC MIXED's first iterations."""
    try:
        current = _derivatives(phi, data, random, reml)
    except NotPositiveDefiniteError:
        return None
    for iteration in range(max_iterations):
        step = newton_step(current.hessian, current.expected, current.gradient)
        if step is None:
            return None
        if float(current.gradient @ step) < DECREMENT_CONVERGED:
            return phi, iteration
        scale = max(1.0, abs(current.evaluation.f))
        for _ in range(30):
            try:
                candidate = _derivatives(phi - step, data, random, reml)
            except NotPositiveDefiniteError:
                step = step / 2
                continue
            if candidate.evaluation.f <= current.evaluation.f + 1e-12 * scale:
                break
            step = step / 2
        else:
            return None
        phi, current = phi - step, candidate
    return None


def _bfgs(
    phi0: Vector, data: _Subjects, random: _Random, reml: bool, max_iterations: int
) -> tuple[Vector, int, str]:
    """BFGS on the unconstrained theta (log-Cholesky of G, log sigma^2)."""

    def objective(theta: Vector) -> tuple[float, Vector]:
        phi = random.phi_of_theta(theta)
        try:
            d = _derivatives(phi, data, random, reml)
        except NotPositiveDefiniteError:
            return float("inf"), np.zeros_like(theta)
        steps = 1e-7 * np.maximum(np.abs(theta), 1.0)
        jacobian = np.stack(
            [
                (random.phi_of_theta(theta + e) - random.phi_of_theta(theta - e)) / (2 * h)
                for e, h in zip(np.diag(steps), steps, strict=True)
            ]
        )
        return d.evaluation.f, jacobian @ d.gradient

    from scipy import optimize

    found = optimize.minimize(
        objective,
        random.theta_of_phi(phi0),
        jac=True,
        method="BFGS",
        options={"maxiter": max_iterations, "gtol": 1e-9},
    )
    return random.phi_of_theta(np.asarray(found.x)), int(found.nit), str(found.message)


@dataclass(frozen=True)
class LmmResult(FixedEffectsInference):
    """A fitted random-effects model; see the module docstring for the model."""

    design: Design
    random_terms: tuple[str, ...]
    correlated: bool
    time: str | None
    reml: bool
    df_method: str
    information: str
    beta: Vector
    beta_cov: Matrix
    beta_cov_adjusted: Matrix
    G: Matrix
    residual_variance: float
    phi: Vector
    phi_names: tuple[str, ...]
    phi_cov: Matrix
    neg2_loglik: float
    n_subjects: int
    n_obs: int
    n_times: int
    iterations: int
    notes: tuple[str, ...]
    """What a reader must know about the fit (a random slope without a fixed one)."""
    _P: npt.NDArray[np.float64] = field(repr=False)
    _kr: KenwardRoger | None = field(repr=False, default=None)


def _start(residual: Vector, t: Vector, random: _Random) -> Vector:
    """Start values from the OLS residuals (in the fit's units) and the spread of time."""
    level = float(np.mean(residual**2))
    spread = max(float(np.std(t)), 1e-3)
    variances = [level / 2, level / 4 / spread**2, level / 8 / spread**4][: random.r]
    G = np.diag(variances)
    return np.array([*(G[a, b] for a, b in random.pairs), level / 2])


def lmm(
    data: pd.DataFrame,
    formula: str,
    *,
    subject: str,
    time: str | None = None,
    random: str = "slope",
    correlated: bool = True,
    reml: bool = True,
    df: str = "satterthwaite",
    references: Mapping[str, str] | None = None,
    categorical: Sequence[str] = (),
    information: str = "observed",
    max_iterations: int = 200,
) -> LmmResult:
    """Fit a linear mixed model with random effects on ``time`` (module docstring).

    Parameters
    ----------
    data
        Long data, one row per observation; rows with a missing value in the formula's
        variables, the subject or the time are dropped.
    formula
        Fixed effects, e.g. ``"score ~ arm*months"``.
    subject, time
        The subject column and the numeric time column of the random slope (actual days or
        months; any number of distinct values). ``time`` may be omitted for ``intercept``.
    random
        ``intercept``, ``slope`` (intercept and slope) or ``quadratic`` (and time^2).
    correlated
        Unstructured G (lme4 ``(1 + t | id)``) or diagonal (``(1 + t || id)``).
    reml, df, references, categorical
        As :func:`~alstrial.stats.mmrm.mmrm`.
    information
        The information matrix behind W in the Kenward-Roger df: ``observed`` (SAS) or
        ``expected`` (R pbkrtest). Satterthwaite uses the observed one, as lmerTest.

    Raises
    ------
    ValidationError
        For bad columns, a non-numeric or infinite value, a constant response, a
        rank-deficient design, or fewer subjects than random effects.
    MmrmConvergenceError
        When the optimiser does not reach a maximum, or the random-effects covariance is
        singular (a variance estimated at zero: a boundary fit), with what to try.
    """
    df_method = check_inference_options(df, information)
    structure = _random(random, correlated)
    if structure.r > 1 and time is None:
        raise ValidationError(f"a random {random} needs a time column", field="time")
    columns = [subject, *([time] if time else [])]
    for column in columns:
        if column not in data.columns:
            raise ValidationError(
                f"column {column!r} is not in the data",
                field=column,
                allowed=", ".join(map(str, data.columns)),
            )
    variables = [*formula_variables(formula), *columns]
    used = data.dropna(subset=[v for v in variables if v in data.columns]).reset_index(drop=True)
    if used.empty:
        raise ValidationError("no complete rows to analyse", field="data")
    for column in [formula_variables(formula)[0], *([time] if time else [])]:
        if column in used.columns:
            used[column] = numeric_column(used, column)
    design = build_design(formula, used, references=references or {}, categorical=categorical)
    n, p = design.X.shape
    if n - p <= 0:
        raise ValidationError(f"{n} observations cannot fit {p} fixed effects", field="data")
    _, codes = np.unique(used[subject].to_numpy(dtype=object).astype(str), return_inverse=True)
    codes = codes.reshape(-1)
    n_subjects = int(codes.max()) + 1
    if n_subjects <= structure.r:
        raise ValidationError(
            f"{n_subjects} subjects cannot estimate a {structure.r} x {structure.r} random-"
            "effects covariance",
            field=subject,
        )
    t = used[time].to_numpy(dtype=float) if time else np.zeros(n)
    notes = []
    if time and structure.r > 1 and time not in {f for term in design.terms for f in term.factors}:
        notes.append(
            f"the random slope on {time} has no fixed slope in the formula: the mean slope is "
            f"taken as zero; add {time} to the formula for an estimated mean slope"
        )
    y_scale, residual = response_scale(design, design.response)
    t_scale = float(np.max(np.abs(t))) or 1.0
    tu = t / t_scale
    Z = np.column_stack([tu**j for j in range(structure.r)])
    unit = _subjects(codes, Z, design.X, design.y / y_scale, n_subjects)
    phi0 = _start(residual / y_scale, tu, structure)
    newton = _newton(phi0, unit, structure, reml, max_iterations)
    message = "Newton iterations converged"
    if newton is None:
        phi_bfgs, iterations, message = _bfgs(phi0, unit, structure, reml, 2000)
        polished = _newton(phi_bfgs, unit, structure, reml, 50)
        phi_unit = phi_bfgs if polished is None else polished[0]
        iterations += 0 if polished is None else polished[1]
    else:
        phi_unit, iterations = newton
    G_unit = structure.covariance(phi_unit)
    eigenvalues = np.linalg.eigvalsh(G_unit)
    if eigenvalues.min() <= 1e-6 * max(eigenvalues.max(), float(phi_unit[-1])):
        raise MmrmConvergenceError(
            "the random-effects covariance is singular (a boundary fit: a variance or a "
            "correlation is at its limit); simplify the random part (random intercept only, "
            "or independent terms)",
            field="random",
            value=random,
        )
    phi = structure.rescale(phi_unit, y_scale, t_scale)
    Z_orig = np.column_stack([t**j for j in range(structure.r)])
    original = _subjects(codes, Z_orig, design.X, design.y, n_subjects)
    try:
        final = _derivatives(phi, original, structure, reml)
    except NotPositiveDefiniteError:
        final = None
    decrement = (
        newton_decrement(final.hessian, final.gradient) if final is not None else float("inf")
    )
    if final is None or decrement > DECREMENT_ACCEPTED:
        raise MmrmConvergenceError(
            f"the mixed model stopped short of the maximum ({message}; Newton decrement "
            f"{decrement:.2g}); simplify the random part or check the data",
            field="random",
            value=random,
        )
    # W = 2 H^-1, inverted on the unit diagonal (phi spans many orders of magnitude).
    phi_cov = _scaled_inverse(final.hessian, 2.0)
    beta_cov = final.evaluation.a_inverse
    P = -final.M
    kr = None
    beta_cov_adjusted = beta_cov
    if df_method == "kenward-roger":
        W = phi_cov if information == "observed" else _scaled_inverse(final.expected, 2.0)
        weighted = np.tensordot(W, final.N, axes=([0, 1], [0, 1]))  # R = 0: linear in phi
        kr = KenwardRoger.build(beta_cov=beta_cov, P=P, W=W, weighted_qr=weighted)
        beta_cov_adjusted = kr.adjusted_cov
    constant = (n - p) * LOG_2PI if reml else n * LOG_2PI
    G = structure.covariance(phi)
    return LmmResult(
        design=design,
        random_terms=structure.terms,
        correlated=correlated,
        time=time,
        reml=reml,
        df_method=df_method,
        information=information if df_method == "kenward-roger" else "observed",
        beta=final.evaluation.beta,
        beta_cov=beta_cov,
        beta_cov_adjusted=beta_cov_adjusted,
        G=G,
        residual_variance=float(phi[-1]),
        phi=phi,
        phi_names=structure.names,
        phi_cov=phi_cov,
        neg2_loglik=final.evaluation.f + constant,
        n_subjects=n_subjects,
        n_obs=n,
        n_times=len(np.unique(t)),
        iterations=iterations,
        notes=tuple(notes),
        _P=P,
        _kr=kr,
    )


def _scaled_inverse(matrix: Matrix, factor: float) -> Matrix:
    scale = 1.0 / np.sqrt(np.abs(np.diag(matrix)))
    try:
        inverse = np.linalg.inv(matrix * np.outer(scale, scale))
    except np.linalg.LinAlgError:
        raise MmrmConvergenceError(
            "the covariance parameters' information matrix is singular; simplify the random part",
            field="random",
        ) from None
    return np.asarray(factor * inverse * np.outer(scale, scale), dtype=np.float64)


@dataclass(frozen=True)
class PiecewiseSlopes:
    """Slopes before and after administration per arm, and the change, from one model."""

    fit: LmmResult
    pre: dict[str, ContrastResult]
    post: dict[str, ContrastResult]
    change: dict[str, ContrastResult]


def piecewise_lmm(
    data: pd.DataFrame,
    *,
    value: str,
    subject: str,
    months: str,
    arm: str | None = None,
    reml: bool = True,
) -> PiecewiseSlopes:
    """Random intercept and slope model with a change of slope at administration.

    Parameters
    ----------
    data
        Long data; ``months`` is the time from administration (negative in the lead-in), in
        any unit (actual days are fine: nothing is laid on a grid).
    value, subject, months
        Columns of the response, the subject and the time.
    arm
        Optional arm column: each arm gets its own slopes.

    Returns
    -------
    PiecewiseSlopes
        Per arm (or ``"all"``): slope before, slope after, and after - before, each with SE,
        Satterthwaite df and CI.
    """
    frame = data.copy()
    frame["post_administration"] = np.maximum(pd.to_numeric(frame[months]), 0.0)
    rhs = f"{months} + post_administration"
    formula = f"{value} ~ {arm} * ({rhs})" if arm else f"{value} ~ {rhs}"
    fit = lmm(frame, formula, subject=subject, time=months, reml=reml)
    names = fit.design.column_names
    groups = list(fit.design.levels[arm]) if arm else ["all"]
    pre, post, change = {}, {}, {}
    for index, group in enumerate(groups):
        slope = np.zeros(len(names))
        jump = np.zeros(len(names))
        slope[names.index(months)] = 1.0
        jump[names.index("post_administration")] = 1.0
        if arm and index > 0:
            level = f"{arm}{group}"
            slope[names.index(f"{level}:{months}")] = 1.0
            jump[names.index(f"{level}:post_administration")] = 1.0
        pre[group] = fit.contrast(slope)
        post[group] = fit.contrast(slope + jump)
        change[group] = fit.contrast(jump)
    return PiecewiseSlopes(fit, pre, post, change)
