"""The clock side of the analytic estimate: which stretches of the day the measured window covers,
the arrival rates and the staffing in each, the interval (``by``) each belongs to; and the estimate
next to a simulation of the same scenario (:func:`compare`).

Why apart from :mod:`model.estimate`: the formulas and the flow network do not care about clock
time; this module turns a scenario's arrival profiles and rota into *stretches* over which every
arrival rate and every target's staffing is constant, which the estimate then solves one steady
state at a time (:data:`model.estimate.ESTIMATE_ASSUMPTIONS`).

Semantics (decisions, documented in the README's estimate section):

- The measured window is simulated ``[warmup, warmup + horizon]`` (contacts arriving before the
  warm-up are not counted by the simulation either); simulated ``t`` is clock ``simulation.start + t``.
- Intervals of length ``by`` start at midnight (``by`` must divide 24 h into whole minutes) and are
  named by their start clock ``"HH:MM"``; a window longer than a day folds every day onto the same
  clock intervals, as profiles and rotas repeat daily.
- Staffing of a target at a clock time: the agents on shift then (a group's profile value, its
  named agents whose shifts cover the time) and their chat slots (``max_concurrent`` each).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from .lifecycle import agent_target
from .scenario.staffing import DAY, Shifts, StaffingProfile, clock_steps
from .sim.intervals import interval_label, interval_seconds

if TYPE_CHECKING:
    from .scenario import Scenario

__all__ = ["COMPARE_COLUMNS", "Stretch", "agents_on_shift", "averaged", "averaged_note", "by_interval",
           "check_interval", "compare", "interval_of", "staffing_at", "stretches"]


def check_interval(by: float | str) -> float:
    """Seconds of an interval length (``3600``, ``"1h"``) if it divides 24 h into whole minutes
    (15m, 30m, 1h, ...); ``ValueError`` naming the allowed values otherwise.

    Why the simulation's rule (:func:`model.sim.intervals.interval_seconds`): ``estimate --by`` and
    ``simulate(interval=)`` must accept the same lengths and cut the day the same way.
    """
    return interval_seconds(by)


def interval_of(clock: float, by: float) -> str:
    """``"HH:MM"``: the start of the clock interval of length ``by`` holding ``clock`` (any day),
    labelled as the simulation labels it."""
    return interval_label(int((clock % DAY) // by), by)


@dataclass(frozen=True)
class Stretch:
    """A stretch of the clock day over which every arrival rate and every staffing is constant.

    ``seconds``: how long the measured window covers it (summed over days); ``first``: the first
    simulated time it is covered (orders the intervals); ``rates``: per service, contacts per
    minute; ``slots``: per target, chat slots on shift; ``agents``: per group, agents on shift.
    """

    label: str
    first: float
    seconds: float
    rates: tuple[float, ...]
    slots: tuple[float, ...]  # whole numbers, except in an :func:`averaged` stretch
    agents: tuple[float, ...]


def staffing_at(scenario: Scenario, clock: float) -> tuple[dict[str, int], dict[str, int]]:
    """``(slots per target, agents per group)`` on shift at clock seconds ``clock`` (any day).

    Targets in :meth:`Scenario.targets` order; a named agent counts in each of its groups. Counts
    the anonymous agents from the profile value, without listing them (a group may have billions).
    """
    on = {a.name: Shifts.from_clock(a.shifts).on_at(clock) for a in scenario.agents}
    slots: dict[str, int] = {}
    agents: dict[str, int] = {}
    for g in scenario.groups:
        anonymous = g.agents.at(clock) if isinstance(g.agents, StaffingProfile) else int(g.agents)
        named = [a for a in scenario.agents if g.name in a.groups and on[a.name]]
        slots[g.name] = anonymous * g.max_concurrent + sum(a.max_concurrent for a in named)
        agents[g.name] = anonymous + len(named)
    for a in scenario.agents:
        slots[agent_target(a.name)] = a.max_concurrent if on[a.name] else 0
    return slots, agents


def _day_points(scenario: Scenario, by: float | None) -> list[float]:
    """Clock seconds in [0, DAY) where an interval, an arrival step or a staffing step may begin."""
    points = {0.0}
    if by is not None:
        points.update(k * by for k in range(int(DAY // by)))
    for s in scenario.services:
        if s.arrivals.profile is not None:
            points.update(clock_steps(s.arrivals.profile)[0])
    for g in scenario.groups:
        if isinstance(g.agents, StaffingProfile):
            points.update(clock_steps(g.agents.profile)[0])
    for a in scenario.agents:
        for lo, hi in Shifts.from_clock(a.shifts).windows:
            points.update((lo % DAY, hi % DAY))
    return sorted(points)


def _covered_until(clock: float, lo: float, hi: float) -> float:
    """Seconds of ``[0, clock)`` inside the daily window ``[lo, hi)`` of every day."""
    days = math.floor(clock / DAY)
    return days * (hi - lo) + min(max(clock - days * DAY - lo, 0.0), hi - lo)


def _first_at_or_after(clock: float, lo: float, hi: float) -> float:
    """The first clock time >= ``clock`` inside the daily window ``[lo, hi)``."""
    day = math.floor(clock / DAY)
    rem = clock - day * DAY
    if lo <= rem < hi:
        return clock
    return day * DAY + lo if rem < lo else (day + 1) * DAY + lo


def stretches(scenario: Scenario, by: float | str | None = None) -> list[Stretch]:
    """The stretches of the clock day that the measured window covers, in order of first coverage.

    With ``by`` (seconds, see :func:`check_interval`) no stretch crosses an interval boundary and
    each is labelled with its interval; without it every label is ``""``. The arrival rate of a
    stretch is its expected arrivals (:meth:`Arrivals.expected_arrivals`, one day's occurrence in
    simulated time) over its length.
    """
    if by is not None:
        by = check_interval(by)
    sim = scenario.simulation
    start = sim.start_seconds
    c0 = start + float(sim.warmup)
    c1 = c0 + float(sim.horizon)
    points = _day_points(scenario, by)
    out = []
    for lo, hi in zip(points, [*points[1:], DAY]):
        seconds = _covered_until(c1, lo, hi) - _covered_until(c0, lo, hi)
        if not seconds > 0:
            continue
        length = hi - lo
        t_lo = DAY + lo - start  # an occurrence of the stretch at simulated t >= 0
        rates = tuple(s.arrivals.expected_arrivals(t_lo, t_lo + length) / length * 60.0
                      for s in scenario.services)
        slots, agents = staffing_at(scenario, (lo + hi) / 2.0)
        label = interval_of(lo, by) if by is not None else ""
        out.append(Stretch(label, _first_at_or_after(c0, lo, hi) - start, seconds, rates,
                           tuple(slots.values()), tuple(agents.values())))
    return sorted(out, key=lambda s: s.first)


def by_interval(parts: Sequence[Stretch]) -> list[tuple[str, list[Stretch]]]:
    """Stretches grouped by interval, intervals in order of first coverage."""
    out: dict[str, list[Stretch]] = {}
    for p in parts:
        out.setdefault(p.label, []).append(p)
    return list(out.items())


def averaged_note(scenario: Scenario) -> str | None:
    """The line saying what an estimate without ``by`` averaged over the window (None: nothing varies)."""
    what = [f"the arrival profile of {s.name!r}" for s in scenario.services if s.arrivals.profile is not None]
    if scenario.has_rota:
        what.append("the staffing over the day (rota)")
    if not what:
        return None
    return (f"Averaged over the whole measured window: {', '.join(what)}; use --by 1h "
            "(estimate(scenario, by=3600)) for one estimate per interval of the day.")


def averaged(parts: Sequence[Stretch], label: str = "") -> Stretch:
    """The stretches as one: their time-average arrival rates, slots and agents on shift (not rounded)."""
    total = sum(p.seconds for p in parts)

    def mean(columns: list[tuple[float, ...]]) -> tuple[float, ...]:
        return tuple(sum(p.seconds * v for p, v in zip(parts, col)) / total for col in zip(*columns))

    return Stretch(label, min(p.first for p in parts), total, mean([p.rates for p in parts]),
                   mean([p.slots for p in parts]), mean([p.agents for p in parts]))


def agents_on_shift(scenario: Scenario, by: float | str | None = None) -> dict[tuple[str, str], float]:
    """``{(interval, group): time-average agents on shift}`` over the measured window (interval
    ``""`` without ``by``): what the simulation reports as ``staffed_agents``."""
    names = [g.name for g in scenario.groups]
    out = {}
    for label, group in by_interval(stretches(scenario, by)):
        out.update({(label, g): n for g, n in zip(names, averaged(group, label).agents)})
    return out


#: the columns of :func:`compare` (``interval`` first when the estimate has intervals)
COMPARE_COLUMNS = ["figure", "key", "analytic", "simulated", "ci_low", "ci_high", "n"]


def compare(estimate: pd.DataFrame, simulated: pd.DataFrame,
            agents: Mapping[tuple[str, str], float] | None = None) -> pd.DataFrame:
    """The estimate next to the simulation, per interval when both have one.

    ``estimate``: :func:`model.estimate.estimate`'s frame; ``simulated``: ``result.intervals`` (with
    an ``interval`` column) or ``result.metrics``; ``agents``: :func:`agents_on_shift`. Rows:
    ``queue_abandonment_rate`` per service (the estimate's entry-queue P(abandon)), ``wait_mean``
    per service where the estimate has one (services without patience: Erlang C or Cobham, seconds),
    ``transfer_abandonment_rate`` per target (the estimate's P(abandon) of transfers into it,
    weighted by each service's transfer flow) and ``staffed_agents`` per group; a figure missing on
    one side is NaN, one missing on both is left out.
    """
    with_interval = "interval" in estimate.columns
    sim = simulated.set_index((["interval"] if with_interval else []) + ["scope", "key", "metric"])
    labels = list(dict.fromkeys(estimate["interval"])) if with_interval else [""]
    rows = []

    def add(label: str, figure: str, scope: str, key: str, analytic: float) -> None:
        where = ((label,) if with_interval else ()) + (scope, key, figure)
        got = sim.loc[where] if where in sim.index else None
        if isinstance(got, pd.DataFrame):
            got = got.iloc[0]
        values = ([math.nan] * 4 if got is None
                  else [float(got[c]) for c in ("mean", "ci_low", "ci_high", "n")])
        if analytic != analytic and values[0] != values[0]:
            return  # neither side has it (e.g. transfers into a group nothing transfers to)
        rows.append(((label,) if with_interval else ()) + (figure, key, analytic, *values))

    for label in labels:
        block = estimate[estimate["interval"] == label] if with_interval else estimate
        for service, part in block.groupby("service", sort=False):
            add(label, "queue_abandonment_rate", "service", str(service),
                _flow_weighted(part["entry_per_hour"], part["queue_p_abandon"]))
            wait = _flow_weighted(part["entry_per_hour"], part["queue_wait_mean_s"]) if (
                "queue_wait_mean_s" in part) else math.nan
            if wait == wait:  # only where the estimate has a wait: a row without would say nothing
                add(label, "wait_mean", "service", str(service), wait)
        for target, part in block.groupby("group", sort=False):
            add(label, "transfer_abandonment_rate", "target", str(target),
                _flow_weighted(part["transfers_in_per_hour"], part["transfer_p_abandon"]))
        for (where, group), value in (agents or {}).items():
            if where == (label if with_interval else ""):
                add(label, "staffed_agents", "group", group, value)
    return pd.DataFrame(rows, columns=(["interval"] if with_interval else []) + COMPARE_COLUMNS)


def _flow_weighted(flows: pd.Series, p: pd.Series) -> float:
    """sum(flow p) / sum(flow) over the rows with a flow and a P(abandon); NaN without any."""
    ok = (flows > 0) & p.notna()
    total = float(flows[ok].sum())
    return float((flows[ok] * p[ok]).sum()) / total if total > 0 else float("nan")
