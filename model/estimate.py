"""Analytic estimates of a scenario: per group, the queueing formula each flow of contacts meets,
for the whole measured window or per clock interval of the day.

Why: ``transfer-sim estimate`` answers "roughly what will happen?" in milliseconds, before any
simulation, from :mod:`model.analytic`'s formulas; :data:`ESTIMATE_ASSUMPTIONS` says what that
simplifies away (so a reader knows when to trust the simulation instead). The clock side (stretches
of constant rates and staffing, intervals) lives in :mod:`model.estimate_intervals`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import pandas as pd

from .estimate_formulas import _Formulas, queue_model, transfer_model
from .estimate_formulas import MAX_BENDS, _curve, _partial_mean  # noqa: F401 - read from here by tests
from .estimate_intervals import averaged, averaged_note, by_interval, stretches
from .lifecycle import agent_target

if TYPE_CHECKING:
    from .scenario import Scenario, Service

__all__ = ["agents_required", "ESTIMATE_ASSUMPTIONS", "ESTIMATE_COLUMNS", "ESTIMATE_INTERVAL_COLUMNS", "averaged_note",
           "estimate"]

ESTIMATE_ASSUMPTIONS: tuple[str, ...] = (
    "Offered load per group is Poisson: new contacts at the service's arrival rate over the measured "
    "window (after the warm-up; a constant-rate service is treated as Poisson too) plus transfers into "
    "the group, each a Poisson stream at the rate of contacts handled upstream x the transfer probability"
    " (flows solved to a fixed point, net of the abandonment estimated upstream, within the same stretch "
    "of time).",
    "Handle time is exponential with the group's given mean (its distribution's shape is ignored; so is "
    "handle_time_by_service: the group's handle_time applies to every service).",
    "Every chat slot on shift is a server: n = sum over the group's agents on shift of max_concurrent (a "
    "named agent in several groups counts fully in each); a slot's service rate does not depend on how "
    "many chats the agent has open; chats an agent finishes after its shift ends are ignored.",
    "Without an interval (by): the arrival rate is the mean over the window and the slots on shift their "
    "time average, rounded down to a whole number (conservative).",
    "With an interval (by = 15m, 30m, 1h, ...): one block of rows per clock interval the window covers "
    "(all days folded onto one clock day); each stretch of the interval with constant arrival rates and "
    "staffing is solved as its own steady state and the interval's p_abandon is the average weighted by "
    "each stretch's expected contacts (pointwise-stationary); servers is the time-average slots on shift;"
    " queues carried over from one stretch or interval to the next are ignored.",
    "Nobody on shift while contacts arrive: p_abandon = 1.0 (each waits until its patience, dissuasion or"
    " transfer timer ends it; a short gap in staffing is overstated, as no one is carried to the next "
    "shift). No contacts (no arrivals, or no transfers into a target): p_abandon is NaN, shown as '-'.",
    "Each group's new contacts and transfers share its servers as one pool with their total offered load;"
    " the priority of transfers over new contacts and the mix of patiences are ignored.",
    "Priorities (services reaching a group with different priority): the mean wait of a service's new "
    "contacts without patience is Cobham's non-preemptive priority M/M/n, one class per priority level (its"
    " new contacts and transfers together, as if none abandoned), exact when no flow into the group can "
    "leave; with patience, P(abandon) stays the pooled figure (priorities ignored: the simulation shows how"
    " they shift abandonment between services); priority_aging is ignored.",
    "Entry queue: exponential patience: Erlang A (M/M/n+M), theta = 1 / mean; constant patience: M/M/n+D;"
    " any other patience: M/M/n+G with its survival function; no patience: Erlang C, p_abandon 0 below "
    "saturation, else the fluid share 1 - n mu / lambda; dissuasion_timeout is ignored.",
    "Transfers: M/M/n+D with D = transfer_timeout, or M/M/n+G with patience min(D, transfer_patience) "
    "(M/M/n+(D,exp) for an exponential one); a transfer_timeout of 0 expires every transfer (p_abandon "
    "1); accept delay, offer mode, rejects, offer timeouts and on_transfer_timeout = 'return' are "
    "ignored.",
    "A transfer to 'agent:NAME' is served by that agent's own slots with the handle time of its first "
    "group.",
    "queue_wait_mean_s: the mean wait of new contacts in the entry queue, for services without patience "
    "(Erlang C, or Cobham with priorities); inf where their level is not served in the long run (at or "
    "above saturation, or nobody on shift); with patience it is not estimated (NaN, shown as '-').",
)
"""What :func:`estimate` assumes (printed by ``transfer-sim estimate``)."""

ESTIMATE_COLUMNS = [
    "group", "service", "servers", "handle_mean_s", "entry_per_hour", "transfers_in_per_hour",
    "offered_erlangs", "rho", "queue_model", "queue_p_abandon", "queue_wait_mean_s", "transfer_model",
    "transfer_timeout_s", "transfer_p_abandon",
]
"""The columns of :func:`estimate` without an interval."""

ESTIMATE_INTERVAL_COLUMNS = ["interval", *ESTIMATE_COLUMNS]
"""The columns of :func:`estimate` with ``by``: the interval's start clock ``"HH:MM"`` first."""

Pair = tuple[str, str]  # (target, service)
Solved = tuple[dict[Pair, "Flow"], dict[str, float]]  # flows per pair, load per target (per minute)


# -- the flow network --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Flow:
    """One (target, service) pair in one steady state: flows per minute, their P(abandon) and the
    mean wait of the new contacts in minutes (NaN where not estimated: with patience, or no entry)."""

    entry: float
    trans_in: float
    p_queue: float
    p_transfer: float
    wait: float = math.nan


class _Network:
    """The scenario's targets, the group whose handle time and rules apply at each, and the
    (target, service) pairs a contact can reach (the rows, whatever the rates)."""

    def __init__(self, scenario: Scenario) -> None:
        sc = scenario
        self.services: list[Service] = list(sc.services)
        # as Scenario.targets() orders them, without listing the anonymous agents (there may be billions)
        self.targets: list[str] = [g.name for g in sc.groups] + [agent_target(a.name) for a in sc.agents]
        first_group = {agent_target(a.name): a.groups[0] for a in sc.agents}
        self.group = {t: sc.group(first_group.get(t, t)) for t in self.targets}
        self.mu = {t: 60.0 / float(g.handle_time.mean) for t, g in self.group.items()}
        reach: set[Pair] = set()
        todo = [(s.entry_group, s.name) for s in self.services]
        while todo:
            pair = todo.pop()
            if pair not in reach:
                reach.add(pair)
                todo += [(r.to, pair[1]) for r in self.group[pair[0]].transfers if r.probability > 0]
        self.pairs: list[Pair] = [(t, s.name) for t in self.targets for s in self.services
                                  if (t, s.name) in reach]
        priority = {s.name: s.priority for s in self.services}
        #: per target, the priority levels of the services reaching it, highest (served first) first
        self.levels: dict[str, list[int]] = {
            t: sorted({priority[name] for (u, name) in self.pairs if u == t}, reverse=True) for t in self.targets}
        self.level = {pair: self.levels[pair[0]].index(priority[pair[1]]) for pair in self.pairs}
        self.formulas = _Formulas()
        self._solved: dict[tuple[tuple[float, ...], tuple[float, ...]], Solved] = {}

    def solve(self, rates: Sequence[float], slots: Sequence[float]) -> Solved:
        """Flows and P(abandon) per pair, and the load per target (per minute), for new contacts at
        ``rates`` (per service, per minute) and ``slots`` servers (per target): the fixed point of
        handled -> transfers -> handled."""
        key = (tuple(rates), tuple(slots))
        if key not in self._solved:
            self._solved[key] = self._solve(rates, slots)
        return self._solved[key]

    def _solve(self, rates: Sequence[float], slots: Sequence[float]) -> Solved:
        servers = {t: int(n) for t, n in zip(self.targets, slots)}
        by_name = {s.name: s for s in self.services}
        entry = dict.fromkeys(self.pairs, 0.0)
        for s, rate in zip(self.services, rates):
            entry[(s.entry_group, s.name)] += rate

        def state(trans_in: dict[Pair, float]) -> tuple[dict[str, float], dict[Pair, Flow]]:
            """Load per target and each pair's flows and P(abandon) (NaN where it has no flow)."""
            load = dict.fromkeys(self.targets, 0.0)
            for (t, name), x in entry.items():
                load[t] += x + trans_in[(t, name)]
            flows = {}
            for (t, name) in self.pairs:
                s, n, mu, f, k = by_name[name], servers[t], self.mu[t], self.formulas, (t, name)
                flows[k] = Flow(entry[k], trans_in[k],
                                f.queue(n, load[t], mu, s.patience) if entry[k] > 0 else math.nan,
                                f.transfer(n, load[t], mu, float(s.transfer_timeout), s.transfer_patience)
                                if trans_in[k] > 0 else math.nan)
            return load, flows

        trans_in = dict.fromkeys(self.pairs, 0.0)
        scale = max(1.0, sum(rates))
        for _ in range(200):
            load, flows = state(trans_in)
            new = dict.fromkeys(self.pairs, 0.0)
            for k, fl in flows.items():
                handled = (fl.entry * (1.0 - fl.p_queue) if fl.entry > 0 else 0.0) + (
                    fl.trans_in * (1.0 - fl.p_transfer) if fl.trans_in > 0 else 0.0)
                for r in self.group[k[0]].transfers:
                    if r.probability > 0:
                        new[(r.to, k[1])] += handled * r.probability
            diff = max((abs(new[k] - trans_in[k]) for k in self.pairs), default=0.0)
            trans_in = new
            if diff < 1e-12 * scale:
                break
        load, flows = state(trans_in)  # P(abandon) at the converged flows themselves
        return self._with_waits(flows, servers), load

    def _with_waits(self, flows: dict[Pair, Flow], servers: dict[str, int]) -> dict[Pair, Flow]:
        """``flows`` with the mean wait of new contacts without patience: per target, Cobham over its
        priority levels (each level's new contacts and transfers; one level is Erlang C)."""
        patience = {s.name: s.patience for s in self.services}
        out = dict(flows)
        for t, levels in self.levels.items():
            if not levels:
                continue  # nothing reaches this target
            lambdas = [0.0] * len(levels)
            for (u, name), f in flows.items():
                if u == t:
                    lambdas[self.level[(u, name)]] += f.entry + f.trans_in
            waits = self.formulas.waits(servers[t], tuple(lambdas), self.mu[t])
            for (u, name), f in flows.items():
                if u == t and f.entry > 0 and patience[name] is None:
                    out[(u, name)] = replace(f, wait=waits[self.level[(u, name)]])
        return out


def _weighted(pairs: Sequence[tuple[float, float]]) -> float:
    """sum(w x) / sum(w) over weights w > 0 (NaN when there is no weight)."""
    total = sum(w for w, _ in pairs if w > 0)
    return sum(w * x for w, x in pairs if w > 0) / total if total > 0 else math.nan


def _rows(net: _Network, parts: Sequence[tuple[float, dict[Pair, Flow], dict[str, float], dict[str, float]]],
          servers_shown: dict[str, float]) -> list[tuple[object, ...]]:
    """One row per reachable pair from ``parts`` = (seconds, flows, load, servers) of each steady state,
    weighted by time (flows, load) and by expected contacts (P(abandon))."""
    rows = []
    by_name = {s.name: s for s in net.services}
    for t, name in net.pairs:
        s, mu, key = by_name[name], net.mu[t], (t, name)
        entry = _weighted([(sec, f[key].entry) for sec, f, _, _ in parts])
        trans_in = _weighted([(sec, f[key].trans_in) for sec, f, _, _ in parts])
        erlangs = _weighted([(sec, load[t] / mu) for sec, _, load, _ in parts])
        n = servers_shown[t]
        rho = erlangs / n if n > 0 else (math.inf if erlangs > 0 else math.nan)
        q_ns = [srv[t] for _, f, _, srv in parts if f[key].entry > 0]
        t_ns = [srv[t] for _, f, _, srv in parts if f[key].trans_in > 0]
        timeout = float(s.transfer_timeout)
        levels = len(net.levels[t])
        rows.append((
            t, name, n, float(net.group[t].handle_time.mean), entry * 60.0, trans_in * 60.0, erlangs, rho,
            queue_model(q_ns, s.patience, (net.level[key] + 1, levels) if levels > 1 else None) if q_ns else "-",
            _weighted([(sec * f[key].entry, f[key].p_queue) for sec, f, _, _ in parts]),
            60.0 * _weighted([(sec * f[key].entry, f[key].wait) for sec, f, _, _ in parts]),
            transfer_model(t_ns, timeout, s.transfer_patience) if t_ns else "-",
            timeout if t_ns else math.nan,
            _weighted([(sec * f[key].trans_in, f[key].p_transfer) for sec, f, _, _ in parts]),
        ))
    return rows


def estimate(scenario: Scenario, by: float | str | None = None) -> pd.DataFrame:
    """Per group (and per service feeding it) analytic P(abandon) of its entry queue and of transfers into it.

    Without ``by``: one steady state for the whole measured window (rates and staffing averaged).
    With ``by`` (seconds or ``"1h"``, dividing 24 h into whole minutes; else ``ValueError``): one
    block of rows per clock interval the window covers, first column ``interval`` (``"HH:MM"``),
    each from that interval's arrival rates and staffing.
    Assumptions: :data:`ESTIMATE_ASSUMPTIONS` (also in ``df.attrs["assumptions"]``, with the
    line of :func:`averaged_note` when a profile or rota was averaged). Rows: ``group, service,
    servers, handle_mean_s, entry_per_hour, transfers_in_per_hour, offered_erlangs, rho, queue_model,
    queue_p_abandon, queue_wait_mean_s, transfer_model, transfer_timeout_s, transfer_p_abandon`` (a
    probability is NaN where no such flow exists; the wait, in seconds, with patience too); one per
    (target, service) a contact can reach, ``agent:NAME`` included. Services of different ``priority``
    reaching a group: their new contacts' waits from Cobham's formula (:data:`ESTIMATE_ASSUMPTIONS`).
    """
    net = _Network(scenario)
    parts_all = stretches(scenario, by)  # checks by (ValueError)
    assumptions = list(ESTIMATE_ASSUMPTIONS)
    if by is None:
        whole = averaged(parts_all)
        slots = [math.floor(n + 1e-9) for n in whole.slots]  # rounded down (1e-9 forgives float sums)
        servers = dict(zip(net.targets, slots))
        rows = _rows(net, [(whole.seconds, *net.solve(whole.rates, slots), servers)], servers)
        df = pd.DataFrame(rows, columns=ESTIMATE_COLUMNS)
        note = averaged_note(scenario)
        if note is not None:
            assumptions.append(note)
    else:
        rows = []
        for label, group in by_interval(parts_all):
            parts = [(p.seconds, *net.solve(p.rates, p.slots), dict(zip(net.targets, p.slots)))
                     for p in group]
            rows += [(label, *r) for r in _rows(net, parts, dict(zip(net.targets, averaged(group).slots)))]
        df = pd.DataFrame(rows, columns=ESTIMATE_INTERVAL_COLUMNS)
    df.attrs["assumptions"] = assumptions
    return df


def __getattr__(name: str) -> object:  # agents_required builds on this module: looked up on first use
    if name == "agents_required":
        from .estimate_required import agents_required
        return agents_required
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
