"""The batch record, flow cytometry results, release evaluation and QC's signed decision.

A batch is made from one subject's marrow for that same subject (autologous): the target is
set to the source when the batch is recorded and cannot differ. A batch starts ``pending``;
QC signs ``released`` (only when every release test passes) or ``rejected`` with a reason;
administration refuses anything but a released batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError, NotFoundError, ValidationError
from alstrial.manufacturing.release import (
    ReleaseEvaluation,
    autologous_karyotype,
    evaluate_release,
)
from alstrial.services.lookup import current_protocol, enrolment_of
from alstrial.services.transaction import transaction
from alstrial.store.models import (
    CultureEvent,
    FlowMarkerResult,
    ProductBatch,
    ReleaseDecision,
    Subject,
    User,
)
from alstrial.vocabulary import CultureEventKind, Provenance, ReleaseStatus

__all__ = [
    "BatchRecord",
    "DecisionLine",
    "culture_events",
    "evaluate_batch",
    "find_batch",
    "list_batches",
    "record_batch_record",
    "record_culture_event",
    "record_flow_results",
    "refuse_unreleased",
    "release_decision",
    "release_inputs",
    "sign_release",
]


@dataclass(frozen=True)
class BatchSummary:
    """One batch in a list: its subject and release state."""

    batch: str
    subject: str
    site_id: int
    cells: float
    viability_pct: float
    release_status: str
    provenance: str


def list_batches(
    session: Session, *, site_ids: AbstractSet[int] | None = None
) -> list[BatchSummary]:
    """Every batch (of the given sites' subjects) with its subject and release status."""
    subjects = {s.id: s for s in session.scalars(select(Subject))}
    return [
        BatchSummary(
            b.batch_code,
            subjects[b.source_subject_id].study_code,
            subjects[b.source_subject_id].site_id,
            b.final_cell_count,
            b.viability_pct,
            str(b.release_status),
            str(b.provenance),
        )
        for b in session.scalars(select(ProductBatch).order_by(ProductBatch.batch_code))
        if site_ids is None or subjects[b.source_subject_id].site_id in site_ids
    ]


def find_batch(session: Session, batch_code: str) -> ProductBatch:
    """The batch with this code, or NotFoundError."""
    batch = session.scalars(
        select(ProductBatch).where(ProductBatch.batch_code == batch_code)
    ).first()
    if batch is None:
        raise NotFoundError(
            f"no batch {batch_code!r}", form="product_batch", field="batch_code", value=batch_code
        )
    return batch


def culture_events(session: Session, batch_code: str) -> list[CultureEvent]:
    """The culture steps of a batch in date order (seeding, medium changes, passages,
    harvest)."""
    batch = find_batch(session, batch_code)
    return list(
        session.scalars(
            select(CultureEvent)
            .where(CultureEvent.batch_id == batch.id)
            .order_by(CultureEvent.event_date, CultureEvent.id)
        )
    )


def _refuse(
    batch_code: str, field: str, value: object, allowed: str, message: str
) -> ValidationError:
    return ValidationError(
        f"batch {batch_code}: {message}",
        form="product_batch",
        field=field,
        value=value,
        allowed=allowed,
    )


@dataclass(frozen=True)
class BatchRecord:
    """The manufacturing record of a batch (all optional; what is given is recorded)."""

    aspiration_date: date | None = None
    aspiration_volume_ml: float | None = None
    mnc_count: float | None = None
    seeding_density_per_cm2: float | None = None
    harvest_date: date | None = None
    viability_method: str | None = None
    viability_by_method: Mapping[str, float] | None = None
    concentration_per_ml: float | None = None
    product_volume_ml: float | None = None
    excipient: str | None = None


_POSITIVE = (
    "aspiration_volume_ml",
    "mnc_count",
    "seeding_density_per_cm2",
    "concentration_per_ml",
    "product_volume_ml",
)
_VIABILITY_METHODS = ("trypan blue", "nucleocounter", "flow cytometry")


def record_batch_record(
    session: Session, *, actor: str, batch_code: str, record: BatchRecord, reason: str | None = None
) -> ProductBatch:
    """Record the manufacturing facts of a batch; changing a saved value needs a reason."""
    batch = find_batch(session, batch_code)
    for name in _POSITIVE:
        value = getattr(record, name)
        if value is not None and not value > 0:
            raise _refuse(batch_code, name, value, "> 0", f"{name} must be positive")
    if (
        record.viability_method is not None
        and record.viability_method.lower() not in _VIABILITY_METHODS
    ):
        raise _refuse(
            batch_code,
            "viability_method",
            record.viability_method,
            ", ".join(_VIABILITY_METHODS),
            "unknown viability method",
        )
    for method, value in (record.viability_by_method or {}).items():
        if method.lower() not in _VIABILITY_METHODS:
            raise _refuse(
                batch_code,
                "viability_by_method",
                method,
                ", ".join(_VIABILITY_METHODS),
                "unknown viability method",
            )
        if not 0 <= value <= 100:
            raise _refuse(
                batch_code,
                "viability_by_method",
                value,
                "0-100 %",
                f"{method} viability is a percentage",
            )
    aspiration = record.aspiration_date or batch.aspiration_date
    if record.harvest_date and aspiration and record.harvest_date < aspiration:
        raise _refuse(
            batch_code,
            "harvest_date",
            record.harvest_date.isoformat(),
            f"on or after the aspiration ({aspiration.isoformat()})",
            "harvest before aspiration",
        )
    for day in (record.aspiration_date, record.harvest_date):
        if day is not None and day > date.today():
            raise _refuse(
                batch_code, "date", day.isoformat(), "not in the future", "a date in the future"
            )
    with transaction(session, actor=actor, reason=reason):
        for name, value in vars(record).items():
            if value is not None:
                setattr(batch, name, dict(value) if name == "viability_by_method" else value)
    return batch


def record_culture_event(
    session: Session,
    *,
    actor: str,
    batch_code: str,
    event_date: date,
    kind: CultureEventKind | str,
    passage_number: int | None = None,
    confluence_pct: float | None = None,
    note: str = "",
) -> CultureEvent:
    """Record a medium change, passage (with its number and confluence) or harvest."""
    batch = find_batch(session, batch_code)
    try:
        step = CultureEventKind(kind)
    except ValueError:
        raise _refuse(
            batch_code, "kind", kind, ", ".join(CultureEventKind), "unknown culture event"
        ) from None
    if step is CultureEventKind.PASSAGE and passage_number is None:
        raise _refuse(
            batch_code, "passage_number", None, "the passage number", "a passage needs its number"
        )
    if confluence_pct is not None and not 0 <= confluence_pct <= 100:
        raise _refuse(
            batch_code, "confluence_pct", confluence_pct, "0-100 %", "confluence is a percentage"
        )
    if batch.aspiration_date is not None and event_date < batch.aspiration_date:
        raise _refuse(
            batch_code,
            "event_date",
            event_date.isoformat(),
            f"on or after the aspiration ({batch.aspiration_date.isoformat()})",
            "a culture step before the marrow was aspirated",
        )
    if event_date > date.today():
        raise _refuse(
            batch_code,
            "event_date",
            event_date.isoformat(),
            "not in the future",
            "a date in the future",
        )
    with transaction(session, actor=actor):
        event = CultureEvent(
            batch_id=batch.id,
            event_date=event_date,
            kind=step,
            passage_number=passage_number,
            confluence_pct=confluence_pct,
            note=note,
        )
        session.add(event)
        if step is CultureEventKind.HARVEST and batch.harvest_date is None:
            batch.harvest_date = event_date
    return event


def record_flow_results(
    session: Session,
    *,
    actor: str,
    batch_code: str,
    percent_positive: Mapping[str, float],
    method: str = "percentile",
    isotype_percent: Mapping[str, float] | None = None,
    thresholds: Mapping[str, float] | None = None,
    stained_sha256: str | None = None,
    isotype_sha256: str | None = None,
    provenance: Provenance = Provenance.SOURCE,
    reason: str | None = None,
    histograms: Mapping[str, dict[str, list[float]]] | None = None,
) -> list[FlowMarkerResult]:
    """Record percent positive per marker (from ``alstrial flow analyze`` or the cytometer);
    ``histograms`` keeps the distributions behind each (:func:`marker_histogram`)."""
    batch = find_batch(session, batch_code)
    if batch.release_status is not ReleaseStatus.PENDING:
        raise ConflictError(
            f"batch {batch_code} is {batch.release_status}: its identity results are closed",
            form="flow",
            field="batch_code",
            value=batch_code,
        )
    for marker, value in percent_positive.items():
        if not 0 <= float(value) <= 100:
            raise _refuse(batch_code, marker, value, "0-100 %", f"{marker} percent positive")
    existing = {
        row.marker: row
        for row in session.scalars(
            select(FlowMarkerResult).where(FlowMarkerResult.batch_id == batch.id)
        )
    }
    rows = []
    with transaction(session, actor=actor, reason=reason):
        for marker, value in percent_positive.items():
            row = existing.get(marker) or FlowMarkerResult(batch_id=batch.id, marker=marker)
            row.percent_positive = float(value)
            row.isotype_percent = (isotype_percent or {}).get(marker)
            row.threshold = (thresholds or {}).get(marker)
            row.method = method
            row.stained_sha256 = stained_sha256
            row.isotype_sha256 = isotype_sha256
            row.histogram = (histograms or {}).get(marker)
            row.provenance = provenance
            if marker not in existing:
                session.add(row)
            rows.append(row)
    return rows


@dataclass(frozen=True)
class ReleaseInputs:
    """What the release evaluation reads for a batch."""

    results: dict[str, object]
    route: str | None
    volume_ml: float | None
    weight_kg: float | None
    identity: dict[str, float]


def release_inputs(session: Session, batch: ProductBatch) -> ReleaseInputs:
    """The batch's results, the target subject's route and weight, and its flow results."""
    subject = session.get(Subject, batch.target_subject_id or batch.source_subject_id)
    route = volume = None
    if subject is not None:
        try:
            enrolment = enrolment_of(session, subject, form="release")
        except ValidationError:
            enrolment = None
        if enrolment is not None:
            arm = next(a for a in current_protocol(session).arms if a.code == enrolment.arm_code)
            route, volume = arm.route, arm.volume_ml
    endotoxin = (
        f"<{batch.endotoxin_eu_per_ml:g}"
        if batch.endotoxin_below_loq
        else batch.endotoxin_eu_per_ml
    )
    flow = session.scalars(select(FlowMarkerResult).where(FlowMarkerResult.batch_id == batch.id))
    return ReleaseInputs(
        results={
            "viability": batch.viability_pct,
            "bacteriology": batch.bacteriology,
            "mycoplasma": batch.mycoplasma,
            "endotoxin": endotoxin,
            "karyotype": batch.karyotype,
        },
        route=route,
        volume_ml=batch.product_volume_ml or volume,
        weight_kg=subject.weight_kg if subject is not None else None,
        identity={row.marker: row.percent_positive for row in flow},
    )


def evaluate_batch(session: Session, batch_code: str) -> ReleaseEvaluation:
    """The batch against the protocol's release specification, and its karyotype against its
    donor's sex (:func:`~alstrial.manufacturing.release.autologous_karyotype`); no change is
    made."""
    batch = find_batch(session, batch_code)
    inputs = release_inputs(session, batch)
    evaluation = evaluate_release(
        current_protocol(session).release_specification,
        inputs.results,
        route=inputs.route,
        volume_ml=inputs.volume_ml,
        weight_kg=inputs.weight_kg,
        identity=inputs.identity or None,
    )
    donor = session.get(Subject, batch.source_subject_id)
    check = autologous_karyotype(
        batch.karyotype, donor.sex.value if donor is not None else None, batch.karyotype_override
    )
    if check is None:
        return evaluation
    return replace(evaluation, outcomes=(*evaluation.outcomes, check))


def sign_release(
    session: Session,
    *,
    actor: str,
    batch_code: str,
    decision: ReleaseStatus | str,
    reason: str,
    signed_at: datetime | None = None,
) -> ReleaseDecision:
    """QC signs a batch released or rejected (who, when, why), on the evaluation of now.

    Raises
    ------
    ValidationError
        For an empty reason, a decision other than released/rejected, or releasing a batch
        that fails or lacks a release test (the failing tests are named).
    ConflictError
        When the batch already carries a decision.
    NotFoundError
        When the signer is not a user of the study.
    """
    batch = find_batch(session, batch_code)
    try:
        verdict = ReleaseStatus(decision)
    except ValueError:
        verdict = ReleaseStatus.PENDING
    if verdict is ReleaseStatus.PENDING:
        raise _refuse(
            batch_code,
            "decision",
            decision,
            "released, rejected",
            "a release decision is released or rejected",
        )
    if not reason.strip():
        raise _refuse(
            batch_code,
            "reason",
            reason,
            "the reason, in words",
            "a signed decision needs its reason",
        )
    signer = session.scalars(select(User).where(User.username == actor)).first()
    if signer is None:
        raise NotFoundError(
            f"{actor!r} is not a user of the study and cannot sign",
            form="release",
            field="actor",
            value=actor,
        )
    if batch.release_status is not ReleaseStatus.PENDING:
        raise ConflictError(
            f"batch {batch_code} is already {batch.release_status}",
            form="release",
            field="batch_code",
            value=batch_code,
        )
    evaluation = evaluate_batch(session, batch_code)
    if verdict is ReleaseStatus.RELEASED and not evaluation.conforms:
        failing = ", ".join(f"{o.test} ({o.status})" for o in evaluation.failing)
        raise _refuse(
            batch_code,
            "decision",
            "released",
            "a batch that passes every test",
            f"cannot be released: {failing}",
        )
    with transaction(session, actor=actor, reason=reason):
        signed = ReleaseDecision(
            batch_id=batch.id,
            decision=verdict,
            signed_by_id=signer.id,
            signed_at=signed_at or datetime.now(UTC),
            reason=reason,
            evaluation=[vars(o) for o in evaluation.outcomes],
            deviations=list(evaluation.deviations),
        )
        session.add(signed)
        batch.release_status = verdict
    return signed


def refuse_unreleased(batch: ProductBatch, subject_code: str) -> None:
    """Administration guard: only a released batch reaches a patient."""
    if batch.release_status is not ReleaseStatus.RELEASED:
        raise ValidationError(
            f"batch {batch.batch_code} is {batch.release_status}, not released: it cannot be "
            "administered",
            subject=subject_code,
            form="administration",
            field="product_batch",
            value=batch.batch_code,
            allowed="a batch QC has released",
        )


@dataclass(frozen=True)
class DecisionLine:
    """A batch's signed release decision: what, who, when, why."""

    decision: ReleaseStatus
    signed_by: str
    signed_at: datetime
    reason: str
    deviations: tuple[str, ...]


def release_decision(session: Session, batch_code: str) -> DecisionLine | None:
    """The batch's signed decision, or None while it is pending."""
    batch = find_batch(session, batch_code)
    row = session.execute(
        select(ReleaseDecision, User.username)
        .join(User, User.id == ReleaseDecision.signed_by_id)
        .where(ReleaseDecision.batch_id == batch.id)
    ).first()
    if row is None:
        return None
    decision, username = row
    return DecisionLine(
        decision.decision,
        username,
        decision.signed_at,
        decision.reason,
        tuple(decision.deviations or ()),
    )
