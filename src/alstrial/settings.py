"""Settings, read once from ``ALSTRIAL_*`` environment variables.

``ALSTRIAL_DATABASE_URL``
    SQLAlchemy URL of the trial store. Default: the SQLite file ``alstrial.db`` in the working
    directory. A PostgreSQL URL such as ``postgresql+psycopg://user@host/db`` selects PostgreSQL.
``ALSTRIAL_ENVIRONMENT``
    ``development`` (default) or ``production``.
``ALSTRIAL_SECRET_KEY``
    Key that signs the web session cookies, at least 32 characters. There is no default:
    ``alstrial serve`` refuses to start without one unless ``--insecure-dev`` is given (then a
    random key per start, and every page says so).
``ALSTRIAL_AUDIT_KEY``
    Key of the audit trail's MACs (HMAC-SHA-256, 32 characters or more), kept outside the
    database (a secrets manager, a file readable by the service only). Every audit event is
    then written with the MAC of its hash, and ``alstrial audit verify`` checks them: whoever
    owns the database but not the key cannot append or rewrite the trail unseen. Required in
    production; set it before ``alstrial init`` (a trail verified with a key must carry MACs
    from its first event).
``ALSTRIAL_SESSION_IDLE_MINUTES``, ``ALSTRIAL_SESSION_HOURS``
    A web session ends after this long without a request (default 30 minutes) and at the
    latest this long after the login (default 12 hours).
``ALSTRIAL_MAX_FORM_KIB``, ``ALSTRIAL_MAX_UPLOAD_MIB``
    Largest request body of a form (default 1024 KiB) and of an FCS upload (default 64 MiB);
    a request without credentials may send 16 KiB.
``ALSTRIAL_TIMEZONE``
    IANA name of the trial's local time zone, used to show times; storage is always UTC.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alstrial.exceptions import ConfigurationError

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """alstrial's settings (see the module docstring for each variable)."""

    model_config = SettingsConfigDict(env_prefix="ALSTRIAL_", extra="ignore")

    database_url: str = ""
    environment: Literal["development", "production"] = "development"
    secret_key: str = ""
    audit_key: str = ""
    timezone: str = "UTC"
    insecure_dev: bool = False
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_hours: int = Field(default=12, ge=1, le=72)
    max_form_kib: int = Field(default=1024, ge=16, le=64 * 1024)
    max_upload_mib: int = Field(default=64, ge=1, le=4096)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name") from error
        return value

    @model_validator(mode="after")
    def _secret_key_set_outside_development(self) -> Settings:
        if self.environment != "development" and len(self.secret_key) < 32:
            raise ValueError(
                "ALSTRIAL_SECRET_KEY (32 characters or more) must be set in production"
            )
        if self.audit_key and len(self.audit_key) < 32:
            raise ValueError("ALSTRIAL_AUDIT_KEY must have 32 characters or more")
        if self.environment != "development" and not self.audit_key:
            raise ValueError("ALSTRIAL_AUDIT_KEY must be set in production")
        if self.environment != "development" and self.insecure_dev:
            raise ValueError("ALSTRIAL_INSECURE_DEV cannot be set in production")
        return self

    def audit_key_bytes(self) -> bytes | None:
        """The audit MAC key, or None when none is set (development)."""
        return self.audit_key.encode("utf-8") if self.audit_key else None

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to ``sqlite:///alstrial.db`` in the working directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path.cwd() / 'alstrial.db'}"


def get_settings() -> Settings:
    """Read the settings from the environment, turning invalid values into one clear error."""
    try:
        return Settings()
    except ValueError as error:
        raise ConfigurationError(f"invalid ALSTRIAL_ settings: {error}") from error
