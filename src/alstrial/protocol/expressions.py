"""The expression language of dictionary forms: calculated fields and branching logic.

A protocol author writes ``weight_kg / (height_cm / 100) ** 2``-like arithmetic or
``sex == "female" and age_years < 50`` in a form's TOML. The text is parsed once, when the
protocol is validated, into a tree of :class:`Expression` nodes, and evaluated over a mapping
of names to values; nothing is ever handed to Python's ``eval``.

Grammar (lowest precedence first)::

    expression := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := sum (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in") sum)?
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := "-" unary | power
    power      := atom ("**" unary)?
    atom       := number | string | "true" | "false" | "null" | name | call
                | "(" expression ")" | "[" (expression ("," expression)*)? "]"
    call       := name "(" (expression ("," expression)*)? ")"
    name       := identifier ("." identifier)?

Values are numbers (int or float), strings, booleans, dates, date-times, lists (a multiple
choice field's codes) and ``null`` (blank, or a missing-data code). Blank propagates: any
arithmetic or ordering comparison with ``null`` is ``null``, and ``null`` is false where a
condition is tested, so a branch over a blank field stays hidden and a calculation over a
blank field stays blank. ``x == null`` tests for blank. Dates subtract to days.

Functions: ``abs``, ``round(x, digits)``, ``min``, ``max``, ``sum``, ``mean`` (over their
non-blank arguments), ``sqrt``, ``log`` (natural), ``exp``, ``if(condition, then, else)``,
``blank(x)``, ``days(a, b)`` (days from date ``a`` to ``b``), ``years(a, b)`` (whole years,
as an age), ``contains(list, code)``.

Errors name the position (1-based column) in the expression's text; the protocol's
validation adds the form and the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

__all__ = [
    "FUNCTIONS",
    "EvaluationError",
    "Expression",
    "ExpressionSyntaxError",
    "evaluate",
    "parse_expression",
    "truthy",
]

#: The longest expression text accepted, and the deepest nesting (a bound on recursion).
MAX_CHARS = 4000
MAX_DEPTH = 64


class ExpressionSyntaxError(ValueError):
    """An expression that does not parse; ``position`` is the 1-based column."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.message = message
        self.position = position


class EvaluationError(ValueError):
    """An expression that cannot be evaluated over the values given (division by zero, a
    string added to a number)."""


# --- tokens -------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)?)
  | (?P<op>\*\*|==|!=|<=|>=|[-+*/<>()\[\],])
    """,
    re.VERBOSE,
)
_KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})


@dataclass(frozen=True)
class _Token:
    kind: str  # number, string, name, op, keyword, end
    text: str
    position: int  # 1-based


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise ExpressionSyntaxError(f"unexpected character {text[at]!r}", at + 1)
        kind = match.lastgroup or ""
        if kind != "space":
            value = match.group()
            if kind == "name" and value in _KEYWORDS:
                kind = "keyword"
            found.append(_Token(kind, value, at + 1))
        at = match.end()
    found.append(_Token("end", "", len(text) + 1))
    return found


# --- the tree -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text and its tree. :attr:`names` are the names it reads."""

    text: str
    tree: _Node

    @property
    def names(self) -> frozenset[str]:
        """Every name the expression reads (form fields, ``subject.`` attributes)."""
        return frozenset(_names(self.tree))

    def functions(self) -> frozenset[str]:
        """Every function the expression calls."""
        return frozenset(_calls(self.tree))


@dataclass(frozen=True)
class _Literal:
    value: object
    position: int


@dataclass(frozen=True)
class _Name:
    name: str
    position: int


@dataclass(frozen=True)
class _Unary:
    op: str
    operand: _Node
    position: int


@dataclass(frozen=True)
class _Binary:
    op: str
    left: _Node
    right: _Node
    position: int


@dataclass(frozen=True)
class _Call:
    function: str
    args: tuple[_Node, ...]
    position: int


@dataclass(frozen=True)
class _List:
    items: tuple[_Node, ...]
    position: int


_Node = _Literal | _Name | _Unary | _Binary | _Call | _List


def _names(node: _Node) -> list[str]:
    if isinstance(node, _Name):
        return [node.name]
    if isinstance(node, _Unary):
        return _names(node.operand)
    if isinstance(node, _Binary):
        return _names(node.left) + _names(node.right)
    if isinstance(node, _Call | _List):
        children = node.args if isinstance(node, _Call) else node.items
        return [n for child in children for n in _names(child)]
    return []


def _calls(node: _Node) -> list[str]:
    if isinstance(node, _Unary):
        return _calls(node.operand)
    if isinstance(node, _Binary):
        return _calls(node.left) + _calls(node.right)
    if isinstance(node, _Call):
        return [node.function] + [f for arg in node.args for f in _calls(arg)]
    if isinstance(node, _List):
        return [f for item in node.items for f in _calls(item)]
    return []


# --- the parser ---------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0
        self.depth = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def accept(self, *texts: str) -> _Token | None:
        if self.token.kind in ("op", "keyword") and self.token.text in texts:
            return self.take()
        return None

    def expect(self, text: str) -> _Token:
        token = self.accept(text)
        if token is None:
            found = self.token.text or "the end"
            raise ExpressionSyntaxError(f"expected {text!r}, found {found!r}", self.token.position)
        return token

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionSyntaxError(f"nested more than {MAX_DEPTH} deep", self.token.position)

    def parse(self) -> _Node:
        node = self.disjunction()
        if self.token.kind != "end":
            raise ExpressionSyntaxError(
                f"unexpected {self.token.text!r} after a complete expression",
                self.token.position,
            )
        return node

    def disjunction(self) -> _Node:
        node = self.conjunction()
        while (token := self.accept("or")) is not None:
            node = _Binary("or", node, self.conjunction(), token.position)
        return node

    def conjunction(self) -> _Node:
        node = self.negation()
        while (token := self.accept("and")) is not None:
            node = _Binary("and", node, self.negation(), token.position)
        return node

    def negation(self) -> _Node:
        token = self.accept("not")
        if token is not None:
            self.nested()
            node = _Unary("not", self.negation(), token.position)
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> _Node:
        node = self.sum()
        token = self.accept("==", "!=", "<", "<=", ">", ">=", "in")
        if token is not None:
            node = _Binary(token.text, node, self.sum(), token.position)
            if self.token.text in ("==", "!=", "<", "<=", ">", ">=", "in"):
                raise ExpressionSyntaxError(
                    "comparisons do not chain; join them with 'and'", self.token.position
                )
        return node

    def sum(self) -> _Node:
        node = self.product()
        while (token := self.accept("+", "-")) is not None:
            node = _Binary(token.text, node, self.product(), token.position)
        return node

    def product(self) -> _Node:
        node = self.unary()
        while (token := self.accept("*", "/")) is not None:
            node = _Binary(token.text, node, self.unary(), token.position)
        return node

    def unary(self) -> _Node:
        token = self.accept("-")
        if token is not None:
            self.nested()
            node = _Unary("-", self.unary(), token.position)
            self.depth -= 1
            return node
        return self.power()

    def power(self) -> _Node:
        node = self.atom()
        token = self.accept("**")
        if token is not None:
            node = _Binary("**", node, self.unary(), token.position)
        return node

    def atom(self) -> _Node:
        token = self.token
        if token.kind == "number":
            self.take()
            number = float(token.text)
            is_int = number.is_integer() and not any(c in token.text for c in ".eE")
            return _Literal(int(token.text) if is_int else number, token.position)
        if token.kind == "string":
            self.take()
            return _Literal(_unquote(token.text), token.position)
        if token.kind == "keyword" and token.text in ("true", "false", "null"):
            self.take()
            value = {"true": True, "false": False, "null": None}[token.text]
            return _Literal(value, token.position)
        if token.kind == "name":
            self.take()
            if self.accept("(") is None:
                return _Name(token.text, token.position)
            if token.text not in _ARITY:
                raise ExpressionSyntaxError(
                    f"unknown function {token.text!r} (known: {', '.join(sorted(_ARITY))})",
                    token.position,
                )
            args = self.items(")")
            arity = _ARITY[token.text]
            if not arity[0] <= len(args) <= arity[1]:
                wanted = str(arity[0]) if arity[0] == arity[1] else f"{arity[0]} or more"
                raise ExpressionSyntaxError(
                    f"{token.text}() takes {wanted} argument(s), not {len(args)}",
                    token.position,
                )
            return _Call(token.text, args, token.position)
        if self.accept("(") is not None:
            self.nested()
            node = self.disjunction()
            self.depth -= 1
            self.expect(")")
            return node
        if self.accept("[") is not None:
            return _List(self.items("]"), token.position)
        found = token.text or "the end"
        raise ExpressionSyntaxError(f"expected a value, found {found!r}", token.position)

    def items(self, closing: str) -> tuple[_Node, ...]:
        self.nested()
        items: list[_Node] = []
        if self.accept(closing) is None:
            items.append(self.disjunction())
            while self.accept(",") is not None:
                items.append(self.disjunction())
            self.expect(closing)
        self.depth -= 1
        return tuple(items)


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def parse_expression(text: str) -> Expression:
    """Parse an expression's text into its tree.

    Raises
    ------
    ExpressionSyntaxError
        With the 1-based position of the fault: an unknown character or function, a
        missing bracket, a function given the wrong number of arguments, chained
        comparisons, an empty or over-long expression.
    """
    if not text.strip():
        raise ExpressionSyntaxError("the expression is empty", 1)
    if len(text) > MAX_CHARS:
        raise ExpressionSyntaxError(f"longer than {MAX_CHARS} characters", MAX_CHARS + 1)
    return Expression(text, _Parser(text).parse())


# --- evaluation ---------------------------------------------------------------------------


def truthy(value: object) -> bool:
    """A value as a condition: ``null`` and false are false; so are 0 and ''."""
    return bool(value) if value is not None else False


def _number(value: object, what: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EvaluationError(f"{what} needs a number, not {value!r}")
    return value


def _finite(value: float | int) -> float | int:
    if isinstance(value, float) and not math.isfinite(value):
        raise EvaluationError("the result is not a finite number")
    return value


def _present(args: Sequence[object]) -> list[float | int]:
    return [_number(a, "the function") for a in args if a is not None]


def _round(x: object, digits: object = 0) -> object:
    if x is None or digits is None:
        return None
    places = int(_number(digits, "round()'s digits"))
    value = round(float(_number(x, "round()")), places)
    return int(value) if places <= 0 else value


def _days(a: object, b: object) -> object:
    if a is None or b is None:
        return None
    if not isinstance(a, date) or not isinstance(b, date):
        raise EvaluationError(f"days() needs two dates, not {a!r} and {b!r}")
    return (_as_date(b) - _as_date(a)).days


def _years(a: object, b: object) -> object:
    if a is None or b is None:
        return None
    if not isinstance(a, date) or not isinstance(b, date):
        raise EvaluationError(f"years() needs two dates, not {a!r} and {b!r}")
    start, end = _as_date(a), _as_date(b)
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def _as_date(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _math(function: Callable[[float], float], name: str) -> Callable[[object], object]:
    def apply(x: object) -> object:
        if x is None:
            return None
        try:
            return _finite(function(float(_number(x, f"{name}()"))))
        except ValueError as error:  # sqrt(-1), log(0)
            raise EvaluationError(f"{name}({x!r}) is not defined") from error
        except OverflowError as error:  # exp(1000)
            raise EvaluationError(f"{name}({x!r}) is not a finite number") from error

    return apply


def _mean(*args: object) -> object:
    present = _present(args)
    return sum(present) / len(present) if present else None


def _contains(items: object, code: object) -> object:
    if items is None:
        return False
    if not isinstance(items, list | tuple):
        raise EvaluationError(f"contains() needs a list first, not {items!r}")
    return code in items


FUNCTIONS: Mapping[str, Callable[..., object]] = {
    "abs": lambda x: None if x is None else abs(_number(x, "abs()")),
    "round": _round,
    "min": lambda *a: min(_present(a), default=None),
    "max": lambda *a: max(_present(a), default=None),
    "sum": lambda *a: sum(_present(a)) if _present(a) else None,
    "mean": _mean,
    "sqrt": _math(math.sqrt, "sqrt"),
    "log": _math(math.log, "log"),
    "exp": _math(math.exp, "exp"),
    "blank": lambda x: x is None or x == "" or x == [],
    "days": _days,
    "years": _years,
    "contains": _contains,
}
_ARITY: Mapping[str, tuple[int, int]] = {
    "abs": (1, 1),
    "round": (1, 2),
    "min": (1, 99),
    "max": (1, 99),
    "sum": (1, 99),
    "mean": (1, 99),
    "sqrt": (1, 1),
    "log": (1, 1),
    "exp": (1, 1),
    "blank": (1, 1),
    "days": (2, 2),
    "years": (2, 2),
    "contains": (2, 2),
    "if": (3, 3),
}


def evaluate(expression: Expression, values: Mapping[str, object]) -> object:
    """The value of ``expression`` over ``values`` (name -> value; a name not given is
    ``null``).

    Raises
    ------
    EvaluationError
        Division by zero, a result that is not finite, or values of the wrong kind (a text
        added to a number), with the position in the text.
    """
    return _Evaluator(values).value(expression.tree)


class _Evaluator:
    def __init__(self, values: Mapping[str, object]) -> None:
        self.values = values

    def value(self, node: _Node) -> Any:
        try:
            return self._value(node)
        except EvaluationError as error:
            if " at position " in str(error):
                raise
            raise EvaluationError(f"{error} at position {node.position}") from None

    def _value(self, node: _Node) -> Any:
        if isinstance(node, _Literal):
            return node.value
        if isinstance(node, _Name):
            return self.values.get(node.name)
        if isinstance(node, _List):
            return [self.value(item) for item in node.items]
        if isinstance(node, _Unary):
            operand = self.value(node.operand)
            if node.op == "not":
                return not truthy(operand)
            return None if operand is None else -_number(operand, "'-'")
        if isinstance(node, _Call):
            if node.function == "if":
                condition, then, otherwise = node.args
                return self.value(then if truthy(self.value(condition)) else otherwise)
            return FUNCTIONS[node.function](*(self.value(arg) for arg in node.args))
        return self.binary(node)

    def binary(self, node: _Binary) -> Any:
        if node.op == "and":
            return truthy(self.value(node.left)) and truthy(self.value(node.right))
        if node.op == "or":
            return truthy(self.value(node.left)) or truthy(self.value(node.right))
        left, right = self.value(node.left), self.value(node.right)
        if node.op == "==":
            return _equal(left, right)
        if node.op == "!=":
            return not _equal(left, right)
        if node.op == "in":
            if right is None:
                return False
            if not isinstance(right, list | tuple):
                raise EvaluationError(f"'in' needs a list on its right, not {right!r}")
            return left in right
        if left is None or right is None:
            return None
        if node.op in ("<", "<=", ">", ">="):
            return _order(node.op, left, right)
        if node.op == "-" and isinstance(left, date) and isinstance(right, date):
            return (_as_date(left) - _as_date(right)).days
        if node.op == "+" and isinstance(left, str) and isinstance(right, str):
            return left + right
        a, b = _number(left, f"{node.op!r}"), _number(right, f"{node.op!r}")
        if node.op == "+":
            return _finite(a + b)
        if node.op == "-":
            return _finite(a - b)
        if node.op == "*":
            return _finite(a * b)
        if node.op == "/":
            if b == 0:
                raise EvaluationError("division by zero")
            return _finite(a / b)
        try:
            return _finite(float(a) ** b)
        except (OverflowError, ZeroDivisionError) as error:
            raise EvaluationError(f"{a} ** {b} is not a finite number") from error


def _equal(left: object, right: object) -> bool:
    if left is None or right is None:
        return (left is None or left == "") and (right is None or right == "")
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    return left == right


def _order(op: str, left: object, right: object) -> bool:
    numbers = isinstance(left, int | float) and isinstance(right, int | float)
    comparable = (
        (numbers and not isinstance(left, bool) and not isinstance(right, bool))
        or (isinstance(left, str) and isinstance(right, str))
        or (isinstance(left, date) and isinstance(right, date))
    )
    if not comparable:
        raise EvaluationError(f"cannot order {left!r} and {right!r}")
    a: Any = _as_date(left) if isinstance(left, date) else left
    b: Any = _as_date(right) if isinstance(right, date) else right
    return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])
