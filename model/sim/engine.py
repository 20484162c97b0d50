"""One replication of a scenario: the SimPy model of customers and agents decides *when* things
happen; the lifecycle (:mod:`model.lifecycle`) decides *what may happen*.

Every transition of every contact goes through :data:`model.lifecycle.COMPILED` (the compiled
form of ``TransferLifecycle``), which runs the chart's own guards and actions and raises on
anything the chart does not allow. Timers come from :data:`model.lifecycle.TIMERS`: the engine
schedules each at its deadline with SimPy's ``URGENT`` priority, so that a timer due at an
instant fires before any event sent at that instant (the lifecycle's tie rule).

Around that core, one module per concern: :mod:`.agents` (slots, free agents, occupancy),
:mod:`.routing` (which free agent gets a contact), :mod:`.waiting` (which waiting contact a
freed slot takes when services have priorities), :mod:`.arrivals` (when the next customer comes),
:mod:`.streams` (one random stream per purpose), :mod:`model.results.records` (the rows
recorded). What is counted is counted in one place, :meth:`Replication._send`, from the event
taken and the state it reached (:data:`COUNTED`).

The engine is event-driven on a SimPy ``Environment`` with plain callbacks rather than one
generator process per customer: the hot path is one scheduled event per arrival and one per
conversation end. The callbacks read SimPy's internals ``ev._value`` and ``self.env._now``
directly, and :meth:`Replication._at` fills ``_ok``/``_value`` itself, for speed: SimPy's
``value``/``now`` properties and ``Environment.timeout`` cost a call or an object per event on
the hot path (SimPy's own ``Timeout`` and ``step`` take the same shortcuts). Queue abandonment is resolved lazily: a queued contact's exit time (the
earlier of its patience and its dissuasion deadline) is drawn on arrival; an agent looking for
work skips, and closes at that time, the contacts whose exit time has passed. Nothing else
depends on a queued contact, so this is exactly what an eager timer would do, at no cost per
contact.

Why one module of about 650 lines: :class:`Replication`'s callbacks are one contact's flow
(arrival, conversation, transfer request, offers, decisions, timer, an agent looking for work),
calling one another over the replication's shared state; everything around that flow lives in
its own module already, and splitting the flow itself would only scatter it.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy
from simpy.events import NORMAL, URGENT

from ..lifecycle import (
    COMPILED,
    DISSUASION,
    FINAL_STATES,
    TABLE,
    TRANSFER,
    TRANSFERRING,
    ContactData,
    TransferRules,
    may_be_offered,
)
from ..results.metrics import Tally
from .agents import AgentPool, AgentState
from .arrivals import gap_sampler
from .intervals import Intervals
from .routing import Policy, make_policy
from .streams import stream, uniform_sampler
from .waiting import PriorityWork

if TYPE_CHECKING:
    from ..scenario import Scenario, Service, TransferRule

INF = math.inf
# The log holds plain tuples in the field order of EventRow/TransferRow/TimelineRow: CPython's
# garbage collector stops tracking a plain tuple of atomic values, not a tuple subclass, and a
# long run's million tracked rows made every collection rescan them (the log-kept benchmark ran
# about 30 % slower with named rows). results.records names the fields; tests pin the order.


def _counted() -> dict[tuple[str, str], tuple[str, bool]]:
    """``(event, state reached) -> (count, also per transfer target)``: what each transition of a
    counted contact adds to the tallies. Every transition into a final state counts that outcome
    (per target too when it ends a transfer); a transfer's own events count its offers, rejects,
    joins and returns."""
    out = {
        (event, row.target): (row.target, state in TRANSFERRING)
        for state in TABLE for event, rows in TABLE[state].items() for row in rows if row.target in FINAL_STATES
    }
    out[("request_transfer", "routing")] = ("transfers_requested", True)
    out[("offer", "offered")] = ("offers", True)  # one per agent offered
    out[("reject", "routing")] = ("rejects", True)
    out[("accept", "engaged")] = ("joined", True)  # transfers_accepted and the time to join
    out[(TRANSFER.event, "engaged")] = ("transfers_returned", True)  # policy "return"
    out[("withdraw", "routing")] = out[("withdraw", "offered")] = ("withdrawals", True)  # end of a shift
    out[("assign", "engaged")] = ("assigned", False)  # the wait in the queue and service level
    return out


COUNTED = _counted()


class SimContact(ContactData):
    """A contact in the simulation: the lifecycle's data plus what the engine needs."""

    __slots__ = (
        "cid",
        "service",
        "arrived_at",
        "counted",
        "leave_at",
        "leave_event",
        "group",
        "transfer_no",
        "transfer_group",
        "waiting",
        "tokens",
        "returned",
    )


@dataclass
class ReplicationOutput:
    """What one replication produces: counts, occupancy, and (optionally) its records."""

    replication: int
    by_service: dict[str, Tally]
    by_target: dict[str, Tally]
    occupancy: dict[str, float]
    events: list[tuple[Any, ...]] | None  # rows with EventRow's fields
    transfers: list[tuple[Any, ...]] | None  # rows with TransferRow's fields
    timeline: list[tuple[Any, ...]] = field(default_factory=list)  # rows with TimelineRow's fields
    staffed: dict[str, float] = field(default_factory=dict)  # group -> mean agents on shift
    intervals: Intervals | None = None  # per clock interval, when asked for


def _sampler(dist: Any, rng: Any) -> Callable[[], float]:
    if dist is None:
        return lambda: INF
    return dist.sampler(rng)


class Replication:
    """One replication of a scenario, from seeds to counts. Build, then :meth:`run`."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        replication: int,
        *,
        keep_events: bool,
        timeline_step: float | None,
        interval: float | None = None,
    ) -> None:
        self.sc = scenario
        sim = scenario.simulation
        self.warmup = float(sim.warmup)
        self.end = float(sim.warmup + sim.horizon)
        self.replication = replication
        self.env = simpy.Environment()
        self.log: list[tuple[Any, ...]] | None = [] if keep_events else None
        self.transfer_rows: list[tuple[Any, ...]] | None = [] if keep_events else None
        self.timeline: list[tuple[Any, ...]] = []
        self.timeline_step = timeline_step
        self.next_cid = 0

        # agents, groups, targets: members in the scenario's order (frontline-1, frontline-2,
        # ..., then named agents), a single agent's target holding that agent
        self.groups = {g.name: g for g in scenario.groups}
        clock0 = sim.start_seconds
        self.shift_changes = {name: sh.changes(clock0, self.end) for name, sh in scenario.shifts().items()}
        self.on_time = {name: sh.on_time(clock0, self.warmup, self.end) for name, sh in scenario.shifts().items()}
        self.pool = AgentPool(
            scenario.all_agents(),
            {t: (scenario.agents_of(t) if t in self.groups else sorted(m)) for t, m in scenario.targets().items()},
            list(self.groups),
            self.warmup,
            {name: on for name, (on, _) in self.shift_changes.items()},
        )
        self.agents = self.pool.agents
        self.members = self.pool.members
        self.free = self.pool.free
        self.queue: dict[str, deque[SimContact]] = {g: deque() for g in self.groups}
        # transfers waiting in ``routing`` per target, oldest request first; a contact is in
        # exactly one list while ``c.waiting`` and in none otherwise (see _wait/_stop_waiting)
        self.pending: dict[str, list[tuple[float, int, SimContact]]] = {t: [] for t in self.members}
        self.next_token = 0  # identifies one offer to one agent, unique over the replication
        self.in_transfer: dict[str, int] = dict.fromkeys(self.members, 0)
        self.transferring: dict[int, SimContact] = {}  # contacts in a transfer now, by id
        self.arrivals_since: dict[str, int] = dict.fromkeys(self.groups, 0)

        # random streams, one per purpose and name
        def rng(purpose: str, name: str) -> Any:
            return stream(seed, replication, purpose, name)

        # handle time by group and then by the contact's service: one sampler (stream) per group, and
        # one of its own for each service of ``handle_time_by_service``
        self.handle: dict[str, dict[str, Callable[[], float]]] = {}
        for g in scenario.groups:
            default = _sampler(g.handle_time, rng("handle_time", g.name))
            by = g.handle_time_by_service or {}
            self.handle[g.name] = {
                s.name: _sampler(by[s.name], rng("handle_time", f"{g.name}:{s.name}")) if s.name in by else default
                for s in scenario.services
            }
        self.accept_delay = {g.name: _sampler(g.accept_delay, rng("accept_delay", g.name)) for g in scenario.groups}
        self.u_reject = {g.name: uniform_sampler(rng("reject", g.name)) for g in scenario.groups}
        self.u_choice = {g.name: uniform_sampler(rng("transfer_choice", g.name)) for g in scenario.groups}
        self.routing: dict[str, Policy] = {
            g.name: make_policy(g.routing, self.members[g.name], uniform_sampler(rng("routing", g.name)),
                                scenario.skill_levels(g.name) if g.routing == "highest_skill" else None)
            for g in scenario.groups
        }
        self.patience = {s.name: _sampler(s.patience, rng("patience", s.name)) for s in scenario.services}
        self.transfer_patience = {
            s.name: _sampler(s.transfer_patience, rng("transfer_patience", s.name)) for s in scenario.services
        }
        self.next_gap = {s.name: gap_sampler(s, rng("arrivals", s.name), self.end) for s in scenario.services}

        targets = {t: frozenset(a.name for a in m) for t, m in self.members.items()}
        self.rules = {
            s.name: TransferRules(
                transfer_timeout=float(s.transfer_timeout),
                dissuasion_timeout=None if s.dissuasion_timeout is None else float(s.dissuasion_timeout),
                on_transfer_timeout=s.on_transfer_timeout,
                targets=targets,
                is_available=self.pool.is_free,
            )
            for s in scenario.services
        }
        max_ttj = max(float(s.transfer_timeout) for s in scenario.services)
        self.by_service = {s.name: Tally(max_ttj, float(s.service_level_threshold)) for s in scenario.services}
        self.by_target = {t: Tally(max_ttj) for t in self.members}
        self.intervals = None if interval is None else Intervals(scenario, interval, max_ttj, self.warmup, self.end)
        # whether a timer fires before an event due at a time (its tie rule), as bare functions
        self.dissuasion_first = DISSUASION.rule
        self.transfer_first = TRANSFER.rule
        # the group whose rules and handle time apply to a contact joined through a target
        self.target_group = {t: (t if t in self.groups else self.members[t][0].groups[0]) for t in self.members}
        if scenario.has_priorities:  # waiting work by priority (.waiting); else first come, first served
            self.work = PriorityWork(scenario.services, self.groups, self.members, self._route, self._assign,
                                     self._leave_queue)
            self.queue = self.work.queues  # type: ignore[assignment]
            self._dispatch = self.work.dispatch  # type: ignore[method-assign]
            self._wait = self.work.wait  # type: ignore[method-assign]
            self._stop_waiting = self.work.stop_waiting  # type: ignore[method-assign]

    # -- the lifecycle, the records and the counts ------------------------------------------
    def _at(self, delay: float, fn: Callable[[Any], None], value: Any, priority: int = NORMAL) -> None:
        # A bare, already-triggered event put straight on the queue (as SimPy's own Timeout
        # does): ``Environment.timeout`` plus a callback would cost a second object per event.
        ev = simpy.Event(self.env)
        ev._ok = True
        ev._value = value
        ev.callbacks.append(fn)
        self.env.schedule(ev, priority, delay)

    def _send(
        self,
        c: SimContact,
        event: str,
        now: float,
        agent: str | None = None,
        group: str | None = None,
        logged_agent: str | None = None,
        **data: Any,
    ) -> None:
        """Take ``event`` through the lifecycle (raises if it is not allowed), record it, and count it:
        the one place where counts are kept, from the event taken and the state reached
        (:data:`COUNTED`), per service and, for a transfer, per target."""
        before = c.chart_state  # always a leaf name in the engine (the compiled lifecycle sets it)
        after = COMPILED.send(c, event, now=now, agent=agent, **data)
        if self.log is not None:
            self.log.append((now, c.cid, c.service, event, before, after, logged_agent or agent, group, c.target))
        if c.counted:
            counted = COUNTED.get((event, after))
            if counted is not None:
                count, per_target = counted
                s = self.by_service[c.service]
                t = self.by_target[c.target] if per_target else None  # type: ignore[index]
                if count == "joined":
                    ttj = now - c.transfer_requested_at  # type: ignore[operator]
                    s.joined(ttj)
                    t.joined(ttj)  # type: ignore[union-attr]
                elif count == "assigned":
                    s.assigned(now - c.arrived_at)
                else:
                    n = len(data["agents"]) if count == "offers" else 1
                    s.counts[count] += n
                    if t is not None:
                        t.counts[count] += n
                if self.intervals is not None:
                    self.intervals.count(c, count, per_target, now, len(data["agents"]) if count == "offers" else 1)

    def _transfer_row(self, c: SimContact, outcome: str, ended_at: float) -> None:
        if self.transfer_rows is None:
            return
        requested = c.transfer_requested_at
        self.transfer_rows.append(
            (  # TransferRow's fields
                c.cid,
                c.service,
                c.transfer_group,
                c.target,
                requested,
                outcome,
                ended_at,
                ended_at - requested if outcome == "accepted" else math.nan,
                c.offers_made,
                c.rejects,
                c.counted,
            )
        )

    # -- arrivals -----------------------------------------------------------------------
    def _schedule_arrival(self, s: Service, now: float) -> None:
        gap = self.next_gap[s.name](now)
        if now + gap < self.end:
            self._at(gap, self._on_arrival, s)

    def _on_arrival(self, ev: Any) -> None:
        s = ev._value
        now = self.env._now  # SimPy's clock without the property call (hot path)
        self._schedule_arrival(s, now)
        c = SimContact(self.rules[s.name], now)
        c.cid = self.next_cid
        self.next_cid += 1
        c.service = s.name
        c.arrived_at = now
        c.counted = now >= self.warmup
        c.group = s.entry_group
        c.transfer_no = 0
        c.transfer_group = None
        c.waiting = False
        c.tokens = None
        c.returned = False
        p = now + self.patience[s.name]()
        if self.dissuasion_first(c, p):
            c.leave_at, c.leave_event = DISSUASION.deadline_of(c), DISSUASION.event
        else:
            c.leave_at, c.leave_event = p, "customer_leave"
        if c.counted:
            self.by_service[s.name].counts["arrivals"] += 1
            if self.intervals is not None:
                self.intervals.arrived(c)
        self.arrivals_since[s.entry_group] += 1
        if self.log is not None:
            self.log.append((now, c.cid, s.name, "arrive", None, c.chart_state, None, s.entry_group, None))
        free = self.free[s.entry_group]
        if c.leave_at <= now and c.leave_event == DISSUASION.event:  # a zero dissuasion_timeout
            self._send(c, DISSUASION.event, now, group=s.entry_group)
        elif free:
            self._assign(c, self.routing[s.entry_group].pick(free), s.entry_group, now)
        else:
            self.queue[s.entry_group].append(c)

    # -- conversations ------------------------------------------------------------------
    def _assign(self, c: SimContact, a: AgentState, group: str, now: float) -> None:
        self._send(c, "assign", now, agent=a.name, group=group)
        self.pool.hold(a, now)
        c.group = group
        self._at(self.handle[group][c.service](), self._on_conversation_end, (c, a))

    def _on_conversation_end(self, ev: Any) -> None:
        c, a = ev._value
        now = self.env._now
        group = c.group
        rule = None if c.returned else self._choose_transfer(group)
        if rule is not None and c.target_is_valid(to=rule.to):  # (not a transfer to the agent itself)
            self._request_transfer(c, a, group, rule, now)
        else:
            self._send(c, "close", now, agent=a.name, group=group)
            self.pool.release(a, now)
        self._dispatch(a, now)

    def _choose_transfer(self, group: str) -> TransferRule | None:
        rules = self.groups[group].transfers
        if not rules:
            return None
        u = self.u_choice[group]()
        acc = 0.0
        for r in rules:
            acc += r.probability
            if u < acc:
                return r
        return None

    # -- transfers ----------------------------------------------------------------------
    def _request_transfer(self, c: SimContact, a: AgentState, group: str, rule: TransferRule, now: float) -> None:
        target = rule.to
        self._send(c, "request_transfer", now, agent=a.name, group=group, to=target, message=rule.message)
        self.pool.release(a, now)
        c.transfer_no += 1
        c.transfer_group = group
        c.tokens = {}
        self.in_transfer[target] += 1
        self.transferring[c.cid] = c
        leave = now + self.transfer_patience[c.service]()
        if self.transfer_first(c, leave):
            self._at(TRANSFER.deadline_of(c) - now, self._on_transfer_end, (c, c.transfer_no, TRANSFER.event), URGENT)
        else:
            self._at(leave - now, self._on_transfer_end, (c, c.transfer_no, "customer_leave"))
        if not self.transfer_first(c, now):  # a zero transfer_timeout fires before the first offer
            self._route(c, now)

    def _eligible(self, c: SimContact) -> list[AgentState]:
        """The agents ``c``'s transfer may be offered to now (longest idle first for a group)."""
        target = c.target
        if target in self.free:  # a group: its free agents
            return [a for a in self.free[target] if may_be_offered(c, a.name)]
        a = self.members[target][0]
        return [a] if may_be_offered(c, a.name) else []

    def _route(self, c: SimContact, now: float, keep: frozenset[str] = frozenset()) -> None:
        """Offer the transfer to eligible agents, or leave it waiting in ``routing``."""
        eligible = self._eligible(c)
        if not eligible:
            self._wait(c)
            return
        self._stop_waiting(c)
        group = self.target_group[c.target]
        g = self.groups[group]
        if c.target not in self.groups:
            chosen = eligible
        elif g.offer_mode == "broadcast":
            chosen = eligible
        else:
            chosen = [self.routing[group].pick(eligible)]
        names = [a.name for a in chosen]
        self._send(c, "offer", now, group=group, agents=names, logged_agent=",".join(names))
        for a in chosen:
            self.pool.hold(a, now)
            if a.name in keep:
                continue  # still deciding on the offer it held before the re-offer
            self.next_token += 1
            token = c.tokens[a.name] = self.next_token
            delay = self.accept_delay[group]()
            if delay == INF:
                delay = 0.0
            rejects = g.reject_probability > 0 and self.u_reject[group]() < g.reject_probability
            if g.offer_timeout is not None and delay >= g.offer_timeout:
                self._at(g.offer_timeout, self._on_decision, (c, a, token, "offer_timeout"), URGENT)
            else:
                self._at(delay, self._on_decision, (c, a, token, "reject" if rejects else "accept"))

    def _wait(self, c: SimContact) -> None:
        """Put ``c`` (in ``routing``, nobody eligible) among its target's waiting transfers."""
        if not c.waiting:
            c.waiting = True
            insort(self.pending[c.target], (c.transfer_requested_at, c.cid, c))

    def _stop_waiting(self, c: SimContact) -> None:
        """Take ``c`` out of the waiting transfers: it is offered, or its transfer ended."""
        if c.waiting:
            c.waiting = False
            q = self.pending[c.target]
            del q[bisect_left(q, (c.transfer_requested_at, c.cid))]

    def _withdraw(self, c: SimContact, now: float, but: AgentState | None = None) -> list[AgentState]:
        """Release the slots reserved by the offers ``c`` held (except ``but``'s)."""
        # sorted: set order depends on the process's string hashing, results must not
        released = [self.agents[n] for n in sorted(c.offered) if but is None or n != but.name]
        for a in released:
            self.pool.release(a, now)
        return released

    def _on_decision(self, ev: Any) -> None:
        c, a, token, event = ev._value
        if a.name not in c.offered or c.tokens.get(a.name) != token:
            return  # the offer was withdrawn meanwhile
        now = self.env._now
        group = self.target_group[c.target]
        if event == "accept":
            others = self._withdraw(c, now, but=a)
            self._send(c, "accept", now, agent=a.name, group=group)
            self._end_transfer(c, "accepted", now)
            c.group = group
            self._at(self.handle[group][c.service](), self._on_conversation_end, (c, a))
            for o in others:
                self._dispatch(o, now)
            return
        holders = [self.agents[n] for n in sorted(c.offered)]
        keep = frozenset(n for n in c.offered if n != a.name) if self.groups[group].offer_mode == "broadcast" else frozenset()
        self._send(c, event, now, agent=a.name, group=group)
        for h in holders:
            self.pool.release(h, now)
        self._route(c, now, keep)
        self._dispatch(a, now)

    def _on_transfer_end(self, ev: Any) -> None:
        c, transfer_no, event = ev._value
        if c.transfer_no != transfer_no or c.chart_state not in TRANSFERRING:
            return
        now = self.env._now
        holders = self._withdraw(c, now)
        self._send(c, event, now, group=self.target_group[c.target])
        state = c.chart_state
        if state in FINAL_STATES:
            self._end_transfer(c, state, now)
        else:  # policy "return": back to the requesting agent
            a = self.agents[c.owner]
            self.pool.hold(a, now)  # may exceed max_concurrent: the requester must take it back
            c.returned = True
            self._end_transfer(c, "returned", now)
            self._at(self.handle[c.transfer_group][c.service](), self._on_conversation_end, (c, a))
        for h in holders:
            self._dispatch(h, now)

    def _end_transfer(self, c: SimContact, outcome: str, now: float) -> None:
        self._stop_waiting(c)
        self.in_transfer[c.target] -= 1
        del self.transferring[c.cid]
        self._transfer_row(c, outcome, now)
        c.offers_made = 0
        c.rejects = 0

    # -- an agent looks for work ---------------------------------------------------------
    def _dispatch(self, a: AgentState, now: float) -> None:
        """Serve ``a``'s waiting work while it has a free slot: transfers first, oldest first."""
        while a.on_shift and a.busy < a.slots:
            c = self._oldest_transfer(a)
            if c is not None:
                self._route(c, now)
                if c.waiting:  # never: ``a`` may take it (the lifecycle says so), so it was offered
                    raise RuntimeError(f"engine: transfer of contact {c.cid} not offered to eligible agent {a.name}")
                continue
            best: SimContact | None = None
            best_group = ""
            for g in a.groups:
                q = self.queue[g]
                while q and q[0].leave_at <= now:
                    self._leave_queue(q.popleft())
                if q and (best is None or q[0].arrived_at < best.arrived_at):
                    best, best_group = q[0], g
            if best is None:
                return
            self.queue[best_group].popleft()
            self._assign(best, a, best_group, now)

    def _oldest_transfer(self, a: AgentState) -> SimContact | None:
        """The oldest waiting transfer ``a`` may be offered (aimed at it or one of its groups;
        :func:`~model.lifecycle.may_be_offered`), taken out of the waiting transfers; ``None`` if
        there is none."""
        best: SimContact | None = None
        for t in a.targets:
            for _, _, c in self.pending.get(t, ()):
                if may_be_offered(c, a.name):
                    if best is None or (c.transfer_requested_at, c.cid) < (best.transfer_requested_at, best.cid):
                        best = c
                    break
        if best is not None:
            self._stop_waiting(best)
        return best

    def _leave_queue(self, c: SimContact) -> None:
        """Close a queued contact at its exit time (patience or dissuasion), found lazily."""
        self._send(c, c.leave_event, c.leave_at, group=c.group)

    # -- shifts -------------------------------------------------------------------------
    def _on_shift_change(self, ev: Any) -> None:
        """Agents whose shifts end or start at this instant, all at once (so a transfer withdrawn
        from one of them is never offered to another whose shift ends at the same instant)."""
        changes = ev._value
        now = self.env._now
        ending = [a for a, on in changes if not on]
        for a in ending:
            self.pool.sign_off(a, now)
        for a, on in changes:
            if on:
                self.pool.sign_on(a, now)
        # the outstanding offers of agents going off shift are withdrawn (they are not excluded);
        # a transfer left with no offer is routed again, to the agents on shift
        for a in ending:
            for c in [c for c in self.transferring.values() if a.name in c.offered]:
                self._send(c, "withdraw", now, agent=a.name, group=self.target_group[c.target])
                del c.tokens[a.name]
                self.pool.release(a, now)
                if not c.offered:
                    self._route(c, now)
        for a, on in changes:
            if on:
                self._dispatch(a, now)

    # -- run ----------------------------------------------------------------------------
    def _sample_timeline(self, ev: Any) -> None:
        now = self.env._now
        for g in self.groups:
            members = self.members[g]
            self.timeline.append(
                (  # TimelineRow's fields
                    now,
                    g,
                    self.in_transfer[g],
                    sum(a.busy for a in members),
                    sum(a.slots for a in members if a.on_shift),
                    self.arrivals_since[g],
                )
            )
            self.arrivals_since[g] = 0
        if now + self.timeline_step <= self.end:  # type: ignore[operator]
            self._at(self.timeline_step, self._sample_timeline, None)  # type: ignore[arg-type]

    def run(self) -> ReplicationOutput:
        """Simulate warm-up plus horizon and return the counts (and records if kept)."""
        at: dict[float, list[tuple[AgentState, bool]]] = {}
        for name, (_, changes) in self.shift_changes.items():
            for t, on in changes:
                at.setdefault(t, []).append((self.agents[name], on))
        for t in sorted(at):
            self._at(t, self._on_shift_change, at[t], URGENT)  # staffing at t holds for all of t
        for s in self.sc.services:
            self._schedule_arrival(s, 0.0)
        if self.timeline_step:
            self._at(self.timeline_step, self._sample_timeline, None)
        if self.intervals is not None:
            self.intervals.schedule(self)
        self.env.run(until=self.end)
        self._finish()
        span = self.end - self.warmup
        return ReplicationOutput(
            self.replication,
            self.by_service,
            self.by_target,
            {g: self.pool.occupancy(g, self.on_time) for g in self.groups},
            self.log,
            self.transfer_rows,
            self.timeline,
            {g: sum(self.on_time[a.name] for a in self.members[g]) / span if span > 0 else math.nan
             for g in self.groups},
            None if self.intervals is None else self.intervals.close(self),
        )

    def _finish(self) -> None:
        """Close queued contacts whose exit time fell before the horizon; count what is open."""
        end = self.end
        self.pool.close_books(end)
        for q in self.queue.values():
            while q:
                c = q.popleft()
                if c.leave_at <= end:
                    self._leave_queue(c)
        for c in self.transferring.values():  # still in a transfer at the horizon
            self._transfer_row(c, "open", math.nan)
        for tally in (*self.by_service.values(), *self.by_target.values()):
            cnt = tally.counts
            cnt["open"] = cnt["arrivals"] - sum(cnt[k] for k in FINAL_STATES) if cnt["arrivals"] else 0
            ended = sum(cnt[k] for k in ("transfers_accepted", "transfer_expired", "abandoned_transfer", "transfers_returned"))
            cnt["transfers_open"] = cnt["transfers_requested"] - ended
