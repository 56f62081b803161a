"""Stained-versus-isotype histograms per marker, like the reference paper's Fig. 2 (SVG)."""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from alstrial.manufacturing.flow import MarkerResult

__all__ = ["marker_histograms_svg"]

Values = npt.NDArray[np.float64]


def marker_histograms_svg(
    values: Mapping[str, tuple[Values, Values]],
    results: Mapping[str, MarkerResult],
    *,
    synthetic: bool = False,
) -> str:
    """One panel per marker: isotype (grey) and stained (colour) histograms on a log scale,
    the isotype threshold as a line and the percent positive in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"
    markers = list(values)
    columns = min(4, len(markers))
    rows = int(np.ceil(len(markers) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.6 * rows), squeeze=False)
    for ax in axes.flat[len(markers) :]:
        ax.set_visible(False)
    for ax, marker in zip(axes.flat, markers, strict=False):
        stained, isotype = values[marker]
        pooled = np.concatenate([stained, isotype])
        low = max(float(np.percentile(pooled, 0.5)), 1.0)
        high = max(float(np.percentile(pooled, 99.9)), low * 10)
        edges = np.logspace(np.log10(low), np.log10(high), 80)
        ax.hist(
            np.clip(isotype, low, high),
            bins=edges,
            color="#9a9a9a",
            alpha=0.7,
            label="isotype",
            density=True,
        )
        ax.hist(
            np.clip(stained, low, high),
            bins=edges,
            color="#1f5fa8",
            alpha=0.6,
            label="stained",
            density=True,
        )
        result = results[marker]
        ax.axvline(max(result.threshold, low), color="#c4452d", linewidth=1)
        ax.set_xscale("log")
        ax.set_yticks([])
        ax.set_title(f"{marker}: {result.percent_positive:.1f} % positive", fontsize=9)
        if synthetic:
            ax.text(
                0.5,
                0.5,
                "SYNTHETIC",
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=14,
                color="#c4452d",
                alpha=0.35,
                rotation=20,
            )
    axes.flat[0].legend(fontsize=7, frameon=False)
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    return buffer.getvalue()
