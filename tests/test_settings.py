"""Settings: defaults, and refusals that name the variable."""

from __future__ import annotations

import pytest

from alstrial.exceptions import ConfigurationError
from alstrial.settings import get_settings
from alstrial.store.engine import normalise_url


def test_default_is_a_sqlite_file_in_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.delenv("ALSTRIAL_DATABASE_URL", raising=False)
    monkeypatch.chdir(str(tmp_path))
    assert get_settings().resolved_database_url() == f"sqlite:///{tmp_path}/alstrial.db"


def test_production_needs_a_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALSTRIAL_ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError, match="ALSTRIAL_SECRET_KEY"):
        get_settings()
    monkeypatch.setenv("ALSTRIAL_SECRET_KEY", "short")
    with pytest.raises(ConfigurationError, match="32 characters"):
        get_settings()
    monkeypatch.setenv("ALSTRIAL_SECRET_KEY", "a-real-secret-of-more-than-32-characters")
    with pytest.raises(ConfigurationError, match="ALSTRIAL_AUDIT_KEY must be set in production"):
        get_settings()
    monkeypatch.setenv("ALSTRIAL_AUDIT_KEY", "short")
    with pytest.raises(ConfigurationError, match="32 characters or more"):
        get_settings()
    monkeypatch.setenv("ALSTRIAL_AUDIT_KEY", "an-audit-key-kept-outside-the-database-0123")
    settings = get_settings()
    assert settings.environment == "production"
    assert settings.audit_key_bytes() == b"an-audit-key-kept-outside-the-database-0123"
    monkeypatch.setenv("ALSTRIAL_INSECURE_DEV", "1")
    with pytest.raises(ConfigurationError, match="INSECURE_DEV cannot be set in production"):
        get_settings()


def test_bad_time_zone_and_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALSTRIAL_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigurationError, match="unknown time zone"):
        get_settings()
    assert normalise_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    with pytest.raises(ConfigurationError, match="unsupported database"):
        normalise_url("mysql://u@h/db")
