"""Fig. 2 of the reference paper for every batch: the identity panel as the stained tube's
histogram against its isotype control per marker, with the threshold and the percent
positive, drawn from the histograms stored with each result (issue 18, item 3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.store.models import FlowMarkerResult, ProductBatch

__all__ = ["IdentityPanel", "figure_identity", "identity_panels"]


@dataclass(frozen=True)
class IdentityPanel:
    """One batch's markers: (marker, stored histogram or None, percent positive, threshold)."""

    batch: str
    markers: tuple[tuple[str, dict[str, Any] | None, float, float | None], ...]
    synthetic: bool

    @property
    def drawn(self) -> bool:
        return any(h is not None for _, h, _, _ in self.markers)


def identity_panels(session: Session) -> list[IdentityPanel]:
    """Every batch with identity results, in batch order."""
    batches = {b.id: b for b in session.scalars(select(ProductBatch).order_by(ProductBatch.id))}
    rows: dict[int, list[FlowMarkerResult]] = {}
    for row in session.scalars(select(FlowMarkerResult).order_by(FlowMarkerResult.id)):
        rows.setdefault(row.batch_id, []).append(row)
    return [
        IdentityPanel(
            batch=batches[batch_id].batch_code,
            markers=tuple(
                (r.marker, r.histogram, r.percent_positive, r.threshold) for r in results
            ),
            synthetic=any(r.provenance.value == "synthetic" for r in results),
        )
        for batch_id, results in rows.items()
        if batch_id in batches
    ]


def figure_identity(panel: IdentityPanel) -> str:
    """One batch's panels (or one FCS analysis's, ``alstrial flow analyze --figure``): per
    marker, the isotype (grey) and stained (blue) distributions on a log scale from the
    histogram, the threshold as a dashed line and the percent positive in the title; SVG
    text (each marker's group id is
    ``identity-<batch>-<marker>``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from alstrial.reporting.figures import svg_text

    plt.rcParams["svg.fonttype"] = "none"
    markers = [m for m in panel.markers if m[1] is not None]
    columns = min(4, len(markers))
    rows = int(np.ceil(len(markers) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(3.1 * columns, 2.5 * rows), squeeze=False)
    for ax in axes.flat[len(markers) :]:
        ax.set_visible(False)
    for ax, (marker, histogram, percent, threshold) in zip(axes.flat, markers, strict=False):
        assert histogram is not None
        edges = np.asarray(histogram["edges"], dtype=np.float64)
        widths = np.diff(edges)
        for key, colour, label in (
            ("isotype", "#9a9a9a", "isotype"),
            ("stained", "#1f5fa8", "stained"),
        ):
            counts = np.asarray(histogram[key], dtype=np.float64)
            density = counts / max(counts.sum(), 1.0) / widths
            ax.stairs(density, edges, fill=True, alpha=0.55, color=colour, label=label)
        if threshold is not None:
            ax.axvline(threshold, color="#c4452d", linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.set_yticks([])
        ax.set_title(
            f"{marker}: {percent:.1f} % positive",
            fontsize=9,
            gid=f"identity-{panel.batch}-{marker}",
        )
        ax.legend(frameon=False, fontsize=6)
    figure.suptitle(
        f"Batch {panel.batch}" + (" (SYNTHETIC DATA)" if panel.synthetic else ""), fontsize=10
    )
    figure.tight_layout()
    return svg_text(figure)
