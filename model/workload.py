"""How much work a command asks for, before it starts: estimate, and refuse what would not finish.

Why: a typo such as ``rate_per_hour = 1e300``, ``offer_timeout = "1e-9s"``, ``agents = 10000000`` or
``--replications 1000000000`` used to start a simulation that never ends (or eats the machine's
memory) without a word. :func:`estimate_work` turns a scenario into an expected number of
simulation events and bytes of memory, from the scenario alone (arrival rates, transfer
probabilities, timeouts, agents), in microseconds; :func:`check_work` refuses a request above the
documented bounds (docs/limits.md) with one line naming the biggest factor, unless forced.

The estimate is deliberately an upper-ish bound (offers per transfer assume every offer may time
out), within a factor of about 2 of the real count on the bundled scenarios.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import TransferSimError
from .lifecycle import agent_target

if TYPE_CHECKING:
    from .scenario import Scenario

__all__ = [
    "Work",
    "WorkTooLarge",
    "estimate_work",
    "check_work",
    "estimate_sweep_work",
    "heaviest_variant",
    "grid_ends",
    "format_seconds",
    "MAX_EVENTS",
    "MAX_MEMORY_BYTES",
    "EVENTS_PER_SECOND",
    "PROGRESS_NOTE_SECONDS",
]

# -- the bounds (docs/limits.md says how they were chosen) -----------------------------------------
MAX_EVENTS = 1e9
"""Most (estimated) events one command may simulate without ``--force``: about 2 hours on one core."""

MAX_MEMORY_BYTES = 4 * 2**30
"""Most memory (event log kept, agents, timeline) one command may ask for without ``--force``."""

# -- the cost model (measured on the development VM, see docs/limits.md) ---------------------------
EVENTS_PER_SECOND = 150_000.0
"""Estimated events simulated per second on one core (measured on the bundled scenarios)."""

EVENTS_PER_CONTACT = 4.0  # arrive, (queue,) assign, handle, end
EVENTS_PER_TRANSFER = 3.0  # request, join or expiry, ...
EVENTS_PER_OFFER = 2.0  # the offer and its decision
AGENT_COST = 1.0  # setting one agent up, per replication, in events
AGENT_SAMPLE_COST = 0.01  # one agent in one timeline sample, in events
POINT_COST = 2000.0  # building, storing and summarising one sweep point, in events
BYTES_PER_EVENT = 600.0  # a kept event-log row, Python records then the frame
BYTES_PER_AGENT = 700.0
BYTES_PER_SAMPLE = 200.0
PROGRESS_NOTE_SECONDS = 10.0
"""Above this expected duration the CLI prints one line "about N s expected" on stderr."""


class WorkTooLarge(TransferSimError, ValueError):
    """A request above the work bounds of docs/limits.md (events or memory); ``--force`` runs it."""


@dataclass
class Work:
    """The expected size of a request.

    Attributes:
        events: estimated simulation events in all (every replication of every point).
        per_replication: estimated events of one replication (of the heaviest point).
        memory_bytes: estimated peak memory for the event log (when kept), agents and timeline.
        seconds: expected duration on one core (:data:`EVENTS_PER_SECOND`).
        replications, points: the multipliers.
        parts: per-replication events by cause, ``{cause: events}`` (the biggest is named on refusal).
        logged_per_replication: the part of ``per_replication`` that becomes event-log rows
            (contacts, transfers, offers; not agent set-up or timeline samples).
    """

    events: float
    per_replication: float
    memory_bytes: float
    replications: int
    points: int = 1
    keep_events: bool = False
    parts: dict[str, float] = field(default_factory=dict)
    logged_per_replication: float = 0.0

    @property
    def seconds(self) -> float:
        return self.events / EVENTS_PER_SECOND

    def biggest(self) -> str:
        """The cause of the largest share of a replication's events."""
        if not self.parts:
            return "the scenario"
        return max(self.parts.items(), key=lambda kv: (_finite(kv[1]), kv[1]))[0]

    def describe(self) -> str:
        """``cause x R replications x P points`` (the multipliers shown when > 1)."""
        text = self.biggest()
        if self.replications != 1:
            text += f" x {_num(self.replications)} replications"
        if self.points != 1:
            text += f" x {_num(self.points)} points"
        return text


def _finite(x: float) -> float:
    return x if math.isfinite(x) else math.inf


def _num(x: float) -> str:
    """3 -> "3", 2.5e12 -> "2.5e+12", inf -> "more than 1e+308"."""
    if not math.isfinite(x):
        return "more than 1e+308"
    if float(x).is_integer() and abs(x) < 1e6:
        return str(int(x))
    return f"{x:.2g}"


def format_seconds(s: float) -> str:
    """A readable duration: "about 40 s", "about 12 min", "about 3.1 h", "more than a million years"."""
    if not math.isfinite(s) or s > 1e6 * 86400 * 365:
        return "more than a million years"
    if s < 90:
        return f"about {max(s, 0):.0f} s"
    if s < 90 * 60:
        return f"about {s / 60:.0f} min"
    if s < 48 * 3600:
        return f"about {s / 3600:.1f} h"
    if s < 2 * 365 * 86400:
        return f"about {s / 86400:.0f} days"
    return f"about {s / (365 * 86400):.2g} years"


def _mul(*xs: float) -> float:
    """Product that treats 0 x inf as 0 (no arrivals means no transfers, however many per contact)."""
    out = 1.0
    for x in xs:
        if x == 0:
            return 0.0
        out *= x
    return out


def _visits(scenario: Scenario, entry: str) -> dict[str, float]:
    """Expected visits of a contact to each group, entering at ``entry`` (transfers chain)."""
    import numpy as np

    groups = [g.name for g in scenario.groups]
    index = {g: i for i, g in enumerate(groups)}
    first_group = {agent_target(a.name): a.groups[0] for a in scenario.agents}
    n = len(groups)
    p = np.zeros((n, n))
    for g in scenario.groups:
        for rule in g.transfers:
            h = first_group.get(rule.to, rule.to)
            if h in index:
                p[index[g.name], index[h]] += rule.probability
    e = np.zeros(n)
    e[index[entry]] = 1.0
    try:
        with np.errstate(all="ignore"):
            v = np.linalg.solve(np.eye(n) - p.T, e)
    except np.linalg.LinAlgError:
        return {g: math.inf for g in groups}
    if not np.all(np.isfinite(v)) or np.any(v < -1e-9) or np.any(v > 1e12):
        return {g: math.inf for g in groups}
    return {g: float(max(v[i], 0.0)) for g, i in index.items()}


def estimate_work(
    scenario: Scenario,
    replications: int,
    points: int = 1,
    *,
    keep_events: bool = False,
    timeline_step: float | None = None,
) -> Work:
    """Estimate the events and memory of running ``scenario`` ``replications`` times at ``points`` points.

    Per replication: expected arrivals over warm-up + horizon (from each service's arrival spec)
    x events per contact, + expected transfers per contact (the transfer rules, chained) x
    (events per transfer + offers per transfer x events per offer), where offers per transfer
    count every agent of a broadcast target and the re-offers bounded by
    ``transfer_timeout / offer_timeout`` (and by rejects, ``1 / (1 - reject_probability)``),
    + agents set up, + timeline samples. Times replications, times points.
    """
    sim = scenario.simulation
    span = float(sim.warmup) + float(sim.horizon)
    groups = {g.name: g for g in scenario.groups}
    members = {g.name: g.agent_count for g in scenario.groups}
    for a in scenario.agents:
        for g in a.groups:
            members[g] = members.get(g, 0) + 1
    n_agents = sum(g.agent_count for g in scenario.groups) + len(scenario.agents)

    parts: dict[str, float] = {}

    def add(cause: str, events: float) -> None:
        parts[cause] = parts.get(cause, 0.0) + events

    for s in scenario.services:
        arr = s.arrivals
        try:
            arrivals = _inf_if_nan(float(arr.expected_arrivals(0.0, span)))
        except (OverflowError, ValueError):
            arrivals = math.inf
        if arr.profile is not None:
            how = f"service {s.name}: arrival profile up to {_num(arr.max_rate * 3600)}/h"
        else:
            how = f"service {s.name}: rate_per_hour {_num(arr.rate_per_hour)}"
        how += f" over {_duration(span)} of warm-up + horizon"
        add(f"{_num(arrivals)} arrivals per replication ({how})", _mul(arrivals, EVENTS_PER_CONTACT))
        if not arrivals:
            continue
        visits = _visits(scenario, s.entry_group)
        tt = float(s.transfer_timeout)
        for gname, v in visits.items():
            for rule in groups[gname].transfers:
                transfers = _mul(arrivals, v, rule.probability)
                if not transfers:
                    continue
                if rule.is_agent:
                    agent = next((a for a in scenario.agents if agent_target(a.name) == rule.to), None)
                    tgroup = groups.get(agent.groups[0]) if agent else None
                    width = 1
                else:
                    tgroup = groups.get(rule.to)
                    width = members.get(rule.to, 1) if tgroup is not None and tgroup.offer_mode == "broadcast" else 1
                if tgroup is None:
                    continue
                p_rej = tgroup.reject_probability
                rounds = 1.0 / (1.0 - p_rej) if p_rej < 1 else float(max(width, members.get(tgroup.name, 1)))
                why = ""
                if tgroup.offer_timeout is not None:
                    rounds += tt / float(tgroup.offer_timeout)
                    why = (f" (transfer_timeout {_num(tt)} s / offer_timeout {_num(float(tgroup.offer_timeout))} s "
                           f"of group {tgroup.name})")
                offers = _mul(rounds, max(width, 1))
                add(f"{_num(transfers)} transfers per replication to {rule.to} "
                    f"(transfer probabilities from group {gname})", _mul(transfers, EVENTS_PER_TRANSFER))
                add(f"up to {_num(offers)} offers per transfer to {rule.to}{why}",
                    _mul(transfers, offers, EVENTS_PER_OFFER))
    logged = _inf_if_nan(sum(parts.values()))
    add(f"{_num(n_agents)} agents set up per replication", n_agents * AGENT_COST)
    samples = 0.0
    if timeline_step:
        samples = span / float(timeline_step)
        add(f"{_num(samples)} timeline samples per replication (warm-up + horizon / {_num(timeline_step)} s)",
            _mul(samples, len(scenario.groups) + AGENT_SAMPLE_COST * sum(members.values())))
    per_rep = _inf_if_nan(sum(parts.values()))
    total = _mul(points, replications, per_rep) + points * POINT_COST * (points > 1)
    memory = n_agents * BYTES_PER_AGENT + _mul(replications, samples, len(scenario.groups), BYTES_PER_SAMPLE)
    if keep_events:
        memory += _mul(replications, logged, BYTES_PER_EVENT)
    return Work(
        events=_inf_if_nan(total),
        per_replication=_inf_if_nan(per_rep),
        memory_bytes=_inf_if_nan(memory),
        replications=int(replications),
        points=int(points),
        keep_events=keep_events,
        parts=parts,
        logged_per_replication=logged,
    )


def _inf_if_nan(x: float) -> float:
    return math.inf if x != x else float(x)


def _duration(s: float) -> str:
    if not math.isfinite(s) or s >= 1e7 * 3600:
        return f"{s:.2g} s"
    return f"{s / 3600:g} h" if s >= 3600 else f"{s:g} s"


def _gib(b: float) -> str:
    return f"{b / 2**30:.1f} GiB" if math.isfinite(b) else "more than 1e+308 bytes"


def check_work(work: Work, force: bool = False, *, what: str = "this run", override: str = "--force") -> Work:
    """Raise :class:`WorkTooLarge` when ``work`` exceeds :data:`MAX_EVENTS` or :data:`MAX_MEMORY_BYTES`
    (unless ``force``); return ``work`` otherwise. The message is one line: the estimate, its biggest
    factor, the expected duration, the bound, and how to run it anyway (``override``)."""
    if force:
        return work
    if not work.events <= MAX_EVENTS:
        raise WorkTooLarge(
            f"{what} would simulate about {_num(work.events)} events ({work.describe()}), "
            f"{format_seconds(work.seconds)} on one core; the limit is {MAX_EVENTS:.0e} events per command "
            f"(docs/limits.md); use {override} to run it anyway"
        )
    if not work.memory_bytes <= MAX_MEMORY_BYTES:
        log = _mul(work.replications, work.logged_per_replication)
        if work.keep_events and _mul(log, BYTES_PER_EVENT) >= work.memory_bytes / 2:
            cause = f"an event log of about {_num(log)} events kept in memory"
            hint = "run without the event log (--no-events, no --out), or use "
        else:
            cause = work.biggest()
            hint = "use "
        raise WorkTooLarge(
            f"{what} would need about {_gib(work.memory_bytes)} of memory ({cause}); the limit is "
            f"{_gib(MAX_MEMORY_BYTES)} (docs/limits.md); {hint}{override} to run it anyway"
        )
    return work


def heaviest_variant(sc: Scenario, candidates: dict[str, list[Any]], replications: int, **kw: Any) -> Scenario:
    """The heaviest variant of ``sc``: each path set to the candidate value (of its list) giving
    the most events, all together; a value the scenario refuses is skipped (the caller reports
    it in its own words)."""
    from .scenario import ScenarioError

    chosen: dict[str, Any] = {}
    for path, values in candidates.items():
        best = None
        for v in values:
            try:
                w = estimate_work(sc.with_changes({path: v}), replications, **kw)
            except (ScenarioError, ValueError, TypeError, KeyError):
                continue
            if best is None or w.events > best[0]:
                best = (w.events, v)
        if best is not None:
            chosen[path] = best[1]
    try:
        return sc.with_changes(chosen) if chosen else sc
    except (ScenarioError, ValueError, TypeError, KeyError):
        return sc


def grid_ends(values: list[Any]) -> list[Any]:
    """The values worth estimating: first, last, smallest and largest number."""
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    picks = [values[0], values[-1]] + ([min(nums), max(nums)] if nums else [])
    out: list[Any] = []
    for v in picks:
        if not any(v is w or (type(v) is type(w) and v == w) for w in out):
            out.append(v)
    return out


def estimate_sweep_work(sc: Scenario, grid: dict[str, list[Any]], replications: int) -> Work:
    """The work of a sweep over ``grid``: its heaviest variant (each path at the end of its values
    giving the most events) times the number of points. An upper bound, in microseconds."""
    worst = heaviest_variant(sc, {p: grid_ends(list(v)) for p, v in grid.items()}, replications)
    return estimate_work(worst, replications, math.prod(len(v) for v in grid.values()))
