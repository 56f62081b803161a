"""Repeated-measures ANOVA against SPSS output and against its own algebra."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alstrial.exceptions import ValidationError
from alstrial.stats import describe_by, rm_anova

# UCLA statistical consulting's SPSS repeated-measures example, as quoted in
# shared/stats-reference/README.md: 5 subjects x 3 conditions.
UCLA = [[100, 90, 130], [90, 100, 100], [110, 110, 109], [100, 90, 109], [100, 100, 130]]


def long(rows: list[list[float]], groups: list[str] | None = None) -> pd.DataFrame:
    records = []
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            record = {"id": f"s{i}", "cond": f"c{j}", "y": value}
            if groups is not None:
                record["group"] = groups[i]
            records.append(record)
    return pd.DataFrame(records)


def test_ucla_spss_example() -> None:
    """SPSS: SS 928.533, error 786.133, F(2, 8) = 4.725, p = .044; GG 0.63432, p = .077;
    HF 0.79507, p = .060; lower bound p = .095. Tolerance: SPSS's printed precision."""
    effect = rm_anova(long(UCLA), dv="y", subject="id", within="cond").effect("cond")
    assert effect.ss == pytest.approx(928.533, abs=5e-4)
    assert effect.error_ss == pytest.approx(786.133, abs=5e-4)
    assert (effect.df_num, effect.df_den) == (2, 8)
    assert pytest.approx(4.725, abs=5e-4) == effect.F
    assert effect.p == pytest.approx(0.044, abs=5e-4)
    assert effect.eps_gg == pytest.approx(0.63432, abs=5e-6)
    assert effect.p_gg == pytest.approx(0.077, abs=5e-4)
    assert effect.eps_hf == pytest.approx(0.79507, abs=5e-6)
    assert effect.p_hf == pytest.approx(0.060, abs=5e-4)
    assert effect.p_lower_bound == pytest.approx(0.095, abs=5e-4)
    # With one group the SPSS and Lecoutre Huynh-Feldt formulas agree (stats-reference note).
    assert effect.eps_hf_lecoutre == pytest.approx(effect.eps_hf)


def test_two_groups_balanced_equals_classical_split_plot() -> None:
    """Balanced mixed design: Type III equals the textbook split-plot sums of squares."""
    rng = np.random.default_rng(7)
    rows = (rng.normal(50, 5, (8, 4)) + np.arange(4) * 2).round(1).tolist()
    groups = ["A"] * 4 + ["B"] * 4
    result = rm_anova(long(rows, groups), dv="y", subject="id", within="cond", between=["group"])
    y = np.array(rows)
    grand = y.mean()
    ss_time = 8 * ((y.mean(axis=0) - grand) ** 2).sum()
    cell = np.array([y[:4].mean(axis=0), y[4:].mean(axis=0)])
    ss_cells = 4 * ((cell - grand) ** 2).sum()
    ss_group = 4 * 4 * ((np.array([y[:4].mean(), y[4:].mean()]) - grand) ** 2).sum()
    assert result.effect("cond").ss == pytest.approx(ss_time, rel=1e-10)
    assert result.effect("group").ss == pytest.approx(ss_group, rel=1e-10)
    assert result.effect("group:cond").ss == pytest.approx(ss_cells - ss_time - ss_group, rel=1e-10)
    # Huynh-Feldt by both formulas of stats-reference/README.md (N = 8, df_e = 6, p = 3):
    # with two groups they differ, SPSS's (N in the numerator) being the larger.
    effect = result.effect("cond")
    assert effect.eps_gg is not None
    e, n, df_e, p = effect.eps_gg, 8, 6, 3
    assert effect.eps_hf == pytest.approx(min(1.0, (n * p * e - 2) / (p * (df_e - p * e))))
    lecoutre = min(1.0, ((df_e + 1) * p * e - 2) / (p * (df_e - p * e)))
    assert effect.eps_hf_lecoutre == pytest.approx(lecoutre)
    assert lecoutre < (n * p * e - 2) / (p * (df_e - p * e))


def test_listwise_deletion_reports_who_and_why() -> None:
    data = long([*UCLA, [100, 95, 120]])
    data = data[~((data["id"] == "s5") & (data["cond"] == "c2"))]
    result = rm_anova(data, dv="y", subject="id", within="cond")
    assert result.n_subjects == 5
    assert [(e.subject, e.reason) for e in result.excluded_subjects] == [("s5", "missing y at c2")]
    assert pytest.approx(4.725, abs=5e-4) == result.effect("cond").F


def test_bad_input_is_named() -> None:
    with pytest.raises(ValidationError, match="'score' is not in the data"):
        rm_anova(long(UCLA), dv="score", subject="id", within="cond")
    duplicated = pd.concat([long(UCLA), long(UCLA).iloc[:1]])
    with pytest.raises(ValidationError, match="more than one value"):
        rm_anova(duplicated, dv="y", subject="id", within="cond")
    changing = long(UCLA, ["A", "A", "B", "B", "B"])
    changing.loc[0, "group"] = "B"
    with pytest.raises(ValidationError, match="changes a between-subjects factor"):
        rm_anova(changing, dv="y", subject="id", within="cond", between=["group"])


def test_describe_by() -> None:
    data = long(UCLA)
    summary = describe_by(data, value="y", by=["cond"]).set_index("cond")
    c3 = np.array([130, 100, 109, 109, 130], dtype=float)
    assert summary.loc["c2", "mean"] == pytest.approx(c3.mean())
    assert summary.loc["c2", "se"] == pytest.approx(c3.std(ddof=1) / np.sqrt(5))
    assert summary.loc["c2", "ci_high"] - summary.loc["c2", "mean"] == pytest.approx(
        2.7764451 * c3.std(ddof=1) / np.sqrt(5), rel=1e-6
    )  # t(0.975, 4) = 2.7764451 (R: qt(0.975, 4))
