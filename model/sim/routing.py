"""Routing policies: which free agent of a group takes a new contact or a transfer offer.

A group's ``routing`` (docs/scenarios.md) names one of :data:`POLICIES`. The engine hands a
policy the candidates, all free and ordered longest idle first; the policy returns one. Ties
always go to the longest idle candidate, so a policy never depends on anything but the agents'
state (and, for ``random``, its own stream).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .agents import AgentState


class LongestIdle:
    """The agent whose last slot release is oldest (never-used agents first, in group order)."""

    def pick(self, candidates: Collection[AgentState]) -> AgentState:
        return next(iter(candidates))


class LeastBusy:
    """The lowest share of slots held; ties: the longest idle of those."""

    def pick(self, candidates: Collection[AgentState]) -> AgentState:
        if len(candidates) == 1:
            return next(iter(candidates))
        return min(candidates, key=lambda a: a.busy / a.slots)


class RoundRobin:
    """The first candidate at or after a pointer over the group's members; the pointer then moves
    past the agent chosen (also when the choice was forced: "next free agent after the last one
    chosen")."""

    def __init__(self, members: Sequence[AgentState]) -> None:
        self.order = list(members)
        self.pointer = 0

    def pick(self, candidates: Collection[AgentState]) -> AgentState:
        order = self.order
        n = len(order)
        start = self.pointer
        for k in range(n):
            a = order[(start + k) % n]
            if a in candidates:
                self.pointer = (start + k + 1) % n
                return a
        raise ValueError("round_robin: no candidate is a member of the group")


class Random:
    """Any candidate, all equally likely, drawn from the group's own ``routing`` stream."""

    def __init__(self, uniform: Callable[[], float]) -> None:
        self.uniform = uniform

    def pick(self, candidates: Collection[AgentState]) -> AgentState:
        if len(candidates) == 1:
            return next(iter(candidates))
        return list(candidates)[int(self.uniform() * len(candidates))]


class HighestSkill:
    """The highest skill level in the group (a named agent's ``groups`` entry; 1 otherwise); ties:
    the longest idle of those (``max`` keeps the first of equal keys)."""

    def __init__(self, levels: Mapping[AgentState, int]) -> None:
        self.level = levels.__getitem__

    def pick(self, candidates: Collection[AgentState]) -> AgentState:
        if len(candidates) == 1:
            return next(iter(candidates))
        return max(candidates, key=self.level)


Policy = LongestIdle | LeastBusy | RoundRobin | Random | HighestSkill

POLICIES: tuple[str, ...] = ("longest_idle", "least_busy", "round_robin", "random", "highest_skill")
"""The values of a group's ``routing``."""


def make_policy(name: str, members: Sequence[AgentState], uniform: Callable[[], float],
                levels: Mapping[str, int] | None = None) -> Policy:
    """The policy ``name`` for a group of ``members``; ``uniform`` is the group's routing stream,
    ``levels`` each member's skill level in the group (for ``highest_skill``; 1 when left out)."""
    if name == "longest_idle":
        return LongestIdle()
    if name == "least_busy":
        return LeastBusy()
    if name == "round_robin":
        return RoundRobin(members)
    if name == "random":
        return Random(uniform)
    if name == "highest_skill":
        return HighestSkill({a: (levels or {}).get(a.name, 1) for a in members})
    raise ValueError(f"unknown routing policy {name!r}; allowed: {', '.join(POLICIES)}")
