"""Manufacturing forms for QC: a new batch with its release results, the batch record, the
culture steps. Declared as data with the clinical forms (``alstrial/data/builtin_forms.toml``,
scope ``batch``) and bound here to the same services as the CLI. Identity by flow cytometry
is an upload of the cytometer's FCS files (:mod:`alstrial.web.routes.qc`), not a typed form.
"""

from __future__ import annotations

from alstrial.services import BatchRecord, BatchResults, record_batch_record, record_product_batch
from alstrial.services.manufacturing import record_culture_event
from alstrial.services.product import correct_release_results
from alstrial.web.forms import Context, FormSpec, Parsed, bind_builtin

__all__ = ["BATCH_FORMS", "NEW_BATCH", "VIABILITY_FIELDS"]

#: Viability by each counting method the batch record keeps, by form field.
VIABILITY_FIELDS: dict[str, str] = {
    "viability_trypan_blue": "trypan blue",
    "viability_nucleocounter": "nucleocounter",
    "viability_flow_cytometry": "flow cytometry",
}


def _results(values: Parsed, batch_code: str) -> BatchResults:
    return BatchResults(
        batch_code=batch_code,
        final_cell_count=values["final_cell_count"],
        viability_pct=values["viability_pct"],
        bacteriology=values["bacteriology"],
        mycoplasma=values["mycoplasma"],
        endotoxin_eu_per_ml=values["endotoxin_eu_per_ml"],
        endotoxin_below_loq=values["endotoxin_below_loq"],
        karyotype=values["karyotype"],
    )


def _save_new_batch(ctx: Context, values: Parsed) -> object:
    return record_product_batch(
        ctx.session,
        actor=ctx.actor,
        subject_code=ctx.subject,
        results=_results(values, values["batch_code"]),
    )


#: A batch made from a subject's marrow (the route offers only the user's sites' subjects).
NEW_BATCH = bind_builtin("product_batch", _save_new_batch)


def _save_batch_record(ctx: Context, values: Parsed) -> object:
    by_method = {
        method: values[name] for name, method in VIABILITY_FIELDS.items() if values.get(name)
    }
    return record_batch_record(
        ctx.session,
        actor=ctx.actor,
        batch_code=str(ctx.batch),
        record=BatchRecord(
            aspiration_date=values.get("aspiration_date"),
            aspiration_volume_ml=values.get("aspiration_volume_ml"),
            mnc_count=values.get("mnc_count"),
            seeding_density_per_cm2=values.get("seeding_density_per_cm2"),
            harvest_date=values.get("harvest_date"),
            viability_method=values.get("viability_method") or None,
            viability_by_method=by_method or None,
            concentration_per_ml=values.get("concentration_per_ml"),
            product_volume_ml=values.get("product_volume_ml"),
            excipient=values.get("excipient") or None,
        ),
        reason=values.get("reason"),
    )


def _save_release_results(ctx: Context, values: Parsed) -> object:
    return correct_release_results(
        ctx.session,
        actor=ctx.actor,
        batch_code=str(ctx.batch),
        results=_results(values, str(ctx.batch)),
        reason=values.get("reason") or "",
        karyotype_override=values.get("karyotype_override"),
    )


def _save_culture_event(ctx: Context, values: Parsed) -> object:
    return record_culture_event(
        ctx.session,
        actor=ctx.actor,
        batch_code=str(ctx.batch),
        event_date=values["event_date"],
        kind=values["kind"],
        passage_number=values.get("passage_number"),
        confluence_pct=values.get("confluence_pct"),
        note=values.get("note") or "",
    )


#: The forms of an existing batch, by name (``/batches/{code}/forms/{name}``).
BATCH_FORMS: dict[str, FormSpec] = {
    spec.name: spec
    for spec in (
        bind_builtin("batch_record", _save_batch_record),
        bind_builtin("release_results", _save_release_results),
        bind_builtin("culture_event", _save_culture_event),
    )
}
