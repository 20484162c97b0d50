"""The contact-transfer lifecycle of LIFECYCLE.md, as one formal statechart: the single owner
of what the simulation, the drawn documentation and the conformance suite know about it.

* :mod:`.rules`: the settings a lifecycle depends on (:class:`TransferRules`), the ``agent:``
  target prefix, the timeout policies, :class:`EventNotAllowed`.
* :mod:`.data`: what a contact carries (:class:`ContactData`), the guards as ordered clauses
  (:data:`CLAUSES`), the actions, and the timers with their tie rule (:class:`Timer`).
* :mod:`.chart`: :class:`TransferLifecycle`, the ``python-statemachine`` StateChart, and what is
  derived from it: states, final states, events, timers, the transition table.
* :mod:`.compiled`: the chart flattened for the simulation's hot path (:data:`COMPILED`).
* :mod:`.contact`: :class:`Contact`, one contact on a virtual clock (the reference model).

Time is the simulation's (seconds, a float) and travels with every event as ``now``; there are
no wall-clock timers. Timers are explicit events fired by whoever owns the clock; a timer due at
an instant fires before any event sent at that instant (:meth:`Timer.reached`).
"""

from .chart import (
    EVENTS,
    FINAL_STATES,
    GUARDS,
    INITIAL_STATE,
    STATES,
    TABLE,
    TIMER_EVENTS,
    TIMERS,
    TRANSFERRING,
    TransferLifecycle,
    Transition,
    allowed_events,
    candidates,
    due_timer,
    racing_events,
    transition_table,
    transitions,
)
from .compiled import COMPILED, CompiledLifecycle, refusal_reason
from .contact import Contact
from .data import CLAUSES, DISSUASION, TRANSFER, Clause, ContactData, Timer, failed_clause, may_be_offered
from .rules import (
    AGENT_PREFIX,
    RESERVED_DATA,
    TIMEOUT_POLICIES,
    EventNotAllowed,
    OnTransferTimeout,
    SimTime,
    TransferRules,
    agent_target,
    is_agent_target,
)

__all__ = [
    "AGENT_PREFIX", "CLAUSES", "COMPILED", "DISSUASION", "EVENTS", "FINAL_STATES", "GUARDS", "INITIAL_STATE",
    "RESERVED_DATA", "STATES", "TABLE", "TIMEOUT_POLICIES", "TIMERS", "TIMER_EVENTS", "TRANSFER", "TRANSFERRING",
    "Clause", "CompiledLifecycle", "Contact", "ContactData", "EventNotAllowed", "OnTransferTimeout", "SimTime",
    "Timer", "TransferLifecycle", "TransferRules", "Transition", "agent_target", "allowed_events", "candidates",
    "due_timer", "failed_clause", "is_agent_target", "may_be_offered", "racing_events", "refusal_reason",
    "transition_table", "transitions",
]
