"""Newton steps for the likelihood engines: Newton-Raphson on the observed information, Fisher
scoring on the expected one where the Hessian is not positive definite, and convergence by
the Newton decrement.

The decrement lambda^2 = g' H^-1 g is twice the gain in -2 log-likelihood a Newton step
predicts. It does not change with the units of the response or of the parameters (a
gradient test does: FEV1 in mL stopped after two steps with a wrong answer), so one
threshold serves every data set: 1e-12 to stop iterating, 1e-6 to accept a fit.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from alstrial.exceptions import ValidationError

__all__ = [
    "DECREMENT_ACCEPTED",
    "DECREMENT_CONVERGED",
    "INFORMATION_TYPES",
    "NotPositiveDefiniteError",
    "check_inference_options",
    "newton_decrement",
    "newton_step",
]

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]

DECREMENT_CONVERGED = 1e-12
DECREMENT_ACCEPTED = 1e-6
INFORMATION_TYPES = ("observed", "expected")


class NotPositiveDefiniteError(Exception):
    """A covariance (or the fixed effects' information) is not positive definite here."""


def newton_step(hessian: Matrix, expected: Matrix, gradient: Vector) -> Vector | None:
    """H^-1 g, or the scoring step I^-1 g where H is not positive definite (far from the
    maximum, as SAS PROC MIXED's first iterations); ``None`` where neither is."""
    for matrix in (hessian, expected):
        try:
            np.linalg.cholesky(matrix)
        except np.linalg.LinAlgError:
            continue
        return np.asarray(np.linalg.solve(matrix, gradient), dtype=np.float64)
    return None


def newton_decrement(hessian: Matrix, gradient: Vector) -> float:
    """g' H^-1 g; infinite where H is not positive definite (not a maximum)."""
    try:
        np.linalg.cholesky(hessian)
    except np.linalg.LinAlgError:
        return float("inf")
    return float(gradient @ np.linalg.solve(hessian, gradient))


def check_inference_options(df: str, information: str) -> str:
    """The df method's canonical name (``kr`` is ``kenward-roger``), or a named error."""
    method = {
        "satterthwaite": "satterthwaite",
        "kenward-roger": "kenward-roger",
        "kr": "kenward-roger",
    }.get(df)
    if method is None:
        raise ValidationError(
            f"unknown degrees-of-freedom method {df!r}",
            field="df",
            value=df,
            allowed="satterthwaite, kenward-roger",
        )
    if information not in INFORMATION_TYPES:
        raise ValidationError(
            f"unknown information matrix {information!r}",
            field="information",
            value=information,
            allowed=", ".join(INFORMATION_TYPES),
        )
    return method
