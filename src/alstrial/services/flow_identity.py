"""Identity of a batch from the cytometer's own files: the stained tube and its isotype control.

The FCS files are read (:func:`~alstrial.manufacturing.fcs.parse_fcs`), each marker's percent
positive is computed against the isotype (compensation, scatter gate, isotype percentile or
Overton subtraction: :func:`~alstrial.manufacturing.flow.analyze_tubes`) and the results are
stored on the batch with the SHA-256 of both files, so the release record names exactly the
data it was computed from. An upload of the same marker again replaces the earlier result and
needs a reason, as any change of saved data does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from alstrial.exceptions import ValidationError
from alstrial.manufacturing.fcs import parse_fcs
from alstrial.manufacturing.flow import (
    MarkerResult,
    analyze_tubes,
    marker_histogram,
    marker_values,
)
from alstrial.services.lookup import current_protocol
from alstrial.services.manufacturing import find_batch, record_flow_results

__all__ = ["FcsUpload", "record_identity_from_fcs", "store_flow_results"]


@dataclass(frozen=True)
class FcsUpload:
    """An FCS file as received: its name (for messages) and its bytes."""

    name: str
    content: bytes


def record_identity_from_fcs(
    session: Session,
    *,
    actor: str,
    batch_code: str,
    stained: FcsUpload,
    isotype: FcsUpload,
    markers: Sequence[str],
    percentile: float = 99.0,
    method: str = "percentile",
    compensation: str = "auto",
    tolerant: bool = False,
    reason: str | None = None,
    dataset: int | None = None,
    fsc: str | None = None,
    ssc: str | None = None,
) -> list[MarkerResult]:
    """Analyse a stained tube against its isotype and store each marker's percent positive.

    Raises
    ------
    FcsError
        For a malformed or truncated file, a file of several data sets without ``dataset``,
        a marker the tube does not carry, or scatter channels not recognised (nothing is
        stored). ``fsc``/``ssc`` name the scatter channels; the protocol's identity test may
        name them too.
    ValidationError
        For no marker, an empty file, or a percentile outside (0, 100).
    """
    find_batch(session, batch_code)
    wanted = [m.strip() for m in markers if m.strip()]
    if not wanted:
        raise ValidationError(
            "name at least one marker ($PnS, e.g. CD73, or a channel such as FL1-H)",
            form="flow",
            field="markers",
        )
    if not 0 < percentile < 100:
        raise ValidationError(
            "the isotype percentile must lie between 0 and 100",
            form="flow",
            field="percentile",
            value=percentile,
            allowed="0 < percentile < 100",
        )
    for label, upload in (("stained", stained), ("isotype", isotype)):
        if not upload.content:
            raise ValidationError(
                f"the {label} tube's file {upload.name!r} is empty", form="flow", field=label
            )
    stained_sample = parse_fcs(stained.content, stained.name, strict=not tolerant, dataset=dataset)
    isotype_sample = parse_fcs(isotype.content, isotype.name, strict=not tolerant, dataset=dataset)
    protocol_fsc, protocol_ssc = _protocol_scatter(session)
    results = analyze_tubes(
        stained_sample,
        isotype_sample,
        wanted,
        percentile=percentile,
        method=method,
        compensation=compensation,
        fsc=fsc or protocol_fsc,
        ssc=ssc or protocol_ssc,
    )
    values = marker_values(
        stained_sample,
        isotype_sample,
        wanted,
        compensation=compensation,
        fsc=fsc or protocol_fsc,
        ssc=ssc or protocol_ssc,
    )
    store_flow_results(
        session,
        actor=actor,
        batch_code=batch_code,
        results=results,
        method=method,
        stained=stained.content,
        isotype=isotype.content,
        reason=reason,
        histograms={
            r.marker: marker_histogram(*values[m]) for r, m in zip(results, wanted, strict=True)
        },
    )
    return results


def _protocol_scatter(session: Session) -> tuple[str | None, str | None]:
    """The scatter channels the protocol's identity test names, if it names them."""
    for criterion in current_protocol(session).release_specification:
        if criterion.test == "identity":
            return criterion.fsc, criterion.ssc
    return None, None


def store_flow_results(
    session: Session,
    *,
    actor: str,
    batch_code: str,
    results: Sequence[MarkerResult],
    method: str,
    stained: bytes,
    isotype: bytes,
    reason: str | None = None,
    histograms: dict[str, dict[str, list[float]]] | None = None,
) -> None:
    """Store analysed markers on a batch with the SHA-256 of the two files behind them (and
    the histograms, for the report's Fig. 2)."""
    record_flow_results(
        session,
        actor=actor,
        batch_code=batch_code,
        percent_positive={r.marker: r.percent_positive for r in results},
        isotype_percent={r.marker: r.isotype_percent for r in results},
        thresholds={r.marker: r.threshold for r in results},
        method=method,
        stained_sha256=hashlib.sha256(stained).hexdigest(),
        isotype_sha256=hashlib.sha256(isotype).hexdigest(),
        reason=reason,
        histograms=histograms,
    )
