"""transfer-sim: the contact-transfer lifecycle as a statechart, simulated and testable.

The public API is listed once, in ``__all__``.
"""

from .lifecycle import (
    COMPILED,
    Contact,
    ContactData,
    CompiledLifecycle,
    EventNotAllowed,
    SimTime,
    TransferLifecycle,
    TransferRules,
    transitions,
)
from .results import METRICS, SimulationResult, confidence_interval
from .scenario import Scenario, ScenarioError, load_scenario, scenario_from_dict
from .sim import simulate
from .spec import mermaid, transition_table, write_diagram

__all__ = [
    "COMPILED",
    "CompiledLifecycle",
    "Contact",
    "ContactData",
    "EventNotAllowed",
    "METRICS",
    "Scenario",
    "ScenarioError",
    "SimulationResult",
    "SimTime",
    "TransferLifecycle",
    "TransferRules",
    "confidence_interval",
    "load_scenario",
    "mermaid",
    "scenario_from_dict",
    "simulate",
    "transition_table",
    "transitions",
    "write_diagram",
]
