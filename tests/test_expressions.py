"""The expression language of dictionary forms (issue 17): parsed into a tree, evaluated
without ``eval``, blanks propagate, errors give the position."""

from __future__ import annotations

import contextlib
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alstrial.protocol.expressions import (
    EvaluationError,
    ExpressionSyntaxError,
    evaluate,
    parse_expression,
)


def value(text: str, **values: object) -> object:
    return evaluate(parse_expression(text), values)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("2 ** 3 ** 2", 512),  # right-associative, as in mathematics
        ("-2 ** 2", -4),
        ("7 / 2", 3.5),
        ("1 < 2 and 2 < 3", True),
        ("not 1 > 2 or false", True),
        ('"a" + "b" == "ab"', True),
        ("round(2.675, 1)", 2.7),
        ("round(1234.5, -2)", 1200),
        ("mean(1, 2, null, 6)", 3),
        ("min(3, null, 1)", 1),
        ("if(2 > 1, 'yes', 'no')", "yes"),
        ("blank(null) and not blank(0)", True),
        ("'b' in ['a', 'b']", True),
        ("abs(-3) + sqrt(16)", 7.0),
    ],
)
def test_arithmetic_logic_and_functions(text: str, expected: object) -> None:
    assert value(text) == expected


def test_names_read_the_form_and_the_subject() -> None:
    bmi = parse_expression("round(weight_kg / (height_cm / 100) ** 2, 1)")
    assert bmi.names == {"weight_kg", "height_cm"}
    assert evaluate(bmi, {"weight_kg": 70, "height_cm": 175}) == 22.9
    branch = parse_expression('subject.sex == "female" and age_years < 50')
    assert branch.names == {"subject.sex", "age_years"}
    assert evaluate(branch, {"subject.sex": "female", "age_years": 41}) is True


def test_blank_propagates_and_hides() -> None:
    """A calculation over a blank field stays blank; a branch over it stays hidden."""
    assert value("weight_kg / 2") is None
    assert value("weight_kg > 70") is None
    assert value("not (weight_kg > 70)") is True  # 'not' of a blank condition
    assert value("weight_kg == null") is True
    assert value("note == null", note="") is True
    assert value("drugs in ['x']") is False
    assert value("contains(drugs, 'riluzole')", drugs=["riluzole", "edaravone"]) is True


def test_dates_subtract_to_days_and_ages_are_whole_years() -> None:
    onset, visit = date(2025, 3, 1), date(2026, 2, 28)
    assert value("visit - onset", visit=visit, onset=onset) == 364
    assert value("days(onset, visit)", visit=visit, onset=onset) == 364
    assert value("years(born, seen)", born=date(1970, 3, 1), seen=date(2026, 2, 28)) == 55
    assert value("years(born, seen)", born=date(1970, 3, 1), seen=date(2026, 3, 1)) == 56
    assert value("a < b", a=datetime(2026, 1, 1, 10), b=date(2026, 1, 2)) is True


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("1 +", "expected a value", 4),
        ("(1 + 2", "expected ')'", 7),
        ("weight $ 2", "unexpected character '$'", 8),
        ("foo(1)", "unknown function 'foo'", 1),
        ("round()", "round() takes 1 or more argument(s), not 0", 1),
        ("1 < x < 3", "comparisons do not chain", 7),
        ("1 2", "unexpected '2'", 3),
        ("", "the expression is empty", 1),
        ("(" * 100 + "1" + ")" * 100, "nested more than 64 deep", 66),
    ],
)
def test_syntax_errors_give_the_position(text: str, message: str, position: int) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse_expression(text)
    assert message in caught.value.message
    assert caught.value.position == position


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 / (x - x)", "division by zero at position 3"),
        ("'a' + 1", "needs a number"),
        ("sqrt(-1)", "sqrt(-1) is not defined"),
        ("exp(1000)", "not a finite number"),
        ("10 ** 400.0", "not a finite number"),
        ("'a' < 1", "cannot order"),
        ("1 in 2", "'in' needs a list"),
    ],
)
def test_evaluation_errors_name_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(EvaluationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        value(text, x=3)


def test_nothing_reaches_python() -> None:
    """Attribute access, subscripts and dunder names are not in the language."""
    for text in ("__import__('os')", "x.__class__", "().__class__", "x[0]", "lambda: 1"):
        with pytest.raises(ExpressionSyntaxError):
            parse_expression(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab1.()+-*/<>=!'\" andortuefls[],", max_size=60))
def test_any_text_parses_or_is_refused_by_position(text: str) -> None:
    """No text makes the parser fail other than with a positioned syntax error, and every
    tree it builds evaluates or fails with an evaluation error."""
    try:
        expression = parse_expression(text)
    except ExpressionSyntaxError as error:
        position = error.position
        assert 1 <= position <= len(text) + 1
        return
    with contextlib.suppress(EvaluationError):
        evaluate(expression, {"a": 1, "b": 0})
