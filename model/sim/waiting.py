"""Waiting work ordered by priority: which waiting contact a freed slot takes when services differ
in ``priority`` or one ages (docs/simulation.md, *priorities*).

The order, best first: the highest *level*, then a transfer before a new contact, then the oldest
(a transfer by its ``request_transfer``, a queued contact by its arrival), then the lower contact
id (the earlier arrival in the event order). A contact's level is its service's ``priority``, plus
``floor(wait / priority_aging)`` when the service ages, ``wait`` running from the same time that
orders it. Non-preemptive: only a free slot takes work.

Used only when :attr:`~model.scenario.Scenario.has_priorities`; otherwise the engine keeps its
first-come-first-served queues untouched, so a scenario without priorities runs exactly as before.

Layout: one first-come-first-served *line* per service, for the new contacts queued for a group
and for the transfers waiting for a target. Every contact of a line has the same priority and
aging, so a line's head (for transfers, its oldest the agent may be offered) is its best: a choice
compares the heads of the agent's lines, never the whole queue.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any

from ..lifecycle import may_be_offered

if TYPE_CHECKING:
    from ..scenario import Service
    from .agents import AgentState

__all__ = ["GroupQueue", "PriorityWork"]

INF = math.inf
#: a waiting transfer, sorted: (requested_at, contact id, contact)
Waiting = tuple[float, int, Any]


class GroupQueue:
    """The new contacts queued for one group: a first-come-first-served line per service."""

    __slots__ = ("lines",)

    def __init__(self) -> None:
        self.lines: dict[str, deque[Any]] = {}

    def append(self, c: Any) -> None:
        """Queue ``c`` at the end of its service's line."""
        line = self.lines.get(c.service)
        if line is None:
            line = self.lines[c.service] = deque()
        line.append(c)

    def popleft(self) -> Any:
        """Take a contact out (the head of the first non-empty line): for the end of a run."""
        for line in self.lines.values():
            if line:
                return line.popleft()
        raise IndexError("pop from an empty queue")

    def __len__(self) -> int:
        return sum(len(line) for line in self.lines.values())


class PriorityWork:
    """A replication's waiting work by priority: new contacts per group, transfers per target.

    ``route``, ``assign`` and ``leave`` are the engine's: offer a transfer, give a queued contact
    to an agent, close a queued contact whose exit time has passed.
    """

    def __init__(
        self,
        services: Iterable[Service],
        groups: Collection[str],
        targets: Collection[str],
        route: Callable[[Any, float], None],
        assign: Callable[[Any, AgentState, str, float], None],
        leave: Callable[[Any], None],
    ) -> None:
        self.rank = {s.name: (s.priority, s.priority_aging) for s in services}
        self.queues = {g: GroupQueue() for g in groups}
        self.pending: dict[str, dict[str, list[Waiting]]] = {t: {} for t in targets}
        self.route = route
        self.assign = assign
        self.leave = leave

    def level(self, service: str, since: float, now: float) -> float:
        """The level at ``now`` of a contact of ``service`` waiting since ``since``."""
        priority, aging = self.rank[service]
        if aging is None:
            return priority
        steps = (now - since) / aging
        return priority + math.floor(steps) if steps < INF else INF  # an int stays exact however large

    def wait(self, c: Any) -> None:
        """Put ``c`` (in ``routing``, nobody eligible) among its target's waiting transfers."""
        if not c.waiting:
            c.waiting = True
            line = self.pending[c.target].get(c.service)
            if line is None:
                line = self.pending[c.target][c.service] = []
            insort(line, (c.transfer_requested_at, c.cid, c))

    def stop_waiting(self, c: Any) -> None:
        """Take ``c`` out of the waiting transfers: it is offered, or its transfer ended."""
        if c.waiting:
            c.waiting = False
            line = self.pending[c.target][c.service]
            del line[bisect_left(line, (c.transfer_requested_at, c.cid))]

    def dispatch(self, a: AgentState, now: float) -> None:
        """Serve ``a``'s waiting work while it has a free slot, best first (see the module)."""
        while a.on_shift and a.busy < a.slots:
            best: Any = None
            best_key: tuple[float, int, float, int] | None = None
            best_line: deque[Any] | None = None  # None: the best is a transfer
            best_group = ""
            for t in a.targets:
                for service, waiting in self.pending.get(t, {}).items():
                    for _, _, c in waiting:
                        if may_be_offered(c, a.name):
                            key = (-self.level(service, c.transfer_requested_at, now), 0,
                                   c.transfer_requested_at, c.cid)
                            if best_key is None or key < best_key:
                                best, best_key, best_line = c, key, None
                            break
            for g in a.groups:
                for service, line in self.queues[g].lines.items():
                    while line and line[0].leave_at <= now:
                        self.leave(line.popleft())
                    if line:
                        c = line[0]
                        key = (-self.level(service, c.arrived_at, now), 1, c.arrived_at, c.cid)
                        if best_key is None or key < best_key:
                            best, best_key, best_line, best_group = c, key, line, g
            if best is None:
                return
            if best_line is None:
                self.stop_waiting(best)
                self.route(best, now)
                if best.waiting:  # never: ``a`` may take it (the lifecycle says so), so it was offered
                    raise RuntimeError(f"engine: transfer of contact {best.cid} not offered to eligible agent {a.name}")
            else:
                best_line.popleft()
                self.assign(best, a, best_group, now)
