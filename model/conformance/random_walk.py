"""The moves of the random mode's walk, each read from what the reference model says about its state.

A uniform walk over the event palette is mostly refusals and wanders: timer boundaries, offers
held by several agents and re-offers are rare in it, and the bugs hide exactly there. A *move*
is a kind of step; the random mode draws one from :data:`MOVES` (weighted) at every step, and
:func:`plan` turns it into concrete steps for the contact's state, read from the model (a
:class:`~model.lifecycle.Contact`):

* ``progress``: an event the model takes that keeps the contact alive (its guards hold);
* ``churn``: the transfer goes round: a holder rejects, times out or is withdrawn, and the
  transfer is offered again (to the same agents, or to every agent eligible now);
* ``several``: toward offers held by several agents: a transfer to the target with most agents,
  an offer to every eligible agent, one of several holders answering (accept, reject, withdraw);
* ``wrong``: an event the model refuses: a stale one (``close`` while ``routing``, ``accept``
  after expiry), one whose guard fails (an offer to an agent that rejected), or any other;
* ``ending``: an event that ends the contact (``close``, ``customer_leave``);
* ``deadline``: an advance to exactly a pending timer's deadline, just before it, just after it
  or part way, read from the model's own deadlines (:data:`model.lifecycle.TIMERS`);
* ``second``: an advance of one second.

A move with nothing to do in the state falls back: ``churn`` and ``several`` to the running
timer's deadline, then to ``progress``; advances with no timer running to ``progress`` (time
passing changes nothing the lifecycle knows); anything left to ``wrong``. Nothing here restates
a rule: which events are taken is the model's guards (:func:`~model.lifecycle.failed_clause` over
:func:`~model.lifecycle.candidates`), who may be offered is :func:`~model.lifecycle.may_be_offered`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from ..lifecycle import (
    FINAL_STATES,
    STATES,
    TABLE,
    TIMER_EVENTS,
    TIMERS,
    TRANSFERRING,
    Contact,
    Transition,
    agent_target,
    allowed_events,
    candidates,
    failed_clause,
    may_be_offered,
)
from .configs import EPSILON, PALETTE

__all__ = [
    "Send",
    "Step",
    "MOVES",
    "plan",
    "concrete",
    "DEADLINE_KINDS",
    "sends_for",
    "pending_deadlines",
    "deadline_advance",
    "would_take",
    "progress",
    "churn",
    "broadcast",
    "several",
    "stale_events",
    "wrong",
    "ending",
    "pick",
]

Send = tuple[str, dict[str, Any]]
"""One event with its data."""
Step = Send | tuple[str, None] | float
"""A step of a move: a send; ``("offer", None)``, an offer to every agent eligible when it is
sent (:func:`broadcast`); or an advance of so many seconds."""

MOVES: tuple[str, ...] = (
    ("progress",) * 2 + ("churn",) * 2 + ("several",) * 2 + ("wrong",) * 2 + ("ending",) + ("deadline",) * 3 + ("second",)
)
"""The moves the random mode draws from, repeated by weight: the timer's deadline most (the tie
rule and timers that restart are the bugs a walk misses), ``ending`` and ``second`` least."""

DEADLINE_KINDS: tuple[str, ...] = ("at", "just before", "at", "just after", "part way")
"""Where an advance toward a pending deadline lands: ``at`` it (twice as often: the tie rule is
the edge implementations get wrong), just before or just after it, or part way (half the time
left, so that a re-offer can follow before the deadline and show a timer that restarts)."""

_BOUNCE = frozenset({"reject", "offer_timeout", "withdraw"})
"""Events that take an offer back without ending the transfer."""


def _agents(config: Mapping[str, Any]) -> list[str]:
    """Every agent the configuration names (sorted), and ``a1``, the palette's owner."""
    names = {a for members in (config.get("targets") or {}).values() for a in members}
    return sorted(names | {"a1"})


@lru_cache(maxsize=1)
def _palette_names() -> frozenset[str]:
    """The agents and targets the generator's palette names."""
    names: set[str] = set()
    for datas in PALETTE.values():
        for d in datas:
            names.update(v for k, v in d.items() if k in ("agent", "target") and isinstance(v, str))
            names.update(d.get("agents") or ())
    return frozenset(names)


def sends_for(config: Mapping[str, Any]) -> list[Send]:
    """The generator's palette, and for each agent or group of ``config`` it never names (a
    configuration of the caller's own) the same events: per-agent events, ``agent:NAME``, a
    transfer to the group and an offer to its whole team."""
    sends: list[Send] = [(e, dict(d)) for e, datas in PALETTE.items() for d in datas]
    known = _palette_names()
    for agent in _agents(config):
        if agent not in known:
            sends += [(e, {"agent": agent}) for e in ("accept", "reject", "offer_timeout", "withdraw")]
            sends += [("offer", {"agents": [agent]}), ("request_transfer", {"target": agent_target(agent)})]
    for group, members in sorted((config.get("targets") or {}).items()):
        if group not in known:
            sends += [("request_transfer", {"target": group}), ("offer", {"agents": sorted(members)})]
    return sends


def pending_deadlines(contact: Contact) -> list[float]:
    """The deadlines of the timers running in the contact's state, read from the model (a timer
    of length 0 started now is pending at ``now`` itself)."""
    d = contact.data
    out = []
    for t in TIMERS.values():
        if d.state in t.states:
            at = t.deadline_of(d)
            if math.isfinite(at) and at >= d.now:
                out.append(at)
    return sorted(out)


def deadline_advance(contact: Contact, kind: str) -> float | None:
    """Seconds to advance to land ``kind`` (one of :data:`DEADLINE_KINDS`) the nearest pending
    deadline; ``None`` when no deadline is pending, or the advance would not move the clock."""
    for deadline in pending_deadlines(contact):
        left = deadline - contact.now
        if kind == "part way":  # half the time left, in whole steps of EPSILON (times stay exact)
            return max(EPSILON, math.floor(left / 2 / EPSILON) * EPSILON) if left > EPSILON else None
        seconds = left + {"just before": -EPSILON, "at": 0.0, "just after": EPSILON}[kind]
        if seconds > 0 or (seconds == 0 and kind == "at"):
            return seconds
    return None


def would_take(contact: Contact, event: str, data: Mapping[str, Any]) -> Transition | None:
    """The transition the model would take for ``event`` now (its guards read on the contact's
    data, nothing changed); ``None`` when it would refuse it."""
    d = contact.data
    kwargs = dict(data)
    if "target" in kwargs:  # the chart's guards take the transfer target as ``to``
        kwargs["to"] = kwargs.pop("target")
    kwargs["now"] = d.now
    for row in candidates(d.state, event):
        if all(failed_clause(g, d, kwargs) is None for g in row.guards):
            return row
    return None


def _split(contact: Contact, sends: list[Send]) -> tuple[list[Send], list[Send], list[Send]]:
    """The sends the model takes and keeps the contact alive, those it takes into a final state,
    and those it refuses."""
    alive: list[Send] = []
    final: list[Send] = []
    refused: list[Send] = []
    for event, data in sends:
        row = would_take(contact, event, data)
        if row is None:
            refused.append((event, data))
        elif row.target in FINAL_STATES:
            final.append((event, data))
        elif event not in TIMER_EVENTS:
            alive.append((event, data))
    return alive, final, refused


def pick(choices: list[Send], i: int) -> Send | None:
    """The ``i``-th choice, spreading ``i`` first over the events, then over each event's data
    (so an event with much data, such as ``offer``, is not favoured over ``close``)."""
    if not choices:
        return None
    events = list(dict.fromkeys(e for e, _ in choices))
    event = events[i % len(events)]
    datas = [s for s in choices if s[0] == event]
    return datas[(i // len(events)) % len(datas)]


def progress(contact: Contact, sends: list[Send], i: int) -> Send | None:
    """An event the model takes that keeps the contact alive (no timer, no ending)."""
    return pick(_split(contact, sends)[0], i)


def churn(contact: Contact, sends: list[Send], i: int) -> list[Step]:
    """The transfer goes round without ending. In ``offered`` a holder rejects, times out or is
    withdrawn; for every other ``i`` a second passes (when the deadline is further); then the
    transfer is offered again: to the same agents (refused after a reject: the rejecter is
    excluded; refused while another offer is outstanding) or to every agent eligible now. In
    ``routing``, an offer. Empty elsewhere."""
    alive = _split(contact, sends)[0]
    if contact.state == "routing":
        s = pick([s for s in alive if s[0] == "offer"], i)
        return [] if s is None else [s]
    bounce = pick([s for s in alive if s[0] in _BOUNCE], i)
    if bounce is None:
        return []
    steps: list[Step] = [bounce]
    left = min(pending_deadlines(contact), default=math.inf) - contact.now
    if (i >> 4) % 2 and left > 1.0:
        steps.append(1.0)
    holders = sorted(contact.data.offered)
    steps.append(("offer", {"agents": holders}) if (i >> 5) % 2 else ("offer", None))
    return steps


def broadcast(contact: Contact, config: Mapping[str, Any]) -> Send | None:
    """An offer to every agent that may receive it now (``None`` if the model would refuse it,
    e.g. outside ``routing`` or when nobody is eligible)."""
    d = contact.data
    if d.target is None:
        return None
    agents = [a for a in _agents(config) if may_be_offered(d, a)]
    send: Send = ("offer", {"agents": agents})
    return send if agents and would_take(contact, *send) is not None else None


def several(contact: Contact, config: Mapping[str, Any], sends: list[Send], i: int) -> Send | None:
    """Toward offers held by several agents at once: from ``engaged`` a transfer to a target with
    the most agents; in ``routing`` an offer to every eligible agent (:func:`broadcast`); in
    ``offered`` with several holders, one of them accepts, rejects, times out or is withdrawn
    (the others' offers must go, or stay). ``None`` elsewhere."""
    if contact.state == "routing":
        return broadcast(contact, config)
    alive = _split(contact, sends)[0]
    requests = [s for s in alive if s[0] == "request_transfer"]
    if requests:
        rules = contact.data.rules
        size = {str(s[1]["target"]): len(rules.members(s[1]["target"]) or ()) for s in requests}
        most = max(size.values())
        return pick([s for s in requests if size[str(s[1]["target"])] == most], i)
    holders = contact.data.offered
    if len(holders) < 2:
        return None
    return pick([s for s in alive if s[1].get("agent") in holders], i)


@lru_cache(maxsize=None)
def stale_events(state: str) -> frozenset[str]:
    """Events taken in a state that leads to ``state`` but not allowed in ``state`` itself (from
    the chart's table): a ``close`` while ``routing``, an ``accept`` after ``transfer_expired``,
    an ``assign`` once ``dissuaded``: the events an implementation forgets to switch off."""
    before = {s for s in STATES for rows in TABLE[s].values() for r in rows if r.target == state and s != state}
    return frozenset().union(*(allowed_events(s) for s in before)) - allowed_events(state)


def wrong(contact: Contact, sends: list[Send], i: int) -> Send | None:
    """An event the model refuses now, of three kinds so that none crowds out the others: half
    the time an allowed event whose guard fails (an offer to an agent that rejected, a transfer
    to the owner itself), else a stale event (:func:`stale_events`) or any other refused event."""
    refused = _split(contact, sends)[2]
    state = contact.state
    stale, allowed = stale_events(state), allowed_events(state)
    failing = [s for s in refused if s[0] in allowed]
    kinds = (
        [s for s in refused if s[0] in stale],
        failing,
        [s for s in refused if s[0] not in stale and s[0] not in allowed],
        failing,
    )
    return pick(kinds[i % 4], i // 4) or pick(refused, i)


def ending(contact: Contact, sends: list[Send], i: int) -> Send | None:
    """An event the model takes into a final state (``close``, ``customer_leave``), for one
    ``i`` in four before the transfer and one in two during it (``None`` otherwise), so that most
    walks get as far as a transfer and the transfer goes round before it ends."""
    every = 2 if contact.state in TRANSFERRING else 4
    return None if i % every else pick(_split(contact, sends)[1], i // every)


def plan(move: str, contact: Contact, config: Mapping[str, Any], sends: list[Send], i: int, kind: str) -> list[Step]:
    """The steps of ``move`` (one of :data:`MOVES`) for the contact now; ``i`` chooses among the
    model's candidates and ``kind`` (one of :data:`DEADLINE_KINDS`) where an advance lands.
    Always at least one step (see the fallbacks in the module's docstring)."""
    steps: list[Step] = []
    if move in ("deadline", "second"):
        seconds = deadline_advance(contact, kind) if move == "deadline" else 1.0
        if seconds is not None and pending_deadlines(contact):
            return [seconds]
    elif move == "churn":
        steps = churn(contact, sends, i)
    elif move == "several":
        steps = [s for s in [several(contact, config, sends, i)] if s is not None]
    elif move == "ending":
        steps = [s for s in [ending(contact, sends, i)] if s is not None]
    if steps:
        return steps
    if move in ("churn", "several"):  # nothing to do for the transfer here: the running timer, if any
        seconds = deadline_advance(contact, kind)
        if seconds is not None:
            return [seconds]
    send = progress(contact, sends, i) if move not in ("wrong", "ending") else None
    return [send or wrong(contact, sends, i) or ("dissuade", {})]  # some event is always refused


def concrete(step: Step, contact: Contact, config: Mapping[str, Any]) -> Send | float:
    """A step of :func:`plan` as it is taken now: ``("offer", None)`` becomes an offer to every
    agent eligible at this point (an empty offer, refused, when there is none)."""
    if isinstance(step, float) or step[1] is not None:
        return step  # type: ignore[return-value]
    return broadcast(contact, config) or ("offer", {"agents": []})
