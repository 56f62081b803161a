"""The trial store: models, engines, migrations and the audit trail."""

from alstrial.store.audit import AuditEvent, AuditVerification, verify_audit_trail
from alstrial.store.engine import make_engine, make_session_factory
from alstrial.store.migrate import upgrade_to_head

__all__ = [
    "AuditEvent",
    "AuditVerification",
    "make_engine",
    "make_session_factory",
    "upgrade_to_head",
    "verify_audit_trail",
]
