"""The generic layout of dictionary forms (the protocol's own forms, issue 17).

A form instance is one filling of a form: a subject's, at a visit (``visit_id``) or once per
subject (none), numbered from 1 where the form repeats. Its items are the values of its
fields, one row per field, stored as text in the field's canonical form
(:func:`alstrial.protocol.form_values.encode_value`) or closed with a missing-data code and
its reason. Both are audited casebook rows: the hash-chained trail, the reason a correction
needs, the visit and casebook signature locks and source verification apply to them as to
the built-in tables.

A file field's item holds ``attachment:<id>``: the file itself is an :class:`Attachment`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from alstrial.store.base import Audited, Base, enum_column
from alstrial.vocabulary import Provenance

__all__ = ["Attachment", "FormInstance", "ItemValue"]


class FormInstance(Audited, Base):
    """One filling of a dictionary form by a subject, at a visit or once per subject.

    ``slot`` is the visit's id, or 0 for a subject-level form: with the instance number it
    is unique per subject and form, so that two saves adding an instance at the same moment
    cannot both take the same number (a nullable ``visit_id`` in a unique constraint would
    not stop them). ``protocol_version_id`` is the version whose dictionary the values were
    last checked against (an amendment never rewrites stored data). ``provenance`` says
    whether the values come from the site's source or were generated (the demo's).
    """

    __tablename__ = "form_instance"
    __table_args__ = (UniqueConstraint("subject_id", "form", "slot", "instance"),)
    casebook_key = "subject_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"), index=True)
    slot: Mapped[int]
    form: Mapped[str] = mapped_column(String(60))
    instance: Mapped[int]
    protocol_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_version.id"))
    provenance: Mapped[Provenance] = mapped_column(
        enum_column(Provenance, "provenance"), default=Provenance.SOURCE
    )


class ItemValue(Audited, Base):
    """The value of one field of a form instance, or its missing-data code and reason.

    ``subject_id`` and ``visit_id`` repeat the instance's, so that the signature locks and
    source verification find the visit and casebook a value belongs to without a join.
    ``confirmed`` records that a value outside the field's soft range was confirmed.
    """

    __tablename__ = "item_value"
    __table_args__ = (UniqueConstraint("form_instance_id", "field"),)
    casebook_key = "subject_id"
    audit_group = "form_instance_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_instance_id: Mapped[int] = mapped_column(ForeignKey("form_instance.id"), index=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"))
    field: Mapped[str] = mapped_column(String(60))
    value: Mapped[str | None] = mapped_column(Text)
    missing_code: Mapped[str | None] = mapped_column(String(20))
    missing_reason: Mapped[str | None] = mapped_column(Text)
    confirmed: Mapped[bool] = mapped_column(default=False)


class Attachment(Base):
    """A file attached to a dictionary form's file field (a scanned consent, an ECG).

    Never changed or removed (database triggers refuse it, migration 0023; the application's
    PostgreSQL role may only insert and read it): a new file is a new attachment, and the
    audited item that names it (``attachment:<id>``) carries who attached which file, when,
    and why it replaced another. ``sha256`` is the content's digest, checked whenever the
    file is read back. Not an audited model itself: the trail holds the reference and the
    digest, not the bytes."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    uploaded_by: Mapped[str] = mapped_column(String(80))
    uploaded_at: Mapped[datetime]
