"""Figures as inline SVG (matplotlib is imported inside, so the core stays headless)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import pandas as pd

from alstrial.vocabulary import MONTH_DAYS

__all__ = [
    "figure_kaplan_meier",
    "figure_means_by_visit",
    "figure_patient_courses",
    "numbers_at_risk",
    "svg_text",
]

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
    return svg_text(figure)


def svg_text(figure: Any) -> str:
    """A matplotlib figure as SVG text (from ``<svg``), the figure closed."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def _watermark(ax: Any) -> None:
    ax.text(0.5, 0.5, "SYNTHETIC DATA", transform=ax.transAxes, ha="center", va="center",
            fontsize=22, color="#c4452d", alpha=0.18, rotation=20)  # fmt: skip


def numbers_at_risk(data: pd.DataFrame, times: Sequence[float]) -> dict[str, list[int]]:
    """Per arm, the patients still at risk at each of ``times`` (months): those whose time
    to event or censoring is at least that long."""
    return {
        str(arm): [int((own["months"] >= t).sum()) for t in times]
        for arm, own in data.groupby("arm", sort=True)
    }


def figure_kaplan_meier(data: pd.DataFrame, *, synthetic: bool = False) -> str:
    """Kaplan-Meier curves by arm (steps, censored patients as ticks) with the numbers at
    risk under the axis, as SVG text.

    Parameters
    ----------
    data
        One row per patient: ``arm``, ``months`` (to event or censoring), ``event`` (1/0)
        (:attr:`alstrial.reporting.analyses.SurvivalSummary.data`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from alstrial.stats.survival import kaplan_meier

    plt.rcParams["svg.fonttype"] = "none"
    figure, (ax, table) = plt.subplots(
        2, 1, figsize=(6.4, 4.4), gridspec_kw={"height_ratios": [4, 1]}, sharex=True
    )
    longest = float(data["months"].max()) if len(data) else 12.0
    step = 3.0 if longest <= 24 else 6.0
    ticks = [step * k for k in range(int(longest // step) + 1)]
    arms = sorted(str(a) for a in data["arm"].unique()) if len(data) else []
    for colour, arm in zip(ARM_COLOURS, arms, strict=False):
        own = data[data["arm"] == arm]
        fit = kaplan_meier(own["months"].to_numpy(float), own["event"].to_numpy(float))
        x = [0.0, *fit.time.tolist()]
        y = [1.0, *fit.survival.tolist()]
        ax.step(x, y, where="post", color=colour, label=f"{arm} (n = {fit.n}, {fit.events} events)",
                gid=f"km-{arm}")  # fmt: skip
        censored = own[own["event"] == 0]["months"].to_numpy(float)
        ax.plot(censored, [fit.at(t) for t in censored], "|", color=colour, markersize=8)
    ax.set_ylim(-0.02, 1.05)
    ax.set_ylabel("Free of death or tracheostomy")
    ax.set_title("Kaplan-Meier from administration", fontsize=10)
    if arms:
        ax.legend(frameon=False, fontsize=8, loc="lower left")
    else:
        ax.text(0.5, 0.5, "no treated patient yet", transform=ax.transAxes, ha="center")
    if synthetic:
        _watermark(ax)
    at_risk = numbers_at_risk(data, ticks)
    table.set_ylim(-0.5, max(len(arms), 1) - 0.5)
    table.set_yticks(range(len(arms)), [f"{a} at risk" for a in reversed(arms)], fontsize=8)
    for row, arm in enumerate(reversed(arms)):
        for t, n in zip(ticks, at_risk.get(arm, []), strict=True):
            table.text(
                t, row, str(n), ha="center", va="center", fontsize=8, gid=f"risk-{arm}-{t:g}"
            )
    table.set_xticks(ticks)
    table.set_xlabel("Months from administration")
    for side in ("top", "right", "left"):
        table.spines[side].set_visible(False)
    table.tick_params(axis="y", length=0)
    figure.tight_layout()
    return svg_text(figure)


def figure_patient_courses(
    measures: pd.DataFrame, labels: dict[str, str], *, synthetic: bool = False
) -> str:
    """Each patient's course of each measure in ``labels`` (measure -> axis label), one
    panel per measure, one line per patient coloured by arm, against months from the
    administration (marked), as SVG text; each line's SVG id is ``course-<measure>-<patient>``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"
    figure, axes = plt.subplots(1, len(labels), figsize=(5.2 * len(labels), 3.8))
    axes_list: list[Any] = list(axes) if len(labels) > 1 else [axes]
    arms = sorted(str(a) for a in measures["arm"].dropna().unique()) if len(measures) else []
    colours = dict(zip(arms, ARM_COLOURS, strict=False))
    for ax, (measure, label) in zip(axes_list, labels.items(), strict=True):
        own = measures[measures["measure"] == measure].dropna(subset=["days_from_administration"])
        for (subject, arm), course in own.groupby(["subject", "arm"], sort=True):
            course = course.sort_values("days_from_administration")
            ax.plot(course["days_from_administration"] / MONTH_DAYS, course["value"],
                    color=colours.get(str(arm), "#555555"), linewidth=1, marker="o",
                    markersize=2.5, alpha=0.8, gid=f"course-{measure}-{subject}")  # fmt: skip
        ax.axvline(0, color="#888888", linestyle=":", linewidth=1)
        ax.text(0, 1.01, "administration", transform=ax.get_xaxis_transform(), fontsize=7,
                ha="center", va="bottom", color="#555555")  # fmt: skip
        ax.set_xlabel("Months from administration")
        ax.set_ylabel(label)
        ax.set_title(f"{label}: each patient", fontsize=10, pad=14)
        for arm, colour in colours.items():
            ax.plot([], [], color=colour, label=arm)
        if arms:
            ax.legend(frameon=False, fontsize=8)
        if synthetic:
            _watermark(ax)
    figure.tight_layout()
    return svg_text(figure)
