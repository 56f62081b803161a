"""Hard limits on input (issue 14), on SQLite and PostgreSQL alike.

Before: on PostgreSQL an over-long text or a NUL byte was a server error while SQLite stored
it; ``inf`` was stored as a cell count; 8 parallel registrations of one code on PostgreSQL
gave a server error; a subject code with '/' was accepted and its page could not be opened;
``alstrial dose --per-kg inf`` printed "draw inf ml"; ``protocol check`` accepted an infinite
dose and ended in tracebacks on a folder, a binary file and deeply nested TOML.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from alstrial.exceptions import AlstrialError, ConflictError, ValidationError
from alstrial.protocol import reference_protocol_text
from alstrial.services import BatchResults, add_site, record_product_batch
from alstrial.store import make_session_factory
from tests.helpers import ACTOR, enrolled, refused, register, run_cli


def test_nul_bytes_and_over_long_text_are_refused_by_name(session: Session) -> None:
    error = refused(
        session, ValidationError, lambda: add_site(session, actor=ACTOR, code="C", name="a\x00b")
    )
    assert (error.form, error.field) == ("site", "name")
    assert "NUL" in error.message
    error = refused(
        session, ValidationError, lambda: add_site(session, actor=ACTOR, code="C", name="n" * 201)
    )
    assert "201 characters long; at most 200 fit" in error.message


def test_infinite_numbers_are_refused_by_name(session: Session) -> None:
    enrolled(session, "S01")
    results = BatchResults("B-1", float("inf"), 97.0, "NC", "NC", 0.1, True, "46XY")
    error = refused(
        session,
        ValidationError,
        lambda: record_product_batch(session, actor=ACTOR, subject_code="S01", results=results),
    )
    assert error.field == "final_cell_count"
    assert "finite" in error.message


@pytest.mark.parametrize("code", ["A/B", "../x", "a b", "", "-lead", "x" * 41, "é1"])
def test_codes_keep_to_a_safe_alphabet(session: Session, code: str) -> None:
    error = refused(session, ValidationError, lambda: register(session, code))
    assert error.field == "study_code"


def test_parallel_registrations_of_one_code(engine: Engine) -> None:
    # One registration wins; the others get a conflict, never a database error.
    factory = make_session_factory(engine)

    def attempt(_: int) -> str:
        with factory() as session:
            try:
                register(session, "S77")
            except ConflictError:
                return "conflict"
            except AlstrialError as error:
                return f"other: {error}"
            return "saved"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert outcomes.count("saved") == 1
    assert outcomes.count("conflict") == 7
    with factory() as session:
        count = session.execute(
            sa.text("SELECT COUNT(*) FROM subject WHERE study_code = 'S77'")
        ).scalar_one()
    assert count == 1


def test_sqlite_commits_reach_the_disk_before_they_are_acknowledged(tmp_path: Path) -> None:
    # PostgreSQL fsyncs at commit by default (synchronous_commit = on). SQLite's connections
    # on a file run NORMAL and fsync the log themselves after each commit (that fsync is
    # tested in tests/test_sqlite_writer.py); any other connection needs FULL.
    from alstrial.store import make_engine
    from alstrial.store.sqlite_writer import syncs_its_commits

    for url, syncs_itself in ((f"sqlite:///{tmp_path / 'durable.db'}", True), ("sqlite://", False)):
        engine = make_engine(url)
        with engine.connect() as connection:
            level = connection.execute(sa.text("PRAGMA synchronous")).scalar_one()
            assert syncs_its_commits(connection.connection.driver_connection) is syncs_itself
            assert level == (1 if syncs_itself else 2)  # NORMAL where it syncs itself, else FULL
        engine.dispose()


def test_command_line_refuses_bad_files_and_numbers_in_one_line(tmp_path: Path) -> None:
    binary = tmp_path / "binary.toml"
    binary.write_bytes(bytes(range(256)) * 8)
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    infinite = tmp_path / "infinite.toml"
    infinite.write_text(
        reference_protocol_text().replace("dose_cells_per_kg = 2.0e6", "dose_cells_per_kg = inf"),
        encoding="utf-8",
    )
    cases = [
        (["protocol", "check", str(tmp_path)], "is a folder"),
        (["protocol", "check", str(binary)], "not a text file"),
        (["protocol", "check", str(deep)], "nested too deeply"),
        (["protocol", "check", str(infinite)], "finite number"),
        (["dose", "--weight", "70", "--per-kg", "inf", "--concentration", "2.8e7"], "positive"),
        (["dose", "--weight", "70", "--per-kg", "2e6", "--concentration", "nan"], "not"),
    ]
    for args, words in cases:
        done = run_cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, (args, done.stderr)  # one line, no traceback
        assert words in lines[0], (args, lines[0])
