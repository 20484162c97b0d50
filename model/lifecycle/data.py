"""What a contact carries, and the lifecycle's guards and actions over it.

Guards are declared as ordered *clauses* (:class:`Clause`): a guard holds when every clause
holds, and the first clause that fails is the reason an event is refused. The clauses are the
one definition of each rule: the chart and its compiled form call the guards built from them,
the engine asks them which agents it may offer a transfer to, and the conformance suite derives
one coverage goal per clause from them.

Timers (:class:`Timer`) are declared here once with the deadline they read; their tie rule
(a timer due at an instant fires before any event sent at that instant, so an event at exactly
the deadline loses) lives in :meth:`Timer.reached` and nowhere else.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .rules import SimTime, TransferRules, agent_target


@dataclass(frozen=True)
class Timer:
    """A timer of the lifecycle: ``event`` fires once the contact has stayed in one of
    ``states`` until the deadline held in the contact's ``deadline`` attribute.

    ``states`` is filled in from the chart (the sources of ``event``'s transitions) by
    :data:`model.lifecycle.TIMERS`; the declarations here name the event and the deadline only.
    """

    event: str
    deadline: str
    label: str
    states: tuple[str, ...] = ()

    def deadline_of(self, data: ContactData) -> SimTime:
        """The contact's deadline for this timer (``inf`` when it is not running)."""
        return getattr(data, self.deadline)

    @cached_property
    def rule(self) -> Callable[[ContactData, SimTime], bool]:
        """The tie rule, as a bare function ``rule(data, now)`` (one call on the hot path): the
        timer has fired at ``now`` if ``now`` is at or after its deadline, so an event sent at
        exactly the deadline loses to it."""
        attr = self.deadline
        return lambda data, now: now >= getattr(data, attr)

    def reached(self, data: ContactData, now: SimTime) -> bool:
        """Whether the timer has fired at ``now`` (:attr:`rule`)."""
        return self.rule(data, now)

    def beats(self, data: ContactData, when: SimTime) -> bool:
        """Whether the timer fires before an event due at ``when`` (ties go to the timer)."""
        return self.rule(data, when)

    def is_due(self, data: ContactData, now: SimTime) -> bool:
        """Running (the contact is in one of :attr:`states`) and reached at ``now``."""
        return data.state in self.states and self.reached(data, now)


DISSUASION = Timer("dissuade", "dissuasion_deadline", "dissuasion timer")
"""Starts on arrival (service ``dissuasion_timeout``; off when unset)."""

TRANSFER = Timer("transfer_timeout", "transfer_deadline", "transfer timer")
"""Starts at ``request_transfer`` (service ``transfer_timeout``); not reset by offers or rejections."""

TIMER_DECLARATIONS: tuple[Timer, ...] = (DISSUASION, TRANSFER)


@dataclass(frozen=True)
class Clause:
    """One condition of a guard, in words and as a predicate ``test(data, value)``.

    ``value`` is the event's data item ``arg`` (``default`` when the event does not carry it):
    one positional value instead of the whole event data keeps a clause one cheap call on the
    simulation's hot path. ``over`` names the event-data list a clause quantifies over, if any.
    """

    guard: str
    text: str
    test: Callable[[ContactData, Any], bool]
    arg: str | None = None
    default: Any = None
    over: str | None = None

    def holds(self, data: ContactData, kwargs: Mapping[str, Any]) -> bool:
        """Whether the clause holds for ``data`` and an event carrying ``kwargs``."""
        return self.test(data, kwargs.get(self.arg, self.default))  # type: ignore[arg-type]


def _members_of_target(d: ContactData) -> frozenset[str] | None:
    return d.rules.members(d.target) if d.target is not None else None


# The per-agent conditions of an offer, once; the ``agents_are_eligible`` clauses quantify them
# over the agents offered, and :func:`may_be_offered` asks them for one agent.
def _has_not_rejected(d: ContactData, agent: str) -> bool:
    return agent not in d.rejected


def _in_target(d: ContactData, agent: str) -> bool:
    members = _members_of_target(d)
    return members is None or agent in members


def _is_available(d: ContactData, agent: str | None) -> bool:
    avail = d.rules.is_available
    return avail is None or avail(agent)  # type: ignore[arg-type]


def may_be_offered(d: ContactData, agent: str) -> bool:
    """Whether one ``agent`` may receive the offer of ``d``'s transfer now: it has not rejected
    this transfer, is in the target and is available (the per-agent clauses of ``offer``)."""
    return _has_not_rejected(d, agent) and _in_target(d, agent) and _is_available(d, agent)


def _each(per_agent: Callable[[ContactData, str], bool]) -> Callable[[ContactData, Any], bool]:
    return lambda d, agents: all(per_agent(d, a) for a in agents or ())


def _not_the_owner(d: ContactData, to: str | None) -> bool:
    return d.owner is None or to != agent_target(d.owner)


def _known_target(d: ContactData, to: str | None) -> bool:
    return d.rules.knows(to)  # type: ignore[arg-type]  # an empty group too: it exists all day


def _before(timer: Timer) -> Callable[[ContactData, Any], bool]:
    reached = timer.rule
    return lambda d, now: not reached(d, now)


CLAUSES: dict[str, tuple[Clause, ...]] = {
    g: tuple(Clause(g, *c) for c in clauses)
    for g, clauses in {
        "agent_is_free": (
            ("an agent is named", lambda d, agent: agent is not None, "agent"),
            ("the agent is available", _is_available, "agent"),
        ),
        "before_dissuasion_deadline": (("before the dissuasion deadline", _before(DISSUASION), "now", 0.0),),
        "dissuasion_due": (("the dissuasion deadline is reached", DISSUASION.rule, "now", 0.0),),
        "target_is_valid": (
            ("a target is named", lambda d, to: bool(to), "to"),
            ("the target is not the owner itself", _not_the_owner, "to"),
            ("the target is a known group or agent", _known_target, "to"),
        ),
        "agents_are_eligible": (
            ("at least one agent is named", lambda d, agents: bool(agents), "agents"),
            ("no agent has rejected this transfer", _each(_has_not_rejected), "agents", None, "agents"),
            ("every agent is in the target", _each(_in_target), "agents", None, "agents"),
            ("every agent is available", _each(_is_available), "agents", None, "agents"),
        ),
        "holds_offer": (
            ("the agent holds the offer", lambda d, agent: agent is not None and agent in d.offered, "agent"),
        ),
        "others_hold_offers": (
            ("another agent holds an offer", lambda d, agent: any(a != agent for a in d.offered), "agent"),
        ),
        "before_transfer_deadline": (("before the transfer deadline", _before(TRANSFER), "now", 0.0),),
        "transfer_due": (("the transfer deadline is reached", TRANSFER.rule, "now", 0.0),),
        "policy_abandon": (
            ('the service\'s on_transfer_timeout is "abandon"', lambda d, _: d.rules.on_transfer_timeout == "abandon"),
        ),
        "policy_return": (
            ('the service\'s on_transfer_timeout is "return"', lambda d, _: d.rules.on_transfer_timeout == "return"),
        ),
    }.items()
}
"""Every guard's clauses, in the order they are checked (the first failing one is the reason)."""


def failed_clause(guard: str, data: ContactData, kwargs: Mapping[str, Any]) -> Clause | None:
    """The first clause of ``guard`` that fails for ``data`` and the event's ``kwargs``."""
    for clause in CLAUSES[guard]:
        if not clause.holds(data, kwargs):
            return clause
    return None


def _guard(name: str) -> Callable[..., bool]:
    """The guard method the chart calls, built from its clauses."""
    clauses = CLAUSES[name]
    tests = tuple((c.test, c.arg, c.default) for c in clauses)

    def guard(self: ContactData, **kwargs: Any) -> bool:
        for test, arg, default in tests:
            if not test(self, kwargs.get(arg, default)):
                return False
        return True

    guard.__name__ = guard.__qualname__ = name
    guard.__doc__ = "Guard: " + "; ".join(c.text for c in clauses) + "."
    return guard


class ContactData:
    """What a contact carries, and the guards and actions of the lifecycle over it.

    The transfer target travels in event data as ``to`` (python-statemachine reserves the
    keyword ``target`` for the transition's target state); :class:`~model.lifecycle.Contact`
    also accepts LIFECYCLE.md's ``target`` and renames it.

    Guards (built from :data:`CLAUSES`) are pure predicates over this data and the event's
    data; actions change it. Both the chart and its compiled form call these same methods.
    """

    __slots__ = (
        "chart_state",
        "rules",
        "now",
        "owner",
        "requester",
        "target",
        "message",
        "offered",
        "rejected",
        "transfer_count",
        "transfer_requested_at",
        "transfer_deadline",
        "dissuasion_deadline",
        "offers_made",
        "rejects",
    )

    def __init__(self, rules: TransferRules | None = None, now: SimTime = 0.0) -> None:
        self.chart_state: Any = "queued"
        self.rules = rules if rules is not None else TransferRules()
        self.now: SimTime = now
        self.owner: str | None = None
        self.requester: str | None = None
        self.target: str | None = None
        self.message: str | None = None
        self.offered: set[str] = set()
        self.rejected: set[str] = set()
        self.transfer_count = 0
        self.transfer_requested_at: SimTime | None = None
        self.transfer_deadline: SimTime = math.inf
        dt = self.rules.dissuasion_timeout
        self.dissuasion_deadline: SimTime = math.inf if dt is None else now + dt
        self.offers_made = 0
        self.rejects = 0

    @property
    def state(self) -> str:
        """The leaf state (``routing``/``offered`` inside ``transferring``)."""
        value = self.chart_state
        if isinstance(value, str):
            return value
        return list(value)[-1]

    @property
    def is_final(self) -> bool:
        """Whether the contact has reached a final state."""
        from .chart import FINAL_STATES

        return self.state in FINAL_STATES

    # -- guards (from CLAUSES) ------------------------------------------------------------
    agent_is_free = _guard("agent_is_free")
    before_dissuasion_deadline = _guard("before_dissuasion_deadline")
    dissuasion_due = _guard("dissuasion_due")
    target_is_valid = _guard("target_is_valid")
    agents_are_eligible = _guard("agents_are_eligible")
    holds_offer = _guard("holds_offer")
    others_hold_offers = _guard("others_hold_offers")
    before_transfer_deadline = _guard("before_transfer_deadline")
    transfer_due = _guard("transfer_due")
    policy_abandon = _guard("policy_abandon")
    policy_return = _guard("policy_return")

    # -- actions ------------------------------------------------------------------------
    def take_owner(self, agent: str | None = None, **_: Any) -> None:
        """``assign``: the agent becomes the owner."""
        self.owner = agent

    def release_owner(self, **_: Any) -> None:
        """``close``/``customer_leave``: the conversation ends; offers are withdrawn."""
        self.owner = None
        self.offered.clear()

    def start_transfer(
        self, to: str | None = None, message: str | None = None, now: SimTime = 0.0, **_: Any
    ) -> None:
        """``request_transfer``: the owner's slot is freed and the transfer timer starts."""
        self.requester = self.owner
        self.owner = None
        self.target = to
        self.message = message
        self.offered.clear()
        self.rejected.clear()
        self.transfer_requested_at = now
        self.transfer_deadline = now + self.rules.transfer_timeout

    def make_offer(self, agents: Iterable[str] | None = None, **_: Any) -> None:
        """``offer``: the request enters these agents' waiting areas."""
        new = set(agents or ())
        self.offers_made += len(new - self.offered)
        self.offered |= new

    def join(self, agent: str | None = None, **_: Any) -> None:
        """``accept``: the agent owns the contact; other offers are withdrawn; count grows."""
        self.owner = agent
        self.offered.clear()
        self.transfer_count += 1
        self.transfer_deadline = math.inf

    def exclude(self, agent: str | None = None, **_: Any) -> None:
        """``reject``: the agent is excluded from this transfer; all offers are withdrawn."""
        self.rejected.add(agent)  # type: ignore[arg-type]
        self.rejects += 1
        self.offered.clear()

    def withdraw_offer(self, agent: str | None = None, **_: Any) -> None:
        """``withdraw``: the agent's shift ended; its offer alone leaves its waiting area (it is
        not excluded, unlike ``reject``; the transfer timer runs on)."""
        self.offered.discard(agent)  # type: ignore[arg-type]

    def withdraw_offers(self, **_: Any) -> None:
        """``offer_timeout``/timer end: offers leave the waiting areas."""
        self.offered.clear()

    def give_back(self, **_: Any) -> None:
        """``transfer_timeout`` with policy ``return``: back to the requesting agent."""
        self.owner = self.requester
        self.offered.clear()
        self.transfer_deadline = math.inf
