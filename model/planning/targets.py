"""What a plan must achieve: targets with their scopes, the groups each one staffs, and the hours
the targets hold in.

A target is a figure bound (``"transfer_abandonment_rate<=5%"``, parsed by
:func:`model.estimate_required.parse_target`) asked of one scope of the results: ``overall``,
``service:NAME``, ``target:GROUP`` (the transfers into a group) or ``group:NAME``. The scope also
says which groups the plan may staff to meet it: the group of ``target:`` / ``group:``, the entry
group of a service for its new contacts, every group that takes transfers for a transfer figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..errors import TransferSimError
from ..estimate_required import METRICS as PLANNABLE
from ..estimate_required import Target, parse_target
from ..scenario import Scenario
from ..scenario.staffing import DAY
from ..scenario.durations import parse_clock

__all__ = ["PlanError", "PlanTarget", "plan_targets", "in_hours", "parse_hours", "PLANNABLE"]

TRANSFER_FIGURES = frozenset({"transfer_abandonment_rate"})
"""The figures of transfers; the others (queue abandonment, service level) are of new contacts."""


class PlanError(TransferSimError, ValueError):
    """A plan that cannot be asked: a bad target, scope, hours or setting (nothing is run)."""


@dataclass(frozen=True)
class PlanTarget:
    """One target and where it is asked.

    Attributes:
        target: the bound (``metric``, ``op``, ``value`` as a fraction).
        scope: ``"overall"``, ``"service:NAME"``, ``"target:GROUP"`` or ``"group:NAME"``.
        checks: the result scopes ``(scope, key)`` whose figure must meet the bound (all of them).
        groups: the groups the plan staffs to meet it.
    """

    target: Target
    scope: str
    checks: tuple[tuple[str, str], ...]
    groups: tuple[str, ...]

    @property
    def metric(self) -> str:
        return self.target.metric

    def __str__(self) -> str:
        return f"{self.target} at {self.scope}"

    def bound(self, mean: float, lo: float, hi: float) -> float:
        """The figure compared with the target: the side of the interval that must meet it."""
        return hi if self.target.op == "<=" else lo

    def group_checks(self, scenario: Scenario, group: str) -> tuple[tuple[str, str], ...]:
        """The result scopes that tell how ``group`` itself does on this figure (to pick which
        group to add agents to when a target concerns several)."""
        if self.metric in TRANSFER_FIGURES:
            return (("target", group),)
        return tuple(("service", s.name) for s in scenario.services if s.entry_group == group)


def _entry_groups(scenario: Scenario, services: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(scenario.service(s).entry_group for s in services))


def _transfer_groups(scenario: Scenario) -> tuple[str, ...]:
    names = {g.name for g in scenario.groups}
    return tuple(dict.fromkeys(r.to for g in scenario.groups for r in g.transfers if r.to in names))


def _one(scenario: Scenario, target: Target, scope: str) -> PlanTarget:
    scopes_help = "overall, service:NAME, target:GROUP or group:NAME"
    groups = [g.name for g in scenario.groups]
    services = [s.name for s in scenario.services]
    transfer = target.metric in TRANSFER_FIGURES
    if scope == "overall":
        checks: tuple[tuple[str, str], ...] = (("overall", "all"),)
        staffed = _transfer_groups(scenario) if transfer else _entry_groups(scenario, services)
        return PlanTarget(target, scope, checks, staffed)
    kind, sep, name = scope.partition(":")
    if not sep or not name or kind not in ("service", "target", "group"):
        raise PlanError(f"scope {scope!r}: a plan's scope is {scopes_help}")
    if kind == "service":
        if name not in services:
            raise PlanError(f"scope {scope!r}: no service {name!r}; services: {', '.join(services)}")
        staffed = _transfer_groups(scenario) if transfer else _entry_groups(scenario, [name])
        return PlanTarget(target, scope, (("service", name),), staffed)
    if name.startswith("agent:") and kind == "target":
        raise PlanError(f"scope {scope!r}: a plan staffs groups, and {name} is one named agent whose "
                        f"shifts are the scenario's; ask the target of a group: target:GROUP with GROUP one of "
                        f"{', '.join(groups)}")
    if name not in groups:
        raise PlanError(f"scope {scope!r}: no group {name!r}; groups: {', '.join(groups)}")
    if transfer:
        return PlanTarget(target, scope, (("target", name),), (name,))
    if kind == "target":
        raise PlanError(f"scope {scope!r}: {target.metric} is a figure of new contacts, and target:{name} counts "
                        f"the transfers into {name}; ask it of group:{name}, service:NAME or overall")
    entering = [s.name for s in scenario.services if s.entry_group == name]
    if not entering:
        raise PlanError(f"scope {scope!r}: no service enters group {name!r}, so it has no new contacts to "
                        f"meet {target.metric}; groups entered by a service: "
                        f"{', '.join(_entry_groups(scenario, services))}")
    return PlanTarget(target, scope, tuple(("service", s) for s in entering), (name,))


def plan_targets(scenario: Scenario, targets: str | Sequence[object] | Mapping[str, object]) -> list[PlanTarget]:
    """The :class:`PlanTarget` list from ``"metric<=5%"``, ``("metric<=5%", "target:tech")`` pairs,
    or a list of either (a bare target is asked ``overall``). :class:`PlanError` names what is wrong."""
    if isinstance(targets, (str, Mapping)) or (isinstance(targets, tuple) and len(targets) == 2
                                               and isinstance(targets[1], str) and ":" in targets[1]):
        targets = [targets]
    out: list[PlanTarget] = []
    for item in targets:
        raw, scope = (item if isinstance(item, tuple) else (item, "overall"))
        try:
            target = parse_target(raw)  # type: ignore[arg-type]
        except ValueError as err:
            raise PlanError(str(err)) from None
        if target.metric not in PLANNABLE:
            raise PlanError(f"target {raw!r}: a plan can aim at {', '.join(PLANNABLE)}")
        out.append(_one(scenario, target, str(scope)))
    if not out:
        raise PlanError("a plan needs at least one target, such as \"transfer_abandonment_rate<=5%\"")
    for t in out:
        if not t.groups:
            raise PlanError(f"target {t}: no group takes transfers in this scenario, so no staffing changes it")
    return out


def parse_hours(hours: str | None) -> tuple[float, float] | None:
    """``"08:00-18:00"`` -> clock seconds ``(start, end)`` (an end before the start crosses midnight);
    ``None``: all day."""
    if hours is None or hours == "":
        return None
    start, sep, end = str(hours).partition("-")
    try:
        if not sep:
            raise ValueError("no '-'")
        a, b = parse_clock(start.strip()), parse_clock(end.strip())
    except ValueError:
        raise PlanError(f"hours {hours!r}: give the clock hours the targets hold in as HH:MM-HH:MM, "
                        "such as 08:00-18:00 (22:00-06:00 crosses midnight)") from None
    if a == b:
        raise PlanError(f"hours {hours!r}: the start and the end are the same; leave hours out for all day")
    return a, b


def in_hours(label: str, hours: tuple[float, float] | None) -> bool:
    """Whether the interval starting at clock ``label`` (``"HH:MM"``) starts within ``hours``."""
    if hours is None:
        return True
    t = parse_clock(label) % DAY
    a, b = hours
    return a <= t < b if a < b else (t >= a or t < b)
