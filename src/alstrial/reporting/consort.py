"""The CONSORT 2010 flow diagram, every box counted from the store (issue 18, item 2).

Enrolment: the patients assessed for eligibility (screened), those excluded (by the
protocol's criteria: each inclusion criterion not met and each exclusion criterion met is
counted, and a patient failing several counts under each), those eligible but not enrolled.
Allocation: each arm's enrolled patients, those who received the cell product and those who
did not (with the disposition's reason). Follow-up: lost to follow-up and discontinued
(withdrawn, died before completing) with their reasons. Analysis: the safety set (every
treated patient) and, for the ALSFRS-R, the patients with a baseline (the last lead-in
rating) and at least one rating after the administration; the others are excluded from that
analysis with the reason.

References
----------
Schulz KF, Altman DG, Moher D, for the CONSORT Group. CONSORT 2010 Statement. BMJ
2010;340:c332 (Figure 1, the flow diagram).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.services.frames import AnalysisFrames
from alstrial.store.models import Screening, Subject

__all__ = ["ArmFlow", "Consort", "consort_counts", "figure_consort"]


@dataclass(frozen=True)
class ArmFlow:
    """One arm's column of the diagram."""

    arm: str
    name: str
    allocated: int
    received: int
    not_received: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)
    discontinued: dict[str, int] = field(default_factory=dict)
    safety_set: int = 0
    analysed_alsfrs: int = 0
    excluded_alsfrs: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Consort:
    """Every box of the diagram."""

    assessed: int
    excluded: int
    not_meeting_inclusion: int
    meeting_exclusion: int
    eligible_not_enrolled: int
    criteria: dict[str, int]
    enrolled: int
    arms: tuple[ArmFlow, ...]


def _reasons(rows: pd.DataFrame, default: str) -> dict[str, int]:
    counted = Counter(
        (r if isinstance(r, str) and r.strip() else default) for r in rows["disposition_reason"]
    )
    return dict(sorted(counted.items()))


def consort_counts(session: Session, frames: AnalysisFrames) -> Consort:
    """The diagram's counts (module docstring) from the screenings in the store and the
    analysis frames."""
    codes = {s.id: s.study_code for s in session.scalars(select(Subject))}
    latest: dict[str, Screening] = {}
    for screening in session.scalars(select(Screening).order_by(Screening.id)):
        latest[codes[screening.subject_id]] = screening  # a re-screening replaces the first
    subjects = frames.subjects
    enrolled = subjects[subjects["enrolled"].astype(bool)]
    enrolled_codes = set(enrolled["subject"])
    criteria: Counter[str] = Counter()
    inclusion = exclusion = eligible_not_enrolled = 0
    for code, screening in latest.items():
        failed = [r for r in screening.results if not r.get("passes", True)]
        if code in enrolled_codes:
            continue
        if screening.eligible and not failed:
            eligible_not_enrolled += 1
            continue
        if any(r.get("kind") == "inclusion" for r in failed):
            inclusion += 1
        if any(r.get("kind") == "exclusion" for r in failed):
            exclusion += 1
        for r in failed:
            criteria[f"{r.get('id')}: {r.get('text')}"] += 1
    measures = frames.measures
    ratings = measures[measures["measure"] == "alsfrs_r_total"]
    baseline = set(ratings.loc[ratings["days_from_administration"] <= 0, "subject"])
    after = set(ratings.loc[ratings["days_from_administration"] > 0, "subject"])
    names = dict(zip(frames.arms["arm"], frames.arms["name"], strict=True))
    completed = set(ratings.loc[ratings["visit"] == frames.visits["visit"].iloc[-1], "subject"])
    arms = []
    for arm in frames.arms["arm"]:
        own = enrolled[enrolled["arm"] == arm]
        treated = own[own["administered"].astype(bool)]
        untreated = own[~own["administered"].astype(bool)]
        lost = treated[treated["disposition"] == "lost_to_follow_up"]
        stopped = treated[
            (treated["disposition"] == "withdrawn")
            | ((treated["disposition"] == "died") & ~treated["subject"].isin(completed))
        ]
        analysed = treated["subject"].isin(baseline) & treated["subject"].isin(after)
        excluded = Counter(
            "no baseline rating" if s not in baseline else "no rating after the administration"
            for s in treated.loc[~analysed, "subject"]
        )
        arms.append(
            ArmFlow(
                arm=str(arm),
                name=str(names[arm]),
                allocated=len(own),
                received=len(treated),
                not_received=_reasons(untreated, "not yet treated"),
                lost=_reasons(lost, "no reason recorded"),
                discontinued=_reasons(stopped, "no reason recorded"),
                safety_set=len(treated),
                analysed_alsfrs=int(analysed.sum()),
                excluded_alsfrs=dict(sorted(excluded.items())),
            )
        )
    return Consort(
        assessed=len(latest),
        excluded=len(set(latest) - enrolled_codes),
        not_meeting_inclusion=inclusion,
        meeting_exclusion=exclusion,
        eligible_not_enrolled=eligible_not_enrolled,
        criteria=dict(sorted(criteria.items())),
        enrolled=len(enrolled),
        arms=tuple(arms),
    )


def _lines(title: str, items: dict[str, int]) -> str:
    total = sum(items.values())
    text = f"{title} (n = {total})"
    for reason, n in items.items():
        text += f"\n  - {reason} (n = {n})"
    return text


def figure_consort(consort: Consort, *, synthetic: bool = False) -> str:
    """The CONSORT 2010 flow diagram as vector SVG text; each box's SVG id names it
    (``consort-assessed``, ``consort-allocated-IV``, ...)."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from alstrial.reporting.figures import svg_text

    plt.rcParams["svg.fonttype"] = "none"
    k = max(len(consort.arms), 1)
    figure, ax = plt.subplots(figsize=(max(8.0, 3.6 * k), 9.5))
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    style = {"boxstyle": "square,pad=0.5", "facecolor": "white", "edgecolor": "#333333"}

    def box(x: float, y: float, text: str, gid: str, width: int = 42) -> None:
        wrapped = "\n".join(
            textwrap.fill(line, width, subsequent_indent="    ") for line in text.split("\n")
        )
        ax.text(x, y, wrapped, ha="center", va="center", fontsize=8, bbox=style, gid=gid,
                multialignment="left")  # fmt: skip

    def arrow(x0: float, y0: float, x1: float, y1: float) -> None:
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "->", "color": "#333333", "lw": 0.8})  # fmt: skip

    for y, stage in ((0.9, "Enrolment"), (0.58, "Allocation"), (0.36, "Follow-up"),
                     (0.14, "Analysis")):  # fmt: skip
        ax.text(0.0, y, stage, rotation=90, ha="left", va="center", fontsize=9,
                fontweight="bold", color="#1f5fa8")  # fmt: skip
    box(0.42, 0.95, f"Assessed for eligibility (n = {consort.assessed})", "consort-assessed")
    excluded = (
        f"Excluded (n = {consort.excluded})"
        f"\n  - Not meeting inclusion criteria (n = {consort.not_meeting_inclusion})"
        f"\n  - Meeting an exclusion criterion (n = {consort.meeting_exclusion})"
        f"\n  - Eligible, not enrolled (n = {consort.eligible_not_enrolled})"
    )
    for criterion, n in consort.criteria.items():
        excluded += f"\n  - {criterion} (n = {n})"
    box(0.8, 0.85, excluded, "consort-excluded", width=46)
    arrow(0.42, 0.93, 0.42, 0.78)
    arrow(0.42, 0.85, 0.62, 0.85)
    box(0.42, 0.76, f"Enrolled (n = {consort.enrolled})", "consort-enrolled")
    for i, arm in enumerate(consort.arms):
        x = 0.08 + (i + 0.5) * 0.9 / k
        arrow(0.42, 0.74, x, 0.66)
        allocated = (
            f"Allocated to {arm.name} ({arm.arm}) (n = {arm.allocated})"
            f"\n  - Received the cell product (n = {arm.received})\n"
            + _lines("  - Did not receive", arm.not_received)
        )
        box(x, 0.58, allocated, f"consort-allocated-{arm.arm}")
        arrow(x, 0.51, x, 0.43)
        follow = (
            _lines("Lost to follow-up", arm.lost) + "\n" + _lines("Discontinued", arm.discontinued)
        )
        box(x, 0.36, follow, f"consort-followup-{arm.arm}")
        arrow(x, 0.29, x, 0.21)
        analysis = (
            f"Safety set (n = {arm.safety_set})\nALSFRS-R analysed (n = {arm.analysed_alsfrs})\n"
            + _lines("  - Excluded", arm.excluded_alsfrs)
        )
        box(x, 0.14, analysis, f"consort-analysed-{arm.arm}")
    if synthetic:
        ax.text(0.5, 0.02, "SYNTHETIC DATA", ha="center", fontsize=12, color="#c4452d",
                fontweight="bold")  # fmt: skip
    return svg_text(figure)
