"""Dose, endotoxin per route, and the release specification with ISCT identity."""

from __future__ import annotations

import pytest

from alstrial.exceptions import ValidationError
from alstrial.manufacturing.dose import ENDOTOXIN_K, endotoxin_dose, parse_endotoxin, plan_dose
from alstrial.manufacturing.release import evaluate_identity, evaluate_release
from alstrial.protocol import parse_protocol, reference_protocol_text
from alstrial.protocol.model import ReleaseCriterion


def test_dose_plan() -> None:
    """2 x 10^6 cells/kg x 70 kg = 1.4 x 10^8 cells; at 2.8 x 10^7 cells/ml that is 5 ml;
    10 % tolerance gives 1.26-1.54 x 10^8."""
    plan = plan_dose(
        weight_kg=70, dose_per_kg=2e6, concentration_per_ml=2.8e7, available_cells=1.5e8
    )
    assert plan.target_cells == pytest.approx(1.4e8)
    assert plan.volume_ml == pytest.approx(5.0)
    assert (plan.min_cells, plan.max_cells) == pytest.approx((1.26e8, 1.54e8))


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"weight_kg": None}, "weight_kg", "weight at administration is missing"),
        ({"weight_kg": 400}, "weight_kg", "looks like pounds"),
        ({"concentration_per_ml": 0}, "concentration_per_ml", "not positive"),
        ({"available_cells": 1.0e8}, "available_cells", "too small for the dose"),
    ],
)
def test_dose_refusals(change: dict[str, object], field: str, words: str) -> None:
    arguments: dict[str, object] = {
        "weight_kg": 70,
        "dose_per_kg": 2e6,
        "concentration_per_ml": 2.8e7,
        "available_cells": 1.5e8,
    }
    with pytest.raises(ValidationError, match=words) as caught:
        plan_dose(**(arguments | change))  # type: ignore[arg-type]
    assert caught.value.field == field


def test_endotoxin_per_route() -> None:
    """K = 5 EU/kg intravenous, 0.2 EU/kg intrathecal; EU/kg = EU/ml x ml / kg; '<LOQ' counts
    as the LOQ. 0.125 EU/ml x 5 ml / 50 kg = 0.0125 EU/kg passes both; 2.5 EU/ml x 5 ml /
    50 kg = 0.25 EU/kg passes IV and fails IT; exactly at the limit passes."""
    assert ENDOTOXIN_K == {"intravenous": 5.0, "intrathecal": 0.2}
    assert parse_endotoxin("<0.125") == (0.125, True)
    assert parse_endotoxin("0.5") == (0.5, False)
    low = endotoxin_dose("<0.125", volume_ml=5, weight_kg=50, route="intrathecal")
    assert low.eu_per_kg == pytest.approx(0.0125)
    assert low.passes
    high_iv = endotoxin_dose(2.5, volume_ml=5, weight_kg=50, route="intravenous")
    high_it = endotoxin_dose(2.5, volume_ml=5, weight_kg=50, route="intrathecal")
    assert high_iv.passes
    assert not high_it.passes
    assert endotoxin_dose(2.0, volume_ml=5, weight_kg=50, route="intrathecal").passes  # = 0.2
    with pytest.raises(ValidationError, match="not a number in EU/ml"):
        parse_endotoxin("low")
    with pytest.raises(ValidationError, match="no endotoxin limit"):
        endotoxin_dose(1, volume_ml=5, weight_kg=50, route="oral")


def test_isct_bounds_are_inclusive() -> None:
    """Dominici 2006: >= 95 % CD73/CD90/CD105, <= 2 % negatives, boundaries inclusive."""
    full = {
        "CD73": 95.0,
        "CD90": 99,
        "CD105": 97,
        "CD34": 2.0,
        "CD45": 0.5,
        "CD14": 1,
        "CD19": 0.2,
        "HLA-DR": 1.9,
    }
    outcome = evaluate_identity(full)
    assert outcome.status == "pass"
    assert outcome.deviations == ()
    assert evaluate_identity(full | {"CD73": 94.9}).status == "fail"
    assert evaluate_identity(full | {"CD34": 2.01}).status == "fail"


def test_reference_panel_deviations_are_stated() -> None:
    """The trial's panel adds CD44 and lacks CD19/CD79a and HLA-DR."""
    panel = {
        "CD73": 98,
        "CD90": 99,
        "CD105": 96,
        "CD44": 99,
        "CD34": 0.4,
        "CD45": 0.6,
        "CD11b": 0.8,
    }
    outcome = evaluate_identity(panel)
    assert outcome.status == "incomplete"  # issue 16: never "pass" with ISCT markers untested
    assert outcome.untested == ("CD19 or CD79a", "HLA-DR")
    assert any("CD19 or CD79a not tested" in d for d in outcome.deviations)
    assert any("HLA-DR not tested" in d for d in outcome.deviations)
    assert any(d.startswith("CD44 tested in addition") for d in outcome.deviations)


def test_reference_specification_on_a_table2_batch() -> None:
    """Patient 1 of Table 2: viability 100 %, NC, NC, <0.125 EU/ml, 46XY; IV, 5 ml, 47.5 kg."""
    spec = parse_protocol(reference_protocol_text()).release_specification
    results = {
        "viability": 100,
        "bacteriology": "NC",
        "mycoplasma": "NC",
        "endotoxin": "<0.125",
        "karyotype": "46XY",
    }
    identity = {
        "CD73": 98,
        "CD90": 99,
        "CD105": 96,
        "CD44": 99,
        "CD34": 0.4,
        "CD45": 0.6,
        "CD11b": 0.8,
    }
    evaluation = evaluate_release(
        spec, results, route="intravenous", volume_ml=5, weight_kg=47.5, identity=identity
    )
    assert evaluation.conforms, evaluation.failing
    assert {o.test for o in evaluation.outcomes} == {
        "viability",
        "bacteriology",
        "mycoplasma",
        "karyotype",
        "endotoxin",
        "identity",
    }
    assert evaluation.deviations
    failed = evaluate_release(
        spec,
        results | {"viability": 69.9, "mycoplasma": "positive"},
        route="intravenous",
        volume_ml=5,
        weight_kg=47.5,
        identity=identity,
    )
    assert {o.test for o in failed.failing} == {"viability", "mycoplasma"}
    missing = evaluate_release(
        spec, {"viability": 90}, route="intravenous", volume_ml=5, weight_kg=47.5
    )
    assert {o.test for o in missing.failing if o.status == "missing"} >= {"identity", "endotoxin"}


def test_exclusive_bounds() -> None:
    criterion = ReleaseCriterion(test="viability", unit="%", lower=70, lower_inclusive=False)
    assert evaluate_release([criterion], {"viability": 70}).outcomes[0].status == "fail"
    assert evaluate_release([criterion], {"viability": 70.1}).outcomes[0].status == "pass"


def test_identity_release_needs_the_panel_or_the_whole_isct_set() -> None:
    """Without a panel in the protocol, an untested ISCT marker leaves identity incomplete
    (no release); with one, each panel marker needs a result and ISCT gaps are deviations."""
    from alstrial.protocol.model import ReleaseCriterion

    tested = {"CD73": 98, "CD90": 99, "CD105": 96, "CD34": 0.4, "CD45": 0.6, "CD11b": 0.8}
    whole = evaluate_release([ReleaseCriterion(test="identity")], {}, identity=tested)
    assert not whole.conforms
    assert whole.outcomes[0].status == "incomplete"
    assert "CD19 or CD79a" in whole.outcomes[0].note
    panel = ReleaseCriterion(test="identity", markers=("CD73", "CD90", "CD105", "CD34", "CD45"))
    assert evaluate_release([panel], {}, identity=tested).conforms
    short = evaluate_release([panel], {}, identity={"CD73": 98, "CD90": 99, "CD34": 0.4})
    assert short.outcomes[0].status == "incomplete"
    assert "CD105" in short.outcomes[0].note
    assert "CD45" in short.outcomes[0].note
    with pytest.raises(ValueError, match="for identity only"):
        ReleaseCriterion(test="viability", lower=70, markers=("CD73",))
