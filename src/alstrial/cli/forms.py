"""``alstrial forms``: the protocol's own forms (the data dictionary), listed and shown."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from alstrial.cli.options import DatabaseOption, JsonOption, echo_json, new_table, print_rich

if TYPE_CHECKING:
    from alstrial.protocol import Protocol
    from alstrial.protocol.builtin_forms import BuiltinForm
    from alstrial.protocol.dictionary import DictionaryForm

__all__ = ["forms_app"]

forms_app = typer.Typer(
    help="The protocol's own forms (its data dictionary).", no_args_is_help=True
)

ProtocolFile = Annotated[
    Path | None,
    typer.Option("--protocol", help="Read this protocol file instead of the study's database."),
]


def _protocol(path: Path | None, database: str | None) -> Protocol:
    """The protocol of a file, or the study's current one."""
    if path is not None:
        from alstrial.protocol import load_protocol

        return load_protocol(path)
    from alstrial.cli.context import database_url, open_session
    from alstrial.services.lookup import current_protocol

    with open_session(database_url(database)) as session:
        return current_protocol(session)


BuiltinOption = Annotated[
    bool,
    typer.Option(
        "--builtin",
        help="List alstrial's built-in forms (ALSFRS-R, vitals, ...), declared in the same "
        "language, instead of the protocol's own.",
    ),
]


def _builtin_forms() -> dict[str, BuiltinForm]:
    from alstrial.web.forms import DECLARED

    return DECLARED


@forms_app.command("list")
def forms_list(
    protocol: ProtocolFile = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
    builtin: BuiltinOption = False,
) -> None:
    """Each form of the dictionary: where it is entered, whether it repeats, its visits."""
    if builtin:
        _list_builtin(as_json)
        return
    study = _protocol(protocol, database)
    rows: list[dict[str, Any]] = [
        {
            "form": form.name,
            "title": form.title,
            "scope": form.scope,
            "repeating": form.repeating,
            "fields": len(form.fields),
            "visits": [v.code for v in study.visits if form.name in v.assessments],
        }
        for form in study.forms
    ]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        typer.echo("the protocol declares no forms of its own")
        return
    table = new_table("form", "title", "entered", "repeats", "fields", "visits")
    for row in rows:
        table.add_row(
            str(row["form"]),
            str(row["title"]),
            "per subject" if row["scope"] == "subject" else "at visits",
            "yes" if row["repeating"] else "no",
            str(row["fields"]),
            ", ".join(row["visits"]) or "-",
        )
    print_rich(table)


def _list_builtin(as_json: bool) -> None:
    rows: list[dict[str, Any]] = [
        {
            "form": form.name,
            "title": form.title,
            "scope": form.scope,
            "assessment": form.assessment,
            "fields": len(form.fields),
        }
        for form in _builtin_forms().values()
    ]
    if as_json:
        echo_json(rows)
        return
    table = new_table("form", "title", "entered", "assessment", "fields")
    for row in rows:
        table.add_row(
            str(row["form"]),
            str(row["title"]),
            "per subject" if row["scope"] == "subject" else "at visits",
            str(row["assessment"] or "-"),
            str(row["fields"]),
        )
    print_rich(table)


@forms_app.command("show")
def forms_show(
    form: Annotated[str, typer.Argument(help="The form's name (see `alstrial forms list`).")],
    protocol: ProtocolFile = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """A form's fields: type, unit, ranges, choices, branching, calculation, missing codes;
    the protocol's own form of that name, else alstrial's built-in one."""
    from alstrial.exceptions import NotFoundError

    study = _protocol(protocol, database)
    builtin = _builtin_forms()
    spec: DictionaryForm | None
    try:
        spec = study.form(form)
    except KeyError:
        spec = builtin.get(form)
    if spec is None:
        known = ", ".join([*(f.name for f in study.forms), *builtin]) or "none"
        raise NotFoundError(
            f"the protocol has no form {form!r}", form=form, allowed=known
        ) from None
    if as_json:
        echo_json(spec.model_dump(mode="json"))
        return
    typer.echo(f"{spec.title} ({spec.name}): {spec.scope} level"
               f"{', repeating' if spec.repeating else ''}")  # fmt: skip
    table = new_table("field", "label", "type", "required", "range", "rules")
    for f in spec.fields:
        bounds = [
            f"{k} {getattr(f, k)}"
            for k in ("min", "max", "soft_min", "soft_max")
            if getattr(f, k) is not None
        ]
        rules = []
        if f.choices:
            rules.append(", ".join(f"{c.code}={c.label}" for c in f.choices))
        if f.show_if:
            rules.append(f"shown if {f.show_if}")
        if f.calc:
            rules.append(f"= {f.calc}")
        if f.pattern:
            rules.append(f"pattern {f.pattern}")
        table.add_row(
            f.name,
            f.label + (f" ({f.unit})" if f.unit else ""),
            f.type,
            "yes" if f.required else "",
            "; ".join(bounds),
            "; ".join(rules),
        )
    print_rich(table)
