"""Analytic estimates of a scenario: per group, the queueing formula each flow of contacts meets.

Why: ``transfer-sim estimate`` answers "roughly what will happen?" in milliseconds, before any
simulation, from :mod:`model.analytic`'s formulas; :data:`ESTIMATE_ASSUMPTIONS` says what that
simplifies away (so a reader knows when to trust the simulation instead).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from .scenario import Distribution, Scenario, Service

__all__ = ["ESTIMATE_ASSUMPTIONS", "ESTIMATE_COLUMNS", "estimate"]

ESTIMATE_ASSUMPTIONS: tuple[str, ...] = (
    "Offered load per group is Poisson: new contacts at the service's arrival rate (the mean rate over "
    "the horizon for a profile; a constant-rate service is treated as Poisson too) plus transfers into the "
    "group, each a Poisson stream at the rate of contacts handled upstream x the transfer probability "
    "(flows solved to a fixed point, net of the abandonment estimated upstream).",
    "Handle time is exponential with the group's given mean (its distribution's shape is ignored).",
    "Every chat slot is a server: n = sum over the group's agents of max_concurrent (a named agent in "
    "several groups counts fully in each); a slot's service rate does not depend on how many chats the "
    "agent has open.",
    "Each group's new contacts and transfers share its servers as one pool with their total offered load; "
    "the priority of transfers over new contacts and the mix of patiences are ignored.",
    "Entry queue: Erlang A (M/M/n+M) with theta = 1 / mean patience (exponential; no patience: theta -> 0, "
    "Erlang C, p_abandon 0 below saturation); dissuasion_timeout is ignored.",
    "Transfers: M/M/n+D with D = transfer_timeout, or M/M/n+min(D, Exp) with rate 1 / mean transfer_patience; "
    "accept delay, offer mode, rejects, offer timeouts and on_transfer_timeout = 'return' are ignored.",
    "A transfer to 'agent:NAME' is served by that agent's own slots with the handle time of its first group.",
)
"""What :func:`estimate` assumes (printed by ``transfer-sim estimate``)."""

ESTIMATE_COLUMNS = [
    "group", "service", "servers", "handle_mean_s", "entry_per_hour", "transfers_in_per_hour",
    "offered_erlangs", "rho", "queue_model", "queue_p_abandon", "transfer_model", "transfer_timeout_s",
    "transfer_p_abandon",
]


def _mean_rate_per_hour(service: Service, horizon: float) -> float:
    arr = service.arrivals
    if arr.kind == "poisson" and arr.profile is None:
        return float(arr.rate_per_hour)
    if arr.kind == "constant":
        return float(arr.rate_per_hour)
    return float(arr.mean_rate(horizon)) * 3600.0


def estimate(scenario: Scenario) -> pd.DataFrame:
    """Per group (and per service feeding it) analytic P(abandon) of its entry queue and of transfers into it.

    Assumptions: :data:`ESTIMATE_ASSUMPTIONS` (also in ``df.attrs["assumptions"]``). Rows:
    ``group, service, servers, handle_mean_s, entry_per_hour, transfers_in_per_hour, offered_erlangs,
    rho, queue_model, queue_p_abandon, transfer_model, transfer_timeout_s, transfer_p_abandon``
    (a probability is NaN where no such flow exists). Targets ``agent:NAME`` have their own rows.
    """
    from .analytic import erlang_a, mmn_d, mmn_d_exp  # scipy: loaded when first needed

    sc = scenario
    horizon = float(sc.simulation.horizon)
    agents = sc.all_agents()
    targets = sc.targets()
    groups = {g.name: g for g in sc.groups}
    # the group whose handle time and transfer rules apply to contacts joined through a target
    target_group = {t: (t if t in groups else agents[next(iter(m))][1][0]) for t, m in targets.items()}
    servers = {t: sum(agents[a][0] for a in m) for t, m in targets.items()}
    services = list(sc.services)

    def theta_of(dist: Distribution | None) -> float:
        return 0.0 if dist is None else 60.0 / float(dist.mean)  # per minute

    def queue_p(t: str, lam: float, s: Service) -> float:
        g = groups[target_group[t]]
        mu = 60.0 / float(g.handle_time.mean)
        th = theta_of(s.patience)
        if lam <= 0:
            return math.nan
        if th == 0.0:
            return 0.0 if lam < servers[t] * mu else 1.0 - servers[t] * mu / lam
        return erlang_a(servers[t], lam, mu, th).p_abandon

    def transfer_p(t: str, lam: float, s: Service) -> float:
        g = groups[target_group[t]]
        mu = 60.0 / float(g.handle_time.mean)
        if lam <= 0:
            return math.nan
        d = float(s.transfer_timeout) / 60.0
        th = theta_of(s.transfer_patience)
        return mmn_d(servers[t], lam, mu, d).p_abandon if th == 0.0 else mmn_d_exp(servers[t], lam, mu, d, th).p_abandon

    # flows per (target, service), per minute; fixed point of: handled -> transfers -> handled
    entry = {(t, s.name): 0.0 for t in targets for s in services}
    for s in services:
        entry[(s.entry_group, s.name)] += _mean_rate_per_hour(s, horizon) / 60.0
    trans_in = dict.fromkeys(entry, 0.0)
    p_q: dict[tuple[str, str], float] = {}
    p_t: dict[tuple[str, str], float] = {}
    for _ in range(200):
        load = {t: sum(entry[(t, s.name)] + trans_in[(t, s.name)] for s in services) for t in targets}
        for t in targets:
            for s in services:
                p_q[(t, s.name)] = queue_p(t, load[t], s) if entry[(t, s.name)] > 0 else math.nan
                p_t[(t, s.name)] = transfer_p(t, load[t], s) if trans_in[(t, s.name)] > 0 else math.nan
        new = dict.fromkeys(entry, 0.0)
        for t in targets:
            rules = groups[target_group[t]].transfers
            for s in services:
                key = (t, s.name)
                handled = entry[key] * (1.0 - _nz(p_q[key])) + trans_in[key] * (1.0 - _nz(p_t[key]))
                for r in rules:
                    new[(r.to, s.name)] += handled * r.probability
        diff = max(abs(new[k] - trans_in[k]) for k in entry) if entry else 0.0
        trans_in = new
        if diff < 1e-12:
            break
    load = {t: sum(entry[(t, s.name)] + trans_in[(t, s.name)] for s in services) for t in targets}
    rows = []
    for t in targets:
        g = groups[target_group[t]]
        mu = 60.0 / float(g.handle_time.mean)
        for s in services:
            key = (t, s.name)
            if entry[key] == 0 and trans_in[key] == 0:
                continue
            th_q = theta_of(s.patience)
            th_t = theta_of(s.transfer_patience)
            rows.append((
                t, s.name, servers[t], float(g.handle_time.mean), entry[key] * 60.0, trans_in[key] * 60.0,
                load[t] / mu, load[t] / (servers[t] * mu),
                (f"M/M/{servers[t]}+M" if th_q > 0 else f"M/M/{servers[t]}") if entry[key] > 0 else "-",
                p_q[key] if entry[key] > 0 else math.nan,
                (f"M/M/{servers[t]}+D" if th_t == 0 else f"M/M/{servers[t]}+(D,exp)") if trans_in[key] > 0 else "-",
                float(s.transfer_timeout) if trans_in[key] > 0 else math.nan,
                p_t[key] if trans_in[key] > 0 else math.nan,
            ))
    df = pd.DataFrame(rows, columns=ESTIMATE_COLUMNS)
    df.attrs["assumptions"] = list(ESTIMATE_ASSUMPTIONS)
    return df


def _nz(x: float) -> float:
    return 0.0 if x != x else x
