"""The study definition: protocol models, loader, visit schedule and eligibility rules."""

from alstrial.protocol.eligibility import (
    CriterionResult,
    CriterionStatus,
    EligibilityResult,
    evaluate_eligibility,
)
from alstrial.protocol.loader import (
    load_protocol,
    parse_protocol,
    protocol_digest,
    read_protocol_text,
    reference_protocol_text,
)
from alstrial.protocol.model import (
    ASSESSMENTS,
    Arm,
    ChecklistTerm,
    EligibilityCriterion,
    Protocol,
    ReleaseCriterion,
    StudyInfo,
    Visit,
)
from alstrial.protocol.schedule import PlannedVisit, WindowStatus, plan_visits, window_status

__all__ = [
    "ASSESSMENTS",
    "Arm",
    "ChecklistTerm",
    "CriterionResult",
    "CriterionStatus",
    "EligibilityCriterion",
    "EligibilityResult",
    "PlannedVisit",
    "Protocol",
    "ReleaseCriterion",
    "StudyInfo",
    "Visit",
    "WindowStatus",
    "evaluate_eligibility",
    "load_protocol",
    "parse_protocol",
    "plan_visits",
    "protocol_digest",
    "read_protocol_text",
    "reference_protocol_text",
    "window_status",
]
