"""Mapped classes of the trial store."""

from alstrial.store.models.clinical import (
    Administration,
    AdverseEvent,
    AlsfrsAssessment,
    Disposition,
    Milestone,
    ProductBatch,
    Spirometry,
)
from alstrial.store.models.cuts import NamedCut
from alstrial.store.models.exports import DataExport
from alstrial.store.models.forms import Attachment, FormInstance, ItemValue
from alstrial.store.models.manufacturing import CultureEvent, FlowMarkerResult, ReleaseDecision
from alstrial.store.models.review import (
    AssessmentNotDone,
    CasebookSignature,
    DataQuery,
    QueryMessage,
    SourceVerification,
    VisitSignature,
)
from alstrial.store.models.safety import (
    ChecklistReview,
    LabResult,
    LabSafetyReview,
    MriExam,
    MriFindingRecord,
    QualitativeLabResult,
    SaeNotification,
    StoppingDecision,
    VitalSigns,
)
from alstrial.store.models.security import LoginThrottle, WebSession
from alstrial.store.models.subject import Enrolment, Screening, Subject, Visit
from alstrial.store.models.trial import ApiToken, ProtocolVersion, Site, Study, User, UserSite

__all__ = [
    "Administration",
    "AdverseEvent",
    "AlsfrsAssessment",
    "ApiToken",
    "AssessmentNotDone",
    "Attachment",
    "CasebookSignature",
    "ChecklistReview",
    "CultureEvent",
    "DataExport",
    "DataQuery",
    "Disposition",
    "Enrolment",
    "FlowMarkerResult",
    "FormInstance",
    "ItemValue",
    "LabResult",
    "LabSafetyReview",
    "LoginThrottle",
    "Milestone",
    "MriExam",
    "MriFindingRecord",
    "NamedCut",
    "ProductBatch",
    "ProtocolVersion",
    "QualitativeLabResult",
    "QueryMessage",
    "ReleaseDecision",
    "SaeNotification",
    "Screening",
    "Site",
    "SourceVerification",
    "Spirometry",
    "StoppingDecision",
    "Study",
    "Subject",
    "User",
    "UserSite",
    "Visit",
    "VisitSignature",
    "VitalSigns",
    "WebSession",
]

# Registers the listener that locks signed casebooks (it needs the models above).
import alstrial.store.signature_locks
import alstrial.store.value_checks  # refuses NUL, over-long text, inf, nan
import alstrial.store.verification_locks  # noqa: F401  (a change clears source verification)
