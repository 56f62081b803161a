"""The audit trail: written for every change, cannot be bypassed, verifies the data."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from alstrial.exceptions import ValidationError
from alstrial.services import record_alsfrs, verify_audit_trail
from alstrial.store.audit import ACTOR_KEY, REASON_KEY, AuditEvent
from alstrial.store.models import AlsfrsAssessment, Subject
from tests.helpers import ACTOR, DAY0, FULL_ITEMS, audit_count, enrolled


def _rating(session: Session) -> AlsfrsAssessment:
    enrolled(session)
    return record_alsfrs(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="W-6",
        assessment_date=DAY0 - timedelta(days=42),
        items=FULL_ITEMS,
    )


def test_every_field_of_an_insert_is_audited(session: Session) -> None:
    """An insert is one event holding the whole row (every column), read as one line per
    field."""
    from alstrial.services.audit_trail import record_history
    from alstrial.store.audit import ROW

    rating = _rating(session)
    events = session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.entity == "alsfrs_assessment", AuditEvent.record_id == str(rating.id)
        )
    ).all()
    assert [(e.action, e.field, e.actor) for e in events] == [("insert", ROW, ACTOR)]
    lines = record_history(session, "alsfrs_assessment", str(rating.id))
    fields = {line.field: line for line in lines}
    assert set(fields) == {c.name for c in AlsfrsAssessment.__table__.columns}
    assert fields["total"].new_value == "48"
    assert fields["item_5b"].new_value is None
    assert {line.action for line in lines} == {"insert"}


def test_orm_write_without_actor_is_refused(session: Session) -> None:
    """A caller that skips the services cannot write clinical data unaudited."""
    _rating(session)
    before = audit_count(session)
    subject = session.scalars(sa.select(Subject)).one()
    subject.weight_kg = 61.0
    with pytest.raises(ValidationError, match="no actor"):
        session.commit()
    session.rollback()
    assert audit_count(session) == before
    assert session.scalars(sa.select(Subject)).one().weight_kg == 60.0


def test_overwriting_saved_data_needs_a_reason(session: Session) -> None:
    _rating(session)
    subject = session.scalars(sa.select(Subject)).one()
    session.info[ACTOR_KEY] = "someone"
    subject.weight_kg = 61.0
    with pytest.raises(ValidationError, match="reason is required"):
        session.commit()
    session.rollback()
    session.info[REASON_KEY] = "weighed again"
    subject = session.scalars(sa.select(Subject)).one()
    subject.weight_kg = 61.0
    session.commit()
    change = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.field == "weight_kg").order_by(AuditEvent.seq.desc())
    ).first()
    assert change is not None
    assert (change.action, change.old_value, change.new_value) == ("update", "60.0", "61.0")
    assert (change.actor, change.reason) == ("someone", "weighed again")
    assert verify_audit_trail(session).ok


def test_delete_is_audited_and_replayed(session: Session) -> None:
    rating = _rating(session)
    session.info[ACTOR_KEY] = "someone"
    session.info[REASON_KEY] = "entered for the wrong patient"
    session.delete(rating)
    session.commit()
    deletes = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "delete")).all()
    assert {d.field for d in deletes} >= {"total", "item_1"}
    assert verify_audit_trail(session).ok


def test_verify_passes_on_untouched_data(session: Session) -> None:
    _rating(session)
    result = verify_audit_trail(session)
    assert result.ok, result.problem
    assert result.events == audit_count(session)


def test_raw_sql_edit_of_data_is_named(session: Session) -> None:
    rating = _rating(session)
    session.execute(
        sa.text("UPDATE alsfrs_assessment SET item_3 = 2 WHERE id = :id"), {"id": rating.id}
    )
    session.commit()
    result = verify_audit_trail(session)
    assert not result.ok
    assert f"alsfrs_assessment record {rating.id} field item_3" in (result.problem or "")


def test_raw_sql_insert_and_delete_are_named(session: Session) -> None:
    rating = _rating(session)
    session.execute(sa.text("INSERT INTO site (id, code, name) VALUES (99, 'X', 'rogue')"))
    session.commit()
    assert "site record 99 has no audit trail" in (verify_audit_trail(session).problem or "")
    session.execute(sa.text("DELETE FROM site WHERE id = 99"))
    session.execute(sa.text("DELETE FROM alsfrs_assessment WHERE id = :id"), {"id": rating.id})
    session.commit()
    problem = verify_audit_trail(session).problem or ""
    assert (
        f"alsfrs_assessment record {rating.id} is in the audit trail but not in the data" in problem
    )


def test_audit_rows_cannot_be_updated_or_deleted(session: Session) -> None:
    _rating(session)
    for statement in (
        "UPDATE audit_event SET actor = 'x' WHERE seq = 1",
        "DELETE FROM audit_event WHERE seq = 1",
    ):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            session.execute(sa.text(statement))
        session.rollback()


def _drop_append_only_triggers(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("DROP TRIGGER audit_event_append_only ON audit_event"))
    else:
        session.execute(sa.text("DROP TRIGGER audit_event_no_update"))
        session.execute(sa.text("DROP TRIGGER audit_event_no_delete"))


def test_raw_sql_edit_of_the_trail_is_named(session: Session) -> None:
    """An administrator who drops the triggers and edits an event breaks the hash chain."""
    _rating(session)
    target, row = session.execute(
        sa.select(AuditEvent.seq, AuditEvent.new_value).where(
            AuditEvent.entity == "alsfrs_assessment"
        )
    ).one()
    _drop_append_only_triggers(session)
    session.execute(
        sa.text("UPDATE audit_event SET new_value = :row WHERE seq = :seq"),
        {"seq": target, "row": row.replace('"item_3":"4"', '"item_3":"2"')},
    )
    session.commit()
    result = verify_audit_trail(session)
    assert result.problem == f"audit event {target} does not match its hash (the trail was edited)"


def test_removing_the_last_events_is_named(session: Session) -> None:
    _rating(session)
    last = audit_count(session)
    _drop_append_only_triggers(session)
    session.execute(sa.text("DELETE FROM audit_event WHERE seq = :seq"), {"seq": last})
    session.commit()
    assert "events were removed" in (verify_audit_trail(session).problem or "")


def test_events_of_a_rolled_back_transaction_never_reach_the_trail(session: Session) -> None:
    """Events are collected at each flush and written at commit: a transaction that flushed
    and then rolled back leaves nothing, and the next commit writes only its own change, with
    the saved value as its old value."""
    _rating(session)
    before = audit_count(session)
    subject = session.scalars(sa.select(Subject)).one()
    session.info[ACTOR_KEY] = ACTOR
    session.info[REASON_KEY] = "weighed again"
    subject.weight_kg = 70.0
    session.flush()  # the change and its events are pending
    session.rollback()
    assert audit_count(session) == before
    # After the rollback the attribute is expired: overwriting it is still an overwrite,
    # which needs a reason, and the trail records the saved value as the old one.
    session.info[ACTOR_KEY], session.info[REASON_KEY] = ACTOR, None
    subject.weight_kg = 62.0
    with pytest.raises(ValidationError, match="reason"):
        session.commit()
    session.rollback()
    session.info[ACTOR_KEY], session.info[REASON_KEY] = ACTOR, "weighed again"
    subject.weight_kg = 62.0
    session.commit()
    events = session.scalars(sa.select(AuditEvent).where(AuditEvent.seq > before)).all()
    assert [(e.entity, e.field, e.old_value, e.new_value) for e in events] == [
        ("subject", "weight_kg", "60.0", "62.0")
    ]
    assert verify_audit_trail(session).ok


def test_the_audit_encoders_shortcut_gives_encode_values_text() -> None:
    """The per-column encoder (a shortcut for text and whole numbers, used for every row
    event) must write exactly what :func:`encode_value` writes, or replayed values would no
    longer match the trail: checked on arbitrary text (escapes, non-ASCII, quotes), whole
    numbers, enums and None, for every column type the audited models use."""
    from enum import Enum

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from alstrial.store.audit import _encoder, audited_mappers, encode_value

    class Colour(Enum):
        RED = "red"

    types = {type(c.type): c.type for m in audited_mappers() for c in m.columns}
    text_types = [t for t in types.values() if isinstance(t, sa.String | sa.Text)]
    whole_types = [
        t for t in types.values() if isinstance(t, sa.Integer) and not isinstance(t, sa.Boolean)
    ]
    assert text_types
    assert whole_types

    @settings(max_examples=300, deadline=None)
    @given(
        st.one_of(st.none(), st.text(), st.integers(-(2**62), 2**62), st.just(Colour.RED)),
    )
    def same(value: object) -> None:
        for column_type in text_types:
            if isinstance(value, int):
                continue  # a text column never receives an int from the models
            assert _encoder(column_type)(value) == encode_value(column_type, value)
        for column_type in whole_types:
            if isinstance(value, str):
                continue
            assert _encoder(column_type)(value) == encode_value(column_type, value)

    same()
    assert _encoder(sa.Text())('a "quoted" é\n') == '"a \\"quoted\\" é\\n"'


def test_the_event_hash_is_that_of_the_canonical_json() -> None:
    """The hash is written piece by piece (``_canonical``); it must be the SHA-256 of exactly
    ``json.dumps([prev_hash, *fields], separators=(",", ":"), ensure_ascii=False)``, or every
    chain written before would stop verifying: checked on arbitrary text (escapes, non-ASCII,
    lone surrogates excluded), whole numbers, booleans and None; and booleans' encoder."""
    import hashlib
    import json

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from alstrial.store.audit import _encoder, encode_value, event_hash

    scalar = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.text(st.characters(blacklist_categories=("Cs",))),
    )

    @settings(max_examples=400, deadline=None)
    @given(st.text(max_size=64), st.lists(scalar, max_size=12))
    def same(prev: str, fields: list[object]) -> None:
        text = json.dumps([prev, *fields], separators=(",", ":"), ensure_ascii=False)
        assert event_hash(prev, fields) == hashlib.sha256(text.encode()).hexdigest()

    same()
    for value in (True, False, None, 1, 0):
        assert _encoder(sa.Boolean())(value) == encode_value(sa.Boolean(), value)


def test_a_row_events_text_is_json_dumps_of_the_row() -> None:
    """A row event's new value is written without building a dictionary (``_row_json``); it
    must be exactly ``json.dumps`` of the row, or the events of the two insert paths would
    differ: checked on arbitrary names and encoded values (escapes, non-ASCII, None)."""
    import json

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from alstrial.store.audit import _row_json

    @settings(max_examples=300, deadline=None)
    @given(st.dictionaries(st.text(min_size=1), st.one_of(st.none(), st.text())))
    def same(row: dict[str, str | None]) -> None:
        assert _row_json(row.items()) == json.dumps(row, separators=(",", ":"))

    same()


def test_the_rows_events_converter_gives_plain_values_value() -> None:
    """A rows event converts its values with a shortcut per column (``_plain_converter``);
    it must give exactly :func:`plain_value`'s value, or a replayed item would not match
    its data: checked on arbitrary text, whole numbers, booleans, enums and None, for every
    column type of a model audited in rows events and of the other audited models."""
    from enum import Enum, StrEnum

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from alstrial.store.audit import _plain_converter, audited_mappers, plain_value

    class Colour(Enum):
        RED = "red"

    class Shade(StrEnum):
        DARK = "dark"

    kinds = [sa.Text(), sa.String(20), sa.Integer(), sa.Boolean()]
    kinds += [c.type for m in audited_mappers() for c in m.columns]
    values = st.one_of(
        st.none(),
        st.text(),
        st.integers(-(2**62), 2**62),
        st.booleans(),
        st.sampled_from([Colour.RED, Shade.DARK]),
    )

    @settings(max_examples=300, deadline=None)
    @given(values)
    def same(value: object) -> None:
        for column_type in kinds:
            try:
                expected = plain_value(column_type, value)
            except (TypeError, ValueError, AttributeError):
                continue  # a value the column never receives (text to a date column)
            got = _plain_converter(column_type)(value)
            # The same value; NaN (the text "nan" to a float column) is the same as itself.
            assert got == expected or (got != got and expected != expected)
            assert type(got) is type(expected)

    same()


def test_a_rows_event_that_is_not_one_is_refused_by_name() -> None:
    """A rows event's value is read only in its own shape; anything else (an edited trail,
    whose hash fails as well) is an integrity error that says so, never a partial read."""
    from alstrial.exceptions import IntegrityError
    from alstrial.store.audit import rows_event_records

    good = '{"columns":["id","field"],"rows":{"7":[7,"bmi"]}}'
    assert rows_event_records(good) == {"7": {"id": "7", "field": '"bmi"'}}
    for bad in (None, "", "[]", '{"columns":["id"]}', '{"columns":["id"],"rows":{"7":[7,8]}}'):
        with pytest.raises(IntegrityError, match="rows event cannot be read"):
            rows_event_records(bad)
