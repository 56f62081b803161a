"""alstrial: run and analyse early-phase cell-therapy trials in ALS.

``import alstrial`` exposes the pure modules' public names (scoring, statistics, protocol);
the store, services, CLI and reports are imported from their own packages.
"""

from importlib.metadata import PackageNotFoundError, version

from alstrial.exceptions import (
    AlstrialError,
    ConfigurationError,
    ConflictError,
    IntegrityError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    ValidationError,
)
from alstrial.protocol import Protocol, evaluate_eligibility, load_protocol, parse_protocol
from alstrial.scoring import (
    AlsfrsScore,
    fvc_percent_predicted,
    kings_stage,
    mitos_stage,
    score_alsfrs,
    score_alsfrs_r,
)
from alstrial.stats import RmAnovaResult, describe_by, rm_anova

try:
    __version__ = version("alstrial")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = [
    "AlsfrsScore",
    "AlstrialError",
    "ConfigurationError",
    "ConflictError",
    "IntegrityError",
    "NotFoundError",
    "PermissionDeniedError",
    "Protocol",
    "ProtocolError",
    "RmAnovaResult",
    "ValidationError",
    "__version__",
    "describe_by",
    "evaluate_eligibility",
    "fvc_percent_predicted",
    "kings_stage",
    "load_protocol",
    "mitos_stage",
    "parse_protocol",
    "rm_anova",
    "score_alsfrs",
    "score_alsfrs_r",
]
