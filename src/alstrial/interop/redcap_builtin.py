"""The built-in instruments in the REDCap project: ALSFRS-R, spirometry, vital signs,
laboratory values, the administration, adverse events, milestones and the disposition.

Each is the built-in form as declared (``alstrial/data/builtin_forms.toml``, the same
declaration the web's form is built from), with its values read from the typed table the
service saved. REDCap wants every variable name once in a project, and the built-in forms
share names (``assessment_date`` is in both the ALSFRS-R and spirometry), so each field is
named after its form: ``alsfrs_item_1``, ``spirometry_fvc_litres``. The web's "reason for
the change" is not carried: the audit trail keeps it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.protocol.builtin_forms import REASON, BuiltinForm
from alstrial.protocol.dictionary import DictionaryField, DictionaryForm
from alstrial.services.builtin_forms import BUILTIN_FORMS
from alstrial.store.base import Base
from alstrial.store.models import (
    Administration,
    AdverseEvent,
    AlsfrsAssessment,
    Disposition,
    LabResult,
    Milestone,
    ProductBatch,
    Spirometry,
    Subject,
    Visit,
    VitalSigns,
)

__all__ = ["BuiltinInstruments", "builtin_instruments"]


@dataclass(frozen=True)
class _Instrument:
    model: type[Base]
    repeating: bool
    #: Fields whose value is not the column of the same name.
    read: Mapping[str, Callable[[Any, Mapping[int, str]], object]]


_INSTRUMENTS: dict[str, _Instrument] = {
    "alsfrs": _Instrument(AlsfrsAssessment, False, {}),
    "spirometry": _Instrument(Spirometry, False, {}),
    "vitals": _Instrument(VitalSigns, True, {}),
    "lab": _Instrument(
        LabResult,
        True,
        {"value": lambda r, _: r.value_entered, "unit": lambda r, _: r.unit_entered},
    ),
    "administration": _Instrument(
        Administration, False, {"product_batch": lambda r, batches: batches[r.product_batch_id]}
    ),
    "adverse_event": _Instrument(
        AdverseEvent, True, {"seriousness": lambda r, _: "|".join(r.seriousness or [])}
    ),
    "milestone": _Instrument(Milestone, True, {}),
    "disposition": _Instrument(Disposition, False, {}),
}


@dataclass(frozen=True)
class BuiltinInstruments:
    """The instruments as forms (fields named after their form), the assessment each visit
    form collects, and their values as rows of the forms frame's layout."""

    forms: tuple[DictionaryForm, ...]
    assessments: dict[str, str]
    values: pd.DataFrame


def _form(name: str, declared: BuiltinForm, repeating: bool) -> DictionaryForm:
    fields = tuple(
        f.model_copy(update={"name": f"{name}_{f.name}"})
        for f in declared.fields
        if not _change_reason(f)
    )
    return DictionaryForm.model_validate(
        {
            "name": name,
            "title": declared.title,
            "description": declared.description,
            "scope": declared.scope,
            "repeating": repeating,
            "fields": [_as_dictionary_field(f) for f in fields],
        }
    )


def _as_dictionary_field(f: DictionaryField) -> dict[str, object]:
    """A built-in field as a protocol's field: its keys a protocol knows, with the layout
    only where a protocol's field has one (a choice: drop-down list or radio buttons)."""
    dumped = f.model_dump(include=set(DictionaryField.model_fields))
    if f.type != "choice":
        dumped.pop("layout", None)
    return dumped


def _change_reason(f: DictionaryField) -> bool:
    """The web's "reason for the change" (not data: the audit trail keeps it)."""
    return bool(f.name == REASON["name"] and f.label == REASON["label"])


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def builtin_instruments(session: Session) -> BuiltinInstruments:
    """The built-in instruments with their values (module docstring)."""
    forms = []
    assessments = {}
    codes = {s.id: s.study_code for s in session.scalars(select(Subject))}
    visits = {v.id: v.code for v in session.scalars(select(Visit))}
    batches = {b.id: b.batch_code for b in session.scalars(select(ProductBatch))}
    rows: list[dict[str, object]] = []
    for name, instrument in _INSTRUMENTS.items():
        declared = BUILTIN_FORMS[name]
        form = _form(name, declared, instrument.repeating)
        forms.append(form)
        if declared.assessment:
            assessments[declared.assessment] = name
        table = instrument.model
        counters: dict[tuple[int, int | None], int] = defaultdict(int)
        for record in session.scalars(select(table).order_by(table.id)):  # type: ignore[attr-defined]
            subject_id: int = getattr(record, "subject_id")  # noqa: B009  (every instrument's)
            visit_id = getattr(record, "visit_id", None)
            key = (subject_id, visit_id)
            counters[key] += 1
            for f in declared.fields:
                if _change_reason(f):
                    continue
                reader = instrument.read.get(f.name)
                if reader is not None:
                    value = reader(record, batches)
                elif hasattr(record, f.name):
                    value = getattr(record, f.name)
                else:
                    continue
                text = _text(value)
                if text is None:
                    continue
                rows.append(
                    {
                        "subject": codes[subject_id],
                        "form": name,
                        "visit": visits.get(visit_id) if visit_id is not None else None,
                        "instance": counters[key],
                        "field": f"{name}_{f.name}",
                        "value": text,
                        "missing_code": None,
                        "provenance": str(getattr(record, "provenance", "source")),
                    }
                )
    columns = [
        "subject",
        "form",
        "visit",
        "instance",
        "field",
        "value",
        "missing_code",
        "provenance",
    ]
    return BuiltinInstruments(tuple(forms), assessments, pd.DataFrame(rows, columns=columns))
