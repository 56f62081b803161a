"""ALSFRS-R totals and domains against the shared reference's test vectors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alstrial.exceptions import ValidationError
from alstrial.scoring import score_alsfrs_r


def items(values: str) -> dict[str, int | None]:
    """Items in the reference's notation: 12 comma-separated scores, item 5 as '3' or '3b'."""
    parts = values.split(",")
    result: dict[str, int | None] = {}
    for index, part in enumerate(parts, start=1):
        if index == 5:
            result["item_5b" if part.endswith("b") else "item_5a"] = int(part.rstrip("b"))
        else:
            result[f"item_{index}"] = int(part)
    return result


# clinical-reference/README.md, "ALSFRS-R test vectors": total / bulbar / fine / gross / resp.
VECTORS = [
    ("4,4,4,4,4,4,4,4,4,4,4,4", (48, 12, 12, 12, 12)),
    ("3,4,4,3,4,3,4,4,3,4,4,4", (44, 11, 10, 11, 12)),
    ("2,3,2,2,2,2,2,2,1,3,3,4", (28, 7, 6, 5, 10)),
    ("1,2,1,3,3b,3,3,3,2,3,4,4", (32, 4, 9, 8, 11)),
    ("4,4,4,2,2,1,1,1,0,2,2,2", (25, 12, 5, 2, 6)),
    ("0,1,0,0,0b,0,0,0,0,1,1,1", (4, 1, 0, 0, 3)),
]


@pytest.mark.parametrize(("values", "expected"), VECTORS)
def test_reference_vectors(values: str, expected: tuple[int, ...]) -> None:
    score = score_alsfrs_r(items(values))
    assert (
        score.total,
        score.bulbar,
        score.fine_motor,
        score.gross_motor,
        score.respiratory,
    ) == expected
    assert score.gastrostomy == ("b" in values)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"item_3": 5}, "item_3"),
        ({"item_3": -1}, "item_3"),
        ({"item_3": 2.5}, "item_3"),
        ({"item_3": True}, "item_3"),
        ({"item_3": None}, "item_3"),
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


@given(st.lists(st.integers(0, 4), min_size=12, max_size=12), st.booleans())
def test_total_is_the_sum_of_domains_and_in_range(scores: list[int], gastrostomy: bool) -> None:
    values: dict[str, int | None] = {f"item_{i}": s for i, s in enumerate(scores, 1) if i != 5}
    values["item_5b" if gastrostomy else "item_5a"] = scores[4]
    score = score_alsfrs_r(values)
    assert score.total == sum(scores)
    assert score.total == score.bulbar + score.fine_motor + score.gross_motor + score.respiratory
    assert 0 <= score.total <= 48
    assert all(
        0 <= d <= 12 for d in (score.bulbar, score.fine_motor, score.gross_motor, score.respiratory)
    )
