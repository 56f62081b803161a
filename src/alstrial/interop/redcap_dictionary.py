"""REDCap data dictionaries to and from alstrial's data dictionary (issue 17, item 4).

:func:`import_redcap_dictionary` reads a REDCap data dictionary (the 18 columns of the
Designer's CSV download, or the API's ``metadata`` names) and returns the forms as protocol
TOML (``[[forms]]`` tables to add to a protocol) with every row, or part of a row, that could
not be translated listed with its row number, field and reason: nothing is dropped silently.
:func:`export_redcap_dictionary` writes a protocol's forms back as a REDCap dictionary, again
listing what REDCap cannot hold.

Translation (REDCap -> alstrial):

========================  =================================================================
REDCap                    alstrial
========================  =================================================================
text (no validation)      text
text integer / number     integer / decimal (number_1dp..4dp: decimals 1..4; the
                          comma-decimal variants: decimal, the comma is accepted on entry)
text date_* / datetime_*  date / datetime (the D-M-Y or M-D-Y display order is REDCap's)
text time                 time
text email, phone, ...    text with a pattern (see :data:`_PATTERNS`)
notes                     notes
dropdown, radio           choice (a dropdown with layout "select", a drop-down list)
checkbox                  multichoice
yesno                     yesno
truefalse                 choice 1 = True, 0 = False
calc                      calc (the expression translated)
slider                    integer 0-100 (or the row's min and max), labels in the help
descriptive               descriptive
file                      file (signature: listed)
sql                       listed, not translated
Section Header            section (a matrix group without one names the section)
Field Note                help
Branching Logic           show_if (translated)
Required Field? = y       required
Text Validation Min/Max   min / max
Identifier? = y           listed and left out: alstrial stores no identifying data
the first field           listed and left out: the record id is alstrial's subject code
========================  =================================================================

Expressions: ``[field]`` -> ``field``, ``[field(code)] = "1"`` -> ``contains(field, "code")``,
``=`` -> ``==``, ``<>`` -> ``!=``, ``^`` -> ``**``, ``datediff([a],[b],"d")`` -> ``days(a, b)``;
a comparison of a yes/no field with 1 or 0 becomes ``true`` or ``false``, and of a choice field
with a number compares the code as text. Anything else REDCap's language has (smart variables,
other events' fields, ``roundup``, ``datediff`` in other units, action tags) is listed.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alstrial.exceptions import ValidationError
from alstrial.protocol.dictionary import DictionaryField, DictionaryForm
from alstrial.protocol.expressions import ExpressionSyntaxError, parse_expression

__all__ = [
    "REDCAP_COLUMNS",
    "RedcapExport",
    "RedcapImport",
    "Untranslated",
    "export_redcap_dictionary",
    "forms_toml",
    "import_redcap_dictionary",
]

#: The 18 columns of a REDCap data dictionary, in order.
REDCAP_COLUMNS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
#: The API's metadata names of the same columns.
_API_NAMES = (
    "field_name",
    "form_name",
    "section_header",
    "field_type",
    "field_label",
    "select_choices_or_calculations",
    "field_note",
    "text_validation_type_or_show_slider_number",
    "text_validation_min",
    "text_validation_max",
    "identifier",
    "branching_logic",
    "required_field",
    "custom_alignment",
    "question_number",
    "matrix_group_name",
    "matrix_ranking",
    "field_annotation",
)
_KEYS = (
    "name",
    "form",
    "section",
    "type",
    "label",
    "choices",
    "note",
    "validation",
    "min",
    "max",
    "identifier",
    "branching",
    "required",
    "alignment",
    "question",
    "matrix",
    "ranking",
    "annotation",
)
#: Text validations kept as a pattern on a text field.
_PATTERNS = {
    "email": r"[^@\s]+@[^@\s]+\.[^@\s]+",
    "phone": r"[0-9()+\-. ]{7,20}",
    "alpha_only": r"[A-Za-z]+",
    "zipcode": r"\d{5}(-\d{4})?",
    "postalcode_canada": r"[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d",
    "postalcode_french": r"\d{5}",
    "postalcode_germany": r"\d{5}",
    "postalcode_australia": r"\d{4}",
    "postalcode_uk": r"[A-Za-z0-9 ]{5,8}",
    "ssn": r"\d{3}-\d{2}-\d{4}",
    "mrn_10d": r"\d{10}",
    "mrn_generic": r"[A-Za-z0-9-]+",
    "vmrn": r"\d{8}",
    "time_mm_ss": r"[0-5]\d:[0-5]\d",
    "time_hh_mm_ss": r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d",
}
_MAX_BYTES = 5_000_000


@dataclass(frozen=True)
class Untranslated:
    """A row, or part of one, that could not be carried across, and why."""

    row: int  # 1-based line of the CSV (the header is line 1)
    field: str
    reason: str


@dataclass(frozen=True)
class RedcapImport:
    """The forms translated (as the ``[[forms]]`` data of a protocol) and what was not."""

    forms: list[dict[str, Any]]
    untranslated: list[Untranslated] = field(default_factory=list)


@dataclass(frozen=True)
class RedcapExport:
    """A REDCap data dictionary (CSV text) and what REDCap cannot hold."""

    csv_text: str
    untranslated: list[Untranslated] = field(default_factory=list)


def _rows(text: str) -> list[dict[str, str]]:
    if len(text.encode("utf-8")) > _MAX_BYTES:
        raise ValidationError(
            f"the data dictionary is larger than {_MAX_BYTES // 1_000_000} MB",
            form="redcap",
        )
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError("the data dictionary is empty", form="redcap") from None
    header = [h.strip() for h in header]
    if tuple(header[:18]) == REDCAP_COLUMNS or tuple(header[:18]) == _API_NAMES:
        names = _KEYS
    else:
        raise ValidationError(
            "not a REDCap data dictionary: the header is not REDCap's 18 columns "
            f"(found {', '.join(header[:4])}...)",
            form="redcap",
            field="header",
            allowed=", ".join(REDCAP_COLUMNS),
        )
    rows = []
    for line, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        padded = [*values, *[""] * (18 - len(values))][:18]
        row = {
            k: ("" if v.strip() == "NA" else v.strip()) for k, v in zip(names, padded, strict=True)
        }
        row["line"] = str(line)
        rows.append(row)
    return rows


def _choices(text: str) -> list[dict[str, str]]:
    """REDCap's ``code, label | code, label``."""
    choices = []
    for part in text.split("|"):
        code, _, label = part.strip().partition(",")
        if code.strip():
            choices.append({"code": code.strip(), "label": label.strip() or code.strip()})
    return choices


def import_redcap_dictionary(
    text: str,
    *,
    scope: str = "subject",
    visit_forms: Iterable[str] = (),
    repeating: Iterable[str] = (),
) -> RedcapImport:
    """Translate a REDCap data dictionary (module docstring).

    ``scope`` is where a form is entered unless named in ``visit_forms`` (REDCap's events are
    not in its dictionary); ``repeating`` names the repeating instruments.

    Raises
    ------
    ValidationError
        Not a REDCap dictionary (the header is not its 18 columns), or larger than 5 MB.
    """
    rows = _rows(text)
    visit_set, repeating_set = set(visit_forms), set(repeating)
    untranslated: list[Untranslated] = []
    forms: dict[str, dict[str, Any]] = {}
    types: dict[str, str] = {}
    for index, row in enumerate(rows):
        name, line = row["name"], int(row["line"])

        def skip(reason: str, *, name: str = name, line: int = line) -> None:
            untranslated.append(Untranslated(line, name, reason))

        if index == 0:
            skip("the record id: alstrial identifies a subject by his study code")
            continue
        if row["identifier"].lower() == "y":
            skip("an identifier in REDCap: alstrial stores no identifying data; left out")
            continue
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or len(name) > 60:
            skip("not a name alstrial takes (a-z, 0-9, _; at most 60); left out")
            continue
        translated = _field(row, skip)
        if translated is None:
            continue
        types[name] = translated["type"]
        form_name = row["form"]
        form = forms.setdefault(
            form_name,
            {
                "name": form_name,
                "title": form_name.replace("_", " ").capitalize(),
                "scope": "visit" if form_name in visit_set else scope,
                "repeating": form_name in repeating_set,
                "fields": [],
            },
        )
        # A section is a heading where it starts; a matrix group without a header starts one.
        matrix = translated.pop("_matrix", None)
        if "section" in translated or matrix != form.get("_matrix"):
            form["_matrix"] = matrix
            if "section" not in translated and matrix:
                translated["section"] = matrix.replace("_", " ")
        form["fields"].append(translated)
        for key, note in (
            ("alignment", "custom alignment (layout only)"),
            ("question", "survey question number"),
            ("annotation", "field annotation / action tags"),
        ):
            if row[key]:
                skip(f"{note} {row[key]!r} not carried across")
        if row["ranking"].lower() == "y":
            skip("matrix ranking not carried across")
    # Expressions need every field's type, so they are translated last.
    for form in forms.values():
        known = {f["name"] for f in form["fields"]}
        for f in form["fields"]:
            for key in ("show_if", "calc"):
                source = f.pop(f"_{key}", None)
                if source is None:
                    continue
                line = f.get("_line", 0)
                try:
                    f[key] = translate_expression(source, types, known)
                except ValueError as error:
                    untranslated.append(Untranslated(line, f["name"], f"{key}: {error}"))
                    if key == "calc":
                        f["type"] = "text"
                        f["help"] = (f.get("help", "") + f" (REDCap calculation: {source})").strip()
            f.pop("_line", None)
    for form in list(forms.values()):
        form.pop("_matrix", None)
        if not form["fields"]:
            untranslated.append(Untranslated(0, form["name"], "no field left: form left out"))
            del forms[form["name"]]
    return RedcapImport(list(forms.values()), untranslated)


def _field(row: Mapping[str, str], skip: Any) -> dict[str, Any] | None:
    kind, validation = row["type"], row["validation"]
    out: dict[str, Any] = {"name": row["name"], "label": _label(row["label"]) or row["name"]}
    if kind == "text":
        out |= _text(validation, row, skip)
    elif kind == "notes":
        out["type"] = "notes"
    elif kind in ("dropdown", "radio", "checkbox"):
        choices = _choices(row["choices"])
        if not choices:
            skip(f"a {kind} field without choices; left out")
            return None
        out["type"] = "multichoice" if kind == "checkbox" else "choice"
        out["choices"] = choices
        if kind == "dropdown":
            out["layout"] = "select"
    elif kind == "yesno":
        out["type"] = "yesno"
    elif kind == "truefalse":
        out["type"] = "choice"
        out["choices"] = [{"code": "1", "label": "True"}, {"code": "0", "label": "False"}]
    elif kind == "calc":
        out["type"] = "calc"
        out["_calc"] = row["choices"]
    elif kind == "slider":
        out["type"] = "integer"
        out["min"] = _number(row["min"]) if row["min"] else 0
        out["max"] = _number(row["max"]) if row["max"] else 100
        labels = [p.strip() for p in row["choices"].split("|") if p.strip()]
        if labels:
            out["help"] = "slider: " + " ... ".join(labels)
        skip("a slider: entered as a whole number in its range")
    elif kind == "descriptive":
        out["type"] = "descriptive"
    elif kind == "file":
        out["type"] = "file"
        if validation == "signature":
            skip("a signature pad: kept as a file field")
    elif kind == "sql":
        skip("a dynamic SQL field: REDCap runs SQL on its own database; left out")
        return None
    else:
        skip(f"unknown field type {kind!r}; left out")
        return None
    if row["section"]:
        out["section"] = _label(row["section"])
    elif row["matrix"]:
        out["_matrix"] = row["matrix"]
    if row["note"]:
        out["help"] = (_label(row["note"]) + " " + out.get("help", "")).strip()
    if row["required"].lower() == "y" and out["type"] not in ("calc", "descriptive"):
        out["required"] = True
    if row["branching"]:
        out["_show_if"] = row["branching"]
    out["_line"] = int(row["line"])
    return out


def _label(text: str) -> str:
    """A label without REDCap's HTML tags."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text)).strip()


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _text(validation: str, row: Mapping[str, str], skip: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    bounds = {k: row[k] for k in ("min", "max") if row[k]}
    if validation == "integer":
        out["type"] = "integer"
    elif validation.startswith("number"):
        out["type"] = "decimal"
        places = re.fullmatch(r"number_(\d)dp(_comma_decimal)?", validation)
        if places:
            out["decimals"] = int(places.group(1))
        if "comma" in validation:
            skip(f"validation {validation}: a decimal (a comma is accepted on entry)")
    elif validation.startswith("date_"):
        out["type"] = "date"
    elif validation.startswith("datetime_"):
        out["type"] = "datetime"
    elif validation == "time":
        out["type"] = "time"
    elif validation in _PATTERNS:
        out["type"] = "text"
        out["pattern"] = _PATTERNS[validation]
    else:
        out["type"] = "text"
        if validation:
            skip(f"text validation {validation!r} unknown to alstrial: plain text")
    for key, value in bounds.items():
        if out["type"] in ("integer", "decimal"):
            try:
                out[key] = _number(value)
            except ValueError:
                skip(f"{key} {value!r} is not a number; left out")
        elif out["type"] in ("date", "datetime", "time"):
            out[key] = value
        else:
            skip(f"{key} {value!r} on text; left out")
    return out


# --- expressions --------------------------------------------------------------------------

_UNSUPPORTED = {
    "roundup",
    "rounddown",
    "median",
    "stdev",
    "year",
    "month",
    "day",
    "isnumber",
    "isinteger",
    "isblankormissingcode",
    "concat",
    "left",
    "right",
    "length",
    "find",
    "mid",
    "upper",
    "lower",
    "trim",
}


def translate_expression(source: str, types: Mapping[str, str], known: set[str]) -> str:
    """A REDCap calculation or branching logic in alstrial's expression language.

    Raises
    ------
    ValueError
        Saying what REDCap's expression uses that alstrial's language has not.
    """
    text = source.strip()
    if re.search(r"\]\s*\[", text):
        raise ValueError(f"refers to another event's field ({text!r})")
    smart = re.search(r"\[([a-z0-9_]+-[a-z0-9_-]+|[a-z0-9_]+:[a-z0-9_:-]+)\]", text, re.I)
    if smart:
        raise ValueError(f"uses the smart variable [{smart.group(1)}]")
    for name in re.findall(r"\b([a-z_]+)\s*\(", text, re.I):
        if name.lower() in _UNSUPPORTED:
            raise ValueError(f"uses {name}(), which alstrial's language does not have")

    def checkbox(match: re.Match[str]) -> str:
        name, code, op, value = match.groups()
        checked = value.strip("\"'") == "1"
        test = f'contains({name}, "{code}")'
        return test if checked == (op == "=") else f"not {test}"

    text = re.sub(
        r"\[([a-z][a-z0-9_]*)\(([^)\]]+)\)\]\s*(=|<>|!=)\s*(\"[01]\"|'[01]'|[01])",
        checkbox,
        text,
        flags=re.I,
    )
    if re.search(r"\[[a-z][a-z0-9_]*\([^)\]]*\)\]", text, re.I):
        raise ValueError("compares a checkbox option other than with 1 or 0")

    def datediff(match: re.Match[str]) -> str:
        a, b, unit = match.group(1), match.group(2), match.group(3).strip("\"'").lower()
        if unit != "d":
            raise ValueError(f'datediff in unit "{unit}" (alstrial counts days)')
        return f"days({a}, {b})"

    text = re.sub(
        r"datediff\s*\(\s*\[([a-z][a-z0-9_]*)\]\s*,\s*\[([a-z][a-z0-9_]*)\]\s*,\s*"
        r"(\"[a-z]+\"|'[a-z]+')[^)]*\)",
        datediff,
        text,
        flags=re.I,
    )
    if "datediff" in text.lower():
        raise ValueError("datediff over something other than two fields")
    text = re.sub(r"\[([a-z][a-z0-9_]*)\]", r"\1", text, flags=re.I)
    text = re.sub(r"\bAND\b", "and", text)
    text = re.sub(r"\bOR\b", "or", text)
    text = text.replace("<>", "!=").replace("^", "**")
    text = re.sub(r"(?<![<>!=])=(?!=)", "==", text)
    text = _typed_comparisons(text, types)
    try:
        expression = parse_expression(text)
    except ExpressionSyntaxError as error:
        raise ValueError(f"{error.message} at position {error.position} of {text!r}") from None
    unknown = sorted(n for n in expression.names if n not in known)
    if unknown:
        raise ValueError(f"refers to {', '.join(unknown)}, not a field of this form")
    return text


def _typed_comparisons(text: str, types: Mapping[str, str]) -> str:
    """``yesno == "1"`` -> ``yesno == true``; ``choice == 1`` -> ``choice == "1"``."""

    def compare(match: re.Match[str]) -> str:
        name, op, value = match.groups()
        bare = value.strip("\"'")
        kind = types.get(name)
        if kind == "yesno" and bare in ("0", "1"):
            return f"{name} {op} {'true' if bare == '1' else 'false'}"
        if kind in ("choice", "multichoice") and not value.startswith(("'", '"')):
            return f'{name} {op} "{bare}"'
        return match.group(0)

    return re.sub(r"\b([a-z][a-z0-9_]*)\s*(==|!=)\s*(\"[^\"]*\"|'[^']*'|-?\d+(?:\.\d+)?)",
                  compare, text)  # fmt: skip


# --- TOML ---------------------------------------------------------------------------------


def forms_toml(forms: Sequence[Mapping[str, Any]]) -> str:
    """``[[forms]]`` tables of a protocol, as TOML text (keys in the dictionary's order)."""
    lines: list[str] = []
    for form in forms:
        lines.append("[[forms]]")
        for key in ("name", "title", "description", "scope", "repeating", "sdtm_domain"):
            if key in form and form[key] not in ("", None):
                lines.append(f"{key} = {_toml_value(form[key])}")
        for f in form["fields"]:
            lines.append("")
            lines.append("[[forms.fields]]")
            for key, value in f.items():
                if key.startswith("_") or value in ("", None, [], ()):
                    continue
                lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: the same escapes
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


# --- export -------------------------------------------------------------------------------


def export_redcap_dictionary(forms: Sequence[DictionaryForm]) -> RedcapExport:
    """A REDCap data dictionary of ``forms`` (the reverse of the import's table), with a
    ``record_id`` first; soft ranges, missing-data codes, patterns without a REDCap
    validation and expressions REDCap cannot say are listed."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REDCAP_COLUMNS)
    writer.writerow(["record_id", forms[0].name if forms else "form", "", "text", "Record ID"]
                    + [""] * 13)  # fmt: skip
    untranslated: list[Untranslated] = []
    line = 2
    patterns = {v: k for k, v in _PATTERNS.items()}
    for form in forms:
        section = None
        for f in form.fields:
            line += 1
            row = dict.fromkeys(_KEYS, "")
            row |= {"name": f.name, "form": form.name, "label": f.label, "note": f.help}
            if f.section and f.section != section:
                row["section"] = section = f.section
            row["type"], row["validation"], row["choices"] = _redcap_type(f, patterns)
            if f.type == "text" and f.pattern and f.pattern not in patterns:
                untranslated.append(Untranslated(line, f.name, f"pattern {f.pattern!r}"))
            for key in ("min", "max"):
                value = getattr(f, key)
                if value is not None:
                    row[key] = str(value)
            for key in ("soft_min", "soft_max"):
                if getattr(f, key) is not None:
                    untranslated.append(
                        Untranslated(line, f.name, f"{key} (REDCap has no soft range)")
                    )
            if f.required:
                row["required"] = "y"
            if f.show_if:
                row["branching"] = _to_redcap(f.show_if, form)
            if f.calc:
                row["choices"] = _to_redcap(f.calc, form)
            writer.writerow([row[k] for k in _KEYS])
        if form.repeating:
            untranslated.append(
                Untranslated(0, form.name, "repeating: set it as a repeating instrument")
            )
    return RedcapExport(out.getvalue(), untranslated)


def _redcap_type(f: DictionaryField, patterns: Mapping[str, str]) -> tuple[str, str, str]:
    """(field type, text validation, choices) of a field in REDCap."""
    choices = " | ".join(f"{c.code}, {c.label}" for c in f.choices)
    match f.type:
        case "integer":
            return "text", "integer", ""
        case "decimal":
            return "text", f"number_{f.decimals}dp" if f.decimals else "number", ""
        case "date":
            return "text", "date_ymd", ""
        case "datetime":
            return "text", "datetime_ymd", ""
        case "time":
            return "text", "time", ""
        case "text":
            return "text", patterns.get(f.pattern or "", ""), ""
        case "choice":
            if choices == "1, True | 0, False":
                return "truefalse", "", ""
            return ("dropdown" if f.layout == "select" else "radio"), "", choices
        case "multichoice":
            return "checkbox", "", choices
        case _:
            return f.type, "", ""


def _to_redcap(text: str, form: DictionaryForm) -> str:
    """An alstrial expression in REDCap's language (the inverse of the import's rules)."""
    names = {f.name for f in form.fields}
    out = re.sub(
        r"(not\s+)?contains\(\s*([a-z][a-z0-9_]*)\s*,\s*\"([^\"]+)\"\s*\)",
        lambda m: f'[{m.group(2)}({m.group(3)})] = "{0 if m.group(1) else 1}"',
        text,
    )
    out = re.sub(r"days\(\s*([a-z][a-z0-9_]*)\s*,\s*([a-z][a-z0-9_]*)\s*\)",
                 r'datediff([\1], [\2], "d")', out)  # fmt: skip
    for name in sorted(names, key=len, reverse=True):
        out = re.sub(rf"(?<![\[\w]){name}(?![\w(\]])", f"[{name}]", out)
    yesno = {f.name for f in form.fields if f.type == "yesno"}
    for name in yesno:
        out = out.replace(f"[{name}] == true", f'[{name}] = "1"')
        out = out.replace(f"[{name}] == false", f'[{name}] = "0"')
        out = out.replace(f"[{name}] != true", f'[{name}] <> "1"')
        out = out.replace(f"[{name}] != false", f'[{name}] <> "0"')
    return out.replace("==", "=").replace("!=", "<>").replace("**", "^")
