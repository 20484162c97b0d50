"""A plan in plain words: the answer's sentences, each target as a supervisor would say it."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..results.figures import percent
from ..scenario.durations import parse_clock
from ..scenario.staffing import DAY
from .targets import PlanTarget

if TYPE_CHECKING:
    from .plan import Option, Plan

__all__ = ["answer", "figure_words", "options_words", "target_words", "setting_words", "hours_words", "number"]


def number(x: float, digits: int = 1) -> str:
    """``1,234.5`` style, no trailing ``.0``."""
    text = f"{x:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _clock(seconds: float) -> str:
    m = int(round(seconds / 60.0)) % int(DAY // 60)
    return f"{m // 60:02d}:{m % 60:02d}"


def hours_words(hours: tuple[float, float] | None) -> str:
    """``"from 08:00 to 18:00"`` or ``"all day"``."""
    return "all day" if hours is None else f"from {_clock(hours[0])} to {_clock(hours[1])}"


def _span(plan: Plan) -> str:
    """The planned hours in words: ``hours`` as asked, else the measured window's intervals."""
    if plan.hours is not None or not plan.chosen.labels:
        return hours_words(plan.hours)
    labels = plan.chosen.labels
    start = parse_clock(labels[0])
    end = parse_clock(labels[-1]) + plan.step
    return "all day" if len(labels) * plan.step >= DAY else hours_words((start, end))


def _what(t: PlanTarget, threshold: str) -> str:
    kind, _, name = t.scope.partition(":")
    if t.metric == "transfer_abandonment_rate":
        where = {"target": f" to {name}", "service": f" of {name}", "group": f" to {name}"}.get(kind, "")
        return f"transfers{where} abandoned"
    of = {"service": f" of {name}", "group": f" entering {name}"}.get(kind, "")
    if t.metric == "queue_abandonment_rate":
        return f"new contacts{of} who leave before an agent answers"
    return f"new contacts{of} answered within {threshold}"


def figure_words(t: PlanTarget, threshold: str = "the threshold") -> str:
    """A short column heading: ``"transfers to tech abandoned"``."""
    return _what(t, threshold)


def target_words(t: PlanTarget, threshold: str = "their service level threshold") -> str:
    """``"transfers to tech abandoned at or under 5 %"``."""
    side = "at or under" if t.target.op == "<=" else "at or above"
    return f"{_what(t, threshold)} {side} {100 * t.target.value:g} %"


def setting_words(settings: dict[str, Any]) -> str:
    """``"services.support.transfer_timeout = 60"`` pairs in words (a timeout in seconds)."""
    parts = []
    for path, value in settings.items():
        leaf = path.rsplit(".", 1)[-1].replace("_", " ")
        owner = path.split(".")[1] if path.count(".") >= 2 else ""
        shown = f"{value:g} s" if leaf.endswith("timeout") and isinstance(value, (int, float)) else str(value)
        parts.append(f"the {leaf} of {owner} to {shown}" if owner else f"{leaf} to {shown}")
    return " and ".join(parts)


def _threshold(plan: Plan) -> str:
    values = sorted({float(s.service_level_threshold) for s in plan.scenario.services})
    return " or ".join(f"{v:g} s" for v in values)


def _staffing(plan: Plan, group: str) -> str:
    table = plan.table[(plan.table.group == group) & plan.table.planned]
    counts = [int(a) for a in table["agents"]]
    if not counts:
        return f"{group} unchanged"
    mean = sum(counts) / len(counts)
    named = [a.name for a in plan.scenario.agents if group in a.groups]
    plus = f" (and {', '.join(named)}, on the scenario's shifts)" if named else ""
    if min(counts) == max(counts):
        return f"{counts[0]} {group} agents{plus}"
    return f"{min(counts)} to {max(counts)} {group} agents ({number(mean)} on average){plus}"


def _worst(plan: Plan, option: Option) -> tuple[PlanTarget, str, tuple[float, float, float]] | None:
    worst, gap = None, -math.inf
    for (ti, label), fig in option.evaluation.worst.items():
        t = plan.targets[ti]
        b = t.bound(*fig)
        g = b - t.target.value if t.target.op == "<=" else t.target.value - b
        if g > gap:
            worst, gap = (t, label, fig), g
    return worst


def _occupancy(plan: Plan, option: Option) -> str:
    parts = []
    for g in plan.groups:
        mean, lo, hi = option.occupancy(g)
        if mean == mean:
            when = "" if plan.hours is None else " in those hours"
            parts.append(f"{g} agents are busy {percent(mean)} of their time{when} ({percent(lo)} to {percent(hi)})")
    return "; ".join(parts)


def _cost(plan: Plan, option: Option) -> str:
    window = "a day" if abs(plan.window_hours - 24.0) < 1e-6 else f"in the {number(plan.window_hours)} h simulated"
    text = f"{number(option.agent_hours)} agent-hours {window}"
    if option.cost is not None:
        text += f", a cost of {number(option.cost, 2)}"
        bits = []
        if plan.agent_hour_cost:
            bits.append(f"{number(option.agent_hours)} agent-hours x {number(plan.agent_hour_cost, 2)}")
        if plan.lost_transfer_cost:
            bits.append(f"{number(option.lost_transfers)} lost transfers x {number(plan.lost_transfer_cost, 2)}")
        if bits:
            text += f" ({' + '.join(bits)})"
    return text


def _confidence(plan: Plan) -> str:
    return "on average" if plan.confidence == 0 else f"with {100 * plan.confidence:g} % confidence"


def answer(plan: Plan) -> str:
    """One or two sentences: what to set, what it achieves with its uncertainty, what it costs;
    or, when no setting meets every target, that none does and what came closest."""
    threshold = _threshold(plan)
    goals = " and ".join(target_words(t, threshold) for t in plan.targets)
    staffing = ", ".join(_staffing(plan, g) for g in plan.groups)
    setting = f" and set {setting_words(plan.settings)}" if plan.settings else ""
    per = "interval" if plan.step != 3600 else "hour"
    where = f"in every {per} {_span(plan)}"
    worst = _worst(plan, plan.chosen)
    found = ""
    if worst is not None:
        t, label, (mean, lo, hi) = worst
        side = "upper" if t.target.op == "<=" else "lower"
        what = f", with {figure_words(t, threshold)}" if len(plan.targets) > 1 else ","
        found = (f"the hardest {per} is {label}{what} at {percent(mean)}"
                 + (f" ({side} bound {percent(hi if side == 'upper' else lo)})" if plan.confidence else ""))
    if plan.met:
        first = f"To keep {goals} {where} {_confidence(plan)}, staff {staffing}{setting}."
        second = f"Then {found}; it takes {_cost(plan, plan.chosen)}; {_occupancy(plan, plan.chosen)}."
        return f"{first} {second}"
    tried = len(plan.tried)
    none = "No setting tried" if tried > 1 else "No staffing"
    first = f"{none} keeps {goals} {where} {_confidence(plan)}."
    note = f" ({plan.chosen.notes[0]})" if plan.chosen.notes else ""
    second = (f"The closest, {staffing}{setting}, still falls short: {found}{note}; "
              f"it takes {_cost(plan, plan.chosen)}.")
    return f"{first} {second}"


def options_words(plan: Plan) -> list[str]:
    """One line per setting tried, cheapest first (for the report's evidence)."""
    lines = []
    for o in sorted(plan.tried, key=lambda o: (not o.met, o.cost if o.cost is not None else o.agent_hours)):
        what = setting_words(o.settings) or "the scenario's settings"
        verdict = "meets every target" if o.met else "misses a target"
        lines.append(f"{what}: {verdict}, {number(o.agent_hours)} agent-hours, "
                     f"{number(o.lost_transfers)} lost transfers" + (f", cost {number(o.cost, 2)}" if o.cost is not None else ""))
    return lines
