"""Recording a cell product batch with its release results."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError, ValidationError
from alstrial.services.lookup import check_code, find_subject
from alstrial.services.transaction import transaction
from alstrial.store.models import ProductBatch, Subject
from alstrial.vocabulary import Provenance, ReleaseStatus

__all__ = ["BatchResults", "correct_release_results", "record_product_batch"]


@dataclass(frozen=True)
class BatchResults:
    """Final count and release results of a batch (the paper's Table 2)."""

    batch_code: str
    final_cell_count: float
    viability_pct: float
    bacteriology: str
    mycoplasma: str
    endotoxin_eu_per_ml: float
    endotoxin_below_loq: bool
    karyotype: str


def _check_results(results: BatchResults, subject_code: str) -> None:
    """Refuse release results that break a rule, naming the field."""

    def refuse(field: str, value: object, allowed: str, message: str) -> ValidationError:
        return ValidationError(
            message,
            subject=subject_code,
            form="product_batch",
            field=field,
            value=value,
            allowed=allowed,
        )

    if not results.batch_code.strip():
        raise refuse("batch_code", results.batch_code, "a batch number", "the batch is required")
    check_code(results.batch_code, form="product_batch", field="batch_code", length=60)
    if not results.final_cell_count > 0:
        raise refuse(
            "final_cell_count", results.final_cell_count, "> 0", "the cell count must be positive"
        )
    if not 0 <= results.viability_pct <= 100:
        raise refuse("viability_pct", results.viability_pct, "0-100 %", "viability is a percentage")
    if results.endotoxin_eu_per_ml < 0:
        raise refuse(
            "endotoxin_eu_per_ml",
            results.endotoxin_eu_per_ml,
            ">= 0 EU/ml",
            "endotoxin cannot be negative",
        )


def record_product_batch(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    results: BatchResults,
    provenance: Provenance = Provenance.SOURCE,
) -> ProductBatch:
    """Record a batch made from a subject's own marrow, with its release results."""
    subject = find_subject(session, subject_code)
    _check_results(results, subject_code)
    duplicate = session.scalars(
        select(ProductBatch).where(ProductBatch.batch_code == results.batch_code)
    ).first()
    if duplicate is not None:
        # The same words whether the code is taken at this site or another: a site's user
        # must not learn another site's batch codes from the refusal (issue 14).
        raise ConflictError(
            f"batch code {results.batch_code} cannot be used: batch codes are unique across "
            "the trial; choose another",
            subject=subject_code,
            form="product_batch",
            field="batch_code",
            value=results.batch_code,
        )
    with transaction(session, actor=actor):
        batch = ProductBatch(
            source_subject_id=subject.id,
            batch_code=results.batch_code,
            final_cell_count=float(results.final_cell_count),
            viability_pct=float(results.viability_pct),
            bacteriology=results.bacteriology,
            mycoplasma=results.mycoplasma,
            endotoxin_eu_per_ml=float(results.endotoxin_eu_per_ml),
            endotoxin_below_loq=results.endotoxin_below_loq,
            karyotype=results.karyotype,
            provenance=provenance,
            target_subject_id=subject.id,
            release_status=ReleaseStatus.PENDING,
        )
        session.add(batch)
    return batch


_RESULT_FIELDS = (
    "final_cell_count",
    "viability_pct",
    "bacteriology",
    "mycoplasma",
    "endotoxin_eu_per_ml",
    "endotoxin_below_loq",
    "karyotype",
)


def correct_release_results(
    session: Session,
    *,
    actor: str,
    batch_code: str,
    results: BatchResults,
    reason: str,
    karyotype_override: str | None = None,
) -> ProductBatch:
    """Correct a batch's release results (a count, viability, bacteriology, mycoplasma,
    endotoxin, karyotype) before its release decision, with the reason; each changed value is
    audited with it. ``karyotype_override`` records why a karyotype whose sex chromosomes do
    not match the subject's sex is accepted (autologous identity; empty clears it).

    After a decision the results stand as signed: a correction would change what the
    signature vouched for, so it is refused and says so.

    Raises
    ------
    ValidationError
        No reason, or results that break a rule.
    ConflictError
        The batch carries a release decision already.
    """
    from alstrial.services.manufacturing import find_batch  # it imports this module

    batch = find_batch(session, batch_code)
    source = session.get(Subject, batch.source_subject_id)
    subject_code = source.study_code if source is not None else ""
    if not reason.strip():
        raise ValidationError(
            "a correction of release results needs its reason",
            subject=subject_code,
            form="product_batch",
            field="reason",
        )
    _check_results(results, subject_code)
    if batch.release_status is not ReleaseStatus.PENDING:
        raise ConflictError(
            f"batch {batch_code} is {batch.release_status}: its signed results stand; a "
            "correction after the decision needs a new batch record and decision",
            subject=subject_code,
            form="product_batch",
            field="batch_code",
            value=batch_code,
        )
    override = (karyotype_override or "").strip() or None
    with transaction(session, actor=actor, reason=reason):
        for name in _RESULT_FIELDS:
            value = getattr(results, name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                value = float(value)
            if getattr(batch, name) != value:
                setattr(batch, name, value)
        if batch.karyotype_override != override:
            batch.karyotype_override = override
    return batch
