"""The one place where errors become CLI output: exit code 2 and one clear line."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import typer
from typer.exceptions import TyperException

from alstrial.exceptions import AlstrialError, ConfigurationError, IntegrityError

__all__ = ["EXIT_INVALID", "render_error", "run_guarded"]

EXIT_INVALID = 2


def render_error(error: AlstrialError, *, as_json: bool) -> str:
    """The line printed for an alstrial error (JSON shape pinned by the tests)."""
    if as_json:
        return json.dumps(error.to_dict(), default=str)
    return f"error: {error.one_line()}"


def _translate(error: Exception) -> AlstrialError | None:
    if isinstance(error, AlstrialError):
        return error
    if "sqlalchemy" not in sys.modules:  # no database was opened: not a database error
        return None
    import sqlalchemy.exc

    if isinstance(error, sqlalchemy.exc.OperationalError):
        return ConfigurationError(f"the database cannot be used: {error.orig}")
    if isinstance(error, sqlalchemy.exc.IntegrityError):
        return IntegrityError(f"the database refused the change: {error.orig}")
    return None


def run_guarded(command: Callable[[], object]) -> int:
    """Run the typer command; alstrial errors print one line and exit 2."""
    as_json = "--json" in sys.argv
    try:
        result = command()
    except typer.Exit as done:
        return int(done.exit_code)
    except TyperException as usage:
        show = getattr(usage, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"error: {usage.format_message()}", err=True)
        return EXIT_INVALID
    except typer.Abort:
        typer.echo("aborted", err=True)
        return EXIT_INVALID
    except Exception as error:
        translated = _translate(error)
        if translated is None:
            raise
        typer.echo(render_error(translated, as_json=as_json), err=True)
        return EXIT_INVALID
    return result if isinstance(result, int) else 0
