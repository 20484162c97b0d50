"""The answer a sweep or a tuning gives, in plain words: what to set, what it achieves with its
95 % range, and what it costs in agent-hours and occupancy.

A setting *meets* a target when its whole 95 % range is on the good side (the upper bound at or
under the target when lower is better). Of the settings that meet, the answer is the cheapest: the
fewest agent-hours of the groups whose staffing was varied, then the smallest values of the
settings in the order they were varied (the shortest timeout that still meets). When none meets,
the answer says so and names the setting whose bound comes closest. The ``sweep`` command prints
the same sentences as the report opens with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..charts.frames import number, numeric, param_columns, param_label
from ..results.figures import FigureInfo, figure
from ..results.scopes import scope_words
from .words import pct, seconds_text, target_text, value_ci, value_text

if TYPE_CHECKING:
    from ..scenario import Scenario

__all__ = ["Point", "sweep_points", "best_point", "sweep_answer", "tune_answer", "setting_words", "about", "whose",
           "cost_words", "cost_groups"]

_LOST = "transfer_abandonment_rate"


@dataclass
class Point:
    """One setting of a sweep with its figure, whether it meets the target, and its cost."""

    setting: dict[str, Any]
    mean: float
    lo: float
    hi: float
    meets: bool | None = None
    hours: dict[str, float] = field(default_factory=dict)
    occupancy: dict[str, tuple[float, float, float]] = field(default_factory=dict)

    def bound(self, better: str | None) -> float:
        """The end of the 95 % range that is judged against a target."""
        return self.lo if better == "higher" else self.hi


def cost_groups(params: Sequence[str], scenario: Scenario | None, kind: str, key: str) -> list[str]:
    """The groups whose cost the answer states: those whose settings were varied, then the group
    the scope's transfers go to."""
    names = [g.name for g in scenario.groups] if scenario is not None else []
    out = [p.split(".")[1] for p in params if p.startswith("groups.") and p.count(".") >= 2]
    if kind == "target" and (key in names or (not names and not key.startswith("agent:"))):
        out.append(key)
    return [g for g in dict.fromkeys(out) if not names or g in names]


def _hours(scenario: Scenario | None, setting: Mapping[str, Any], groups: Sequence[str]) -> dict[str, float]:
    if scenario is None or not groups or not hasattr(scenario, "with_changes"):
        return {}
    from ..experiments.tuning import agent_hours

    try:
        hours = agent_hours(scenario.with_changes(dict(setting)))
    except ValueError:  # a stored value the scenario no longer takes: the cost is unknown, not wrong
        return {}
    return {g: hours[g] for g in groups if g in hours}


def sweep_points(frame: pd.DataFrame, scenario: Scenario | None, kind: str, key: str, metric: str = _LOST,
                 target: float | None = None) -> list[Point]:
    """Every point of the sweep that has ``metric`` for the scope, in grid order, with its cost."""
    params = param_columns(frame)
    sel = frame[(frame.scope == kind) & (frame.key.astype(str) == key) & (frame.metric == metric)]
    groups = cost_groups(params, scenario, kind, key)
    occ = frame[(frame.scope == "group") & (frame.metric == "agent_occupancy") & frame.key.astype(str).isin(groups)]
    better = figure(metric).better
    points = []
    for row, mean, lo, hi in zip(sel[params].to_dict("records"), sel["mean"], sel["ci_low"], sel["ci_high"]):
        values = {path: _plain(v) for path, v in row.items()}
        p = Point(values, float(mean), float(lo), float(hi))
        if target is not None:
            b = p.bound(better)
            p.meets = bool(b == b and (b >= target if better == "higher" else b <= target))
        p.hours = _hours(scenario, values, groups)
        here = occ
        for path, v in values.items():
            here = here[numeric(here[path]) == number(v)] if number(v) == number(v) else here[here[path] == v]
        p.occupancy = {str(o.key): (float(o.mean), float(o.ci_low), float(o.ci_high)) for o in here.itertuples()}
        points.append(p)
    return points


def _plain(v: Any) -> Any:
    """A numpy scalar as a plain number (``4`` not ``np.int64(4)``), text as it is."""
    return v.item() if hasattr(v, "item") else v


def _order(p: Point, params: Sequence[str]) -> tuple[Any, ...]:
    values = [number(p.setting[q]) for q in params]
    return (sum(p.hours.values()), *[(0, x) if x == x else (1, 0.0) for x in values])


def best_point(points: Sequence[Point], better: str | None) -> tuple[Point | None, bool]:
    """``(point, meets)``: the cheapest point that meets the target, or (``meets`` False) the one
    whose judged bound comes closest; ``(None, False)`` when there are no points."""
    if not points:
        return None, False
    params = list(points[0].setting)
    ok = [p for p in points if p.meets]
    if ok:
        return min(ok, key=lambda p: _order(p, params)), True
    sign = -1.0 if better == "higher" else 1.0
    have = [p for p in points if p.bound(better) == p.bound(better)]
    if not have:
        return None, False
    return min(have, key=lambda p: (sign * p.bound(better), _order(p, params))), False


def setting_words(setting: Mapping[str, Any], verb: str = "to") -> str:
    """``"tech agents to 4 and the support transfer timeout to 60 s"`` (``verb`` "to", or "at")."""
    parts = []
    for path, v in setting.items():
        leaf = path.split(".")[-1]
        label = param_label(path).split(" (")[0]
        x = number(v)
        shown = seconds_text(x) if leaf.endswith("timeout") and x == x else value_text(v)
        parts.append(f"{label if leaf == 'agents' else 'the ' + label} {verb} {shown}")
    return " and ".join(parts)


def about(kind: str, key: str) -> str:
    """Whose transfers a transfer figure is about: ``"transfers to tech"``, ``"all transfers"``."""
    if kind == "overall":
        return "all transfers"
    if kind == "service":
        return f"transfers in the {key} service"
    return scope_words(kind, key)


def whose(info: FigureInfo, kind: str, key: str) -> str:
    """Whose figure it is in words: :func:`about` for a figure over transfer requests, else the scope."""
    return about(kind, key) if info.of == "transfer requests" else scope_words(kind, key)


def _achieves(info: FigureInfo, kind: str, key: str, p: Point) -> str:
    if info.name == _LOST:
        return f"{pct(p.mean)} % of {about(kind, key)} are lost before an agent joins (95 % range {pct(p.lo)}–{pct(p.hi)} %)"
    return f"{info.label} for {whose(info, kind, key)} is {value_ci(info, p.mean, p.lo, p.hi)}"


def _judged(info: FigureInfo, target: float, p: Point, meets: bool) -> str:
    goal = target_text(info, target)
    bound = "lower" if info.better == "higher" else "upper"
    at = info.text(p.bound(info.better))
    if meets:
        return f"within the {goal} target even at the {bound} end of that range ({at})"
    return f"its {bound} 95 % bound ({at}) misses the {goal} target"


def cost_words(hours: Mapping[str, float], occupancy: Mapping[str, Sequence[float]], per: str = "simulated run") -> str:
    """``"96 agent-hours of tech per simulated run, its chat slots busy 78.0 % (75.1–80.9 %) of the
    time"``; ``""`` when nothing is known."""
    occ_info = figure("agent_occupancy")
    parts = []
    for g in dict.fromkeys([*hours, *occupancy]):
        bits = []
        if g in hours and hours[g] == hours[g]:
            bits.append(f"{hours[g]:,.0f} agent-hour{'s' if round(hours[g]) != 1 else ''} of {g} per {per}")
        o = occupancy.get(g)
        if o is not None and o[0] == o[0]:
            busy = value_ci(occ_info, *o)
            bits.append(f"{g}'s chat slots busy {busy} of the time" if bits else f"{g}'s chat slots are busy {busy} of the time")
        parts.append(", ".join(bits))
    return "; ".join(p for p in parts if p)


def sweep_answer(frame: pd.DataFrame, scenario: Scenario | None, kind: str, key: str, *, metric: str = _LOST,
                 target: float | None = None) -> list[str]:
    """The opening sentences of a sweep for one scope: the cheapest setting that meets ``target``
    and what it costs, or that none does and which comes closest; without a target, the range the
    sweep spans and how to ask for a recommendation."""
    info = figure(metric)
    points = sweep_points(frame, scenario, kind, key, metric, target)
    if not points:
        return [f"The sweep has no {info.label} for {scope_words(kind, key)}."]
    n = len(points)
    if target is None:
        lo = min(points, key=lambda p: p.mean)
        hi = max(points, key=lambda p: p.mean)
        return [f"Across the {n} settings of the sweep, {info.label} for {whose(info, kind, key)} runs from "
                f"{value_ci(info, lo.mean, lo.lo, lo.hi)} with {setting_words(lo.setting, 'at')} to "
                f"{value_ci(info, hi.mean, hi.lo, hi.hi)} with {setting_words(hi.setting, 'at')}. Give a target "
                f"(e.g. --target 5%) for the cheapest setting that meets it."]
    best, meets = best_point(points, info.better)
    if best is None:
        return [f"No setting of the sweep has a {info.label} figure for {scope_words(kind, key)}."]
    cost = cost_words(best.hours, best.occupancy)
    goal = target_text(info, target)
    if meets:
        met = sum(1 for p in points if p.meets)
        first = f"Set {setting_words(best.setting)}: {_achieves(info, kind, key, best)}, {_judged(info, target, best, True)}."
        how = (f"Every setting of the sweep meets the {goal} target; this is the cheapest." if met == n else
               f"{met} of the {n} settings meet the {goal} target with 95 % confidence; this is the cheapest.")
        return [first, (f"It takes {cost}. " if cost else "") + how]
    first = (f"No setting in the sweep meets the {goal} target for {whose(info, kind, key)} with 95 % confidence. "
             f"The closest is {setting_words(best.setting, 'at')}: {_achieves(info, kind, key, best)}; "
             f"{_judged(info, target, best, False)}.")
    return [first, (f"That takes {cost}. " if cost else "") + "Widen the sweep (more agents, another timeout) "
            "to find a setting that meets it."]


def tune_answer(tune: Mapping[str, Any]) -> list[str]:
    """The opening sentences of a tuning (``TuneResult.to_dict()``): the recommended setting, what
    it achieves and costs; or that none in the range meets the target and which comes closest."""
    if "param" not in tune or "metric" not in tune:
        return []
    info = figure(str(tune["metric"]))
    kind, key = str(tune.get("scope", "overall")), str(tune.get("key", "all"))
    param = str(tune["param"])
    chosen = tune.get("recommended", tune.get("chosen"))
    chosen = tune.get("chosen") if chosen is None else chosen
    rows = [r for r in tune.get("explored") or [] if chosen is not None and r.get(param) == chosen]
    target = float(tune["target"])
    groups = cost_groups([str(tune["param"])], None, kind, key)  # the tuned group and the one transfers go to
    cost = cost_words({g: h for g, h in (tune.get("agent_hours") or {}).items() if g in groups},
                      {g: o for g, o in (tune.get("occupancy") or {}).items() if g in groups})
    label = param_label(param).split(" (")[0]
    if not rows:
        return [f"No value of {label} in the range explored meets the {target_text(info, target)} target: "
                f"{tune.get('reason', '')}."]
    r = rows[0]
    p = Point({param: chosen}, float(_num(r.get("mean"))), float(_num(r.get("ci_low"))), float(_num(r.get("ci_high"))))
    span = _span(tune.get("explored") or [], param)
    if tune.get("recommended") is not None:
        first = f"Set {setting_words(p.setting)}: {_achieves(info, kind, key, p)}, {_judged(info, target, p, True)}."
        second = (f"It takes {cost}. " if cost else "") + (
            f"It is the smallest value of {label} from {span} that meets the target (the tuning assumes more is "
            "never worse).")
        return [first, second]
    first = (f"No value of {label} from {span} meets the {target_text(info, target)} target for {whose(info, kind, key)} "
             f"with 95 % confidence. The closest is {setting_words(p.setting, 'at')}: {_achieves(info, kind, key, p)}; "
             f"{_judged(info, target, p, False)}.")
    return [first, (f"That takes {cost}. " if cost else "") + "Search a wider range to find a setting that meets it."]


def _num(v: Any) -> float:
    return math.nan if v is None else float(v)


def _span(explored: Sequence[Mapping[str, Any]], param: str) -> str:
    values = [number(r.get(param)) for r in explored]
    values = [v for v in values if v == v]
    if not values:
        return "the range explored"
    lo, hi = min(values), max(values)
    timeout = param.endswith("timeout")
    fmt = seconds_text if timeout else (lambda v: f"{v:g}")
    return f"{fmt(lo)} to {fmt(hi)}"
