"""Soft checks: values a visit form may save but that deserve a second look (issue 15, item 3).

The protocol lists them (``[[soft_checks]]``: form, field, operator, value, message). While a
form is filled in, a value that fails one is shown as a warning (the save is not refused: a
soft check is not a range rule). When the protocol sets ``auto_queries = true``, saving a
record that fails a check opens a query on that field, written by the system identity
``soft-checks`` (an account that cannot log in), unless a query with the same text is still
open on that field. The site answers it like any query; a monitor closes it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import NotFoundError
from alstrial.protocol.model import SoftCheck
from alstrial.services.lookup import current_protocol
from alstrial.services.review import open_query
from alstrial.services.transaction import transaction
from alstrial.services.verification import record_view
from alstrial.store.models import DataQuery, User
from alstrial.vocabulary import QueryStatus

__all__ = ["SYSTEM_ACTOR", "failed_checks", "raise_automatic_queries"]

#: The identity automatic queries are opened by (no password, not active: it cannot log in).
SYSTEM_ACTOR = "soft-checks"

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _fails(check: SoftCheck, value: object) -> bool:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return _OPERATORS[check.operator](float(value), check.value)


def failed_checks(
    session: Session, form: str, values: Mapping[str, object]
) -> list[tuple[SoftCheck, object]]:
    """The protocol's soft checks of ``form`` that ``values`` fail, with the value."""
    return [
        (check, values.get(check.field))
        for check in current_protocol(session).soft_checks
        if check.form == form and _fails(check, values.get(check.field))
    ]


def _query_text(check: SoftCheck, value: object) -> str:
    return f"{check.id}: {check.message} ({check.field} = {value})"


def _system_user(session: Session) -> None:
    if session.scalars(select(User.id).where(User.username == SYSTEM_ACTOR)).first() is None:
        with transaction(session, actor=SYSTEM_ACTOR):
            session.add(User(username=SYSTEM_ACTOR, full_name="Protocol soft checks", active=False))


def raise_automatic_queries(
    session: Session,
    subject_code: str,
    visit_code: str,
    form: str,
    record_id: int | None = None,
) -> list[DataQuery]:
    """Open a query for each soft check the saved record of ``form`` (``record_id``, or the
    visit's first) fails (module docstring); nothing when the protocol does not ask for
    automatic queries."""
    protocol = current_protocol(session)
    if not protocol.auto_queries or not any(c.form == form for c in protocol.soft_checks):
        return []
    try:
        view = record_view(session, subject_code, visit_code, form, record_id)
    except NotFoundError:
        return []
    failing = failed_checks(session, form, view.values)
    if not failing:
        return []
    open_texts = set(
        session.scalars(
            select(DataQuery.text).where(
                DataQuery.record_table == view.table,
                DataQuery.record_id == str(view.record_id),
                DataQuery.status != QueryStatus.CLOSED,
            )
        )
    )
    _system_user(session)
    opened = []
    for check, value in failing:
        text = _query_text(check, value)
        if text in open_texts:
            continue
        opened.append(
            open_query(
                session,
                actor=SYSTEM_ACTOR,
                subject_code=subject_code,
                record_table=view.table,
                record_id=str(view.record_id),
                field=check.field,
                text=text,
            )
        )
    return opened
