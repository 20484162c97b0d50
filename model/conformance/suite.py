"""Conformance suites generated from the statechart: the goals, the generator, the JSON format.

Nothing here restates the lifecycle. The transition table is read from
:func:`model.lifecycle.transitions` (and ordered as :class:`~model.lifecycle.CompiledLifecycle`
selects candidates), guards are the :class:`~model.lifecycle.ContactData` methods, and every
expectation in a suite is what a :class:`~model.lifecycle.Contact` (the reference model)
observed when the step was run on it.

A breadth-first search over the model's reachable configurations (state, owner, offers,
rejections, target, time relative to the pending deadlines, last transition) finds, for every
coverage goal, the shortest timeline that reaches it; the suite is the set of those timelines.
Coverage is measured by replaying the cases on the model with a :class:`Tracer`, and reported
under the names of :data:`DIMENSIONS`.
"""

from __future__ import annotations

import copy
import json
import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import TransferSimError
from ..lifecycle import (
    EVENTS,
    STATES,
    Contact,
    ContactData,
    EventNotAllowed,
    Transition,
    TransferLifecycle,
    TransferRules,
    agent_target,
    transitions,
)

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "EPSILON",
    "CONFIGS",
    "DIMENSIONS",
    "SuiteError",
    "Tracer",
    "rules_from_config",
    "observe",
    "all_goals",
    "generate_suite",
    "default_suite",
    "suite_coverage",
    "format_coverage",
    "load_suite",
    "dump_suite",
    "validate_suite",
]

SCHEMA = "transfer-sim/conformance-suite"
SCHEMA_VERSION = 1
EPSILON = 0.125
""""Just before/after" a deadline, in seconds. A power of two, so that every time in a suite is
exactly representable and sums of ``advance`` steps land exactly on the deadlines."""

_TARGETS = {"sales": ["a1"], "billing": ["b1", "b2"]}
CONFIGS: dict[str, dict[str, Any]] = {
    "abandon": {
        "transfer_timeout": 10.0,
        "dissuasion_timeout": 5.0,
        "on_transfer_timeout": "abandon",
        "targets": _TARGETS,
    },
    "return": {
        "transfer_timeout": 10.0,
        "dissuasion_timeout": None,
        "on_transfer_timeout": "return",
        "targets": _TARGETS,
    },
}
"""The configurations the generator explores: owner ``a1`` (group ``sales``), target group
``billing`` = {b1, b2}, single-agent targets ``agent:NAME``; both timeout policies."""

PALETTE: dict[str, list[dict[str, Any]]] = {
    "assign": [{"agent": "a1"}, {}],
    "close": [{}],
    "customer_leave": [{}],
    "dissuade": [{}],
    "request_transfer": [
        {"target": "billing", "message": "billing question"},
        {"target": "agent:b1"},
        {"target": "agent:a1"},
        {"target": "nowhere"},
    ],
    "offer": [{"agents": ["b1"]}, {"agents": ["b2"]}, {"agents": ["b1", "b2"]}, {"agents": ["a1"]}],
    "accept": [{"agent": "b1"}, {"agent": "b2"}],
    "reject": [{"agent": "b1"}, {"agent": "b2"}],
    "offer_timeout": [{"agent": "b1"}, {"agent": "b2"}],
    "transfer_timeout": [{}],
}
"""Event data the generator (and the random mode) tries for each event."""

DIMENSIONS: tuple[str, ...] = (
    "states",
    "transitions",
    "transition_pairs",
    "guards",
    "guard_conditions",
    "refused_events",
    "timer_boundaries",
)
"""Coverage names, in report order (see docs/conformance.md)."""

Goal = tuple[str, str]
_TRANSFER_EVENTS = ("offer", "accept", "reject", "offer_timeout", "customer_leave")
_QUEUE_EVENTS = ("assign", "customer_leave")
_RELATIONS = ("just before", "at", "just after")
_NOT_RESET_BY = ("offer", "reject", "offer_timeout")


class SuiteError(TransferSimError, ValueError):
    """A suite or case file that does not follow the schema (message names the place)."""


# --------------------------------------------------------------------------------------
# The table, derived from the chart
# --------------------------------------------------------------------------------------


def _leaves(state_id: str) -> list[str]:
    state = TransferLifecycle.states_map[state_id]
    if not state.is_compound:
        return [state.id]
    return [leaf for child in state.states for leaf in _leaves(child.id)]


@lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, list[Transition]]]:
    """``leaf state -> event -> candidate rows`` in the order the chart tries them."""
    depth = {s.id: len(list(s.ancestors())) for s in TransferLifecycle.states_map.values()}
    table: dict[str, dict[str, list[Transition]]] = {s: {} for s in STATES}
    for row in sorted(transitions(), key=lambda r: -depth[r.source]):  # stable: document order
        for leaf in _leaves(row.source):
            table[leaf].setdefault(row.event, []).append(row)
    return table


def _row_label(row: Transition) -> str:
    return f"{row.source} --{row.event}--> {row.target}"


def _leaf_label(source: str, event: str, target: str) -> str:
    return f"{source} --{event}--> {target}"


@lru_cache(maxsize=1)
def all_goals() -> dict[str, tuple[str, ...]]:
    """Every coverage goal, by dimension (the denominators of the coverage figures)."""
    table = _table()
    leaf_transitions = [
        _leaf_label(s, e, row.target) for s in STATES for e, rows in table[s].items() for row in rows
    ]
    by_source: dict[str, list[str]] = {}
    for s in STATES:
        for e, rows in table[s].items():
            for row in rows:
                by_source.setdefault(s, []).append(_leaf_label(s, e, row.target))
    pairs = [
        f"{t1} ; {t2}"
        for t1 in leaf_transitions
        for t2 in by_source.get(t1.rsplit(" ", 1)[1], [])
    ]
    guards = [
        f"{_row_label(row)} [{g}={v}]"
        for row in transitions()
        for g in row.guards
        for v in ("true", "false")
    ]
    refused = [f"{s}: {e}" for s in STATES for e in EVENTS if e not in table[s]]
    timers = [f"dissuasion timer: {e} {r} the deadline" for e in _QUEUE_EVENTS for r in _RELATIONS]
    timers += [
        f"transfer timer ({p}): {e} {r} the deadline"
        for p in ("abandon", "return")
        for e in _TRANSFER_EVENTS
        for r in _RELATIONS
    ]
    timers += [f"transfer timer: not reset by a later {e}" for e in _NOT_RESET_BY]
    return {
        "states": STATES,
        "transitions": tuple(leaf_transitions),
        "transition_pairs": tuple(pairs),
        "guards": tuple(guards),
        "guard_conditions": GUARD_CONDITIONS,
        "refused_events": tuple(refused),
        "timer_boundaries": tuple(timers),
    }


GUARD_CONDITIONS: tuple[str, ...] = (
    "assign: by a named agent",
    "assign: without an agent (refused)",
    "request_transfer: to a group",
    "request_transfer: to another agent",
    "request_transfer: to the owner itself (refused)",
    "request_transfer: to an unknown target (refused)",
    "offer: to one agent",
    "offer: to several agents at once",
    "offer: to an agent outside the target (refused)",
    "offer: to an agent that rejected this transfer (refused)",
    "accept: by the agent holding the offer",
    "accept: by an agent not holding the offer (refused)",
    "accept: while another agent also holds the offer",
    "reject: by the agent holding the offer",
    "reject: by an agent not holding the offer (refused)",
    "offer_timeout: of the agent holding the offer",
    "offer_timeout: of an agent not holding the offer (refused)",
)
"""The data rules of LIFECYCLE.md's "data / guard" column, one goal per clause: a guard that is
false for several reasons (``target_is_valid``, ``agents_are_eligible``) is covered once per
reason, so that an implementation that gets one clause wrong is caught."""


def _conditions(d: ContactData, event: str, data: Mapping[str, Any]) -> list[str]:
    """The guard-condition goals a ``send`` of ``event`` with ``data`` exercises in ``d``'s state."""
    s = d.state
    out: list[str] = []
    if event == "assign" and s == "queued":
        out.append("assign: by a named agent" if data.get("agent") else "assign: without an agent (refused)")
    elif event == "request_transfer" and s == "engaged":
        target = data.get("target") or ""
        members = d.rules.members(target)
        if d.owner is not None and target == agent_target(d.owner):
            out.append("request_transfer: to the owner itself (refused)")
        elif members is not None and not members:
            out.append("request_transfer: to an unknown target (refused)")
        elif target.startswith("agent:"):
            out.append("request_transfer: to another agent")
        else:
            out.append("request_transfer: to a group")
    elif event == "offer" and s == "routing":
        agents = list(data.get("agents") or ())
        members = d.rules.members(d.target) if d.target is not None else None
        if any(a in d.rejected for a in agents):
            out.append("offer: to an agent that rejected this transfer (refused)")
        if members is not None and any(a not in members for a in agents):
            out.append("offer: to an agent outside the target (refused)")
        if not out and len(agents) == 1:
            out.append("offer: to one agent")
        elif not out and len(agents) > 1:
            out.append("offer: to several agents at once")
    elif event in ("accept", "reject", "offer_timeout") and s == "offered":
        holds = data.get("agent") in d.offered
        noun = "of" if event == "offer_timeout" else "by"
        out.append(
            f"{event}: {noun} the agent holding the offer"
            if holds
            else f"{event}: {noun} an agent not holding the offer (refused)"
        )
        if event == "accept" and holds and len(d.offered) > 1:
            out.append("accept: while another agent also holds the offer")
    return out


# --------------------------------------------------------------------------------------
# Configurations and observations
# --------------------------------------------------------------------------------------


def rules_from_config(config: Mapping[str, Any]) -> TransferRules:
    """The model's :class:`TransferRules` for a case configuration (agents always available)."""
    targets = config.get("targets")
    return TransferRules(
        transfer_timeout=float(config.get("transfer_timeout", 60.0)),
        dissuasion_timeout=(
            None if config.get("dissuasion_timeout") is None else float(config["dissuasion_timeout"])
        ),
        on_transfer_timeout=config.get("on_transfer_timeout", "abandon"),
        targets=None if targets is None else {k: frozenset(v) for k, v in targets.items()},
        is_available=None,
    )


def observe(contact: Contact) -> dict[str, Any]:
    """What an expectation holds about a contact: state, owner, offered (sorted), transfer count."""
    d = contact.data
    return {
        "state": d.state,
        "owner": d.owner,
        "offered": sorted(d.offered),
        "transfer_count": d.transfer_count,
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
class Tracer:
    """The reference model (a :class:`Contact`) under one configuration, recording goals.

    ``advance``/``send`` take one timeline step each and return the goals it reached (pairs
    ``(dimension, name)``). Timers fire as :meth:`Contact.advance` fires them: those due at an
    instant before any event sent at that instant.
    """

    config: Mapping[str, Any]
    engine: str = "compiled"
    contact: Contact = field(init=False)
    last: str | None = field(default=None, init=False)
    transfer_deadline: float | None = field(default=None, init=False)
    transfer_requested_at: float | None = field(default=None, init=False)
    late: frozenset[str] = field(default=frozenset(), init=False)
    queue_deadline: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        rules = rules_from_config(self.config)
        self.contact = Contact(rules, now=0.0, engine=self.engine)  # type: ignore[arg-type]
        self.queue_deadline = rules.dissuasion_timeout
        self.policy = rules.on_transfer_timeout

    def start(self) -> set[Goal]:
        """The goals reached by the contact's arrival (its initial state)."""
        return {("states", self.contact.state)}

    def clone(self) -> Tracer:
        new = copy.copy(self)
        old = self.contact
        c = Contact(old.data.rules, now=0.0, engine="compiled")
        for slot in ContactData.__slots__:
            value = getattr(old.data, slot)
            setattr(c.data, slot, set(value) if isinstance(value, set) else value)
        new.contact = c
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
        while (timer := c.due_timer(target)) is not None:
            d = c.data
            at = d.dissuasion_deadline if timer == "dissuade" else d.transfer_deadline
            source = d.state
            row = self._evaluate(source, timer, {"now": at}, goals)
            if timer == "transfer_timeout":
                goals |= {("timer_boundaries", f"transfer timer: not reset by a later {e}") for e in self.late}
            c.advance(at)
            assert row is not None and c.state == row.target, "model fired a timer its table does not take"
            self._took(source, timer, c.state, goals)
        c.advance(target)
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
        if event in EVENTS and event not in _table()[source]:
            goals.add(("refused_events", f"{source}: {event}"))
        row = self._evaluate(source, event, kwargs, goals) if event in EVENTS else None
        goals |= {("guard_conditions", g) for g in _conditions(d, event, data)}
        if self.transfer_deadline is not None and event in _TRANSFER_EVENTS:
            rel = _relation(now, self.transfer_deadline)
            if rel:
                goals.add(("timer_boundaries", f"transfer timer ({self.policy}): {event} {rel} the deadline"))
        if self.queue_deadline is not None and event in _QUEUE_EVENTS:
            rel = _relation(now, self.queue_deadline)
            if rel:
                goals.add(("timer_boundaries", f"dissuasion timer: {event} {rel} the deadline"))
        try:
            c.send(event, **dict(data))
        except EventNotAllowed:
            assert row is None, f"model refused {event} in {source} although a transition's guards hold"
            return True, goals
        assert row is not None and c.state == row.target, f"model took {event} in {source} unexpectedly"
        self._took(source, event, c.state, goals)
        # episodes for the timer-boundary goals
        if event == "request_transfer":
            self.transfer_deadline = now + c.data.rules.transfer_timeout
            self.transfer_requested_at = now
            self.late = frozenset()
        elif source in ("routing", "offered") and event in ("accept", "customer_leave"):
            self.transfer_deadline = None
        elif event in _NOT_RESET_BY and self.transfer_requested_at is not None and now > self.transfer_requested_at:
            self.late = self.late | {event}
        if source == "queued":
            self.queue_deadline = None
        return False, goals

    def _evaluate(self, source: str, event: str, kwargs: Mapping[str, Any], goals: set[Goal]) -> Transition | None:
        """Evaluate every guard of every candidate row (for coverage); return the row taken."""
        taken = None
        for row in _table()[source].get(event, ()):
            ok = True
            for g in row.guards:
                value = bool(getattr(ContactData, g)(self.contact.data, **kwargs))
                goals.add(("guards", f"{_row_label(row)} [{g}={'true' if value else 'false'}]"))
                ok = ok and value
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
        if event == "transfer_timeout":
            self.late = frozenset()

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
            _category(d.now, self.transfer_deadline),
            _category(d.now, self.queue_deadline),
            self.late,
        )

    def step(self, step: Mapping[str, Any]) -> tuple[bool | None, set[Goal]]:
        """Run one timeline step (``advance`` or ``send``); ``expect`` steps are ignored."""
        if "advance" in step:
            return None, self.advance(float(step["advance"]))
        if "send" in step:
            return self.send(step["send"], step.get("data") or {})
        return None, set()


# --------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------


def _candidate_steps(t: Tracer) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = [
        {"send": e, "data": copy.deepcopy(data)} for e in EVENTS for data in PALETTE[e]
    ]
    now = t.now
    seconds: list[float] = [1.0]
    for deadline in (t.queue_deadline, t.transfer_deadline):
        if deadline is None:
            continue
        for off in (-EPSILON, 0.0, EPSILON):
            dt = deadline + off - now
            if dt > 0 and dt not in seconds:
                seconds.append(dt)
    steps += [{"advance": s} for s in seconds]
    return steps


def _explore(config: Mapping[str, Any], max_depth: int) -> tuple[dict[Goal, list[dict[str, Any]]], int]:
    """Breadth-first search from the arrival; the shortest timeline reaching each goal."""
    root = Tracer(config)
    found: dict[Goal, list[dict[str, Any]]] = {g: [] for g in root.start()}
    seen = {root.key()}
    frontier: deque[tuple[Tracer, list[dict[str, Any]]]] = deque([(root, [])])
    nodes = 0
    while frontier:
        node, path = frontier.popleft()
        nodes += 1
        if len(path) >= max_depth:
            continue
        for step in _candidate_steps(node):
            child = node.clone()
            _, goals = child.step(step)
            child_path = path + [step]
            for g in goals:
                found.setdefault(g, child_path)
            k = child.key()
            if k not in seen:
                seen.add(k)
                frontier.append((child, child_path))
    return found, nodes


def _with_expectations(config: Mapping[str, Any], steps: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Interleave ``expect`` steps: what the model observed at the start and after every step."""
    t = Tracer(config, engine="chart")  # the formal StateChart is the oracle of the suite
    out: list[dict[str, Any]] = [{"expect": t.observation()}]
    for step in steps:
        if "expect" in step:
            continue
        refused, _ = t.step(step)
        out.append(dict(step))
        expect = t.observation()
        if refused is not None:
            expect["refused"] = refused
        out.append({"expect": expect})
    return out


def generate_suite(configs: Mapping[str, Mapping[str, Any]] | None = None, max_depth: int = 9) -> dict[str, Any]:
    """Generate a suite from the statechart: a shortest case per goal, and the coverage reached.

    Goals that the exhaustive search (to ``max_depth`` steps) never reaches are reported as
    ``unreachable``; with the default configurations these are the two ``*_deadline=false``
    guards, which only an external clock can make false (timers due at an instant fire first).
    """
    configs = dict(CONFIGS if configs is None else configs)
    reached: dict[Goal, tuple[str, list[dict[str, Any]]]] = {}
    for name, config in configs.items():
        found, _ = _explore(config, max_depth)
        for goal, path in found.items():
            if goal not in reached or len(path) < len(reached[goal][1]):
                reached[goal] = (name, path)
    universe = all_goals()
    covered: set[Goal] = set()
    cases: list[dict[str, Any]] = []
    for dim in DIMENSIONS:
        for name in universe[dim]:
            goal = (dim, name)
            if goal in covered or goal not in reached:
                continue
            cfg_name, path = reached[goal]
            case = {
                "id": f"{dim}-{len([c for c in cases if c['goal'][0] == dim]) + 1:03d}",
                "title": f"{dim}: {name}",
                "goal": [dim, name],
                "config": copy.deepcopy(dict(configs[cfg_name])),
                "steps": _with_expectations(configs[cfg_name], path),
            }
            cases.append(case)
            covered |= _case_goals(case)
    unreachable = {dim: [n for n in universe[dim] if (dim, n) not in reached] for dim in DIMENSIONS}
    suite = {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "generator": {
            "source": "model.lifecycle.TransferLifecycle",
            "epsilon": EPSILON,
            "max_depth": max_depth,
            "unreachable": {d: v for d, v in unreachable.items() if v},
        },
        "cases": cases,
    }
    suite["coverage"] = suite_coverage(suite)
    return suite


@lru_cache(maxsize=1)
def _default_suite_json() -> str:
    return json.dumps(generate_suite())


def default_suite() -> dict[str, Any]:
    """The suite generated with the default configurations (cached; a fresh copy each call)."""
    return json.loads(_default_suite_json())


def _case_goals(case: Mapping[str, Any]) -> set[Goal]:
    t = Tracer(case["config"])
    goals = t.start()
    for step in case["steps"]:
        goals |= t.step(step)[1]
    return goals


def suite_coverage(suite: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Coverage reached by replaying the suite's cases on the model, per dimension."""
    goals: set[Goal] = set()
    for case in suite["cases"]:
        goals |= _case_goals(case)
    unreachable = (suite.get("generator") or {}).get("unreachable") or {}
    out: dict[str, dict[str, Any]] = {}
    for dim in DIMENSIONS:
        names = all_goals()[dim]
        missing = [n for n in names if (dim, n) not in goals]
        out[dim] = {
            "covered": len(names) - len(missing),
            "total": len(names),
            "not_covered": missing,
            "unreachable": [n for n in missing if n in unreachable.get(dim, ())],
        }
    return out


def format_coverage(coverage: Mapping[str, Mapping[str, Any]], details: bool = True) -> str:
    """One line per dimension: ``states 9/9 (100%)``, and the goals not covered."""
    lines = []
    for dim in DIMENSIONS:
        c = coverage[dim]
        pct = 100.0 * c["covered"] / c["total"] if c["total"] else 100.0
        line = f"  {dim:<17} {c['covered']:>3}/{c['total']:<3} ({pct:.0f}%)"
        if c["unreachable"]:
            line += f"; unreachable: {len(c['unreachable'])}"
        lines.append(line)
        if details:
            for n in c["not_covered"]:
                why = " (unreachable)" if n in c["unreachable"] else ""
                lines.append(f"      not covered: {n}{why}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# JSON files
# --------------------------------------------------------------------------------------

_STEP_KEYS = {"advance", "send", "expect"}
_EXPECT_KEYS = {"state", "owner", "offered", "transfer_count", "refused"}


def validate_suite(suite: Any) -> dict[str, Any]:
    """Check a suite (or a bare case, wrapped into a suite) against the schema; return the suite."""
    if isinstance(suite, dict) and "steps" in suite and "schema" not in suite:
        suite = {"schema": SCHEMA, "version": SCHEMA_VERSION, "cases": [suite]}
    if not isinstance(suite, dict):
        raise SuiteError("a suite is a JSON object")
    if suite.get("schema") != SCHEMA:
        raise SuiteError(f"schema: expected {SCHEMA!r}, got {suite.get('schema')!r}")
    if suite.get("version") != SCHEMA_VERSION:
        raise SuiteError(
            f"version: this toolkit reads version {SCHEMA_VERSION}, the file is version {suite.get('version')!r}"
        )
    cases = suite.get("cases")
    if not isinstance(cases, list):
        raise SuiteError("cases: expected a list")
    for i, case in enumerate(cases):
        where = f"cases[{i}]"
        if not isinstance(case, dict):
            raise SuiteError(f"{where}: expected an object")
        case.setdefault("id", f"case-{i + 1:03d}")
        if not isinstance(case.get("config"), dict):
            raise SuiteError(f"{where}.config: expected an object")
        if case["config"].get("on_transfer_timeout", "abandon") not in ("abandon", "return"):
            raise SuiteError(f"{where}.config.on_transfer_timeout: 'abandon' or 'return'")
        steps = case.get("steps")
        if not isinstance(steps, list):
            raise SuiteError(f"{where}.steps: expected a list")
        for j, step in enumerate(steps):
            sw = f"{where}.steps[{j}]"
            if not isinstance(step, dict) or len(_STEP_KEYS & step.keys()) != 1:
                raise SuiteError(f"{sw}: one of {sorted(_STEP_KEYS)} expected, got {step!r}")
            if "advance" in step:
                v = step["advance"]
                if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                    raise SuiteError(f"{sw}.advance: a number of seconds >= 0, got {v!r}")
            elif "send" in step:
                if not isinstance(step["send"], str):
                    raise SuiteError(f"{sw}.send: an event name")
                if not isinstance(step.get("data", {}), dict):
                    raise SuiteError(f"{sw}.data: expected an object")
            else:
                exp = step["expect"]
                if not isinstance(exp, dict) or not exp.keys() <= _EXPECT_KEYS:
                    raise SuiteError(f"{sw}.expect: an object with keys among {sorted(_EXPECT_KEYS)}")
    return suite


def load_suite(path: str | Path) -> dict[str, Any]:
    """Read and validate a suite (or a single case) from a JSON file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise SuiteError(f"cannot read {path}: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise SuiteError(f"{path}: not JSON ({err})") from None
    try:
        return validate_suite(data)
    except SuiteError as err:
        raise SuiteError(f"{path}: {err}") from None


def dump_suite(suite: Mapping[str, Any], path: str | Path) -> Path:
    """Write a suite as JSON (one case per line-block; stable key order)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(suite, indent=1) + "\n")
    return path
