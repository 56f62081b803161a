"""Values the store refuses, whichever code writes them: NUL bytes in text, text longer than
its column, and numbers that are not finite.

Issue 14: on PostgreSQL an over-long text or a NUL byte ended in a server error (the driver
refuses them), while SQLite stored them; ``nan`` reached a lab value and ``inf`` a cell count.
A ``before_flush`` listener attached to every session, like the audit listener, checks each
new or changed row against its columns, so the two back ends behave the same and every
writer (service, web form, import, CLI) gets one clear error naming the table, the field and
the limit, with nothing written.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import ColumnElement, Float, Numeric, String, event, inspect
from sqlalchemy.orm import Session

from alstrial.exceptions import ValidationError

__all__ = ["check_row", "check_value"]


def check_row(row: Any) -> None:
    """Refuse a row whose text or numbers its columns cannot hold (module docstring)."""
    mapper = inspect(type(row))
    table = mapper.local_table.name if mapper.local_table is not None else type(row).__name__
    for attribute in mapper.column_attrs:
        check_value(table, attribute.key, attribute.columns[0], getattr(row, attribute.key, None))


def check_value(table: str, name: str, column: ColumnElement[Any], value: object) -> None:
    """Refuse one value its column cannot hold: what :func:`check_row` checks, for a row
    written without the ORM (:mod:`alstrial.store.audited_insert`)."""
    if value is None:
        return
    if isinstance(value, str):
        if "\x00" in value:
            raise ValidationError(f"{name} cannot contain a NUL byte", form=table, field=name)
        length = getattr(column.type, "length", None)
        if isinstance(column.type, String) and length is not None and len(value) > length:
            raise ValidationError(
                f"{name} is {len(value)} characters long; at most {length} fit",
                form=table,
                field=name,
                allowed=f"at most {length} characters",
            )
    elif (
        isinstance(value, float)
        and isinstance(column.type, Float | Numeric)
        and not math.isfinite(value)
    ):
        raise ValidationError(
            f"{name} must be a finite number, not {value}",
            form=table,
            field=name,
            value=str(value),
        )


@event.listens_for(Session, "before_flush", insert=True)
def _check_values(session: Session, flush_context: Any, instances: Any) -> None:
    for row in (*session.new, *session.dirty):
        check_row(row)
