"""Recording the administration of the cell product."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError, ValidationError
from alstrial.services.lookup import (
    current_protocol,
    enrolment_of,
    find_subject,
)
from alstrial.services.manufacturing import refuse_unreleased
from alstrial.services.safety import refuse_if_stopped
from alstrial.services.transaction import transaction
from alstrial.services.visits import hold_visit, visit_for_assessment
from alstrial.store.models import Administration, ProductBatch
from alstrial.vocabulary import Provenance

__all__ = ["record_administration"]


def record_administration(
    session: Session,
    *,
    actor: str,
    subject_code: str,
    administered_at: datetime,
    route: str,
    product_batch: str,
    cells_given: float,
    volume_ml: float,
    provenance: Provenance = Provenance.SOURCE,
    reason: str | None = None,
) -> Administration:
    """Record the administration at the protocol's day-0 visit.

    The route must be the arm's; the batch must exist and come from this subject (the
    product is autologous); with a recorded weight, the dose (cells / kg) must lie within the
    arm's tolerance around its target dose per kg.

    ``reason`` is needed once the visit or the subject's casebook is signed: the change
    removes the signature.
    """
    subject = find_subject(session, subject_code)
    enrolment = enrolment_of(session, subject, form="administration")
    protocol = current_protocol(session)
    arm = protocol.arm(enrolment.arm_code)

    def refuse(field: str, value: object, allowed: str, message: str) -> ValidationError:
        return ValidationError(
            message,
            subject=subject_code,
            form="administration",
            field=field,
            value=value,
            allowed=allowed,
        )

    if administered_at.tzinfo is None:
        raise refuse(
            "administered_at",
            administered_at.isoformat(),
            "a time with its time zone",
            "the administration time needs a time zone",
        )
    if route != arm.route:
        raise refuse("route", route, arm.route, f"arm {arm.code} is given {arm.route}ly")
    if cells_given <= 0:
        raise refuse("cells_given", cells_given, "> 0", "the number of cells must be positive")
    if not 0 < volume_ml <= 100:
        raise refuse("volume_ml", volume_ml, "0-100 ml", f"volume {volume_ml} ml is implausible")
    batch = session.scalars(
        select(ProductBatch).where(ProductBatch.batch_code == product_batch)
    ).one_or_none()
    if batch is None:
        raise refuse("product_batch", product_batch, "a recorded batch", "no such batch")
    if batch.source_subject_id != subject.id:
        raise refuse(
            "product_batch",
            product_batch,
            f"a batch made from {subject_code}'s own marrow",
            "chain of identity: this batch was made for another subject",
        )
    refuse_unreleased(batch, subject_code)
    refuse_if_stopped(session, subject_code)
    if subject.weight_kg is not None:
        dose = cells_given / subject.weight_kg
        low = arm.dose_cells_per_kg * (1 - arm.dose_tolerance_pct / 100)
        high = arm.dose_cells_per_kg * (1 + arm.dose_tolerance_pct / 100)
        if not low <= dose <= high:
            raise refuse(
                "cells_given",
                cells_given,
                f"{low * subject.weight_kg:.4g}-{high * subject.weight_kg:.4g} cells "
                f"({arm.dose_cells_per_kg:.3g}/kg +/- {arm.dose_tolerance_pct:g} % at "
                f"{subject.weight_kg:g} kg)",
                f"dose {dose:.4g} cells/kg is outside the arm's tolerance",
            )
    visit_code = protocol.administration_visit.code
    visit = visit_for_assessment(
        session, subject, visit_code, "administration", administered_at.date()
    )
    if session.scalars(select(Administration).where(Administration.visit_id == visit.id)).first():
        raise ConflictError(
            f"subject {subject_code} has received the product already",
            subject=subject_code,
            form="administration",
        )
    with transaction(session, actor=actor, reason=reason):
        record = Administration(
            subject_id=subject.id,
            visit_id=visit.id,
            administered_at=administered_at,
            route=route,
            product_batch_id=batch.id,
            cells_given=float(cells_given),
            volume_ml=float(volume_ml),
            provenance=provenance,
        )
        session.add(record)
        hold_visit(visit, administered_at.date())
    return record
