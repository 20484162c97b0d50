"""Tuning: the smallest setting of one parameter that meets a target with 95 % confidence.

"Meets the target with 95 % confidence" means the whole 95 % interval is on the good side:
``ci_high <= target`` for a lower-is-better metric (abandonment, time to join...), ``ci_low >= target``
for a higher-is-better one (``transfer_success_rate``, ``transfer_service_level``...).

The search evaluates a coarse grid over the range (in parallel), then bisects between the last
setting that fails and the first that meets, down to ``resolution``. It assumes the metric improves
monotonically as the parameter grows (more agents, a longer timeout); the result says so, and says
when the explored curve contradicts it. Every evaluation uses the same seed and replications
(common random numbers), so neighbouring settings are compared on the same dice.
"""

from __future__ import annotations

import builtins
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..results.figures import GROUP_METRICS, better_direction
from ..results.metrics import METRICS
from ..results.result import atomic_write
from ..results.scopes import ScopeError, derive_scopes, parse_scope, scope_text
from ..scenario import Scenario, as_scenario
from .executors import ExecutorSpec, make_runner
from .grid import ExperimentError, parse_range
from .sweeps import ChunkFunction, SweepWarning, run_sweep

__all__ = ["tune", "TuneResult", "TuneFailed", "metric_direction", "parse_scope", "tune_scope", "agent_hours"]

EXPLORED_COLUMNS = ["mean", "ci_low", "ci_high", "n", "meets", "stage"]
ASSUMPTION = "assumes the metric improves monotonically as the parameter grows"


def metric_direction(metric: str, direction: str | None = None) -> str:
    """``"lower"`` or ``"higher"`` (is better): ``direction`` if given, else from the metric's name."""
    if direction is not None:
        if direction not in ("lower", "higher"):
            raise ExperimentError(f"direction must be 'lower' or 'higher', got {direction!r}")
        return direction
    better = better_direction(metric)
    if better is not None:
        return better
    raise ExperimentError(f"cannot tell whether more {metric!r} is better: give direction 'lower' or 'higher'")


def tune_scope(sc: Scenario, param: str, scope: str | None) -> tuple[str, str, str]:
    """``(kind, key, why)``: the scope a tuning reads its figure in, and why that one. Given, it is
    used as typed; not given, it is derived from ``param`` (``groups.tech.agents`` -> ``target:tech``
    when tech receives transfers; else ``overall``), and ``why`` says so."""
    if scope is not None:
        try:
            kind, key = parse_scope(scope)
        except ScopeError as err:
            raise ExperimentError(str(err)) from None
        return kind, key, "as given"
    receiving = sorted({r.to for g in sc.groups for r in g.transfers})
    derived = derive_scopes([param], receiving)[0]
    kind, key = parse_scope(derived)
    if kind == "overall":
        return kind, key, (f"all contacts: {param} is not the staffing of a group that receives transfers; "
                           "give a scope to choose")
    return kind, key, f"derived from {param}; give a scope to choose another"


def _check_scope(sc: Scenario, metric: str, scope: tuple[str, str]) -> None:
    kind, name = scope
    known = {
        "overall": ["all"],
        "service": [s.name for s in sc.services],
        "target": sorted(sc.targets()),
        "group": [g.name for g in sc.groups],
    }[kind]
    if name not in known:
        raise ExperimentError(f"unknown {kind} {name!r}; known: {', '.join(known)}")
    metrics = list(GROUP_METRICS) if kind == "group" else list(METRICS)
    if metric not in metrics:
        raise ExperimentError(f"no metric {metric!r} for scope {kind}; known: {', '.join(metrics)}")


class TuneFailed(ExperimentError):
    """Evaluating a setting failed while tuning: the message names the parameter, each failed value
    and why (the one-line error of the point).

    Attributes:
        param: the tuned path.
        values: the settings that failed, in order.
        failures: the sweep's failure records (``point``, ``params``, ``error``, ``traceback``...).
        explored: the settings evaluated before, as :attr:`TuneResult.explored` (may be empty).
    """

    def __init__(self, param: str, failures: list[dict[str, Any]], explored: pd.DataFrame | None = None) -> None:
        self.param = param
        self.failures = list(failures)
        self.values = [f.get("params", {}).get(param) for f in self.failures]
        self.explored = explored if explored is not None else pd.DataFrame(columns=[param, *EXPLORED_COLUMNS])
        which = "; ".join(f"{param} = {v}: {f.get('error')}" for v, f in zip(self.values, self.failures))
        super().__init__(f"tuning {param} stopped: evaluating the setting {which}")


@dataclass
class TuneResult:
    """The answer of :func:`tune`.

    Attributes:
        recommended: the smallest explored setting that meets the target, or ``None``.
        reason: one sentence: why this value, or why none.
        explored: the curve explored, sorted by the parameter: ``PARAM, mean, ci_low, ci_high, n,
            meets, stage`` (``grid`` or ``bisect``).
        param, metric, target, direction, scope, key, replications, seed: the question.
        monotone: ``False`` when the explored curve contradicts the monotone assumption.
        scope_reason: why this scope: ``"as given"``, or how it was derived from ``param``.
        chosen: the setting the answer is about: ``recommended``, or when none meets, the explored
            setting that comes closest (the best 95 % bound).
        occupancy: per group, agent occupancy ``[mean, ci_low, ci_high]`` at ``chosen``.
        agent_hours: per group, the agent-hours on shift in one simulated run at ``chosen``
            (:func:`agent_hours`): what the answer costs.
        hours: the simulated hours each run measures (the horizon after the warm-up).
    """

    param: str
    metric: str
    target: float
    direction: str
    scope: str
    key: str
    replications: int
    seed: int
    recommended: int | float | None
    reason: str
    explored: pd.DataFrame
    monotone: bool = True
    assumption: str = ASSUMPTION
    scope_reason: str = "as given"
    chosen: int | float | None = None
    occupancy: dict[str, list[float]] = field(default_factory=dict)
    agent_hours: dict[str, float] = field(default_factory=dict)
    hours: float = math.nan

    @property
    def found(self) -> bool:
        return self.recommended is not None

    def to_dict(self) -> dict[str, Any]:
        ex = self.explored.astype(object).where(self.explored.notna(), None)
        return {
            "param": self.param,
            "metric": self.metric,
            "target": self.target,
            "direction": self.direction,
            "scope": self.scope,
            "key": self.key,
            "scope_text": scope_text(self.scope, self.key),
            "scope_reason": self.scope_reason,
            "replications": self.replications,
            "seed": self.seed,
            "recommended": self.recommended,
            "reason": self.reason,
            "monotone": self.monotone,
            "assumption": self.assumption,
            "chosen": self.chosen,
            "occupancy": self.occupancy,
            "agent_hours": self.agent_hours,
            "hours": None if math.isnan(self.hours) else self.hours,
            "explored": ex.to_dict(orient="records"),
        }

    def to_files(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``explored.parquet``, ``explored.csv`` and ``tune.json`` into ``directory``."""
        import json

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        atomic_write(d / "explored.parquet", lambda p: self.explored.to_parquet(p, index=False))
        atomic_write(d / "explored.csv", lambda p: self.explored.to_csv(p, index=False))
        atomic_write(d / "tune.json", lambda p: Path(p).write_text(json.dumps(self.to_dict(), indent=2, default=str)))
        return d


def tune(
    scenario: Scenario | str | os.PathLike[str],
    metric: str,
    target: float,
    param: str,
    range: tuple[float, float] | str,  # noqa: A002 - the CLI's word
    *,
    scope: str | None = None,
    direction: str | None = None,
    replications: int | None = None,
    seed: int | None = None,
    grid: int = 7,
    resolution: float | None = None,
    executor: ExecutorSpec = "processes",
    workers: int | None = None,
    progress: bool | None = None,
    level: float = 0.95,
    chunk_fn: ChunkFunction | None = None,
    force: bool = False,
) -> TuneResult:
    """Find the smallest value of ``param`` in ``range`` for which ``metric`` meets ``target``.

    Args:
        scenario: a Scenario or the path of a TOML file.
        metric: a metric name of LIFECYCLE.md, e.g. ``"transfer_abandonment_rate"``.
        target: the threshold the metric's 95 % interval must clear.
        param: a dotted scenario path, e.g. ``"services.support.transfer_timeout"`` or
            ``"groups.billing.agents"``.
        range: ``(low, high)`` or ``"10..300"``.
        scope: ``overall`` | ``service:NAME`` | ``target:NAME`` | ``group:NAME``; default derived
            from ``param`` (:func:`tune_scope`: ``groups.tech.agents`` -> ``target:tech`` when tech
            receives transfers, else ``overall``), recorded with why in ``scope_reason``.
        direction: ``"lower"`` or ``"higher"`` is better (default: from the metric's name).
        grid: points of the coarse grid (ends included).
        resolution: the step the answer is exact to (default 1: integers, whole seconds).
        executor, workers, progress, chunk_fn, force: as for :func:`~model.experiments.run_sweep`
            (``force`` runs settings above the work bounds of ``docs/limits.md``).

    Raises:
        TuneFailed: a setting could not be evaluated (the message names the value and the reason).
    """
    sc = as_scenario(scenario)
    kind, key, scope_reason = tune_scope(sc, param, scope)
    _check_scope(sc, metric, (kind, key))
    better = metric_direction(metric, direction)
    if isinstance(range, str):
        lo, hi, step = parse_range(range)
        resolution = resolution if resolution is not None else step
    else:
        lo, hi = range
        if hi < lo:
            raise ExperimentError(f"empty range {lo}..{hi}")
    res = resolution if resolution is not None else 1
    if res <= 0:
        raise ExperimentError(f"resolution must be > 0, got {res}")
    integral = all(float(x).is_integer() for x in (lo, hi, res))
    steps = int(math.floor((hi - lo) / res + 1e-9))

    def value(k: int) -> int | float:
        v = lo + k * res
        return int(round(v)) if integral else round(v, 12)

    # check the path and both ends before anything runs (ScenarioError on a bad path or value)
    sc.with_changes({param: value(0)})
    sc.with_changes({param: value(steps)})
    n = int(sc.simulation.replications if replications is None else replications)
    seed = int(sc.simulation.seed if seed is None else seed)

    rows: dict[int, dict[str, Any]] = {}
    groups: dict[int, dict[str, dict[str, Any]]] = {}  # per setting: occupancy and agents on shift per group

    def meets(r: dict[str, Any]) -> bool:
        if better == "lower":
            return bool(not math.isnan(r["ci_high"]) and r["ci_high"] <= target)
        return bool(not math.isnan(r["ci_low"]) and r["ci_low"] >= target)

    runner = make_runner(executor, workers)
    try:
        def evaluate(ks: list[int], stage: str) -> None:
            ks = [k for k in dict.fromkeys(ks) if k not in rows]
            if not ks:
                return
            with warnings.catch_warnings():  # a failure is raised below, naming the setting
                warnings.simplefilter("ignore", SweepWarning)
                result = run_sweep(
                    sc, {param: [value(k) for k in ks]}, n, seed=seed, executor=runner,
                    progress=progress, level=level, on_error="record", chunk_fn=chunk_fn, force=force,
                )
            if result.failures:
                # the search needs every setting it asked for; say which failed and why
                explored = pd.DataFrame([rows[k] for k in sorted(rows)], columns=[param, *EXPLORED_COLUMNS])
                raise TuneFailed(param, result.failures, explored)
            m = result.metric(metric, kind, key)
            summary = result.summary
            for k in ks:
                at = summary[(summary.scope == "group") & (summary[param] == value(k))]
                groups[k] = {
                    "occupancy": {str(r.key): [float(r.mean), float(r.ci_low), float(r.ci_high)]
                                  for r in at[at.metric == "agent_occupancy"].itertuples()},
                    "agent_hours": agent_hours(sc.with_changes({param: value(k)})),
                }
            for k, r in zip(ks, m.to_dict(orient="records")):
                row = {param: value(k), "mean": r["mean"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                       "n": int(r["n"]), "stage": stage}
                row["meets"] = meets(row)
                rows[k] = row

        coarse = sorted({int(round(steps * j / max(1, grid - 1))) for j in builtins.range(max(2, grid))})
        evaluate(coarse, "grid")
        ok = [k for k in coarse if rows[k]["meets"]]
        bound = "ci_high" if better == "lower" else "ci_low"
        cmp = "<=" if better == "lower" else ">="
        if not ok:
            r = rows[steps]
            recommended = None
            near = _closest(rows, bound, better)
            reason = (f"no value in {value(0)}..{value(steps)} meets {metric} {cmp} {target} with "
                      f"{level:.0%} confidence: at {value(steps)} the {bound} is {r[bound]:.4g}")
            if near is not None and near != steps:
                reason += f"; the closest is {value(near)} ({bound} {rows[near][bound]:.4g})"
        else:
            b = ok[0]
            if b == 0:
                recommended = value(0)
                reason = (f"the lowest value of the range, {value(0)}, already meets {metric} {cmp} {target} "
                          f"({bound} {rows[0][bound]:.4g})")
            else:
                a = max(k for k in coarse if k < b)  # fails
                while b - a > 1:
                    m = (a + b) // 2
                    evaluate([m], "bisect")
                    if rows[m]["meets"]:
                        b = m
                    else:
                        a = m
                recommended = value(b)
                reason = (f"{value(b)} is the smallest value meeting {metric} {cmp} {target} with {level:.0%} "
                          f"confidence ({bound} {rows[b][bound]:.4g}); {value(a)} does not "
                          f"({bound} {rows[a][bound]:.4g}); {ASSUMPTION}")
    finally:
        if runner is not executor:
            runner.close()

    explored = pd.DataFrame([rows[k] for k in sorted(rows)], columns=[param, *EXPLORED_COLUMNS])
    flags = list(explored["meets"])
    monotone = all(not (flags[i] and not flags[i + 1]) for i in builtins.range(len(flags) - 1))
    if not monotone:
        reason += "; warning: the explored curve is not monotone (a setting that meets is followed by one that does not)"
    chosen_k = next((k for k in rows if value(k) == recommended), None) if recommended is not None \
        else _closest(rows, "ci_high" if better == "lower" else "ci_low", better)
    at = groups.get(chosen_k, {}) if chosen_k is not None else {}
    return TuneResult(
        param=param, metric=metric, target=float(target), direction=better, scope=kind, key=key,
        replications=n, seed=seed, recommended=recommended, reason=reason, explored=explored, monotone=monotone,
        scope_reason=scope_reason, chosen=None if chosen_k is None else value(chosen_k),
        occupancy=at.get("occupancy", {}), agent_hours=at.get("agent_hours", {}),
        hours=float(sc.simulation.horizon) / 3600.0,
    )


def agent_hours(sc: Scenario) -> dict[str, float]:
    """Per group, the agent-hours on shift in one simulated run after the warm-up, from the rota as
    the engine reads it (a named agent in two groups counts in both): the cost of a staffing."""
    sim = sc.simulation
    t0, t1 = float(sim.warmup), float(sim.warmup + sim.horizon)
    on = {name: sh.on_time(sim.start_seconds, t0, t1) for name, sh in sc.shifts().items()}
    return {g.name: sum(on[a] for a in sc.agents_of(g.name)) / 3600.0 for g in sc.groups}


def _closest(rows: dict[int, dict[str, Any]], bound: str, better: str) -> int | None:
    """The explored step whose 95 % ``bound`` is nearest the good side (the smallest upper bound when
    lower is better, the largest lower bound when higher is); the smaller setting on a tie."""
    have = [k for k in sorted(rows) if not math.isnan(rows[k][bound])]
    if not have:
        return None
    sign = 1.0 if better == "lower" else -1.0
    return min(have, key=lambda k: (sign * rows[k][bound], k))

