"""The application built from the settings (``ALSTRIAL_*`` environment variables), for
``alstrial serve`` and any ASGI server: ``uvicorn --factory alstrial.web.asgi:app_from_settings``.
Each worker process builds its own engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["app_from_settings"]


def app_from_settings() -> FastAPI:
    """The web application on the settings' database, secret key and time zone."""
    import gc
    from datetime import timedelta

    from alstrial.settings import get_settings
    from alstrial.store import make_engine
    from alstrial.web.app import create_app
    from alstrial.web.security import Limits

    settings = get_settings()
    app = create_app(
        make_engine(settings.resolved_database_url()),
        secret_key=settings.secret_key,
        secure_cookies=settings.environment == "production",
        timezone=settings.timezone,
        session_idle=timedelta(minutes=settings.session_idle_minutes),
        session_lifetime=timedelta(hours=settings.session_hours),
        limits=Limits(
            form=settings.max_form_kib * 1024, upload=settings.max_upload_mib * 1024 * 1024
        ),
        insecure_dev=settings.insecure_dev,
        audit_key=settings.audit_key_bytes(),
    )
    # What exists now (modules, mappers, the app) lives as long as the process: moved out of
    # the collector's view, a full collection scans only what requests leave behind. Without
    # it one full collection took 84 ms in a worker every thousand or so saves, stalling every
    # request in flight (the p99 of bench/bench_web.py); with it, 5 ms.
    gc.freeze()
    return app
