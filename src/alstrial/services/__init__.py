"""Use cases: the only writers of clinical data. One transaction per call."""

from alstrial.services.assessments import SPIROMETRY_EQUATIONS, record_alsfrs, record_spirometry
from alstrial.services.audit_trail import audit_head, record_history, verify_audit_trail
from alstrial.services.enrolment import (
    SubjectFacts,
    enrol_subject,
    register_subject,
    screen_subject,
)
from alstrial.services.frames import AnalysisFrames, build_analysis_frames
from alstrial.services.manufacturing import (
    BatchRecord,
    evaluate_batch,
    find_batch,
    record_batch_record,
    record_culture_event,
    record_flow_results,
    sign_release,
)
from alstrial.services.outcomes import (
    AdverseEventReport,
    record_disposition,
    record_milestone,
    report_adverse_event,
)
from alstrial.services.product import BatchResults, record_product_batch
from alstrial.services.review import (
    CasebookState,
    answer_query,
    cancel_query,
    casebook_state,
    close_query,
    list_queries,
    open_query,
    query_threads,
    reopen_query,
    sign_casebook,
    sign_visit,
)
from alstrial.services.safety import (
    VitalsReading,
    mark_notification_sent,
    open_stopping_rules,
    overdue_notifications,
    record_checklist_review,
    record_lab,
    record_mri,
    record_qualitative_lab,
    record_stopping_decision,
    record_vitals,
    triggered_stopping_rules,
)
from alstrial.services.setup import add_site, add_user, amend_protocol, create_study
from alstrial.services.subjects import SubjectSummary, list_subjects, subject_visits
from alstrial.services.treatment import record_administration
from alstrial.services.visits import mark_visit_missed, record_visit_date

__all__ = [
    "SPIROMETRY_EQUATIONS",
    "AdverseEventReport",
    "AnalysisFrames",
    "BatchRecord",
    "BatchResults",
    "CasebookState",
    "SubjectFacts",
    "SubjectSummary",
    "VitalsReading",
    "add_site",
    "add_user",
    "amend_protocol",
    "answer_query",
    "audit_head",
    "build_analysis_frames",
    "cancel_query",
    "casebook_state",
    "close_query",
    "create_study",
    "enrol_subject",
    "evaluate_batch",
    "find_batch",
    "list_queries",
    "list_subjects",
    "mark_notification_sent",
    "mark_visit_missed",
    "open_query",
    "open_stopping_rules",
    "overdue_notifications",
    "query_threads",
    "record_administration",
    "record_alsfrs",
    "record_batch_record",
    "record_checklist_review",
    "record_culture_event",
    "record_disposition",
    "record_flow_results",
    "record_history",
    "record_lab",
    "record_milestone",
    "record_mri",
    "record_product_batch",
    "record_qualitative_lab",
    "record_spirometry",
    "record_stopping_decision",
    "record_visit_date",
    "record_vitals",
    "register_subject",
    "reopen_query",
    "report_adverse_event",
    "screen_subject",
    "sign_casebook",
    "sign_release",
    "sign_visit",
    "subject_visits",
    "triggered_stopping_rules",
    "verify_audit_trail",
]
