"""Analysis sets (issue 18, item 6): declared in the protocol, counted per arm, and each
report section says which one it uses; a set that needs the visits' windows is not guessed
without the store."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from alstrial.protocol.model import AnalysisSets
from alstrial.reporting.analysis_sets import analysis_set_members, out_of_window, restrict
from alstrial.reporting.report import build_store_report, render_html
from alstrial.services import build_analysis_frames


def test_the_sets_follow_their_criteria(demo_session: Session) -> None:
    frames = build_analysis_frames(demo_session)
    members = analysis_set_members(frames, AnalysisSets(), out_of_window(demo_session))
    treated = set(frames.subjects.loc[frames.subjects["administered"].astype(bool), "subject"])
    ratings = frames.measures[frames.measures["measure"] == "alsfrs_r_total"]
    after = set(ratings.loc[ratings["days_from_administration"] > 0, "subject"])
    before = set(ratings.loc[ratings["days_from_administration"] <= 0, "subject"])
    assert members.members["safety"] == treated
    assert members.members["full"] == treated & after & before
    per_protocol = members.members["per_protocol"]
    assert per_protocol is not None
    assert per_protocol <= members.members["full"]  # type: ignore[operator]
    counts = members.counts.set_index("arm")
    assert counts.loc["All", "enrolled"] == 14
    assert counts.loc["IV", "full"] + counts.loc["IT", "full"] == counts.loc["All", "full"]


def test_a_protocols_own_definition_is_used(demo_session: Session) -> None:
    frames = build_analysis_frames(demo_session)
    only_enrolled = AnalysisSets(
        safety=("enrolled",), full=("enrolled",), per_protocol=("completed",)
    )
    members = analysis_set_members(frames, only_enrolled, frozenset())
    assert members.members["full"] == set(frames.subjects["subject"])
    assert members.definitions["per_protocol"] == "rated at the last protocol visit"


def test_without_the_store_a_window_criterion_is_not_guessed(demo_session: Session) -> None:
    frames = build_analysis_frames(demo_session)
    members = analysis_set_members(frames, AnalysisSets(), None)
    assert members.members["per_protocol"] is None
    assert "visits_in_window" in members.undetermined["per_protocol"]
    assert members.members["full"] is not None  # no window criterion: determined


def test_restrict_keeps_only_the_sets_patients(demo_session: Session) -> None:
    frames = build_analysis_frames(demo_session)
    kept = restrict(frames, frozenset({"P01", "P02"}))
    assert set(kept.subjects["subject"]) == {"P01", "P02"}
    assert set(kept.measures["subject"]) == {"P01", "P02"}
    assert restrict(frames, None) is frames


def test_each_section_says_its_set(demo_session: Session) -> None:
    html = render_html(build_store_report(demo_session))
    assert 'id="sets"' in html
    for anchor, key in (("safety", "safety"), ("anova", "full"), ("mmrm", "full"),
                        ("survival", "safety"), ("table1", "enrolled")):  # fmt: skip
        section = html[html.index(f'id="{anchor}"') :][:1200]
        assert f'data-set="{key}"' in section, anchor
    assert "Analysis set: Full analysis set (12 patients" in html


@pytest.mark.parametrize("bad", [[], ["treated", "unknown"]])
def test_a_bad_definition_is_refused(bad: list[str]) -> None:
    with pytest.raises(ValueError, match="full"):  # pydantic names the key
        AnalysisSets.model_validate({"full": bad})
