"""Agents and their slots: who is free, in which order they became idle, and how busy they were.

An agent holds one slot per conversation and per offer it is deciding on (an offer reserves a
slot), up to its ``max_concurrent``. The free agents of each group are kept in a dict used as
an ordered set: an agent moves to its end whenever it releases a slot, so iteration order is
"longest idle first", the order every routing policy starts from.

Only an agent *on shift* is free (LIFECYCLE.md, *Staffing over the day*). After its shift ends an
agent keeps the chats it holds until they end, then signs off: its slot time counts as staffed
while it is on shift or still holds a chat (its *overtime*), so occupancy never exceeds 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ..lifecycle import agent_target


class AgentState:
    """One agent: slots held (conversations plus reserved offers) and its occupancy so far."""

    __slots__ = ("name", "slots", "busy", "groups", "targets", "area", "overtime", "last_change", "on_shift")

    def __init__(self, name: str, slots: int, groups: tuple[str, ...], on_shift: bool = True) -> None:
        self.name = name
        self.slots = slots
        self.busy = 0
        self.groups = groups
        self.targets = (*groups, agent_target(name))
        self.area = 0.0  # slot-seconds held after the warm-up
        self.overtime = 0.0  # seconds off shift while still holding a chat, after the warm-up
        self.last_change = 0.0
        self.on_shift = on_shift


class AgentPool:
    """Every agent of a replication, the members of each transfer target, the free agents of
    each group, and slot-time accounting after the warm-up."""

    def __init__(self, agents: Mapping[str, tuple[int, tuple[str, ...]]],
                 members: Mapping[str, Sequence[str]], groups: Sequence[str], warmup: float,
                 on_shift: Mapping[str, bool] | None = None) -> None:
        on = on_shift or {}
        self.agents = {name: AgentState(name, mc, tuple(gs), on.get(name, True)) for name, (mc, gs) in agents.items()}
        self.members: dict[str, list[AgentState]] = {t: [self.agents[a] for a in m] for t, m in members.items()}
        # free agents per group, longest idle first
        self.free: dict[str, dict[AgentState, None]] = {
            g: dict.fromkeys(a for a in self.members[g] if a.on_shift) for g in groups
        }
        self.warmup = warmup

    def is_free(self, agent: str) -> bool:
        """Whether ``agent`` is on shift with a free slot now (the lifecycle's availability)."""
        a = self.agents[agent]
        return a.on_shift and a.busy < a.slots

    def sign_on(self, a: AgentState, now: float) -> None:
        """``a``'s shift starts: it becomes free (the most recently idle) if it has a free slot."""
        self._account(a, now)
        a.on_shift = True
        if a.busy < a.slots:
            for g in a.groups:
                self.free[g][a] = None

    def sign_off(self, a: AgentState, now: float) -> None:
        """``a``'s shift ends: it takes no new contact or offer; the chats it holds go on."""
        self._account(a, now)
        a.on_shift = False
        for g in a.groups:
            self.free[g].pop(a, None)

    def hold(self, a: AgentState, now: float) -> None:
        """Take one slot of ``a`` (a conversation or a reserved offer)."""
        self._account(a, now)
        a.busy += 1
        if a.busy >= a.slots:
            for g in a.groups:
                self.free[g].pop(a, None)

    def release(self, a: AgentState, now: float) -> None:
        """Give back one slot of ``a``; it becomes the most recently idle of its groups."""
        self._account(a, now)
        a.busy -= 1
        if a.busy < a.slots and a.on_shift:  # (a returned transfer may have taken it over its slots)
            for g in a.groups:
                free = self.free[g]
                free.pop(a, None)
                free[a] = None

    def _account(self, a: AgentState, now: float) -> None:
        start = a.last_change if a.last_change > self.warmup else self.warmup
        if now > start:
            a.area += a.busy * (now - start)
            if a.busy and not a.on_shift:
                a.overtime += now - start
        a.last_change = now

    def close_books(self, end: float) -> None:
        """Account every agent's slot time up to ``end`` (the horizon)."""
        for a in self.agents.values():
            self._account(a, end)

    def occupancy(self, group: str, on_time: Mapping[str, float]) -> float:
        """Share of ``group``'s staffed slot time held after the warm-up: slot-seconds in use over
        slot-seconds on shift (``on_time``: seconds on shift per agent) plus overtime."""
        members = self.members[group]
        staffed = sum(a.slots * (on_time[a.name] + a.overtime) for a in members)
        return sum(a.area for a in members) / staffed if staffed > 0 else math.nan

    def books(self, group: str) -> tuple[float, float]:
        """``group``'s slot-seconds in use and overtime slot-seconds so far (after the warm-up)."""
        members = self.members[group]
        return sum(a.area for a in members), sum(a.slots * a.overtime for a in members)
