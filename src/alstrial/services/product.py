"""Recording a cell product batch with its release results."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError, ValidationError
from alstrial.services.lookup import check_code, find_subject
from alstrial.services.transaction import transaction
from alstrial.store.models import ProductBatch
from alstrial.vocabulary import Provenance, ReleaseStatus

__all__ = ["BatchResults", "record_product_batch"]


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
