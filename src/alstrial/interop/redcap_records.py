"""The trial's forms and their data as a longitudinal REDCap project (issue 19, item 5): the
built-in instruments (:mod:`alstrial.interop.redcap_builtin`) and the protocol's own forms.

A site going back to REDCap needs four files, in the layouts REDCap's own import tools take:

- ``data_dictionary.csv``: the forms
  (:func:`~alstrial.interop.redcap_dictionary.export_redcap_dictionary`);
- ``events.csv``: one event per visit of the protocol, and ``subject`` for the forms entered
  once per subject (``event_name, arm_num, day_offset, offset_min, offset_max,
  unique_event_name``);
- ``instrument_designation.csv``: which form each event collects (``arm_num,
  unique_event_name, form``);
- ``records.csv``: one row per subject and event for the forms that do not repeat, one per
  instance for those that do (``redcap_repeat_instrument``, ``redcap_repeat_instance``),
  a checkbox as one 0/1 column per choice (``field___code``), yes/no as 1/0, dates as
  ``YYYY-MM-DD`` and times of day as ``YYYY-MM-DD HH:MM``.

REDCap computes calculated fields itself and takes no files through a CSV import: their
values are left out and listed, as are values closed with a missing-data code (REDCap's
project-level missing codes are not part of an import file).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from alstrial.interop.redcap_dictionary import Untranslated, export_redcap_dictionary
from alstrial.protocol import Protocol
from alstrial.protocol.dictionary import DictionaryField, DictionaryForm

__all__ = ["RedcapProject", "event_name", "export_redcap_project"]

#: The event of the forms entered once per subject.
SUBJECT_EVENT = "subject_arm_1"
_FIXED = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"]


@dataclass(frozen=True)
class RedcapProject:
    """The four files' text, and what could not be carried over (row, field, why)."""

    dictionary: str
    events: str
    designation: str
    records: str
    untranslated: tuple[Untranslated, ...]


def event_name(visit: str) -> str:
    """A visit's unique event name as REDCap makes it: the label in lower case, every run of
    other characters an underscore, and the arm (``W-6`` -> ``w_6_arm_1``)."""
    return re.sub(r"[^a-z0-9]+", "_", visit.lower()).strip("_") + "_arm_1"


def _checkbox(name: str, code: str) -> str:
    return f"{name}___{re.sub(r'[^a-z0-9]+', '_', code.lower())}"


def _columns(f: DictionaryField) -> list[str]:
    if f.type == "multichoice":
        return [_checkbox(f.name, c.code) for c in f.choices]
    return [f.name]


def _carried(f: DictionaryField) -> bool:
    return f.holds_value and f.type not in ("calc", "file")


def _value(f: DictionaryField, text: str) -> str:
    if f.type == "yesno":
        return {"yes": "1", "no": "0"}.get(text, text)
    if f.type == "datetime":
        return text.replace("T", " ")[:16]
    return text


def export_redcap_project(
    protocol: Protocol,
    frame: pd.DataFrame,
    builtin: Sequence[DictionaryForm] = (),
    assessments: Mapping[str, str] | None = None,
) -> RedcapProject:
    """The REDCap project of ``protocol``'s forms, after the ``builtin`` instruments (the
    visit form that collects each assessment named in ``assessments``), with the values of
    ``frame`` (the analysis frames' ``forms`` table and the built-in instruments' rows: one
    row per subject, form, visit, instance and field)."""
    forms, renamed = _unique_names({f.name: f for f in (*builtin, *protocol.forms)})
    dictionary = export_redcap_dictionary(list(forms.values()))
    untranslated = list(dictionary.untranslated)
    untranslated += [
        Untranslated(0, f"{form}.{old}", f"renamed {new}: REDCap names a variable once")
        for (form, old), new in renamed.items()
    ]
    events, designation = _events(protocol, forms, assessments or {})
    columns = list(_FIXED)
    for form in forms.values():
        for f in form.fields:
            if _carried(f):
                columns += _columns(f)
            elif f.type in ("calc", "file"):
                why = (
                    "calculated by REDCap"
                    if f.type == "calc"
                    else "REDCap's data import takes no files: upload them from files/ "
                    "(export --with-files; attachments.csv names each record's file)"
                )
                untranslated.append(Untranslated(0, f"{form.name}.{f.name}", why))
    rows: dict[tuple[str, str, str, int], dict[str, str]] = {}
    missing = 0
    for item in frame.to_dict("records"):
        if str(item["form"]) not in forms:
            continue
        form = forms[str(item["form"])]
        name = str(item["field"])
        try:
            f = form.field(renamed.get((form.name, name), name))
        except KeyError:  # a field an amendment removed: not in this dictionary
            continue
        if not _carried(f):
            continue
        if isinstance(item["missing_code"], str) and item["missing_code"]:
            missing += 1
            continue
        visit = item["visit"] if isinstance(item["visit"], str) and item["visit"] else None
        event = event_name(visit) if visit else SUBJECT_EVENT
        instance = int(item["instance"])
        key = (str(item["subject"]), event, form.name if form.repeating else "", instance)
        row = rows.setdefault(key, {})
        text = "" if item["value"] is None or item["value"] != item["value"] else str(item["value"])
        if f.type == "multichoice":
            chosen = set(text.split("|")) if text else set()
            for choice in f.choices:
                row[_checkbox(f.name, choice.code)] = "1" if choice.code in chosen else "0"
        else:
            row[f.name] = _value(f, text)
    if missing:
        untranslated.append(
            Untranslated(0, "records", f"{missing} value(s) closed with a missing-data code")
        )
    records = _merged(rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", restval="")
    writer.writeheader()
    for (subject, event, instrument, instance), values in records:
        writer.writerow(
            {
                "record_id": subject,
                "redcap_event_name": event,
                "redcap_repeat_instrument": instrument,
                "redcap_repeat_instance": str(instance) if instrument else "",
            }
            | values
        )
    return RedcapProject(
        dictionary.csv_text, events, designation, out.getvalue(), tuple(untranslated)
    )


def _unique_names(
    forms: dict[str, DictionaryForm],
) -> tuple[dict[str, DictionaryForm], dict[tuple[str, str], str]]:
    """The forms with every field name that more than one form uses renamed
    ``<form>_<field>`` (in its form's expressions too), and the renamings."""
    seen: dict[str, int] = {}
    for form in forms.values():
        for f in form.fields:
            seen[f.name] = seen.get(f.name, 0) + 1
    renamed: dict[tuple[str, str], str] = {}
    out: dict[str, DictionaryForm] = {}
    for name, form in forms.items():
        mapping = {f.name: f"{name}_{f.name}" for f in form.fields if seen[f.name] > 1}
        if not mapping:
            out[name] = form
            continue
        renamed.update({(name, old): new for old, new in mapping.items()})
        fields = [
            f.model_copy(
                update={
                    "name": mapping.get(f.name, f.name),
                    "show_if": _renamed(f.show_if, mapping),
                    "calc": _renamed(f.calc, mapping),
                }
            )
            for f in form.fields
        ]
        out[name] = form.model_copy(update={"fields": tuple(fields)})
    return out, renamed


def _renamed(expression: str | None, mapping: Mapping[str, str]) -> str | None:
    """``expression`` with each field name of ``mapping`` replaced, outside quoted text."""
    if expression is None:
        return None
    parts = re.split(r"(\"[^\"]*\"|'[^']*')", expression)
    pattern = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, mapping)) + r")(?![\w])")
    return "".join(
        part if i % 2 else pattern.sub(lambda m: mapping[m.group(1)], part)
        for i, part in enumerate(parts)
    )


def _merged(
    rows: dict[tuple[str, str, str, int], dict[str, str]],
) -> list[tuple[tuple[str, str, str, int], dict[str, str]]]:
    """Rows in record, event, instrument and instance order; the forms that do not repeat
    share one row per record and event."""
    merged: dict[tuple[str, str, str, int], dict[str, str]] = {}
    for (subject, event, instrument, instance), values in rows.items():
        key = (subject, event, instrument, instance if instrument else 0)
        merged.setdefault(key, {}).update(values)
    return sorted(merged.items())


def _events(
    protocol: Protocol, forms: dict[str, DictionaryForm], assessments: Mapping[str, str]
) -> tuple[str, str]:
    events = io.StringIO()
    writer = csv.writer(events, lineterminator="\n")
    writer.writerow(
        ["event_name", "arm_num", "day_offset", "offset_min", "offset_max", "unique_event_name"]
    )
    designation = io.StringIO()
    mapping = csv.writer(designation, lineterminator="\n")
    mapping.writerow(["arm_num", "unique_event_name", "form"])
    subject_forms = [f.name for f in forms.values() if f.scope == "subject"]
    if subject_forms:
        writer.writerow(["subject", "1", "0", "0", "0", SUBJECT_EVENT])
        for name in subject_forms:
            mapping.writerow(["1", SUBJECT_EVENT, name])
    for visit in protocol.visits:
        name = event_name(visit.code)
        writer.writerow(
            [visit.code, "1", str(visit.day), str(visit.window_before),
             str(visit.window_after), name]
        )  # fmt: skip
        for assessment in visit.assessments:
            form = assessments.get(assessment, assessment)
            if form in forms and forms[form].scope == "visit":
                mapping.writerow(["1", name, form])
    return events.getvalue(), designation.getvalue()
