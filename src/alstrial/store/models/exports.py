"""The record of each export (issue 19): who took which data out, in which format, and the
hash of the manifest that lists every file (audited like trial data, so the trail says it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from alstrial.store.base import Audited, Base, UTCDateTime

__all__ = ["DataExport"]


class DataExport(Audited, Base):
    """One export: its format, the cut asked for, the time and audit event the data are as
    of, the number of files and of the subjects' attached files among them, and the SHA-256
    of its ``manifest.json``. Who made it is the audit event's actor."""

    __tablename__ = "data_export"

    id: Mapped[int] = mapped_column(primary_key=True)
    format: Mapped[str] = mapped_column(String(10))
    data_cut: Mapped[str] = mapped_column(String(60))
    data_as_of: Mapped[datetime] = mapped_column(UTCDateTime())
    audit_head_seq: Mapped[int]
    files: Mapped[int]
    #: How many of the subjects' attached files (scans, letters) the export carried: 0 when
    #: it carried none, None for an export made before alstrial could carry them.
    attached_files: Mapped[int | None]
    manifest_sha256: Mapped[str] = mapped_column(String(64))
