"""The built-in forms' declarations: the data dictionary's language, shipped with alstrial.

ALSFRS-R, spirometry, vital signs, laboratory values, the adverse-event checklist, MRI,
administration, visit dates, assessments not done, adverse events, milestones, disposition,
registration and enrolment, and the manufacturing forms (a new batch, the batch record, the
release results, a culture step) keep their typed tables and services, because alstrial scores,
grades and analyses them. Their fields (names, labels, types, units, required, help, choices
and their wording) are declared as data in ``alstrial/data/builtin_forms.toml``, in the same
``[[forms]]`` language a protocol uses for its own forms (:mod:`alstrial.protocol.dictionary`),
and validated by the same model; :mod:`alstrial.web.forms` binds each to its service.

Three keys bind a declaration to alstrial's own code and are known to built-in forms only:
``integer_codes`` (a chosen code is a whole number), ``layout`` (``radio`` shows the choices
with their wording) and ``choices_from`` (the choices come from a catalogue the caller passes:
the laboratory analytes, the MRI regions; or, for ``sites`` and ``arms``, from the study when
the form is shown, the field then being declared as text). ``use = "reason"`` stands for the
shared "reason for the change" field.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, Literal

from pydantic import Field
from pydantic import ValidationError as PydanticValidationError

from alstrial.exceptions import ConfigurationError
from alstrial.protocol.dictionary import Choice, DictionaryField, DictionaryForm, MissingCode

__all__ = [
    "REASON",
    "RUNTIME_SOURCES",
    "BuiltinChoice",
    "BuiltinField",
    "BuiltinForm",
    "load_builtin_forms",
]

#: Choice sources filled in when the form is shown (the user's sites, the protocol's arms,
#: the subjects of the user's sites).
RUNTIME_SOURCES = frozenset({"sites", "arms", "subjects"})

#: The field ``use = "reason"`` stands for.
REASON: dict[str, Any] = {
    "name": "reason",
    "label": "Reason for the change",
    "type": "text",
    "help": "needed when saved data is changed, or the visit or casebook is signed",
}


class BuiltinChoice(Choice):
    """A choice of a built-in form: its code may be a catalogue's own wording (``serology:
    HIV``), which a protocol's codes, kept to letters, digits and ``_.-``, may not."""

    code: str = Field(min_length=1, max_length=120)


class BuiltinField(DictionaryField):
    """A field of a built-in form: a dictionary field, and how alstrial reads its choices."""

    choices: tuple[BuiltinChoice, ...] = ()
    #: A built-in form records an assessment not done with its own form, not field by field.
    missing_codes: tuple[MissingCode, ...] = ()
    integer_codes: bool = False
    layout: Literal["select", "radio"] = "select"
    choices_from: str | None = None


class BuiltinForm(DictionaryForm):
    """A built-in form: a dictionary form, and what binds it to its service."""

    fields: tuple[BuiltinField, ...]
    #: ``batch``: a manufacturing form, entered for a cell-product batch.
    scope: Literal["visit", "subject", "batch"] = "visit"  # type: ignore[assignment]
    assessment: str | None = None
    corrects: bool = False


def load_builtin_forms(
    sources: Mapping[str, Sequence[tuple[str, str]]], text: str | None = None
) -> dict[str, BuiltinForm]:
    """The built-in forms by name, read from ``text`` (default: the shipped declarations).

    ``sources`` maps each catalogue a ``choices_from`` names to its ``(code, wording)``
    choices.

    Raises
    ------
    ConfigurationError
        A declaration that does not validate, or that names a catalogue not given; the
        message names the form and the field.
    """
    if text is None:
        text = resources.files("alstrial.data").joinpath("builtin_forms.toml").read_text("utf-8")
    forms: dict[str, BuiltinForm] = {}
    for entry in tomllib.loads(text)["forms"]:
        name = entry.get("name", "?")
        fields = []
        for declared in entry.get("fields", []):
            if declared.get("use") == "reason":
                fields.append(dict(REASON))
                continue
            declared = dict(declared)
            source = declared.get("choices_from")
            if source is not None and source not in RUNTIME_SOURCES:
                if source not in sources:
                    raise ConfigurationError(
                        f"built-in form {name!r}, field {declared.get('name')!r}: no choice "
                        f"catalogue {source!r}",
                        allowed=", ".join(sorted([*sources, *RUNTIME_SOURCES])),
                    )
                declared["choices"] = [{"code": c, "label": w} for c, w in sources[source]]
            fields.append(declared)
        try:
            forms[name] = BuiltinForm.model_validate(entry | {"fields": fields})
        except PydanticValidationError as error:
            raise ConfigurationError(f"built-in form {name!r}: {error}") from None
    return forms
