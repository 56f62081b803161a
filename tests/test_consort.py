"""The CONSORT 2010 flow diagram (issue 18, item 2): every box equals a count taken from the
store here with its own query, and the diagram shows it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from alstrial.reporting.consort import consort_counts, figure_consort
from alstrial.services import build_analysis_frames
from alstrial.services.enrolment import screen_subject
from alstrial.store.models import Administration, Enrolment, Screening
from tests.helpers import ACTOR, DAY0, ELIGIBLE, administer, enrolled, register


def _trial(session: Session) -> Session:
    """S01 treated (IV); S02 enrolled to IT, not treated; S03 familial ALS (fails the
    inclusion criterion); S04 eligible, never enrolled."""
    enrolled(session, "S01")
    administer(session, "S01")
    enrolled(session, "S02", arm="IT")
    for code, data in (("S03", ELIGIBLE | {"familial_als": True}), ("S04", ELIGIBLE)):
        register(session, code)
        screen_subject(
            session,
            actor=ACTOR,
            subject_code=code,
            screening_date=DAY0 - timedelta(days=60),
            data=data,
        )
    return session


def _boxes(svg: str) -> dict[str, str]:
    root = ET.fromstring(svg)
    return {
        g.get("id", ""): " ".join("".join(g.itertext()).split())
        for g in root.iter("{http://www.w3.org/2000/svg}g")
        if (g.get("id") or "").startswith("consort-")
    }


def test_every_box_is_the_stores_count(session: Session) -> None:
    _trial(session)
    consort = consort_counts(session, build_analysis_frames(session))
    screened = session.scalar(sa.select(sa.func.count(sa.distinct(Screening.subject_id))))
    enrolments = session.scalar(sa.select(sa.func.count()).select_from(Enrolment))
    assert (consort.assessed, consort.enrolled) == (screened, enrolments) == (4, 2)
    assert consort.excluded == screened - enrolments == 2
    assert (consort.not_meeting_inclusion, consort.meeting_exclusion) == (1, 0)
    assert consort.eligible_not_enrolled == 1
    assert list(consort.criteria.values()) == [1]
    assert "Sporadic" in next(iter(consort.criteria))
    arms = {a.arm: a for a in consort.arms}
    for arm, flow in arms.items():
        allocated = session.scalar(
            sa.select(sa.func.count()).select_from(Enrolment).where(Enrolment.arm_code == arm)
        )
        received = session.scalar(
            sa.select(sa.func.count())
            .select_from(Administration)
            .join(Enrolment, Enrolment.subject_id == Administration.subject_id)
            .where(Enrolment.arm_code == arm)
        )
        assert (flow.allocated, flow.received, flow.safety_set) == (allocated, received, received)
    assert arms["IT"].not_received == {"not yet treated": 1}
    assert arms["IV"].excluded_alsfrs == {"no baseline rating": 1}  # S01 has no rating


def test_the_diagram_shows_the_counts(session: Session) -> None:
    _trial(session)
    consort = consort_counts(session, build_analysis_frames(session))
    boxes = _boxes(figure_consort(consort))
    assert "Assessed for eligibility (n = 4)" in boxes["consort-assessed"]
    assert "Excluded (n = 2)" in boxes["consort-excluded"]
    assert "Eligible, not enrolled (n = 1)" in boxes["consort-excluded"]
    assert "Enrolled (n = 2)" in boxes["consort-enrolled"]
    assert re.search(r"\(IV\) \(n = 1\)", boxes["consort-allocated-IV"])
    assert "Received the cell product (n = 0)" in boxes["consort-allocated-IT"]
    assert "Safety set (n = 1)" in boxes["consort-analysed-IV"]
    assert "Lost to follow-up (n = 0)" in boxes["consort-followup-IT"]


def test_the_reference_trial_diagram(demo_session: Session) -> None:
    """14 assessed and enrolled (the paper reports no screening failure), IV 6 and IT 8,
    one lost in each arm."""
    consort = consort_counts(demo_session, build_analysis_frames(demo_session))
    arms = {a.arm: a for a in consort.arms}
    assert (consort.assessed, consort.excluded, consort.enrolled) == (14, 0, 14)
    assert (arms["IV"].allocated, arms["IT"].allocated) == (6, 8)
    assert sum(arms["IV"].lost.values()) == sum(arms["IT"].lost.values()) == 1
