"""Results: the metric definitions of LIFECYCLE.md and the ``SimulationResult`` frames."""

from .metrics import COUNTS, METRICS, SERVICE_LEVEL_SECONDS, TARGET_METRICS, Tally, confidence_interval, summarise
from .result import SimulationResult

__all__ = [
    "COUNTS",
    "METRICS",
    "SERVICE_LEVEL_SECONDS",
    "TARGET_METRICS",
    "SimulationResult",
    "Tally",
    "confidence_interval",
    "summarise",
]
