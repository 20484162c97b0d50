"""The scenario format: TOML files validated into an immutable :class:`Scenario` (see docs/scenarios.md).

Durations are stored as float seconds; errors are :class:`ScenarioError` with one line per problem.
:func:`as_scenario` is what every API taking "a scenario or the path of a TOML file" calls.
"""

from .arrivals import Arrivals
from .distributions import (
    DISTRIBUTION_KINDS,
    AnyDistribution,
    Constant,
    Distribution,
    Empirical,
    Erlang,
    Exponential,
    Gamma,
    Lognormal,
    Uniform,
    data_directory,
)
from .durations import parse_clock, parse_duration
from .errors import Problem, ScenarioError
from .loading import as_scenario, load_scenario
from .schema import (
    Agent,
    Group,
    GroupLevel,
    Scenario,
    Service,
    Simulation,
    TransferRule,
    scenario_from_dict,
)

__all__ = [
    "Agent",
    "AnyDistribution",
    "Arrivals",
    "Constant",
    "DISTRIBUTION_KINDS",
    "Distribution",
    "Empirical",
    "Erlang",
    "Exponential",
    "Gamma",
    "Group",
    "GroupLevel",
    "Lognormal",
    "Problem",
    "Scenario",
    "ScenarioError",
    "Service",
    "Simulation",
    "TransferRule",
    "Uniform",
    "as_scenario",
    "data_directory",
    "load_scenario",
    "parse_clock",
    "parse_duration",
    "scenario_from_dict",
]
