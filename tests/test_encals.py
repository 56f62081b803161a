"""ENCALS survival model against the shared reference's worked example.

clinical-reference/README.md: age at onset 62, dFS 0.5, delay 11 months, FVC 90 %, all binary
0 -> LP -4.5221 (4 decimals), median survival 36.4 months (1 decimal).
"""

from __future__ import annotations

import pytest

from alstrial.exceptions import ValidationError
from alstrial.scoring import EncalsInputs, encals_predict


def test_worked_example() -> None:
    prediction = encals_predict(EncalsInputs(62, 0.5, 11, 90))
    assert prediction.linear_predictor == pytest.approx(-4.5221, abs=5e-5)
    assert prediction.median_months == pytest.approx(36.4, abs=0.05)
    assert "public code" in prediction.source


def test_curve_is_decreasing_and_halves_at_the_median() -> None:
    inputs = EncalsInputs(55, 1.2, 9, 70, bulbar_onset=True)
    prediction = encals_predict(inputs, months=[6, 12, 24, 36, 60])
    assert list(prediction.survival) == sorted(prediction.survival, reverse=True)
    at_median = encals_predict(inputs, months=[prediction.median_months])
    assert at_median.survival[0] == pytest.approx(0.5, abs=1e-9)
    worse = encals_predict(EncalsInputs(55, 1.2, 9, 70, bulbar_onset=True, c9orf72=True))
    assert worse.median_months < prediction.median_months


def test_implausible_predictor_is_named() -> None:
    with pytest.raises(ValidationError, match="fvc_percent_predicted") as caught:
        encals_predict(EncalsInputs(62, 0.5, 11, 0))
    assert caught.value.field == "fvc_percent_predicted"


@pytest.mark.parametrize(
    ("delta_fs", "delay", "fvc", "support"),
    [
        (1.0, 6, 80, "data"),  # median 27.8 months
        (0.3, 12, 90, "tail"),  # 49.2: beyond exp(3.638) = 38 months
        (0.02, 60, 120, "tail"),  # 352: short of the longest survival, in the tail
        (0.01, 100, 150, "extrapolated"),  # 628: beyond exp(5.917) = 371 months
    ],
)
def test_a_median_outside_the_models_data_is_flagged(
    delta_fs: float, delay: float, fvc: float, support: str
) -> None:
    """Issue 18, item 5: the spline's last interior knot and last boundary knot (the
    longest survival in its data) mark where a median rests on few events or none."""
    from alstrial.scoring.encals import TAIL_END_MONTHS, TAIL_START_MONTHS

    prediction = encals_predict(
        EncalsInputs(
            age_at_onset=50, delta_fs=delta_fs, diagnostic_delay_months=delay,
            fvc_percent_predicted=fvc,
        )
    )  # fmt: skip
    assert prediction.support == support
    assert pytest.approx(38.016, abs=1e-3) == TAIL_START_MONTHS
    assert pytest.approx(371.296, abs=1e-3) == TAIL_END_MONTHS
