"""Settings, read once from ``ALSTRIAL_*`` environment variables.

``ALSTRIAL_DATABASE_URL``
    SQLAlchemy URL of the trial store. Default: the SQLite file ``alstrial.db`` in the working
    directory. A PostgreSQL URL such as ``postgresql+psycopg://user@host/db`` selects PostgreSQL.
``ALSTRIAL_ENVIRONMENT``
    ``development`` (default) or ``production``.
``ALSTRIAL_SECRET_KEY``
    Key for the web sessions; refused when left at the development default in production.
``ALSTRIAL_TIMEZONE``
    IANA name of the trial's local time zone, used to show times; storage is always UTC.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alstrial.exceptions import ConfigurationError

__all__ = ["DEVELOPMENT_SECRET_KEY", "Settings", "get_settings"]

DEVELOPMENT_SECRET_KEY = "development-only-not-secret"


class Settings(BaseSettings):
    """alstrial's settings (see the module docstring for each variable)."""

    model_config = SettingsConfigDict(env_prefix="ALSTRIAL_", extra="ignore")

    database_url: str = ""
    environment: Literal["development", "production"] = "development"
    secret_key: str = DEVELOPMENT_SECRET_KEY
    timezone: str = "UTC"

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
        if self.environment != "development" and self.secret_key == DEVELOPMENT_SECRET_KEY:
            raise ValueError("ALSTRIAL_SECRET_KEY must be set outside development")
        return self

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
