"""Options and output shared by every ``alstrial`` command."""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table

__all__ = [
    "DatabaseOption",
    "JsonOption",
    "echo_json",
    "error_console",
    "new_table",
    "print_rich",
]

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="SQLAlchemy URL (default: ALSTRIAL_DATABASE_URL, else sqlite:///alstrial.db).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def echo_json(payload: Any) -> None:
    """Print ``payload`` as indented JSON (dates and other objects as text)."""
    typer.echo(json.dumps(payload, indent=2, default=str))


@cache
def _console(stderr: bool) -> Console:
    from rich.console import Console  # deferred: rich costs 30 ms, JSON output needs none

    return Console(stderr=stderr)


def error_console() -> Console:
    """The rich console on standard error (progress bars, warnings)."""
    return _console(True)


def new_table(*columns: str, **options: Any) -> Table:
    """A rich table with these column headers."""
    from rich.table import Table

    return Table(*columns, **options)


def print_rich(renderable: RenderableType | str) -> None:
    """Print a rich table or markup on standard output."""
    _console(False).print(renderable)
