"""Forging the audit trail as a database administrator would (issue 14), and catching it.

Each forgery passed ``audit verify`` before: a raw data edit with a correctly chained event
appended and the head moved; a rewritten chain after disabling the append-only triggers; the
last transaction removed. Now the events carry the MAC of their hash under a key kept outside
the database, and anchors written outside it pin the chain: verification with the key (and
the anchors) names each forgery. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from alstrial.protocol import reference_protocol_text
from alstrial.services import add_site, create_study
from alstrial.services.audit_trail import read_anchors, write_anchor
from alstrial.store import make_session_factory
from alstrial.store.audit import (
    AuditEvent,
    _hashed_fields,
    event_hash,
    verify_audit_trail,
)
from tests.helpers import ACTOR, register, run_cli

KEY = b"audit-key-kept-outside-the-database-0123456789"


@pytest.fixture
def keyed(empty_engine: Engine) -> Iterator[Session]:
    """A store whose whole trail was written with the audit key, from the study on."""
    with make_session_factory(empty_engine, audit_key=KEY)() as session:
        create_study(session, actor=ACTOR, protocol_text=reference_protocol_text())
        add_site(session, actor=ACTOR, code="A", name="Site A")
        register(session, "S01")
        yield session


def _events(session: Session) -> list[dict[str, Any]]:
    table = AuditEvent.__table__
    rows = session.execute(sa.select(table).order_by(table.c.seq)).mappings().all()
    return [dict(row) for row in rows]


def _chain(rows: list[dict[str, Any]], start_hash: str) -> list[dict[str, Any]]:
    """Recompute prev_hash and hash of ``rows`` as a forger without the key can."""
    prev = start_hash
    for row in rows:
        row["prev_hash"] = prev
        row["hash"] = event_hash(prev, _hashed_fields(SimpleNamespace(**row)))
        prev = row["hash"]
    return rows


def _disable_triggers(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
    else:
        session.execute(sa.text("DROP TRIGGER audit_event_no_update"))
        session.execute(sa.text("DROP TRIGGER audit_event_no_delete"))


def _set_head(session: Session, seq: int, digest: str) -> None:
    session.execute(
        sa.text("UPDATE audit_head SET last_seq = :s, last_hash = :h WHERE id = 1"),
        {"s": seq, "h": digest},
    )


def test_a_clean_keyed_trail_verifies(keyed: Session, tmp_path: Path) -> None:
    write_anchor(keyed, tmp_path, KEY)
    result = verify_audit_trail(keyed, key=KEY, anchors=read_anchors(tmp_path))
    assert result.ok, result.problem
    assert all(row["mac"] for row in _events(keyed))
    wrong = verify_audit_trail(keyed, key=b"another-key-of-at-least-32-characters!!")
    assert not wrong.ok
    assert "no valid MAC" in (wrong.problem or "")


def test_an_appended_event_with_a_correct_hash_is_caught(keyed: Session) -> None:
    events = _events(keyed)
    last = events[-1]
    subject_id = keyed.execute(sa.text("SELECT id FROM subject")).scalar_one()
    keyed.execute(sa.text("UPDATE subject SET weight_kg = 99.0 WHERE id = :i"), {"i": subject_id})
    forged = dict(last)
    forged.update(
        seq=last["seq"] + 1,
        action="update",
        entity="subject",
        record_id=str(subject_id),
        field="weight_kg",
        old_value="60.0",
        new_value="99.0",
        reason="correction",
        mac=None,
    )
    [forged] = _chain([forged], last["hash"])
    keyed.execute(sa.insert(AuditEvent.__table__), forged)
    _set_head(keyed, forged["seq"], forged["hash"])
    keyed.commit()
    assert verify_audit_trail(keyed).ok  # without the key, the forgery passes
    result = verify_audit_trail(keyed, key=KEY)
    assert not result.ok
    assert f"audit event {forged['seq']} has no valid MAC" in (result.problem or "")


def test_a_rewritten_chain_is_caught_by_the_key_and_by_an_anchor(
    keyed: Session, tmp_path: Path
) -> None:
    write_anchor(keyed, tmp_path / "unsigned", None)
    write_anchor(keyed, tmp_path / "signed", KEY)
    _disable_triggers(keyed)
    events = _events(keyed)
    target = next(row for row in events if row["entity"] == "subject" and row["field"] == "*")
    subject_id = keyed.execute(sa.text("SELECT id FROM subject")).scalar_one()
    keyed.execute(sa.text("UPDATE subject SET weight_kg = 99.0 WHERE id = :i"), {"i": subject_id})
    inserted = json.loads(target["new_value"])
    inserted["weight_kg"] = "99.0"
    target["new_value"] = json.dumps(inserted, separators=(",", ":"))
    start = events.index(target)
    rewritten = _chain(events[start:], events[start - 1]["hash"] if start else "0" * 64)
    for row in rewritten:
        keyed.execute(
            sa.text(
                "UPDATE audit_event SET new_value = :v, prev_hash = :p, hash = :h WHERE seq = :s"
            ),
            {"v": row["new_value"], "p": row["prev_hash"], "h": row["hash"], "s": row["seq"]},
        )
    _set_head(keyed, rewritten[-1]["seq"], rewritten[-1]["hash"])
    keyed.commit()
    assert verify_audit_trail(keyed).ok  # a chain rewritten whole passes without key or anchor
    by_key = verify_audit_trail(keyed, key=KEY)
    assert f"audit event {target['seq']} has no valid MAC" in (by_key.problem or "")
    by_anchor = verify_audit_trail(keyed, anchors=read_anchors(tmp_path / "unsigned"))
    assert "has another hash now: the trail was rewritten" in (by_anchor.problem or "")


def test_a_removed_last_transaction_is_caught_by_an_anchor(keyed: Session, tmp_path: Path) -> None:
    before = _events(keyed)[-1]
    register(keyed, "S02")
    write_anchor(keyed, tmp_path, KEY)
    _disable_triggers(keyed)
    keyed.execute(sa.text("DELETE FROM audit_event WHERE seq > :s"), {"s": before["seq"]})
    keyed.execute(sa.text("DELETE FROM subject WHERE study_code = 'S02'"))
    _set_head(keyed, before["seq"], before["hash"])
    keyed.commit()
    assert verify_audit_trail(keyed, key=KEY).ok  # every remaining MAC is genuine
    result = verify_audit_trail(keyed, key=KEY, anchors=read_anchors(tmp_path))
    assert not result.ok
    assert "but the trail ends at" in (result.problem or "")
    assert "events were removed" in (result.problem or "")


def test_an_anchor_forged_without_the_key_is_refused(keyed: Session, tmp_path: Path) -> None:
    path = write_anchor(keyed, tmp_path, KEY)
    data = json.loads(path.read_text())
    data["mac"] = "0" * 64
    path.write_text(json.dumps(data))
    result = verify_audit_trail(keyed, key=KEY, anchors=read_anchors(tmp_path))
    assert "has no valid MAC: it was not written with this audit key" in (result.problem or "")


def test_command_line_anchor_and_verify(tmp_path: Path) -> None:
    env = os.environ | {"ALSTRIAL_AUDIT_KEY": KEY.decode()}
    url = f"sqlite:///{tmp_path / 'trial.db'}"

    def cli(*args: str) -> Any:
        return run_cli(*args, "--database", url, env=env)

    assert cli("init").returncode == 0
    assert cli("audit", "anchor", "--out", str(tmp_path / "anchors")).returncode == 0
    done = cli("audit", "verify", "--anchors", str(tmp_path / "anchors"))
    assert done.returncode == 0, done.stderr
    assert "MACs verified; 1 anchors hold" in done.stdout
    env.pop("ALSTRIAL_AUDIT_KEY")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TRIGGER audit_event_no_update"))
        connection.execute(sa.text("UPDATE audit_event SET mac = NULL WHERE seq = 1"))
    engine.dispose()
    env["ALSTRIAL_AUDIT_KEY"] = KEY.decode()
    failed = cli("audit", "verify", "--anchors", str(tmp_path / "anchors"))
    assert failed.returncode == 1
    assert "audit event 1 has no valid MAC" in failed.stderr
