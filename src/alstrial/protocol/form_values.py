"""Checking what was entered on a dictionary form: one function for the live check and the
save, so that the two always agree.

:func:`check_form` takes the values as entered (text from a web form, or typed values from
the API or an import), the subject's attributes for branching, the missing-data codes given
and the soft-range exceedances confirmed, and returns every problem at once, each at its field
and worded with the field's label:

1. each value is read by its field's type (an integer, a decimal with at most its declared
   decimals, an ISO 8601 date, a code of the field's choices, text within its length and
   pattern), and checked against the hard range (refused) and the soft range (accepted only
   when confirmed);
2. branching: a field whose ``show_if`` is false (or blank) is hidden; a value entered in a
   hidden field is not kept (:attr:`CheckedForm.dropped` names it);
3. calculated fields are computed, in the order of their dependencies, from the values as
   read (never from a value the user typed into them);
4. a required field that is shown and blank is an error, unless it is closed with a
   missing-data code the field allows and a reason.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from alstrial.protocol.dictionary import MISSING_CODES, DictionaryField, DictionaryForm
from alstrial.protocol.expressions import EvaluationError, evaluate, truthy

__all__ = [
    "ATTACHMENT_REFERENCE",
    "CheckedForm",
    "FileUpload",
    "Missing",
    "attachment_reference",
    "check_form",
    "decode_value",
    "encode_value",
    "read_value",
]

_YES = {"yes": True, "y": True, "1": True, "true": True, "no": False, "n": False, "0": False,
        "false": False}  # fmt: skip


@dataclass(frozen=True)
class FileUpload:
    """A file given for a file field: its name as the user's computer had it, the media type
    the browser gave, and its bytes. The service stores it as an attachment and the item
    then holds ``attachment:<id>`` (:data:`ATTACHMENT_REFERENCE`)."""

    filename: str
    media_type: str
    content: bytes


#: What a file field's item holds once its file is stored: the attachment's id.
ATTACHMENT_REFERENCE = re.compile(r"attachment:([1-9][0-9]{0,17})")


def attachment_reference(attachment_id: int) -> str:
    """The item value that names stored file ``attachment_id`` (:data:`ATTACHMENT_REFERENCE`)."""
    return f"attachment:{attachment_id}"


#: Characters a file name may not hold (control characters; path separators are cut off).
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f]")


def _file(raw: object) -> object:
    """A file field's value: a file given now, or the reference of one stored before."""
    if isinstance(raw, FileUpload):
        name = raw.filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
        if not name:
            raise ValueError("the file has no name")
        if _BAD_NAME.search(name):
            raise ValueError(f"the file name {name!r} holds control characters")
        if len(name) > 255:
            raise ValueError(f"the file name is {len(name)} characters long; at most 255")
        if not raw.content:
            raise ValueError(f"{name} is empty")
        return FileUpload(name, raw.media_type or "application/octet-stream", raw.content)
    text = str(raw).strip()
    if ATTACHMENT_REFERENCE.fullmatch(text) is None:
        raise ValueError(f"{text!r} is not a file (attach one)")
    return text


@dataclass(frozen=True)
class Missing:
    """A required field closed without a value: the missing-data code and why."""

    code: str
    reason: str


@dataclass(frozen=True)
class CheckedForm:
    """The outcome of :func:`check_form`."""

    #: Typed values of the shown fields that hold one (None: blank), calculated ones included.
    values: dict[str, object]
    #: Fields closed with a missing-data code.
    missing: dict[str, Missing]
    #: Fields hidden by branching.
    hidden: frozenset[str]
    #: Fields whose entered value was dropped because branching hides them.
    dropped: frozenset[str]
    #: Field -> what is wrong (with the field's label); nothing may be saved while any.
    errors: dict[str, str] = field(default_factory=dict)
    #: Field -> a soft-range value that needs a confirmation before it is saved.
    soft: dict[str, str] = field(default_factory=dict)
    #: Fields outside their soft range whose value the user confirmed.
    confirmed: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        """Nothing refused and nothing left to confirm: the form may be saved."""
        return not self.errors and not self.soft


def check_form(
    form: DictionaryForm,
    entered: Mapping[str, object],
    *,
    subject: Mapping[str, object] | None = None,
    missing: Mapping[str, Missing] | None = None,
    confirmed: Collection[str] = (),
) -> CheckedForm:
    """Check a dictionary form's entered values (module docstring).

    ``subject`` maps the subject's attributes (``sex``, ``age_years``, ...) for branching;
    ``missing`` the fields closed with a code; ``confirmed`` the fields whose out-of-soft-range
    value the user confirmed. Names in ``entered`` that the form does not have are errors.
    """
    missing = dict(missing or {})
    errors: dict[str, str] = {}
    unknown = sorted(set(entered) - {f.name for f in form.fields})
    for name in unknown:
        errors[name] = f"{form.title} has no field {name!r}"
    values: dict[str, object] = {}
    for f in form.fields:
        if not f.holds_value or f.type == "calc":
            continue
        try:
            values[f.name] = read_value(f, entered.get(f.name))
        except ValueError as error:
            errors[f.name] = f"{f.label}: {error}"
            values[f.name] = None
    context = {f"subject.{k}": v for k, v in (subject or {}).items()}
    hidden = _hidden(form, values, context, errors)
    dropped = frozenset(n for n in hidden if values.get(n) is not None)
    for name in hidden:
        values[name] = None
        errors.pop(name, None)
    soft: dict[str, str] = {}
    confirmed_now: set[str] = set()
    _check_ranges(form, values, hidden, confirmed, errors, soft, confirmed_now, calculated=False)
    for name in form.calc_order():
        f = form.field(name)
        if name in hidden:
            values[name] = None
            continue
        expression = form.expression(name, "calc")
        assert expression is not None  # a calc field has one (dictionary validation)
        try:
            result = evaluate(expression, values | context)
        except EvaluationError as error:
            errors[name] = f"{f.label}: cannot be calculated: {error}"
            result = None
        if isinstance(result, float) and f.decimals is not None:
            result = round(result, f.decimals)
        values[name] = result
    _check_ranges(form, values, hidden, confirmed, errors, soft, confirmed_now, calculated=True)
    _check_missing(form, values, missing, hidden, errors)
    shown = {k: v for k, v in values.items() if k not in hidden}
    return CheckedForm(
        values=shown,
        missing={k: v for k, v in missing.items() if k not in hidden},
        hidden=frozenset(hidden),
        dropped=dropped,
        errors=errors,
        soft=soft,
        confirmed=frozenset(confirmed_now),
    )


def _check_ranges(
    form: DictionaryForm,
    values: dict[str, object],
    hidden: set[str],
    confirmed: Collection[str],
    errors: dict[str, str],
    soft: dict[str, str],
    confirmed_now: set[str],
    *,
    calculated: bool,
) -> None:
    """Hard and soft ranges of the entered fields (a refused value is then blank, so that no
    calculation uses it), or of the calculated ones."""
    for f in form.fields:
        value = values.get(f.name)
        if (f.type == "calc") != calculated:
            continue
        if f.name in hidden or value is None or f.name in errors or isinstance(value, bool):
            continue
        problem = _out_of_range(f, value, "min", "max")
        if problem:
            errors[f.name] = f"{f.label}: {problem}"
            values[f.name] = None
            continue
        warning = _out_of_range(f, value, "soft_min", "soft_max")
        if warning:
            if f.name in confirmed:
                confirmed_now.add(f.name)
            else:
                soft[f.name] = f"{f.label}: {warning}; confirm the value to save it"


def _hidden(
    form: DictionaryForm,
    values: dict[str, object],
    context: Mapping[str, object],
    errors: dict[str, str],
) -> set[str]:
    """Fields hidden by branching; a field hidden hides what depends on it, to a fixpoint."""
    hidden: set[str] = set()
    for _ in range(len(form.fields) + 1):
        now: set[str] = set()
        current = {k: (None if k in hidden else v) for k, v in values.items()} | dict(context)
        for f in form.fields:
            expression = form.expression(f.name, "show_if")
            if expression is None:
                continue
            try:
                shown = truthy(evaluate(expression, current))
            except EvaluationError as error:
                errors[f.name] = f"{f.label}: its condition cannot be evaluated: {error}"
                shown = True
            if not shown:
                now.add(f.name)
        if now == hidden:
            break
        hidden = now
    return hidden


def _check_missing(
    form: DictionaryForm,
    values: Mapping[str, object],
    missing: Mapping[str, Missing],
    hidden: set[str],
    errors: dict[str, str],
) -> None:
    for name, mark in missing.items():
        try:
            f = form.field(name)
        except KeyError:
            errors[name] = f"{form.title} has no field {name!r}"
            continue
        if name in hidden:
            continue
        if mark.code not in f.missing_codes:
            allowed = ", ".join(f"{c} ({MISSING_CODES[c]})" for c in f.missing_codes) or "none"
            errors[name] = f"{f.label}: missing-data code {mark.code!r} is not allowed ({allowed})"
        elif not mark.reason.strip():
            errors[name] = f"{f.label}: a missing-data code needs its reason"
        elif values.get(name) is not None:
            errors[name] = f"{f.label}: has a value and a missing-data code; keep one"
    for f in form.fields:
        if (
            f.required
            and f.holds_value
            and f.type != "calc"
            and f.name not in hidden
            and values.get(f.name) is None
            and f.name not in missing
            and f.name not in errors
        ):
            errors[f.name] = (
                f"{f.label} is required (or close it with a missing-data code and a reason)"
                if f.missing_codes
                else f"{f.label} is required"
            )


def _out_of_range(f: DictionaryField, value: object, low: str, high: str) -> str | None:
    lower, upper = getattr(f, low), getattr(f, high)
    compared: Any = value
    expected = "the expected " if low.startswith("soft") else ""
    if lower is not None and compared < f.bound(lower):
        return f"{_shown(value)}{_unit(f)} is below {expected}minimum {lower}{_unit(f)}"
    if upper is not None and compared > f.bound(upper):
        return f"{_shown(value)}{_unit(f)} is above {expected}maximum {upper}{_unit(f)}"
    return None


def _unit(f: DictionaryField) -> str:
    return f" {f.unit}" if f.unit else ""


def _shown(value: object) -> str:
    return value.isoformat() if isinstance(value, date | time) else str(value)


def read_value(f: DictionaryField, raw: object) -> object:
    """A field's entered value in its type (None when blank).

    Raises
    ------
    ValueError
        Naming what was expected (the caller adds the field's label).
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()) or raw == []:
        return None
    kind = f.type
    if kind == "integer":
        return _integer(raw)
    if kind == "decimal":
        return _decimal(f, raw)
    if kind == "file":
        return _file(raw)
    if kind in ("text", "notes"):
        # Browsers send a text area's line breaks as CRLF: stored as LF, one canonical form.
        text = str(raw).strip() if kind != "notes" else str(raw).replace("\r\n", "\n")
        if len(text) > f.max_length:
            raise ValueError(f"{len(text)} characters; at most {f.max_length}")
        if f.pattern is not None and re.fullmatch(f.pattern, text) is None:
            raise ValueError(f"{text!r} does not have the expected form ({f.pattern})")
        return text
    if kind == "yesno":
        if isinstance(raw, bool):
            return raw
        answer = _YES.get(str(raw).strip().lower())
        if answer is None:
            raise ValueError(f"{raw!r} is not yes or no")
        return answer
    if kind == "choice":
        code = str(raw).strip()
        if code not in {c.code for c in f.choices}:
            raise ValueError(f"{code!r} is not one of the choices ({_codes(f)})")
        return code
    if kind == "multichoice":
        given = raw if isinstance(raw, list | tuple) else str(raw).split(",")
        codes = [str(c).strip() for c in given if str(c).strip()]
        wrong = [c for c in codes if c not in {c.code for c in f.choices}]
        if wrong:
            raise ValueError(f"{', '.join(map(repr, wrong))} not among the choices ({_codes(f)})")
        return [c.code for c in f.choices if c.code in codes] or None
    return _temporal(kind, raw)


def _codes(f: DictionaryField) -> str:
    return ", ".join(f"{c.code} = {c.label}" for c in f.choices)


def _integer(raw: object) -> int:
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not a whole number")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    text = str(raw).strip()
    if not re.fullmatch(r"[+-]?\d{1,15}", text):
        raise ValueError(f"{text!r} is not a whole number")
    return int(text)


def _decimal(f: DictionaryField, raw: object) -> float:
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not a number")
    text = str(raw).strip().replace(",", ".") if isinstance(raw, str) else repr(raw)
    if isinstance(raw, str) and not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
        raise ValueError(f"{raw!r} is not a number")
    value = float(text) if isinstance(raw, str) else float(raw)  # type: ignore[arg-type]
    if not math.isfinite(value):
        raise ValueError(f"{raw!r} is not a finite number")
    if f.decimals is not None and isinstance(raw, str):
        written = text.split("e")[0].split("E")[0]
        places = len(written.split(".")[1]) if "." in written else 0
        if places > f.decimals:
            raise ValueError(f"{raw} has {places} decimals; at most {f.decimals}")
    return value


def _temporal(kind: str, raw: object) -> object:
    if kind == "date":
        if isinstance(raw, datetime):
            raise ValueError(f"{raw.isoformat()} is a date and time; a date is expected")
        if isinstance(raw, date):
            return raw
        try:
            return date.fromisoformat(str(raw).strip())
        except ValueError:
            raise ValueError(f"{raw!r} is not a date (YYYY-MM-DD)") from None
    if kind == "datetime":
        try:
            moment = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw).strip())
        except ValueError:
            raise ValueError(f"{raw!r} is not a date and time (YYYY-MM-DDTHH:MM)") from None
        if moment.tzinfo is not None:
            # The site's local time, as the source document has it; a zone would make two
            # entries of the same moment compare differently.
            raise ValueError(f"{raw!r} has a time zone; give the local time as on the source")
        return moment
    if isinstance(raw, time):
        return raw
    try:
        return time.fromisoformat(str(raw).strip())
    except ValueError:
        raise ValueError(f"{raw!r} is not a time (HH:MM)") from None


def encode_value(value: object) -> str | None:
    """A typed value as the text stored for it (ISO 8601 for dates and times, codes joined by
    '|' for a multiple choice, 'yes'/'no', numbers as Python writes them)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "|".join(str(v) for v in value)
    return str(value)


def decode_value(f: DictionaryField, text: str | None) -> object:
    """The typed value of a stored text (the inverse of :func:`encode_value`)."""
    if text is None:
        return None
    if f.type == "multichoice":
        return text.split("|") if text else []
    if f.type == "calc":
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return {"yes": True, "no": False}.get(text, text)
    return read_value(f, text)
