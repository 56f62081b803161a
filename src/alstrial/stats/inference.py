"""Tests of linear hypotheses on fixed effects with Satterthwaite or Kenward-Roger df.

Notation: beta-hat with covariance Phi = (X'V^-1 X)^-1, covariance parameters phi with
asymptotic covariance W, and P_k = dPhi^-1/dphi_k = -X'V^-1 V_k V^-1 X.

- Satterthwaite (SAS DDFM=SAT), one contrast l: v = l Phi l', g_k = -(Phi l)' P_k (Phi l),
  df = 2 v^2 / (g' W g). Several rows L (rank q): eigen-decompose L Phi L' = U D U', take
  df_m for each row of U'L, E = sum df_m / (df_m - 2) over df_m > 2, df = 2E / (E - q).
- Kenward-Roger (1997): Phi_A = Phi + 2 Phi [sum_ij W_ij (Q_ij - P_i Phi P_j - R_ij / 4)] Phi,
  F* = lambda F with F = (L beta)' (L Phi_A L')^-1 (L beta) / q, and lambda and the
  denominator df m from A1, A2 and B of the paper (Section 3).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from alstrial.stats.distributions import f_sf, t_ppf, t_two_sided

__all__ = [
    "ContrastResult",
    "FTestResult",
    "KenwardRoger",
    "contrast_satterthwaite",
    "ftest_satterthwaite",
]

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ContrastResult:
    """Estimate, standard error, df, t, two-sided p and 95 % confidence interval."""

    estimate: float
    se: float
    df: float
    t: float
    p: float
    ci_low: float
    ci_high: float

    def as_dict(self) -> dict[str, float]:
        """The fields as a dict (for tables and JSON)."""
        return asdict(self)


@dataclass(frozen=True)
class FTestResult:
    """An F test of a linear hypothesis."""

    F: float
    df_num: int
    df_den: float
    p: float


def _contrast(estimate: float, variance: float, df: float) -> ContrastResult:
    se = float(np.sqrt(variance))
    t = estimate / se if se > 0 else float("nan")
    p = t_two_sided(t, df)
    quantile = t_ppf(0.975, df)
    return ContrastResult(
        estimate, se, df, t, p, estimate - quantile * se, estimate + quantile * se
    )


def _satterthwaite_df(row: Vector, phi_matrix: Matrix, P: Matrix, W: Matrix) -> float:
    variance = float(row @ phi_matrix @ row)
    weighted = phi_matrix @ row
    gradient = -np.einsum("p,kpq,q->k", weighted, P, weighted)
    denominator = float(gradient @ W @ gradient)
    return 2 * variance**2 / denominator if denominator > 0 else float("inf")


def contrast_satterthwaite(
    row: Vector, beta: Vector, beta_cov: Matrix, P: Matrix, W: Matrix
) -> ContrastResult:
    """``row @ beta`` with its SE and Satterthwaite df (module docstring)."""
    variance = float(row @ beta_cov @ row)
    return _contrast(float(row @ beta), variance, _satterthwaite_df(row, beta_cov, P, W))


def ftest_satterthwaite(
    rows: Matrix, beta: Vector, beta_cov: Matrix, P: Matrix, W: Matrix
) -> FTestResult:
    """F test of ``rows @ beta = 0`` with Satterthwaite denominator df (SAS's method)."""
    q = rows.shape[0]
    middle = rows @ beta_cov @ rows.T
    estimate = rows @ beta
    F = float(estimate @ np.linalg.solve(middle, estimate)) / q
    if q == 1:
        df = _satterthwaite_df(rows[0], beta_cov, P, W)
    else:
        _, vectors = np.linalg.eigh(middle)
        nus = np.array([_satterthwaite_df(vectors[:, m] @ rows, beta_cov, P, W) for m in range(q)])
        keep = nus > 2
        expectation = float(np.sum(nus[keep] / (nus[keep] - 2)))
        df = 2 * expectation / (expectation - q) if expectation > q else float(nus.min())
    return FTestResult(F, q, df, f_sf(F, q, df))


@dataclass(frozen=True)
class KenwardRoger:
    """The Kenward-Roger adjusted covariance and its df for contrasts and F tests.

    Cost: building is O(q^2 p^2 + q p^3) once per model (q covariance parameters, p fixed
    effects) given sum_ij W_ij (Q_ij - R_ij / 4) from the model; each contrast of rank l
    then costs O(q l p^2 + q^2 l^2), through the
    l x l matrices L Phi P_k Phi L' (tr(Theta Phi P_k Phi) = tr(C^-1 L Phi P_k Phi L') with
    C = L Phi L').
    """

    beta_cov: Matrix
    adjusted_cov: Matrix
    P: Matrix
    W: Matrix
    sandwiches: Matrix  # Phi P_k Phi, (q, p, p)

    @classmethod
    def build(cls, *, beta_cov: Matrix, P: Matrix, W: Matrix, weighted_qr: Matrix) -> KenwardRoger:
        """Phi_A = Phi + 2 Phi [sum_ij W_ij (Q_ij - P_i Phi P_j - R_ij / 4)] Phi.

        ``weighted_qr`` is sum_ij W_ij (Q_ij - R_ij / 4) (p x p): the model computes it in
        whatever way its covariance makes cheap.
        """
        phi = beta_cov
        weighted_p = np.tensordot(W, P, axes=([1], [0]))  # sum_j W_ij P_j, (q, p, p)
        chained = np.einsum("ipq,iqs->ps", np.matmul(P, phi), weighted_p, optimize=True)
        inner = weighted_qr - chained
        adjusted = phi + 2 * phi @ inner @ phi
        sandwiches = np.matmul(np.matmul(phi[None], P), phi[None])
        return cls(beta_cov, 0.5 * (adjusted + adjusted.T), P, W, sandwiches)

    def _scale_and_df(self, rows: Matrix) -> tuple[float, float]:
        ell = rows.shape[0]
        C = rows @ self.beta_cov @ rows.T
        projected = np.matmul(np.matmul(rows[None], self.sandwiches), rows.T[None])  # (q, l, l)
        blocks = np.linalg.solve(C[None], projected)  # C^-1 L Phi P_k Phi L'
        traces = np.einsum("kaa->k", blocks)
        a1 = float(traces @ self.W @ traces)
        products = np.einsum("iab,jba->ij", blocks, blocks, optimize=True)
        a2 = float(np.sum(self.W * products))
        b = (a1 + 6 * a2) / (2 * ell)
        g = ((ell + 1) * a1 - (ell + 4) * a2) / ((ell + 2) * a2)
        denominator = 3 * ell + 2 * (1 - g)
        c1, c2, c3 = g / denominator, (ell - g) / denominator, (ell + 2 - g) / denominator
        e_star = 1 / (1 - a2 / ell)
        v_star = (2 / ell) * (1 + c1 * b) / ((1 - c2 * b) ** 2 * (1 - c3 * b))
        rho = v_star / (2 * e_star**2)
        m = 4 + (ell + 2) / (ell * rho - 1)
        scale = m / (e_star * (m - 2))
        return scale, m

    def contrast(self, row: Vector, beta: Vector) -> ContrastResult:
        """``row @ beta`` with the adjusted SE and the Kenward-Roger df."""
        _, m = self._scale_and_df(row[None, :])
        return _contrast(float(row @ beta), float(row @ self.adjusted_cov @ row), m)

    def ftest(self, rows: Matrix, beta: Vector) -> FTestResult:
        """Scaled F test of ``rows @ beta = 0`` (F* = lambda F ~ F(q, m))."""
        q = rows.shape[0]
        estimate = rows @ beta
        F = float(estimate @ np.linalg.solve(rows @ self.adjusted_cov @ rows.T, estimate)) / q
        scale, m = self._scale_and_df(rows)
        scaled = scale * F
        return FTestResult(scaled, q, m, f_sf(scaled, q, m))
