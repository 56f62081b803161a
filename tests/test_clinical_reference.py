"""Every test vector of ``../shared/clinical-reference/README.md``, read from the file itself.

The instrument tests carry copies of these vectors so that they run without ``../shared``;
this module parses the shared file, so that a vector added or changed there is checked too,
and a copy that drifted from its source fails. Tolerances: half a unit of the last digit the
reference publishes.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from alstrial.scoring import (
    EncalsInputs,
    delta_fs,
    encals_predict,
    fvc_percent_predicted,
    kings_stage,
    mitos_stage,
    score_alsfrs_r,
)


def _readme(shared: Path) -> str:
    return (shared / "clinical-reference" / "README.md").read_text(encoding="utf-8")


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    following = text.find("\n## ", start + 1)
    return text[start : following if following >= 0 else len(text)]


def _table_rows(section: str) -> list[list[str]]:
    rows = []
    for line in section.splitlines():
        if line.startswith("|") and not re.match(r"^\|[-| ]+\|$", line):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows[1:]  # drop the header


def _half_unit(text: str) -> float:
    decimals = len(text.split(".")[1]) if "." in text else 0
    return 0.5 * 10.0**-decimals + 1e-12


def test_alsfrs_r_vectors(shared: Path) -> None:
    rows = _table_rows(_section(_readme(shared), "## ALSFRS-R test vectors"))
    assert len(rows) >= 6
    for items_text, sums, kings, mitos in rows:
        tokens = ["4"] * 12 if items_text.startswith("all 4") else items_text.split(",")
        items: dict[str, int | None] = {}
        for number, token in enumerate(tokens, start=1):
            key = f"item_{number}"
            if number == 5:
                key = "item_5b" if token.endswith("b") else "item_5a"
            items[key] = int(token.rstrip("b"))
        score = score_alsfrs_r(items)
        expected = [int(part) for part in sums.split("/")]
        domains = [score.bulbar, score.fine_motor, score.gross_motor, score.respiratory]
        assert [score.total, *domains] == expected, items_text
        assert kings_stage(score).label == kings, items_text
        assert mitos_stage(score).stage == int(mitos), items_text


_CASE = re.compile(r"(male|female), ([\d.]+) y, ([\d.]+) cm(?:, (.+))?")
_MEASURED = re.compile(r"([\d.]+) L -> ([\d.]+) %(?:, z (-?[\d.]+))?")
_GROUPS = {
    "Caucasian": "caucasian",
    "African-American": "african-american",
    "North-East Asian": "north-east-asian",
    "South-East Asian": "south-east-asian",
}


@pytest.mark.parametrize(
    ("heading", "equation"),
    [("| case | GLI-2012", "gli2012"), ("| case | GLI Global 2022", "gli-global")],
)
def test_gli_vectors(shared: Path, heading: str, equation: str) -> None:
    text = _readme(shared)
    start = text.index(heading)
    block = text[start : text.find("\n\n", start)]
    rows = _table_rows(block)
    assert rows
    for case, predicted, lln, measured in rows:
        match = _CASE.fullmatch(case)
        assert match, case
        sex, age, height, group = match.groups()
        predicted_value = predicted.split()[0]
        got = fvc_percent_predicted(
            3.0,
            sex=sex,
            age_years=float(age),
            height_cm=float(height),
            equation=equation,
            ethnicity=_GROUPS[group] if group else None,
        )
        assert got.predicted_l == pytest.approx(
            float(predicted_value), abs=_half_unit(predicted_value)
        ), case
        if lln:
            assert got.lln_l == pytest.approx(float(lln), abs=_half_unit(lln)), case
        if measured:
            found = _MEASURED.fullmatch(measured)
            assert found, measured
            litres, percent, z = found.groups()
            with_fvc = fvc_percent_predicted(
                float(litres),
                sex=sex,
                age_years=float(age),
                height_cm=float(height),
                equation=equation,
                ethnicity=_GROUPS[group] if group else None,
            )
            assert with_fvc.percent_predicted == pytest.approx(
                float(percent), abs=_half_unit(percent)
            ), case
            if z:
                assert with_fvc.z == pytest.approx(float(z), abs=_half_unit(z)), case


def test_delta_fs_vector(shared: Path) -> None:
    text = _readme(shared)
    found = re.search(
        r"Delta-FS: total (\d+), onset (\S+), visit (\S+) -> ([\d.]+) months -> ([\d.]+) "
        r"points/month",
        text,
    )
    assert found
    total, onset, visit, months, rate = found.groups()
    start, end = date.fromisoformat(onset.rstrip(",")), date.fromisoformat(visit)
    assert (end - start).days / 30.4375 == pytest.approx(float(months), abs=_half_unit(months))
    assert delta_fs(int(total), start, end) == pytest.approx(float(rate), abs=_half_unit(rate))


def test_encals_example(shared: Path) -> None:
    text = _readme(shared)
    found = re.search(
        r"age at onset (\d+), dFS ([\d.]+), delay (\d+) months, FVC (\d+) %, all binary\s+0 -> "
        r"LP (-?[\d.]+),\s+median survival ([\d.]+) months",
        text,
    )
    assert found
    age, dfs, delay, fvc, lp, median = found.groups()
    prediction = encals_predict(EncalsInputs(float(age), float(dfs), float(delay), float(fvc)))
    assert prediction.linear_predictor == pytest.approx(float(lp), abs=_half_unit(lp))
    assert prediction.median_months == pytest.approx(float(median), abs=_half_unit(median))
