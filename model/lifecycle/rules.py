"""What a contact's lifecycle depends on: the service's timeouts and policy, and who is in which target.

Also the names shared with scenario files: the ``agent:NAME`` transfer-target prefix and the
values of ``on_transfer_timeout``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from ..errors import TransferSimError

SimTime = float
"""Simulated time in seconds."""

OnTransferTimeout = Literal["abandon", "return"]
"""What ``transfer_timeout`` does (a service's ``on_transfer_timeout``)."""

TIMEOUT_POLICIES: tuple[str, ...] = get_args(OnTransferTimeout)
"""The values of ``on_transfer_timeout``: ``abandon`` (-> ``transfer_expired``) or ``return``."""

AGENT_PREFIX = "agent:"
"""A transfer target naming one agent is ``agent:NAME``; any other target is a group."""

RESERVED_DATA = frozenset({"machine", "model", "event", "transition", "state", "source", "target"})
"""Keywords python-statemachine injects into guards and actions; event data must not use them."""


def agent_target(agent: str) -> str:
    """The transfer-target name of a single agent (``agent:NAME``)."""
    return AGENT_PREFIX + agent


def is_agent_target(target: str) -> bool:
    """Whether ``target`` names one agent (``agent:NAME``) rather than a group."""
    return target.startswith(AGENT_PREFIX)


class EventNotAllowed(TransferSimError):
    """An event the lifecycle does not allow in the contact's current state (or whose guard
    fails). The contact is left unchanged."""

    def __init__(self, event: str, state: str, reason: str = "") -> None:
        self.event = event
        self.state = state
        self.reason = reason
        msg = f"event {event!r} is not allowed in state {state!r}"
        super().__init__(msg + (f": {reason}" if reason else ""))


@dataclass(frozen=True)
class TransferRules:
    """The settings a contact's lifecycle depends on (per service), and who is in which target.

    Args:
        transfer_timeout: seconds from ``request_transfer`` until ``transfer_timeout`` wins.
        dissuasion_timeout: seconds in ``queued`` until ``dissuade`` wins; ``None`` is off.
        on_transfer_timeout: one of :data:`TIMEOUT_POLICIES`.
        targets: transfer-target name -> agents in it. Groups by name (a group may be empty:
            nobody on shift), single agents as ``agent:NAME``; a single agent's target is
            implied for every agent listed anywhere; a group's name wins over that reading.
            ``None`` accepts any target and any agent (used where membership is unknown).
        is_available: whether an agent is online with a free slot now; ``None`` means always.
    """

    transfer_timeout: SimTime = 60.0
    dissuasion_timeout: SimTime | None = None
    on_transfer_timeout: OnTransferTimeout = "abandon"
    targets: Mapping[str, frozenset[str]] | None = None
    is_available: Callable[[str], bool] | None = field(default=None, compare=False)

    def members(self, target: str) -> frozenset[str] | None:
        """Agents of ``target``; ``None`` when membership is not tracked; empty if unknown (or a
        group with nobody in it: :meth:`knows` tells the two apart)."""
        if self.targets is None:
            return None
        if target in self.targets:  # a group's name wins over the agent:NAME reading
            return self.targets[target]
        if is_agent_target(target):
            agent = target[len(AGENT_PREFIX) :]
            if any(agent in m for m in self.targets.values()):
                return frozenset({agent})
        return frozenset()

    def knows(self, target: str) -> bool:
        """Whether ``target`` exists: a group, even one with nobody in it (a target exists all
        day, see LIFECYCLE.md "Staffing over the day"), or ``agent:NAME`` of an agent listed in
        some group; any target when membership is not tracked."""
        if self.targets is None or target in self.targets:
            return True
        if not isinstance(target, str) or not is_agent_target(target):
            return False
        agent = target[len(AGENT_PREFIX) :]
        return any(agent in m for m in self.targets.values())
