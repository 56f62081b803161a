"""Clinical instruments: pure scoring functions with no I/O and no storage.

- :mod:`~alstrial.scoring.alsfrs`: ALSFRS-R and original ALSFRS totals and domains;
- :mod:`~alstrial.scoring.staging`: King's and MiToS stages;
- :mod:`~alstrial.scoring.progression`: delta-FS, slopes, pre- versus post-treatment slopes;
- :mod:`~alstrial.scoring.spirometry`: FVC % predicted, z and LLN (GLI-2012, GLI Global);
- :mod:`~alstrial.scoring.criteria`: revised El Escorial, Awaji and Gold Coast criteria;
- :mod:`~alstrial.scoring.encals`: the ENCALS survival model;
- :mod:`~alstrial.scoring.screening`: screening values derived for the eligibility engine.
"""

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
