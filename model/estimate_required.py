"""Agents required for a target, per group (and per clock interval): the estimate as an Erlang
calculator (``transfer-sim estimate SCENARIO --target "queue_abandonment_rate<=5%"``).

Why here: :func:`model.estimate.estimate` answers "what happens with this staffing?"; planners ask the
reverse, "how many agents do I need?". :func:`agents_required` answers it with the same stretches,
arrival rates, flow network and formulas as the estimate, only the searched group's staffing replaced
by ``n`` agents (``n x max_concurrent`` chat slots) for the whole interval; every other group keeps the
scenario's staffing, stretch by stretch. The fewest ``n`` meeting the target is found by doubling then
bisection (the figures are monotone in ``n``), up to :func:`cap` agents; beyond, a ``note`` says so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import pandas as pd

from .estimate import _Network, _weighted
from .estimate_intervals import Stretch, averaged, by_interval, stretches

if TYPE_CHECKING:
    from .scenario import Scenario

__all__ = ["METRICS", "REQUIRED_COLUMNS", "Target", "agents_required", "parse_target"]

#: the figures a target may name, and the one direction each can be asked in
METRICS: dict[str, str] = {
    "queue_abandonment_rate": "<=",  # new contacts abandoning the group's entry queue
    "transfer_abandonment_rate": "<=",  # transfers into the group abandoning or expiring
    "service_level": ">=",  # new contacts answered within their service's service_level_threshold
}

FORMS = ('"queue_abandonment_rate<=5%", "transfer_abandonment_rate<=0.05", "service_level>=80%", '
         'or without the figure "<=5%" (queue_abandonment_rate) / ">=80%" (service_level); a value '
         'with % is a percent, without it a fraction, from 0 to 1 (0 % to 100 %); from Python also '
         '{"metric": "service_level", "min": 0.8} or {"metric": "queue_abandonment_rate", "max": 0.05}')

#: the columns of :func:`agents_required` (``interval`` first with ``by``; the figure's column is
#: ``"predicted " + the metric in words``, e.g. ``"predicted queue abandonment rate"``)
REQUIRED_COLUMNS = ["group", "agents required", "chat slots", "offered load (erlangs)", "predicted",
                    "agents now", "note"]

_TARGET = re.compile(r"^\s*([A-Za-z_]\w*)?\s*(<=|>=)\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class Target:
    """``metric op value`` with ``value`` a fraction in [0, 1]; :meth:`met` tells whether a figure meets it."""

    metric: str
    op: str
    value: float

    @property
    def column(self) -> str:
        return "predicted " + self.metric.replace("_", " ")

    def met(self, figure: float) -> bool:
        if figure != figure:
            return False
        tol = 1e-12 * self.value  # a figure equal to the target up to round-off meets it (0 means 0)
        return figure <= self.value + tol if self.op == "<=" else figure >= self.value - tol

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{100 * self.value:g}%"


def _bad(target: object, why: str) -> ValueError:
    return ValueError(f"target {target!r}: {why}; allowed figures: {', '.join(METRICS)}; forms: {FORMS}")


def parse_target(target: str | Mapping[str, object] | Target) -> Target:
    """A :class:`Target` from ``"queue_abandonment_rate<=5%"``, ``"<=0.05"``, ``">=80%"`` or a mapping
    ``{"metric": ..., "max" | "min": fraction}``; ``ValueError`` naming the allowed figures and forms."""
    if isinstance(target, Target):
        return target
    if isinstance(target, Mapping):
        metric = target.get("metric")
        bounds = [k for k in ("max", "min") if k in target]
        extra = set(target) - {"metric", "max", "min"}
        if not isinstance(metric, str) or len(bounds) != 1 or extra:
            raise _bad(dict(target), "a mapping needs 'metric' and one of 'max' or 'min'")
        op, raw = ("<=" if bounds[0] == "max" else ">="), target[bounds[0]]
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise _bad(dict(target), f"{bounds[0]} must be a number")
        value, text = float(raw), dict(target)
    elif isinstance(target, str):
        m = _TARGET.match(target)
        if m is None:
            raise _bad(target, "not of the form FIGURE<=VALUE or FIGURE>=VALUE")
        metric = m.group(1) or ("queue_abandonment_rate" if m.group(2) == "<=" else "service_level")
        op, text = m.group(2), target
        value = float(m.group(3)) / (100.0 if m.group(4) else 1.0)
    else:
        raise _bad(target, "a target is a string or a mapping")
    if metric not in METRICS:
        raise _bad(text, f"unknown figure {metric!r}")
    if op != METRICS[metric]:
        raise _bad(text, f"{metric} is asked as {metric}{METRICS[metric]}VALUE")
    if not 0.0 <= value <= 1.0 or not math.isfinite(value):
        raise _bad(text, "the value must be from 0 to 1 as a fraction (0 % to 100 % as a percent)")
    return Target(metric, op, value)


def cap(load: float, max_concurrent: int) -> int:
    """The most agents searched: ten times the offered load in agents, at least 20."""
    return max(20, math.ceil(10.0 * load / max_concurrent))


class _Figures:
    """The target's figure for one group over the stretches of one interval, at any staffing ``n``."""

    def __init__(self, net: _Network, group: str, parts: Sequence[Stretch], target: Target) -> None:
        self.net, self.group, self.parts, self.target = net, group, parts, target
        self.index = net.targets.index(group)
        self.mc = int(net.group[group].max_concurrent)
        self.by_name = {s.name: s for s in net.services}
        self.sl_memo: dict[tuple[object, ...], float] = {}

    def at(self, n: int) -> tuple[float, float]:
        """(figure, offered load in erlangs) with ``n`` agents in the group throughout the interval."""
        g, metric = self.group, self.target.metric
        pairs, loads = [], []
        for p in self.parts:
            slots = list(p.slots)
            slots[self.index] = n * self.mc
            flows, load = self.net.solve(p.rates, slots)
            loads.append((p.seconds, load[g] / self.net.mu[g]))
            for (t, name), f in flows.items():
                if t != g:
                    continue
                if metric == "transfer_abandonment_rate":
                    pairs.append((p.seconds * f.trans_in, f.p_transfer))
                elif metric == "queue_abandonment_rate":
                    pairs.append((p.seconds * f.entry, f.p_queue))
                elif f.entry > 0:
                    pairs.append((p.seconds * f.entry, self._service_level(n * self.mc, load[g], name)))
        return _weighted(pairs), _weighted(loads)

    def _service_level(self, slots: int, lam: float, service: str) -> float:
        """P(served within the service's threshold) of a new contact: the formula the estimate uses for
        its entry queue (Erlang C, Erlang A, M/M/n+D or M/M/n+G), its ``service_level(t)``."""
        if slots == 0:
            return 0.0
        s, mu = self.by_name[service], self.net.mu[self.group]
        t = float(s.service_level_threshold) / 60.0
        key = (slots, lam, mu, t, id(s.patience))
        if key not in self.sl_memo:
            from .analytic import erlang_a, erlang_c_service_level, mmn_d, mmng

            pat = s.patience
            if pat is None:
                sl = erlang_c_service_level(slots, lam, mu, t)
            elif pat.kind == "exponential":
                sl = erlang_a(slots, lam, mu, 60.0 / float(pat.mean)).service_level(t)
            elif pat.kind in ("constant", "deterministic"):
                sl = mmn_d(slots, lam, mu, float(pat.mean) / 60.0).service_level(t)
            else:
                c = self.net.formulas._curve(pat)
                sl = mmng(slots, lam, mu, c.g, integrated_survival=c.h, breakpoints=c.bends).service_level(t)
            self.sl_memo[key] = sl
        return self.sl_memo[key]


def _search(fig: _Figures, now: int) -> tuple[int | None, float, float, str]:
    """(fewest agents meeting the target or None, its figure, its load, note): doubling from 1 agent
    (0 first), then bisection; at most :func:`cap` agents."""
    target = fig.target
    figure, load = fig.at(now)
    if figure != figure:
        what = "transfers into" if target.metric == "transfer_abandonment_rate" else "new contacts entering"
        return None, figure, load, f"no {what} this group: the target does not apply"
    top = cap(load, fig.mc)
    seen: dict[int, tuple[float, float]] = {}

    def ok(n: int) -> bool:
        if n not in seen:
            seen[n] = fig.at(n)
        return target.met(seen[n][0])

    from .analytic._numerics import smallest_meeting  # scipy: loaded when first needed

    n = smallest_meeting(ok, cap=top)
    if n is None:
        f, ld = seen[top]
        return None, f, ld, f"no staffing up to {top} agents meets {target} (at {top}: {100 * f:.4g} %)"
    return n, *seen[n], ""


def agents_required(scenario: Scenario, target: str | Mapping[str, object] | Target,
                    by: float | str | None = None) -> pd.DataFrame:
    """Per group (and per clock interval with ``by``) the fewest agents meeting ``target``.

    ``target``: see :func:`parse_target` (``ValueError`` when bad). The figure is the estimate's
    (:func:`model.estimate.estimate`): ``queue_abandonment_rate`` of the new contacts entering the
    group, ``transfer_abandonment_rate`` of the transfers into it (each weighted by its flow and
    by stretch), or ``service_level``: the share of the group's new contacts answered within their
    service's ``service_level_threshold`` (the formula's ``service_level(t)``). The group gets ``n``
    agents at its ``max_concurrent`` throughout the interval (its named agents replaced by them); the
    other groups keep the scenario's staffing. Without ``by``, one row per group for the measured
    window with the staffing averaged and rounded down, as :func:`~model.estimate.estimate` does.

    Columns: ``interval`` (with ``by``), ``group``, ``agents required`` (NaN when none found),
    ``chat slots`` (agents x max_concurrent), ``offered load (erlangs)`` and the predicted figure at
    that staffing (``Target.column``; at the largest staffing tried when none meets it),
    ``agents now`` (time-average agents on shift in the scenario) and ``note`` (why no number).
    """
    goal = parse_target(target)
    net = _Network(scenario)
    parts_all = stretches(scenario, by)
    groups = [g.name for g in scenario.groups]
    if by is None:
        whole = averaged(parts_all)
        blocks = [("", [replace(whole, slots=tuple(math.floor(n + 1e-9) for n in whole.slots))], whole)]
    else:
        blocks = [(label, group, averaged(group)) for label, group in by_interval(parts_all)]
    rows = []
    for label, parts, mean in blocks:
        for i, g in enumerate(groups):
            fig = _Figures(net, g, parts, goal)
            n, figure, load, note = _search(fig, math.floor(mean.agents[i] + 1e-9))
            slots = math.nan if n is None else n * fig.mc
            rows.append(((label,) if by is not None else ())
                        + (g, math.nan if n is None else n, slots, load, figure, mean.agents[i], note))
    columns = [c if c != "predicted" else goal.column for c in REQUIRED_COLUMNS]
    df = pd.DataFrame(rows, columns=(["interval"] if by is not None else []) + columns)
    df.attrs["target"] = str(goal)
    return df
