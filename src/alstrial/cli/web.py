"""``alstrial serve`` and ``alstrial users``: the web application and its accounts."""

from __future__ import annotations

from typing import Annotated

import typer

from alstrial.cli.options import DatabaseOption

__all__ = ["serve_command", "users_app"]

users_app = typer.Typer(help="Accounts of the web application.", no_args_is_help=True)


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="The login name.")],
    role: Annotated[
        str,
        typer.Option(help="administrator, investigator, coordinator, qc, monitor or statistician."),
    ],
    site: Annotated[list[str] | None, typer.Option(help="A site code (repeatable).")] = None,
    full_name: Annotated[str, typer.Option(help="Name shown on signatures.")] = "",
    actor: Annotated[str, typer.Option(help="Who creates the account.")] = "cli",
    database: DatabaseOption = None,
) -> None:
    """Create an account; its one-time password is printed once and never stored."""
    from alstrial.cli.context import database_url, open_session
    from alstrial.services.accounts import create_account

    with open_session(database_url(database)) as session:
        account = create_account(
            session,
            actor=actor,
            username=username,
            role=role,
            sites=site or [],
            full_name=full_name,
        )
    typer.echo(f"user {username} ({account.user.role.value}) created")
    typer.echo(f"one-time password (shown once): {account.one_time_password}")


@users_app.command("revoke-sessions")
def users_revoke_sessions(
    username: Annotated[str, typer.Argument(help="The user whose web sessions end now.")],
    database: DatabaseOption = None,
) -> None:
    """End every web session of a user at once (a lost laptop, a departure)."""
    from sqlalchemy import select

    from alstrial.cli.context import database_url, open_session
    from alstrial.exceptions import NotFoundError
    from alstrial.services.web_sessions import revoke_user_sessions
    from alstrial.store.models import User

    with open_session(database_url(database)) as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFoundError(f"no user {username!r}", field="username", value=username)
        ended = revoke_user_sessions(session, user.id)
    typer.echo(f"{ended} session(s) of {username} ended")


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (each with its own database connections).")
    ] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
    insecure_dev: Annotated[
        bool,
        typer.Option(
            "--insecure-dev",
            help="Start without ALSTRIAL_SECRET_KEY on a random key (development only; every "
            "page says so).",
        ),
    ] = False,
    database: DatabaseOption = None,
) -> None:
    """Run the web application (uvicorn). Needs ALSTRIAL_SECRET_KEY (32+ characters)."""
    import os
    import secrets

    from alstrial.cli.context import database_url
    from alstrial.exceptions import ConfigurationError
    from alstrial.settings import get_settings
    from alstrial.web.app import MIN_SECRET_KEY
    from alstrial.web.serve import serve

    settings = get_settings()
    if len(settings.secret_key) < MIN_SECRET_KEY:
        if not insecure_dev:
            raise ConfigurationError(
                f"alstrial serve needs ALSTRIAL_SECRET_KEY ({MIN_SECRET_KEY} characters or "
                "more): a default key would be public, and anyone could forge a session. "
                "Make one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'; "
                "or pass --insecure-dev on a development machine"
            )
        # One random key for every worker of this start (they must read each other's cookies).
        os.environ["ALSTRIAL_SECRET_KEY"] = secrets.token_urlsafe(48)
    if insecure_dev:
        os.environ["ALSTRIAL_INSECURE_DEV"] = "1"
        get_settings()  # refuses --insecure-dev in production
        typer.echo("INSECURE DEVELOPMENT MODE: never enter real patient data", err=True)
    # The workers build the application from the settings: hand them the database chosen here.
    os.environ["ALSTRIAL_DATABASE_URL"] = database_url(database)
    serve(host, port, workers=workers, access_log=access_log)
