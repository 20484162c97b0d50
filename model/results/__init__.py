"""Results: the metric definitions of LIFECYCLE.md, how each figure is shown, and the
``SimulationResult`` frames."""

from .figures import FIGURES, FigureInfo, figure
from .metrics import COUNTS, METRICS, SERVICE_LEVEL_SECONDS, TARGET_METRICS, Tally, confidence_interval, summarise
from .result import SimulationResult
from .scopes import ScopeError, UnknownScope, parse_scope

__all__ = [
    "COUNTS",
    "FIGURES",
    "FigureInfo",
    "METRICS",
    "SERVICE_LEVEL_SECONDS",
    "TARGET_METRICS",
    "UnknownScope",
    "ScopeError",
    "SimulationResult",
    "Tally",
    "confidence_interval",
    "figure",
    "parse_scope",
    "summarise",
]
