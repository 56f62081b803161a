"""The subjects' attached files in an export (issue 17): the scans and letters of the
protocol's file fields, beside the data that name them.

A file field's item holds ``attachment:<id>`` (:mod:`alstrial.services.attachments`); the
exported frames carry that reference. Asked for (``alstrial export --with-files``, the
export page's box, ``files=true`` on the API), :func:`write_attachments` also writes

- ``files/<id>-<name>``: each file the exported items name, byte for byte, after its
  SHA-256 is checked again (a file changed behind alstrial's back stops the export);
- ``attachments.csv``: one row per item that names a file (subject, form, visit, instance,
  field, reference) with the file's path in the export, original name, type, size and
  SHA-256, so that a reference in any format's data leads to its file.

Off by default: the files are personal documents (a signed consent carries the patient's
name), which an analysis does not need; the export's record says how many it carried.

With a data cut, the items are those of the cut; the files are read from the live store,
where they never change (append-only), so a cut's file is the file as it was attached.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.interop.statistical_files import WrittenFile
from alstrial.protocol.form_values import ATTACHMENT_REFERENCE
from alstrial.services.attachments import iter_attachments
from alstrial.store.models import FormInstance, ItemValue, Subject, Visit

__all__ = ["FILES_FOLDER", "INDEX", "write_attachments"]

#: The export's folder of attached files, and the index that leads to them.
FILES_FOLDER = "files"
INDEX = "attachments.csv"

_INDEX_COLUMNS = (
    "subject",
    "form",
    "visit",
    "instance",
    "field",
    "reference",
    "file",
    "filename",
    "media_type",
    "size_bytes",
    "sha256",
)

#: Characters a file name may not hold on the systems an export is opened on.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_MAX_NAME = 120


def export_name(attachment_id: int, filename: str) -> str:
    """The file's name in the export: its id (names repeat: every site scans
    ``consent.pdf``) and its name, without characters Windows or a shell would stumble on.

    ``export_name(7, 'consent: S01?.pdf') == '7-consent_ S01_.pdf'``
    """
    name = _UNSAFE.sub("_", filename).strip(" .") or "file"
    if len(name) > _MAX_NAME:
        stem, dot, suffix = name.rpartition(".")
        keep = _MAX_NAME - len(suffix) - 1 if dot and len(suffix) <= 10 else _MAX_NAME
        name = f"{stem[:keep]}.{suffix}" if dot and len(suffix) <= 10 else name[:_MAX_NAME]
    return f"{attachment_id}-{name}"


def write_attachments(session: Session, live: Session, folder: Path) -> tuple[WrittenFile, ...]:
    """Write the files the items of ``session`` (the live store or a cut's) name, read from
    ``live``, and their index into ``folder`` (module docstring); nothing when no item names
    a file.

    Raises
    ------
    NotFoundError
        An item names a file the store does not hold.
    IntegrityError
        A file whose bytes no longer match their digest.
    """
    items = session.execute(
        select(
            Subject.study_code,
            FormInstance.form,
            Visit.code,
            FormInstance.instance,
            ItemValue.field,
            ItemValue.value,
        )
        .join(FormInstance, ItemValue.form_instance_id == FormInstance.id)
        .join(Subject, FormInstance.subject_id == Subject.id)
        .outerjoin(Visit, FormInstance.visit_id == Visit.id)
        .where(ItemValue.value.like("attachment:%"))
        .order_by(Subject.study_code, FormInstance.form, FormInstance.slot, FormInstance.instance)
    ).all()
    referenced = [
        (row, int(found.group(1)))
        for row in items
        if row.value and (found := ATTACHMENT_REFERENCE.fullmatch(row.value))
    ]
    if not referenced:
        return ()
    (folder / FILES_FOLDER).mkdir()
    written: list[WrittenFile] = []
    infos = {}
    for info, content in iter_attachments(live, {n for _, n in referenced}):
        path = f"{FILES_FOLDER}/{export_name(info.id, info.filename)}"
        (folder / path).write_bytes(content)
        written.append(WrittenFile(path, f"(file {info.reference})", 0, 0, info.sha256))
        infos[info.id] = (path, info)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_INDEX_COLUMNS)
    for row, attachment_id in referenced:
        path, info = infos[attachment_id]
        writer.writerow(
            [row.study_code, row.form, row.code or "", row.instance, row.field, row.value, path,
             info.filename, info.media_type, info.size_bytes, info.sha256]
        )  # fmt: skip
    text = out.getvalue()
    data = text.encode("utf-8")
    (folder / INDEX).write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    index = WrittenFile(INDEX, "attachments", len(referenced), len(_INDEX_COLUMNS), digest)
    return (index, *written)
