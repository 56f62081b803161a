"""``alstrial flow`` and ``alstrial dose``: the cell product's identity and dose, no database."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["dose_command", "flow_app"]

flow_app = typer.Typer(help="Flow cytometry of the cell product (FCS files).", no_args_is_help=True)
console = Console()
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _echo_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str))


@flow_app.command("analyze")
def flow_analyze(
    stained: Annotated[Path, typer.Option(help="FCS file of the stained tube.")],
    isotype: Annotated[Path, typer.Option(help="FCS file of the isotype control.")],
    marker: Annotated[list[str], typer.Option(help="Marker ($PnS) or channel (repeatable).")],
    percentile: Annotated[float, typer.Option(help="Isotype percentile for the gate.")] = 99.0,
    method: Annotated[str, typer.Option(help="percentile or overton.")] = "percentile",
    compensation: Annotated[str, typer.Option(help="auto, yes or no.")] = "auto",
    tolerant: Annotated[
        bool, typer.Option("--tolerant", help="Accept a DATA offset off by one (with a warning).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Percent positive per marker against the isotype, after compensation and a cells gate."""
    from alstrial.manufacturing.fcs import read_fcs
    from alstrial.manufacturing.flow import analyze_tubes
    from alstrial.manufacturing.release import evaluate_identity

    stained_sample = read_fcs(stained, strict=not tolerant)
    isotype_sample = read_fcs(isotype, strict=not tolerant)
    results = analyze_tubes(
        stained_sample,
        isotype_sample,
        marker,
        percentile=percentile,
        method=method,
        compensation=compensation,
    )
    identity = evaluate_identity({r.marker: r.percent_positive for r in results})
    payload = {
        "stained": str(stained),
        "isotype": str(isotype),
        "markers": [asdict(r) for r in results],
        "isct": {
            "status": identity.status,
            "rows": [asdict(row) for row in identity.rows],
            "deviations": list(identity.deviations),
        },
        "warnings": list(stained_sample.warnings + isotype_sample.warnings),
    }
    if as_json:
        _echo_json(payload)
        return
    table = Table("marker", "channel", "% positive", "isotype %", "threshold", "events")
    for r in results:
        table.add_row(
            r.marker,
            r.channel,
            f"{r.percent_positive:.1f}",
            f"{r.isotype_percent:.1f}",
            f"{r.threshold:.4g}",
            str(r.stained_events),
        )
    console.print(table)
    typer.echo(f"ISCT: {identity.status}")
    for deviation in identity.deviations:
        typer.echo(f"  deviation: {deviation}")


def dose_command(
    weight: Annotated[float, typer.Option(help="Subject's weight at administration (kg).")],
    per_kg: Annotated[float, typer.Option(help="Dose per kg (cells), e.g. 2e6.")],
    concentration: Annotated[float, typer.Option(help="Measured concentration (cells/ml).")],
    tolerance: Annotated[float, typer.Option(help="Tolerance around the target (%).")] = 10.0,
    available: Annotated[float | None, typer.Option(help="Cells in the product.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Target cells, acceptable range and the volume to draw for one subject."""
    from alstrial.manufacturing.dose import plan_dose

    plan = plan_dose(
        weight_kg=weight,
        dose_per_kg=per_kg,
        concentration_per_ml=concentration,
        tolerance_pct=tolerance,
        available_cells=available,
    )
    if as_json:
        _echo_json(asdict(plan))
        return
    typer.echo(
        f"target {plan.target_cells:.3g} cells ({plan.min_cells:.3g}-{plan.max_cells:.3g}); "
        f"draw {plan.volume_ml:.2f} ml at {plan.concentration_per_ml:.3g} cells/ml"
    )
