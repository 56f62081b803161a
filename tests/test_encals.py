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
