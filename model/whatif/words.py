"""The what-if page in words: a varied setting's name and values, a scope's title, the glossary.

Why apart from the page: these are the sentences a supervisor reads, and the tests compare the
page's text with them; the figures' own labels, units and definitions stay in
:mod:`model.results.figures` (this module only picks and frames them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..lifecycle import AGENT_PREFIX
from ..results.figures import FIGURES
from ..scenario import ScenarioError

if TYPE_CHECKING:
    from ..scenario import Scenario

__all__ = ["value_at", "setting_label", "setting_texts", "scope_title", "figure_label", "glossary"]

_KINDS = {"services": "service", "groups": "group", "agents": "agent", "simulation": "simulation"}
_COUNTS = {"agents": ("agent", "agents"), "max_concurrent": ("chat at once", "chats at once"),
           "replications": ("replication", "replications")}


def value_at(scenario: Scenario, path: str) -> Any:
    """The value at dotted ``path`` of ``scenario`` (list items by name or index, as
    ``Scenario.with_changes`` addresses them); ``None`` when the path leads nowhere."""
    node: Any = scenario
    for part in path.split("."):
        if isinstance(node, BaseModel):
            node = getattr(node, part, None)
        elif isinstance(node, (list, tuple)):
            named = [x for x in node if getattr(x, "name", None) == part]
            if named:
                node = named[0]
            elif part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return None
        else:
            return None
    return node


def setting_label(path: str) -> str:
    """A varied path in words: ``services.support.transfer_timeout`` -> ``"transfer timeout of
    service support"``, ``groups.tech.agents`` -> ``"agents of group tech"``."""
    parts = path.split(".")
    field = " ".join(p.replace("_", " ") for p in parts[2:]) if len(parts) > 2 else ""
    if parts[0] in _KINDS and len(parts) > 2:
        return f"{field} of {_KINDS[parts[0]]} {parts[1]}"
    return " ".join(p.replace("_", " ") for p in parts)


def _seconds(x: float) -> str:
    """``"60 s"``; whole minutes from 2 min (``"5 min"``), whole hours from 2 h (``"3 h"``)."""
    if x >= 7200 and x % 3600 == 0:
        return f"{x / 3600:g} h"
    if x >= 120 and x % 60 == 0:
        return f"{x / 60:g} min"
    return f"{x:g} s"


def _plain(v: Any, field: str) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if v is None:
        return "none"
    if isinstance(v, (int, float)):
        if field in _COUNTS:
            one, many = _COUNTS[field]
            return f"{v:g} {one if v == 1 else many}"
        if field.endswith("probability"):
            return f"{100 * v:g} %"
        if field == "rate_per_hour":
            return f"{v:g} per hour"
        return f"{v:g}"
    if isinstance(v, BaseModel):
        return "a profile" if "profile" in type(v).__name__.lower() else type(v).__name__
    return str(v)


def setting_texts(scenario: Scenario, path: str, values: Sequence[Any]) -> list[str]:
    """Each value of a varied path in words with its unit: ``"60 s"`` for a duration (a field
    that takes ``"1s"``), ``"4 agents"``, ``"10 %"`` for a probability, text as it is."""
    field = path.rsplit(".", 1)[-1]
    try:
        scenario.with_changes({path: "1s"})
        is_duration = True
    except ScenarioError:  # the field takes no duration
        is_duration = False
    out = []
    for v in values:
        resolved = value_at(scenario.with_changes({path: v}), path)
        if is_duration and isinstance(resolved, (int, float)) and not isinstance(resolved, bool):
            out.append(_seconds(float(resolved)))
        else:
            out.append(_plain(resolved, field))
    return out


def scope_title(kind: str, key: str) -> str:
    """A card's title: ``"All contacts"``, ``"Service support"``, ``"Transfers to billing"``,
    ``"Transfers to agent anna"``, ``"Group tech"``."""
    if kind == "overall":
        return "All contacts"
    if kind == "service":
        return f"Service {key}"
    if kind == "target":
        who = f"agent {key[len(AGENT_PREFIX):]}" if key.startswith(AGENT_PREFIX) else key
        return f"Transfers to {who}"
    return f"Group {key}"


def figure_label(metric: str) -> str:
    """A figure's label as a heading: its record's label with a capital first letter."""
    label = FIGURES[metric].label
    return label[:1].upper() + label[1:]


def glossary(scenario: Scenario, replications: int) -> list[tuple[str, str]]:
    """``(term, definition)`` pairs in plain words for the page's glossary: each headline
    figure, the service level's threshold from the scenario, the 95 % interval, common random
    numbers."""
    thresholds = sorted({float(s.service_level_threshold) for s in scenario.services})
    if len(thresholds) == 1:
        where = f"In this scenario the threshold is {_seconds(thresholds[0])}."
    else:
        where = "In this scenario: " + ", ".join(
            f"{_seconds(float(s.service_level_threshold))} for service {s.name}" for s in scenario.services) + "."
    f = FIGURES
    return [
        ("Transfer abandonment", f["transfer_abandonment_rate"].definition
         + " A transfer expires when no agent joins within the service's transfer timeout."),
        ("Transfer success", f["transfer_success_rate"].definition),
        ("Queue abandonment", f["queue_abandonment_rate"].definition),
        ("Time to join", f["time_to_join_mean"].definition),
        ("Service level", f"{f['service_level'].definition} {where}"),
        ("Agent occupancy", f["agent_occupancy"].definition),
        ("95 % confidence interval", "The range that holds the true value with 95 % confidence, from the "
         f"spread over the {replications} replications of each setting; more replications narrow it."),
        ("Common random numbers", "Every setting is simulated with the same customers (the same seed for "
         "every point of the grid), so a difference between two settings is the effect of the change, "
         "not of chance."),
    ]
