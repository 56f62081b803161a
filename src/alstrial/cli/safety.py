"""``alstrial safety``: CTCAE grading of a value, stopping rules, SAE notifications, tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from alstrial.cli.options import DatabaseOption, JsonOption, echo_json

__all__ = ["safety_app"]

safety_app = typer.Typer(
    help="Safety: CTCAE grades, stopping rules, SAE reports, tables.", no_args_is_help=True
)


@safety_app.command("grade")
def grade_command(
    analyte: Annotated[
        str, typer.Argument(help="ALT, AST, ALP, BILI, CREAT, K, NA, HGB, ANC, PLT, WBC, LYM.")
    ],
    value: Annotated[float, typer.Argument(help="The result.")],
    unit: Annotated[str, typer.Option(help="Its unit (converted to the canonical one).")],
    sex: Annotated[str, typer.Option(help="male or female (default reference range).")] = "male",
    lln: Annotated[
        float | None, typer.Option(help="The laboratory's LLN (canonical unit).")
    ] = None,
    uln: Annotated[
        float | None, typer.Option(help="The laboratory's ULN (canonical unit).")
    ] = None,
    baseline: Annotated[float | None, typer.Option(help="Baseline value (canonical unit).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Convert, flag and grade one laboratory value by CTCAE v5."""
    from alstrial.safety.ctcae import ctcae_grade
    from alstrial.safety.labs import ReferenceRange, convert, flag, reference_range

    canonical = convert(analyte, value, unit)
    limits = reference_range(analyte, sex)
    if lln is not None or uln is not None:
        limits = ReferenceRange(
            lln if lln is not None else limits.lln, uln if uln is not None else limits.uln
        )
        overrides = {analyte.upper(): limits}
    else:
        overrides = None
    checked = flag(analyte, canonical, sex, overrides)
    graded = ctcae_grade(analyte, canonical, limits, baseline=baseline)
    payload = {
        "analyte": analyte.upper(),
        "value": canonical,
        "unit": checked.unit,
        "lln": limits.lln,
        "uln": limits.uln,
        "flag": checked.flag,
        "ctcae_term": graded.term,
        "ctcae_grade": graded.grade,
        "rule": graded.rule,
    }
    if as_json:
        echo_json(payload)
        return
    typer.echo(
        f"{payload['analyte']} {canonical:.4g} {checked.unit} "
        f"(range {limits.lln}-{limits.uln}) {checked.flag or 'normal'}; "
        f"CTCAE v5 {graded.term} grade {graded.grade} ({graded.rule})"
    )


@safety_app.command("stopping")
def stopping_command(database: DatabaseOption = None, as_json: JsonOption = False) -> None:
    """The protocol's stopping rules that the adverse events trigger, and which are open."""
    from alstrial.cli.context import database_url, open_session
    from alstrial.services import open_stopping_rules, triggered_stopping_rules

    with open_session(database_url(database)) as session:
        triggered = triggered_stopping_rules(session)
        still_open = {t.rule.id for t in open_stopping_rules(session)}
    payload = [
        {
            "rule": t.rule.id,
            "text": t.rule.text,
            "events": len(t.events),
            "threshold": t.rule.threshold,
            "open": t.rule.id in still_open,
            "subjects": sorted({e.subject for e in t.events}),
        }
        for t in triggered
    ]
    if as_json:
        echo_json(payload)
    else:
        for row in payload:
            state = "OPEN: administration blocked" if row["open"] else "decided"
            typer.echo(f"{row['rule']} ({row['text']}): {row['events']} events; {state}")
        if not payload:
            typer.echo("no stopping rule is triggered")
    if still_open:
        raise typer.Exit(1)


@safety_app.command("notifications")
def notifications_command(database: DatabaseOption = None, as_json: JsonOption = False) -> None:
    """SAE and SUSAR reports that are overdue (due and not sent)."""
    from alstrial.cli.context import database_url, open_session
    from alstrial.services import overdue_notifications

    with open_session(database_url(database)) as session:
        rows = [
            {
                "id": n.id,
                "kind": n.kind,
                "recipient": n.recipient,
                "due_at": n.due_at,
                "adverse_event_id": n.adverse_event_id,
            }
            for n in overdue_notifications(session, datetime.now(UTC))
        ]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        typer.echo(f"OVERDUE {row['kind']} to {row['recipient']}, due {row['due_at']}")
    if not rows:
        typer.echo("no overdue notification")


@safety_app.command("table")
def table_command(
    which: Annotated[str, typer.Argument(help="table3, grades, sae or shift.")],
    analyte: Annotated[str | None, typer.Option(help="For shift: the analyte.")] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Safety tables from the study database."""
    from alstrial.cli.context import database_url, open_session
    from alstrial.exceptions import ValidationError
    from alstrial.reporting.safety_tables import (
        events_by_category_and_grade,
        lab_shift_table,
        sae_listing,
    )
    from alstrial.reporting.tables import table3_adverse_events
    from alstrial.services import build_analysis_frames

    with open_session(database_url(database)) as session:
        frames = build_analysis_frames(session)
    if which == "table3":
        table = table3_adverse_events(frames)
    elif which == "grades":
        table = events_by_category_and_grade(frames)
    elif which == "sae":
        table = sae_listing(frames)
    elif which == "shift":
        if not analyte:
            raise ValidationError("the shift table needs --analyte", field="analyte")
        table = lab_shift_table(frames, analyte)
    else:
        raise ValidationError(
            f"unknown table {which!r}",
            field="table",
            value=which,
            allowed="table3, grades, sae, shift",
        )
    if as_json:
        echo_json(table.to_dict("records"))
        return
    typer.echo(table.to_string(index=False))
    if frames.synthetic:
        typer.echo("SYNTHETIC DATA: the demo's patients, dates and grades are partly generated.")
