"""The transfer graph of a scenario: groups that always transfer again, so a contact never completes.

Why apart from the models: it is one whole-scenario check (a graph search over every group's rules),
run by :class:`~model.scenario.schema.Scenario` once every reference is known to be valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..lifecycle import AGENT_PREFIX
from .errors import Problem, show

if TYPE_CHECKING:
    from .schema import Scenario

__all__ = ["endless_transfers"]

#: transfer probabilities summing to at least this count as 1 (float sums such as 0.1 * 10)
_SUM_ONE = 1.0 - 1e-9


def endless_transfers(scenario: Scenario) -> list[Problem]:
    """Closed sets of groups whose rules always transfer again: a contact there never completes.

    The routing graph has an edge from a group to the group whose rules handle a contact after a
    transfer: the target group, or for ``agent:NAME`` that agent's first group (as the
    simulation does). A group *can finish* a contact when its probabilities sum to < 1, or when
    one of its own members is the target of one of its ``agent:NAME`` rules (that agent closes
    the contact instead of transferring it to itself), or when it transfers to a group that can
    finish. Groups that cannot finish always contain a closed cycle; each is reported once, by
    naming the cycle (at the first of its groups in file order).
    """
    first_group = {a.name: a.groups[0] for a in scenario.agents}
    members = {g.name: {a.name for a in scenario.agents if g.name in a.groups} for g in scenario.groups}
    edges: dict[str, list[str]] = {}
    finishes: set[str] = set()
    for g in scenario.groups:
        total = sum(r.probability for r in g.transfers)
        nxt = []
        for r in g.transfers:
            if r.probability <= 0:
                continue
            if r.is_agent:
                agent = r.to.removeprefix(AGENT_PREFIX)
                if agent in members[g.name]:
                    finishes.add(g.name)
                nxt.append(first_group[agent])
            else:
                nxt.append(r.to)
        edges[g.name] = list(dict.fromkeys(nxt))
        if total < _SUM_ONE:
            finishes.add(g.name)
    changed = True
    while changed:  # a group that can reach a finishing group can finish
        changed = False
        for name, nxt in edges.items():
            if name not in finishes and any(t in finishes for t in nxt):
                finishes.add(name)
                changed = True
    stuck = [g.name for g in scenario.groups if g.name not in finishes]
    if not stuck:
        return []

    def reach(start: str) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for t in edges[todo.pop()]:
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        return seen

    reachable = {g: reach(g) for g in stuck}
    problems = []
    reported: set[str] = set()
    for g in stuck:
        # a closed set: every group reachable from g reaches g back (a bottom strongly connected component)
        if g in reported or any(g not in reachable[t] for t in reachable[g]):
            continue
        closed = reachable[g]
        reported |= closed
        cycle = _cycle_from(g, edges, closed)
        shown = " -> ".join(show(n, 40) for n in cycle)
        members = sorted(closed, key=list(edges).index)
        if len(closed) > len(set(cycle)):
            shown += " (and " + ", ".join(show(n, 40) for n in members if n not in cycle) + ")"
        problems.append(
            Problem(f"groups.{g}.transfers",
                    f"endless transfers: {shown} always transfer again (each group's transfer "
                    "probabilities sum to 1), so a contact that gets there never completes",
                    members if len(closed) > 1 else g,
                    "transfer probabilities summing to < 1 in at least one group of the cycle")
        )
    return problems


def _cycle_from(start: str, edges: Mapping[str, list[str]], within: set[str]) -> list[str]:
    """A shortest cycle from ``start`` back to it inside ``within`` (breadth first), as names.

    Self-transfers are skipped when ``within`` has other groups, so the cycle shows how they connect.
    """
    parent: dict[str, str] = {}
    todo = [start]
    while todo:
        nxt = []
        for node in todo:
            for t in edges[node]:
                if t not in within or (t == node and len(within) > 1):
                    continue  # outside, or a self-transfer: name the cycle through the other groups
                if t == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [start] + path[::-1][1:] + [start] if node != start else [start, start]
                if t not in parent:
                    parent[t] = node
                    nxt.append(t)
        todo = nxt
    return [start]  # unreachable: a closed set always holds a cycle through each of its groups
