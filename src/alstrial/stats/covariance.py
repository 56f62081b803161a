r"""Residual covariance structures over visits for the MMRM.

Each structure has two parametrisations:

- ``theta``, unconstrained, for the optimiser (log standard deviations, Cholesky factors,
  transformed correlations), so that every step is a positive-definite matrix;
- ``phi``, the covariance parameters SAS PROC MIXED reports (``UN(i,j)``, ``CS`` and
  ``Residual``, variances and ``rho``), in which inference is done: Satterthwaite and
  Kenward-Roger degrees of freedom use the derivatives of the covariance in ``phi``. For UN,
  CS and TOEP the covariance is linear in ``phi``, as in SAS.

Structures (T visits): ``us`` unstructured (T(T+1)/2 parameters); ``cs`` compound symmetry
(2); ``csh`` heterogeneous CS (T + 1); ``ar1`` (2); ``ar1h`` heterogeneous AR(1) (T + 1);
``toep`` Toeplitz (T), parametrised for the optimiser by partial autocorrelations
(Durbin-Levinson) so that it stays positive definite.

The first and second derivatives of Sigma in ``phi`` are exact: constant basis matrices for
the linear structures, closed forms for the others. With D = diag(sqrt(v)) and a correlation
matrix R(rho) (``csh``: R = (1 - rho) I + rho J; ``ar1h``: R_ij = rho^|i-j|), Sigma = D R D
and, with E_k = e_k e_k' / (2 sqrt(v_k)) and F_k = -e_k e_k' / (4 v_k^(3/2)),

.. math::

    \partial_{v_k}\Sigma = E_k R D + D R E_k, \quad
    \partial_\rho\Sigma = D R' D, \quad
    \partial_{v_k}\partial_\rho\Sigma = E_k R' D + D R' E_k,

    \partial_{v_k}\partial_{v_l}\Sigma = E_k R E_l + E_l R E_k
        + \delta_{kl}(F_k R D + D R F_k), \quad \partial^2_\rho\Sigma = D R'' D.

Second derivatives by nested finite differences lose about half the digits (round-off
1e-16 / h^2), which moved Satterthwaite df by 1-4 % where the information matrix is
ill-conditioned (an AR(1) correlation of 0.99).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alstrial.exceptions import ValidationError

__all__ = [
    "COVARIANCE_STRUCTURES",
    "CovarianceStructure",
    "covariance_structure",
]

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]
Tensor = npt.NDArray[np.float64]


def _expit(z: Vector | float) -> Vector:
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(z))), dtype=np.float64)


@dataclass(frozen=True)
class CovarianceStructure:
    """A residual covariance structure over ``n_visits`` visits."""

    name: str
    n_visits: int
    n_params: int
    sigma_theta: Callable[[Vector], Matrix]
    phi_of_theta: Callable[[Vector], Vector]
    sigma_phi: Callable[[Vector], Matrix]
    start: Callable[[Vector], Vector]
    phi_names: tuple[str, ...]
    variance: tuple[bool, ...]
    """Per ``phi``: True where it is in the response's squared units (a variance or a
    covariance), False for a correlation; multiplying the response by c multiplies the
    first by c^2 and leaves the second."""
    derivatives: Callable[[Vector], tuple[Tensor, Tensor]] | None = None
    """Exact (d Sigma / d phi, d2 Sigma / d phi^2) of a non-linear structure; None for a
    linear one (constant first derivatives, no second)."""

    def jacobian_theta(self, theta: Vector) -> npt.NDArray[np.float64]:
        """d Sigma / d theta_k, shape (k, T, T), by central differences (BFGS only)."""
        return _numeric_jacobian(self.sigma_theta, theta)

    def jacobian_phi(self, phi: Vector) -> npt.NDArray[np.float64]:
        """d Sigma / d phi_k, shape (k, T, T), exact (module docstring)."""
        if self.derivatives is not None:
            return self.derivatives(phi)[0]
        q = len(phi)
        return np.stack([self.sigma_phi(np.eye(q)[k]) for k in range(q)])

    def hessian_phi(self, phi: Vector) -> npt.NDArray[np.float64]:
        """d2 Sigma / d phi_k d phi_l, shape (k, l, T, T), exact; zero when linear."""
        if self.derivatives is not None:
            return self.derivatives(phi)[1]
        q, t = len(phi), self.n_visits
        return np.zeros((q, q, t, t))

    def rescale_phi(self, phi: Vector, factor: float) -> Vector:
        """``phi`` of the response multiplied by ``factor``."""
        exponent = np.where(np.asarray(self.variance), 2.0, 0.0)
        return np.asarray(phi * factor**exponent, dtype=np.float64)


def _numeric_jacobian(function: Callable[[Vector], Matrix], x: Vector) -> npt.NDArray[np.float64]:
    steps = 1e-6 * np.maximum(np.abs(x), 1.0)
    out = []
    for k, step in enumerate(steps):
        up, down = x.copy(), x.copy()
        up[k] += step
        down[k] -= step
        out.append((function(up) - function(down)) / (2 * step))
    return np.stack(out)


def _power_derivatives(r: float, lags: npt.NDArray[np.intp]) -> tuple[Matrix, Matrix, Matrix]:
    """r^lag and its first and second derivatives in r (0 where the exponent would be < 0)."""
    value = np.asarray(r**lags, dtype=np.float64)
    first = np.where(lags >= 1, lags * r ** np.maximum(lags - 1, 0), 0.0)
    second = np.where(lags >= 2, lags * (lags - 1) * r ** np.maximum(lags - 2, 0), 0.0)
    return value, np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)


def _heterogeneous_derivatives(
    variances: Vector, R: Matrix, dR: Matrix, d2R: Matrix
) -> tuple[Tensor, Tensor]:
    """Exact derivatives of Sigma = D R(rho) D, phi = (v_1..v_T, rho) (module docstring)."""
    t = len(variances)
    sd = np.sqrt(variances)
    D = np.diag(sd)
    E = np.zeros((t, t, t))
    F = np.zeros((t, t, t))
    for k in range(t):
        E[k, k, k] = 1.0 / (2.0 * sd[k])
        F[k, k, k] = -1.0 / (4.0 * variances[k] * sd[k])
    q = t + 1
    jacobian = np.zeros((q, t, t))
    hessian = np.zeros((q, q, t, t))
    for k in range(t):
        jacobian[k] = E[k] @ R @ D + D @ R @ E[k]
        for m in range(k, t):
            block = E[k] @ R @ E[m] + E[m] @ R @ E[k]
            if m == k:
                block = block + F[k] @ R @ D + D @ R @ F[k]
            hessian[k, m] = hessian[m, k] = block
        cross = E[k] @ dR @ D + D @ dR @ E[k]
        hessian[k, t] = hessian[t, k] = cross
    jacobian[t] = D @ dR @ D
    hessian[t, t] = D @ d2R @ D
    return jacobian, hessian


def _unstructured(t: int) -> CovarianceStructure:
    rows, cols = np.tril_indices(t)
    diagonal = rows == cols

    def sigma_theta(theta: Vector) -> Matrix:
        lower = np.zeros((t, t))
        lower[rows, cols] = np.where(diagonal, np.exp(theta), theta)
        return lower @ lower.T

    def phi_of_theta(theta: Vector) -> Vector:
        return sigma_theta(theta)[rows, cols]

    def sigma_phi(phi: Vector) -> Matrix:
        sigma = np.zeros((t, t))
        sigma[rows, cols] = phi
        sigma[cols, rows] = phi
        return sigma

    def start(variances: Vector) -> Vector:
        return np.where(diagonal, 0.5 * np.log(variances[rows]), 0.0)

    names = tuple(f"UN({i + 1},{j + 1})" for i, j in zip(rows, cols, strict=True))
    return CovarianceStructure(
        "us",
        t,
        len(rows),
        sigma_theta,
        phi_of_theta,
        sigma_phi,
        start,
        names,
        variance=(True,) * len(rows),
    )


def _compound_symmetry(t: int) -> CovarianceStructure:
    low = -1.0 / (t - 1) if t > 1 else -1.0

    def rho(z: float) -> float:
        return float(low + (1 - low) * _expit(z))

    def sigma_theta(theta: Vector) -> Matrix:
        variance, r = float(np.exp(theta[0])), rho(theta[1])
        return variance * ((1 - r) * np.eye(t) + r * np.ones((t, t)))

    def phi_of_theta(theta: Vector) -> Vector:
        variance, r = float(np.exp(theta[0])), rho(theta[1])
        return np.array([variance * r, variance * (1 - r)])

    def sigma_phi(phi: Vector) -> Matrix:
        return np.asarray(phi[1] * np.eye(t) + phi[0] * np.ones((t, t)), dtype=np.float64)

    def start(variances: Vector) -> Vector:
        return np.array([np.log(variances.mean()), 0.0])

    return CovarianceStructure(
        "cs",
        t,
        2,
        sigma_theta,
        phi_of_theta,
        sigma_phi,
        start,
        ("CS", "Residual"),
        variance=(True, True),
    )


def _heterogeneous_cs(t: int) -> CovarianceStructure:
    low = -1.0 / (t - 1) if t > 1 else -1.0

    def correlation(r: float) -> Matrix:
        return (1 - r) * np.eye(t) + r * np.ones((t, t))

    def sigma_theta(theta: Vector) -> Matrix:
        sd = np.exp(theta[:t])
        r = float(low + (1 - low) * _expit(theta[t]))
        return np.outer(sd, sd) * correlation(r)

    def phi_of_theta(theta: Vector) -> Vector:
        r = float(low + (1 - low) * _expit(theta[t]))
        return np.append(np.exp(2 * theta[:t]), r)

    def sigma_phi(phi: Vector) -> Matrix:
        sd = np.sqrt(phi[:t])
        return np.outer(sd, sd) * correlation(float(phi[t]))

    def start(variances: Vector) -> Vector:
        return np.append(0.5 * np.log(variances), 0.0)

    def derivatives(phi: Vector) -> tuple[Tensor, Tensor]:
        r = float(phi[t])
        R = correlation(r)
        dR = np.ones((t, t)) - np.eye(t)
        return _heterogeneous_derivatives(phi[:t], R, dR, np.zeros((t, t)))

    names = (*(f"Var({i + 1})" for i in range(t)), "CSH")
    return CovarianceStructure(
        "csh",
        t,
        t + 1,
        sigma_theta,
        phi_of_theta,
        sigma_phi,
        start,
        names,
        variance=(*(True,) * t, False),
        derivatives=derivatives,
    )


def _ar1_correlation(t: int, r: float) -> Matrix:
    lags = np.abs(np.subtract.outer(np.arange(t), np.arange(t)))
    return np.asarray(r**lags, dtype=np.float64)


def _ar1(t: int) -> CovarianceStructure:
    def sigma_theta(theta: Vector) -> Matrix:
        return float(np.exp(theta[0])) * _ar1_correlation(t, float(np.tanh(theta[1])))

    def phi_of_theta(theta: Vector) -> Vector:
        return np.array([np.exp(theta[0]), np.tanh(theta[1])])

    def sigma_phi(phi: Vector) -> Matrix:
        return float(phi[0]) * _ar1_correlation(t, float(phi[1]))

    def start(variances: Vector) -> Vector:
        return np.array([np.log(variances.mean()), 0.3])

    lags = np.abs(np.subtract.outer(np.arange(t), np.arange(t)))

    def derivatives(phi: Vector) -> tuple[Tensor, Tensor]:
        variance = float(phi[0])
        R, dR, d2R = _power_derivatives(float(phi[1]), lags)
        jacobian = np.stack([R, variance * dR])
        hessian = np.stack([np.stack([np.zeros((t, t)), dR]), np.stack([dR, variance * d2R])])
        return jacobian, hessian

    return CovarianceStructure(
        "ar1",
        t,
        2,
        sigma_theta,
        phi_of_theta,
        sigma_phi,
        start,
        ("Variance", "AR(1)"),
        variance=(True, False),
        derivatives=derivatives,
    )


def _ar1_heterogeneous(t: int) -> CovarianceStructure:
    def sigma_theta(theta: Vector) -> Matrix:
        sd = np.exp(theta[:t])
        return np.outer(sd, sd) * _ar1_correlation(t, float(np.tanh(theta[t])))

    def phi_of_theta(theta: Vector) -> Vector:
        return np.append(np.exp(2 * theta[:t]), np.tanh(theta[t]))

    def sigma_phi(phi: Vector) -> Matrix:
        sd = np.sqrt(phi[:t])
        return np.outer(sd, sd) * _ar1_correlation(t, float(phi[t]))

    def start(variances: Vector) -> Vector:
        return np.append(0.5 * np.log(variances), 0.3)

    lags = np.abs(np.subtract.outer(np.arange(t), np.arange(t)))

    def derivatives(phi: Vector) -> tuple[Tensor, Tensor]:
        R, dR, d2R = _power_derivatives(float(phi[t]), lags)
        return _heterogeneous_derivatives(phi[:t], R, dR, d2R)

    names = (*(f"Var({i + 1})" for i in range(t)), "ARH(1)")
    return CovarianceStructure(
        "ar1h",
        t,
        t + 1,
        sigma_theta,
        phi_of_theta,
        sigma_phi,
        start,
        names,
        variance=(*(True,) * t, False),
        derivatives=derivatives,
    )


def _autocorrelations(partial: Vector) -> Vector:
    """Autocorrelations r_0..r_{T-1} from partial autocorrelations (Durbin-Levinson)."""
    r = [1.0]
    coefficients: list[float] = []
    for k, pk in enumerate(partial, start=1):
        numerator = sum(coefficients[j] * r[k - 1 - j] for j in range(k - 1))
        denominator = 1.0 - sum(coefficients[j] * r[j + 1] for j in range(k - 1))
        r.append(float(pk) * denominator + numerator)
        coefficients = [
            coefficients[j] - float(pk) * coefficients[k - 2 - j] for j in range(k - 1)
        ] + [float(pk)]
    return np.array(r)


def _toeplitz(t: int) -> CovarianceStructure:
    lags = np.abs(np.subtract.outer(np.arange(t), np.arange(t)))

    def sigma_theta(theta: Vector) -> Matrix:
        r = _autocorrelations(np.tanh(theta[1:]))
        return float(np.exp(theta[0])) * r[lags]

    def phi_of_theta(theta: Vector) -> Vector:
        return float(np.exp(theta[0])) * _autocorrelations(np.tanh(theta[1:]))

    def sigma_phi(phi: Vector) -> Matrix:
        return np.asarray(phi[lags], dtype=np.float64)

    def start(variances: Vector) -> Vector:
        return np.append(np.log(variances.mean()), np.zeros(t - 1))

    names = tuple(f"TOEP({i + 1})" for i in range(t))
    return CovarianceStructure(
        "toep",
        t,
        t,
        sigma_theta,
        phi_of_theta,
        sigma_phi,
        start,
        names,
        variance=(True,) * t,
    )


_BUILDERS = {
    "us": _unstructured,
    "cs": _compound_symmetry,
    "csh": _heterogeneous_cs,
    "ar1": _ar1,
    "ar1h": _ar1_heterogeneous,
    "toep": _toeplitz,
}
COVARIANCE_STRUCTURES: tuple[str, ...] = tuple(_BUILDERS)


def covariance_structure(name: str, n_visits: int) -> CovarianceStructure:
    """The structure ``name`` (one of :data:`COVARIANCE_STRUCTURES`) over ``n_visits``."""
    builder = _BUILDERS.get(name)
    if builder is None:
        raise ValidationError(
            f"unknown covariance structure {name!r}",
            field="cov",
            value=name,
            allowed=", ".join(COVARIANCE_STRUCTURES),
        )
    return builder(n_visits)
