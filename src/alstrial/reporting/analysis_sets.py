"""The analysis sets of the protocol (safety, full analysis, per protocol), who is in each,
counted per arm (issue 18, item 6).

Each set is the patients satisfying all its criteria
(:class:`~alstrial.protocol.model.AnalysisSets`). ``visits_in_window`` needs the store (the
analysis frames hold ratings, not the visits' window status); without it a set that asks for
it is reported as not determined rather than guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.protocol.model import AnalysisSets
from alstrial.protocol.schedule import WindowStatus
from alstrial.services.frames import AnalysisFrames
from alstrial.store.models import Subject, Visit

__all__ = ["SET_NAMES", "AnalysisSetMembers", "analysis_set_members", "out_of_window", "restrict"]

#: The sets in the report's order, with their names in words.
SET_NAMES = {
    "safety": "Safety set",
    "full": "Full analysis set",
    "per_protocol": "Per-protocol set",
}

_CRITERIA = {
    "enrolled": "enrolled",
    "treated": "received the cell product",
    "baseline_rating": "an ALSFRS-R rating on or before the administration",
    "followup_rating": "an ALSFRS-R rating after the administration",
    "completed": "rated at the last protocol visit",
    "visits_in_window": "every held visit within its window",
}


@dataclass(frozen=True)
class AnalysisSetMembers:
    """Each set's patients (None: not determined, with the reason), its definition in words,
    and the counts per arm."""

    members: dict[str, frozenset[str] | None]
    definitions: dict[str, str]
    counts: pd.DataFrame
    undetermined: dict[str, str]


def out_of_window(session: Session) -> frozenset[str]:
    """The patients with at least one held visit outside its window."""
    codes = {s.id: s.study_code for s in session.scalars(select(Subject))}
    late = session.scalars(
        select(Visit.subject_id).where(
            Visit.window_status.in_([WindowStatus.EARLY, WindowStatus.LATE])
        )
    )
    return frozenset(codes[s] for s in late)


def analysis_set_members(
    frames: AnalysisFrames, sets: AnalysisSets, outside_window: frozenset[str] | None = None
) -> AnalysisSetMembers:
    """Who is in each set of ``sets`` (module docstring); ``outside_window`` from
    :func:`out_of_window`, None when the store is not at hand."""
    subjects = frames.subjects[frames.subjects["enrolled"].astype(bool)]
    ratings = frames.measures[frames.measures["measure"] == "alsfrs_r_total"]
    last_visit = frames.visits["visit"].iloc[-1] if len(frames.visits) else None
    everyone = frozenset(str(s) for s in subjects["subject"])
    tests: dict[str, Callable[[], frozenset[str] | None]] = {
        "enrolled": lambda: everyone,
        "treated": lambda: frozenset(
            str(s) for s in subjects.loc[subjects["administered"].astype(bool), "subject"]
        ),
        "baseline_rating": lambda: frozenset(
            ratings.loc[ratings["days_from_administration"] <= 0, "subject"].astype(str)
        ),
        "followup_rating": lambda: frozenset(
            ratings.loc[ratings["days_from_administration"] > 0, "subject"].astype(str)
        ),
        "completed": lambda: frozenset(
            ratings.loc[ratings["visit"] == last_visit, "subject"].astype(str)
        ),
        "visits_in_window": lambda: None if outside_window is None else everyone - outside_window,
    }
    members: dict[str, frozenset[str] | None] = {}
    undetermined: dict[str, str] = {}
    definitions: dict[str, str] = {}
    for name in SET_NAMES:
        criteria = getattr(sets, name)
        definitions[name] = "; ".join(_CRITERIA[c] for c in criteria)
        chosen: frozenset[str] | None = everyone
        for criterion in criteria:
            found = tests[criterion]()
            if found is None:
                chosen = None
                undetermined[name] = f"{criterion} needs the store's visit windows"
                break
            assert chosen is not None
            chosen = chosen & found
        members[name] = chosen
    arm_of = dict(zip(subjects["subject"].astype(str), subjects["arm"], strict=True))
    rows = []
    for arm in [*frames.arms["arm"], "All"]:
        row: dict[str, object] = {"arm": arm}
        row["enrolled"] = sum(1 for s in everyone if arm == "All" or arm_of[s] == arm)
        for name, chosen in members.items():
            row[name] = (
                None
                if chosen is None
                else sum(1 for s in chosen if arm == "All" or arm_of[s] == arm)
            )
        rows.append(row)
    return AnalysisSetMembers(members, definitions, pd.DataFrame(rows), undetermined)


def restrict(frames: AnalysisFrames, subjects: frozenset[str] | None) -> AnalysisFrames:
    """``frames`` with the per-patient tables kept to ``subjects`` (all of them for None)."""
    if subjects is None:
        return frames

    def kept(frame: pd.DataFrame) -> pd.DataFrame:
        if "subject" not in frame.columns:
            return frame
        return frame[frame["subject"].astype(str).isin(subjects)]

    return replace(
        frames,
        subjects=kept(frames.subjects),
        measures=kept(frames.measures),
        adverse_events=kept(frames.adverse_events),
        milestones=kept(frames.milestones),
        labs=kept(frames.labs),
        forms=kept(frames.forms),
    )
