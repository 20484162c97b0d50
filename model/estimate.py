"""Analytic estimates of a scenario: per group, the queueing formula each flow of contacts meets,
for the whole measured window or per clock interval of the day.

Why: ``transfer-sim estimate`` answers "roughly what will happen?" in milliseconds, before any
simulation, from :mod:`model.analytic`'s formulas; :data:`ESTIMATE_ASSUMPTIONS` says what that
simplifies away (so a reader knows when to trust the simulation instead). The clock side (stretches
of constant rates and staffing, intervals) lives in :mod:`model.estimate_intervals`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import pandas as pd

from .estimate_intervals import averaged, averaged_note, by_interval, stretches
from .lifecycle import agent_target

if TYPE_CHECKING:
    from .scenario import Distribution, Scenario, Service

__all__ = ["agents_required", "ESTIMATE_ASSUMPTIONS", "ESTIMATE_COLUMNS", "ESTIMATE_INTERVAL_COLUMNS", "averaged_note",
           "estimate"]

ESTIMATE_ASSUMPTIONS: tuple[str, ...] = (
    "Offered load per group is Poisson: new contacts at the service's arrival rate over the measured "
    "window (after the warm-up; a constant-rate service is treated as Poisson too) plus transfers into "
    "the group, each a Poisson stream at the rate of contacts handled upstream x the transfer probability"
    " (flows solved to a fixed point, net of the abandonment estimated upstream, within the same stretch "
    "of time).",
    "Handle time is exponential with the group's given mean (its distribution's shape is ignored).",
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
    "Entry queue: exponential patience: Erlang A (M/M/n+M), theta = 1 / mean; constant patience: M/M/n+D;"
    " any other patience: M/M/n+G with its survival function; no patience: Erlang C, p_abandon 0 below "
    "saturation, else the fluid share 1 - n mu / lambda; dissuasion_timeout is ignored.",
    "Transfers: M/M/n+D with D = transfer_timeout, or M/M/n+G with patience min(D, transfer_patience) "
    "(M/M/n+(D,exp) for an exponential one); a transfer_timeout of 0 expires every transfer (p_abandon "
    "1); accept delay, offer mode, rejects, offer timeouts and on_transfer_timeout = 'return' are "
    "ignored.",
    "A transfer to 'agent:NAME' is served by that agent's own slots with the handle time of its first "
    "group.",
)
"""What :func:`estimate` assumes (printed by ``transfer-sim estimate``)."""

ESTIMATE_COLUMNS = [
    "group", "service", "servers", "handle_mean_s", "entry_per_hour", "transfers_in_per_hour",
    "offered_erlangs", "rho", "queue_model", "queue_p_abandon", "transfer_model", "transfer_timeout_s",
    "transfer_p_abandon",
]
"""The columns of :func:`estimate` without an interval."""

ESTIMATE_INTERVAL_COLUMNS = ["interval", *ESTIMATE_COLUMNS]
"""The columns of :func:`estimate` with ``by``: the interval's start clock ``"HH:MM"`` first."""

Pair = tuple[str, str]  # (target, service)
Solved = tuple[dict[Pair, "Flow"], dict[str, float]]  # flows per pair, load per target (per minute)


# -- patience: survival curves in minutes ------------------------------------------------------------
#: at most this many kinks of an empirical patience are handed to the quadrature (see :func:`_curve`)
MAX_BENDS = 500


class Curve(NamedTuple):
    """A patience for M/M/n+G, in minutes: G, H = int G (None: mmng integrates G), the points where G
    bends or jumps, and whether G has more kinks than were handed over (quadrature may then warn)."""

    g: Callable[[float], float]
    h: Callable[[float], float] | None
    bends: tuple[float, ...] = ()
    rough: bool = False


def _partial_mean(dist: Distribution) -> Callable[[float], float] | None:
    """E[X; X <= x] (x in seconds) in closed form for the known kinds, None otherwise.

    Parameters as :mod:`model.scenario.distributions` defines them: lognormal mu, sigma (or sigma^2 =
    ln(1 + cv^2), mu = ln(mean) - sigma^2 / 2); gamma shape 1 / cv^2; erlang shape k; uniform on
    [low, high); empirical linear between its sorted values. Why here and not beside ``survival``:
    only the estimate needs it; tests check it against the integral of ``survival``.
    """
    from scipy import special

    mean, kind = float(dist.mean), dist.kind
    if kind == "lognormal":
        mu_log, sigma = getattr(dist, "mu", None), getattr(dist, "sigma", None)  # the mu/sigma form
        if mu_log is None or sigma is None:
            sigma = math.sqrt(math.log1p(dist.cv**2))  # type: ignore[attr-defined]
            mu_log = math.log(mean) - sigma**2 / 2.0
        m, sg = float(mu_log), float(sigma)

        def lognormal(x: float) -> float:
            return mean * float(special.ndtr((math.log(x) - m - sg * sg) / sg))

        return lognormal
    if kind in ("gamma", "erlang"):
        shape = 1.0 / dist.cv**2 if kind == "gamma" else float(dist.k)  # type: ignore[attr-defined]

        def gamma(x: float) -> float:
            return mean * float(special.gammainc(shape + 1.0, x * shape / mean))

        return gamma
    if kind == "uniform":
        lo, hi = float(dist.low), float(dist.high)  # type: ignore[attr-defined]

        def uniform(x: float) -> float:
            return 0.0 if x <= lo else (min(x, hi) ** 2 - lo**2) / (2.0 * (hi - lo))

        return uniform
    if kind == "empirical":
        return _empirical_partial_mean([float(v) for v in dist.values])  # type: ignore[attr-defined]
    return None


def _empirical_partial_mean(values: Sequence[float]) -> Callable[[float], float]:
    """E[X; X <= x] of the empirical distribution (a CDF linear between the sorted values, each
    step of probability 1 / (n - 1)): on [x_k, x_k+1] the density is 1 / ((n - 1) dx_k)."""
    from bisect import bisect_right

    n = len(values)
    cum = [0.0]  # E[X; X <= x_k]
    for a, b in zip(values[:-1], values[1:]):
        cum.append(cum[-1] + (a + b) / 2.0 / (n - 1))

    def empirical(x: float) -> float:
        k = bisect_right(values, x) - 1
        if k < 0:
            return 0.0
        if k >= n - 1:
            return cum[-1]
        a, b = values[k], values[k + 1]
        return cum[k] + (x * x - a * a) / (2.0 * (b - a) * (n - 1))

    return empirical


def _curve(dist: Distribution) -> Curve:
    """The :class:`Curve` of a patience in minutes: G(x) = P(X > x) from the distribution's
    ``survival``; H(x) = int_0^x G = E[min(X, x)] = x G(x) + E[X; X <= x] in closed form where
    known (else None: mmng integrates G itself); the points where G bends or jumps, for the quadrature."""
    surv = dist.survival

    def g(x: float) -> float:
        return float(surv(60.0 * x)) if x > 0 else 1.0

    part = _partial_mean(dist)
    bends: tuple[float, ...] = ()
    rough = False
    if dist.kind == "uniform":
        bends = (float(dist.low) / 60.0, float(dist.high) / 60.0)  # type: ignore[attr-defined]
    elif dist.kind == "empirical":  # G is linear between the values (and jumps at a repeated one)
        kinks = sorted({v / 60.0 for v in dist.values})  # type: ignore[attr-defined]
        rough = len(kinks) > MAX_BENDS  # thousands of segments would cost seconds per formula
        bends = () if rough else tuple(kinks)
    if part is None:
        return Curve(g, None, bends, rough)
    known = part

    def h(x: float) -> float:
        return (60.0 * x * float(surv(60.0 * x)) + known(60.0 * x)) / 60.0 if x > 0 else 0.0

    return Curve(g, h, bends, rough)


class _Formulas:
    """P(abandon) of one flow meeting n servers, memoised on its exact arguments: the fixed point
    and the stretches of a day ask the same questions again, and M/M/n+G costs milliseconds."""

    def __init__(self) -> None:
        self._memo: dict[tuple[object, ...], float] = {}
        self._curves: dict[int, Curve] = {}

    def _curve(self, dist: Distribution) -> Curve:
        if id(dist) not in self._curves:
            self._curves[id(dist)] = _curve(dist)
        return self._curves[id(dist)]

    def queue(self, n: int, lam: float, mu: float, patience: Distribution | None) -> float:
        """P(abandon) in the entry queue: NaN without arrivals, 1.0 with nobody on shift."""
        if lam <= 0:
            return math.nan
        if n == 0:
            return 1.0
        if patience is None:
            return 0.0 if lam < n * mu else 1.0 - n * mu / lam
        key = ("q", n, lam, mu, id(patience))
        if key not in self._memo:
            from .analytic import erlang_a, mmn_d  # scipy: loaded when first needed

            if patience.kind == "exponential":
                p = erlang_a(n, lam, mu, 60.0 / float(patience.mean)).p_abandon
            elif patience.kind in ("constant", "deterministic"):
                p = mmn_d(n, lam, mu, float(patience.mean) / 60.0).p_abandon
            else:
                p = _mmng(n, lam, mu, self._curve(patience))
            self._memo[key] = p
        return self._memo[key]

    def transfer(self, n: int, lam: float, mu: float, timeout_s: float,
                 patience: Distribution | None) -> float:
        """P(abandon) of a transfer: the timer D or the customer's patience, whichever is first."""
        if lam <= 0:
            return math.nan
        if n == 0 or timeout_s <= 0:
            return 1.0
        key = ("t", n, lam, mu, timeout_s, id(patience))
        if key not in self._memo:
            from .analytic import mmn_d, mmn_d_exp

            d = timeout_s / 60.0
            if patience is None:
                p = mmn_d(n, lam, mu, d).p_abandon
            elif patience.kind == "exponential":
                p = mmn_d_exp(n, lam, mu, d, 60.0 / float(patience.mean)).p_abandon
            elif patience.kind in ("constant", "deterministic"):
                p = mmn_d(n, lam, mu, min(d, float(patience.mean) / 60.0)).p_abandon
            else:
                p = _mmng(n, lam, mu, _capped(self._curve(patience), d))
            self._memo[key] = p
        return self._memo[key]


def _mmng(n: int, lam: float, mu: float, curve: Curve) -> float:
    """P(abandon) of M/M/n+G. A rough curve (an empirical patience of thousands of values) makes quad
    report round-off at mmng's 1e-11 tolerance; the result still agrees with the integration over
    every kink to about 1e-6 (tests/test_estimate_intervals.py), far below the estimate's own error."""
    from scipy.integrate import IntegrationWarning

    from .analytic import mmng

    with warnings.catch_warnings():
        if curve.rough:
            warnings.simplefilter("ignore", IntegrationWarning)
        return mmng(n, lam, mu, curve.g, integrated_survival=curve.h, breakpoints=curve.bends).p_abandon


def _capped(curve: Curve, d: float) -> Curve:
    """The curve of min(D, patience): G(x) 1{x < D}, H(min(x, D)), and D among the jumps."""
    g, h, jumps, rough = curve

    def g_d(x: float) -> float:
        return g(x) if x < d else 0.0

    def h_d(x: float) -> float:
        return h(min(x, d))  # type: ignore[misc]

    return Curve(g_d, None if h is None else h_d, (d, *jumps), rough)


def queue_model(ns: Sequence[int], patience: Distribution | None) -> str:
    """``"M/M/5+M"``, ``"M/M/4..6+G(lognormal)"``, ``"nobody on shift"``: the entry queue's model."""
    if not ns or max(ns) == 0:
        return "nobody on shift"
    kind = None if patience is None else patience.kind
    suffix = {None: "", "exponential": "+M", "constant": "+D", "deterministic": "+D"}.get(kind, f"+G({kind})")
    return f"M/M/{_n_spec(ns)}{suffix}"


def transfer_model(ns: Sequence[int], timeout_s: float, patience: Distribution | None) -> str:
    """``"M/M/5+D"``, ``"M/M/5+(D,exp)"``, ``"M/M/5+(D,G(gamma))"``: the transfers' model."""
    if timeout_s <= 0:
        return "timeout 0: all expire"
    if not ns or max(ns) == 0:
        return "nobody on shift"
    kind = None if patience is None else patience.kind
    suffix = {None: "+D", "exponential": "+(D,exp)"}.get(kind, f"+(D,G({kind}))")
    return f"M/M/{_n_spec(ns)}{suffix}"


def _n_spec(ns: Sequence[int]) -> str:
    lo, hi = min(ns), max(ns)
    return str(lo) if lo == hi else f"{lo}..{hi}"


# -- the flow network --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Flow:
    """One (target, service) pair in one steady state: flows per minute and their P(abandon)."""

    entry: float
    trans_in: float
    p_queue: float
    p_transfer: float


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
        return flows, load


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
        rows.append((
            t, name, n, float(net.group[t].handle_time.mean), entry * 60.0, trans_in * 60.0, erlangs, rho,
            queue_model(q_ns, s.patience) if q_ns else "-",
            _weighted([(sec * f[key].entry, f[key].p_queue) for sec, f, _, _ in parts]),
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
    queue_p_abandon, transfer_model, transfer_timeout_s, transfer_p_abandon`` (a probability is NaN
    where no such flow exists); one per (target, service) a contact can reach, ``agent:NAME`` included.
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
