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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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

    def reached(self, data: ContactData, now: SimTime) -> bool:
        """The tie rule: at ``now`` the timer has fired if ``now`` is at or after its deadline,
        so an event sent at exactly the deadline loses to it."""
        return now >= getattr(data, self.deadline)

    def beats(self, data: ContactData, when: SimTime) -> bool:
        """Whether the timer fires before an event due at ``when`` (ties go to the timer)."""
        return getattr(data, self.deadline) <= when

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
    """One condition of a guard, in words and as a predicate over the contact and event data.

    ``over`` names the event-data list a clause quantifies over (``"agents"``), if any.
    """

    guard: str
    text: str
    test: Callable[..., bool]
    over: str | None = None


def _members_of_target(d: ContactData) -> frozenset[str] | None:
    return d.rules.members(d.target) if d.target is not None else None


def may_be_offered(d: ContactData, agent: str) -> bool:
    """Whether one ``agent`` may receive the offer of ``d``'s transfer now: in the target,
    available, and not having rejected this transfer (the per-agent clauses of ``offer``)."""
    if agent in d.rejected:
        return False
    members = _members_of_target(d)
    if members is not None and agent not in members:
        return False
    avail = d.rules.is_available
    return avail is None or avail(agent)


def _agent_available(d: ContactData, agent: str | None = None, **_: Any) -> bool:
    avail = d.rules.is_available
    return avail is None or avail(agent)  # type: ignore[arg-type]


def _not_the_owner(d: ContactData, to: str | None = None, **_: Any) -> bool:
    return d.owner is None or to != agent_target(d.owner)


def _known_target(d: ContactData, to: str | None = None, **_: Any) -> bool:
    members = d.rules.members(to)  # type: ignore[arg-type]
    return members is None or len(members) > 0


def _none_rejected(d: ContactData, agents: Iterable[str] | None = None, **_: Any) -> bool:
    return not any(a in d.rejected for a in agents or ())


def _all_in_target(d: ContactData, agents: Iterable[str] | None = None, **_: Any) -> bool:
    members = _members_of_target(d)
    return members is None or all(a in members for a in agents or ())


def _all_available(d: ContactData, agents: Iterable[str] | None = None, **_: Any) -> bool:
    avail = d.rules.is_available
    return avail is None or all(avail(a) for a in agents or ())


CLAUSES: dict[str, tuple[Clause, ...]] = {
    g: tuple(Clause(g, *c) for c in clauses)
    for g, clauses in {
        "agent_is_free": (
            ("an agent is named", lambda d, agent=None, **_: agent is not None),
            ("the agent is available", _agent_available),
        ),
        "before_dissuasion_deadline": (
            ("before the dissuasion deadline", lambda d, now=0.0, **_: not DISSUASION.reached(d, now)),
        ),
        "dissuasion_due": (("the dissuasion deadline is reached", lambda d, now=0.0, **_: DISSUASION.reached(d, now)),),
        "target_is_valid": (
            ("a target is named", lambda d, to=None, **_: bool(to)),
            ("the target is not the owner itself", _not_the_owner),
            ("the target is a known group or agent", _known_target),
        ),
        "agents_are_eligible": (
            ("at least one agent is named", lambda d, agents=None, **_: bool(agents)),
            ("no agent has rejected this transfer", _none_rejected, "agents"),
            ("every agent is in the target", _all_in_target, "agents"),
            ("every agent is available", _all_available, "agents"),
        ),
        "holds_offer": (
            ("the agent holds the offer", lambda d, agent=None, **_: agent is not None and agent in d.offered),
        ),
        "before_transfer_deadline": (
            ("before the transfer deadline", lambda d, now=0.0, **_: not TRANSFER.reached(d, now)),
        ),
        "transfer_due": (("the transfer deadline is reached", lambda d, now=0.0, **_: TRANSFER.reached(d, now)),),
        "policy_abandon": (
            ('the service\'s on_transfer_timeout is "abandon"', lambda d, **_: d.rules.on_transfer_timeout == "abandon"),
        ),
        "policy_return": (
            ('the service\'s on_transfer_timeout is "return"', lambda d, **_: d.rules.on_transfer_timeout == "return"),
        ),
    }.items()
}
"""Every guard's clauses, in the order they are checked (the first failing one is the reason)."""


def failed_clause(guard: str, data: ContactData, kwargs: dict[str, Any]) -> Clause | None:
    """The first clause of ``guard`` that fails for ``data`` and the event's ``kwargs``."""
    for clause in CLAUSES[guard]:
        if not clause.test(data, **kwargs):
            return clause
    return None


def _guard(name: str) -> Callable[..., bool]:
    """The guard method built from its clauses (one predicate when it has only one)."""
    tests = tuple(c.test for c in CLAUSES[name])
    if len(tests) == 1:
        only = tests[0]

        def guard(self: ContactData, **kwargs: Any) -> bool:
            return only(self, **kwargs)
    else:

        def guard(self: ContactData, **kwargs: Any) -> bool:
            for test in tests:
                if not test(self, **kwargs):
                    return False
            return True

    guard.__name__ = guard.__qualname__ = name
    guard.__doc__ = "Guard: " + "; ".join(c.text for c in CLAUSES[name]) + "."
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

    def withdraw_offers(self, **_: Any) -> None:
        """``offer_timeout``/timer end: offers leave the waiting areas."""
        self.offered.clear()

    def give_back(self, **_: Any) -> None:
        """``transfer_timeout`` with policy ``return``: back to the requesting agent."""
        self.owner = self.requester
        self.offered.clear()
        self.transfer_deadline = math.inf
