"""The services use the instruments: % predicted from litres, one ALSFRS scale per study,
screening values derived from raw findings; each refusal leaves the store unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from alstrial.exceptions import ValidationError
from alstrial.protocol import reference_protocol_text
from alstrial.scoring import fvc_percent_predicted
from alstrial.services import (
    add_site,
    add_user,
    create_study,
    record_alsfrs,
    record_spirometry,
    screen_subject,
)
from alstrial.store import make_session_factory
from alstrial.store.models import AlsfrsAssessment, Spirometry
from tests.helpers import (
    ACTOR,
    DAY0,
    ELIGIBLE,
    ENROLMENT,
    FULL_ITEMS,
    enrolled,
    refused,
    register,
)

W6 = DAY0 - timedelta(days=42)


def spirometry(session: Session, litres: float, **change: Any) -> Spirometry:
    arguments: dict[str, Any] = {
        "actor": ACTOR,
        "subject_code": "S01",
        "visit_code": "W-6",
        "assessment_date": W6,
        "fvc_litres": litres,
    }
    return record_spirometry(session, **(arguments | change))


def test_percent_predicted_is_computed_from_litres(session: Session) -> None:
    """Default equation (the protocol's gli-global); the subject is a 175 cm man aged 50 at
    screening, so on W-6 (8 days later) he is 50 + 8/365.25 years old."""
    enrolled(session)
    record = spirometry(session, 3.6)
    expected = fvc_percent_predicted(
        3.6,
        sex="male",
        age_years=50 + (W6 - ENROLMENT).days / 365.25,
        height_cm=175,
        equation="gli-global",
    )
    assert record.equation == "gli-global"
    assert record.percent_predicted == pytest.approx(expected.percent_predicted, abs=0.005)
    assert record.z_score == pytest.approx(expected.z, abs=5e-4)
    assert record.lln_litres == pytest.approx(expected.lln_l, abs=5e-5)
    assert record.predicted_litres == pytest.approx(expected.predicted_l, abs=5e-5)


def test_spirometry_refusals(session: Session) -> None:
    enrolled(session)
    error = refused(
        session,
        ValidationError,
        lambda: spirometry(session, 3.6, percent_predicted=95.0),
        field="percent_predicted",
    )
    assert "disagrees" in error.message
    refused(
        session,
        ValidationError,
        lambda: spirometry(session, 3.6, equation="gli2012"),
        field="ethnicity",
    )
    refused(
        session,
        ValidationError,
        lambda: spirometry(session, 3.6, equation="device"),
        field="percent_predicted",
    )
    device = spirometry(session, 3.6, equation="device", percent_predicted=81.0)
    assert (device.percent_predicted, device.z_score) == (81.0, None)


def test_a_rating_on_the_other_scale_is_refused(session: Session) -> None:
    enrolled(session)
    original = {f"item_{i}": 4 for i in range(1, 11) if i != 5} | {"item_5a": 4}

    def rate(items: dict[str, int | None], scale: str | None = None) -> AlsfrsAssessment:
        return record_alsfrs(
            session,
            actor=ACTOR,
            subject_code="S01",
            visit_code="W-6",
            assessment_date=W6,
            items=items,
            scale=scale,  # type: ignore[arg-type]
        )

    error = refused(
        session, ValidationError, lambda: rate(original, "ALSFRS"), field="scale_version"
    )
    assert "mix the two scales" in error.message
    missing = FULL_ITEMS | {"item_7": None}
    error = refused(session, ValidationError, lambda: rate(missing), field="item_7")
    assert "item_7 missing" in error.message
    assert rate(FULL_ITEMS).total == 48


@pytest.fixture
def original_scale_session(empty_engine: Engine) -> Iterator[Session]:
    """A study whose protocol rates with the original ALSFRS."""
    text = reference_protocol_text().replace('alsfrs_scale = "ALSFRS-R"', 'alsfrs_scale = "ALSFRS"')
    assert 'alsfrs_scale = "ALSFRS"' in text
    with make_session_factory(empty_engine)() as session:
        create_study(session, actor=ACTOR, protocol_text=text)
        add_site(session, actor=ACTOR, code="A", name="Site A")
        add_user(session, actor=ACTOR, username=ACTOR)
        yield session


def test_original_alsfrs_study_records_ten_items(original_scale_session: Session) -> None:
    session = original_scale_session
    enrolled(session)
    items = {f"item_{i}": 3 for i in range(1, 11) if i != 5} | {"item_5b": 2}
    record = record_alsfrs(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="W-6",
        assessment_date=W6,
        items=items,
    )
    assert (record.scale_version, record.total, record.item_11, record.item_12) == (
        "ALSFRS",
        29,
        None,
        None,
    )
    refused(
        session,
        ValidationError,
        lambda: record_alsfrs(
            session,
            actor=ACTOR,
            subject_code="S01",
            visit_code="W-4",
            assessment_date=W6 + timedelta(days=14),
            items=FULL_ITEMS,
        ),
        field="item_11",
    )


def test_the_database_ties_items_to_the_scale(session: Session) -> None:
    """The CHECK constraint refuses an ALSFRS-R row without items 11-12 written by hand."""
    enrolled(session)
    record_alsfrs(
        session,
        actor=ACTOR,
        subject_code="S01",
        visit_code="W-6",
        assessment_date=W6,
        items=FULL_ITEMS,
    )
    session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        session.execute(sa.text("UPDATE alsfrs_assessment SET item_12 = NULL"))
    session.rollback()


def test_screening_derives_values_from_raw_findings(session: Session) -> None:
    register(session)
    raw = {
        "familial_als": False,
        "concomitant_disease": False,
        "immunotherapy_last_6_months": False,
        **{f"alsfrs_item_{i}": 3 for i in range(1, 13) if i != 5},
        "alsfrs_item_5a": 3,
        "fvc_litres": 3.9,
        **{
            f"{sign}_{region}": True
            for sign in ("umn", "lmn")
            for region in ("bulbar", "cervical", "lumbosacral")
        },
    }
    screening, result = screen_subject(
        session, actor=ACTOR, subject_code="S01", screening_date=ENROLMENT, data=raw
    )
    assert screening.data["alsfrs_total"] == 36
    assert screening.data["el_escorial_category"] == "definite"
    expected = fvc_percent_predicted(
        3.9, sex="male", age_years=50, height_cm=175, equation="gli-global"
    )
    assert screening.data["fvc_percent_predicted"] == pytest.approx(
        expected.percent_predicted, abs=0.005
    )
    assert result.eligible


def test_screening_refuses_a_value_that_contradicts_its_findings(session: Session) -> None:
    register(session)
    contradiction = ELIGIBLE | {f"alsfrs_item_{i}": 4 for i in range(1, 13) if i != 5}
    contradiction |= {"alsfrs_item_5a": 4}
    error = refused(
        session,
        ValidationError,
        lambda: screen_subject(
            session,
            actor=ACTOR,
            subject_code="S01",
            screening_date=ENROLMENT,
            data=contradiction,
        ),
        field="alsfrs_total",
        subject="S01",
    )
    assert "raw findings give 48" in error.message
