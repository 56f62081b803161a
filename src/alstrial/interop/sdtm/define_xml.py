"""define.xml 2.1 for the SDTM datasets written: every dataset, variable, code list and origin.

The document is an ODM 1.3.2 ``Study`` whose ``MetaDataVersion`` holds one ``ItemGroupDef``
per dataset (with its keys, class, structure and the file it is in), one ``ItemDef`` per
variable (type, length, label, origin), the code lists of the coded variables (with the
values the data hold; a test code's decode is its test name) and the comments a reviewer
needs (the notes of the export, such as AEDECOD not coded to MedDRA).

References
----------
CDISC Define-XML Team. *Define-XML Specification*, version 2.1. CDISC, 2019.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import datetime

import pandas as pd

from alstrial.interop.odm_metadata import xml_document
from alstrial.interop.sdtm.spec import DOMAINS, SDTMIG_VERSION

__all__ = ["CODED", "define_xml"]

ODM = "http://www.cdisc.org/ns/odm/v1.3"
DEF = "http://www.cdisc.org/ns/def/v2.1"
XLINK = "http://www.w3.org/1999/xlink"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

ET.register_namespace("", ODM)
ET.register_namespace("def", DEF)
ET.register_namespace("xlink", XLINK)

#: Coded variables: code list name, and the variable whose value decodes the code.
CODED: dict[str, tuple[str, str | None]] = {
    "SEX": ("Sex", None),
    "AGEU": ("Age Unit", None),
    "RACE": ("Race", None),
    "COUNTRY": ("Country", None),
    "ARMCD": ("Arm Code", "ARM"),
    "ACTARMCD": ("Arm Code", "ACTARM"),
    "ARMNRS": ("Reason Arm Null", None),
    "EPOCH": ("Epoch", None),
    "ETCD": ("Element Code", "ELEMENT"),
    "DTHFL": ("No Yes Response", None),
    "AESER": ("No Yes Response", None),
    "AESDTH": ("No Yes Response", None),
    "AESLIFE": ("No Yes Response", None),
    "AESHOSP": ("No Yes Response", None),
    "AESDISAB": ("No Yes Response", None),
    "AESCONG": ("No Yes Response", None),
    "AESMIE": ("No Yes Response", None),
    "AESEV": ("Severity/Intensity Scale", None),
    "AEREL": ("Causality", None),
    "AEOUT": ("Outcome of Event", None),
    "AETOXGR": ("Toxicity Grade", None),
    "LBTOXGR": ("Toxicity Grade", None),
    "EXROUTE": ("Route of Administration", None),
    "EXDOSFRM": ("Pharmaceutical Dosage Form", None),
    "EXDOSU": ("Unit", None),
    "DSDECOD": ("Completion/Reason for Non-Completion", None),
    "DSCAT": ("Category for Disposition Event", None),
    "QSCAT": ("Category of Questionnaire", None),
    "QSTESTCD": ("ALSFRS Question Short Name", "QSTEST"),
    "LBTESTCD": ("Laboratory Test Code", "LBTEST"),
    "VSTESTCD": ("Vital Signs Test Code", "VSTEST"),
    "RETESTCD": ("Respiratory Test Code", "RETEST"),
    "LBNRIND": ("Reference Range Indicator", None),
    "IECAT": ("Category for Inclusion/Exclusion", None),
    "TSPARMCD": ("Trial Summary Parameter Test Code", "TSPARM"),
    "QNAM": ("Supplemental Qualifier Name", "QLABEL"),
}
#: Code lists whose values are alstrial's own rather than CDISC controlled terminology.
_SPONSOR = {"Arm Code", "Element Code", "ALSFRS Question Short Name", "Supplemental Qualifier Name"}


def _oid(text: str) -> str:
    return text.upper().replace(" ", "_").replace("/", "_")


def _text(parent: ET.Element, tag: str, text: str) -> None:
    element = ET.SubElement(parent, f"{{{ODM}}}{tag}")
    translated = ET.SubElement(element, f"{{{ODM}}}TranslatedText", {XML_LANG: "en"})
    translated.text = text


def _data_type(name: str, kind: str, column: pd.Series) -> tuple[str, int | None]:
    """define.xml's DataType and Length of a variable from its values."""
    if kind == "Num":
        present = column.dropna()
        if bool((present % 1 == 0).all()):
            extremes = [int(present.min()), int(present.max())] if len(present) else [0]
            return "integer", max(len(str(v)) for v in extremes)
        return "float", 8
    if name.endswith("DTC"):
        return "datetime", None
    return "text", max((len(str(v).encode("utf-8")) for v in column.unique()), default=1) or 1


def define_xml(
    frames: Mapping[str, pd.DataFrame],
    *,
    study: str,
    title: str,
    protocol_version: str,
    created: datetime,
    notes: Sequence[tuple[str, str, str]],
    synthetic: set[str],
) -> bytes:
    """The define.xml document of the datasets in ``frames`` (module docstring)."""
    root = ET.Element(
        f"{{{ODM}}}ODM",
        {
            "FileType": "Snapshot",
            "FileOID": f"DEFINE.{_oid(study)}",
            "CreationDateTime": created.isoformat(timespec="seconds"),
            "ODMVersion": "1.3.2",
            "Originator": "alstrial",
            "SourceSystem": "alstrial",
            f"{{{DEF}}}Context": "Submission",
        },
    )
    study_element = ET.SubElement(root, f"{{{ODM}}}Study", {"OID": f"STUDY.{_oid(study)}"})
    variables = ET.SubElement(study_element, f"{{{ODM}}}GlobalVariables")
    for tag, text in (
        ("StudyName", study),
        ("StudyDescription", title),
        ("ProtocolName", f"{study} version {protocol_version}"),
    ):
        ET.SubElement(variables, f"{{{ODM}}}{tag}").text = text
    mdv = ET.SubElement(
        study_element,
        f"{{{ODM}}}MetaDataVersion",
        {
            "OID": f"MDV.{_oid(study)}.SDTMIG.{SDTMIG_VERSION}",
            "Name": f"{study} SDTM datasets",
            "Description": "SDTM datasets written by alstrial"
            + ("; SYNTHETIC values in " + ", ".join(sorted(synthetic)) if synthetic else ""),
            f"{{{DEF}}}DefineVersion": "2.1.0",
        },
    )
    standards = ET.SubElement(mdv, f"{{{DEF}}}Standards")
    ET.SubElement(
        standards,
        f"{{{DEF}}}Standard",
        {
            "OID": "STD.SDTMIG",
            "Name": "SDTMIG",
            "Type": "IG",
            "Version": SDTMIG_VERSION,
            "Status": "Final",
        },
    )
    item_defs: list[ET.Element] = []
    code_values: dict[str, dict[str, str]] = {}
    comments: list[tuple[str, str]] = []
    for code, frame in frames.items():
        spec = DOMAINS[code]
        comment = "; ".join(text for domain, _, text in notes if domain == code)
        if code in synthetic:
            comment = "SYNTHETIC values generated by alstrial" + (f"; {comment}" if comment else "")
        group = ET.SubElement(
            mdv,
            f"{{{ODM}}}ItemGroupDef",
            {
                "OID": f"IG.{code}",
                "Name": code,
                "Repeating": "No" if code == "DM" else "Yes",
                "IsReferenceData": "Yes" if spec.klass == "TRIAL DESIGN" else "No",
                "SASDatasetName": code,
                "Domain": code[4:] if code.startswith("SUPP") else code,
                "Purpose": "Tabulation",
                f"{{{DEF}}}Structure": spec.structure,
                f"{{{DEF}}}StandardOID": "STD.SDTMIG",
                f"{{{DEF}}}ArchiveLocationID": f"LF.{code}",
            }
            | ({f"{{{DEF}}}CommentOID": f"COM.{code}"} if comment else {}),
        )
        if comment:
            comments.append((f"COM.{code}", comment))
        _text(group, "Description", spec.label)
        for order, variable in enumerate(spec.variables, start=1):
            oid = f"IT.{code}.{variable.name}"
            attributes = {
                "ItemOID": oid,
                "OrderNumber": str(order),
                "Mandatory": "Yes" if variable.core == "Req" else "No",
            }
            if variable.name in spec.keys:
                attributes["KeySequence"] = str(spec.keys.index(variable.name) + 1)
            ET.SubElement(group, f"{{{ODM}}}ItemRef", attributes)
            column = frame[variable.name]
            kind, length = _data_type(variable.name, variable.type, column)
            item = ET.Element(
                f"{{{ODM}}}ItemDef",
                {"OID": oid, "Name": variable.name, "DataType": kind, "SASFieldName": variable.name}
                | ({"Length": str(length)} if length is not None else {}),
            )
            _text(item, "Description", variable.label)
            if variable.name in CODED:
                name, decode = CODED[variable.name]
                item.append(
                    ET.Element(f"{{{ODM}}}CodeListRef", {"CodeListOID": f"CL.{_oid(name)}"})
                )
                values = code_values.setdefault(name, {})
                source = decode if decode in frame.columns else variable.name
                pairs = frame[[variable.name, source]].drop_duplicates()
                for value, meaning in pairs.itertuples(index=False, name=None):
                    if str(value):
                        values.setdefault(str(value), str(meaning))
            origin: dict[str, str] = {"Type": variable.origin}
            if variable.origin == "Collected":
                origin["Source"] = "Investigator"
            elif variable.origin in ("Assigned", "Derived", "Protocol"):
                origin["Source"] = "Sponsor"
            ET.SubElement(item, f"{{{DEF}}}Origin", origin)
            item_defs.append(item)
        ET.SubElement(group, f"{{{DEF}}}Class", {"Name": spec.klass})
        leaf = ET.SubElement(
            group,
            f"{{{DEF}}}leaf",
            {"ID": f"LF.{code}", f"{{{XLINK}}}href": f"{code.lower()}.xpt"},
        )
        ET.SubElement(leaf, f"{{{DEF}}}title").text = f"{code.lower()}.xpt"
    # ItemGroupDefs first, then ItemDefs, CodeLists and comments (the schema's order).
    for item in item_defs:
        mdv.append(item)
    empty = {f"CL.{_oid(name)}" for name, values in code_values.items() if not values}
    for item in item_defs:  # a variable whose values are all null has no code list
        for ref in item.findall(f"{{{ODM}}}CodeListRef"):
            if ref.get("CodeListOID") in empty:
                item.remove(ref)
    for name, values in sorted(code_values.items()):
        if not values:
            continue
        code_list = ET.SubElement(
            mdv,
            f"{{{ODM}}}CodeList",
            {"OID": f"CL.{_oid(name)}", "Name": name, "DataType": "text"}
            | ({} if name in _SPONSOR else {f"{{{DEF}}}StandardOID": "STD.SDTMIG"}),
        )
        decoded = any(value != meaning for value, meaning in values.items())
        for value, meaning in sorted(values.items()):
            if decoded:
                entry = ET.SubElement(code_list, f"{{{ODM}}}CodeListItem", {"CodedValue": value})
                _text(entry, "Decode", meaning)
            else:
                ET.SubElement(code_list, f"{{{ODM}}}EnumeratedItem", {"CodedValue": value})
    for oid, text in comments:
        comment_def = ET.SubElement(mdv, f"{{{DEF}}}CommentDef", {"OID": oid})
        _text(comment_def, "Description", text)
    return xml_document(root)
