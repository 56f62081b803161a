"""The FastAPI application: pages for the sites, monitors and QC, and the JSON API.

:func:`create_app` puts the session factory, cookie signer, templates and time zone on
``app.state`` and mounts the routers of :mod:`alstrial.web.routes` (each route checks who is
logged in, the role's permission and the site boundary through :mod:`alstrial.web.deps`).
The two exception handlers here are the one place that turns errors into output: JSON
(``{"error": ..., "field": ...}``) under ``/api/``, an HTML page elsewhere.

No ``from __future__ import annotations`` here: FastAPI reads annotations at run time.
"""

from datetime import timedelta
from importlib import resources
from zoneinfo import ZoneInfo

import jinja2
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.engine import Engine

import alstrial
from alstrial.exceptions import (
    AlstrialError,
    ConfigurationError,
)
from alstrial.store import make_session_factory
from alstrial.web.deps import PasswordChangeRequiredError, http_status, page
from alstrial.web.routes import (
    account,
    admin,
    adverse_events,
    api,
    crf,
    entry,
    exports,
    qc,
    review,
    subjects,
)
from alstrial.web.security import Limits, SecurityMiddleware, SessionSigner

__all__ = ["ROUTE_MODULES", "create_app"]

#: The route modules, in the order they are matched: ``review`` (visit signatures) before
#: the generic form routes of ``entry``, which come early because data entry is the busiest.
ROUTE_MODULES = (account, review, entry, crf, subjects, adverse_events, qc, admin, exports, api)

_STATIC = {
    "htmx.min.js": "text/javascript",
    "app.css": "text/css",
    # Swagger UI 5.35.0 (Apache-2.0, swagger-ui.LICENSE and .NOTICE beside it), from the npm
    # package swagger-ui-dist: /docs works without internet (FastAPI's loads it from a CDN).
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "swagger-init.js": "text/javascript",
}

_DOCS_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>alstrial API</title>
<link rel="stylesheet" href="/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/static/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script></body></html>
"""


def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: (
                resources.files("alstrial.web").joinpath("templates", name).read_text("utf-8")
            )
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def _is_upload(path: str) -> bool:
    """Routes that take files (the upload limit applies): the cytometer's FCS files, and the
    protocol's own forms, whose file fields take a scan or a tracing."""
    if path.startswith("/batches/") and path.endswith("/flow"):
        return True
    parts = path.split("/")
    return len(parts) == 5 and parts[1] == "subjects" and parts[3] == "crf"


MIN_SECRET_KEY = 32


def create_app(
    engine: Engine,
    *,
    secret_key: str,
    secure_cookies: bool = True,
    timezone: str = "UTC",
    session_idle: timedelta = timedelta(minutes=30),
    session_lifetime: timedelta = timedelta(hours=12),
    limits: Limits | None = None,
    insecure_dev: bool = False,
    audit_key: bytes | None = None,
) -> FastAPI:
    """The web application on a migrated store (see the module docstring).

    Raises
    ------
    ConfigurationError
        For a secret key shorter than 32 characters (there is no default key: a default
        would be public, and a forged cookie would log anyone in).
    """
    if len(secret_key) < MIN_SECRET_KEY:
        raise ConfigurationError(
            f"the web application needs a secret key of at least {MIN_SECRET_KEY} characters "
            "(ALSTRIAL_SECRET_KEY; make one with: python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))')"
        )
    app = FastAPI(
        docs_url=None,  # served below from the package, not from a CDN
        redoc_url=None,
        title="alstrial",
        version=alstrial.__version__,
        description="Data capture and exports of an ALS cell-therapy trial. Authenticate with "
        "the session cookie or an API token (`Authorization: Bearer alst_...`).",
    )
    app.state.session_factory = make_session_factory(engine, audit_key=audit_key)
    app.state.signer = SessionSigner(secret_key)
    app.state.templates = _templates()
    app.state.timezone = ZoneInfo(timezone)
    app.state.secure_cookies = secure_cookies
    app.state.session_idle = session_idle
    app.state.session_lifetime = session_lifetime
    app.state.insecure_dev = insecure_dev
    app.state.limits = limits or Limits()
    app.add_middleware(
        SecurityMiddleware,
        limits=app.state.limits,
        upload_paths=_is_upload,
        hsts=secure_cookies,
    )
    static = {
        name: resources.files("alstrial.web").joinpath("static", name).read_bytes()
        for name in _STATIC
    }

    @app.get("/static/{name}", include_in_schema=False)
    def static_file(name: str) -> Response:
        if name not in static:
            raise HTTPException(status_code=404, detail=f"no file {name}")
        return Response(
            static[name],
            media_type=_STATIC[name],
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> Response:
        return Response(_DOCS_PAGE, media_type="text/html")

    for module in ROUTE_MODULES:
        app.include_router(module.router)

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if wants_json(request):
            return JSONResponse({"error": error.detail}, status_code=error.status_code)
        if error.status_code == 401:
            return RedirectResponse("/login", status_code=303)
        return page(request, "error.html.j2", status=error.status_code, message=error.detail)

    @app.exception_handler(PasswordChangeRequiredError)
    async def password_first(request: Request, error: PasswordChangeRequiredError) -> Response:
        if wants_json(request):
            return JSONResponse(error.to_dict(), status_code=403)
        return RedirectResponse("/password", status_code=303)

    @app.exception_handler(AlstrialError)
    async def domain_error(request: Request, error: AlstrialError) -> Response:
        status = http_status(error)
        if wants_json(request):
            return JSONResponse(error.to_dict(), status_code=status)
        return page(request, "error.html.j2", status=status, message=error.message)

    return app
