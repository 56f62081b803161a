"""Repeated-measures ANOVA with a between factor and an incomplete subject, against afex.

Expected values: ``tests/reference/rm_anova_afex.csv`` from ``tests/reference/rm_anova_afex.R``
(afex 1.2-1, Type III) on ``rm_anova_data.csv`` (17 subjects in two unequal arms, one missing
its month-12 value). afex's Huynh-Feldt epsilon is Lecoutre's correction, which alstrial reports
as ``eps_hf_lecoutre``; with two groups it differs from SPSS's ``eps_hf``. Mauchly's p differs by
method: SPSS (and alstrial) use the chi-square approximation, R adds Anderson's second-order
term (0.0795 here against R's 0.0820), so only W is compared. Tolerance 1e-9 relative.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from alstrial.stats import rm_anova

REFERENCE = Path(__file__).parent / "reference"


def test_against_afex() -> None:
    with (REFERENCE / "rm_anova_afex.csv").open(encoding="utf-8") as handle:
        values = {row["quantity"]: float(row["value"]) for row in csv.DictReader(handle)}
    data = pd.read_csv(REFERENCE / "rm_anova_data.csv")
    result = rm_anova(
        data,
        dv="y",
        subject="id",
        within="visit",
        between=["arm"],
        within_order=["W-1", "M2", "M4", "M6", "M12"],
    )
    assert result.n_subjects == 16
    assert [e.subject for e in result.excluded_subjects] == ["S17"]
    assert pytest.approx(values["mauchly:W"], rel=1e-9) == result.mauchly.W
    for effect in result.effects:
        name = effect.effect
        assert effect.ss == pytest.approx(values[f"ss:{name}"], rel=1e-9), name
        assert effect.error_ss == pytest.approx(values[f"error_ss:{name}"], rel=1e-9), name
        assert pytest.approx(values[f"F:{name}"], rel=1e-9) == effect.F, name
        assert effect.p == pytest.approx(values[f"p:{name}"], rel=1e-6), name
        if effect.kind == "within":
            assert effect.eps_gg == pytest.approx(values[f"eps_gg:{name}"], rel=1e-9)
            assert effect.p_gg == pytest.approx(values[f"p_gg:{name}"], rel=1e-6)
            assert effect.eps_hf_lecoutre == pytest.approx(
                values[f"eps_hf_lecoutre:{name}"], rel=1e-9
            )
            assert effect.p_hf_lecoutre == pytest.approx(values[f"p_hf_lecoutre:{name}"], rel=1e-6)
            assert effect.eps_hf is not None
            assert effect.eps_hf > effect.eps_hf_lecoutre
