"""The simulator's own event log as recorded traces (``transfer-sim run --out DIR --trace``).

Why: the simulation takes every transition through the model's compiled chart, so its log must be
a valid trace; writing it in the trace format of :mod:`.trace` lets ``conform --trace`` check
that (and shows a team what a trace of theirs should look like).

How a scenario maps to a trace's one config (a suite case's config): each service's
``transfer_timeout``, ``dissuasion_timeout`` and ``on_transfer_timeout``, and ``targets`` = every
group with all its agents (anonymous and named; ``agent:NAME`` targets are implied, since every
named agent is in a group). When all services share their timeouts and policy, one file
``trace.jsonl`` holds every contact; otherwise one config cannot say it, and each service gets
its own ``trace-SERVICE.jsonl``. Contacts are ``"REPLICATION:CONTACT"`` (the numbers of
``events.parquet``); records are in time order within each replication, replications one after
the other. What a config cannot hold is not checked: agents' availability (slots, shifts; a
trace's config has every agent available) and which agent routing chose.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..lifecycle import TIMERS
from .trace import ARRIVE

if TYPE_CHECKING:
    import pandas as pd

    from ..results import SimulationResult
    from ..scenario import Scenario, Service

__all__ = ["TRACE_FILE", "service_config", "trace_files", "trace_lines", "write_traces"]

TRACE_FILE = "trace.jsonl"
"""The trace of a run whose services share one config (else ``trace-SERVICE.jsonl`` each)."""

_AGENT_EVENTS = frozenset({"assign", "accept", "reject", "offer_timeout", "withdraw"})


def service_config(scenario: Scenario, service: Service) -> dict[str, Any]:
    """A service of ``scenario`` as a trace's (and suite case's) config."""
    return {
        "transfer_timeout": float(service.transfer_timeout),
        "dissuasion_timeout": None if service.dissuasion_timeout is None else float(service.dissuasion_timeout),
        "on_transfer_timeout": service.on_transfer_timeout,
        "targets": {g.name: scenario.agents_of(g.name) for g in scenario.groups},
    }


def trace_files(scenario: Scenario) -> dict[str, list[str]]:
    """File name -> the services whose contacts it holds: one file when one config holds them all."""
    configs = {s.name: service_config(scenario, s) for s in scenario.services}
    if len({json.dumps(c, sort_keys=True) for c in configs.values()}) <= 1:
        return {TRACE_FILE: list(configs)}
    return {f"trace-{name}.jsonl": [name] for name in configs}


def _data(event: str, agent: Any, target: Any) -> dict[str, Any]:
    """A log row's event data under LIFECYCLE.md's names."""
    if event in _AGENT_EVENTS:
        return {"agent": str(agent)}
    if event == "offer":
        return {"agents": str(agent).split(",")}
    if event == "request_transfer":
        return {"target": str(target)}
    return {}


def trace_lines(events: pd.DataFrame, config: Mapping[str, Any], services: list[str] | None = None) -> Iterator[str]:
    """The trace's lines (without line ends): the config, then one record per row of ``events``
    (the columns of :data:`model.results.records.EVENT_COLUMNS`) of ``services`` (default: all)."""
    yield json.dumps({"config": dict(config)})
    ev = events if services is None else events[events["service"].isin(services)]
    ev = ev.sort_values(["replication", "time"], kind="stable")  # stable: one instant's order is kept
    cols = [ev[c].tolist() for c in ("replication", "contact", "time", "event", "to_state", "agent", "target")]
    for rep, cid, t, event, state, agent, target in zip(*cols):
        event = str(event)
        yield json.dumps({"contact": f"{rep}:{cid}", "t": float(t), "event": event,
                          "data": {} if event == ARRIVE or event in TIMERS else _data(event, agent, target),
                          "state": str(state)})


def write_traces(result: SimulationResult, folder: str | Path) -> list[Path]:
    """Write the run's event log as traces into ``folder`` (:func:`trace_files`); the paths written.

    Raises :class:`ValueError` when the result has no event log or no scenario to read the config from.
    """
    from ..scenario import Scenario

    scenario = result.scenario
    if result.events is None:
        raise ValueError("a trace needs the event log: run with the events kept")
    if not isinstance(scenario, Scenario):
        raise ValueError("a trace needs the run's scenario (its timeouts and groups)")
    folder = Path(folder)
    written = []
    for name, services in trace_files(scenario).items():
        config = service_config(scenario, scenario.service(services[0]))
        path = folder / name
        with path.open("w", encoding="utf-8") as f:
            for line in trace_lines(result.events, config, services):
                f.write(line + "\n")
        written.append(path)
    return written
