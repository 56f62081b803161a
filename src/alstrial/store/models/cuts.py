"""Named data cuts (issue 19): a name for the state of the data at one audit event, frozen
so that an interim analysis, a DSMB report or a database lock can be exported again later,
byte for byte."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from alstrial.store.base import Audited, Base, UTCDateTime

__all__ = ["NamedCut"]


class NamedCut(Audited, Base):
    """A cut's name, the last audit event it holds and that event's time, and why it was
    taken (who took it is the audit event's actor)."""

    __tablename__ = "named_cut"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    seq: Mapped[int]
    data_as_of: Mapped[datetime] = mapped_column(UTCDateTime())
    purpose: Mapped[str] = mapped_column(Text)
