"""The contact-transfer lifecycle of LIFECYCLE.md as a ``python-statemachine`` StateChart, and
everything other modules need to know about it, read from the chart class itself.

:data:`STATES`, :data:`FINAL_STATES`, :data:`TRANSFERRING`, :data:`EVENTS`, :data:`TIMERS`,
:data:`TIMER_EVENTS` and the transition table (:func:`transitions`, :func:`candidates`) are
derived from :class:`TransferLifecycle`; none is typed by hand. Adding a state, an event or a
transition to the chart updates all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from statemachine import State, StateChart

from .data import CLAUSES, TIMER_DECLARATIONS, Clause, Timer


class TransferLifecycle(StateChart):
    """The contact-transfer lifecycle of LIFECYCLE.md.

    Build it over a :class:`~model.lifecycle.ContactData` (``TransferLifecycle(model=data)``):
    guards and actions are looked up on that model. Events that are not allowed raise
    :class:`~statemachine.exceptions.TransitionNotAllowed` instead of being ignored.
    """

    allow_event_without_transition = False  # a refused event raises instead of passing
    catch_errors_as_events = False

    queued = State(initial=True)
    engaged = State()

    class transferring(State.Compound):
        routing = State(initial=True)
        offered = State()

    completed = State(final=True)
    abandoned_queue = State(final=True)
    dissuaded = State(final=True)
    abandoned_transfer = State(final=True)
    transfer_expired = State(final=True)

    assign = queued.to(engaged, cond=["agent_is_free", "before_dissuasion_deadline"], on="take_owner")
    close = engaged.to(completed, on="release_owner")
    customer_leave = (
        queued.to(abandoned_queue)
        | engaged.to(completed, on="release_owner")
        | transferring.to(abandoned_transfer, on="withdraw_offers")
    )
    dissuade = queued.to(dissuaded, cond="dissuasion_due")
    request_transfer = engaged.to(transferring, cond="target_is_valid", on="start_transfer")
    offer = transferring.routing.to(transferring.offered, cond="agents_are_eligible", on="make_offer")
    accept = transferring.offered.to(engaged, cond=["holds_offer", "before_transfer_deadline"], on="join")
    reject = transferring.offered.to(transferring.routing, cond="holds_offer", on="exclude")
    offer_timeout = transferring.offered.to(transferring.routing, cond="holds_offer", on="withdraw_offers")
    withdraw = transferring.offered.to(
        transferring.offered, cond=["holds_offer", "others_hold_offers"], on="withdraw_offer"
    ) | transferring.offered.to(transferring.routing, cond="holds_offer", on="withdraw_offer")
    transfer_timeout = transferring.to(
        transfer_expired, cond=["transfer_due", "policy_abandon"], on="withdraw_offers"
    ) | transferring.to(engaged, cond=["transfer_due", "policy_return"], on="give_back")


# --------------------------------------------------------------------------------------
# The chart as data
# --------------------------------------------------------------------------------------

_STATES = TransferLifecycle.states_map


def _leaves(state_id: str) -> tuple[str, ...]:
    """The leaf states of ``state_id`` (itself when it is not compound), in document order."""
    state = _STATES[state_id]
    if not state.is_compound:
        return (state.id,)
    return tuple(leaf for child in state.states for leaf in _leaves(child.id))


def _entered(state: State) -> State:
    while state.is_compound:
        state = next(s for s in state.states if s.initial)
    return state


STATES: tuple[str, ...] = tuple(s.id for s in _STATES.values() if not s.is_compound)
"""Leaf states in document order, as they appear in the event log."""

INITIAL_STATE: str = _entered(next(s for s in _STATES.values() if s.initial and s.parent is None)).id
"""The state a contact is in on arrival."""

FINAL_STATES: tuple[str, ...] = tuple(s.id for s in _STATES.values() if s.final)
"""The states a contact ends in (each is one of LIFECYCLE's outcomes), in document order."""

TRANSFERRING: tuple[str, ...] = _leaves("transferring")
"""The leaves of the compound ``transferring``: a transfer is under way in these states."""

EVENTS: tuple[str, ...] = tuple(e.id for e in TransferLifecycle.events)
"""Every event of the chart, in declaration order (the class declares them in the order of
LIFECYCLE.md's narrative: a contact's events from arrival to the end of a transfer)."""


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

    @property
    def label(self) -> str:
        """``source --event--> target``."""
        return f"{self.source} --{self.event}--> {self.target}"


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
                        target=_entered(t.target).id,
                        guards=tuple(c.attr_name for c in t.cond),
                        actions=tuple(c.attr_name for c in t.on if not c.is_convention),
                    )
                )
    return rows


def transition_table(chart: type[StateChart] = TransferLifecycle) -> dict[str, dict[str, tuple[Transition, ...]]]:
    """``leaf state -> event -> candidate rows``, in the order the chart tries them: the leaf's
    own transitions before its ancestors', each in document order; the first whose guards all
    hold is taken."""
    depth = {s.id: len(list(s.ancestors())) for s in chart.states_map.values()}
    leaves = {s.id: [x.id for x in chart.states_map.values() if not x.is_compound and (x is s or s in x.ancestors())]
              for s in chart.states_map.values()}
    table: dict[str, dict[str, list[Transition]]] = {s.id: {} for s in chart.states_map.values() if not s.is_compound}
    for row in sorted(transitions(chart), key=lambda r: -depth[r.source]):  # stable: document order
        for leaf in leaves[row.source]:
            table[leaf].setdefault(row.event, []).append(row)
    return {s: {e: tuple(rows) for e, rows in by_event.items()} for s, by_event in table.items()}


TABLE: dict[str, dict[str, tuple[Transition, ...]]] = transition_table()
"""The transition table of :class:`TransferLifecycle` (see :func:`transition_table`)."""


def candidates(state: str, event: str) -> tuple[Transition, ...]:
    """The rows ``event`` may take out of leaf ``state``, in the order they are tried (empty:
    the event is refused in that state whatever its data)."""
    return TABLE[state].get(event, ())


def allowed_events(state: str) -> frozenset[str]:
    """Events with at least one transition out of leaf ``state`` (guards not evaluated)."""
    return frozenset(TABLE[state])


GUARDS: tuple[str, ...] = tuple(dict.fromkeys(g for row in transitions() for g in row.guards))
"""Every guard the chart uses, in document order; each is declared by its clauses in
:data:`~model.lifecycle.CLAUSES`."""

TIMERS: dict[str, Timer] = {
    t.event: replace(t, states=tuple(dict.fromkeys(leaf for row in transitions() if row.event == t.event
                                                  for leaf in _leaves(row.source))))
    for t in TIMER_DECLARATIONS
}
"""The timers, by event: the deadline each reads and the leaf states it runs in (derived from
the sources of its transitions)."""

TIMER_EVENTS: frozenset[str] = frozenset(TIMERS)


def due_timer(data: object, now: float) -> Timer | None:
    """The timer due at or before ``now`` in ``data``'s state (the earliest deadline first)."""
    due = [t for t in TIMERS.values() if t.is_due(data, now)]  # type: ignore[arg-type]
    return min(due, key=lambda t: t.deadline_of(data)) if due else None  # type: ignore[arg-type]


@lru_cache(maxsize=None)
def racing_events(timer: Timer) -> tuple[str, ...]:
    """The events that can happen while ``timer`` runs, other than the timer itself: the ones
    its tie rule decides against at the deadline instant (in :data:`EVENTS` order)."""
    return tuple(e for e in EVENTS if e != timer.event and any(e in TABLE[s] for s in timer.states))


def _check_clauses() -> None:
    missing = [g for g in GUARDS if g not in CLAUSES]
    if missing:
        raise ImportError(f"the chart uses guards with no clauses declared in model.lifecycle.data.CLAUSES: {missing}")
    unknown = [t.event for t in TIMER_DECLARATIONS if t.event not in EVENTS]
    if unknown:
        raise ImportError(f"timers declared for events the chart does not have: {unknown}")


_check_clauses()

__all__ = [
    "TransferLifecycle", "STATES", "INITIAL_STATE", "FINAL_STATES", "TRANSFERRING", "EVENTS", "Transition",
    "transitions", "transition_table", "TABLE", "candidates", "allowed_events", "GUARDS", "TIMERS",
    "TIMER_EVENTS", "due_timer", "racing_events", "Clause",
]
