"""Declarative base, naming convention and column types shared by all store models."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import DateTime, Dialect, Enum, MetaData
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

__all__ = ["Audited", "Base", "UTCDateTime", "enum_column", "utc_now"]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and returned timezone-aware (UTC).

    Naive input is taken to be UTC already; aware input is converted. SQLite keeps no time
    zone, so this keeps both back ends identical.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stored: datetime = value
        return stored.replace(tzinfo=UTC)


def enum_column(enum: type[StrEnum], name: str) -> Enum:
    """A portable enum column: VARCHAR plus a CHECK constraint listing the values."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(member.value) for member in enum),
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    """Base of every mapped class."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012


class Audited:
    """Mixin: every insert, update and delete of this model is written to the audit trail.

    Overwriting a saved (non-empty) value needs a reason; filling an empty field does not.
    ``workflow_fields`` names columns that change as work proceeds (a visit's status) and
    so need no reason.
    """

    workflow_fields: frozenset[str] = frozenset()
    #: The column that leads to the subject whose casebook holds this row (``subject_id``,
    #: ``visit_id``, ``exam_id``, or ``id`` on the subject itself); ``None`` for rows that are
    #: not casebook data (accounts, manufacturing, queries, signatures). A signed casebook is
    #: locked through it (:mod:`alstrial.store.signature_locks`).
    casebook_key: ClassVar[str | None] = None
    #: A column whose value rows inserted together share (an item's form instance): such
    #: rows, inserted in bulk (:mod:`alstrial.store.audited_insert`), are audited as one rows
    #: event per value of it (:data:`alstrial.store.audit.ROWS`) instead of one event each.
    audit_group: ClassVar[str | None] = None
