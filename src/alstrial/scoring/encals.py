"""ENCALS survival prediction (Westeneng et al. 2018, Lancet Neurol 17:423-33).

A Royston-Parmar proportional-odds model of survival (death or tracheostomy/non-invasive
ventilation > 23 h a day) from diagnosis, with the linear predictor

.. math::

    LP = -1.837 (\\Delta FS + 0.1)^{-1/2} - 2.373 [(d/10)^{-1/2} + \\ln(d/10)]
         - 0.267 (age_{onset}/100)^{-2} + 0.477 [(F/100)^{-1} + (F/100)^{-1/2}]
         + 0.269\\,bulbar + 0.233\\,definite + 0.388\\,FTD + 0.256\\,C9orf72

(d the diagnostic delay in months, F the FVC % predicted, dFS the delta-FS at diagnosis) and

.. math::

    S(t) = 1 / (1 + \\exp(s(\\ln t) + LP)),\\quad
    s(x) = -6.409 + 2.643 x - 0.546 v_1 + 0.585 v_2,

a restricted cubic spline with knots k_min = 0.081, k_1 = 3.108, k_2 = 3.638, k_max = 5.917,
v_j = (x - k_j)^3_+ - l_j (x - k_min)^3_+ - (1 - l_j)(x - k_max)^3_+,
l_j = (k_max - k_j)/(k_max - k_min), t in months from diagnosis.

The coefficients are taken from public code that implements the model, not from the paper's
text, and are labelled so in every output: the curve is a natural-history yardstick, not a
clinical prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alstrial.exceptions import ValidationError

__all__ = [
    "ENCALS_SOURCE",
    "TAIL_END_MONTHS",
    "TAIL_START_MONTHS",
    "EncalsInputs",
    "EncalsPrediction",
    "encals_predict",
]

ENCALS_SOURCE = (
    "ENCALS model (Westeneng et al. 2018); coefficients from public code, not verified "
    "against the paper"
)

_KNOTS = (0.081, 3.108, 3.638, 5.917)
#: Months from diagnosis at the spline's last interior knot and its last boundary knot (the
#: boundary knots of a Royston-Parmar spline sit at the extreme log event times of its data).
TAIL_START_MONTHS = float(np.exp(_KNOTS[2]))
TAIL_END_MONTHS = float(np.exp(_KNOTS[3]))
_GAMMA = (-6.409, 2.643, -0.546, 0.585)


@dataclass(frozen=True)
class EncalsInputs:
    """Predictors at diagnosis."""

    age_at_onset: float
    delta_fs: float
    diagnostic_delay_months: float
    fvc_percent_predicted: float
    bulbar_onset: bool = False
    definite_el_escorial: bool = False
    ftd: bool = False
    c9orf72: bool = False


@dataclass(frozen=True)
class EncalsPrediction:
    """Linear predictor, median survival and the curve at the requested times (months)."""

    linear_predictor: float
    median_months: float
    months: tuple[float, ...]
    survival: tuple[float, ...]
    source: str = ENCALS_SOURCE

    @property
    def support(self) -> str:
        """Where the median lies against the model's data: ``"data"`` up to the last
        interior knot of the spline (exp(3.638) = 38 months), ``"tail"`` between it and the
        last boundary knot (exp(5.917) = 371 months, the longest survival the spline was
        fitted to: few events), ``"extrapolated"`` beyond it (the spline's straight-line
        continuation: no data at all)."""
        if self.median_months > TAIL_END_MONTHS:
            return "extrapolated"
        if self.median_months > TAIL_START_MONTHS:
            return "tail"
        return "data"


def _check(inputs: EncalsInputs) -> None:
    rules = [
        ("age_at_onset", inputs.age_at_onset, 10 <= inputs.age_at_onset <= 100, "10-100 years"),
        ("delta_fs", inputs.delta_fs, 0 <= inputs.delta_fs <= 48, "0-48 points per month"),
        (
            "diagnostic_delay_months",
            inputs.diagnostic_delay_months,
            0 < inputs.diagnostic_delay_months <= 240,
            "0-240 months",
        ),
        (
            "fvc_percent_predicted",
            inputs.fvc_percent_predicted,
            0 < inputs.fvc_percent_predicted <= 200,
            "0-200 %",
        ),
    ]
    for name, value, ok, allowed in rules:
        if not ok:
            raise ValidationError(
                f"ENCALS predictor {name} = {value} is outside {allowed}",
                form="encals",
                field=name,
                value=value,
                allowed=allowed,
            )


def _linear_predictor(inputs: EncalsInputs) -> float:
    d = inputs.diagnostic_delay_months / 10
    f = inputs.fvc_percent_predicted / 100
    return float(
        -1.837 * (inputs.delta_fs + 0.1) ** -0.5
        - 2.373 * (d**-0.5 + np.log(d))
        - 0.267 * (inputs.age_at_onset / 100) ** -2
        + 0.477 * (1 / f + f**-0.5)
        + 0.269 * inputs.bulbar_onset
        + 0.233 * inputs.definite_el_escorial
        + 0.388 * inputs.ftd
        + 0.256 * inputs.c9orf72
    )


def _spline(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    k_min, k1, k2, k_max = _KNOTS

    def cube(v: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.clip(v, 0.0, None) ** 3

    def basis(k: float) -> npt.NDArray[np.float64]:
        lam = (k_max - k) / (k_max - k_min)
        return cube(x - k) - lam * cube(x - k_min) - (1 - lam) * cube(x - k_max)

    g0, g1, g2, g3 = _GAMMA
    return g0 + g1 * x + g2 * basis(k1) + g3 * basis(k2)


def encals_predict(
    inputs: EncalsInputs, months: npt.ArrayLike = (12, 24, 36, 48, 60)
) -> EncalsPrediction:
    """Predicted survival from diagnosis under the ENCALS model (module docstring).

    Parameters
    ----------
    inputs
        Predictors at diagnosis.
    months
        Times (months from diagnosis, > 0) at which to evaluate S(t).

    Returns
    -------
    EncalsPrediction
        LP, median survival (S(t) = 0.5, found by root finding on ln t) and S at ``months``.

    Raises
    ------
    ValidationError
        For a predictor outside its plausible range, or a non-positive time.
    """
    _check(inputs)
    times = np.atleast_1d(np.asarray(months, dtype=np.float64))
    if np.any(times <= 0):
        raise ValidationError("survival times must be positive months", field="months")
    lp = _linear_predictor(inputs)
    survival = 1.0 / (1.0 + np.exp(_spline(np.log(times)) + lp))

    def at_half(x: float) -> float:
        return float(_spline(np.array([x]))[0]) + lp

    from scipy import optimize  # deferred: scipy.optimize costs 0.2 s to import

    log_median = optimize.brentq(at_half, -10.0, 10.0)
    return EncalsPrediction(
        linear_predictor=lp,
        median_months=float(np.exp(log_median)),
        months=tuple(float(t) for t in times),
        survival=tuple(float(s) for s in survival),
    )
