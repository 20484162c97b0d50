"""The contact-transfer lifecycle of LIFECYCLE.md, as one formal statechart.

Only this module knows which transitions exist. Three things live here:

* :class:`ContactData`: what a contact carries (owner, offers, rejections, transfer count,
  message, deadlines) together with the *guards* and *actions* of the lifecycle, as plain
  methods. They are the single definition of the rules.
* :class:`TransferLifecycle`: the ``python-statemachine`` ``StateChart`` that wires states and
  events to those guards and actions. It is the formal definition that is drawn, tabulated and
  used as the reference model.
* :class:`CompiledLifecycle`: the same chart flattened once into a lookup table (derived from
  the class, never written by hand) for the simulation's hot path, where building one
  ``StateChart`` per contact would cost far more than the simulation itself. Tests prove the
  two equivalent.

Time is the simulation's (seconds, a float) and travels with every event as ``now``; there are
no wall-clock timers. Timers are explicit events (``transfer_timeout``, ``dissuade``) fired by
whoever owns the clock; :class:`Contact` fires the ones that are due before any event sent at
the same instant, which is how the tie rule (``accept`` at exactly the deadline loses) is
enforced by the model itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from statemachine import State, StateChart
from statemachine.exceptions import TransitionNotAllowed

from .errors import TransferSimError

SimTime = float
"""Simulated time in seconds."""

OnTransferTimeout = Literal["abandon", "return"]

STATES: tuple[str, ...] = (
    "queued",
    "engaged",
    "routing",
    "offered",
    "completed",
    "abandoned_queue",
    "dissuaded",
    "abandoned_transfer",
    "transfer_expired",
)
"""Leaf states, as they appear in the event log (``routing`` and ``offered`` are the children of
the compound ``transferring``)."""

FINAL_STATES: frozenset[str] = frozenset(
    {"completed", "abandoned_queue", "dissuaded", "abandoned_transfer", "transfer_expired"}
)
TRANSFERRING: frozenset[str] = frozenset({"routing", "offered"})

EVENTS: tuple[str, ...] = (
    "assign",
    "close",
    "customer_leave",
    "dissuade",
    "request_transfer",
    "offer",
    "accept",
    "reject",
    "offer_timeout",
    "transfer_timeout",
)
TIMER_EVENTS: frozenset[str] = frozenset({"dissuade", "transfer_timeout"})

AGENT_PREFIX = "agent:"

RESERVED_DATA = frozenset({"machine", "model", "event", "transition", "state", "source", "target"})
"""Keywords python-statemachine injects into guards and actions; event data must not use them."""


def agent_target(agent: str) -> str:
    """The transfer-target name of a single agent (``agent:NAME``)."""
    return AGENT_PREFIX + agent


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
        on_transfer_timeout: ``"abandon"`` (-> ``transfer_expired``) or ``"return"`` (back to
            ``engaged`` with the requesting agent).
        targets: transfer-target name -> agents in it. Groups by name, single agents as
            ``agent:NAME``; a single agent's target is implied for every agent listed anywhere.
            ``None`` accepts any target and any agent (used where membership is unknown).
        is_available: whether an agent is online with a free slot now; ``None`` means always.
    """

    transfer_timeout: SimTime = 60.0
    dissuasion_timeout: SimTime | None = None
    on_transfer_timeout: OnTransferTimeout = "abandon"
    targets: Mapping[str, frozenset[str]] | None = None
    is_available: Callable[[str], bool] | None = field(default=None, compare=False)

    def members(self, target: str) -> frozenset[str] | None:
        """Agents of ``target``; ``None`` when membership is not tracked; empty if unknown."""
        if self.targets is None:
            return None
        if target in self.targets:
            return self.targets[target]
        if target.startswith(AGENT_PREFIX):
            agent = target[len(AGENT_PREFIX) :]
            if any(agent in m for m in self.targets.values()):
                return frozenset({agent})
        return frozenset()


class ContactData:
    """What a contact carries, and the guards and actions of the lifecycle over it.

    The transfer target travels in event data as ``to`` (python-statemachine reserves the
    keyword ``target`` for the transition's target state); :class:`Contact` also accepts
    LIFECYCLE.md's ``target`` and renames it.

    Guards are pure predicates over this data and the event's data; actions change it. Both
    the :class:`TransferLifecycle` chart and :class:`CompiledLifecycle` call these same methods.
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
        return self.state in FINAL_STATES

    # -- guards -------------------------------------------------------------------------
    def agent_is_free(self, agent: str | None = None, **_: Any) -> bool:
        """``assign``: an agent is named and has a free slot."""
        if agent is None:
            return False
        avail = self.rules.is_available
        return avail is None or avail(agent)

    def before_dissuasion_deadline(self, now: SimTime = 0.0, **_: Any) -> bool:
        """``assign`` loses to the dissuasion timer at exactly its deadline."""
        return now < self.dissuasion_deadline

    def dissuasion_due(self, now: SimTime = 0.0, **_: Any) -> bool:
        """``dissuade`` fires only at or after the dissuasion deadline."""
        return now >= self.dissuasion_deadline

    def target_is_valid(self, to: str | None = None, **_: Any) -> bool:
        """``request_transfer``: the target exists and is not the owner itself."""
        target = to
        if not target:
            return False
        if self.owner is not None and target == agent_target(self.owner):
            return False
        members = self.rules.members(target)
        return members is None or len(members) > 0

    def agents_are_eligible(self, agents: Iterable[str] | None = None, **_: Any) -> bool:
        """``offer``: at least one agent; each in the target, available, not having rejected."""
        if not agents:
            return False
        agents = list(agents)
        members = self.rules.members(self.target) if self.target is not None else None
        avail = self.rules.is_available
        for a in agents:
            if a in self.rejected:
                return False
            if members is not None and a not in members:
                return False
            if avail is not None and not avail(a):
                return False
        return True

    def holds_offer(self, agent: str | None = None, **_: Any) -> bool:
        """``accept``/``reject``/``offer_timeout``: the agent holds the offer now."""
        return agent is not None and agent in self.offered

    def before_transfer_deadline(self, now: SimTime = 0.0, **_: Any) -> bool:
        """``accept`` joins only strictly before ``request time + transfer_timeout``."""
        return now < self.transfer_deadline

    def transfer_due(self, now: SimTime = 0.0, **_: Any) -> bool:
        """``transfer_timeout`` fires only at or after the transfer deadline."""
        return now >= self.transfer_deadline

    def policy_abandon(self, **_: Any) -> bool:
        """Service policy ``on_transfer_timeout = "abandon"``."""
        return self.rules.on_transfer_timeout == "abandon"

    def policy_return(self, **_: Any) -> bool:
        """Service policy ``on_transfer_timeout = "return"``."""
        return self.rules.on_transfer_timeout == "return"

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


def _guards(*names: str) -> list[str]:
    return list(names)


class TransferLifecycle(StateChart):
    """The contact-transfer lifecycle of LIFECYCLE.md.

    Build it over a :class:`ContactData` (``TransferLifecycle(model=data)``): guards and actions
    are looked up on that model. Events that are not allowed raise
    :class:`~statemachine.exceptions.TransitionNotAllowed` instead of being ignored.
    """

    allow_event_without_transition = False  # a refused event raises instead of passing
    catch_errors_as_events = False

    queued = State(initial=True)
    engaged = State()

    class transferring(State.Compound):
        routing = State(initial=True)
        offered = State()

        offer = routing.to(offered, cond="agents_are_eligible", on="make_offer")
        reject = offered.to(routing, cond="holds_offer", on="exclude")
        offer_timeout = offered.to(routing, cond="holds_offer", on="withdraw_offers")

    completed = State(final=True)
    abandoned_queue = State(final=True)
    dissuaded = State(final=True)
    abandoned_transfer = State(final=True)
    transfer_expired = State(final=True)

    assign = queued.to(
        engaged, cond=_guards("agent_is_free", "before_dissuasion_deadline"), on="take_owner"
    )
    close = engaged.to(completed, on="release_owner")
    customer_leave = (
        queued.to(abandoned_queue)
        | engaged.to(completed, on="release_owner")
        | transferring.to(abandoned_transfer, on="withdraw_offers")
    )
    accept = transferring.offered.to(
        engaged, cond=_guards("holds_offer", "before_transfer_deadline"), on="join"
    )
    dissuade = queued.to(dissuaded, cond="dissuasion_due")
    request_transfer = engaged.to(transferring, cond="target_is_valid", on="start_transfer")
    transfer_timeout = transferring.to(
        transfer_expired, cond=_guards("transfer_due", "policy_abandon"), on="withdraw_offers"
    ) | transferring.to(engaged, cond=_guards("transfer_due", "policy_return"), on="give_back")


# --------------------------------------------------------------------------------------
# The chart as data, and its compiled form
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    """One row of the lifecycle: ``event`` takes ``source`` to ``target`` when every guard holds.

    ``source`` may be the compound ``transferring`` (then it applies to both children);
    ``target`` is the leaf entered (``routing`` for ``transferring``).
    """

    source: str
    event: str
    target: str
    guards: tuple[str, ...]
    actions: tuple[str, ...]


def _leaf(state: State) -> State:
    while state.is_compound:
        state = next(s for s in state.states if s.initial)
    return state


def transitions(chart: type[StateChart] = TransferLifecycle) -> list[Transition]:
    """Every transition declared on ``chart``, in document order (derived, never restated)."""
    rows: list[Transition] = []
    for state in chart.states_map.values():
        for t in state.transitions:
            if not t.event:  # the compound's initial pseudo-transition
                continue
            for event in t.event.split():
                rows.append(
                    Transition(
                        source=state.id,
                        event=event,
                        target=_leaf(t.target).id,
                        guards=tuple(c.attr_name for c in t.cond),
                        actions=tuple(c.attr_name for c in t.on if not c.is_convention),
                    )
                )
    return rows


def _leaves_of(chart: type[StateChart], state_id: str) -> list[str]:
    state = chart.states_map[state_id]
    if not state.is_compound:
        return [state.id]
    return [leaf for child in state.states for leaf in _leaves_of(chart, child.id)]


class CompiledLifecycle:
    """The chart flattened into ``(leaf state, event) -> candidate transitions``.

    Candidates are ordered as the chart selects them: transitions of the leaf itself before those
    of its ancestors, each in document order; the first whose guards all hold is taken. Guards
    and actions are the very :class:`ContactData` methods the chart calls.
    """

    def __init__(self, chart: type[StateChart] = TransferLifecycle) -> None:
        self.chart = chart
        self.rows = transitions(chart)
        table: dict[str, dict[str, list[tuple[str, tuple[Callable[..., bool], ...], tuple[Callable[..., None], ...]]]]] = {
            s: {} for s in STATES
        }
        depth = {s.id: len(list(s.ancestors())) for s in chart.states_map.values()}
        for row in sorted(self.rows, key=lambda r: -depth[r.source]):
            guards = tuple(getattr(ContactData, g) for g in row.guards)
            actions = tuple(getattr(ContactData, a) for a in row.actions)
            for leaf in _leaves_of(chart, row.source):
                table[leaf].setdefault(row.event, []).append((row.target, guards, actions))
        self.table = table

    def allowed(self, state: str) -> frozenset[str]:
        """Events with at least one transition out of ``state`` (guards not evaluated)."""
        return frozenset(self.table[state])

    def send(self, data: ContactData, event: str, /, **kwargs: Any) -> str:
        """Take ``event`` on ``data``; return the new leaf state or raise :class:`EventNotAllowed`."""
        state = data.state
        candidates = self.table[state].get(event)
        if candidates is None:
            raise EventNotAllowed(event, state, "no transition")
        for target, guards, actions in candidates:
            for g in guards:
                if not g(data, **kwargs):
                    break
            else:
                for a in actions:
                    a(data, **kwargs)
                data.chart_state = target
                return target
        raise EventNotAllowed(event, state, refusal_reason(data, event, kwargs, candidates))


def refusal_reason(
    data: ContactData,
    event: str,
    kwargs: Mapping[str, Any],
    candidates: list[tuple[str, tuple[Callable[..., bool], ...], Any]] | None = None,
) -> str:
    """Name the guards that failed for ``event`` (for error messages)."""
    if candidates is None:
        candidates = COMPILED.table[data.state].get(event)
        if candidates is None:
            return "no transition"
    failed = sorted({g.__name__ for _, guards, _ in candidates for g in guards if not g(data, **kwargs)})
    return "guard failed: " + ", ".join(failed) if failed else "guard failed"


COMPILED = CompiledLifecycle()
"""The compiled form of :class:`TransferLifecycle`, built once at import."""


class Contact:
    """One contact driven through the lifecycle on a virtual clock.

    ``send(event, now=t, **data)`` first moves the clock to ``t``, firing any timer due at or
    before ``t`` (timers due at an instant fire before events sent at that instant), then takes
    the event. A refused event raises :class:`EventNotAllowed` and changes nothing.

    Args:
        rules: the service's timeouts, policy and target membership.
        now: the arrival time (the dissuasion timer starts here).
        engine: ``"chart"`` runs the python-statemachine ``StateChart`` (the formal reference);
            ``"compiled"`` runs :data:`COMPILED`; both give the same behaviour.
        auto_timers: fire due timers on ``advance``/``send`` (off when the driver sends timer
            events itself, as the simulation does).
    """

    def __init__(
        self,
        rules: TransferRules | None = None,
        now: SimTime = 0.0,
        engine: Literal["chart", "compiled"] = "chart",
        auto_timers: bool = True,
    ) -> None:
        self.data = ContactData(rules, now)
        self.data.now = now
        self.auto_timers = auto_timers
        self.engine = engine
        self._chart = (
            TransferLifecycle(model=self.data, state_field="chart_state") if engine == "chart" else None
        )

    # read-only views of the data
    @property
    def state(self) -> str:
        return self.data.state

    @property
    def now(self) -> SimTime:
        return self.data.now

    def due_timer(self, now: SimTime) -> str | None:
        """The timer event due at or before ``now`` in the current state, if any."""
        d = self.data
        state = d.state
        if state == "queued" and d.dissuasion_deadline <= now:
            return "dissuade"
        if state in TRANSFERRING and d.transfer_deadline <= now:
            return "transfer_timeout"
        return None

    def advance(self, now: SimTime) -> list[tuple[SimTime, str]]:
        """Move the clock to ``now``; return the timer events fired, with their times."""
        if now < self.data.now:
            raise ValueError(f"time cannot go back: {now} < {self.data.now}")
        fired: list[tuple[SimTime, str]] = []
        if self.auto_timers:
            while (timer := self.due_timer(now)) is not None:
                at = self.data.dissuasion_deadline if timer == "dissuade" else self.data.transfer_deadline
                self.data.now = at
                self._take(timer, {"now": at})
                fired.append((at, timer))
        self.data.now = now
        return fired

    def send(self, event: str, now: SimTime | None = None, **data: Any) -> str:
        """Advance to ``now`` (default: the current time), then take ``event``; return the state."""
        if now is not None:
            self.advance(now)
        data["now"] = self.data.now
        return self._take(event, data)

    def _take(self, event: str, data: dict[str, Any]) -> str:
        if "target" in data:
            data["to"] = data.pop("target")
        reserved = RESERVED_DATA & data.keys()
        if reserved:
            raise ValueError(f"event data may not use the names {sorted(reserved)} (reserved by the statechart)")
        if event not in EVENTS:
            raise EventNotAllowed(event, self.state, f"unknown event; events are {', '.join(EVENTS)}")
        if self._chart is None:
            return COMPILED.send(self.data, event, **data)
        try:
            self._chart.send(event, **data)
        except TransitionNotAllowed:
            raise EventNotAllowed(event, self.state, refusal_reason(self.data, event, data)) from None
        return self.state
