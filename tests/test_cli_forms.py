"""``alstrial protocol check|diff|amend`` and ``alstrial forms list|show`` with a data
dictionary (issue 17), as a trial team runs them."""

from __future__ import annotations

import json
from pathlib import Path

from alstrial.protocol import reference_protocol_text
from tests.helpers import run_cli
from tests.test_dictionary import FORMS, protocol_text


def test_a_dictionary_from_file_to_amendment(tmp_path: Path) -> None:
    old = tmp_path / "v1.toml"
    old.write_text(reference_protocol_text(), encoding="utf-8")
    amended = protocol_text().replace('protocol_version = "', 'protocol_version = "2-', 1)
    new = tmp_path / "v2.toml"
    new.write_text(amended, encoding="utf-8")
    checked = run_cli("protocol", "check", str(new))
    assert checked.returncode == 0, checked.stderr
    assert "6 forms of its own" in checked.stdout  # the reference protocol's 4 and 2 more
    listed = run_cli("forms", "list", "--protocol", str(new), "--json")
    rows = {row["form"]: row for row in json.loads(listed.stdout)}
    assert rows["neuro_exam"]["visits"] == ["W-1"]
    assert rows["study_medication"]["scope"] == "subject"
    shown = run_cli("forms", "show", "neuro_exam", "--protocol", str(new))
    assert "Body-mass" in shown.stdout
    fields = json.loads(
        run_cli("forms", "show", "neuro_exam", "--protocol", str(new), "--json").stdout
    )["fields"]
    assert fields[2]["calc"] == "round(weight_kg / (height_cm / 100) ** 2, 1)"
    missing = run_cli("forms", "show", "family", "--protocol", str(new))
    assert missing.returncode == 2
    assert "no form 'family'" in missing.stderr
    diff = run_cli("protocol", "diff", str(old), str(new), "--json")
    changes = json.loads(diff.stdout)
    assert {k: changes[-1][k] for k in ("where", "what")} == {
        "where": "visit W-1",
        "what": "schedules neuro_exam",
    }
    assert any(c["where"] == "form neuro_exam" and c["what"].startswith("added") for c in changes)

    url = f"sqlite:///{tmp_path / 'trial.db'}"
    assert run_cli("init", "--database", url).returncode == 0
    refused = run_cli("protocol", "amend", str(old), "--reason", "x", "--database", url)
    assert refused.returncode == 2
    assert "is loaded already" in refused.stderr
    done = run_cli("protocol", "amend", str(new), "--reason", "own forms", "--database", url)
    assert done.returncode == 0, done.stderr
    from_db = run_cli("forms", "list", "--database", url, "--json")
    assert [r["form"] for r in json.loads(from_db.stdout)][-2:] == [
        "study_medication",
        "neuro_exam",
    ]
    moved = amended.replace("day = 61", "day = 62").replace('"2-', '"3-', 1)
    third = tmp_path / "v3.toml"
    third.write_text(moved, encoding="utf-8")
    refused = run_cli("protocol", "amend", str(third), "--reason", "x", "--database", url)
    assert refused.returncode == 2
    assert "changes the visits" in refused.stderr


def test_a_bad_dictionary_fails_the_check_naming_form_field_and_expectation(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        protocol_text(FORMS.replace('calc = "bmi < 18.5"', 'calc = "bmi < 18.5 +"')),
        encoding="utf-8",
    )
    done = run_cli("protocol", "check", str(bad))
    assert done.returncode == 2
    assert "form 'neuro_exam', field 'bmi_low', calc: expected a value" in done.stderr


def test_an_assessment_without_a_form_is_refused(tmp_path: Path) -> None:
    """Issue 17: the reference protocol scheduled physical_exam with no form to enter it. A
    stored protocol like that still reads; a new one, or an amendment, is refused."""
    import pytest

    from alstrial.exceptions import ProtocolError
    from alstrial.protocol import parse_protocol
    from alstrial.services import create_study
    from alstrial.store import make_engine, make_session_factory
    from alstrial.store.migrate import upgrade_to_head

    without = reference_protocol_text().split("\n[[forms]]")[0]
    assert parse_protocol(without).problems()  # it reads, with its problem
    path = tmp_path / "old.toml"
    path.write_text(without, encoding="utf-8")
    done = run_cli("protocol", "check", str(path))
    assert done.returncode == 2
    assert "schedules 'physical_exam' and no form declares it" in done.stderr
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    upgrade_to_head(engine)
    with make_session_factory(engine)() as session, pytest.raises(ProtocolError, match="form"):
        create_study(session, actor="cli", protocol_text=without)


def test_the_built_in_forms_are_listed_and_shown_from_their_declarations(tmp_path: Path) -> None:
    """Issue 17: the built-in forms are declared in the dictionary's language, and the CLI
    shows them like the protocol's own (the ALSFRS-R with its response wording)."""
    listed = json.loads(run_cli("forms", "list", "--builtin", "--json").stdout)
    rows = {row["form"]: row for row in listed}
    assert rows["alsfrs"]["assessment"] == "alsfrs_r"
    assert rows["adverse_event"]["scope"] == "subject"
    protocol = tmp_path / "protocol.toml"
    protocol.write_text(reference_protocol_text(), encoding="utf-8")
    shown = json.loads(
        run_cli("forms", "show", "alsfrs", "--protocol", str(protocol), "--json").stdout
    )
    item_1 = next(f for f in shown["fields"] if f["name"] == "item_1")
    assert item_1["choices"][0] == {"code": "4", "label": "4: Normal speech processes"}
    unknown = run_cli("forms", "show", "nothing", "--protocol", str(protocol))
    assert unknown.returncode == 2
    assert "alsfrs" in unknown.stderr  # the known forms include the built-in ones
