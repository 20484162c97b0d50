"""The SimPy model of customers and agents: it decides *when* things happen.

*What may happen* is decided by the lifecycle: every transition of every contact goes through
:data:`model.lifecycle.COMPILED` (the compiled form of ``TransferLifecycle``), which runs the
chart's own guards and actions and raises on anything the chart does not allow.

The engine is event-driven on a SimPy ``Environment`` with plain callbacks rather than one
generator process per customer: the hot path is one scheduled event per arrival and one per
conversation end. Timers (``transfer_timeout``) are scheduled with SimPy's ``URGENT`` priority,
so that timers due at an instant fire before events sent at that instant.

Queue abandonment is resolved lazily: a queued contact's exit time (the earlier of its patience
and its dissuasion deadline) is drawn on arrival; an agent looking for work skips, and closes at
that time, the contacts whose exit time has passed. Nothing else depends on a queued contact, so
this is exactly what an eager timer would do, at no cost per contact.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import simpy
from simpy.events import NORMAL, URGENT

from ..lifecycle import COMPILED, ContactData, TransferRules, agent_target
from ..results.metrics import Tally
from .streams import exponential_sampler, stream, uniform_sampler

INF = math.inf


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


class AgentState:
    """One agent: slots held (conversations plus reserved offers) and idle ordering."""

    __slots__ = ("name", "slots", "busy", "groups", "targets", "last_release", "area", "last_change")

    def __init__(self, name: str, slots: int, groups: tuple[str, ...]) -> None:
        self.name = name
        self.slots = slots
        self.busy = 0
        self.groups = groups
        self.targets = (*groups, agent_target(name))
        self.last_release = 0.0
        self.area = 0.0  # slot-seconds held after the warm-up
        self.last_change = 0.0


@dataclass
class ReplicationOutput:
    """What one replication produces: counts, occupancy, and (optionally) its records."""

    replication: int
    by_service: dict[str, Tally]
    by_target: dict[str, Tally]
    occupancy: dict[str, float]
    events: list[tuple[Any, ...]] | None
    transfers: list[tuple[Any, ...]] | None
    timeline: list[tuple[Any, ...]] = field(default_factory=list)


def _sampler(dist: Any, rng: Any) -> Callable[[], float]:
    if dist is None:
        return lambda: INF
    return dist.sampler(rng)


class Replication:
    """One replication of a scenario, from seeds to counts. Build, then :meth:`run`."""

    def __init__(
        self,
        scenario: Any,
        seed: int,
        replication: int,
        *,
        keep_events: bool,
        timeline_step: float | None,
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

        # agents, groups, targets
        self.agents: dict[str, AgentState] = {
            name: AgentState(name, mc, tuple(groups)) for name, (mc, groups) in scenario.all_agents().items()
        }
        self.groups = {g.name: g for g in scenario.groups}
        # in the scenario's order (frontline-1, frontline-2, ..., then named agents)
        self.members: dict[str, list[AgentState]] = {
            t: [self.agents[a] for a in (scenario.agents_of(t) if t in self.groups else sorted(m))]
            for t, m in scenario.targets().items()
        }
        # free agents per group, ordered by when they last released a slot (longest idle first)
        self.free: dict[str, dict[AgentState, None]] = {g: {} for g in self.groups}
        for g in self.groups:
            for a in self.members[g]:
                self.free[g][a] = None
        self.rr: dict[str, int] = dict.fromkeys(self.groups, 0)
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

        self.handle = {g.name: _sampler(g.handle_time, rng("handle_time", g.name)) for g in scenario.groups}
        self.accept_delay = {g.name: _sampler(g.accept_delay, rng("accept_delay", g.name)) for g in scenario.groups}
        self.u_reject = {g.name: uniform_sampler(rng("reject", g.name)) for g in scenario.groups}
        self.u_choice = {g.name: uniform_sampler(rng("transfer_choice", g.name)) for g in scenario.groups}
        self.u_routing = {g.name: uniform_sampler(rng("routing", g.name)) for g in scenario.groups}
        self.patience = {s.name: _sampler(s.patience, rng("patience", s.name)) for s in scenario.services}
        self.transfer_patience = {
            s.name: _sampler(s.transfer_patience, rng("transfer_patience", s.name)) for s in scenario.services
        }
        self.arrival_rng = {s.name: rng("arrivals", s.name) for s in scenario.services}
        self.flat_gap = {
            s.name: exponential_sampler(self.arrival_rng[s.name], 3600.0 / s.arrivals.rate_per_hour)
            for s in scenario.services
            if s.arrivals.kind == "poisson" and s.arrivals.profile is None and s.arrivals.rate_per_hour > 0
        }

        targets = {t: frozenset(a.name for a in m) for t, m in self.members.items()}
        self.rules = {
            s.name: TransferRules(
                transfer_timeout=float(s.transfer_timeout),
                dissuasion_timeout=None if s.dissuasion_timeout is None else float(s.dissuasion_timeout),
                on_transfer_timeout=s.on_transfer_timeout,
                targets=targets,
                is_available=self._is_free,
            )
            for s in scenario.services
        }
        self.service_of = {s.name: s for s in scenario.services}
        max_ttj = max(float(s.transfer_timeout) for s in scenario.services)
        self.by_service = {s.name: Tally(max_ttj) for s in scenario.services}
        self.by_target = {t: Tally(max_ttj) for t in self.members}
        # the group whose rules and handle time apply to a contact joined through a target
        self.target_group = {t: (t if t in self.groups else self.members[t][0].groups[0]) for t in self.members}

    # -- helpers ------------------------------------------------------------------------
    def _is_free(self, agent: str) -> bool:
        a = self.agents[agent]
        return a.busy < a.slots

    def _at(self, delay: float, fn: Callable[[Any], None], value: Any, priority: int = NORMAL) -> None:
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
        """Take ``event`` through the lifecycle (raises if it is not allowed) and log it."""
        before = c.chart_state
        COMPILED.send(c, event, now=now, agent=agent, **data)
        if self.log is not None:
            self.log.append(
                (now, c.cid, c.service, event, before, c.chart_state, logged_agent or agent, group, c.target)
            )

    def _hold(self, a: AgentState, now: float) -> None:
        """Take one slot of ``a`` (a conversation or a reserved offer)."""
        self._occupancy(a, now)
        a.busy += 1
        if a.busy >= a.slots:
            for g in a.groups:
                self.free[g].pop(a, None)

    def _release(self, a: AgentState, now: float) -> None:
        self._occupancy(a, now)
        a.busy -= 1
        a.last_release = now
        if a.busy < a.slots:  # (a returned transfer may have taken it over its slots)
            for g in a.groups:
                free = self.free[g]
                free.pop(a, None)
                free[a] = None  # moves to the end: most recently idle

    def _occupancy(self, a: AgentState, now: float) -> None:
        start = a.last_change if a.last_change > self.warmup else self.warmup
        if now > start:
            a.area += a.busy * (now - start)
        a.last_change = now

    def _pick(self, group: str, candidates: Collection[AgentState]) -> AgentState:
        """Choose one of ``candidates`` (all free, longest idle first) by ``group``'s routing policy."""
        policy = self.groups[group].routing
        if policy == "longest_idle" or (len(candidates) == 1 and policy != "round_robin"):
            return next(iter(candidates))
        if policy == "least_busy":
            return min(candidates, key=lambda a: a.busy / a.slots)  # ties: the longest idle
        if policy == "random":
            return list(candidates)[int(self.u_routing[group]() * len(candidates))]
        # round_robin: the first candidate at or after the group's pointer, which then moves past
        # it (also when the choice was forced: "next free agent after the last one chosen")
        order = self.members[group]
        n = len(order)
        start = self.rr[group]
        for k in range(n):
            a = order[(start + k) % n]
            if a in candidates:
                self.rr[group] = (start + k + 1) % n
                return a
        raise RuntimeError(f"round_robin: no candidate is a member of {group!r}")

    # -- arrivals -----------------------------------------------------------------------
    def _start_arrivals(self) -> None:
        for s in self.sc.services:
            self._schedule_arrival(s, 0.0)

    def _schedule_arrival(self, s: Any, now: float) -> None:
        gap = self._next_gap(s, now)
        if now + gap < self.end:
            self._at(gap, self._on_arrival, s)

    def _next_gap(self, s: Any, now: float) -> float:
        flat = self.flat_gap.get(s.name)
        if flat is not None:
            return flat()
        arr = s.arrivals
        rng = self.arrival_rng[s.name]
        if arr.kind == "constant":
            return 3600.0 / arr.rate_per_hour
        if arr.max_rate <= 0:
            return INF
        # A piecewise-constant rate, step by step: an exponential gap at the current step's rate;
        # if it crosses the next step, restart there (the exponential forgets). Exact, and its
        # cost is one draw per step crossed; thinning against the day's highest rate would cost
        # (highest / current rate) draws per arrival, without bound for a tiny rate at night.
        t = now
        while t < self.end:
            rate = arr.rate_at(t)
            change = arr.next_change(t)
            if not change > t:  # rounding exactly at a step boundary
                change = math.nextafter(t, INF)
            if rate > 0:
                arrival = t + rng.exponential(1.0 / rate)
                if arrival < change:
                    return arrival - now
            t = change
        return INF

    def _on_arrival(self, ev: Any) -> None:
        s = ev._value
        now = self.env._now
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
        if p < c.dissuasion_deadline:
            c.leave_at, c.leave_event = p, "customer_leave"
        else:
            c.leave_at, c.leave_event = c.dissuasion_deadline, "dissuade"
        if c.counted:
            self.by_service[s.name].counts["arrivals"] += 1
        self.arrivals_since[s.entry_group] += 1
        if self.log is not None:
            self.log.append((now, c.cid, s.name, "arrive", None, "queued", None, s.entry_group, None))
        free = self.free[s.entry_group]
        if free:
            self._assign(c, self._pick(s.entry_group, free), s.entry_group, now)
        else:
            self.queue[s.entry_group].append(c)

    # -- conversations ------------------------------------------------------------------
    def _assign(self, c: SimContact, a: AgentState, group: str, now: float) -> None:
        self._send(c, "assign", now, agent=a.name, group=group)
        self._hold(a, now)
        c.group = group
        self._at(self.handle[group](), self._on_conversation_end, (c, a))

    def _on_conversation_end(self, ev: Any) -> None:
        c, a = ev._value
        now = self.env._now
        group = c.group
        rule = None if c.returned else self._choose_transfer(group)
        if rule is not None and rule.to != agent_target(a.name):
            self._request_transfer(c, a, group, rule, now)
        else:
            self._send(c, "close", now, agent=a.name, group=group)
            if c.counted:
                self.by_service[c.service].counts["completed"] += 1
            self._release(a, now)
        self._dispatch(a, now)

    def _choose_transfer(self, group: str) -> Any:
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
    def _request_transfer(self, c: SimContact, a: AgentState, group: str, rule: Any, now: float) -> None:
        target = rule.to
        self._send(c, "request_transfer", now, agent=a.name, group=group, to=target, message=rule.message)
        self._release(a, now)
        c.transfer_no += 1
        c.transfer_group = group
        c.tokens = {}
        self.in_transfer[target] += 1
        self.transferring[c.cid] = c
        if c.counted:
            self.by_service[c.service].counts["transfers_requested"] += 1
            self.by_target[target].counts["transfers_requested"] += 1
        leave = now + self.transfer_patience[c.service]()
        if c.transfer_deadline <= leave:
            self._at(c.transfer_deadline - now, self._on_transfer_end, (c, c.transfer_no, "transfer_timeout"), URGENT)
        else:
            self._at(leave - now, self._on_transfer_end, (c, c.transfer_no, "customer_leave"))
        self._route(c, now)

    def _eligible(self, c: SimContact) -> list[AgentState]:
        target = c.target
        if target in self.free:  # a group: its free agents, longest idle first
            return [a for a in self.free[target] if a.name not in c.rejected]
        a = self.members[target][0]
        return [a] if a.busy < a.slots and a.name not in c.rejected else []

    def _route(self, c: SimContact, now: float, keep: frozenset[str] = frozenset()) -> None:
        """Offer the transfer to eligible agents, or leave it waiting in ``routing``."""
        eligible = self._eligible(c)
        if not eligible:
            self._wait(c)
            return
        self._stop_waiting(c)
        group = self.target_group[c.target]
        g = self.groups[group]
        if g.offer_mode == "broadcast" and c.target in self.groups:
            chosen = eligible
        else:
            chosen = [self._pick(group, eligible) if c.target in self.groups else eligible[0]]
        names = [a.name for a in chosen]
        self._send(c, "offer", now, group=group, agents=names, logged_agent=",".join(names))
        tally_s = self.by_service[c.service].counts
        tally_t = self.by_target[c.target].counts
        for a in chosen:
            self._hold(a, now)
            if c.counted:
                tally_s["offers"] += 1
                tally_t["offers"] += 1
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
            self._release(a, now)
        return released

    def _on_decision(self, ev: Any) -> None:
        c, a, token, event = ev._value
        if a.name not in c.offered or c.tokens.get(a.name) != token:
            return  # the offer was withdrawn meanwhile
        now = self.env._now
        group = self.target_group[c.target]
        if event == "accept":
            others = self._withdraw(c, now, but=a)
            requested_at = c.transfer_requested_at
            self._send(c, "accept", now, agent=a.name, group=group)
            self._end_transfer(c, "accepted", now)
            if c.counted:
                ttj = now - requested_at
                self.by_service[c.service].joined(ttj)
                self.by_target[c.target].joined(ttj)
            c.group = group
            self._at(self.handle[group](), self._on_conversation_end, (c, a))
            for o in others:
                self._dispatch(o, now)
            return
        holders = [self.agents[n] for n in sorted(c.offered)]
        keep = frozenset(n for n in c.offered if n != a.name) if self.groups[group].offer_mode == "broadcast" else frozenset()
        self._send(c, event, now, agent=a.name, group=group)
        if event == "reject" and c.counted:
            self.by_service[c.service].counts["rejects"] += 1
            self.by_target[c.target].counts["rejects"] += 1
        for h in holders:
            self._release(h, now)
        self._route(c, now, keep)
        self._dispatch(a, now)

    def _on_transfer_end(self, ev: Any) -> None:
        c, transfer_no, event = ev._value
        if c.transfer_no != transfer_no or c.state not in ("routing", "offered"):
            return
        now = self.env._now
        holders = self._withdraw(c, now)
        self._send(c, event, now, group=self.target_group[c.target])
        state = c.state
        if state == "engaged":  # policy "return": back to the requesting agent
            a = self.agents[c.owner]
            self._hold(a, now)  # may exceed max_concurrent: the requester must take it back
            c.returned = True
            self._end_transfer(c, "returned", now)
            self._at(self.handle[c.transfer_group](), self._on_conversation_end, (c, a))
        else:
            self._end_transfer(c, state, now)
            if c.counted:
                self.by_service[c.service].counts[state] += 1
                self.by_target[c.target].counts[state] += 1
        for h in holders:
            self._dispatch(h, now)

    def _end_transfer(self, c: SimContact, outcome: str, now: float) -> None:
        self._stop_waiting(c)
        self.in_transfer[c.target] -= 1
        self.transferring.pop(c.cid, None)
        if outcome == "returned" and c.counted:
            self.by_service[c.service].counts["transfers_returned"] += 1
            self.by_target[c.target].counts["transfers_returned"] += 1
        self._transfer_row(c, outcome, now)
        c.offers_made = 0
        c.rejects = 0

    def _transfer_row(self, c: SimContact, outcome: str, ended_at: float) -> None:
        if self.transfer_rows is None:
            return
        requested = c.transfer_requested_at
        self.transfer_rows.append(
            (
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

    # -- an agent looks for work ---------------------------------------------------------
    def _dispatch(self, a: AgentState, now: float) -> None:
        """Serve ``a``'s waiting work while it has a free slot: transfers first, oldest first."""
        while a.busy < a.slots:
            c = self._oldest_transfer(a)
            if c is not None:
                self._route(c, now)
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
        """The oldest waiting transfer ``a`` may take (aimed at it or one of its groups, not
        rejected by it), taken out of the waiting transfers; ``None`` if there is none."""
        best: SimContact | None = None
        for t in a.targets:
            for _, _, c in self.pending.get(t, ()):
                if a.name not in c.rejected:
                    if best is None or (c.transfer_requested_at, c.cid) < (best.transfer_requested_at, best.cid):
                        best = c
                    break
        if best is not None:
            self._stop_waiting(best)
        return best

    def _leave_queue(self, c: SimContact) -> None:
        """Close a queued contact at its exit time (patience or dissuasion), found lazily."""
        self._send(c, c.leave_event, c.leave_at, group=c.group)
        if c.counted:
            self.by_service[c.service].counts[c.state] += 1

    # -- run ----------------------------------------------------------------------------
    def _sample_timeline(self, ev: Any) -> None:
        now = self.env._now
        for g in self.groups:
            members = self.members[g]
            self.timeline.append(
                (
                    now,
                    g,
                    self.in_transfer.get(g, 0),
                    sum(a.busy for a in members),
                    sum(a.slots for a in members),
                    self.arrivals_since[g],
                )
            )
            self.arrivals_since[g] = 0
        if self.timeline_step and now + self.timeline_step <= self.end:
            self._at(self.timeline_step, self._sample_timeline, None)

    def run(self) -> ReplicationOutput:
        """Simulate warm-up plus horizon and return the counts (and records if kept)."""
        self._start_arrivals()
        if self.timeline_step:
            self._at(self.timeline_step, self._sample_timeline, None)
        self.env.run(until=self.end)
        self._finish()
        occupancy = {}
        span = self.end - self.warmup
        for g in self.groups:
            members = self.members[g]
            slots = sum(a.slots for a in members)
            occupancy[g] = sum(a.area for a in members) / (slots * span) if slots and span > 0 else math.nan
        return ReplicationOutput(
            self.replication,
            self.by_service,
            self.by_target,
            occupancy,
            self.log,
            self.transfer_rows,
            self.timeline,
        )

    def _finish(self) -> None:
        """Close queued contacts whose exit time fell before the horizon; count what is open."""
        end = self.end
        for a in self.agents.values():
            self._occupancy(a, end)
        for q in self.queue.values():
            while q:
                c = q.popleft()
                if c.leave_at <= end:
                    self._leave_queue(c)
        for c in self.transferring.values():  # still in a transfer at the horizon
            self._transfer_row(c, "open", math.nan)
        for tally in (*self.by_service.values(), *self.by_target.values()):
            cnt = tally.counts
            finals = sum(cnt[k] for k in ("completed", "abandoned_queue", "dissuaded", "abandoned_transfer", "transfer_expired"))
            cnt["open"] = cnt["arrivals"] - finals if cnt["arrivals"] else 0
            ended = sum(cnt[k] for k in ("transfers_accepted", "transfer_expired", "abandoned_transfer", "transfers_returned"))
            cnt["transfers_open"] = cnt["transfers_requested"] - ended
