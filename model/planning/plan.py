"""``model.plan``: per interval and group, the fewest agents meeting every target, jointly with the
settings varied (a timeout, an offer mode, a routing), and the cheapest combination when costs are
given.

For each setting of ``vary`` the search (:mod:`.search`) starts from the analytic estimate and is
confirmed by simulation on common random numbers; the settings are then compared on what they
cost: agent-hours (at ``agent_hour_cost``) and lost transfers (at ``lost_transfer_cost``), or,
without costs, agent-hours first and lost transfers second.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..estimate_intervals import by_interval, stretches
from ..results.metrics import confidence_interval
from ..experiments.executors import ExecutorSpec, make_runner
from ..experiments.grid import ExperimentError, grid_points, normalise_vary
from ..scenario import Scenario, as_scenario
from ..sim.intervals import interval_seconds
from .search import Evaluation, search
from .staffing import named_on_shift, start_cells
from .targets import PlanError, PlanTarget, in_hours, parse_hours, plan_targets

__all__ = ["Plan", "Option", "plan", "MAX_SETTINGS"]

MAX_SETTINGS = 36
"""The most settings (grid points of ``vary``) one plan compares: each is a whole search."""


@dataclass
class Option:
    """The outcome at one setting: its plan (or closest attempt) and what it costs."""

    settings: dict[str, Any]
    evaluation: Evaluation
    met: bool
    simulations: int
    notes: list[str]
    agent_hours: float
    lost_transfers: float
    cost: float | None

    labels: list[str] = field(default_factory=list)

    def occupancy(self, group: str, level: float = 0.95) -> tuple[float, float, float]:
        """Agent occupancy of ``group`` over the planned intervals (weighted by agents on shift):
        ``(mean, ci_low, ci_high)`` over replications."""
        pri = self.evaluation.per_replication_intervals
        sel = pri[(pri.scope == "group") & (pri.key == group) & pri.interval.isin(self.labels)]
        wide = sel.pivot_table(index=["replication", "interval"], columns="metric", values="value")
        if wide.empty or "agent_occupancy" not in wide:
            return (math.nan,) * 3  # type: ignore[return-value]
        wide = wide.dropna(subset=["agent_occupancy", "staffed_agents"])
        wide["busy"] = wide["agent_occupancy"] * wide["staffed_agents"]
        per_rep = wide.groupby(level="replication")[["busy", "staffed_agents"]].sum()
        values = (per_rep["busy"] / per_rep["staffed_agents"]).tolist()
        mean, lo, hi, _ = confidence_interval(values, level)
        return mean, max(lo, 0.0), min(hi, 1.0)

    def shortfall(self, targets: Sequence[PlanTarget]) -> float:
        """How far the worst (target, interval) misses its target (0 when every target is met)."""
        gap = 0.0
        for (ti, _), fig in self.evaluation.worst.items():
            t = targets[ti]
            b = t.bound(*fig)
            gap = max(gap, b - t.target.value if t.target.op == "<=" else t.target.value - b)
        return gap


def _metric(frame: pd.DataFrame, scope: str, key: str, metric: str) -> tuple[float, float, float]:
    row = frame[(frame.scope == scope) & (frame.key == key) & (frame.metric == metric)]
    if row.empty:
        return (math.nan, math.nan, math.nan)
    r = row.iloc[0]
    return float(r["mean"]), float(r["ci_low"]), float(r["ci_high"])


@dataclass
class Plan:
    """The recommended staffing and settings, with the evidence.

    Attributes:
        scenario: the scenario with the recommended settings and staffing profiles, ready to run.
        settings: the recommended value of each varied path (empty without ``vary``).
        met: whether every target is met (else this is the closest attempt, and ``notes`` say why).
        table: per interval and planned group: ``agents`` (the group's anonymous agents in the
            profile), ``staffed_agents`` (agents on shift, named agents too, simulated), occupancy and each target's
            figure with its interval, and ``meets``.
        options: one row per setting tried: its cost, agent-hours, lost transfers, whether it meets.
        targets, hours, step, confidence, replications, seed, costs: what was asked.
    """

    scenario: Scenario
    settings: dict[str, Any]
    met: bool
    table: pd.DataFrame
    options: pd.DataFrame
    targets: list[PlanTarget]
    groups: list[str]
    hours: tuple[float, float] | None
    step: float
    confidence: float
    replications: int
    seed: int
    agent_hour_cost: float | None
    lost_transfer_cost: float | None
    chosen: Option
    tried: list[Option] = field(default_factory=list)
    window_hours: float = 24.0

    @property
    def answer(self) -> str:
        """The answer in one or two sentences of plain words (what to set, what it achieves, its cost)."""
        from .words import answer

        return answer(self)

    def write(self, directory: str | os.PathLike[str], *, force: bool = False) -> Path:
        """Write ``plan.csv``, ``options.csv``, ``plan.toml``, ``plan.json`` and ``report.html`` into
        ``directory``, all at once (a failure leaves nothing half-written)."""
        from .output import write_plan

        return write_plan(self, directory, force=force)


def _labels(scenario: Scenario, step: float, hours: tuple[float, float] | None) -> tuple[list[str], list[str]]:
    window = [label for label, _ in by_interval(stretches(scenario, step))]
    return window, [label for label in window if in_hours(label, hours)]


def _check_number(name: str, value: float | None, low: float, high: float | None = None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < low or (high is not None and value >= high):
        upper = f" and below {high}" if high is not None else ""
        raise PlanError(f"{name} must be a number from {low}{upper}; got {value!r}")
    return float(value)


def plan(
    scenario: Scenario | str | os.PathLike[str],
    targets: str | Sequence[Any] | Mapping[str, Any],
    *,
    by: str | float = "1h",
    hours: str | None = None,
    vary: Mapping[str, Sequence[Any]] | None = None,
    agent_hour_cost: float | None = None,
    lost_transfer_cost: float | None = None,
    replications: int | None = None,
    seed: int | None = None,
    confidence: float = 0.95,
    min_agents: int = 0,
    executor: ExecutorSpec = "processes",
    workers: int | None = None,
    progress: bool | None = None,
) -> Plan:
    """The fewest agents per interval and group meeting every target, with the varied settings.

    Args:
        scenario: a :class:`~model.scenario.Scenario` or a TOML path.
        targets: ``"transfer_abandonment_rate<=5%"``, or ``(target, scope)`` pairs such as
            ``[("transfer_abandonment_rate<=5%", "target:tech"), ("service_level>=80%", "overall")]``;
            a bare target is asked ``overall``. Figures: ``queue_abandonment_rate``,
            ``transfer_abandonment_rate``, ``service_level``; values as fractions or percents.
        by: the interval the staffing changes by (``"1h"``, ``"30m"``...).
        hours: the clock hours the targets hold in, ``"08:00-18:00"`` (default all day); outside
            them the scenario's staffing stays.
        vary: settings to choose jointly, ``{"services.support.transfer_timeout": [30, 60, 120]}``.
        agent_hour_cost, lost_transfer_cost: what an agent-hour and a lost transfer cost; with
            either, the cheapest setting meeting every target is chosen.
        replications, seed: of each simulation (default: the scenario's).
        confidence: a target is met when this two-sided interval's bound meets it (0.95: the upper
            95 % bound of an abandonment rate is at or under its target; 0: the mean is).
        min_agents: the fewest anonymous agents a planned group may have in an interval.
        executor, workers: where replications run (``"processes"`` on every core by default).
        progress: a progress bar (``None``: on a terminal only).

    Raises :class:`~model.planning.PlanError` (a ``ValueError``) for a bad target, scope, hours,
    setting or number, before anything runs.
    """
    sc = as_scenario(scenario)
    plan_list = plan_targets(sc, targets)
    try:
        step = interval_seconds(by)
    except ValueError as err:
        raise PlanError(f"by: {err}") from None
    span = parse_hours(hours)
    conf = _check_number("confidence", confidence, 0.0, 1.0)
    costs = (_check_number("agent_hour_cost", agent_hour_cost, 0.0),
             _check_number("lost_transfer_cost", lost_transfer_cost, 0.0))
    if isinstance(min_agents, bool) or not isinstance(min_agents, int) or min_agents < 0:
        raise PlanError(f"min_agents must be a whole number from 0; got {min_agents!r}")
    n = int(sc.simulation.replications if replications is None else replications)
    if n < 2 and conf:
        raise PlanError(f"replications must be at least 2 to have a confidence interval (got {n}); "
                        "or ask the mean to meet the targets with confidence=0")
    seed = int(sc.simulation.seed if seed is None else seed)
    try:
        points = grid_points(normalise_vary(vary)) if vary else [{}]
    except ExperimentError as err:
        raise PlanError(f"vary: {err}") from None
    if len(points) > MAX_SETTINGS:
        raise PlanError(f"vary gives {len(points)} settings; a plan compares at most {MAX_SETTINGS} "
                        "(each is a whole search): vary fewer values")
    settings = [(p, sc.with_changes(p) if p else sc) for p in points]  # ScenarioError before anything runs
    groups = list(dict.fromkeys(g for t in plan_list for g in t.groups))
    window, labels = _labels(sc, step, span)
    if not labels:
        raise PlanError(f"hours {hours!r}: no interval of the measured window starts in them; the window's "
                        f"intervals: {', '.join(window[:3])} ... {window[-1] if window else ''}")
    from ..workload import check_work, estimate_work

    check_work(estimate_work(sc, n, keep_events=False, timeline_step=None), False,
               what="each simulation of this plan", override="fewer replications")
    window_hours = (sc.simulation.horizon - sc.simulation.warmup) / 3600.0
    show = sys.stderr.isatty() if progress is None else bool(progress)
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(settings), desc="plan", unit="setting")
    say: Callable[[str], None] = (lambda text: bar.set_postfix_str(text)) if bar is not None else (lambda text: None)
    tried: list[Option] = []
    try:
        with make_runner(executor, workers) as runner:
            for point, s in settings:
                cells, notes = start_cells(s, plan_list, labels, step, min_agents)
                ev, met, srch = search(s, plan_list, labels, step, cells, seed=seed, replications=n,
                                       confidence=conf or 0.0, runner=runner, min_agents=min_agents,
                                       on_round=say)
                tried.append(_option(point, ev, met, srch.evaluations, [*notes.values(), *srch.notes],
                                     groups, window_hours, costs, labels))
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    chosen = _choose(tried, plan_list, costs)
    return Plan(chosen.evaluation.scenario, chosen.settings, chosen.met,
                _table(chosen, plan_list, groups, window, labels, step),
                _options(tried, plan_list), plan_list, groups, span, step, conf or 0.0, n, seed,
                costs[0], costs[1], chosen, tried, window_hours)


def _option(point: dict[str, Any], ev: Evaluation, met: bool, sims: int, notes: list[str], groups: list[str],
            window_hours: float, costs: tuple[float | None, float | None], labels: list[str]) -> Option:
    staffed = sum(_metric(ev.metrics, "group", g, "staffed_agents")[0] for g in groups)
    lost = sum(_metric(ev.metrics, "overall", "all", m)[0] for m in ("abandoned_transfer", "transfer_expired"))
    lost = 0.0 if math.isnan(lost) else lost
    hours = staffed * window_hours
    cost = None
    if costs[0] is not None or costs[1] is not None:
        cost = (costs[0] or 0.0) * hours + (costs[1] or 0.0) * lost
    return Option(dict(point), ev, met, sims, notes, hours, lost, cost, labels)


def _choose(tried: list[Option], targets: Sequence[PlanTarget], costs: tuple[float | None, float | None]) -> Option:
    meeting = [o for o in tried if o.met]
    if not meeting:
        return min(tried, key=lambda o: (o.shortfall(targets), o.agent_hours))
    if costs[0] is not None or costs[1] is not None:
        return min(meeting, key=lambda o: (o.cost, o.agent_hours))
    return min(meeting, key=lambda o: (round(o.agent_hours, 6), o.lost_transfers))


def figure_column(t: PlanTarget) -> str:
    """The plan table's column of a target's figure: ``"transfer_abandonment_rate target:tech"``."""
    return f"{t.metric} {t.scope}"


def _table(option: Option, targets: Sequence[PlanTarget], groups: list[str], window: list[str],
           labels: list[str], step: float) -> pd.DataFrame:
    ev = option.evaluation
    iv = ev.intervals
    rows = []
    for label in window:
        for g in groups:
            row: dict[str, Any] = {"interval": label, "group": g}
            planned = (g, label) in ev.cells
            row["agents"] = ev.cells[(g, label)] if planned else _anonymous_at(ev.scenario, g, label)
            row["named agents"] = round(named_on_shift(ev.scenario, g, label, step), 3)
            row["planned"] = planned
            row["staffed_agents"] = _iv(iv, label, "group", g, "staffed_agents")[0]
            mean, lo, hi = _iv(iv, label, "group", g, "agent_occupancy")
            row.update({"agent_occupancy": mean, "agent_occupancy ci_low": lo, "agent_occupancy ci_high": hi})
            verdicts = []
            for ti, t in enumerate(targets):
                col = figure_column(t)
                fig = ev.worst.get((ti, label)) if g in t.groups else None
                mean, lo, hi = fig if fig is not None else (math.nan,) * 3
                row.update({col: mean, f"{col} ci_low": lo, f"{col} ci_high": hi})
                if fig is not None and label in labels:
                    verdicts.append(t.target.met(t.bound(*fig)))
            row["meets"] = ("yes" if all(verdicts) else "no") if verdicts else ("" if label in labels else "not planned")
            rows.append(row)
    return pd.DataFrame(rows)


def _anonymous_at(scenario: Scenario, group: str, label: str) -> int:
    from ..scenario.durations import parse_clock
    from ..scenario.staffing import StaffingProfile

    agents = scenario.group(group).agents
    return agents.at(parse_clock(label)) if isinstance(agents, StaffingProfile) else int(agents)


def _iv(iv: pd.DataFrame, label: str, scope: str, key: str, metric: str) -> tuple[float, float, float]:
    row = iv[(iv.interval == label) & (iv.scope == scope) & (iv.key == key) & (iv.metric == metric)]
    if row.empty:
        return (math.nan,) * 3  # type: ignore[return-value]
    r = row.iloc[0]
    return float(r["mean"]), float(r["ci_low"]), float(r["ci_high"])


def _options(tried: list[Option], targets: Sequence[PlanTarget]) -> pd.DataFrame:
    rows = []
    for o in tried:
        row: dict[str, Any] = dict(o.settings)
        row.update({"meets every target": o.met, "agent-hours": round(o.agent_hours, 2),
                    "lost transfers": round(o.lost_transfers, 2), "cost": o.cost,
                    "worst shortfall": o.shortfall(targets), "simulations": o.simulations,
                    "note": "; ".join(o.notes)})
        rows.append(row)
    return pd.DataFrame(rows)

