"""Screening values derived from raw findings, for the eligibility engine.

A protocol's criteria test derived values (``alsfrs_total >= 24``, ``fvc_percent_predicted >=
40``, ``el_escorial_category in [definite]``). Sites record what they measure: the rating's
items, the FVC in litres, the signs in each region. :func:`derive_screening_values` computes
the derived values from those, with the instruments of this package, so that the screening
form and the criteria can never disagree. A value the site entered directly is kept, unless
raw findings are also given and disagree with it, which is an error.

Raw keys: ``alsfrs_item_1`` ... ``alsfrs_item_12`` (``alsfrs_item_5a`` or ``_5b``);
``fvc_litres`` with ``sex``, ``age_years``, ``height_cm``, ``fvc_equation`` (default
``gli-global``) and ``ethnicity`` (GLI-2012); ``umn_<region>``, ``lmn_<region>``,
``emg_<region>`` booleans for the regions bulbar, cervical, thoracic, lumbosacral, with
``progressive`` and ``other_disease_excluded`` for Gold Coast.
"""

from __future__ import annotations

from collections.abc import Mapping

from alstrial.exceptions import ValidationError
from alstrial.scoring.alsfrs import ALSFRS_R_ITEMS, score_alsfrs_r
from alstrial.scoring.criteria import REGIONS, RegionFindings, awaji, el_escorial, gold_coast
from alstrial.scoring.spirometry import SpirometryEquation, fvc_percent_predicted

__all__ = ["ScreeningValue", "derive_screening_values"]

ScreeningValue = float | int | bool | str | None
_PERCENT_AGREEMENT = 1.0  # points of % predicted
_SIGNS = ("umn", "lmn", "emg")


def _agree(
    values: dict[str, ScreeningValue], key: str, derived: ScreeningValue, *, tolerance: float = 0
) -> None:
    given = values.get(key)
    if given is None:
        values[key] = derived
        return
    same = (
        abs(float(given) - float(derived)) <= tolerance
        if isinstance(derived, int | float) and isinstance(given, int | float)
        else given == derived
    )
    if not same:
        raise ValidationError(
            f"{key} was entered as {given!r} but the raw findings give {derived!r}",
            form="screening",
            field=key,
            value=given,
            allowed=repr(derived),
        )


def _alsfrs_total(values: dict[str, ScreeningValue]) -> None:
    raw = {key: values.get(f"alsfrs_{key}") for key in ALSFRS_R_ITEMS}
    if all(value is None for value in raw.values()):
        return
    score = score_alsfrs_r(raw)  # type: ignore[arg-type]
    _agree(values, "alsfrs_total", score.require_total())


def _fvc_percent(values: dict[str, ScreeningValue]) -> None:
    litres = values.get("fvc_litres")
    if litres is None:
        return
    missing = [key for key in ("sex", "age_years", "height_cm") if values.get(key) is None]
    if missing:
        raise ValidationError(
            f"FVC % predicted from litres needs {', '.join(missing)}",
            form="screening",
            field=missing[0],
        )
    equation = str(values.get("fvc_equation") or SpirometryEquation.GLI_GLOBAL)
    ethnicity = values.get("ethnicity")
    prediction = fvc_percent_predicted(
        float(litres),
        sex=str(values["sex"]),
        age_years=float(values["age_years"]),  # type: ignore[arg-type]
        height_cm=float(values["height_cm"]),  # type: ignore[arg-type]
        equation=equation,
        ethnicity=None if ethnicity is None else str(ethnicity),
    )
    values["fvc_equation"] = str(prediction.equation)
    _agree(
        values,
        "fvc_percent_predicted",
        round(prediction.percent_predicted, 2),
        tolerance=_PERCENT_AGREEMENT,
    )


def _criteria(values: dict[str, ScreeningValue]) -> None:
    keys = [f"{sign}_{region}" for region in REGIONS for sign in _SIGNS]
    if all(values.get(key) is None for key in keys):
        return
    findings = {
        region: RegionFindings(
            umn=bool(values.get(f"umn_{region}")),
            lmn=bool(values.get(f"lmn_{region}")),
            emg_lmn=bool(values.get(f"emg_{region}")),
        )
        for region in REGIONS
    }
    _agree(values, "el_escorial_category", el_escorial(findings).category)
    values["awaji_category"] = awaji(findings).category
    progressive, excluded = values.get("progressive"), values.get("other_disease_excluded")
    values["gold_coast_met"] = gold_coast(
        findings,
        progressive=None if progressive is None else bool(progressive),
        other_disease_excluded=None if excluded is None else bool(excluded),
    ).met


def derive_screening_values(
    values: Mapping[str, ScreeningValue],
) -> dict[str, ScreeningValue]:
    """Screening values completed with what the raw findings imply (module docstring).

    Parameters
    ----------
    values
        The screening form: raw findings and any values entered directly.

    Returns
    -------
    dict
        A copy of ``values`` with ``alsfrs_total``, ``fvc_percent_predicted`` (and
        ``fvc_equation``), ``el_escorial_category``, ``awaji_category`` and ``gold_coast_met``
        added where raw findings allow.

    Raises
    ------
    ValidationError
        When a raw finding is invalid (an item of 5, FVC in mL), or a value entered directly
        disagrees with what the findings give (a total, a % predicted off by more than 1
        point, a category).
    """
    derived: dict[str, ScreeningValue] = dict(values)
    _alsfrs_total(derived)
    _fvc_percent(derived)
    _criteria(derived)
    return derived
