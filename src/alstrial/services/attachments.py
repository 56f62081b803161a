"""The files of dictionary forms' file fields (issue 17): stored with their SHA-256 digest,
never changed, read back only after the digest is checked again.

A file given for a file field is stored by :func:`store_attachment` in the save's own
transaction (:func:`alstrial.services.dictionary_forms.save_form_instance`), and the field's
audited item names it (``attachment:<id>``); :func:`read_attachment` gives it back to whoever
may see its subject, refusing a file whose bytes no longer match their digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from alstrial.exceptions import IntegrityError, NotFoundError
from alstrial.protocol.form_values import ATTACHMENT_REFERENCE, FileUpload, attachment_reference
from alstrial.services.lookup import find_subject
from alstrial.store.models import Attachment, Subject

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "AttachmentInfo",
    "attachment_infos",
    "iter_attachments",
    "read_attachment",
    "store_attachment",
]

#: The largest file a file field takes unless the caller says otherwise (the web passes the
#: upload limit of its settings).
MAX_ATTACHMENT_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class AttachmentInfo:
    """What a page shows of a stored file: its id, name, type, size and digest."""

    id: int
    filename: str
    media_type: str
    size_bytes: int
    sha256: str

    @property
    def reference(self) -> str:
        """What a file field's item holds for it."""
        return attachment_reference(self.id)


def store_attachment(
    session: Session, *, actor: str, subject: Subject, upload: FileUpload
) -> Attachment:
    """Add a file of ``subject`` in the open transaction (the caller's save commits it)."""
    row = Attachment(
        subject_id=subject.id,
        filename=upload.filename,
        media_type=upload.media_type[:100],
        size_bytes=len(upload.content),
        sha256=hashlib.sha256(upload.content).hexdigest(),
        content=upload.content,
        uploaded_by=actor,
        uploaded_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    return row


def attachment_infos(session: Session, references: Collection[object]) -> dict[str, AttachmentInfo]:
    """The stored files these item values name (``attachment:<id>``), by reference; other
    values are passed over."""
    ids = {
        int(found.group(1))
        for value in references
        if isinstance(value, str) and (found := ATTACHMENT_REFERENCE.fullmatch(value))
    }
    if not ids:
        return {}
    rows = session.execute(
        select(
            Attachment.id,
            Attachment.filename,
            Attachment.media_type,
            Attachment.size_bytes,
            Attachment.sha256,
        ).where(Attachment.id.in_(sorted(ids)))
    )
    infos = [AttachmentInfo(*row) for row in rows]
    return {info.reference: info for info in infos}


def read_attachment(
    session: Session, subject_code: str, attachment_id: int
) -> tuple[AttachmentInfo, bytes]:
    """A stored file of the subject, with its bytes.

    Raises
    ------
    NotFoundError
        The subject has no such file (another subject's is answered the same way).
    IntegrityError
        The bytes no longer match the digest stored with them.
    """
    subject = find_subject(session, subject_code)
    row = session.get(Attachment, attachment_id)
    if row is None or row.subject_id != subject.id:
        raise NotFoundError(
            f"{subject_code} has no file {attachment_id}",
            subject=subject_code,
            field="attachment",
            value=attachment_id,
        )
    return _checked(row, subject_code)


def iter_attachments(
    session: Session, ids: Collection[int]
) -> Iterator[tuple[AttachmentInfo, bytes]]:
    """Stored files in the order of their ids, with their bytes, each checked against its
    digest (an export's files: :mod:`alstrial.interop.export_attachments`). One file is
    held in memory at a time, so an export of many scans needs no more than its largest.

    Raises
    ------
    NotFoundError
        An id with no stored file.
    IntegrityError
        A file whose bytes no longer match their digest.
    """
    for attachment_id in sorted(set(ids)):
        row = session.scalars(
            select(Attachment)
            .where(Attachment.id == attachment_id)
            .options(undefer(Attachment.content))
            .execution_options(populate_existing=True)
        ).one_or_none()
        if row is None:
            raise NotFoundError(
                f"no stored file {attachment_id}, which a form's item names",
                field="attachment",
                value=attachment_id,
            )
        found = _checked(row, f"subject #{row.subject_id}")
        session.expunge(row)  # its bytes go with it
        yield found


def _checked(row: Attachment, owner: str) -> tuple[AttachmentInfo, bytes]:
    """The file's description and bytes, after its digest and size are checked again."""
    content = bytes(row.content)
    if hashlib.sha256(content).hexdigest() != row.sha256 or len(content) != row.size_bytes:
        raise IntegrityError(
            f"file {row.id} of {owner} ({row.filename}) does not match the "
            "digest stored with it: it was changed outside alstrial"
        )
    info = AttachmentInfo(row.id, row.filename, row.media_type, row.size_bytes, row.sha256)
    return info, content
