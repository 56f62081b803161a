"""Property-based: any value a careless user or an attacker types gets a clear error (and
nothing written) or a valid result, never a traceback (issue 14). Hypothesis draws numbers
(NaN, infinities, huge, negative), text (NUL, control characters, 10,000 characters) and
codes, for a recording service and for the command line run in process as ``main()`` runs
it (every exception that is not an alstrial error would escape ``run_guarded``)."""

from __future__ import annotations

import math
import sys
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from alstrial.cli.main import main
from alstrial.exceptions import AlstrialError
from alstrial.services.safety import record_lab
from alstrial.store import make_engine, make_session_factory
from tests.conftest import Templates
from tests.helpers import ACTOR, DAY0, enrolled, row_counts

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -1.0, 1e308, -1e308, 5e-324]),
)
TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\x00", "ALT\x00", "x" * 10_000, "../../etc", "ALT", "U/L"]),
)
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def lab_store(templates: Templates, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    url = templates.sqlite_copy("study", tmp_path_factory.mktemp("labs") / "labs.db")
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        enrolled(session, "S01")
    return engine


@given(analyte=TEXT, value=NUMBERS, unit=TEXT, visit=TEXT)
@PROPERTY
def test_a_lab_value_is_saved_or_refused_cleanly(
    lab_store: Engine, analyte: str, value: float, unit: str, visit: str
) -> None:
    with make_session_factory(lab_store)() as session:
        before = row_counts(session)
        refusal: AlstrialError | None = None
        try:
            saved = record_lab(
                session,
                actor=ACTOR,
                subject_code="S01",
                visit_code=visit,
                sample_date=DAY0,
                analyte=analyte,
                value=value,
                unit=unit,
            )
        except AlstrialError as error:
            refusal = error
        if refusal is not None:
            assert refusal.message  # a sentence naming what is wrong
            assert row_counts(session) == before
            return
        assert saved.value == value  # saved: then it was a finite value
        assert math.isfinite(value)


COMMANDS = [
    lambda a, b: ["score", "alsfrs-r", *([a] * 12)],
    lambda a, b: ["score", "fvc", "--sex", a, "--age", b, "--height", b, "--fvc", b],
    lambda a, b: ["score", "dfs", "--total", b, "--onset", a, "--visit", "2024-01-01"],
    lambda a, b: ["score", "encals", "--age-onset", b, "--dfs", b, "--delay", b, "--fvc", b],
    lambda a, b: ["dose", "--weight", b, "--per-kg", b, "--concentration", b],
    lambda a, b: ["safety", "grade", a, b, "--unit", a],
    lambda a, b: [
        "stats",
        "power",
        "diggle",
        "--delta",
        b,
        "--times",
        a,
        "--sigma2",
        b,
        "--rho",
        b,
    ],
    lambda a, b: ["stats", "power", "llc", "--effect-size", b],
]
ARGUMENTS = st.one_of(
    st.text(
        alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
        max_size=12,
    ),
    st.sampled_from(["nan", "inf", "-inf", "1e309", "-1", "0", "3b", "male", "--json", ""]),
)


@given(which=st.integers(0, len(COMMANDS) - 1), first=ARGUMENTS, second=ARGUMENTS)
@PROPERTY
def test_the_command_line_never_ends_in_a_traceback(
    which: int,
    first: str,
    second: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "argv", ["alstrial", *COMMANDS[which](first, second)])
    with pytest.raises(SystemExit) as done:
        main()  # any other exception escaping is the traceback a user would see
    captured = capsys.readouterr()
    assert done.value.code in (0, 1, 2), captured
    assert "Traceback" not in captured.err
    if done.value.code == 2:
        assert captured.err.strip(), "a refusal says why"


def test_fixture_dates() -> None:
    assert date(2020, 1, 1) < DAY0
