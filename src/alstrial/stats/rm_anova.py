"""Repeated-measures ANOVA as SPSS GLM Repeated Measures computes it.

One within-subject factor, zero or more between-subject factors (full factorial), Type III
sums of squares, listwise deletion of subjects with a missing level.

Method (multivariate formulation, e.g. Maxwell & Delaney 2004, ch. 13-14): with ``Y`` the
``N x k`` matrix of responses, ``X`` the between-subjects design in sum-to-zero (effect)
coding and ``B = (X'X)^-1 X'Y``, the residual SSCP is ``E = (Y - XB)'(Y - XB)`` on
``df_e = N - rank(X)`` degrees of freedom. For a between term with hypothesis matrix ``L``,

* between-subjects: ``SS = (L B u)' [L (X'X)^-1 L']^-1 (L B u)`` with ``u = 1/sqrt(k)``;
* within x term: ``SS = tr[(L B C)' [L (X'X)^-1 L']^-1 (L B C)]`` with ``C`` orthonormal
  contrasts (``k x (k-1)``); the within main effect uses the intercept row as ``L``.

Sphericity: ``S = C'EC / df_e`` (``p = k - 1``); Mauchly's ``W = |S| / (tr S / p)^p``,
``chi2 = -(df_e - (2p^2 + p + 2) / (6p)) ln W`` on ``p(p+1)/2 - 1`` df; Greenhouse-Geisser
``eps = (tr S)^2 / (p tr S^2)``; Huynh-Feldt as SPSS and SAS compute it,
``(N p eps - 2) / (p (df_e - p eps))``, and with Lecoutre's (1991) correction as R's car
and afex report, ``((df_e + 1) p eps - 2) / (p (df_e - p eps))``; both capped at 1.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from alstrial.exceptions import ValidationError
from alstrial.stats.design import natural_key, numeric_column
from alstrial.stats.distributions import chi2_sf, f_sf

__all__ = ["AnovaEffect", "ExcludedSubject", "Mauchly", "RmAnovaResult", "rm_anova"]


@dataclass(frozen=True)
class ExcludedSubject:
    """A subject left out by listwise deletion, and why."""

    subject: str
    reason: str


@dataclass(frozen=True)
class Mauchly:
    """Mauchly's test of sphericity (``None`` values when the within factor has 2 levels)."""

    W: float
    chi2: float
    df: int
    p: float | None


@dataclass(frozen=True)
class AnovaEffect:
    """One row of the tests of within- or between-subjects effects."""

    effect: str
    kind: str
    ss: float
    df_num: float
    df_den: float
    ms: float
    F: float
    p: float
    error_ss: float
    eps_gg: float | None = None
    p_gg: float | None = None
    eps_hf: float | None = None
    p_hf: float | None = None
    eps_hf_lecoutre: float | None = None
    p_hf_lecoutre: float | None = None
    p_lower_bound: float | None = None


@dataclass(frozen=True)
class RmAnovaResult:
    """Result of :func:`rm_anova`."""

    dv: str
    within: str
    between: tuple[str, ...]
    levels: tuple[str, ...]
    n_subjects: int
    excluded_subjects: tuple[ExcludedSubject, ...]
    mauchly: Mauchly
    effects: tuple[AnovaEffect, ...]
    cell_means: pd.DataFrame

    def effect(self, name: str) -> AnovaEffect:
        """The effect called ``name`` (``within``, ``between`` or ``between:within``)."""
        for effect in self.effects:
            if effect.effect == name:
                return effect
        raise KeyError(name)

    def effects_frame(self) -> pd.DataFrame:
        """The effects as a tidy frame, one row per effect, full precision."""
        return pd.DataFrame([asdict(e) for e in self.effects])


def _effect_coding(values: pd.Series, levels: Sequence[object]) -> np.ndarray:
    """Sum-to-zero columns: level j -> unit vector j, last level -> all -1."""
    columns = np.zeros((len(values), len(levels) - 1))
    for j, level in enumerate(levels[:-1]):
        columns[:, j] = (values == level).to_numpy(dtype=float)
    columns[(values == levels[-1]).to_numpy()] = -1.0
    return columns


def _design(frame: pd.DataFrame, between: Sequence[str]) -> tuple[np.ndarray, dict[str, slice]]:
    blocks = {name: _effect_coding(frame[name], sorted(frame[name].unique())) for name in between}
    parts = [np.ones((len(frame), 1))]
    terms: dict[str, slice] = {}
    start = 1
    for order in range(1, len(between) + 1):
        for combo in itertools.combinations(between, order):
            block = blocks[combo[0]]
            for name in combo[1:]:
                block = np.einsum("ni,nj->nij", block, blocks[name]).reshape(len(frame), -1)
            parts.append(block)
            terms[":".join(combo)] = slice(start, start + block.shape[1])
            start += block.shape[1]
    return np.hstack(parts), terms


def _orthonormal_contrasts(k: int) -> np.ndarray:
    """``k x (k-1)`` orthonormal columns orthogonal to the unit vector (from a QR of Helmert)."""
    basis = np.hstack([np.ones((k, 1)), np.eye(k)[:, : k - 1]])
    q, _ = np.linalg.qr(basis)
    return q[:, 1:k]


def _hypothesis_ss(
    B: np.ndarray, XtX_inv: np.ndarray, rows: slice | list[int], M: np.ndarray
) -> float:
    L = np.eye(B.shape[0])[rows]
    LB = L @ B @ M
    middle = np.linalg.inv(L @ XtX_inv @ L.T)
    return float(np.trace(LB.T @ middle @ LB))


def _level_key(values: pd.Series) -> Callable[[Any], Any]:
    """Numeric levels by value, text levels by label with embedded numbers as numbers."""
    if pd.api.types.is_numeric_dtype(values):
        return float
    return lambda level: natural_key(str(level))


def rm_anova(
    data: pd.DataFrame,
    *,
    dv: str,
    subject: str,
    within: str,
    between: Sequence[str] = (),
    within_order: Sequence[object] | None = None,
) -> RmAnovaResult:
    """Repeated-measures ANOVA with SPSS's Type III sums of squares and sphericity tests.

    Parameters
    ----------
    data
        Long format: one row per subject x within level.
    dv, subject, within
        Column names of the response, the subject id and the within-subject factor.
    between
        Columns of between-subject factors (constant within a subject).
    within_order
        Order of the within levels (default: numeric levels by value, text levels by label
        with the numbers inside compared as numbers: VIS2 before VIS10).

    Returns
    -------
    RmAnovaResult
        Effects named by column (``within``, ``between``, ``between:within``), Mauchly's test,
        the epsilons with corrected p values, the excluded subjects, and cell means with SE.

    Examples
    --------
    >>> # In SPSS: GLM y1 y2 y3 BY arm /WSFACTOR=time 3 /METHOD=SSTYPE(3).
    >>> # In R:    afex::aov_ez("id", "y", data, within = "time", between = "arm")
    """
    for column in (dv, subject, within, *between):
        if column not in data.columns:
            raise ValidationError(
                f"column {column!r} is not in the data",
                field=column,
                allowed=", ".join(map(str, data.columns)),
            )
    data = data.assign(**{dv: numeric_column(data, dv)})  # text and inf refused by name
    levels = (
        list(within_order)
        if within_order is not None
        else sorted(data[within].dropna().unique(), key=_level_key(data[within]))
    )
    if len(levels) < 2:
        raise ValidationError("the within factor needs at least 2 levels", field=within)
    duplicated = data.duplicated([subject, within])
    if duplicated.any():
        row = data[duplicated].iloc[0]
        raise ValidationError(
            f"subject {row[subject]!r} has more than one value at {within} = {row[within]!r}",
            subject=str(row[subject]),
            field=within,
            value=row[within],
        )
    wide = data.pivot(index=subject, columns=within, values=dv).reindex(columns=levels)
    factors = data.groupby(subject)[list(between)].nunique() if between else None
    if factors is not None and (factors > 1).any().any():
        bad = factors[(factors > 1).any(axis=1)].index[0]
        raise ValidationError(
            f"subject {bad!r} changes a between-subjects factor",
            subject=str(bad),
            field=", ".join(between),
        )
    missing_mask = wide.isna()
    excluded = [
        ExcludedSubject(
            str(subject_id),
            f"missing {dv} at {', '.join(str(level) for level in wide.columns[row])}",
        )
        for subject_id, row in zip(
            wide.index[missing_mask.any(axis=1)],
            missing_mask.to_numpy()[missing_mask.any(axis=1).to_numpy()],
            strict=True,
        )
    ]
    complete = wide.dropna()
    between_frame = (
        data.groupby(subject)[list(between)].first().loc[complete.index]
        if between
        else pd.DataFrame(index=complete.index)
    )
    for factor in between:
        kept = between_frame[factor].nunique()
        if kept < 2:
            raise ValidationError(
                f"the between-subjects factor {factor!r} has {kept} level"
                + ("s" if kept != 1 else "")
                + " among the "
                f"{len(complete)} complete subjects (after leaving out {len(excluded)} with a "
                "missing value); it cannot be tested",
                field=factor,
            )
    Y = complete.to_numpy(dtype=float)
    N, k = Y.shape
    X, terms = _design(between_frame, between)
    rank = np.linalg.matrix_rank(X)
    if rank < X.shape[1]:
        raise ValidationError(
            "an empty cell of the between-subjects design: every combination "
            "of between levels needs complete subjects",
            field=", ".join(between),
        )
    df_e = int(N - rank)
    if df_e < 1:
        raise ValidationError(
            f"{N} complete subjects leave no error degrees of freedom", field=subject, value=N
        )
    XtX_inv = np.linalg.inv(X.T @ X)
    B = XtX_inv @ X.T @ Y
    R = Y - X @ B
    E = R.T @ R
    u = np.ones((k, 1)) / np.sqrt(k)
    C = _orthonormal_contrasts(k)
    p = k - 1
    # Round-off leaves about (1e-16 |Y|)^2 per cell: 1e-24 of the raw sum of squares is zero.
    spread = float(np.sum(Y**2))
    for stratum, error_ss in (
        ("between-subjects", float((u.T @ E @ u).item())),
        ("within-subjects", float(np.trace(C.T @ E @ C))),
    ):
        if not error_ss > 1e-24 * spread:
            raise ValidationError(
                f"{dv!r} has no {stratum} residual variation (a constant response, or one "
                "the design fits exactly): the F tests are undefined",
                field=dv,
            )

    effects: list[AnovaEffect] = []
    error_between = float((u.T @ E @ u).item())
    for name, columns in terms.items():
        ss = _hypothesis_ss(B, XtX_inv, columns, u)
        q = columns.stop - columns.start
        F = (ss / q) / (error_between / df_e)
        effects.append(
            AnovaEffect(name, "between", ss, q, df_e, ss / q, F, f_sf(F, q, df_e), error_between)
        )

    S = C.T @ E @ C / df_e
    trace = float(np.trace(S))
    eps_gg = trace**2 / (p * float(np.trace(S @ S)))
    eps_hf = min(1.0, (N * p * eps_gg - 2) / (p * (df_e - p * eps_gg)))
    eps_lecoutre = min(1.0, ((df_e + 1) * p * eps_gg - 2) / (p * (df_e - p * eps_gg)))
    if p > 1:
        W = max(float(np.linalg.det(S) / (trace / p) ** p), np.finfo(float).tiny)
        chi2 = -(df_e - (2 * p**2 + p + 2) / (6 * p)) * np.log(W)
        df_m = p * (p + 1) // 2 - 1
        mauchly = Mauchly(W, float(chi2), df_m, chi2_sf(chi2, df_m))
    else:
        mauchly = Mauchly(1.0, 0.0, 0, None)
    error_within = float(np.trace(C.T @ E @ C))
    within_terms = [(within, [0])] + [
        (f"{name}:{within}", list(range(columns.start, columns.stop)))
        for name, columns in terms.items()
    ]
    for name, rows in within_terms:
        ss = _hypothesis_ss(B, XtX_inv, rows, C)
        df_num = p * len(rows)
        df_den = p * df_e
        F = (ss / df_num) / (error_within / df_den)

        def corrected(
            eps: float, F: float = F, df_num: float = df_num, df_den: float = df_den
        ) -> float:
            return f_sf(F, df_num * eps, df_den * eps)

        effects.insert(
            len([e for e in effects if e.kind == "within"]),
            AnovaEffect(
                name,
                "within",
                ss,
                df_num,
                df_den,
                ss / df_num,
                F,
                f_sf(F, df_num, df_den),
                error_within,
                eps_gg=eps_gg,
                p_gg=corrected(eps_gg),
                eps_hf=eps_hf,
                p_hf=corrected(eps_hf),
                eps_hf_lecoutre=eps_lecoutre,
                p_hf_lecoutre=corrected(eps_lecoutre),
                p_lower_bound=corrected(1 / p),
            ),
        )

    cells = complete.join(between_frame) if between else complete.copy()
    group_keys = list(between) if between else None
    mse = np.diag(E) / df_e
    mean_rows: list[dict[str, object]] = []
    groups = cells.groupby(group_keys) if group_keys else [((), cells)]
    for key, group in groups:
        key_tuple = key if isinstance(key, tuple) else (key,)
        for j, level in enumerate(levels):
            mean_rows.append(
                {
                    **dict(zip(between, key_tuple, strict=False)),
                    within: level,
                    "n": len(group),
                    "mean": float(group[level].mean()),
                    "se": float(np.sqrt(mse[j] / len(group))),
                }
            )
    return RmAnovaResult(
        dv=dv,
        within=within,
        between=tuple(between),
        levels=tuple(str(level) for level in levels),
        n_subjects=N,
        excluded_subjects=tuple(excluded),
        mauchly=mauchly,
        effects=tuple(effects),
        cell_means=pd.DataFrame(mean_rows),
    )
