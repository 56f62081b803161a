"""What every fitted linear mixed model offers: coefficients with their df, contrasts, Type III
F tests and LS means, with Satterthwaite or Kenward-Roger degrees of freedom.

The MMRM (:mod:`~alstrial.stats.mmrm`) and the random-effects model
(:mod:`~alstrial.stats.lmm`) differ in their covariance, not in their inference about the
fixed effects: both hand over beta-hat, its covariance Phi, P_k = dPhi^-1/dphi_k and the
asymptotic covariance W of the covariance parameters (:mod:`~alstrial.stats.inference`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from alstrial.exceptions import ValidationError
from alstrial.stats.design import Design
from alstrial.stats.inference import (
    ContrastResult,
    FTestResult,
    KenwardRoger,
    contrast_satterthwaite,
    ftest_satterthwaite,
)

__all__ = ["Coefficient", "FixedEffectsInference", "Type3Row"]

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]


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


class FixedEffectsInference:
    """Inference on the fixed effects of a fitted model (mixed into its result class)."""

    design: Design
    reml: bool
    beta: Vector
    beta_cov: Matrix
    phi: Vector
    phi_cov: Matrix
    neg2_loglik: float
    _P: npt.NDArray[np.float64]
    _kr: KenwardRoger | None

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
        for name in by:
            if name not in self.design.levels:
                raise ValidationError(
                    f"LS means need categorical factors of the model; {name!r} is not one",
                    field="lsmeans",
                    value=name,
                    allowed=", ".join(self.design.levels) or "none",
                )
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
