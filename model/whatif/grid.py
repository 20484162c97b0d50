"""The data behind a what-if page: every point of a grid of changes, simulated with common
random numbers, and the headline figures of each point as one tidy frame.

Why: a page with a slider per varied setting must hold every point it can show, computed before
anyone opens it (it works offline, with no simulator behind it). Whole-run figures come from
:func:`model.experiments.run_sweep` (every core, a progress bar, the same figures as ``sweep``);
with an interval (``by``) each point is simulated by :func:`model.sim.simulate` with ``interval=``,
which gives the same whole-run figures (the same replications of the same seed) and the figures per
interval of the clock as well, so nothing is simulated twice.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..experiments import ExperimentError, make_runner, run_sweep
from ..experiments.executors import ExecutorSpec, guarded
from ..experiments.grid import column_values, grid_points, grid_size, normalise_vary
from ..experiments.tuning import parse_scope
from ..scenario import Scenario, as_scenario

__all__ = ["HEADLINE_METRICS", "SCOPE_METRICS", "MAX_POINTS", "WHOLE_RUN", "WhatIf", "WhatIfFailed", "whatif",
           "check_points", "check_scopes", "default_scopes", "simulate_point"]

HEADLINE_METRICS: tuple[str, ...] = ("transfer_abandonment_rate", "queue_abandonment_rate", "transfer_success_rate",
                                     "time_to_join_mean", "service_level", "agent_occupancy")
"""The figures a what-if page shows, in this order (those a scope has: :data:`SCOPE_METRICS`)."""

SCOPE_METRICS: Mapping[str, tuple[str, ...]] = {
    "overall": HEADLINE_METRICS[:5],
    "service": HEADLINE_METRICS[:5],
    "target": ("transfer_abandonment_rate", "transfer_success_rate", "time_to_join_mean"),
    "group": ("agent_occupancy",),
}
"""Which headline figures each kind of scope has (a transfer target has no queue; occupancy is a group's)."""

MAX_POINTS = 400
"""Most points one page may hold: every one is embedded in the page, and simulated first."""

WHOLE_RUN = "all"
"""The ``interval`` of a whole-run figure in :attr:`WhatIf.frame` (per-interval rows hold ``"HH:MM"``)."""

TAIL_COLUMNS = ["interval", "scope", "metric", "mean", "ci_low", "ci_high", "n"]


class WhatIfFailed(ExperimentError):
    """A point of the grid could not be simulated; the message names it and why (nothing is written)."""


@dataclass
class WhatIf:
    """The points of a what-if page and their headline figures.

    Attributes:
        scenario: the scenario every point changes.
        vary: the varied paths and their values, in grid order (first path outermost).
        replications: per point; seed: the one seed of every point (common random numbers).
        scopes: the scopes shown, in the page's syntax (``overall``, ``target:billing``, ...).
        frame: tidy, ``point`` (grid index), one column per varied path, then ``interval``
            (:data:`WHOLE_RUN` or the interval's start ``"HH:MM"``), ``scope``, ``metric``, ``mean``,
            ``ci_low``, ``ci_high``, ``n``: the headline figures of every point (whatif.csv).
        interval: seconds of each interval (``by``), or ``None``.
        starts: the intervals' starts in run order (empty without ``by``).
    """

    scenario: Scenario
    vary: dict[str, list[Any]]
    replications: int
    seed: int
    scopes: list[str]
    frame: pd.DataFrame
    interval: float | None = None
    starts: list[str] = field(default_factory=list)

    @property
    def params(self) -> list[str]:
        """The varied paths, one slider each."""
        return list(self.vary)

    @property
    def points(self) -> int:
        """How many points the grid has."""
        return grid_size(self.vary)

    def figures(self) -> list[tuple[str, str]]:
        """``(scope, metric)`` of every headline figure, in the page's order."""
        return [(s, m) for s in self.scopes for m in SCOPE_METRICS[parse_scope(s)[0]]]

    def html(self) -> str:
        """The page: one self-contained HTML file (styles, script and data inline, no network)."""
        from .page import render

        return render(self)

    def write(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``index.html`` and ``whatif.csv`` into ``directory`` as a whole (a hidden temporary
        folder renamed into place: nothing half-written on failure); an earlier what-if page there
        is replaced, any other content refused (:class:`ExperimentError`). Returns the index.html."""
        from ..results.result import atomic_write, folder_kind, folder_written

        out = Path(directory)
        kind = folder_kind(out)
        if kind == "file":
            raise ExperimentError(f"{out} is a file, not a folder; give a folder path")
        if kind is not None and not is_whatif_folder(out):
            raise ExperimentError(f"{out} is not empty and holds no what-if page; give a new or empty folder")
        text, csv = self.html(), self.frame.to_csv(index=False)
        with folder_written(out) as tmp:
            atomic_write(tmp / "index.html", lambda p: Path(p).write_text(text, encoding="utf-8"))
            atomic_write(tmp / "whatif.csv", lambda p: Path(p).write_text(csv, encoding="utf-8"))
        return out / "index.html"


def is_whatif_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds a what-if page (``index.html`` beside ``whatif.csv``) and nothing else."""
    p = Path(path)
    return p.is_dir() and {c.name for c in p.iterdir()} <= {"index.html", "whatif.csv", ".DS_Store"} \
        and (p / "whatif.csv").is_file()


def check_points(vary: Mapping[str, Sequence[Any]]) -> int:
    """The number of points of ``vary``, or :class:`ExperimentError` above :data:`MAX_POINTS`."""
    n = grid_size(vary)
    if n > MAX_POINTS:
        sizes = " x ".join(f"{len(v):,}" for v in vary.values())
        raise ExperimentError(f"this grid has {n:,} points ({sizes} values); a what-if page holds at most "
                              f"{MAX_POINTS} points: vary fewer values")
    return n


def default_scopes(sc: Scenario) -> list[str]:
    """``overall``, every target of a transfer rule (in the scenario's order), every group (occupancy)."""
    targets = dict.fromkeys(rule.to for g in sc.groups for rule in g.transfers)
    return ["overall", *(f"target:{t}" for t in targets), *(f"group:{g.name}" for g in sc.groups)]


def check_scopes(sc: Scenario, scopes: Sequence[str] | None) -> list[str]:
    """The scopes to show: ``overall`` first, then ``scopes`` (default :func:`default_scopes`),
    each checked against the scenario; :class:`ExperimentError` naming the allowed ones otherwise."""
    if scopes is None:
        return default_scopes(sc)
    known = {"overall": ["all"], "service": [s.name for s in sc.services], "target": sorted(sc.targets()),
             "group": [g.name for g in sc.groups]}
    allowed = ", ".join(["overall", *(f"{k}:{n}" for k in ("service", "target", "group") for n in known[k])])
    out = ["overall"]
    for text in scopes:
        try:
            kind, key = parse_scope(str(text).strip())
        except ValueError:  # ExperimentError, or the ScopeError of a newer parse_scope
            raise ExperimentError(f"scope {text!r} is not a scope; allowed: {allowed}") from None
        if key not in known[kind]:
            raise ExperimentError(f"scope {text!r}: no {kind} {key!r} in {sc.name}; allowed: {allowed}")
        name = "overall" if kind == "overall" else f"{kind}:{key}"
        if name not in out:
            out.append(name)
    return out


def simulate_point(scenario: Scenario, seed: int, replications: int, step: float) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """One point with intervals: its whole-run figures (``SimulationResult.metrics``), its figures
    per interval (``.intervals``) and the intervals' starts in run order. Module level: it runs in
    worker processes."""
    from ..charts.intervals import interval_rows
    from ..sim import simulate

    result = simulate(scenario, seed=seed, replications=replications, keep_events=False, timeline_step=None,
                      interval=step, force=True)
    assert result.intervals is not None
    return result.metrics, result.intervals, [r.start for r in interval_rows(result, step)]


def whatif(
    scenario: Scenario | str | os.PathLike[str],
    vary: Mapping[str, Sequence[Any]],
    replications: int | None = None,
    *,
    seed: int | None = None,
    by: str | float | None = None,
    scopes: Sequence[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    executor: ExecutorSpec = "processes",
    workers: int | None = None,
    force: bool = False,
) -> WhatIf:
    """Simulate every point of the grid ``vary`` (as :func:`model.experiments.sweep` takes it) with
    ``replications`` each from one ``seed`` (common random numbers) and return a :class:`WhatIf`.

    ``by`` (``"1h"``, ``"30m"``, seconds) adds the figures per interval of the clock; ``scopes``
    (``overall``, ``service:NAME``, ``target:NAME``, ``group:NAME``) adds scopes to ``overall``
    (default: every transfer target and group); ``out`` writes the page there (:meth:`WhatIf.write`).
    Everything is checked before anything runs: a bad path, value, scope or interval raises
    (:class:`ExperimentError`, ``ScenarioError``), a grid above :data:`MAX_POINTS` points or work
    above docs/limits.md (``WorkTooLarge``, unless ``force``) too; a point that fails to simulate
    raises :class:`WhatIfFailed` or ``SweepFailed``. ``progress``: a bar (default: on a terminal).
    """
    from ..sim.intervals import interval_seconds
    from ..workload import check_work, estimate_sweep_work

    sc = as_scenario(scenario)
    grid = normalise_vary(vary)
    check_points(grid)
    n = int(sc.simulation.replications if replications is None else replications)
    if n < 1:
        raise ExperimentError(f"replications must be >= 1, got {n}")
    s = int(sc.simulation.seed if seed is None else seed)
    try:
        step = None if by is None else interval_seconds(by)
    except ValueError as err:
        raise ExperimentError(f"by: {err}") from None
    chosen = check_scopes(sc, scopes)
    points = grid_points(grid)
    scenarios = [sc.with_changes(p) for p in points]  # ScenarioError here, before anything runs
    check_work(estimate_sweep_work(sc, grid, n), force, what="this what-if page", override="force=True")
    columns = {path: column_values(vals) for path, vals in grid.items()}
    index = list(itertools.product(*(range(len(v)) for v in grid.values())))
    cells = [{path: columns[path][j] for path, j in zip(grid, idx)} for idx in index]
    parts: list[tuple[int, str, pd.DataFrame]] = []
    starts: list[str] = []
    if step is None:
        res = run_sweep(sc, grid, n, seed=s, executor=executor, workers=workers, progress=progress, force=True)
        where = {tuple(c.values()): i for i, c in enumerate(cells)}
        for values, frame in res.summary.groupby(list(grid), sort=False):
            parts.append((where[values if isinstance(values, tuple) else (values,)], WHOLE_RUN, frame))
    else:
        done = _run_points(scenarios, points, s, n, step, executor, workers, progress, sc.name)
        for i, (metrics, intervals, order) in enumerate(done):
            parts.append((i, WHOLE_RUN, metrics))
            by_start = {str(k): f for k, f in intervals.groupby("interval", sort=False)}
            parts += [(i, start, by_start[start]) for start in order if start in by_start]
            starts += [x for x in order if x not in starts]
    frame = _headline_frame(parts, cells, chosen, list(grid))
    result = WhatIf(sc, grid, n, s, chosen, frame, step, starts)
    if out is not None:
        result.write(out)
    return result


def _run_points(scenarios: list[Scenario], points: list[dict[str, Any]], seed: int, n: int, step: float,
                executor: ExecutorSpec, workers: int | None, progress: bool | None,
                name: str) -> list[tuple[pd.DataFrame, pd.DataFrame, list[str]]]:
    """:func:`simulate_point` at every point, on the runner of ``executor``, in grid order."""
    from tqdm.auto import tqdm

    done: dict[int, Any] = {}
    pending = deque(range(len(scenarios)))
    inflight: dict[Any, int] = {}
    with make_runner(executor, workers) as runner, tqdm(
        total=len(scenarios) * n, desc=f"what-if {name}", unit="rep", file=sys.stderr, dynamic_ncols=True,
        disable=None if progress is None else not progress,
    ) as bar:
        while pending or inflight:
            while pending and len(inflight) < runner.window:
                i = pending.popleft()
                inflight[runner.submit(guarded, simulate_point, scenarios[i], seed, n, step)] = i
            for fut in runner.wait(list(inflight)):
                i = inflight.pop(fut)
                try:
                    tag, value = fut.result()
                # broad: a lost worker, or a result that does not unpickle, is this point's failure
                except Exception as err:
                    tag, value = "error", runner.describe(err)
                if tag == "error":
                    raise WhatIfFailed(f"point {i} {points[i]} could not be simulated: {value['error']}")
                done[i] = value
                bar.update(n)
    return [done[i] for i in range(len(scenarios))]


def _headline_frame(parts: list[tuple[int, str, pd.DataFrame]], cells: list[dict[str, Any]], scopes: list[str],
                    params: list[str]) -> pd.DataFrame:
    """The tidy frame of :attr:`WhatIf.frame` from each point's tidy figures (``scope, key, metric,
    mean, ci_low, ci_high, n``), keeping the headline figures of ``scopes``."""
    wanted = {}
    for scope in scopes:
        kind, key = parse_scope(scope)
        for metric in SCOPE_METRICS[kind]:
            wanted[(kind, key, metric)] = scope
    rows = []
    for i, interval, frame in sorted(parts, key=lambda p: p[0]):  # stable: each point's parts keep their order
        found = {(r.scope, r.key, r.metric): r for r in frame.itertuples(index=False)
                 if (r.scope, r.key, r.metric) in wanted}
        for k, scope in wanted.items():
            r = found.get(k)
            mean, lo, hi, count = (math.nan, math.nan, math.nan, 0) if r is None else (r.mean, r.ci_low, r.ci_high, r.n)
            rows.append((i, *cells[i].values(), interval, scope, k[2], float(mean), float(lo), float(hi), int(count)))
    return pd.DataFrame(rows, columns=["point", *params, *TAIL_COLUMNS])

