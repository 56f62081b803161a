"""``alstrial flow`` and ``alstrial dose``: the cell product's identity and dose, no database."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from alstrial.cli.options import DatabaseOption, JsonOption, echo_json, new_table, print_rich

__all__ = ["batch_app", "dose_command", "flow_app", "release_app"]

flow_app = typer.Typer(help="Flow cytometry of the cell product (FCS files).", no_args_is_help=True)


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
    dataset: Annotated[
        int | None,
        typer.Option(help="Data set of a file with several (1-based; `flow inspect` lists them)."),
    ] = None,
    fsc: Annotated[
        str | None, typer.Option(help="Forward-scatter channel ($PnN) for the cells gate.")
    ] = None,
    ssc: Annotated[
        str | None, typer.Option(help="Side-scatter channel ($PnN) for the cells gate.")
    ] = None,
    figure: Annotated[
        Path | None, typer.Option(help="Write stained-vs-isotype histograms (SVG), as Fig. 2.")
    ] = None,
    batch: Annotated[
        str | None, typer.Option(help="Store the results on this batch (needs --user).")
    ] = None,
    user: Annotated[str | None, typer.Option(help="Who records the results.")] = None,
    database: Annotated[
        str | None, typer.Option("--database", help="SQLAlchemy URL.", show_default=False)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Percent positive per marker against the isotype, after compensation and a cells gate."""
    from alstrial.manufacturing.fcs import read_fcs
    from alstrial.manufacturing.flow import analyze_tubes
    from alstrial.manufacturing.release import evaluate_identity

    stained_sample = read_fcs(stained, strict=not tolerant, dataset=dataset)
    isotype_sample = read_fcs(isotype, strict=not tolerant, dataset=dataset)
    results = analyze_tubes(
        stained_sample,
        isotype_sample,
        marker,
        percentile=percentile,
        method=method,
        compensation=compensation,
        fsc=fsc,
        ssc=ssc,
    )
    identity = evaluate_identity({r.marker: r.percent_positive for r in results})
    histograms = {}
    if figure is not None or batch is not None:
        from alstrial.manufacturing.flow import marker_histogram, marker_values

        values = marker_values(
            stained_sample, isotype_sample, marker, compensation=compensation, fsc=fsc, ssc=ssc
        )
        histograms = {m: marker_histogram(*v) for m, v in values.items()}
    if figure is not None:
        from alstrial.reporting.identity_figure import IdentityPanel, figure_identity

        panel = IdentityPanel(
            batch=batch or stained.name,
            markers=tuple(
                (r.marker, histograms[r.marker], r.percent_positive, r.threshold) for r in results
            ),
            synthetic=False,
        )
        prolog = '<?xml version="1.0" encoding="utf-8" standalone="no"?>\n'  # a file of its own
        figure.write_text(prolog + figure_identity(panel), encoding="utf-8")
    if batch is not None:
        _store_flow(batch, user, database, results, stained, isotype, method, histograms)
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
        echo_json(payload)
        return
    table = new_table("marker", "channel", "% positive", "isotype %", "threshold", "events")
    for r in results:
        table.add_row(
            r.marker,
            r.channel,
            f"{r.percent_positive:.1f}",
            f"{r.isotype_percent:.1f}",
            f"{r.threshold:.4g}",
            str(r.stained_events),
        )
    print_rich(table)
    typer.echo(f"ISCT: {identity.status}")
    for deviation in identity.deviations:
        typer.echo(f"  deviation: {deviation}")


@flow_app.command("inspect")
def flow_inspect(
    file: Annotated[Path, typer.Argument(help="An FCS file (any version, any instrument).")],
    as_json: JsonOption = False,
) -> None:
    """Each data set of an FCS file: version, events, channels ($PnN, $PnS, $PnB, $PnR, $PnE,
    $PnG), data type, spillover and whether the DATA segment can be read. The first command
    to run on a new instrument's files."""
    from alstrial.manufacturing.fcs import inspect_fcs

    infos = inspect_fcs(file)
    if as_json:
        echo_json({"file": str(file), "datasets": [asdict(info) for info in infos]})
        return
    for info in infos:
        typer.echo(
            f"{file.name}: data set {info.dataset} of {len(infos)} (byte {info.offset}), "
            f"FCS {info.version}, {info.events if info.events is not None else '?'} events, "
            f"{len(info.channels)} channels"
        )
        typer.echo(f"  data type {info.datatype}: {info.layout or 'unknown layout'}")
        typer.echo(f"  DATA: {info.data_segment}")
        if info.cytometer or info.date:
            typer.echo(f"  cytometer: {info.cytometer or '?'}; date: {info.date or '?'}")
        typer.echo(f"  spillover: {info.spillover or 'none'}; $TIMESTEP: {info.timestep or '-'}")
        table = new_table("n", "$PnN", "$PnS", "$PnB", "$PnR", "$PnE", "$PnG")
        for channel in info.channels:
            table.add_row(
                str(channel.number),
                channel.name,
                channel.marker,
                channel.bits,
                channel.range,
                channel.amplification,
                channel.gain,
            )
        print_rich(table)
        for warning in info.warnings:
            typer.echo(f"  warning: {warning}")


def _store_flow(
    batch: str,
    user: str | None,
    database: str | None,
    results: list[Any],
    stained: Path,
    isotype: Path,
    method: str,
    histograms: dict[str, dict[str, list[float]]],
) -> None:
    from alstrial.cli.context import database_url, open_session
    from alstrial.exceptions import ValidationError
    from alstrial.services.flow_identity import store_flow_results

    if not user:
        raise ValidationError("--batch needs --user: who records the results", field="user")
    with open_session(database_url(database)) as session:
        store_flow_results(
            session,
            actor=user,
            batch_code=batch,
            results=results,
            method=method,
            stained=stained.read_bytes(),
            isotype=isotype.read_bytes(),
            histograms=histograms,
        )


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
        echo_json(asdict(plan))
        return
    typer.echo(
        f"target {plan.target_cells:.3g} cells ({plan.min_cells:.3g}-{plan.max_cells:.3g}); "
        f"draw {plan.volume_ml:.2f} ml at {plan.concentration_per_ml:.3g} cells/ml"
    )


batch_app = typer.Typer(help="Cell product batches in the study database.", no_args_is_help=True)
release_app = typer.Typer(
    help="Release evaluation, QC signature, certificate.", no_args_is_help=True
)


@batch_app.command("list")
def batch_list(database: DatabaseOption = None, as_json: JsonOption = False) -> None:
    """Every batch with its subject and release status."""
    from alstrial.cli.context import database_url, open_session
    from alstrial.services.manufacturing import list_batches

    with open_session(database_url(database)) as session:
        rows = [
            {
                "batch": b.batch,
                "subject": b.subject,
                "cells": b.cells,
                "viability_pct": b.viability_pct,
                "release_status": b.release_status,
                "provenance": b.provenance,
            }
            for b in list_batches(session)
        ]
    if as_json:
        echo_json(rows)
        return
    table = new_table("batch", "subject", "cells", "viability %", "status", "provenance")
    for row in rows:
        table.add_row(
            str(row["batch"]),
            str(row["subject"]),
            f"{row['cells']:.3g}",
            f"{row['viability_pct']:g}",
            str(row["release_status"]),
            str(row["provenance"]),
        )
    print_rich(table)


@release_app.command("check")
def release_check(
    batch: Annotated[str, typer.Argument(help="Batch code.")],
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate a batch against the protocol's release specification (changes nothing)."""
    from alstrial.cli.context import database_url, open_session
    from alstrial.services import evaluate_batch, find_batch

    with open_session(database_url(database)) as session:
        status = str(find_batch(session, batch).release_status)
        evaluation = evaluate_batch(session, batch)
    payload = {
        "batch": batch,
        "release_status": status,
        "conforms": evaluation.conforms,
        "outcomes": [asdict(o) for o in evaluation.outcomes],
        "deviations": list(evaluation.deviations),
    }
    if as_json:
        echo_json(payload)
    else:
        table = new_table("test", "result", "value", "limit")
        for o in evaluation.outcomes:
            table.add_row(o.test, o.status, o.value, o.limit)
        print_rich(table)
        typer.echo(
            f"{batch}: {'conforms' if evaluation.conforms else 'does NOT conform'} "
            f"(status {status})"
        )
        for deviation in evaluation.deviations:
            typer.echo(f"  deviation: {deviation}")
    if not evaluation.conforms:
        raise typer.Exit(1)


@release_app.command("sign")
def release_sign(
    batch: Annotated[str, typer.Argument(help="Batch code.")],
    decision: Annotated[str, typer.Option(help="released or rejected.")],
    reason: Annotated[str, typer.Option(help="Why, in words.")],
    user: Annotated[str, typer.Option(help="The QC user who signs.")],
    database: DatabaseOption = None,
) -> None:
    """Sign a batch released (every test must pass) or rejected."""
    from alstrial.cli.context import database_url, open_session
    from alstrial.services import sign_release

    with open_session(database_url(database)) as session:
        signed = sign_release(
            session, actor=user, batch_code=batch, decision=decision, reason=reason
        )
        typer.echo(f"{batch}: {signed.decision} by {user} at {signed.signed_at:%Y-%m-%d %H:%M} UTC")


@release_app.command("certificate")
def release_certificate(
    batch: Annotated[str, typer.Argument(help="Batch code.")],
    out: Annotated[Path, typer.Option(help="Output file, .html or .pdf.")],
    database: DatabaseOption = None,
) -> None:
    """Write the batch's release certificate (HTML or PDF)."""
    from alstrial.cli.context import database_url, open_session
    from alstrial.exceptions import ValidationError
    from alstrial.reporting.certificate import build_certificate, write_certificate

    if out.suffix.lower() not in (".html", ".pdf"):
        raise ValidationError(
            f"{out}: the certificate is written as .html or .pdf", field="out", value=str(out)
        )
    with open_session(database_url(database)) as session:
        certificate = build_certificate(session, batch)
    path = write_certificate(certificate, out)
    typer.echo(f"certificate: {path}")
    if certificate.synthetic:
        typer.echo("SYNTHETIC DATA: the demo's batch values are partly generated by alstrial.")
