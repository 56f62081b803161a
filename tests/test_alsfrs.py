"""ALSFRS-R and ALSFRS scoring, King's and MiToS stages, against the shared reference's vectors.

Source of every vector: ``clinical-reference/README.md``, "ALSFRS-R test vectors" (copied here
so that the suite runs without ``../shared``); exact integers, no tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alstrial.exceptions import ValidationError
from alstrial.scoring import (
    AlsfrsScale,
    kings_stage,
    kings_stage_array,
    mitos_stage,
    mitos_stage_array,
    score_alsfrs,
    score_alsfrs_array,
    score_alsfrs_r,
)


def items(values: str) -> dict[str, int | None]:
    """Items in the reference's notation: comma-separated scores, item 5 as '3' or '3b'."""
    result: dict[str, int | None] = {}
    for index, part in enumerate(values.split(","), start=1):
        if index == 5:
            result["item_5b" if part.endswith("b") else "item_5a"] = int(part.rstrip("b"))
        else:
            result[f"item_{index}"] = None if part == "-" else int(part)
    return result


# total / bulbar / fine / gross / resp, King's, MiToS.
VECTORS = [
    ("4,4,4,4,4,4,4,4,4,4,4,4", (48, 12, 12, 12, 12), "0", 0),
    ("3,4,4,3,4,3,4,4,3,4,4,4", (44, 11, 10, 11, 12), "2", 0),
    ("2,3,2,2,2,2,2,2,1,3,3,4", (28, 7, 6, 5, 10), "3", 0),
    ("1,2,1,3,3b,3,3,3,2,3,4,4", (32, 4, 9, 8, 11), "4A", 1),
    ("4,4,4,2,2,1,1,1,0,2,2,2", (25, 12, 5, 2, 6), "4B", 2),
    ("0,1,0,0,0b,0,0,0,0,1,1,1", (4, 1, 0, 0, 3), "4A + 4B", 4),
]


@pytest.mark.parametrize(("values", "expected", "kings", "mitos"), VECTORS)
def test_reference_vectors(values: str, expected: tuple[int, ...], kings: str, mitos: int) -> None:
    score = score_alsfrs_r(items(values))
    domains = (score.bulbar, score.fine_motor, score.gross_motor, score.respiratory)
    assert (score.total, *domains) == expected
    assert score.gastrostomy == ("b" in values)
    assert score.scale is AlsfrsScale.ALSFRS_R
    assert kings_stage(score).label == kings
    assert mitos_stage(score).stage == mitos


def test_reference_vectors_vectorised() -> None:
    matrix = np.array(
        [[int(p.rstrip("b")) for p in v.split(",")] for v, *_ in VECTORS], dtype=float
    )
    is_5b = np.array(["b" in v for v, *_ in VECTORS])
    scores = score_alsfrs_array(matrix)
    assert scores.total.tolist() == [e[0] for _, e, _, _ in VECTORS]
    assert scores.gross_motor.tolist() == [e[3] for _, e, _, _ in VECTORS]
    stage, flag_4a, flag_4b = kings_stage_array(matrix, is_5b)
    assert stage.tolist() == [0, 2, 3, 4, 4, 4]
    assert flag_4a.tolist() == [False, False, False, True, False, True]
    assert flag_4b.tolist() == [False, False, False, False, True, True]
    assert mitos_stage_array(matrix).tolist() == [m for *_, m in VECTORS]


def test_death_is_stage_5_in_both() -> None:
    score = score_alsfrs_r(items("3,4,4,3,4,3,4,4,3,4,4,4"))
    assert kings_stage(score, dead=True).stage == 5
    assert mitos_stage(score, dead=True).stage == 5
    matrix = np.array([[3, 4, 4, 3, 4, 3, 4, 4, 3, 4, 4, 4]], dtype=float)
    assert kings_stage_array(matrix, dead=True)[0].tolist() == [5]
    assert mitos_stage_array(matrix, dead=[True]).tolist() == [5]


def test_recorded_gastrostomy_and_niv_set_the_flags() -> None:
    """King's 4A/4B come from records as well as from the items (Balendra 2014)."""
    score = score_alsfrs_r(items("3,4,4,3,4,3,4,4,3,4,4,4"))
    assert kings_stage(score, gastrostomy=True).label == "4A"
    assert kings_stage(score, niv=True).label == "4B"
    assert kings_stage(score, gastrostomy=True, niv=True).label == "4A + 4B"


def test_item_9_and_11_do_not_count_for_kings() -> None:
    """Lower limb is item 8 only; 4B uses items 10 and 12, not 11."""
    score = score_alsfrs_r(items("4,4,4,4,4,4,4,4,0,4,0,4"))
    assert kings_stage(score).label == "0"


def test_mitos_communicating_needs_both_items() -> None:
    """Chio 2015 Table 1: communicating is lost when item 1 <= 1 AND item 4 <= 1."""
    assert mitos_stage(score_alsfrs_r(items("1,4,4,4,4,4,4,4,4,4,4,4"))).stage == 0
    assert mitos_stage(score_alsfrs_r(items("1,4,4,1,4,4,4,4,4,4,4,4"))).domains_lost == (
        "communicating",
    )


def test_a_missing_item_leaves_the_total_missing_with_the_reason() -> None:
    score = score_alsfrs_r(items("4,4,-,4,4,4,4,4,4,4,4,4"))
    assert score.total is None
    assert score.bulbar is None
    assert score.fine_motor == 12
    assert score.missing == ("item_3",)
    assert score.missing_reason is not None
    assert "item_3" in score.missing_reason
    with pytest.raises(ValidationError, match="item_3 missing"):
        score.require_total()
    with pytest.raises(ValidationError, match="item_3 missing"):
        kings_stage(score)
    matrix = np.full((1, 12), 4.0)
    matrix[0, 2] = np.nan
    assert np.isnan(score_alsfrs_array(matrix).total[0])
    assert np.isnan(kings_stage_array(matrix)[0][0])


def test_original_alsfrs_has_ten_items_and_no_stages() -> None:
    original = {**{f"item_{i}": 4 for i in range(1, 11) if i != 5}, "item_5a": 3}
    score = score_alsfrs(original, AlsfrsScale.ALSFRS)
    assert (score.total, score.respiratory, score.scale) == (39, 4, AlsfrsScale.ALSFRS)
    with pytest.raises(ValidationError, match="item_11 is not an item of the ALSFRS"):
        score_alsfrs({**original, "item_11": 4}, AlsfrsScale.ALSFRS)
    with pytest.raises(ValidationError, match="estimated from the ALSFRS-R"):
        kings_stage(score)
    assert score_alsfrs_array(np.full((2, 10), 4.0), AlsfrsScale.ALSFRS).total.tolist() == [40, 40]
    with pytest.raises(ValidationError, match=r"shape \(n, 12\)"):
        score_alsfrs_array(np.full((2, 10), 4.0))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"item_3": 5}, "item_3"),
        ({"item_3": -1}, "item_3"),
        ({"item_3": 2.5}, "item_3"),
        ({"item_3": True}, "item_3"),
        ({"item_5b": 2}, "item_5"),
        ({"item_13": 2}, "item_13"),
    ],
)
def test_invalid_items_are_named(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        score_alsfrs_r(items("4,4,4,4,4,4,4,4,4,4,4,4") | change)  # type: ignore[operator]
    assert caught.value.field == field


def test_neither_5a_nor_5b_is_refused() -> None:
    values = items("4,4,4,4,4,4,4,4,4,4,4,4")
    del values["item_5a"]
    with pytest.raises(ValidationError, match="neither"):
        score_alsfrs_r(values)


def test_vectorised_refusal_names_row_and_item() -> None:
    matrix = np.full((3, 12), 4.0)
    matrix[2, 6] = 7
    with pytest.raises(ValidationError, match="row 2, item 7") as caught:
        score_alsfrs_array(matrix)
    assert caught.value.field == "item_7"


ITEM_LISTS = st.lists(st.integers(0, 4), min_size=12, max_size=12)


def rating(scores: list[int], gastrostomy: bool) -> dict[str, int | None]:
    values: dict[str, int | None] = {f"item_{i}": s for i, s in enumerate(scores, 1) if i != 5}
    values["item_5b" if gastrostomy else "item_5a"] = scores[4]
    return values


@given(ITEM_LISTS, st.booleans())
def test_total_is_the_sum_of_domains_and_in_range(scores: list[int], gastrostomy: bool) -> None:
    score = score_alsfrs_r(rating(scores, gastrostomy))
    domains = (score.bulbar, score.fine_motor, score.gross_motor, score.respiratory)
    assert score.total == sum(scores)
    assert score.total == sum(d for d in domains if d is not None)
    assert 0 <= score.total <= 48
    assert all(d is not None and 0 <= d <= 12 for d in domains)
    array = score_alsfrs_array(np.array([scores], dtype=float))
    assert array.total[0] == score.total


@given(ITEM_LISTS, st.booleans(), st.integers(0, 11), st.integers(1, 4))
def test_stages_never_fall_as_an_item_worsens(
    scores: list[int], gastrostomy: bool, index: int, drop: int
) -> None:
    """Lowering any item never lowers King's or MiToS stage (and the array path agrees)."""
    worse = list(scores)
    worse[index] = max(0, worse[index] - drop)
    before = score_alsfrs_r(rating(scores, gastrostomy))
    after = score_alsfrs_r(rating(worse, gastrostomy))
    assert kings_stage(after).stage >= kings_stage(before).stage
    assert mitos_stage(after).stage >= mitos_stage(before).stage
    both = np.array([scores, worse], dtype=float)
    kings = kings_stage_array(both, [gastrostomy, gastrostomy])[0]
    assert kings.tolist() == [kings_stage(before).stage, kings_stage(after).stage]
    assert mitos_stage_array(both).tolist() == [mitos_stage(before).stage, mitos_stage(after).stage]
