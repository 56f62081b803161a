"""Clinical instruments: pure scoring functions with no I/O and no storage.

- :mod:`~alstrial.scoring.alsfrs`: ALSFRS-R and original ALSFRS totals and domains;
- :mod:`~alstrial.scoring.staging`: King's and MiToS stages;
- :mod:`~alstrial.scoring.progression`: delta-FS, slopes, pre- versus post-treatment slopes;
- :mod:`~alstrial.scoring.spirometry`: FVC % predicted, z and LLN (GLI-2012, GLI Global);
- :mod:`~alstrial.scoring.criteria`: revised El Escorial, Awaji and Gold Coast criteria;
- :mod:`~alstrial.scoring.encals`: the ENCALS survival model;
- :mod:`~alstrial.scoring.screening`: screening values derived for the eligibility engine.

The names are resolved on first use (PEP 562): a form scored from the command line imports
the ALSFRS module alone, not the spirometry tables, the ENCALS model or numpy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alstrial.scoring.alsfrs import (
        ALSFRS_DOMAINS,
        ALSFRS_ITEMS,
        ALSFRS_R_DOMAINS,
        ALSFRS_R_ITEMS,
        AlsfrsArrays,
        AlsfrsScale,
        AlsfrsScore,
        scale_items,
        scale_maximum,
        score_alsfrs,
        score_alsfrs_array,
        score_alsfrs_r,
    )
    from alstrial.scoring.criteria import (
        REGIONS,
        CriteriaResult,
        GoldCoastResult,
        RegionFindings,
        awaji,
        el_escorial,
        evaluate_criteria,
        gold_coast,
    )
    from alstrial.scoring.encals import EncalsInputs, EncalsPrediction, encals_predict
    from alstrial.scoring.progression import (
        PrePostSlopes,
        Slope,
        delta_fs,
        delta_fs_array,
        months_between,
        pre_post_slopes,
        slope,
    )
    from alstrial.scoring.screening import derive_screening_values
    from alstrial.scoring.spirometry import (
        FvcPrediction,
        GliEthnicity,
        SpirometryEquation,
        fvc_percent_predicted,
        fvc_percent_predicted_array,
    )
    from alstrial.scoring.staging import (
        KingsStage,
        MitosStage,
        kings_stage,
        kings_stage_array,
        mitos_stage,
        mitos_stage_array,
    )

_HOME = {
    "ALSFRS_DOMAINS": "alstrial.scoring.alsfrs",
    "ALSFRS_ITEMS": "alstrial.scoring.alsfrs",
    "ALSFRS_R_DOMAINS": "alstrial.scoring.alsfrs",
    "ALSFRS_R_ITEMS": "alstrial.scoring.alsfrs",
    "AlsfrsArrays": "alstrial.scoring.alsfrs",
    "AlsfrsScale": "alstrial.scoring.alsfrs",
    "AlsfrsScore": "alstrial.scoring.alsfrs",
    "CriteriaResult": "alstrial.scoring.criteria",
    "EncalsInputs": "alstrial.scoring.encals",
    "EncalsPrediction": "alstrial.scoring.encals",
    "FvcPrediction": "alstrial.scoring.spirometry",
    "GliEthnicity": "alstrial.scoring.spirometry",
    "GoldCoastResult": "alstrial.scoring.criteria",
    "KingsStage": "alstrial.scoring.staging",
    "MitosStage": "alstrial.scoring.staging",
    "PrePostSlopes": "alstrial.scoring.progression",
    "REGIONS": "alstrial.scoring.criteria",
    "RegionFindings": "alstrial.scoring.criteria",
    "Slope": "alstrial.scoring.progression",
    "SpirometryEquation": "alstrial.scoring.spirometry",
    "awaji": "alstrial.scoring.criteria",
    "delta_fs": "alstrial.scoring.progression",
    "delta_fs_array": "alstrial.scoring.progression",
    "derive_screening_values": "alstrial.scoring.screening",
    "el_escorial": "alstrial.scoring.criteria",
    "encals_predict": "alstrial.scoring.encals",
    "evaluate_criteria": "alstrial.scoring.criteria",
    "fvc_percent_predicted": "alstrial.scoring.spirometry",
    "fvc_percent_predicted_array": "alstrial.scoring.spirometry",
    "gold_coast": "alstrial.scoring.criteria",
    "kings_stage": "alstrial.scoring.staging",
    "kings_stage_array": "alstrial.scoring.staging",
    "mitos_stage": "alstrial.scoring.staging",
    "mitos_stage_array": "alstrial.scoring.staging",
    "months_between": "alstrial.scoring.progression",
    "pre_post_slopes": "alstrial.scoring.progression",
    "scale_items": "alstrial.scoring.alsfrs",
    "scale_maximum": "alstrial.scoring.alsfrs",
    "score_alsfrs": "alstrial.scoring.alsfrs",
    "score_alsfrs_array": "alstrial.scoring.alsfrs",
    "score_alsfrs_r": "alstrial.scoring.alsfrs",
    "slope": "alstrial.scoring.progression",
}

__all__ = [
    "ALSFRS_DOMAINS",
    "ALSFRS_ITEMS",
    "ALSFRS_R_DOMAINS",
    "ALSFRS_R_ITEMS",
    "REGIONS",
    "AlsfrsArrays",
    "AlsfrsScale",
    "AlsfrsScore",
    "CriteriaResult",
    "EncalsInputs",
    "EncalsPrediction",
    "FvcPrediction",
    "GliEthnicity",
    "GoldCoastResult",
    "KingsStage",
    "MitosStage",
    "PrePostSlopes",
    "RegionFindings",
    "Slope",
    "SpirometryEquation",
    "awaji",
    "delta_fs",
    "delta_fs_array",
    "derive_screening_values",
    "el_escorial",
    "encals_predict",
    "evaluate_criteria",
    "fvc_percent_predicted",
    "fvc_percent_predicted_array",
    "gold_coast",
    "kings_stage",
    "kings_stage_array",
    "mitos_stage",
    "mitos_stage_array",
    "months_between",
    "pre_post_slopes",
    "scale_items",
    "scale_maximum",
    "score_alsfrs",
    "score_alsfrs_array",
    "score_alsfrs_r",
    "slope",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'alstrial.scoring' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
