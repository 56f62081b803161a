"""The data dictionary: a study's own case report forms, declared in the protocol.

A trial has forms alstrial does not know: the reference trial's medical history, physical and
neurological examination and concomitant medications, and the next trial's forms nobody has
thought of yet. The protocol declares them under ``[[forms]]`` (TOML), each with its fields::

    [[forms]]
    name = "concomitant_medication"
    title = "Concomitant medication"
    scope = "subject"          # or "visit": scheduled by the visits that name it
    repeating = true           # any number of instances

    [[forms.fields]]
    name = "drug"
    label = "Drug"
    type = "text"
    required = true
    max_length = 120

A field's ``type`` is one of :data:`FIELD_TYPES`. Numbers take ``unit``, ``decimals``, a hard
range (``min``/``max``: refused outside) and a soft range (``soft_min``/``soft_max``: saved
only with a confirmation that is recorded); dates and times take ranges as ISO 8601 text.
``show_if`` (branching) and ``calc`` (a calculated field) are expressions of
:mod:`alstrial.protocol.expressions` over the form's fields and the subject's attributes
(``subject.sex``, ``subject.age_years``; :data:`SUBJECT_ATTRIBUTES`). A required field left
blank may instead be closed with a missing-data code (:data:`MISSING_CODES`) and a reason.
A choice field is shown as radio buttons, or with ``layout = "select"`` as a drop-down list
(for a long list: countries, drugs; REDCap's ``dropdown``).

Everything is checked when the protocol is read, and each error names the form, the field
and what was expected: an unknown name in an expression (with its position), a cycle between
calculated fields, a repeated choice code, a minimum above its maximum, a soft range outside
the hard one, a pattern that is not a regular expression.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from functools import cached_property, lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from alstrial.protocol.expressions import Expression, ExpressionSyntaxError, parse_expression

__all__ = [
    "FIELD_TYPES",
    "MISSING_CODES",
    "SUBJECT_ATTRIBUTES",
    "Choice",
    "DictionaryField",
    "DictionaryForm",
]

FieldType = Literal[
    "integer",
    "decimal",
    "text",
    "notes",
    "date",
    "datetime",
    "time",
    "yesno",
    "choice",
    "multichoice",
    "calc",
    "descriptive",
    "file",
]
FIELD_TYPES: tuple[str, ...] = FieldType.__args__  # type: ignore[attr-defined]

#: The missing-data codes a required field may be closed with, and their wording.
MISSING_CODES: dict[str, str] = {
    "not_done": "Not done",
    "unknown": "Unknown",
    "not_applicable": "Not applicable",
}
MissingCode = Literal["not_done", "unknown", "not_applicable"]

#: The subject's attributes an expression may read as ``subject.<name>``.
SUBJECT_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "sex",
        "age_years",
        "height_cm",
        "weight_kg",
        "onset_region",
        "onset_date",
        "riluzole",
        "diagnostic_category",
        "arm",
    }
)

_NUMERIC = frozenset({"integer", "decimal", "calc"})
_TEMPORAL = {
    "date": date.fromisoformat,
    "datetime": datetime.fromisoformat,
    "time": time.fromisoformat,
}
_NO_VALUE = frozenset({"descriptive"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Choice(_Strict):
    """One answer of a choice field: the code stored and the wording shown."""

    code: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.-]+$")
    label: str = Field(min_length=1)


Bound = int | float | str | None


class DictionaryField(_Strict):
    """One field of a dictionary form (module docstring)."""

    name: str = Field(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1, max_length=500)
    type: FieldType
    help: str = ""
    section: str = ""
    required: bool = False
    unit: str = ""
    decimals: int | None = Field(default=None, ge=0, le=10)
    max_length: int = Field(default=2000, ge=1, le=100_000)
    pattern: str | None = None
    choices: tuple[Choice, ...] = ()
    min: Bound = None
    max: Bound = None
    soft_min: Bound = None
    soft_max: Bound = None
    show_if: str | None = None
    calc: str | None = None
    missing_codes: tuple[MissingCode, ...] = ("not_done", "unknown", "not_applicable")
    #: The SDTM variable the field's value goes to (``CMTRT``), when its form names an SDTM
    #: domain; a field without one goes to the domain's supplemental qualifiers.
    sdtm: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9]{1,7}$")
    #: How a choice field is shown: radio buttons (the default) or a drop-down list.
    layout: Literal["radio", "select"] = "radio"

    @model_validator(mode="after")
    def _consistent(self) -> DictionaryField:
        kind = self.type
        what = f"field {self.name!r}"
        if kind in ("choice", "multichoice"):
            if not self.choices:
                raise ValueError(f"{what}: a {kind} field needs its choices")
            codes = [c.code for c in self.choices]
            repeated = sorted({c for c in codes if codes.count(c) > 1})
            if repeated:
                raise ValueError(f"{what}: choice code(s) {', '.join(repeated)} repeated")
        elif self.choices:
            raise ValueError(f"{what}: choices are for choice and multichoice fields only")
        if self.layout == "select" and kind != "choice" and "layout" in self.model_fields_set:
            raise ValueError(
                f"{what}: layout 'select' (a drop-down list) is for choice fields only "
                f"(this one is {kind})"
            )
        if (kind == "calc") != (self.calc is not None):
            raise ValueError(
                f"{what}: a calc field needs 'calc', and only a calc field has one"
                if kind == "calc"
                else f"{what}: 'calc' is for calc fields only (this one is {kind})"
            )
        if self.decimals is not None and kind not in ("decimal", "calc"):
            raise ValueError(f"{what}: decimals are for decimal and calc fields only")
        if self.pattern is not None:
            if kind != "text":
                raise ValueError(f"{what}: a pattern is for text fields only")
            try:
                re.compile(self.pattern)
            except re.error as error:
                raise ValueError(
                    f"{what}: pattern {self.pattern!r} is not a regular expression ({error})"
                ) from None
        if kind in _NO_VALUE and self.required:
            raise ValueError(f"{what}: a descriptive field holds no value and is not required")
        self._check_ranges()
        return self

    def _check_ranges(self) -> None:
        what = f"field {self.name!r}"
        bounds = {
            "min": self.min,
            "max": self.max,
            "soft_min": self.soft_min,
            "soft_max": self.soft_max,
        }
        given = {k: v for k, v in bounds.items() if v is not None}
        if not given:
            return
        if self.type not in _NUMERIC and self.type not in _TEMPORAL:
            raise ValueError(
                f"{what}: {', '.join(given)} apply to numbers, dates and times, not {self.type}"
            )
        parsed = {k: self.bound(v) for k, v in given.items()}

        def above(low: str, high: str) -> bool:
            return low in parsed and high in parsed and parsed[low] > parsed[high]  # type: ignore[operator]

        for low, high in (
            ("min", "max"),
            ("soft_min", "soft_max"),
            ("min", "soft_min"),
            ("soft_max", "max"),
            ("min", "soft_max"),
            ("soft_min", "max"),
        ):
            if above(low, high):
                raise ValueError(
                    f"{what}: {low} {given[low]} is above {high} {given[high]}"
                    + (" (the soft range lies inside the hard one)" if "soft" in low + high else "")
                )

    def bound(self, value: int | float | str) -> object:
        """A range bound of this field as a comparable value (a number, date or time)."""
        what = f"field {self.name!r}"
        if self.type in _NUMERIC:
            if isinstance(value, str):
                raise ValueError(f"{what}: range bound {value!r} must be a number")
            return value
        if isinstance(value, int | float):
            raise ValueError(
                f"{what}: range bound {value!r} of a {self.type} field is ISO 8601 text"
            )
        try:
            return _TEMPORAL[self.type](value)
        except ValueError:
            raise ValueError(
                f"{what}: range bound {value!r} is not an ISO 8601 {self.type}"
            ) from None

    @property
    def holds_value(self) -> bool:
        """Whether the field stores a value (a descriptive text does not)."""
        return self.type not in _NO_VALUE

    def choice_label(self, code: str) -> str:
        """The wording of a choice code ('' if none)."""
        return next((c.label for c in self.choices if c.code == code), "")


@lru_cache(maxsize=4096)
def _expression(text: str) -> Expression:
    """An expression's tree, parsed once per text: a form's check evaluates its branching and
    calculations on every live check and save (the tree is immutable)."""
    return parse_expression(text)


def _parsed(form: str, field: str, key: str, text: str) -> Expression:
    try:
        return _expression(text)
    except ExpressionSyntaxError as error:
        raise ValueError(
            f"form {form!r}, field {field!r}, {key}: {error.message} at position "
            f"{error.position} of {text!r}"
        ) from None


class DictionaryForm(_Strict):
    """A study's own form: where it is entered, whether it repeats, its fields."""

    name: str = Field(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1, max_length=200)
    description: str = ""
    scope: Literal["visit", "subject"] = "visit"
    repeating: bool = False
    #: The SDTM domain each instance becomes a record of (``MH``, ``CM``): ``alstrial export
    #: sdtm`` maps the fields that name an ``sdtm`` variable, the others go to SUPP--.
    sdtm_domain: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    fields: tuple[DictionaryField, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> DictionaryForm:
        names = [f.name for f in self.fields]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"form {self.name!r}: field(s) {', '.join(repeated)} repeated")
        self._check_sdtm()
        known = set(names)
        calcs: dict[str, frozenset[str]] = {}
        for f in self.fields:
            shown_on_itself = False
            for key in ("show_if", "calc"):
                text = getattr(f, key)
                if text is None:
                    continue
                expression = _parsed(self.name, f.name, key, text)
                for name in sorted(expression.names):
                    self._check_name(f.name, key, text, name, known)
                if key == "calc":
                    calcs[f.name] = expression.names & known
                else:
                    shown_on_itself = f.name in expression.names
            if shown_on_itself:
                raise ValueError(
                    f"form {self.name!r}, field {f.name!r}, show_if: a field cannot be shown "
                    "depending on itself"
                )
        cycle = _cycle(calcs)
        if cycle:
            raise ValueError(
                f"form {self.name!r}: calculated fields depend on each other in a cycle: "
                + " -> ".join(cycle)
            )
        return self

    def _check_sdtm(self) -> None:
        mapped = [f for f in self.fields if f.sdtm is not None]
        if mapped and self.sdtm_domain is None:
            raise ValueError(
                f"form {self.name!r}, field {mapped[0].name!r}: 'sdtm' names a variable, but "
                "the form names no sdtm_domain"
            )
        for f in mapped:
            assert f.sdtm is not None
            assert self.sdtm_domain is not None
            if not f.sdtm.startswith(self.sdtm_domain):
                raise ValueError(
                    f"form {self.name!r}, field {f.name!r}: SDTM variable {f.sdtm!r} is not "
                    f"one of domain {self.sdtm_domain} (its name starts with the domain's)"
                )
        variables = [f.sdtm for f in mapped]
        twice = sorted({str(v) for v in variables if variables.count(v) > 1})
        if twice:
            raise ValueError(
                f"form {self.name!r}: SDTM variable(s) {', '.join(twice)} mapped twice"
            )

    def _check_name(self, field: str, key: str, text: str, name: str, known: set[str]) -> None:
        head, _, attribute = name.partition(".")
        position = text.find(name) + 1
        if attribute:
            if head != "subject" or attribute not in SUBJECT_ATTRIBUTES:
                raise ValueError(
                    f"form {self.name!r}, field {field!r}, {key}: unknown name {name!r} at "
                    f"position {position}; the subject's attributes are subject."
                    + ", subject.".join(sorted(SUBJECT_ATTRIBUTES))
                )
            return
        if name not in known:
            raise ValueError(
                f"form {self.name!r}, field {field!r}, {key}: unknown name {name!r} at "
                f"position {position}; expected a field of the form ({', '.join(sorted(known))})"
                " or subject.<attribute>"
            )
        target = self.field(name)
        if not target.holds_value:
            raise ValueError(
                f"form {self.name!r}, field {field!r}, {key}: {name!r} is descriptive text "
                "and holds no value"
            )

    def field(self, name: str) -> DictionaryField:
        """The field with this name; ``KeyError`` if there is none."""
        return self.fields_by_name[name]

    @cached_property
    def fields_by_name(self) -> dict[str, DictionaryField]:
        """The fields by name (a save looks each up several times)."""
        return {f.name: f for f in self.fields}

    @cached_property
    def reads_subject(self) -> bool:
        """Whether an expression of the form reads a ``subject.<attribute>``: a save that
        reads none needs no query for them."""
        return any(
            name.startswith("subject.")
            for f in self.fields
            for text in (f.show_if, f.calc)
            if text is not None
            for name in _expression(text).names
        )

    def expression(self, field: str, key: Literal["show_if", "calc"]) -> Expression | None:
        """A field's parsed ``show_if`` or ``calc`` (None where it has none)."""
        text = getattr(self.field(field), key)
        return None if text is None else _expression(text)

    def calc_order(self) -> list[str]:
        """The calculated fields in an order where each comes after those it reads."""
        known = {f.name for f in self.fields}
        depends = {
            f.name: _expression(f.calc).names & known for f in self.fields if f.calc is not None
        }
        order: list[str] = []
        while len(order) < len(depends):
            for name, needs in depends.items():
                if name not in order and all(n in order or n not in depends for n in needs):
                    order.append(name)
        return order


def _cycle(depends: dict[str, frozenset[str]]) -> list[str]:
    """A cycle among the calculated fields (as a path that returns to its start), or []."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str]:
        state[name] = 1
        path.append(name)
        for needed in sorted(depends.get(name, frozenset())):
            if needed not in depends:
                continue
            if state.get(needed) == 1:
                return [*path[path.index(needed) :], needed]
            if needed not in state:
                found = visit(needed)
                if found:
                    return found
        path.pop()
        state[name] = 2
        return []

    for name in sorted(depends):
        if name not in state:
            found = visit(name)
            if found:
                return found
    return []
