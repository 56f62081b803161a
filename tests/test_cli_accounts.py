"""``alstrial users`` and ``alstrial sites`` (issue 15, item 9): an administrator lists,
disables, enables, unlocks, resets and grants accounts, and adds sites, from the command
line; every change is audited with its reason and the trail verifies. Before, accounts
could only be added."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from alstrial.exceptions import PermissionDeniedError, ValidationError
from alstrial.services.accounts import (
    MAX_FAILED_LOGINS,
    authenticate,
    create_account,
    grant,
    list_accounts,
    reset_password,
    set_active,
    unlock,
)
from alstrial.services.audit_trail import record_history
from alstrial.store import make_session_factory
from alstrial.store.audit import verify_audit_trail
from tests.helpers import ACTOR, run_cli

PASSWORD = "correct horse battery"


def test_an_administrators_day_through_the_services(engine: Engine) -> None:
    with make_session_factory(engine)() as session:
        user = create_account(
            session,
            actor=ACTOR,
            username="coord",
            role="coordinator",
            sites=["A"],
            password=PASSWORD,
        ).user
        set_active(session, actor="admin", username="coord", active=False, reason="left")
        with pytest.raises(PermissionDeniedError):
            authenticate(session, "coord", PASSWORD)
        set_active(session, actor="admin", username="coord", active=True, reason="back")
        for _ in range(MAX_FAILED_LOGINS + 1):
            with pytest.raises(PermissionDeniedError):
                authenticate(session, "coord", "not the password!")
        assert next(a for a in list_accounts(session) if a.username == "coord").locked
        unlock(session, username="coord")
        assert authenticate(session, "coord", PASSWORD).username == "coord"
        secret = reset_password(session, actor="admin", username="coord", reason="forgotten")
        assert authenticate(session, "coord", secret).must_change_password
        grant(
            session,
            actor="admin",
            username="coord",
            reason="covers B",
            sites=["B"],
            role="investigator",
        )
        line = next(a for a in list_accounts(session) if a.username == "coord")
        assert (line.role, line.sites) == ("investigator", ("A", "B"))
        history = record_history(session, "app_user", str(user.id))
        reasons = {h.reason for h in history if h.field in ("active", "role")}
        assert {"left", "back", "covers B"} <= reasons
        with pytest.raises(ValidationError, match="his own account"):
            set_active(session, actor="coord", username="coord", active=False, reason="x")
        assert verify_audit_trail(session).ok


def test_the_commands_as_an_administrator_runs_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'trial.db'}"

    def cli(*args: str) -> str:
        done = run_cli(*args, "--database", url)
        assert done.returncode == 0, (args, done.stderr)
        return str(done.stdout)

    cli("init", "--site", "A", "--site-name", "Site A")
    cli("sites", "add", "B", "--name", "Site B")
    assert [s["code"] for s in json.loads(cli("sites", "list", "--json"))] == ["A", "B"]
    cli("users", "add", "coord", "--role", "coordinator", "--site", "A")
    cli("users", "disable", "coord", "--reason", "on leave", "--actor", "admin")
    listed = {a["username"]: a for a in json.loads(cli("users", "list", "--json"))}
    assert listed["coord"]["active"] is False
    cli("users", "enable", "coord", "--reason", "back", "--actor", "admin")
    assert "one-time password of coord" in cli("users", "reset", "coord", "--reason", "lost")
    cli("users", "grant", "coord", "--site", "B", "--reason", "covers B", "--actor", "admin")
    cli("users", "unlock", "coord")
    listed = {a["username"]: a for a in json.loads(cli("users", "list", "--json"))}
    assert listed["coord"]["sites"] == ["A", "B"]
    assert listed["coord"]["must_change_password"] is True
    refused = run_cli("sites", "add", "A/B", "--name", "bad", "--database", url)
    assert refused.returncode == 2
    assert "must be 1-20 letters" in refused.stderr
    assert "audit trail intact" in cli("audit", "verify")
