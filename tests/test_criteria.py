"""Revised El Escorial, Awaji and Gold Coast categories from regional findings.

Definitions: clinical-reference/README.md, "Diagnostic criteria" (Brooks 2000; de Carvalho
2008; Shefner 2020). Each case below sits on the boundary of one rule.
"""

from __future__ import annotations

import pytest

from alstrial.exceptions import ValidationError
from alstrial.scoring import RegionFindings, awaji, el_escorial, evaluate_criteria, gold_coast

BOTH = RegionFindings(umn=True, lmn=True)
UMN = RegionFindings(umn=True)
LMN = RegionFindings(lmn=True)
EMG = RegionFindings(emg_lmn=True)


@pytest.mark.parametrize(
    ("findings", "category"),
    [
        ({"bulbar": BOTH, "cervical": BOTH, "lumbosacral": BOTH}, "definite"),
        ({"cervical": BOTH, "lumbosacral": BOTH}, "probable"),
        ({"cervical": BOTH, "lumbosacral": LMN}, "possible"),
        ({"cervical": UMN, "thoracic": UMN}, "possible"),
        ({"bulbar": LMN, "lumbosacral": UMN}, "possible"),
        ({"cervical": UMN}, None),
        ({"lumbosacral": LMN, "thoracic": LMN}, None),
        ({}, None),
    ],
)
def test_el_escorial_categories(findings: dict[str, RegionFindings], category: str | None) -> None:
    assert el_escorial(findings).category == category


def test_laboratory_supported_needs_emg_in_two_limbs() -> None:
    one_limb = {"bulbar": UMN, "cervical": RegionFindings(emg_lmn=True)}
    assert el_escorial(one_limb).category is None
    two_limbs = {
        "bulbar": UMN,
        "cervical": RegionFindings(emg_lmn=True),
        "lumbosacral": RegionFindings(emg_lmn=True),
    }
    assert el_escorial(two_limbs).category == "probable_laboratory_supported"
    assert el_escorial({"cervical": BOTH}, emg_lmn_limbs=2).category == (
        "probable_laboratory_supported"
    )
    assert el_escorial({"cervical": BOTH}, emg_lmn_limbs=1).category == "possible"
    with pytest.raises(ValidationError, match="5 limbs"):
        el_escorial({"cervical": BOTH}, emg_lmn_limbs=5)


def test_awaji_counts_emg_as_lmn_and_has_no_laboratory_category() -> None:
    findings = {
        "bulbar": BOTH,
        "cervical": RegionFindings(umn=True, emg_lmn=True),
        "lumbosacral": RegionFindings(umn=True, emg_lmn=True),
    }
    assert el_escorial(findings).category == "probable_laboratory_supported"
    assert awaji(findings).category == "definite"
    one_region = {"cervical": RegionFindings(umn=True, emg_lmn=True)}
    assert el_escorial(one_region).category is None
    assert awaji(one_region).category == "possible"
    assert awaji({"bulbar": UMN, "cervical": EMG, "lumbosacral": EMG}).category is None


def test_gold_coast() -> None:
    lmn_two = {"cervical": LMN, "lumbosacral": EMG}
    assert gold_coast(lmn_two, progressive=True, other_disease_excluded=True).met is True
    assert gold_coast({"cervical": LMN}, progressive=True, other_disease_excluded=True).met is False
    assert gold_coast({"cervical": BOTH}, progressive=True, other_disease_excluded=True).met is True
    assert gold_coast(lmn_two, progressive=False, other_disease_excluded=True).met is False
    assert gold_coast(lmn_two, progressive=True, other_disease_excluded=False).met is False
    unknown = gold_coast(lmn_two, progressive=True, other_disease_excluded=None)
    assert unknown.met is None
    assert unknown.unknown == ("other_disease_excluded",)


def test_unknown_region_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown region 'leg'"):
        evaluate_criteria({"leg": LMN})
