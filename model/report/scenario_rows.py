"""The scenario as the report shows it: its services and groups in words, and a setting read by
its sweep path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .words import agents_text, duration_text, seconds_text, target_name

if TYPE_CHECKING:
    from ..scenario import Scenario

__all__ = ["scenario_rows", "scenario_value"]


def scenario_value(scenario: Scenario | None, path: str) -> Any:
    """The value at a sweep path (``services.support.transfer_timeout``), or ``None`` when the
    scenario has no such path."""
    node: Any = scenario
    try:
        for part in path.split("."):
            if isinstance(node, (list, tuple)):
                names = [getattr(x, "name", None) for x in node]
                node = node[names.index(part)] if part in names else node[int(part)]
            else:
                node = getattr(node, part)
        return node
    except (AttributeError, ValueError, IndexError):
        return None


def scenario_rows(sc: Scenario) -> dict[str, Any]:
    """``{"simulation": {...}, "services": [...], "groups": [...]}``: the template's scenario section."""
    sim = sc.simulation
    services = [
        {
            "name": s.name,
            "entry_group": s.entry_group,
            "arrivals": _arrivals_text(s.arrivals),
            "transfer_timeout": seconds_text(s.transfer_timeout),
            "dissuasion_timeout": duration_text(s.dissuasion_timeout),
            "on_timeout": s.on_transfer_timeout,
        }
        for s in sc.services
    ]
    groups = [
        {
            "name": g.name,
            "agents": agents_text(g.agents, steps=True),
            "max_concurrent": g.max_concurrent,
            "handle_time": _dist_text(g.handle_time),
            "routing": f"{g.offer_mode}, {g.routing}".replace("_", " "),
            "transfers": ", ".join(f"{100 * r.probability:g} % to {target_name(r.to)}" for r in g.transfers) or "none",
        }
        for g in sc.groups
    ]
    return {
        "simulation": {
            "horizon": duration_text(sim.horizon),
            "warmup": duration_text(sim.warmup),
            "start": sim.start,
            "replications": sim.replications,
            "seed": sim.seed,
        },
        "services": services,
        "groups": groups,
    }


def _dist_text(d: BaseModel | Mapping[str, Any] | None) -> str:
    if d is None:
        return "-"
    data = d.model_dump(exclude_none=True) if isinstance(d, BaseModel) else dict(d)
    kind = data.pop("kind", "")
    bits = []
    for k, v in data.items():
        if k.startswith("_"):
            continue
        if k in ("mean", "low", "high", "value", "mode", "scale") and isinstance(v, (int, float)):
            bits.append(f"{k} {duration_text(v)}")
        else:
            bits.append(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}")
    return f"{kind} ({', '.join(bits)})" if bits else str(kind)


def _arrivals_text(a: BaseModel | Mapping[str, Any]) -> str:
    data = a.model_dump(exclude_none=True) if isinstance(a, BaseModel) else dict(a)
    kind = data.get("kind", "")
    if "rate_per_hour" in data:
        return f"{kind}, {data['rate_per_hour']:g} per hour"
    if "profile" in data:
        return f"{kind}, daily profile ({len(data['profile'])} steps)"
    return ", ".join(f"{k} {v}" for k, v in data.items())
