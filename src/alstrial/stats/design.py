"""Design matrices from Wilkinson formulas, with the codings the tests and LS means need.

The formula is parsed by formulaic (``y ~ a + b*c``, ``a:b``, ``0 +`` / ``- 1``); the columns are
built here, so that categorical coding is under our control:

- treatment coding, reference = the first level in sorted order (numeric codes by value)
  unless the caller names another (``references={"SEX": "Male"}``), as R's
  ``contr.treatment`` with sorted levels;
- the same model in sum-to-zero coding, whose coefficients give the Type III hypotheses of
  SAS (a term's sum-coded coefficients are zero);
- LS-means rows (SAS ``LSMEANS``): named factors at a level, other classification factors
  averaged with equal weights over their levels, numeric covariates at their mean.

Formulas must be hierarchical (every lower-order term of an interaction present), so that
each categorical factor is coded by contrasts in every term; a non-hierarchical formula is
refused with the missing term named.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import combinations

import numpy as np
import numpy.typing as npt
import pandas as pd

from alstrial.exceptions import ValidationError

__all__ = [
    "Design",
    "DesignTerm",
    "build_design",
    "formula_variables",
    "level_codes",
    "natural_key",
    "numeric_column",
    "visit_levels",
]

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DesignTerm:
    """One term of the formula: its factors and its columns in the design matrix."""

    name: str
    factors: tuple[str, ...]
    columns: slice


@dataclass(frozen=True)
class Design:
    """A fitted formula's design: matrix, column names, terms and factor levels."""

    formula: str
    response: str
    X: Matrix
    y: npt.NDArray[np.float64]
    column_names: tuple[str, ...]
    terms: tuple[DesignTerm, ...]
    levels: Mapping[str, tuple[str, ...]]
    means: Mapping[str, float]
    intercept: bool
    sum_to_treatment: Matrix = field(repr=False)

    def term(self, name: str) -> DesignTerm:
        """The term called ``name`` (factors joined by ``:``)."""
        for term in self.terms:
            if term.name == name:
                return term
        raise ValidationError(
            f"the model has no term {name!r}",
            field="term",
            value=name,
            allowed=", ".join(t.name for t in self.terms),
        )

    def type3_contrast(self, term: DesignTerm) -> Matrix:
        """Rows L with L beta = 0 the Type III hypothesis of ``term`` (treatment params).

        The sum-to-zero coefficients of the term (alpha_j = mu_j - mean mu) are turned into
        the basis of each level against the reference (mu_j - mu_1 = alpha_j - alpha_1), per
        factor (Kronecker product for interactions). The F statistic does not depend on the
        basis, but the multi-row Satterthwaite df does; this basis reproduces the SAS and R
        mmrm denominators on fev_data (148.1 for AVISIT; level-against-last gives 143.7).
        """
        rows = self.sum_to_treatment[term.columns, :]
        change: npt.NDArray[np.float64] = np.ones((1, 1))
        for factor in term.factors:
            if factor in self.levels:
                basis = _against_reference(len(self.levels[factor]) - 1)
                change = np.asarray(np.kron(change, basis), dtype=np.float64)
        return np.asarray(change @ rows, dtype=np.float64)

    def lsmeans_row(self, at: Mapping[str, str]) -> npt.NDArray[np.float64]:
        """Design row of the LS mean at the given factor levels (module docstring)."""
        for name, level in at.items():
            if name not in self.levels:
                raise ValidationError(
                    f"{name!r} is not a categorical factor of the model",
                    field="lsmeans",
                    value=name,
                    allowed=", ".join(self.levels),
                )
            if level not in self.levels[name]:
                raise ValidationError(
                    f"{level!r} is not a level of {name}",
                    field=name,
                    value=level,
                    allowed=", ".join(self.levels[name]),
                )
        parts = [np.ones(1)] if self.intercept else []
        for term in self.terms:
            block = np.ones(1)
            for factor in term.factors:
                if factor in self.levels:
                    codes = _treatment_codes(self.levels[factor])
                    if factor in at:
                        coding = codes[self.levels[factor].index(at[factor])]
                    else:
                        coding = codes.mean(axis=0)
                else:
                    coding = np.array([self.means[factor]])
                block = np.kron(block, coding)
            parts.append(block)
        return np.concatenate(parts)


def _against_reference(k: int) -> Matrix:
    """Rows mu_j - mu_1 (j = 2..k+1) in terms of sum-to-zero coefficients alpha_1..alpha_k,
    where alpha_{k+1} = -sum alpha_i."""
    rows = np.vstack([np.eye(k)[1:], -np.ones((1, k))]) if k > 0 else np.zeros((0, 0))
    rows[:, 0] -= 1.0
    return rows


def _treatment_codes(levels: Sequence[str]) -> Matrix:
    """Rows: levels; columns: indicators of every level but the first (the reference)."""
    return np.eye(len(levels))[:, 1:]


def _sum_codes(levels: Sequence[str]) -> Matrix:
    """Rows: levels; columns: every level but the last, the last row all -1 (contr.sum)."""
    codes = np.eye(len(levels))[:, :-1]
    codes[-1, :] = -1.0
    return codes


@cache
def _terms(formula: str) -> tuple[str, tuple[tuple[str, ...], ...], bool]:
    from formulaic import Formula  # deferred: parsing only

    try:
        parsed = Formula(formula)
    except Exception as error:  # formulaic raises several exception types
        raise ValidationError(
            f"cannot parse the formula {formula!r}: {error}", field="formula", value=formula
        ) from None
    lhs = [str(term) for term in getattr(parsed, "lhs", [])]
    if len(lhs) != 1:
        raise ValidationError(
            f"the formula {formula!r} needs one response on the left of ~",
            field="formula",
            value=formula,
            allowed="Y ~ terms",
        )
    terms: list[tuple[str, ...]] = []
    intercept = False
    for term in parsed.rhs:
        factors = tuple(str(f.expr) for f in term.factors)
        if factors == ("1",):
            intercept = True
        else:
            terms.append(factors)
    return lhs[0], tuple(terms), intercept


def formula_variables(formula: str) -> tuple[str, ...]:
    """The response and every variable of the formula's terms, response first."""
    response, terms, _ = _terms(formula)
    return (response, *sorted({factor for term in terms for factor in term}))


def _check_hierarchy(terms: Sequence[tuple[str, ...]], formula: str) -> None:
    present = {frozenset(t) for t in terms}
    for term in terms:
        for size in range(1, len(term)):
            for sub in combinations(term, size):
                if frozenset(sub) not in present:
                    raise ValidationError(
                        f"the formula {formula!r} has {':'.join(term)} without "
                        f"{':'.join(sub)}; write it hierarchically (e.g. with *)",
                        field="formula",
                        value=formula,
                    )


def _levels(
    data: pd.DataFrame,
    name: str,
    references: Mapping[str, str],
    orders: Mapping[str, Sequence[str]],
) -> tuple[str, ...]:
    uniques = pd.unique(data[name].to_numpy(dtype=object))
    present = {str(v) for v in uniques}
    if name in orders:
        values = [str(v) for v in orders[name] if str(v) in present]
    elif pd.api.types.is_numeric_dtype(data[name]) and not pd.api.types.is_bool_dtype(data[name]):
        values = [str(v) for v in sorted(uniques, key=float)]  # 8 before 10, not as text
    else:
        values = sorted(present)
    reference = references.get(name)
    if reference is not None:
        if reference not in values:
            raise ValidationError(
                f"reference level {reference!r} is not a level of {name}",
                field=name,
                value=reference,
                allowed=", ".join(values),
            )
        values.remove(reference)
        values.insert(0, reference)
    if len(values) < 2:
        raise ValidationError(
            f"{name} has a single level ({values[0] if values else 'none'}); it cannot be a "
            "factor of the model",
            field=name,
        )
    return tuple(values)


def numeric_column(data: pd.DataFrame, name: str) -> npt.NDArray[np.float64]:
    """Column ``name`` as floats (missing as NaN); text that is no number, and infinities,
    are refused with the column and the first bad value named.

    Raises
    ------
    ValidationError
        For a missing column, a value that is not a number, or an infinite value.
    """
    if name not in data.columns:
        raise ValidationError(
            f"column {name!r} is not in the data",
            field=name,
            allowed=", ".join(map(str, data.columns)),
        )
    column = data[name]
    numbers = pd.to_numeric(column, errors="coerce")
    bad = column[numbers.isna() & column.notna()]
    if len(bad) or pd.api.types.is_bool_dtype(column):
        shown = str(bad.iloc[0]) if len(bad) else str(column.iloc[0])
        raise ValidationError(
            f"column {name!r} must be numeric; it holds {shown!r}", field=name, value=shown
        )
    values = numbers.to_numpy(dtype=np.float64)
    if np.isinf(values).any():
        raise ValidationError(f"column {name!r} has infinite values", field=name, value="inf")
    return values


def natural_key(text: str) -> tuple[tuple[int, float | str], ...]:
    """Sort key that orders the numbers inside labels by value: VIS2 before VIS10."""
    parts = re.split(r"(\d+(?:\.\d+)?)", text)
    return tuple((0, float(part)) if i % 2 else (1, part) for i, part in enumerate(parts) if part)


def visit_levels(values: pd.Series) -> tuple[str, ...]:
    """The visits of a column in time order, as text keys.

    Numeric visits (days, weeks, ages) are ordered by value (8 before 10); text visits by
    their labels with the numbers inside them compared as numbers (VIS2 before VIS10). An
    order that neither rule gives is passed as ``visit_order``.
    """
    present = pd.unique(values.dropna().to_numpy(dtype=object))
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return tuple(str(v) for v in sorted(present, key=float))
    return tuple(sorted({str(v) for v in present}, key=natural_key))


def level_codes(series: pd.Series, levels: Sequence[str]) -> npt.NDArray[np.intp]:
    """Index of each value's level (values compared as text)."""
    uniques, inverse = np.unique(series.to_numpy(dtype=object).astype(str), return_inverse=True)
    lookup = np.array([list(levels).index(u) for u in uniques], dtype=np.intp)
    return np.asarray(lookup[inverse.reshape(-1)], dtype=np.intp)


def _rank_and_r(X: Matrix) -> tuple[int, Matrix, list[int]]:
    """Numerical rank of X and the R of its QR (R'R = X'X, columns in their order).

    Rank from the column-pivoted QR of R with unit-length columns (so a covariate's units do
    not matter), tolerance 1e-7 relative to its largest diagonal, as R's ``lm`` (``qr``,
    tol 1e-7). R is computed on blocks of rows stacked through their R factors, so no copy of
    a tall X is made.
    """
    from scipy import linalg

    n, p = X.shape
    if p == 0:
        return 0, np.zeros((0, 0)), []
    stacked = np.zeros((0, p))
    for start in range(0, n, 65536):
        block = np.vstack([stacked, X[start : start + 65536]])
        stacked = np.asarray(linalg.qr(block, mode="r", check_finite=False)[0][:p], dtype=float)
    norms = np.sqrt(np.sum(stacked**2, axis=0))
    unit = stacked / np.where(norms > 0, norms, 1.0)
    factor, pivot = linalg.qr(unit, mode="r", pivoting=True)
    diagonal = np.abs(np.diag(factor))
    rank = int(np.sum(diagonal > 1e-7 * diagonal.max())) if diagonal.size else 0
    aliased = sorted(int(j) for j in pivot[rank:]) if rank < p else []
    return rank, stacked, aliased


def _is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def build_design(
    formula: str,
    data: pd.DataFrame,
    *,
    references: Mapping[str, str] | None = None,
    categorical: Sequence[str] = (),
    orders: Mapping[str, Sequence[str]] | None = None,
) -> Design:
    """Build the design of ``formula`` on ``data`` (rows with a missing value must be gone).

    Parameters
    ----------
    formula
        ``response ~ terms`` (Wilkinson notation, parsed by formulaic).
    data
        The analysis rows.
    references
        Reference level per categorical factor (default: first in sorted order).
    categorical
        Numeric columns to treat as categorical (text and boolean columns always are).
    orders
        Level order per factor (e.g. the visits in time order); the first is the reference
        unless ``references`` names another. Default: sorted.

    Raises
    ------
    ValidationError
        For an unparsable or non-hierarchical formula, a column that does not exist, a
        single-level factor, an unknown reference level, or a rank-deficient design.
    """
    references = dict(references or {})
    response, terms, intercept = _terms(formula)
    _check_hierarchy(terms, formula)
    names = {response} | {factor for term in terms for factor in term}
    missing = sorted(names - set(data.columns))
    if missing:
        raise ValidationError(
            f"column {missing[0]!r} of the formula is not in the data",
            field="formula",
            value=missing[0],
            allowed=", ".join(map(str, data.columns)),
        )
    factors = sorted({f for term in terms for f in term})
    levels = {
        f: _levels(data, f, references, orders or {})
        for f in factors
        if f in categorical or _is_categorical(data[f])
    }
    unknown = sorted(set(references) - set(levels))
    if unknown:
        raise ValidationError(
            f"a reference level is given for {unknown[0]!r}, which is not a categorical "
            "factor of the model",
            field="reference",
            value=unknown[0],
        )
    means = {f: float(pd.to_numeric(data[f]).mean()) for f in factors if f not in levels}
    n = len(data)
    treatment_blocks: list[Matrix] = [np.ones((n, 1))] if intercept else []
    sum_blocks: list[Matrix] = [np.ones((n, 1))] if intercept else []
    column_names: list[str] = ["(Intercept)"] if intercept else []
    design_terms: list[DesignTerm] = []
    position = len(column_names)
    indices = {f: level_codes(data[f], levels[f]) for f in levels}
    for term in terms:
        t_block = np.ones((n, 1))
        s_block = np.ones((n, 1))
        labels = [""]
        for factor in term:
            if factor in levels:
                t_codes = _treatment_codes(levels[factor])[indices[factor]]
                s_codes = _sum_codes(levels[factor])[indices[factor]]
                factor_labels = [f"{factor}{level}" for level in levels[factor][1:]]
            else:
                values = pd.to_numeric(data[factor]).to_numpy(dtype=float)[:, None]
                t_codes = s_codes = values
                factor_labels = [factor]
            t_block = np.einsum("ni,nj->nij", t_block, t_codes).reshape(n, -1)
            s_block = np.einsum("ni,nj->nij", s_block, s_codes).reshape(n, -1)
            labels = [f"{a}:{b}" if a else b for a in labels for b in factor_labels]
        treatment_blocks.append(t_block)
        sum_blocks.append(s_block)
        column_names += labels
        width = t_block.shape[1]
        design_terms.append(DesignTerm(":".join(term), term, slice(position, position + width)))
        position += width
    X = np.hstack(treatment_blocks) if treatment_blocks else np.zeros((n, 0))
    del treatment_blocks
    # X_sum = X A exactly (same column space): A from the p x p normal equations through the
    # R of a pivoted QR, X'X A = X'X_sum, without materialising X_sum or an n x p copy for
    # an SVD and a least-squares solve (that tripled the memory of a 100,000-subject design).
    cross_sum = np.hstack([X.T @ block for block in sum_blocks]) if sum_blocks else None
    del sum_blocks
    rank, R, aliased = _rank_and_r(X)
    if rank < X.shape[1]:
        empty = [column_names[j] for j in aliased if not np.any(X[:, j])]
        dependent = [column_names[j] for j in aliased if np.any(X[:, j])]
        reasons = []
        if empty:
            reasons.append(
                f"{', '.join(empty)} has no observation (a combination of factor levels with "
                "no data, e.g. an arm never seen at a visit)"
            )
        if dependent:
            reasons.append(
                f"{', '.join(dependent)} is a linear combination of the other columns "
                "(collinear or constant covariates, or a factor that another determines)"
            )
        owners = [t.name for t in design_terms if t.columns.start <= aliased[0] < t.columns.stop]
        raise ValidationError(
            f"the design of {formula!r} is rank deficient ({rank} of {X.shape[1]} columns): "
            + "; ".join(reasons),
            field=owners[0] if owners else "(Intercept)",
            value=formula,
        )
    # so beta_sum = A^-1 beta_treatment.
    gram = R.T @ R
    transform = np.linalg.solve(gram, cross_sum) if cross_sum is not None else np.zeros((0, 0))
    return Design(
        formula=formula,
        response=response,
        X=X,
        y=pd.to_numeric(data[response]).to_numpy(dtype=float),
        column_names=tuple(column_names),
        terms=tuple(design_terms),
        levels=levels,
        means=means,
        intercept=intercept,
        sum_to_treatment=np.linalg.inv(transform),
    )
