"""``alstrial serve`` and ``alstrial users``: the web application and its accounts."""

from __future__ import annotations

from typing import Annotated

import typer

from alstrial.cli.options import DatabaseOption, JsonOption, echo_json, new_table, print_rich

__all__ = ["serve_command", "sites_app", "users_app"]

users_app = typer.Typer(help="Accounts of the web application.", no_args_is_help=True)
sites_app = typer.Typer(help="Clinical sites.", no_args_is_help=True)

ActorOption = Annotated[str, typer.Option(help="Who makes the change (recorded in the audit).")]
ReasonOption = Annotated[str, typer.Option(help="Why (recorded in the audit trail).")]


@users_app.command("list")
def users_list(database: DatabaseOption = None, as_json: JsonOption = False) -> None:
    """Every account: role, sites, disabled, locked, one-time password pending."""
    from dataclasses import asdict

    from alstrial.cli.context import database_url, open_session
    from alstrial.services.accounts import list_accounts

    with open_session(database_url(database)) as session:
        lines = list_accounts(session)
    if as_json:
        echo_json([asdict(line) for line in lines])
        return
    table = new_table("user", "name", "role", "sites", "active", "locked", "new password due")
    for line in lines:
        table.add_row(
            line.username,
            line.full_name,
            line.role,
            ", ".join(line.sites),
            "yes" if line.active else "DISABLED",
            "LOCKED" if line.locked else "",
            "yes" if line.must_change_password else "",
        )
    print_rich(table)


@users_app.command("disable")
def users_disable(
    username: Annotated[str, typer.Argument(help="The account to disable.")],
    reason: ReasonOption,
    actor: ActorOption = "cli",
    database: DatabaseOption = None,
) -> None:
    """Disable an account (its sessions end at once; its data and trail stay)."""
    _set_active(username, False, reason, actor, database)


@users_app.command("enable")
def users_enable(
    username: Annotated[str, typer.Argument(help="The account to enable again.")],
    reason: ReasonOption,
    actor: ActorOption = "cli",
    database: DatabaseOption = None,
) -> None:
    """Enable a disabled account again."""
    _set_active(username, True, reason, actor, database)


def _set_active(username: str, active: bool, reason: str, actor: str, database: str | None) -> None:
    from alstrial.cli.context import database_url, open_session
    from alstrial.services.accounts import set_active

    with open_session(database_url(database)) as session:
        set_active(session, actor=actor, username=username, active=active, reason=reason)
    typer.echo(f"user {username} {'enabled' if active else 'disabled'}")


@users_app.command("unlock")
def users_unlock(
    username: Annotated[str, typer.Argument(help="The locked account.")],
    database: DatabaseOption = None,
) -> None:
    """Lift a login lock before its 15 minutes are over."""
    from alstrial.cli.context import database_url, open_session
    from alstrial.services.accounts import unlock

    with open_session(database_url(database)) as session:
        unlock(session, username=username)
    typer.echo(f"user {username} unlocked")


@users_app.command("reset")
def users_reset(
    username: Annotated[str, typer.Argument(help="The account whose password is reset.")],
    reason: ReasonOption,
    actor: ActorOption = "cli",
    database: DatabaseOption = None,
) -> None:
    """A new one-time password, printed once; the user replaces it at the next login."""
    from alstrial.cli.context import database_url, open_session
    from alstrial.services.accounts import reset_password

    with open_session(database_url(database)) as session:
        secret = reset_password(session, actor=actor, username=username, reason=reason)
    typer.echo(f"one-time password of {username} (shown once): {secret}")


@users_app.command("grant")
def users_grant(
    username: Annotated[str, typer.Argument(help="The account.")],
    reason: ReasonOption,
    role: Annotated[str | None, typer.Option(help="A new role.")] = None,
    site: Annotated[list[str] | None, typer.Option(help="A site to add (repeatable).")] = None,
    actor: ActorOption = "cli",
    database: DatabaseOption = None,
) -> None:
    """Change an account's role and/or give it sites."""
    from alstrial.cli.context import database_url, open_session
    from alstrial.services.accounts import grant

    with open_session(database_url(database)) as session:
        user = grant(
            session, actor=actor, username=username, reason=reason, role=role, sites=site or []
        )
        role_now = user.role.value
    typer.echo(f"user {username}: role {role_now}, sites added: {', '.join(site or []) or 'none'}")


@sites_app.command("add")
def sites_add(
    code: Annotated[str, typer.Argument(help="Site code (letters, digits, '.', '_', '-').")],
    name: Annotated[str, typer.Option(help="The site's name.")],
    actor: ActorOption = "cli",
    database: DatabaseOption = None,
) -> None:
    """Add a clinical site."""
    from alstrial.cli.context import database_url, open_session
    from alstrial.services import add_site

    with open_session(database_url(database)) as session:
        add_site(session, actor=actor, code=code, name=name)
    typer.echo(f"site {code} added")


@sites_app.command("list")
def sites_list(database: DatabaseOption = None, as_json: JsonOption = False) -> None:
    """Every site."""
    from alstrial.cli.context import database_url, open_session
    from alstrial.services.setup import list_sites

    with open_session(database_url(database)) as session:
        rows = [{"code": site.code, "name": site.name} for site in list_sites(session)]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        typer.echo(f"{row['code']}\t{row['name']}")


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
