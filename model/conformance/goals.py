"""What a conformance suite must cover, and the reference model run step by step to measure it.

Nothing here restates the lifecycle. The goals are read from :mod:`model.lifecycle`: states and
transitions from the chart's table, guard goals from each transition's guards, guard-condition
goals from each guard's clauses (:data:`model.lifecycle.CLAUSES`), refused events from the table,
timer-boundary goals from :data:`model.lifecycle.TIMERS` (the events racing each timer, the
events that do not reset it, the timeout policies, timers of length 0, ``advance 0``).
:data:`SITUATIONS` are shapes of the data that the chart's *actions* handle and no guard names:
the kinds of target, and each event naming an offer's holder while another agent holds one too.

The :class:`Tracer` runs the reference model (a :class:`~model.lifecycle.Contact`) and reports
the goals each step reaches. Each goal dimension is defined twice by nature, as a universe
(:func:`all_goals`) and as what a step reaches (:class:`Tracer`); both live here, side by side,
which keeps their names in step. The configurations and event data live in :mod:`.configs`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..lifecycle import (
    CLAUSES,
    EVENTS,
    GUARDS,
    INITIAL_STATE,
    STATES,
    TABLE,
    TIMEOUT_POLICIES,
    TIMERS,
    Contact,
    ContactData,
    EventNotAllowed,
    Timer,
    Transition,
    candidates,
    failed_clause,
    is_agent_target,
    racing_events,
    transitions,
)
from .configs import CONFIGS, EDGE_CONFIGS, EPSILON, PALETTE, observe, rules_from_config

DIMENSIONS: tuple[str, ...] = (
    "states",
    "transitions",
    "transition_pairs",
    "guards",
    "guard_conditions",
    "situations",
    "refused_events",
    "timer_boundaries",
)
"""Coverage names, in report order (see docs/conformance.md)."""

Goal = tuple[str, str]
_RELATIONS = ("just before", "at", "just after")


@dataclass(frozen=True)
class Situation:
    """A shape of the data, at one event, that the chart's actions handle and no guard names."""

    name: str
    event: str
    applies: Callable[[ContactData, Mapping[str, Any]], bool]


def _holder_events() -> tuple[str, ...]:
    """Events that name an agent holding the offer (their guard ``holds_offer``), in EVENTS order."""
    return tuple(e for e in EVENTS if any("holds_offer" in row.guards for row in candidates("offered", e)))


def _to_nobody(d: ContactData, data: Mapping[str, Any]) -> bool:
    to = data.get("target")
    return bool(to) and not is_agent_target(to) and d.rules.knows(to) and d.rules.members(to) == frozenset()


SITUATIONS: tuple[Situation, ...] = (
    Situation("request_transfer: to a group", "request_transfer",
              lambda d, data: bool(data.get("target")) and not is_agent_target(data["target"])),
    Situation("request_transfer: to one agent (agent:NAME)", "request_transfer",
              lambda d, data: bool(data.get("target")) and is_agent_target(data["target"])),
    Situation("request_transfer: to a group with nobody in it (nobody on shift)", "request_transfer", _to_nobody),
    *(Situation(f"{e}: while another agent also holds the offer", e,
                lambda d, data: data.get("agent") in d.offered and len(d.offered) > 1)
      for e in _holder_events()),
)
"""Taken transitions whose *actions* (not guards) must handle a particular shape of the data:
the target kind a transfer names (an existing group with nobody in it included), and every
event naming an offer's holder while other agents hold offers too (broadcast: ``accept`` and
``reject`` withdraw the others' offers, ``offer_timeout`` too, ``withdraw`` only its own)."""


# --------------------------------------------------------------------------------------
# Goals, derived from the lifecycle
# --------------------------------------------------------------------------------------


def _leaf_label(source: str, event: str, target: str) -> str:
    return f"{source} --{event}--> {target}"


@lru_cache(maxsize=None)
def _policies(timer: Timer) -> tuple[str | None, ...]:
    """The timeout policies a timer's goals are split by: all of them when the timer's outcome
    depends on the policy (several rows for its event), else none."""
    if any(len(candidates(s, timer.event)) > 1 for s in timer.states):
        return TIMEOUT_POLICIES
    return (None,)


def _timer_name(timer: Timer, policy: str | None) -> str:
    return timer.label if policy is None else f"{timer.label} ({policy})"


@lru_cache(maxsize=None)
def not_reset_by(timer: Timer) -> tuple[str, ...]:
    """Events that keep the contact inside the timer's states: they must not restart it."""
    return tuple(e for e in EVENTS if e != timer.event and any(
        row.target in timer.states for s in timer.states for row in candidates(s, e)))


@lru_cache(maxsize=None)
def at_zero_length(timer: Timer) -> tuple[str, ...]:
    """Events that race a timer of length 0: those the state it starts in would take (the state
    entered from outside its states, or the initial state). The timer fires first: refused."""
    starts = {INITIAL_STATE} & set(timer.states) | {
        row.target for s in STATES if s not in timer.states for rows in TABLE[s].values() for row in rows
        if row.target in timer.states}
    return tuple(e for e in racing_events(timer) if any(e in TABLE[s] for s in starts))


def zero_length_goal(timer: Timer, policy: str | None, event: str) -> str:
    return f"{_timer_name(timer, policy)}: of length 0, {event} at the instant it starts"


ADVANCE_0_NO_TIMER = "advance 0: no timer due at this instant"


def advance_0_goal(timer: Timer) -> str:
    return f"{timer.label}: advance 0 at the deadline"


def clause_goal(guard: str, text: str) -> str:
    return f"{guard}: fails on '{text}'"


def _quantified(guard: str) -> str | None:
    return next((c.over for c in CLAUSES[guard] if c.over), None)


@lru_cache(maxsize=1)
def all_goals() -> dict[str, tuple[str, ...]]:
    """Every coverage goal, by dimension (the denominators of the coverage figures)."""
    leaf_transitions = [_leaf_label(s, e, row.target) for s in STATES for e, rows in TABLE[s].items() for row in rows]
    by_source: dict[str, list[str]] = {}
    for s in STATES:
        for e, rows in TABLE[s].items():
            for row in rows:
                by_source.setdefault(s, []).append(_leaf_label(s, e, row.target))
    pairs = [f"{t1} ; {t2}" for t1 in leaf_transitions for t2 in by_source.get(t1.rsplit(" ", 1)[1], [])]
    guards = [f"{row.label} [{g}={v}]" for row in transitions() for g in row.guards for v in ("true", "false")]
    conditions: list[str] = []
    for g in GUARDS:
        if len(CLAUSES[g]) > 1:
            conditions += [clause_goal(g, c.text) for c in CLAUSES[g]]
        over = _quantified(g)
        if over:
            conditions += [f"{g}: holds for one of the {over}", f"{g}: holds for several {over} at once"]
    refused = [f"{s}: {e}" for s in STATES for e in EVENTS if e not in TABLE[s]]
    timers: list[str] = []
    for t in TIMERS.values():
        timers += [f"{_timer_name(t, p)}: {e} {r} the deadline"
                   for p in _policies(t) for e in racing_events(t) for r in _RELATIONS]
    for t in TIMERS.values():
        timers += [f"{t.label}: not reset by a later {e}" for e in not_reset_by(t)]
        timers += [f"{t.label}: not reset by a second later {e}" for e in not_reset_by(t)]
    for t in TIMERS.values():
        timers += [zero_length_goal(t, p, e) for p in _policies(t) for e in at_zero_length(t)]
    timers += [advance_0_goal(t) for t in TIMERS.values()] + [ADVANCE_0_NO_TIMER]
    return {
        "states": STATES,
        "transitions": tuple(leaf_transitions),
        "transition_pairs": tuple(pairs),
        "guards": tuple(guards),
        "guard_conditions": tuple(conditions),
        "situations": tuple(s.name for s in SITUATIONS),
        "refused_events": tuple(refused),
        "timer_boundaries": tuple(timers),
    }


# --------------------------------------------------------------------------------------
# The tracer: the model run step by step, recording the goals each step reaches
# --------------------------------------------------------------------------------------


def _relation(now: float, deadline: float) -> str | None:
    if deadline - EPSILON <= now < deadline:
        return "just before"
    if now == deadline:
        return "at"
    if deadline < now <= deadline + EPSILON:
        return "just after"
    return None


def _category(now: float, deadline: float | None) -> str:
    if deadline is None:
        return "-"
    return _relation(now, deadline) or ("far before" if now < deadline else "long after")


@dataclass
class _Episode:
    """One run of a timer: its deadline (kept after it fires, so that events sent just after it
    are classified), when it started, and the non-resetting events seen since (``twice``: seen
    at least twice, such as a re-offer)."""

    deadline: float | None = None
    started: float = 0.0
    late: frozenset[str] = frozenset()
    twice: frozenset[str] = frozenset()


@dataclass
class Tracer:
    """The reference model (a :class:`Contact`) under one configuration, recording goals.

    ``advance``/``send`` take one timeline step each and return the goals it reached (pairs
    ``(dimension, name)``). The tracer fires the timers itself (its contact's ``auto_timers`` is
    off), exactly where :class:`Contact` fires them: each at its deadline, before any event sent
    at that instant, and a timer of length 0 at the instant it starts (on arrival, or right after
    the event that starts it), so an observation always follows every timer due by then.
    """

    config: Mapping[str, Any]
    engine: str = "compiled"
    contact: Contact = field(init=False)
    last: str | None = field(default=None, init=False)
    episodes: dict[str, _Episode] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        rules = rules_from_config(self.config)
        self.contact = Contact(rules, now=0.0, engine=self.engine, auto_timers=False)  # type: ignore[arg-type]
        self.policy = rules.on_transfer_timeout
        self.episodes = {t: _Episode() for t in TIMERS}
        self._enter_timers(None)
        self._arrival: set[Goal] = {("states", self.contact.state)} | self._fire(0.0)

    def _enter_timers(self, source: str | None) -> None:
        """Start an episode for every timer whose states the contact has just entered."""
        d = self.contact.data
        for event, t in TIMERS.items():
            if d.state in t.states and source not in t.states:
                deadline = t.deadline_of(d)
                self.episodes[event] = _Episode(deadline if math.isfinite(deadline) else None, d.now)

    @property
    def deadlines(self) -> list[float]:
        """The deadlines of the timers' current episodes (for choosing ``advance`` steps)."""
        return [e.deadline for e in self.episodes.values() if e.deadline is not None]

    def start(self) -> set[Goal]:
        """The goals reached by the contact's arrival (its initial state, and a timer of length 0)."""
        return set(self._arrival)

    def clone(self) -> Tracer:
        new = copy.copy(self)
        old = self.contact
        c = Contact(old.data.rules, now=0.0, engine="compiled", auto_timers=False)
        for slot in ContactData.__slots__:
            value = getattr(old.data, slot)
            setattr(c.data, slot, set(value) if isinstance(value, set) else value)
        new.contact = c
        new.episodes = dict(self.episodes)
        return new

    @property
    def now(self) -> float:
        return self.contact.now

    def observation(self) -> dict[str, Any]:
        return observe(self.contact)

    # -- steps ------------------------------------------------------------------------------
    def advance(self, seconds: float) -> set[Goal]:
        if seconds < 0 or not math.isfinite(seconds):
            raise ValueError(f"advance needs a finite number of seconds >= 0, got {seconds!r}")
        c = self.contact
        target = c.now + seconds
        goals: set[Goal] = set()
        if seconds == 0:
            at_deadline = [TIMERS[e] for e, ep in self.episodes.items() if ep.deadline == c.now]
            goals |= {("timer_boundaries", advance_0_goal(t)) for t in at_deadline}
            if not at_deadline:
                goals.add(("timer_boundaries", ADVANCE_0_NO_TIMER))
        goals |= self._fire(target)
        c.advance(target)
        return goals

    def _fire(self, until: float) -> set[Goal]:
        """Fire every timer due at or before ``until``, each at its deadline; the goals reached."""
        c = self.contact
        goals: set[Goal] = set()
        while (timer := c.due_timer(until)) is not None:
            d = c.data
            t = TIMERS[timer]
            at = t.deadline_of(d)
            source = d.state
            row = self._evaluate(source, timer, {"now": at}, goals)
            ep = self.episodes[timer]
            goals |= {("timer_boundaries", f"{t.label}: not reset by a later {e}") for e in ep.late}
            goals |= {("timer_boundaries", f"{t.label}: not reset by a second later {e}") for e in ep.twice}
            c.send(timer, now=at)
            assert row is not None and c.state == row.target, "model fired a timer its table does not take"
            self._took(source, timer, c.state, goals)
        return goals

    def send(self, event: str, data: Mapping[str, Any]) -> tuple[bool, set[Goal]]:
        """Send ``event``; return (refused, goals)."""
        c = self.contact
        d = c.data
        source = d.state
        now = d.now
        goals: set[Goal] = set()
        kwargs = dict(data)
        if "target" in kwargs:  # the chart's guards take the transfer target as ``to``
            kwargs["to"] = kwargs.pop("target")
        kwargs["now"] = now
        if event in EVENTS and event not in TABLE[source]:
            goals.add(("refused_events", f"{source}: {event}"))
        row = self._evaluate(source, event, kwargs, goals) if event in EVENTS else None
        if row is not None:
            goals |= {("situations", s.name) for s in SITUATIONS if s.event == event and s.applies(d, data)}
        for timer_event, ep in self.episodes.items():
            t = TIMERS[timer_event]
            if ep.deadline is not None and event in racing_events(t):
                rel = _relation(now, ep.deadline)
                policy = self.policy if _policies(t) != (None,) else None
                if rel:
                    goals.add(("timer_boundaries", f"{_timer_name(t, policy)}: {event} {rel} the deadline"))
                if ep.started == ep.deadline == now and event in at_zero_length(t):
                    goals.add(("timer_boundaries", zero_length_goal(t, policy, event)))
        try:
            c.send(event, **dict(data))
        except EventNotAllowed:
            assert row is None, f"model refused {event} in {source} although a transition's guards hold"
            return True, goals
        assert row is not None and c.state == row.target, f"model took {event} in {source} unexpectedly"
        self._took(source, event, c.state, goals)
        goals |= self._fire(now)  # a timer of length 0 the event started
        return False, goals

    def _evaluate(self, source: str, event: str, kwargs: Mapping[str, Any], goals: set[Goal]) -> Transition | None:
        """Evaluate every guard of every candidate row (for coverage); return the row taken."""
        taken = None
        d = self.contact.data
        for row in candidates(source, event):
            ok = True
            for g in row.guards:
                failed = failed_clause(g, d, kwargs)
                goals.add(("guards", f"{row.label} [{g}={'false' if failed else 'true'}]"))
                if failed is not None and len(CLAUSES[g]) > 1:
                    goals.add(("guard_conditions", clause_goal(g, failed.text)))
                over = _quantified(g)
                if failed is None and over:
                    n = len(list(kwargs.get(over) or ()))
                    goals.add(("guard_conditions", f"{g}: holds for one of the {over}" if n == 1
                               else f"{g}: holds for several {over} at once"))
                ok = ok and failed is None
            if ok and taken is None:
                taken = row
        return taken

    def _took(self, source: str, event: str, target: str, goals: set[Goal]) -> None:
        label = _leaf_label(source, event, target)
        goals.add(("transitions", label))
        goals.add(("states", target))
        if self.last is not None:
            goals.add(("transition_pairs", f"{self.last} ; {label}"))
        self.last = label
        now = self.contact.now
        for timer_event, t in TIMERS.items():
            ep = self.episodes[timer_event]
            if event == timer_event:
                self.episodes[timer_event] = _Episode(ep.deadline, ep.started)  # fired: deadline kept
            elif source in t.states and target in t.states:
                if now > ep.started:
                    twice = ep.twice | ({event} if event in ep.late else set())
                    self.episodes[timer_event] = _Episode(ep.deadline, ep.started, ep.late | {event}, twice)
            elif source in t.states:  # ended by another event
                self.episodes[timer_event] = _Episode()
        self._enter_timers(source)

    def key(self) -> tuple[Any, ...]:
        """The abstraction of this configuration that the breadth-first search deduplicates on."""
        d = self.contact.data
        return (
            d.state,
            d.owner,
            frozenset(d.offered),
            frozenset(d.rejected),
            d.requester,
            d.target,
            min(d.transfer_count, 2),
            self.last,
            *(_category(d.now, ep.deadline) for ep in self.episodes.values()),
            *((ep.late, ep.twice) for ep in self.episodes.values()),
        )

    def step(self, step: Mapping[str, Any]) -> tuple[bool | None, set[Goal]]:
        """Run one timeline step (``advance`` or ``send``); ``expect`` steps are ignored."""
        if "advance" in step:
            return None, self.advance(float(step["advance"]))
        if "send" in step:
            return self.send(step["send"], step.get("data") or {})
        return None, set()


def with_expectations(config: Mapping[str, Any], steps: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The steps with ``expect`` steps interleaved: what the model observed at the start and after
    every step (the formal StateChart is the oracle). Existing ``expect`` steps are dropped."""
    t = Tracer(config, engine="chart")
    out: list[dict[str, Any]] = [{"expect": t.observation()}]
    for step in steps:
        if "expect" in step:
            continue
        refused, _ = t.step(step)
        out.append(copy.deepcopy(dict(step)))
        expect = t.observation()
        if refused is not None:
            expect["refused"] = refused
        out.append({"expect": expect})
    return out

__all__ = [
    "EPSILON", "CONFIGS", "EDGE_CONFIGS", "PALETTE", "DIMENSIONS", "SITUATIONS", "Situation", "Goal", "all_goals",
    "rules_from_config", "observe", "Tracer", "with_expectations", "not_reset_by", "at_zero_length",
    "zero_length_goal", "advance_0_goal", "ADVANCE_0_NO_TIMER",
]
