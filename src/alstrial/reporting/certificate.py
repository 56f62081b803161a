"""The release certificate of a batch: its record, every release test with its limit, the
deviations (e.g. an identity panel that lacks ISCT markers) and QC's signature; as one
self-contained HTML page and as a PDF typeset by Typst (no external service)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

import alstrial
from alstrial.manufacturing.release import CriterionOutcome
from alstrial.reporting.typeset import template_environment, typeset_pdf
from alstrial.services import evaluate_batch, find_batch
from alstrial.services.lookup import only_study
from alstrial.store.models import FlowMarkerResult, ReleaseDecision, Subject, User
from alstrial.vocabulary import Provenance

__all__ = [
    "Certificate",
    "build_certificate",
    "render_certificate_html",
    "render_certificate_pdf",
    "write_certificate",
]


@dataclass(frozen=True)
class Certificate:
    """Everything the certificate states."""

    study: str
    batch_code: str
    subject: str
    status: str
    facts: tuple[tuple[str, str], ...]
    outcomes: tuple[CriterionOutcome, ...]
    identity: tuple[CriterionOutcome, ...]
    deviations: tuple[str, ...]
    signed_by: str | None
    signed_at: datetime | None
    reason: str | None
    synthetic: bool


def _fmt(value: object) -> str:
    if value is None:
        return "not recorded"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def build_certificate(session: Session, batch_code: str) -> Certificate:
    """Collect the certificate of a batch (the evaluation of now, and the signed decision)."""
    batch = find_batch(session, batch_code)
    subject = session.get(Subject, batch.source_subject_id)
    evaluation = evaluate_batch(session, batch_code)
    decision = session.scalars(
        select(ReleaseDecision).where(ReleaseDecision.batch_id == batch.id)
    ).first()
    signer = session.get(User, decision.signed_by_id) if decision else None
    flow = session.scalars(select(FlowMarkerResult).where(FlowMarkerResult.batch_id == batch.id))
    synthetic = batch.provenance is Provenance.SYNTHETIC or any(
        row.provenance is Provenance.SYNTHETIC for row in flow
    )
    facts = (
        ("Made from / for", f"{subject.study_code if subject else '?'} (autologous)"),
        ("Aspiration", f"{_fmt(batch.aspiration_date)}, {_fmt(batch.aspiration_volume_ml)} ml"),
        ("Mononuclear cells", _fmt(batch.mnc_count)),
        ("Harvest", _fmt(batch.harvest_date)),
        ("Final count (cells)", _fmt(batch.final_cell_count)),
        ("Viability method", _fmt(batch.viability_method)),
        (
            "Viability by method",
            ", ".join(f"{k} {v:g} %" for k, v in (batch.viability_by_method or {}).items())
            or "not recorded",
        ),
        ("Product volume (ml)", _fmt(batch.product_volume_ml)),
        ("Excipient", _fmt(batch.excipient)),
    )
    return Certificate(
        study=only_study(session).code,
        batch_code=batch.batch_code,
        subject=subject.study_code if subject else "?",
        status=str(batch.release_status),
        facts=facts,
        outcomes=evaluation.outcomes,
        identity=evaluation.identity.rows if evaluation.identity else (),
        deviations=evaluation.deviations,
        signed_by=(signer.full_name or signer.username) if signer else None,
        signed_at=decision.signed_at if decision else None,
        reason=decision.reason if decision else None,
        synthetic=synthetic,
    )


def _render(certificate: Certificate, template: str, *, autoescape: bool) -> str:
    environment = template_environment(autoescape=autoescape)
    return environment.get_template(template).render(c=certificate, version=alstrial.__version__)


def render_certificate_html(certificate: Certificate) -> str:
    """One self-contained HTML page."""
    return _render(certificate, "certificate.html.j2", autoescape=True)


def render_certificate_pdf(certificate: Certificate, moment: datetime | None = None) -> bytes:
    """The certificate as an A4 PDF, typeset by Typst like the report
    (:mod:`alstrial.reporting.typeset`); dated ``moment`` (default: now)."""
    source = _render(certificate, "certificate.typ.j2", autoescape=False)
    return typeset_pdf(source, moment=moment or datetime.now(UTC))


def write_certificate(certificate: Certificate, path: str | Path) -> Path:
    """Write the certificate as HTML (``.html``) or PDF (``.pdf``); the file appears whole or
    not at all."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(target.suffix + ".part")
    if target.suffix.lower() == ".pdf":
        temporary.write_bytes(render_certificate_pdf(certificate))
    else:
        temporary.write_text(render_certificate_html(certificate), encoding="utf-8")
    temporary.replace(target)
    return target
