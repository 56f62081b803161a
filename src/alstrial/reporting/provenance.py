"""Which data a report came from: the data's last audit event (its sequence number, hash and
time), the protocol version and the SHA-256 of its text, and alstrial's version, so that a
reader can check a report against the store (``alstrial audit verify``) and the protocol."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from alstrial.interop.data_cut import last_data_event
from alstrial.services.lookup import latest_protocol_version, only_study

__all__ = ["DataProvenance", "data_provenance"]


@dataclass(frozen=True)
class DataProvenance:
    """The data a report describes (module docstring)."""

    data_as_of: datetime
    audit_head_seq: int
    audit_head_hash: str
    protocol_version: str
    protocol_sha256: str
    data_cut: str = "none: the data as they stand"


def data_provenance(session: Session) -> DataProvenance | None:
    """The provenance of the data in ``session``'s store; None for a store without a study
    or an audit trail (a report then says it cannot vouch for its source)."""
    head = last_data_event(session)
    if head is None:
        return None
    version = latest_protocol_version(session, only_study(session))
    return DataProvenance(
        data_as_of=head.at,
        audit_head_seq=head.seq,
        audit_head_hash=head.hash,
        protocol_version=version.version,
        protocol_sha256=version.digest,
    )
