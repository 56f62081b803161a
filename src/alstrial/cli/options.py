"""Options and output shared by every ``alstrial`` command."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

__all__ = ["DatabaseOption", "JsonOption", "echo_json"]

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
