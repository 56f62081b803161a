"""Power for the next trial from this trial's data (issue 18, item 4): the sample sizes are
the random-slope formula's with the trial's own estimates (the formula reproduces longpower's
lmmpower value 207.3101 per group in tests/test_power.py::test_random_slope_model, from
../shared/stats-reference), the CLI gives the same, and the simulation reports its
Monte-Carlo error."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session

from alstrial.exceptions import ValidationError
from alstrial.reporting.next_trial import next_trial_power
from alstrial.reporting.report import build_report, render_html
from alstrial.services import build_analysis_frames
from alstrial.stats.power import random_slope_n
from tests.helpers import run_cli


def test_the_sample_sizes_are_the_slope_formulas_with_the_trials_estimates(
    demo_session: Session,
) -> None:
    frames = build_analysis_frames(demo_session)
    study = next_trial_power(frames)
    assert study.slope < 0
    assert study.var_slope > 0
    assert study.var_residual > 0
    assert study.n_patients == 14
    table = study.table
    assert list(table["slowing"]) == [0.25, 0.35, 0.5, 0.25, 0.35, 0.5]
    for row in table.to_dict("records"):
        times = [float(t) for t in row["times"].split(", ")]
        n = random_slope_n(
            row["slowing"] * abs(study.slope),
            times,
            var_slope=study.var_slope,
            var_residual=study.var_residual,
        )
        assert row["n_per_arm"] == math.ceil(n)
        assert row["n_per_arm_with_dropout"] == math.ceil(n / row["retention"])
    six, twelve = table[table["horizon_months"] == 6], table[table["horizon_months"] == 12]
    # A larger slowing needs fewer patients; n scales with 1/delta^2.
    assert list(six["n_per_arm"]) == sorted(six["n_per_arm"], reverse=True)
    ratio = six["n_per_arm"].iloc[0] / six["n_per_arm"].iloc[2]
    assert ratio == pytest.approx((0.5 / 0.25) ** 2, rel=0.05)
    assert (twelve["retention"] <= six["retention"].iloc[0]).all()
    assert any("no control arm" in a for a in study.assumptions)


def test_the_cli_gives_the_same_numbers(tmp_path: Path) -> None:
    """`alstrial stats power from-study` on the demo's store, and `stats power slope` with
    the estimates it prints, give the report's numbers; the simulation has its MC error."""
    from alstrial.store import make_engine, make_session_factory

    built = run_cli("demo", "--out", str(tmp_path / "demo"))
    assert built.returncode == 0, built.stderr
    url = f"sqlite:///{tmp_path / 'demo' / 'reference_trial.db'}"
    engine = make_engine(url)
    with make_session_factory(engine)() as opened:
        study = next_trial_power(build_analysis_frames(opened))
    engine.dispose()
    result = run_cli("stats", "power", "from-study", "--database", url, "--n-sim", "20", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [r["n_per_arm"] for r in payload["rows"]] == list(study.table["n_per_arm"])
    assert payload["synthetic"] is True
    first = payload["rows"][0]
    assert 0 <= first["simulated_power"] <= 1
    p = first["simulated_power"]
    assert first["mc_se"] == pytest.approx(math.sqrt(p * (1 - p) / 20))
    slope = run_cli(
        "stats", "power", "slope", "--delta", str(0.25 * abs(payload["slope_points_per_month"])),
        "--times", first["times"].replace(" ", ""), "--var-slope", str(payload["var_slope"]),
        "--var-residual", str(payload["var_residual"]), "--json",
    )  # fmt: skip
    assert slope.returncode == 0, slope.stderr
    assert json.loads(slope.stdout)["n_per_group_rounded"] == first["n_per_arm"]


def test_the_report_has_the_section(demo_session: Session) -> None:
    html = render_html(build_report(build_analysis_frames(demo_session)))
    assert 'id="power"' in html
    assert "n per arm with dropout" in html


def test_a_trial_without_ratings_says_why(session: Session) -> None:
    with pytest.raises(ValidationError, match="at least 3 patients"):
        next_trial_power(build_analysis_frames(session))
    empty = render_html(build_report(build_analysis_frames(session)))
    assert "power for the next trial" in empty.lower()
    assert "at least 3 patients" in empty


def test_the_reports_power_sees_the_dropout_and_can_simulate(demo_session: Session) -> None:
    """The section uses the safety set (the full analysis set would hide the two patients
    lost after the administration) and, asked to, simulates each row."""
    from alstrial.reporting.next_trial import NextTrialPower
    from alstrial.reporting.report import build_store_report

    report = build_store_report(demo_session, simulations=10)
    study = report.next_trial
    assert isinstance(study, NextTrialPower)
    twelve = study.table[study.table["horizon_months"] == 12]
    assert twelve["retention"].iloc[0] == pytest.approx(12 / 14)
    assert twelve["simulated_power"].notna().all()
    assert "not run" not in render_html(report)[render_html(report).index('id="power"') :][:3000]


def test_the_simulation_drops_the_observed_share_and_no_more() -> None:
    """simulate_power keeps a patient while each visit's draw succeeds, so the shares seen
    (1, 6/7, 6/7, 5/7) become per-visit probabilities (1, 6/7, 1, 5/6) whose running product
    gives them back; a share that rises again is held at the lower one."""
    from alstrial.reporting.next_trial import conditional_retention

    observed = [1.0, 6 / 7, 6 / 7, 5 / 7]
    conditional = conditional_retention(observed)
    assert conditional == pytest.approx([1.0, 6 / 7, 1.0, 5 / 6])
    assert np.cumprod(conditional) == pytest.approx(observed)
    assert conditional_retention([1.0, 0.8, 0.9, 0.8]) == pytest.approx([1.0, 0.8, 1.0, 1.0])
    assert conditional_retention([1.0, 0.0, 0.0]) == [1.0, 0.0, 0.0]
