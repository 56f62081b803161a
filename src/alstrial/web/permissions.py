"""The permission matrix: one place that says which role may do what.

Site scoping is separate: apart from the administrator and the statistician (who work across
the study), a user sees and changes only the subjects of the sites he is assigned to; another
site's subject answers 404, as if it did not exist.
"""

from __future__ import annotations

from alstrial.vocabulary import Role

__all__ = ["ALL_SITES", "PERMISSIONS", "allowed"]

PERMISSIONS: dict[str, frozenset[Role]] = {
    "view_subjects": frozenset(
        {Role.ADMINISTRATOR, Role.INVESTIGATOR, Role.COORDINATOR, Role.MONITOR}
    ),
    "enter_data": frozenset({Role.INVESTIGATOR, Role.COORDINATOR}),
    "sign": frozenset({Role.INVESTIGATOR}),
    "open_query": frozenset({Role.MONITOR}),
    "answer_query": frozenset({Role.INVESTIGATOR, Role.COORDINATOR}),
    "close_query": frozenset({Role.MONITOR}),
    "verify_source": frozenset({Role.MONITOR}),
    "view_audit": frozenset(
        {Role.ADMINISTRATOR, Role.INVESTIGATOR, Role.COORDINATOR, Role.MONITOR}
    ),
    "view_batches": frozenset({Role.QC, Role.ADMINISTRATOR, Role.INVESTIGATOR, Role.MONITOR}),
    "record_batch": frozenset({Role.QC}),
    "release_batch": frozenset({Role.QC}),
    "export": frozenset({Role.STATISTICIAN, Role.ADMINISTRATOR}),
    "manage_users": frozenset({Role.ADMINISTRATOR}),
}
#: Roles that work across every site.
ALL_SITES: frozenset[Role] = frozenset({Role.ADMINISTRATOR, Role.STATISTICIAN})


def allowed(role: Role, action: str) -> bool:
    """Whether ``role`` may do ``action`` (an unknown action is allowed to nobody)."""
    return role in PERMISSIONS.get(action, frozenset())
