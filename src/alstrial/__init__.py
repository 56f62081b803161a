"""alstrial: run and analyse early-phase cell-therapy trials in ALS.

``import alstrial`` exposes the pure modules' public names (scoring, statistics, protocol);
the store, services, CLI and reports are imported from their own packages. The names are
resolved on first use (PEP 562), so that ``import alstrial.cli`` does not pay for scipy and
pandas before a command needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_EXPORTS = {
    "alstrial.exceptions": (
        "AlstrialError",
        "ConfigurationError",
        "ConflictError",
        "IntegrityError",
        "NotFoundError",
        "PermissionDeniedError",
        "ProtocolError",
        "ValidationError",
    ),
    "alstrial.protocol": ("Protocol", "evaluate_eligibility", "load_protocol", "parse_protocol"),
    "alstrial.scoring": (
        "AlsfrsScore",
        "fvc_percent_predicted",
        "kings_stage",
        "mitos_stage",
        "score_alsfrs",
        "score_alsfrs_r",
    ),
    "alstrial.stats": ("RmAnovaResult", "describe_by", "rm_anova"),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

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


def _version() -> str:
    # importlib.metadata costs 40 ms at import; read only when asked for.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("alstrial")
    except PackageNotFoundError:  # running from a source tree without installation
        return "0.0.0+unknown"


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (``__version__`` too)."""
    if name == "__version__":
        value = _version()
        globals()[name] = value
        return value
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'alstrial' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
