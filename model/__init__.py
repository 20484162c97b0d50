"""transfer-sim: the contact-transfer lifecycle as a statechart, simulated and testable.

The public API is listed once, in ``__all__``; the modules ``model.analytic``,
``model.validation``, ``model.charts``, ``model.report`` and ``model.conformance`` are public too.

``model.calibrate``, ``model.backtest``, ``model.plan`` and ``model.compare`` are the functions (a
scenario from a contact log, a run against a log, a staffing plan, two scenarios compared); their
modules are ``model.calibration``, ``model.backtesting``, ``model.planning`` and ``model.comparison``.
The what-if page is ``model.whatif.whatif`` (the package keeps the name, so it is not re-exported).
"""

from .backtesting import Backtest, backtest
from .calibration import Calibration, calibrate
from .comparison import Comparison, compare
from .errors import TransferSimError
from .logs import ContactLog, read_log
from .planning import Plan, plan
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
from .experiments import SweepResult, TuneResult, run_sweep, sweep, tune
from .results import METRICS, SimulationResult, confidence_interval
from .scenario import Scenario, ScenarioError, load_scenario, scenario_from_dict
from .sim import simulate
from .spec import mermaid, transition_table, write_diagram

__all__ = [
    "Backtest",
    "COMPILED",
    "Calibration",
    "Comparison",
    "ContactLog",
    "CompiledLifecycle",
    "Contact",
    "ContactData",
    "EventNotAllowed",
    "METRICS",
    "Plan",
    "Scenario",
    "ScenarioError",
    "SimulationResult",
    "SweepResult",
    "TuneResult",
    "SimTime",
    "TransferLifecycle",
    "TransferRules",
    "TransferSimError",
    "backtest",
    "calibrate",
    "compare",
    "confidence_interval",
    "load_scenario",
    "read_log",
    "mermaid",
    "plan",
    "scenario_from_dict",
    "run_sweep",
    "simulate",
    "sweep",
    "tune",
    "transition_table",
    "transitions",
    "write_diagram",
]
