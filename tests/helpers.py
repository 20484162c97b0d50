"""Test data and small builders shared by several test files; the fixtures built on them are in conftest.py.

Import with ``from helpers import ...``: pytest puts ``tests/`` on ``sys.path`` (it is not a package),
and the worker processes of a sweep inherit that path, so a test module importing this one can still
be imported there (its module-level chunk functions are pickled by name).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model.scenario import Scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
"""The repository's root folder."""

SCENARIOS = ROOT / "scenarios"
"""The bundled scenario files."""

BUNDLED = sorted(SCENARIOS.glob("*.toml"))
"""Every bundled scenario file, in name order."""

TINY = """
name = "tiny"

[simulation]
horizon = "1h"
replications = 4
seed = 7

[[services]]
name = "support"
entry_group = "frontline"
transfer_timeout = "60s"
arrivals = { kind = "poisson", rate_per_hour = 150 }
patience = { kind = "exponential", mean = "4m" }
transfer_patience = { kind = "exponential", mean = "2m" }

[[groups]]
name = "frontline"
agents = 4
max_concurrent = 2
handle_time = { kind = "exponential", mean = "4m" }
transfers = [{ to = "billing", probability = 0.4 }]

[[groups]]
name = "billing"
agents = 2
handle_time = { kind = "exponential", mean = "5m" }
accept_delay = { kind = "exponential", mean = "10s" }
"""
"""The tiny two-group centre the sweep and tuning tests vary (fixtures ``tiny_file`` and ``tiny``)."""

TIMEOUT = "services.support.transfer_timeout"
"""The support service's transfer timeout in :data:`TINY`, as a sweep path."""

AGENTS = "groups.billing.agents"
"""The billing group's size in :data:`TINY`, as a sweep path."""

VARY = {TIMEOUT: [30, 90], AGENTS: [1, 3]}
"""A 2 x 2 grid over :data:`TINY`: p0000 (30, 1), p0001 (30, 3), p0002 (90, 1), p0003 (90, 3)."""


def one_group_data() -> dict[str, Any]:
    """The smallest useful scenario as plain data: one service, one group of two agents, one hour."""
    return {
        "name": "tiny",
        "simulation": {"horizon": "1h", "warmup": 0, "replications": 2, "seed": 1},
        "services": [{"name": "s", "entry_group": "g", "arrivals": {"kind": "poisson", "rate_per_hour": 60}}],
        "groups": [{"name": "g", "agents": 2, "handle_time": {"kind": "exponential", "mean": "5m"}}],
    }


def one_group(**changes: Any) -> Scenario:
    """:func:`one_group_data` validated, with dotted-path ``changes`` (``Scenario.with_changes``)."""
    sc = scenario_from_dict(one_group_data())
    return sc.with_changes(changes) if changes else sc


def write_file(folder: Path, text: str, name: str = "case.toml") -> Path:
    """Write ``text`` to ``folder / name`` and return the path."""
    path = folder / name
    path.write_text(text)
    return path
