"""A plan's staffing: agents per (group, interval), where the search starts, and the scenario it gives.

The search moves whole agents of a group's *anonymous* staffing in one clock interval (a cell);
named agents keep their shifts. Outside the planned intervals (hours the targets do not hold in, or
groups no target concerns) the scenario's own staffing stays, step for step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from ..estimate_required import agents_required
from ..scenario import Scenario
from ..scenario.staffing import DAY, StaffingProfile, clock_steps
from ..scenario.durations import parse_clock
from ..sim.intervals import interval_label
from .targets import PlanTarget

__all__ = ["Cell", "Cells", "start_cells", "staffed_scenario", "profile_entries", "named_on_shift", "cell_cap"]

Cell = tuple[str, str]
"""``(group, interval)``: a group's anonymous agents in the interval starting at clock ``"HH:MM"``."""

Cells = dict[Cell, int]


def _anonymous_steps(scenario: Scenario, group: str) -> tuple[list[float], list[float]]:
    agents = scenario.group(group).agents
    if isinstance(agents, StaffingProfile):
        return clock_steps(agents.profile)
    return [0.0], [float(agents)]


def _value_at(steps: tuple[list[float], list[float]], clock: float) -> int:
    starts, values = steps
    i = max(k for k, s in enumerate(starts) if s <= clock % DAY)
    return int(values[i])


def named_on_shift(scenario: Scenario, group: str, label: str, step: float) -> float:
    """Time-average named agents of ``group`` on shift in the interval starting at ``label``
    (sampled each minute)."""
    shifts = scenario.shifts()
    t0 = parse_clock(label)
    minutes = max(1, int(step // 60))
    total = 0.0
    for a in scenario.agents:
        if group in a.groups:
            total += sum(shifts[a.name].on_at(t0 + 60.0 * m) for m in range(minutes)) / minutes
    return total


def profile_entries(scenario: Scenario, group: str, cells: Mapping[Cell, int], step: float) -> list[list[object]]:
    """The group's anonymous staffing over the day as ``[["HH:MM", n], ...]``: the cells' numbers in
    the planned intervals, the scenario's own steps elsewhere; equal neighbours merged, from 00:00."""
    steps = _anonymous_steps(scenario, group)
    points: list[tuple[float, int]] = []
    for k in range(int(DAY // step)):
        a = k * step
        label = interval_label(k, step)
        if (group, label) in cells:
            points.append((a, int(cells[(group, label)])))
            continue
        points.append((a, _value_at(steps, a)))
        points += [(s, int(v)) for s, v in zip(*steps) if a < s < a + step]
    entries: list[list[object]] = []
    for t, n in points:
        if entries and entries[-1][1] == n:
            continue
        minutes = int(round(t / 60.0))
        entries.append([f"{minutes // 60:02d}:{minutes % 60:02d}", n])
    return entries


def staffed_scenario(scenario: Scenario, cells: Mapping[Cell, int], step: float) -> Scenario:
    """``scenario`` with each planned group's anonymous agents set by ``cells`` (a constant count
    when the day comes out flat, else a staffing profile)."""
    changes: dict[str, object] = {}
    for group in dict.fromkeys(g for g, _ in cells):
        entries = profile_entries(scenario, group, cells, step)
        changes[f"groups.{group}.agents"] = entries[0][1] if len(entries) == 1 else {"profile": entries}
    return scenario.with_changes(changes)


def cell_cap(start: int) -> int:
    """The most agents the search gives one cell: well beyond where the analytic start put it."""
    return max(20, 3 * start + 10)


def start_cells(scenario: Scenario, targets: Sequence[PlanTarget], labels: Sequence[str], step: float,
                min_agents: int = 0) -> tuple[Cells, dict[Cell, str]]:
    """Where the search starts: per planned cell, the analytic agents required for every target that
    concerns the group (:func:`~model.estimate_required.agents_required`, the largest over targets),
    less the named agents on shift there; and, per cell, why the analytic found no number."""
    required: dict[Cell, float] = {}
    notes: dict[Cell, str] = {}
    by = f"{int(step // 60)}m"
    for t in targets:
        frame: pd.DataFrame = agents_required(scenario, t.target, by=by)
        for row in frame.itertuples(index=False):
            label, group = row[0], row[1]
            if group not in t.groups or label not in labels:
                continue
            n = float(row[2])
            note = str(row[-1])
            if math.isnan(n):
                if note.startswith("no staffing"):
                    notes[(group, label)] = note
                    n = float(row[-2]) + 10.0  # beyond reach: start high, the simulation tells how close
                else:
                    n = 0.0  # no such contacts in this interval: the target does not bind here
            required[(group, label)] = max(required.get((group, label), 0.0), n)
    cells: Cells = {}
    for (group, label), n in required.items():
        named = named_on_shift(scenario, group, label, step)
        cells[(group, label)] = max(int(min_agents), int(math.ceil(n - math.floor(named + 1e-9))))
    return cells, notes
