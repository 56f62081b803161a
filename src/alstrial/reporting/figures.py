"""Figures as inline SVG (matplotlib is imported inside, so the core stays headless)."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

__all__ = ["figure_means_by_visit"]

ARM_COLOURS = ("#1f5fa8", "#c4452d", "#2f8f4e", "#7a4fa0")


def figure_means_by_visit(
    summaries: dict[str, pd.DataFrame], *, title: str = "", synthetic: bool = False
) -> str:
    """The paper's Fig. 3: mean +- SE of each measure by arm over months, as SVG text.

    Parameters
    ----------
    summaries
        Label -> frame from :func:`alstrial.reporting.tables.visit_summary`
        (columns ``arm``, ``month``, ``mean``, ``se``, ``n``).
    synthetic
        Print "SYNTHETIC DATA" across every panel.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"
    figure, axes = plt.subplots(1, len(summaries), figsize=(5.2 * len(summaries), 3.8))
    axes_list: list[Any] = list(axes) if len(summaries) > 1 else [axes]
    for ax, (label, summary) in zip(axes_list, summaries.items(), strict=True):
        for colour, (arm, group) in zip(ARM_COLOURS, summary.groupby("arm"), strict=False):
            ax.errorbar(
                group["month"],
                group["mean"],
                yerr=group["se"].fillna(0),
                marker="o",
                markersize=4,
                capsize=3,
                color=colour,
                label=f"{arm}",
            )
        ax.axvline(0, color="#888888", linestyle=":", linewidth=1)
        ax.set_xlabel("Months from administration")
        ax.set_ylabel(label)
        ax.set_title(f"{label}: mean ± SE", fontsize=10)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(frameon=False, fontsize=8)
        else:  # a trial without ratings yet
            ax.text(0.5, 0.5, "no data yet", transform=ax.transAxes, ha="center", va="center")
        if synthetic:
            ax.text(
                0.5,
                0.5,
                "SYNTHETIC DATA",
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=22,
                color="#c4452d",
                alpha=0.18,
                rotation=20,
            )
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]
