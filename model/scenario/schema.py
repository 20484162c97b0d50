"""The scenario models: Simulation, Service, Group, TransferRule, Agent and Scenario.

Why: one validated, immutable description of "what if" that the simulator, experiments and
reports share. Cross-references (groups, agents, transfer targets) are checked here, once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ..lifecycle import AGENT_PREFIX, OnTransferTimeout, agent_target
from ._base import INT64_MAX, Int, LaxList, Name, Real, StrictModel
from .agents import Agent, GroupLevel
from .arrivals import Arrivals
from .changes import apply_change
from .distributions import AnyDistribution
from .durations import Clock, Duration, NonNegativeDuration, parse_clock
from .errors import Problem, ScenarioError, allowed_list, from_validation_error, refuse
from .graph import endless_transfers
from .staffing import Shifts, StaffingProfile

__all__ = ["Simulation", "Service", "Group", "GroupLevel", "TransferRule", "Agent", "Scenario", "scenario_from_dict"]


Probability = Annotated[Real, Field(ge=0, le=1)]


class Simulation(StrictModel):
    """How long and how often to run: ``horizon`` after ``warmup``, ``replications`` runs from ``seed``."""

    horizon: Duration
    warmup: NonNegativeDuration = 0.0
    replications: Int = Field(default=10, ge=1)
    seed: Int = Field(default=0, ge=0)
    start: Clock = "00:00"

    @field_validator("warmup")
    @classmethod
    def _end_is_finite(cls, warmup: float, info: ValidationInfo) -> float:
        horizon = info.data.get("horizon")
        if horizon is not None and not math.isfinite(warmup + horizon):
            raise refuse("out of range: warmup + horizon (the end of a run) overflows",
                         "a warmup whose sum with the horizon is finite")
        return warmup

    @property
    def start_seconds(self) -> float:
        """Clock seconds after midnight at simulated time 0."""
        return parse_clock(self.start)


class TransferRule(StrictModel):
    """After handling, an agent of the owning group transfers with ``probability`` to ``to``."""

    to: str
    probability: Probability
    message: str | None = None

    @property
    def is_agent(self) -> bool:
        """True when ``to`` names one agent (``"agent:NAME"``)."""
        return self.to.startswith(AGENT_PREFIX)


class Service(StrictModel):
    """A chat entry point: its arrivals, the group taking new contacts, customer patience, timers."""

    name: Name
    entry_group: str
    transfer_timeout: NonNegativeDuration = 60.0
    dissuasion_timeout: NonNegativeDuration | None = None
    arrivals: Arrivals
    patience: AnyDistribution | None = None
    transfer_patience: AnyDistribution | None = None
    on_transfer_timeout: OnTransferTimeout = "abandon"
    #: x of ``service_level(x)``: the share of arrivals assigned within x seconds of arriving
    service_level_threshold: NonNegativeDuration = 20.0
    #: within a group's waiting work, higher is served first (any integer; docs/simulation.md, priorities)
    priority: Annotated[Int, Field(ge=-INT64_MAX - 1)] = 0
    #: seconds of waiting worth one priority level (none: no aging)
    priority_aging: NonNegativeDuration | None = None

    @field_validator("priority_aging")
    @classmethod
    def _aging_is_positive(cls, aging: float | None) -> float | None:
        if aging == 0:
            raise refuse("0 s of waiting worth a level has no meaning (every wait would be worth every level)",
                         "a duration > 0 (seconds of waiting worth one priority level); leave it out for no aging")
        return aging

    @model_serializer(mode="wrap")
    def _omit_default_priority(self, handler: SerializerFunctionWrapHandler) -> Any:
        # priority 0 is the unset option: left out, so the data of a scenario (and the hash naming a
        # stored sweep) is what it was before the field existed
        data = handler(self)
        if self.priority == 0 and isinstance(data, dict):
            data.pop("priority", None)
        return data


def _count_or_profile(value: Any) -> str:
    """A table (or a profile object) is a staffing profile; anything else is read as a count."""
    return "one-of:profile" if isinstance(value, (Mapping, StaffingProfile)) else "one-of:count"


class Group(StrictModel):
    """A transfer group: anonymous agents, their handle time, routing and offer behaviour, transfers."""

    name: Name
    #: anonymous agents: a count on shift all day, or a step profile over the day
    agents: Annotated[
        Annotated[Annotated[Int, Field(ge=0)], Tag("one-of:count")] | Annotated[StaffingProfile, Tag("one-of:profile")],
        Discriminator(_count_or_profile),
    ] = 0
    max_concurrent: Int = Field(default=1, ge=1)
    handle_time: AnyDistribution
    routing: Literal["longest_idle", "least_busy", "round_robin", "random", "highest_skill"] = "longest_idle"
    offer_mode: Literal["sequential", "broadcast"] = "sequential"
    accept_delay: AnyDistribution | None = None
    reject_probability: Probability = 0.0
    offer_timeout: Duration | None = None
    transfers: LaxList[TransferRule] = Field(default_factory=list)
    #: service -> the handle time of this group's agents for contacts of that service (else ``handle_time``)
    handle_time_by_service: dict[str, AnyDistribution] | None = None

    def handle_time_of(self, service: str) -> AnyDistribution:
        """The handle time of this group's agents for a contact of ``service``."""
        by = self.handle_time_by_service
        return by[service] if by and service in by else self.handle_time

    @property
    def agent_count(self) -> int:
        """How many anonymous agents the group has: ``agents``, or a profile's peak."""
        return self.agents.peak if isinstance(self.agents, StaffingProfile) else self.agents

    def anonymous_agents(self) -> list[str]:
        """Names of the anonymous agents: ``f"{name}-{i}"`` for i = 1..agent_count."""
        return [f"{self.name}-{i}" for i in range(1, self.agent_count + 1)]

    def shifts_of(self, i: int) -> Shifts:
        """When anonymous agent ``i`` (1-based) is on shift: all day, or where the profile is >= i."""
        if isinstance(self.agents, StaffingProfile):
            return self.agents.shifts_of(i)
        return Shifts.from_clock(None)


def _duplicates(kind: str, table: str, names: list[str]) -> list[Problem]:
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        if name in seen:
            out.append(
                Problem(f"{table}[{i}].name", f"duplicate {kind} name (also {table}[{seen[name]}])", name,
                        "a name not used by another " + kind)
            )
        else:
            seen[name] = i
    return out


def _anonymous_owner(name: str, counts: Mapping[str, int]) -> str | None:
    """The group whose anonymous agent is called ``name`` (``"<group>-<i>"``, 1 <= i <= agents), if any.

    Why not build the names: ``agents`` may be any 64-bit count; validation must not list them.
    """
    group, sep, number = name.rpartition("-")
    if not sep or group not in counts or not (number.isascii() and number.isdigit()):
        return None
    if number != str(int(number)) or not 1 <= int(number) <= counts[group]:
        return None
    return group


class Scenario(StrictModel):
    """A whole scenario; build with :func:`load_scenario` or :func:`scenario_from_dict`."""

    name: str = "scenario"
    simulation: Simulation
    services: LaxList[Service] = Field(min_length=1)
    groups: LaxList[Group] = Field(min_length=1)
    agents: LaxList[Agent] = Field(default_factory=list)

    #: the file the scenario came from (for error messages of :meth:`with_changes`)
    _source: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check_references(self) -> "Scenario":
        problems: list[Problem] = []
        problems += _duplicates("service", "services", [s.name for s in self.services])
        problems += _duplicates("group", "groups", [g.name for g in self.groups])
        problems += _duplicates("agent", "agents", [a.name for a in self.agents])
        groups = [g.name for g in self.groups]
        group_set = set(groups)
        known_groups = allowed_list(groups)
        named = [a.name for a in self.agents]
        counts = {g.name: g.agent_count for g in self.groups}
        services = [s.name for s in self.services]

        for s in self.services:
            if s.entry_group not in group_set:
                problems.append(
                    Problem(f"services.{s.name}.entry_group", "unknown group", s.entry_group, known_groups)
                )
        for a in self.agents:
            owner = _anonymous_owner(a.name, counts)
            if owner is not None:
                problems.append(
                    Problem(f"agents.{a.name}.name",
                            f"collides with an anonymous agent of group {owner!r}", a.name,
                            "a name not of the form '<group>-<number>' within a group's agent count")
                )
            for i, g in enumerate(a.groups):
                if g not in group_set:
                    problems.append(Problem(f"agents.{a.name}.groups[{i}]", "unknown group", g, known_groups))
                elif g in a.groups[:i]:
                    problems.append(Problem(f"agents.{a.name}.groups[{i}]", "group listed twice", g))
        targets = groups + [agent_target(n) for n in named]
        for g in self.groups:
            total = 0.0
            for i, rule in enumerate(g.transfers):
                path = f"groups.{g.name}.transfers[{i}]"
                total += rule.probability
                if rule.is_agent:
                    if rule.to.removeprefix(AGENT_PREFIX) not in named:
                        problems.append(
                            Problem(f"{path}.to", "unknown agent", rule.to,
                                    allowed_list([agent_target(n) for n in named]))
                        )
                elif rule.to not in group_set:
                    problems.append(
                        Problem(f"{path}.to", "unknown transfer target", rule.to, allowed_list(targets))
                    )
                if rule.to == g.name and rule.probability >= 1.0:
                    problems.append(
                        Problem(f"{path}.probability",
                                "a transfer to its own group with probability 1 bounces every contact "
                                "forever",
                                rule.probability, "a probability < 1 for a transfer to the own group")
                    )
            if total > 1.0 + 1e-9:
                problems.append(
                    Problem(f"groups.{g.name}.transfers",
                            "transfer probabilities sum to more than 1", round(total, 12), "a sum <= 1")
                )
            for svc in g.handle_time_by_service or {}:
                if svc not in services:
                    problems.append(Problem(f"groups.{g.name}.handle_time_by_service.{svc}", "unknown service", svc,
                                            allowed_list(services)))
            members = g.agent_count + sum(1 for a in self.agents if g.name in a.groups)
            if members == 0:
                problems.append(
                    Problem(f"groups.{g.name}.agents", "the group has no agent", g.agents,
                            "agents >= 1, a profile with a value >= 1, or a named agent ([[agents]]) "
                            "listing this group")
                )
        if not problems:  # the routing graph is only meaningful once every reference is valid
            problems += endless_transfers(self)
        if problems:
            raise PydanticCustomError("scenario_problems", "{count} problem(s)",
                                      {"count": len(problems), "problems": problems})
        start = self.simulation.start_seconds
        for s in self.services:
            s.arrivals._start = start
        return self

    def __eq__(self, other: object) -> bool:
        """Equal when every field is equal (where a scenario was loaded from does not matter)."""
        if not isinstance(other, Scenario):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]

    # -- look-ups ----------------------------------------------------------------------------------
    def group(self, name: str) -> Group:
        """The group called ``name`` (KeyError listing the known groups otherwise)."""
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(f"unknown group {name!r}; known: {allowed_list([g.name for g in self.groups])}")

    def service(self, name: str) -> Service:
        """The service called ``name`` (KeyError listing the known services otherwise)."""
        for s in self.services:
            if s.name == name:
                return s
        raise KeyError(f"unknown service {name!r}; known: {allowed_list([s.name for s in self.services])}")

    def agents_of(self, group: str) -> list[str]:
        """All agent names in ``group``: its anonymous agents, then named members in file order."""
        g = self.group(group)
        return g.anonymous_agents() + [a.name for a in self.agents if group in a.groups]

    def all_agents(self) -> dict[str, tuple[int, tuple[str, ...]]]:
        """Every agent: name -> (max_concurrent, groups).

        Anonymous agents take their group's ``max_concurrent``; named agents their own.
        """
        out: dict[str, tuple[int, tuple[str, ...]]] = {}
        for g in self.groups:
            for n in g.anonymous_agents():
                out[n] = (g.max_concurrent, (g.name,))
        for a in self.agents:
            out[a.name] = (a.max_concurrent, tuple(a.groups))
        return out

    def skill_levels(self, group: str) -> dict[str, int]:
        """Every agent of ``group`` -> its skill level there (anonymous agents: 1)."""
        g = self.group(group)
        out = dict.fromkeys(g.anonymous_agents(), 1)
        out.update({a.name: a.level_in(group) for a in self.agents if group in a.groups})
        return out

    @property
    def has_priorities(self) -> bool:
        """Whether waiting work is ordered by priority: services differ in ``priority`` or one ages."""
        return len({s.priority for s in self.services}) > 1 or any(
            s.priority_aging is not None for s in self.services)

    def shifts(self) -> dict[str, Shifts]:
        """Every agent -> when it is on shift (anonymous agents from their group's profile)."""
        out: dict[str, Shifts] = {}
        for g in self.groups:
            for i, n in enumerate(g.anonymous_agents(), start=1):
                out[n] = g.shifts_of(i)
        for a in self.agents:
            out[a.name] = Shifts.from_clock(a.shifts)
        return out

    @property
    def has_rota(self) -> bool:
        """Whether staffing changes over the day (a staffing profile or a named agent's shifts)."""
        return any(isinstance(g.agents, StaffingProfile) for g in self.groups) or any(
            a.shifts is not None for a in self.agents)

    def on_shift(self, target: str, t: float) -> list[str]:
        """The agents of ``target`` (a group or ``agent:NAME``) on shift at simulated time ``t``."""
        clock = self.simulation.start_seconds + t
        shifts = self.shifts()
        return [a for a in sorted(self.targets()[target], key=list(shifts).index) if shifts[a].on_at(clock)]

    def targets(self) -> dict[str, frozenset[str]]:
        """Every transfer target -> its agents: each group, and ``"agent:NAME"`` for each named agent."""
        out = {g.name: frozenset(self.agents_of(g.name)) for g in self.groups}
        out.update({agent_target(a.name): frozenset({a.name}) for a in self.agents})
        return out

    # -- data and variants -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain data (durations in seconds, unset options left out) for :func:`scenario_from_dict`."""
        return self.model_dump(mode="python", exclude_none=True)

    def with_changes(self, changes: Mapping[str, Any]) -> "Scenario":
        """A re-validated copy with dotted-path changes, e.g. ``{"groups.billing.agents": 4}``.

        List items are addressed by their ``name`` (``services.support.transfer_timeout``), or by
        index for unnamed lists (``groups.frontline.transfers.0.probability``). A bad path or an
        invalid result raises :class:`ScenarioError`.
        """
        data = self.to_dict()
        for path, value in changes.items():
            apply_change(data, self, path, value, self._source)
        return scenario_from_dict(data, source=self._source)


def scenario_from_dict(
    data: Mapping[str, Any], *, name: str | None = None, source: str | None = None
) -> Scenario:
    """Validate plain data (e.g. parsed TOML) into a :class:`Scenario`.

    ``name`` is used when the data has none; ``source`` (a file name) prefixes every error line.
    Raises :class:`ScenarioError` with one line per problem.
    """
    if not isinstance(data, Mapping):
        raise ScenarioError([Problem("", "a scenario must be a table of key = value pairs", data)], source)
    raw = dict(data)
    if name is not None and "name" not in raw:
        raw["name"] = name
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise from_validation_error(exc, raw, source) from None
    except RecursionError:
        raise ScenarioError([Problem("", "a value is nested too deeply to check")], source) from None
    scenario._source = source
    return scenario
