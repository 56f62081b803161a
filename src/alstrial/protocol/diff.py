"""What an amendment changes, and what that means for the data already stored.

:func:`protocol_diff` compares two protocols' data dictionaries and visit schedules and says,
for each change, what becomes of stored values (an amendment never rewrites them: each form
instance keeps the version it was checked against, and a correction is checked against the
version current when it is made).
"""

from __future__ import annotations

from dataclasses import dataclass

from alstrial.protocol.dictionary import DictionaryField, DictionaryForm
from alstrial.protocol.model import Protocol

__all__ = ["Change", "protocol_diff"]


@dataclass(frozen=True)
class Change:
    """One difference: where (form, field or visit), what changed, and what it means."""

    where: str
    what: str
    consequence: str


_COMPARED = (
    "type",
    "label",
    "required",
    "unit",
    "decimals",
    "max_length",
    "pattern",
    "min",
    "max",
    "soft_min",
    "soft_max",
    "show_if",
    "calc",
    "missing_codes",
)


def protocol_diff(old: Protocol, new: Protocol) -> list[Change]:
    """The changes from ``old`` to ``new`` in forms, fields and the visit schedule."""
    changes: list[Change] = []
    old_forms = {f.name: f for f in old.forms}
    new_forms = {f.name: f for f in new.forms}
    for name in sorted(set(old_forms) - set(new_forms)):
        changes.append(
            Change(
                f"form {name}",
                "removed",
                "stored instances are kept and exported; the form can no longer be entered",
            )
        )
    for name in sorted(set(new_forms) - set(old_forms)):
        form = new_forms[name]
        changes.append(
            Change(
                f"form {name}",
                f"added ({form.scope} level{', repeating' if form.repeating else ''}, "
                f"{len(form.fields)} fields)",
                "nothing stored changes; subjects enter it from now on",
            )
        )
    for name in sorted(set(old_forms) & set(new_forms)):
        changes.extend(_form_changes(old_forms[name], new_forms[name]))
    changes.extend(_schedule_changes(old, new))
    return changes


def _form_changes(old: DictionaryForm, new: DictionaryForm) -> list[Change]:
    changes: list[Change] = []
    where = f"form {new.name}"
    for key in ("scope", "repeating"):
        before, after = getattr(old, key), getattr(new, key)
        if before != after:
            changes.append(
                Change(
                    where,
                    f"{key}: {before} -> {after}",
                    "stored instances keep where they were entered; new ones follow the change",
                )
            )
    old_fields = {f.name: f for f in old.fields}
    new_fields = {f.name: f for f in new.fields}
    for name in [f.name for f in old.fields if f.name not in new_fields]:
        changes.append(
            Change(
                f"{where}, field {name}",
                "removed",
                "stored values are kept (audit trail, exports) and no longer shown on the form",
            )
        )
    for name in [f.name for f in new.fields if f.name not in old_fields]:
        field = new_fields[name]
        consequence = (
            "stored instances have no value for it: a correction of one must fill it or "
            "close it with a missing-data code"
            if field.required and field.holds_value
            else "stored instances have no value for it"
        )
        changes.append(Change(f"{where}, field {name}", f"added ({field.type})", consequence))
    for name in [f.name for f in new.fields if f.name in old_fields]:
        changes.extend(_field_changes(where, old_fields[name], new_fields[name]))
    return changes


def _field_changes(where: str, old: DictionaryField, new: DictionaryField) -> list[Change]:
    changes: list[Change] = []
    at = f"{where}, field {new.name}"
    for key in _COMPARED:
        before, after = getattr(old, key), getattr(new, key)
        if before == after:
            continue
        changes.append(Change(at, f"{key}: {before!r} -> {after!r}", _consequence(key, new)))
    old_codes = {c.code: c.label for c in old.choices}
    new_codes = {c.code: c.label for c in new.choices}
    for code in sorted(set(old_codes) - set(new_codes)):
        changes.append(
            Change(
                at,
                f"choice {code!r} ({old_codes[code]}) removed",
                "stored values with this code are kept; new entries cannot choose it",
            )
        )
    for code in sorted(set(new_codes) - set(old_codes)):
        changes.append(
            Change(at, f"choice {code!r} ({new_codes[code]}) added", "nothing stored changes")
        )
    for code in sorted(set(old_codes) & set(new_codes)):
        if old_codes[code] != new_codes[code]:
            changes.append(
                Change(
                    at,
                    f"choice {code!r} reworded: {old_codes[code]!r} -> {new_codes[code]!r}",
                    "stored codes are kept and now read with the new wording",
                )
            )
    return changes


def _consequence(key: str, field: DictionaryField) -> str:
    if key == "type":
        return "stored values keep their text; a correction must give a value of the new type"
    if key in ("min", "max", "pattern", "max_length", "decimals"):
        return "stored values are kept even outside the new rule; a correction must meet it"
    if key in ("soft_min", "soft_max"):
        return "stored values are kept; a correction outside the new soft range is confirmed"
    if key == "required":
        return (
            "stored instances without a value are kept; a correction must fill it or close it "
            "with a missing-data code"
            if field.required
            else "nothing stored changes"
        )
    if key == "calc":
        return "stored calculated values are kept; a correction recalculates with the new rule"
    if key == "show_if":
        return "stored values are kept; a correction clears the field where it is now hidden"
    if key == "missing_codes":
        return "stored codes are kept; a correction may use only the new ones"
    return "nothing stored changes"


def _schedule_changes(old: Protocol, new: Protocol) -> list[Change]:
    changes: list[Change] = []
    old_visits = {v.code: v for v in old.visits}
    for visit in new.visits:
        before = old_visits.get(visit.code)
        if before is None:
            continue
        for name in [a for a in visit.assessments if a not in before.assessments]:
            changes.append(
                Change(
                    f"visit {visit.code}",
                    f"schedules {name}",
                    "visits held before are incomplete until it is entered or marked not done",
                )
            )
        for name in [a for a in before.assessments if a not in visit.assessments]:
            changes.append(
                Change(
                    f"visit {visit.code}",
                    f"no longer schedules {name}",
                    "stored records are kept; the visit no longer waits for it",
                )
            )
    return changes
