"""CDISC ODM 1.3.2 study metadata: the protocol's own forms out as ODM, and ODM metadata in as
the protocol's ``[[forms]]``.

Export (:func:`metadata_version`): one ``StudyEventDef`` per visit (and ``SE.SUBJECT`` for
the forms entered once per subject) with the forms it schedules; one ``FormDef`` with one
``ItemGroupDef`` per dictionary form; one ``ItemDef`` per field with its question, unit, hard
and soft ranges (``RangeCheck``), code list, calculation (``MethodDef``) and branching
(``ConditionDef``; ODM's condition says when an item is *not* collected, so it holds
``not (show_if)``). What ODM has no element for is carried in standard ``Alias`` elements:
the field type (context ``alstrial:type``), section, pattern, missing-data codes and the SDTM
variable (context ``SDTM``, as CDASH metadata do). Nothing uses vendor extensions, so the
document validates against the ODM 1.3.2 schema.

Import (:func:`import_odm_metadata`): the ``FormDef`` elements of a ``MetaDataVersion`` become
dictionary forms, their item groups' items the fields, in order. A document alstrial wrote
comes back exactly (export, import and export again give the same metadata); another
system's is translated as far as ODM allows, and what cannot be (expressions in another
language, comparators alstrial has no range for, codes it cannot store) is listed with the
element and the reason.

References
----------
CDISC. *Operational Data Model (ODM) Specification*, version 1.3.2. CDISC, 2013.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from alstrial.exceptions import ValidationError
from alstrial.protocol import Protocol
from alstrial.protocol.dictionary import DictionaryField, DictionaryForm

__all__ = [
    "ODM_NS",
    "OdmImport",
    "OdmUntranslated",
    "import_odm_metadata",
    "metadata_version",
    "parse_odm",
    "protocol_metadata_document",
    "protocol_with_forms",
    "study_element",
    "xml_document",
]

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
_O = f"{{{ODM_NS}}}"
_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
SUBJECT_EVENT = "SE.SUBJECT"
_MAX_BYTES = 20_000_000

ET.register_namespace("", ODM_NS)

#: A field type as ODM's DataType.
_DATA_TYPE = {
    "integer": "integer",
    "decimal": "float",
    "text": "text",
    "notes": "text",
    "date": "date",
    "datetime": "datetime",
    "time": "time",
    "yesno": "boolean",
    "choice": "text",
    "multichoice": "text",
    "calc": "float",
    "descriptive": "text",
    "file": "text",
}
#: ODM's DataType as a field type, for documents alstrial did not write.
_FIELD_TYPE = {
    "integer": "integer",
    "float": "decimal",
    "double": "decimal",
    "text": "text",
    "string": "text",
    "date": "date",
    "partialDate": "text",
    "datetime": "datetime",
    "partialDatetime": "text",
    "time": "time",
    "partialTime": "text",
    "boolean": "yesno",
}


def _translated(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, f"{_O}{tag}")
    ET.SubElement(element, f"{_O}TranslatedText", {_LANG: "en"}).text = text
    return element


def _alias(parent: ET.Element, context: str, name: str) -> None:
    ET.SubElement(parent, f"{_O}Alias", {"Context": context, "Name": name})


def _bound(value: object) -> str:
    return str(value)


def _unit_oid(unit: str) -> str:
    return "MU." + re.sub(r"[^A-Za-z0-9]+", "_", unit).strip("_")


def units_of(forms: Sequence[DictionaryForm]) -> list[str]:
    """Every unit the forms' fields name, in first-seen order (``BasicDefinitions``)."""
    seen: dict[str, None] = {}
    for form in forms:
        for f in form.fields:
            if f.unit:
                seen.setdefault(f.unit)
    return list(seen)


def basic_definitions(study: ET.Element, forms: Sequence[DictionaryForm]) -> None:
    units = units_of(forms)
    if not units:
        return
    basic = ET.SubElement(study, f"{_O}BasicDefinitions")
    for unit in units:
        element = ET.SubElement(
            basic, f"{_O}MeasurementUnit", {"OID": _unit_oid(unit), "Name": unit}
        )
        _translated(element, "Symbol", unit)


def metadata_version(parent: ET.Element, protocol: Protocol, oid: str) -> ET.Element:
    """Append the ``MetaDataVersion`` of the protocol's own forms to ``parent`` (a
    ``Study``), in the schema's order of elements (module docstring)."""
    forms = protocol.forms
    mdv = ET.SubElement(
        parent,
        f"{_O}MetaDataVersion",
        {"OID": oid, "Name": f"{protocol.study.code} protocol {protocol.study.protocol_version}"},
    )
    declared = {f.name for f in forms}
    events: list[tuple[str, str, list[str]]] = [
        (f"SE.{v.code}", v.label, [a for a in v.assessments if a in declared])
        for v in protocol.visits
    ]
    subject_forms = [f.name for f in forms if f.scope == "subject"]
    if subject_forms:
        events.append((SUBJECT_EVENT, "Subject-level forms", subject_forms))
    events = [e for e in events if e[2]]
    plan = ET.SubElement(mdv, f"{_O}Protocol")
    for order, (event_oid, _, _) in enumerate(events, start=1):
        ET.SubElement(
            plan,
            f"{_O}StudyEventRef",
            {"StudyEventOID": event_oid, "OrderNumber": str(order), "Mandatory": "No"},
        )
    for event_oid, label, names in events:
        event = ET.SubElement(
            mdv,
            f"{_O}StudyEventDef",
            {
                "OID": event_oid,
                "Name": label,
                "Repeating": "No",
                "Type": "Common" if event_oid == SUBJECT_EVENT else "Scheduled",
            },
        )
        for order, name in enumerate(names, start=1):
            ET.SubElement(
                event,
                f"{_O}FormRef",
                {"FormOID": f"F.{name}", "OrderNumber": str(order), "Mandatory": "No"},
            )
    for form in forms:
        element = ET.SubElement(
            mdv,
            f"{_O}FormDef",
            {"OID": f"F.{form.name}", "Name": form.title, "Repeating": _yes(form.repeating)},
        )
        if form.description:
            _translated(element, "Description", form.description)
        ET.SubElement(
            element,
            f"{_O}ItemGroupRef",
            {"ItemGroupOID": f"IG.{form.name}", "Mandatory": "Yes", "OrderNumber": "1"},
        )
        _alias(element, "alstrial:scope", form.scope)
        if form.sdtm_domain:
            _alias(element, "SDTM", form.sdtm_domain)
    for form in forms:
        group = ET.SubElement(
            mdv,
            f"{_O}ItemGroupDef",
            {"OID": f"IG.{form.name}", "Name": form.title, "Repeating": "No"},
        )
        for order, f in enumerate(form.fields, start=1):
            attributes = {
                "ItemOID": _item_oid(form, f),
                "OrderNumber": str(order),
                "Mandatory": _yes(f.required),
            }
            if f.calc is not None:
                attributes["MethodOID"] = f"MT.{form.name}.{f.name}"
            if f.show_if is not None:
                attributes["CollectionExceptionConditionOID"] = f"CD.{form.name}.{f.name}"
            ET.SubElement(group, f"{_O}ItemRef", attributes)
    for form in forms:
        for f in form.fields:
            _item_def(mdv, form, f)
    for form in forms:
        for f in form.fields:
            if f.choices:
                code_list = ET.SubElement(
                    mdv,
                    f"{_O}CodeList",
                    {"OID": f"CL.{form.name}.{f.name}", "Name": f.label[:200], "DataType": "text"},
                )
                for order, choice in enumerate(f.choices, start=1):
                    item = ET.SubElement(
                        code_list,
                        f"{_O}CodeListItem",
                        {"CodedValue": choice.code, "OrderNumber": str(order)},
                    )
                    _translated(item, "Decode", choice.label)
    for form in forms:
        for f in form.fields:
            if f.show_if is not None:
                condition = ET.SubElement(
                    mdv, f"{_O}ConditionDef", {"OID": f"CD.{form.name}.{f.name}", "Name": f.name}
                )
                _translated(condition, "Description", f"Not collected unless {f.show_if}")
                expression = ET.SubElement(
                    condition, f"{_O}FormalExpression", {"Context": "alstrial"}
                )
                expression.text = f"not ({f.show_if})"
    for form in forms:
        for f in form.fields:
            if f.calc is not None:
                method = ET.SubElement(
                    mdv,
                    f"{_O}MethodDef",
                    {"OID": f"MT.{form.name}.{f.name}", "Name": f.name, "Type": "Computation"},
                )
                _translated(method, "Description", f"{f.label} = {f.calc}")
                expression = ET.SubElement(method, f"{_O}FormalExpression", {"Context": "alstrial"})
                expression.text = f.calc
    return mdv


def _yes(flag: bool) -> str:
    return "Yes" if flag else "No"


def _item_oid(form: DictionaryForm, f: DictionaryField) -> str:
    return f"I.{form.name}.{f.name}"


def _item_def(mdv: ET.Element, form: DictionaryForm, f: DictionaryField) -> None:
    attributes = {"OID": _item_oid(form, f), "Name": f.name, "DataType": _DATA_TYPE[f.type]}
    if f.type in ("text", "notes"):
        attributes["Length"] = str(f.max_length)
    if f.decimals is not None:
        attributes["SignificantDigits"] = str(f.decimals)
    item = ET.SubElement(mdv, f"{_O}ItemDef", attributes)
    if f.help:
        _translated(item, "Description", f.help)
    _translated(item, "Question", f.label)
    if f.unit:
        ET.SubElement(item, f"{_O}MeasurementUnitRef", {"MeasurementUnitOID": _unit_oid(f.unit)})
    for bound, comparator, hardness in (
        (f.min, "GE", "Hard"),
        (f.max, "LE", "Hard"),
        (f.soft_min, "GE", "Soft"),
        (f.soft_max, "LE", "Soft"),
    ):
        if bound is not None:
            check = ET.SubElement(
                item, f"{_O}RangeCheck", {"Comparator": comparator, "SoftHard": hardness}
            )
            ET.SubElement(check, f"{_O}CheckValue").text = _bound(bound)
    if f.choices:
        ET.SubElement(item, f"{_O}CodeListRef", {"CodeListOID": f"CL.{form.name}.{f.name}"})
    _alias(item, "alstrial:type", f.type)
    if f.section:
        _alias(item, "alstrial:section", f.section)
    if f.pattern is not None:
        _alias(item, "alstrial:pattern", f.pattern)
    _alias(item, "alstrial:missing_codes", " ".join(f.missing_codes) or "none")
    if f.sdtm:
        _alias(item, "SDTM", f.sdtm)


# --- import -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OdmUntranslated:
    """An element, or part of one, that could not be carried across, and why."""

    element: str
    reason: str


@dataclass(frozen=True)
class OdmImport:
    """The forms (``[[forms]]`` data), the visits' forms by visit code (from the study
    events ``SE.<visit>``) and what could not be translated."""

    forms: list[dict[str, Any]]
    schedule: dict[str, list[str]] = field(default_factory=dict)
    untranslated: list[OdmUntranslated] = field(default_factory=list)


def parse_odm(data: bytes) -> ET.Element:
    """The root of an ODM document; refused when too large, not XML, carrying a DOCTYPE
    (entity expansion) or not in the ODM 1.3 namespace.

    Raises
    ------
    ValidationError
        Naming what is wrong with the document.
    """
    if len(data) > _MAX_BYTES:
        raise ValidationError(
            f"the ODM document is {len(data):,} bytes; at most {_MAX_BYTES:,} are read",
            field="odm",
        )
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data:
        raise ValidationError("the ODM document declares a DOCTYPE or entities", field="odm")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as error:
        raise ValidationError(
            f"the ODM document is not well-formed XML: {error}", field="odm"
        ) from None
    if root.tag != f"{_O}ODM":
        raise ValidationError(
            f"the root element is {root.tag}, not ODM 1.3's ODM", field="odm", value=root.tag
        )
    return root


def _text_of(element: ET.Element | None, tag: str) -> str:
    if element is None:
        return ""
    holder = element.find(f"{_O}{tag}")
    if holder is None:
        return ""
    texts = holder.findall(f"{_O}TranslatedText")
    chosen = next((t for t in texts if (t.get(_LANG) or "en").startswith("en")), None)
    chosen = chosen if chosen is not None else (texts[0] if texts else None)
    return (chosen.text or "").strip() if chosen is not None else ""


def _aliases(element: ET.Element) -> dict[str, str]:
    return {a.get("Context", ""): a.get("Name", "") for a in element.findall(f"{_O}Alias")}


def _slug(text: str, prefix: str) -> str:
    name = text.removeprefix(prefix) if text.startswith(prefix) else text
    name = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"f_{name}"
    return name[:60]


def _number(text: str) -> int | float | str:
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


def import_odm_metadata(data: bytes, version: str | None = None) -> OdmImport:
    """The forms of the ``MetaDataVersion`` with OID ``version`` (default: the first) of an
    ODM document (module docstring).

    Raises
    ------
    ValidationError
        A document that :func:`parse_odm` refuses, or one without that metadata version.
    """
    root = parse_odm(data)
    versions = root.findall(f"{_O}Study/{_O}MetaDataVersion")
    mdv = next((m for m in versions if version is None or m.get("OID") == version), None)
    if mdv is None:
        raise ValidationError(
            "the ODM document has no MetaDataVersion" + (f" {version!r}" if version else ""),
            field="odm",
            allowed=", ".join(str(m.get("OID")) for m in versions),
        )
    units = {
        u.get("OID", ""): _text_of(u, "Symbol") or u.get("Name", "")
        for u in root.iter(f"{_O}MeasurementUnit")
    }
    defs = {
        tag: {e.get("OID"): e for e in mdv.findall(f"{_O}{tag}")}
        for tag in ("ItemGroupDef", "ItemDef", "CodeList", "ConditionDef", "MethodDef", "FormDef")
    }
    lost: list[OdmUntranslated] = []
    forms: list[dict[str, Any]] = []
    form_names: dict[str, str] = {}
    for form_def in mdv.findall(f"{_O}FormDef"):
        oid = form_def.get("OID", "")
        name = _slug(oid, "F.")
        if name in form_names.values():
            name = f"{name}_{len(forms) + 1}"[:60]
        form_names[oid] = name
        aliases = _aliases(form_def)
        fields: list[dict[str, Any]] = []
        for group_ref in form_def.findall(f"{_O}ItemGroupRef"):
            group = defs["ItemGroupDef"].get(group_ref.get("ItemGroupOID"))
            if group is None:
                lost.append(
                    OdmUntranslated(oid, f"item group {group_ref.get('ItemGroupOID')} undefined")
                )
                continue
            section = "" if group.get("OID") == f"IG.{name}" else group.get("Name", "")
            for ref in group.findall(f"{_O}ItemRef"):
                item = defs["ItemDef"].get(ref.get("ItemOID"))
                if item is None:
                    lost.append(OdmUntranslated(oid, f"item {ref.get('ItemOID')} undefined"))
                    continue
                entry = _field(item, ref, section, units, defs, lost)
                if entry is not None:
                    taken = {f["name"] for f in fields}
                    while entry["name"] in taken:
                        entry["name"] = f"{entry['name']}_2"[:60]
                    fields.append(entry)
        if not fields:
            lost.append(OdmUntranslated(oid, "a form without items is not a form alstrial holds"))
            continue
        domain = aliases.get("SDTM", "")
        for entry in fields:  # an item's SDTM variable only within its form's domain
            variable = entry.get("sdtm", "")
            if variable and not (
                re.fullmatch(r"[A-Z]{2}", domain)
                and re.fullmatch(r"[A-Z][A-Z0-9]{1,7}", variable)
                and variable.startswith(domain)
            ):
                lost.append(
                    OdmUntranslated(
                        f"{oid}/{entry['name']}",
                        f"SDTM alias {variable!r} left out: not a variable of the form's "
                        f"domain ({domain or 'none named'})",
                    )
                )
                del entry["sdtm"]
        form: dict[str, Any] = {
            "name": name,
            "title": form_def.get("Name") or name,
            "description": _text_of(form_def, "Description"),
            "scope": aliases.get("alstrial:scope", "visit"),
            "repeating": form_def.get("Repeating") == "Yes",
            "fields": fields,
        }
        if re.fullmatch(r"[A-Z]{2}", domain):
            form["sdtm_domain"] = domain
        forms.append(form)
    schedule: dict[str, list[str]] = {}
    for event in mdv.findall(f"{_O}StudyEventDef"):
        oid = event.get("OID", "")
        named = [
            form_names[r.get("FormOID", "")]
            for r in event.findall(f"{_O}FormRef")
            if r.get("FormOID") in form_names
        ]
        if oid == SUBJECT_EVENT:
            for form in forms:
                if form["name"] in named:
                    form["scope"] = "subject"
            continue
        if named:
            schedule[oid.removeprefix("SE.")] = named
    valid = []
    for form in forms:
        try:
            DictionaryForm.model_validate(form)
        except PydanticValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            lost.append(
                OdmUntranslated(
                    f"F.{form['name']}",
                    f"form left out: {first['msg']}" + (f" (at {where})" if where else ""),
                )
            )
        else:
            valid.append(form)
    kept = {f["name"] for f in valid}
    schedule = {v: [n for n in names if n in kept] for v, names in schedule.items()}
    return OdmImport(valid, {v: n for v, n in schedule.items() if n}, lost)


def _field(
    item: ET.Element,
    ref: ET.Element,
    section: str,
    units: Mapping[str, str],
    defs: Mapping[str, Mapping[str | None, ET.Element]],
    lost: list[OdmUntranslated],
) -> dict[str, Any] | None:
    oid = item.get("OID", "")
    aliases = _aliases(item)
    kind = aliases.get("alstrial:type") or _FIELD_TYPE.get(item.get("DataType", ""), "")
    if not kind:
        lost.append(OdmUntranslated(oid, f"DataType {item.get('DataType')!r} has no field type"))
        return None
    code_ref = item.find(f"{_O}CodeListRef")
    choices: list[dict[str, str]] = []
    if code_ref is not None:
        code_list = defs["CodeList"].get(code_ref.get("CodeListOID"))
        if code_list is None:
            lost.append(OdmUntranslated(oid, f"code list {code_ref.get('CodeListOID')} undefined"))
        else:
            choices = _choices(code_list, oid, lost)
            if "alstrial:type" not in aliases:
                kind = "yesno" if kind == "yesno" else "choice"
    entry: dict[str, Any] = {
        "name": item.get("Name", "")
        if "alstrial:type" in aliases
        else _slug(item.get("Name", oid), ""),
        "label": _text_of(item, "Question") or item.get("Name", oid),
        "type": kind,
        "help": _text_of(item, "Description"),
        "section": aliases.get("alstrial:section", section),
        "required": ref.get("Mandatory") == "Yes",
    }
    if kind == "yesno":
        choices = []
    unit_ref = item.find(f"{_O}MeasurementUnitRef")
    if unit_ref is not None:
        entry["unit"] = units.get(unit_ref.get("MeasurementUnitOID", ""), "")
    if item.get("SignificantDigits") and kind in ("decimal", "calc"):
        entry["decimals"] = int(item.get("SignificantDigits", "0"))
    if item.get("Length") and kind in ("text", "notes"):
        entry["max_length"] = int(item.get("Length", "2000"))
    if "alstrial:pattern" in aliases:
        entry["pattern"] = aliases["alstrial:pattern"]
    if choices:
        entry["choices"] = choices
    elif kind in ("choice", "multichoice"):
        lost.append(OdmUntranslated(oid, "no code alstrial can store: entered as text"))
        entry["type"] = "text"
    for check in item.findall(f"{_O}RangeCheck"):
        _range(entry, check, oid, lost)
    method = defs["MethodDef"].get(ref.get("MethodOID")) if ref.get("MethodOID") else None
    if method is not None:
        text = _expression(method, oid, "calculation", lost)
        if text is not None:
            entry["calc"] = text
        elif kind == "calc":
            entry["type"] = "decimal"
    condition_oid = ref.get("CollectionExceptionConditionOID")
    condition = defs["ConditionDef"].get(condition_oid) if condition_oid else None
    if condition is not None:
        text = _expression(condition, oid, "condition", lost)
        if text is not None:
            match = re.fullmatch(r"not \((.*)\)", text, flags=re.DOTALL)
            if match:
                entry["show_if"] = match.group(1)
            else:
                lost.append(OdmUntranslated(oid, "condition is not of the form not (...)"))
    codes = aliases.get("alstrial:missing_codes")
    if codes is not None:
        entry["missing_codes"] = [] if codes == "none" else codes.split()
    if "SDTM" in aliases:
        entry["sdtm"] = aliases["SDTM"]
    return entry


def _choices(code_list: ET.Element, oid: str, lost: list[OdmUntranslated]) -> list[dict[str, str]]:
    choices = []
    for entry in code_list:
        if entry.tag not in (f"{_O}CodeListItem", f"{_O}EnumeratedItem"):
            continue
        code = entry.get("CodedValue", "")
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,60}", code):
            lost.append(OdmUntranslated(oid, f"code {code!r} is not a code alstrial can store"))
            continue
        choices.append({"code": code, "label": _text_of(entry, "Decode") or code})
    return choices


def _range(entry: dict[str, Any], check: ET.Element, oid: str, lost: list[OdmUntranslated]) -> None:
    comparator = check.get("Comparator", "")
    soft = check.get("SoftHard") == "Soft"
    values = [v.text or "" for v in check.findall(f"{_O}CheckValue")]
    side = {"GE": "min", "LE": "max"}.get(comparator)
    if side is None or len(values) != 1:
        lost.append(OdmUntranslated(oid, f"range check {comparator} {values} has no equivalent"))
        return
    entry[f"soft_{side}" if soft else side] = _number(values[0])


def _expression(
    element: ET.Element, oid: str, what: str, lost: list[OdmUntranslated]
) -> str | None:
    for expression in element.findall(f"{_O}FormalExpression"):
        if expression.get("Context") == "alstrial":
            return (expression.text or "").strip()
    contexts = [e.get("Context") for e in element.findall(f"{_O}FormalExpression")]
    lost.append(
        OdmUntranslated(
            oid, f"{what} {element.get('OID')} is in {contexts or 'no'} language(s), not alstrial's"
        )
    )
    return None


def protocol_metadata_document(protocol: Protocol) -> bytes:
    """An ODM 1.3.2 document holding only the protocol's study metadata (``alstrial
    protocol export-odm``)."""
    root = ET.Element(
        f"{_O}ODM",
        {
            "FileType": "Snapshot",
            "FileOID": f"ST.{protocol.study.code}.{protocol.study.protocol_version}.metadata",
            "CreationDateTime": datetime.now(UTC).isoformat(timespec="seconds"),
            "ODMVersion": "1.3.2",
            "Originator": "alstrial",
            "SourceSystem": "alstrial",
        },
    )
    study_element(
        root,
        protocol,
        study_oid=f"ST.{protocol.study.code}",
        mdv_oid=f"MDV.{protocol.study.protocol_version}",
        description=protocol.study.title,
    )
    return xml_document(root)


def study_element(
    root: ET.Element, protocol: Protocol, *, study_oid: str, mdv_oid: str, description: str
) -> ET.Element:
    """Append the ``Study`` of ``protocol`` to ``root``: its global variables, the units
    and the ``MetaDataVersion`` of its forms (:func:`metadata_version`)."""
    study = ET.SubElement(root, f"{_O}Study", {"OID": study_oid})
    variables = ET.SubElement(study, f"{_O}GlobalVariables")
    ET.SubElement(variables, f"{_O}StudyName").text = protocol.study.code
    ET.SubElement(variables, f"{_O}StudyDescription").text = description
    ET.SubElement(
        variables, f"{_O}ProtocolName"
    ).text = f"{protocol.study.code} {protocol.study.protocol_version}"
    basic_definitions(study, protocol.forms)
    metadata_version(study, protocol, mdv_oid)
    return study


def xml_document(root: ET.Element) -> bytes:
    """``root`` as an indented UTF-8 XML document with its declaration and a final newline
    (the ODM and define.xml files)."""
    ET.indent(root, space="  ")
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def protocol_with_forms(protocol: Protocol, imported: OdmImport) -> Protocol:
    """``protocol`` with its own forms replaced by the imported ones and each visit's forms
    by the imported schedule (the built-in assessments kept)."""
    forms = tuple(DictionaryForm.model_validate(f) for f in imported.forms)
    own = {f.name for f in protocol.forms}
    visits = tuple(
        v.model_copy(
            update={
                "assessments": tuple(a for a in v.assessments if a not in own)
                + tuple(imported.schedule.get(v.code, ()))
            }
        )
        for v in protocol.visits
    )
    return protocol.model_copy(update={"forms": forms, "visits": visits})
