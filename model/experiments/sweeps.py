"""Sweeps: a scenario x a grid of changes x replications, with common random numbers.

Every point of a sweep runs replications ``0 .. R-1`` from the same seed, and the engine's streams
are keyed only by ``(seed, replication, purpose, name)`` (``model.sim.streams``): replication ``i``
of every point sees the same arrivals, patience, handle times... The difference between two points
is then the effect of the change, not of the dice (common random numbers).

The unit of work is a chunk of replications of one point; a point is stored (Parquet, atomically)
as soon as all its replications are in, so an interrupted sweep resumes where it stopped.

A point that fails (whatever it raises, or a worker process that dies while running it) is recorded
with its changes and a one-line reason, and never stops the other points: see
:mod:`model.experiments.executors` for how a failure crosses the process boundary as plain data
and how a dead worker is found and replaced. ``run_sweep`` then raises :class:`SweepFailed`
(carrying the partial result) or, with ``on_error="record"``, returns it with ``failures``.
The result and the tidy frames it is made of: :mod:`model.experiments.sweep_result`.
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import TransferSimError
from ..results.result import ReplicationRow, per_replication_rows
from ..scenario import Scenario, as_scenario
from ..sim import run_replication
from .executors import ExecutorSpec, FutureLike, Runner, guarded, make_runner
from .grid import ExperimentError, column_values, grid_points, normalise_vary
from .store import SweepStore
from .sweep_result import (
    REPLICATION_COLUMNS,
    SUMMARY_COLUMNS,
    SweepResult,
    concat_frames,
    point_frame,
    point_ids,
    summary_frame,
)

__all__ = [
    "sweep", "run_sweep", "sweep_arguments", "run_chunk", "SweepResult", "SweepWarning", "SweepFailed",
    "ON_ERROR", "SUMMARY_COLUMNS", "REPLICATION_COLUMNS",
]

ON_ERROR = ("raise", "record")
"""What ``run_sweep`` does when points failed: raise :class:`SweepFailed` (default) or return."""


class SweepWarning(TransferSimError, UserWarning):
    """Some points of a sweep failed; the others are in the result (``on_error="record"``).

    A :class:`~model.errors.TransferSimError` too, so that under ``-W error`` (warnings raised) it
    is caught with every other refusal of transfer-sim."""


def _failure_lines(failures: Sequence[Mapping[str, Any]], limit: int = 10) -> str:
    lines = [f"{f['point']} {f['params']}: {f['error']}" for f in failures[:limit]]
    if len(failures) > limit:
        lines.append(f"... and {len(failures) - limit} more")
    return "; ".join(lines)


class SweepFailed(ExperimentError):
    """Some points of a sweep failed (``on_error="raise"``, the default). The message lists them;
    nothing computed is lost:

    Attributes:
        result: the :class:`SweepResult` of the points that succeeded (stored too, with ``out``),
            its ``failures`` the failed points.
        failures: ``result.failures``: one dict per failed point (``point``, ``params``, ``error``...).
        points: how many points the sweep has.

    Rerunning the same sweep with the same ``out`` computes the failed points (and only those) again.
    """

    def __init__(self, result: SweepResult) -> None:
        self.result = result
        self.failures = list(result.failures)
        self.points = result.points
        where = f"; the others are stored in {result.out}, rerun to retry the failed ones" if result.out else ""
        super().__init__(
            f"{len(self.failures)} of {self.points} sweep points failed: {_failure_lines(self.failures)}{where}"
        )


# -- the work items (module level: they are pickled to processes and Dask workers) ---------------
ChunkFunction = Callable[[Scenario, int, Sequence[int]], list[ReplicationRow]]
"""What runs a chunk of replications of a point: ``(scenario, seed, replications) -> rows``."""


def run_chunk(scenario: Scenario, seed: int, replications: Sequence[int]) -> list[ReplicationRow]:
    """Run ``replications`` of ``scenario`` from ``seed``; tidy per-replication rows."""
    rows: list[ReplicationRow] = []
    for i in replications:
        o = run_replication(scenario, seed, i, keep_events=False, timeline_step=None)
        rows.extend(per_replication_rows(o.replication, o.by_service, o.by_target, o.occupancy, o.staffed))
    return rows


def point_seed(seed: int, index: int, common: bool) -> int:
    """The seed of point ``index``: the sweep's seed (common random numbers) or one of its own."""
    if common:
        return int(seed)
    return int(np.random.SeedSequence(entropy=[int(seed), 0x5EED, index]).generate_state(1)[0])


def _chunks(n_points: int, replications: int, workers: int, chunk_size: int | None) -> list[range]:
    if chunk_size is None:
        # enough items to keep every worker busy (about 4 per worker), never more than R per point
        per_point = min(replications, max(1, math.ceil(4 * workers / max(1, n_points))))
        chunk_size = math.ceil(replications / per_point)
    size = max(1, int(chunk_size))
    return [range(a, min(a + size, replications)) for a in range(0, replications, size)]


def run_sweep(
    scenario: Scenario | str | os.PathLike[str],
    vary: Mapping[str, Sequence[Any]],
    replications: int | None = None,
    *,
    seed: int | None = None,
    out: str | os.PathLike[str] | None = None,
    executor: ExecutorSpec = "processes",
    workers: int | None = None,
    progress: bool | None = None,
    common_random_numbers: bool = True,
    chunk_size: int | None = None,
    level: float = 0.95,
    on_point: Callable[[dict[str, Any]], None] | None = None,
    on_error: str = "raise",
    chunk_fn: ChunkFunction | None = None,
    force: bool = False,
) -> SweepResult:
    """Run ``scenario`` at every point of the grid ``vary`` and return a :class:`SweepResult`.

    Args:
        scenario: a :class:`~model.scenario.Scenario` or the path of a TOML file.
        vary: dotted path -> values, e.g. ``{"services.support.transfer_timeout": [30, 45, 60, 90],
            "groups.billing.agents": [3, 4, 5]}``. Every point is built (``Scenario.with_changes``)
            before anything runs: a bad path or value raises ``ScenarioError`` and nothing is written.
        replications: per point (default: the scenario's ``simulation.replications``).
        seed: default the scenario's ``simulation.seed``.
        out: a folder to store the sweep in (Parquet, resumable); ``None`` keeps it in memory.
            Running again with the same arguments computes only the points not stored yet (those
            missing and those that failed); other arguments on the same folder are an error.
        executor: ``"processes"`` (every core), ``"serial"``, a Dask ``Client`` or scheduler address,
            or a ``concurrent.futures`` executor.
        workers: processes for ``"processes"`` (default ``os.cpu_count()``).
        progress: a ``tqdm.auto`` bar with ETA; ``None`` shows it only on a terminal.
        common_random_numbers: ``False`` gives every point its own seed (to measure what CRN buys).
        chunk_size: replications per work item (default: enough items for every worker).
        on_point: called after each point is stored with ``{"point", "params", "done", "total"}``
            (or ``"error"`` for a failed point); an exception raised there stops the sweep.
        on_error: what to do when points failed (whatever they raised, or a worker process that
            died): every other point runs and is stored either way; then ``"raise"`` (default)
            raises :class:`SweepFailed`, whose ``.result`` is this result, and ``"record"`` warns
            (:class:`SweepWarning`) and returns it, the failed points in ``.failures``.
        chunk_fn: what runs a chunk of replications of a point, ``(scenario, seed, replications) ->
            rows`` (default :func:`run_chunk`); a module-level function, so workers can import it.
        force: run even when the estimated work of the whole grid exceeds the bounds of
            ``docs/limits.md`` (otherwise :class:`~model.workload.WorkTooLarge` before anything runs).
    """
    if on_error not in ON_ERROR:
        raise ExperimentError(f"on_error must be one of {', '.join(ON_ERROR)}; got {on_error!r}")
    fn = run_chunk if chunk_fn is None else chunk_fn
    sc = as_scenario(scenario)
    vary = normalise_vary(vary)
    params = list(vary)
    points = grid_points(vary)
    ids = point_ids(len(points))
    n = int(sc.simulation.replications if replications is None else replications)
    if n < 1:
        raise ExperimentError(f"replications must be >= 1, got {n}")
    seed = int(sc.simulation.seed if seed is None else seed)
    from ..workload import check_work, estimate_sweep_work

    check_work(estimate_sweep_work(sc, vary, n), force, what="this sweep", override="force=True")
    scenarios = [sc.with_changes(p) for p in points]  # ScenarioError here, before anything runs
    columns = {path: dict(zip(map(_key, vals), column_values(vals))) for path, vals in vary.items()}
    point_columns = [{path: columns[path][_key(p[path])] for path in params} for p in points]

    store = None
    done: set[str] = set()
    # points that failed in an earlier run stay listed until they run again (and leave the list
    # when they then succeed): the folder always says which points are missing and why
    earlier: dict[int, dict[str, Any]] = {}
    failed: dict[int, dict[str, Any]] = {}  # failed in this run
    if out is not None:
        store = SweepStore(out)
        store.open(sweep_arguments(sc, vary, n, seed, common_random_numbers))
        done = store.done() & set(ids)
        index = {pid: i for i, pid in enumerate(ids)}
        for f in store.read_failures():
            if f.get("point") in index and f["point"] not in done:
                earlier[index[f["point"]]] = f
    todo = [i for i, pid in enumerate(ids) if pid not in done]

    def failure_list() -> list[dict[str, Any]]:
        merged = {**earlier, **failed}
        return [merged[i] for i in sorted(merged)]

    def record() -> None:
        if store is not None:
            store.write_failures(failure_list(), total=len(points))

    frames: dict[int, pd.DataFrame] = {}
    runner = make_runner(executor, workers)
    own_runner = not isinstance(executor, Runner)
    chunks = _chunks(len(todo), n, runner.workers, chunk_size)
    bar = None
    inflight: dict[FutureLike, tuple[int, int]] = {}
    try:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=len(points) * n,
            initial=len(done) * n,
            desc=f"sweep {getattr(sc, 'name', '')}".strip(),
            unit="rep",
            disable=(None if progress is None else not progress),
            file=sys.stderr,
            dynamic_ncols=True,
        )
        bar.set_postfix_str(f"points {len(done)}/{len(points)}")
        seeds = {i: point_seed(seed, i, common_random_numbers) for i in todo}
        queue: deque[tuple[int, int]] = deque((i, c) for i in todo for c in range(len(chunks)))
        got: dict[int, dict[int, list[ReplicationRow]]] = {i: {} for i in todo}
        counted: dict[int, int] = {i: 0 for i in todo}  # replications shown on the bar
        finished = len(done)

        def args(item: tuple[int, int]) -> tuple[Any, ...]:
            i, c = item
            return (guarded, fn, scenarios[i], seeds[i], tuple(chunks[c]))

        def advance(i: int, reps: int) -> None:
            counted[i] += reps
            bar.update(reps)

        def fail_point(i: int, summary: dict[str, Any]) -> None:
            failed[i] = {"point": ids[i], "params": points[i], **summary}
            earlier.pop(i, None)
            got.pop(i, None)
            # drop the point's other chunks: queued ones are not sent, running ones are ignored
            rest = [f for f, (j, _) in inflight.items() if j == i]
            runner.cancel(rest)
            for f in rest:
                inflight.pop(f, None)
            advance(i, n - counted[i])
            record()
            bar.set_postfix_str(f"points {finished}/{len(points)}, failed {len(failure_list())}")
            if on_point is not None:
                on_point({"point": ids[i], "params": points[i], "error": failed[i]["error"],
                          "done": finished, "total": len(points)})

        def outcome(fut: FutureLike) -> tuple[str, Any]:
            """``("ok", rows)``, ``("error", summary)`` or ``("broken", None)`` (the pool lost a worker)."""
            try:
                tag, value = fut.result()
            # broad: whatever fetching a result raises (a broken pool, Dask's KilledWorker, a result
            # that does not unpickle) is this point's failure, recorded in full by describe()
            except Exception as err:
                if runner.is_broken(err):
                    return ("broken", None)
                return ("error", runner.describe(err))
            return (tag, value)

        def take(item: tuple[int, int], tag: str, value: Any) -> None:
            nonlocal finished
            i, c = item
            if i in failed:
                return  # a late chunk of a point that failed
            if tag == "error":
                fail_point(i, value)
                return
            got[i][c] = value
            advance(i, len(chunks[c]))
            if len(got[i]) < len(chunks):
                return
            all_rows = [r for k in sorted(got[i]) for r in got[i].pop(k)]
            frame = point_frame(point_columns[i], all_rows, point_columns[i])
            if store is not None:
                store.write_point(ids[i], frame)
            frames[i] = frame
            finished += 1
            if earlier.pop(i, None) is not None:
                record()  # it failed before and succeeded now
            n_failed = len(failure_list())
            bar.set_postfix_str(f"points {finished}/{len(points)}" + (f", failed {n_failed}" if n_failed else ""))
            if on_point is not None:
                on_point({"point": ids[i], "params": points[i], "done": finished, "total": len(points)})

        def recover(suspects: list[tuple[int, int]]) -> None:
            """A worker died and took the pool down: every call in it is lost, and any of them may
            be the one that killed it. Settle what finished, replace the pool, then run each lost
            call alone: the one whose worker dies again is the culprit, the others just complete."""
            for fut in list(inflight):
                item = inflight.pop(fut)
                tag, value = outcome(fut) if fut.done() else ("broken", None)
                if tag == "broken":
                    suspects.append(item)
                else:
                    take(item, tag, value)
            runner.restart()
            for item in sorted(set(suspects)):
                if item[0] in failed:
                    continue
                tag, value = outcome(runner.run_alone(*args(item)))
                if tag == "broken":  # a pool that cannot run a call alone: blame the call
                    tag, value = "error", {"type": "WorkerDied", "message": "worker process died",
                                           "error": "WorkerDied: worker process died", "traceback": ""}
                take(item, tag, value)

        while queue or inflight:
            broken = False
            while queue and len(inflight) < runner.window:
                item = queue.popleft()
                if item[0] in failed:
                    continue
                try:
                    inflight[runner.submit(*args(item))] = item
                except Exception as err:  # broad: only the runner knows its broken-pool type; others re-raised
                    if not runner.is_broken(err):
                        raise
                    queue.appendleft(item)  # never ran: not a suspect
                    broken = True
                    break
            if broken:
                recover([])
                continue
            if not inflight:
                continue
            suspects: list[tuple[int, int]] = []
            for fut in runner.wait(list(inflight)):
                item = inflight.pop(fut, None)
                if item is None:
                    continue  # dropped with its failed point
                tag, value = outcome(fut)
                if tag == "broken":
                    suspects.append(item)
                else:
                    take(item, tag, value)
            if suspects:
                recover(suspects)
    except BaseException:  # broad: cleanup then re-raise; Ctrl-C too must not leave calls queued
        runner.cancel(list(inflight))
        raise
    finally:
        if bar is not None:
            bar.close()
        if own_runner:
            runner.close()

    # the result: stored points are read back, so a resumed sweep equals an uninterrupted one
    all_frames = []
    for i, pid in enumerate(ids):
        if store is not None and (pid in done or i in frames):
            all_frames.append(store.read_point(pid))
        elif i in frames:
            all_frames.append(frames[i])
    per_rep = concat_frames(all_frames, params, REPLICATION_COLUMNS)
    summary = summary_frame(per_rep, params, level)
    failures = failure_list()
    if store is not None:
        store.write_failures(failures, total=len(points))
        store.write_summary(summary)
    result = SweepResult(
        vary=vary,
        replications=n,
        seed=seed,
        summary=summary,
        per_replication=per_rep,
        failures=failures,
        out=None if out is None else Path(out),
        common_random_numbers=bool(common_random_numbers),
    )
    if failures:
        if on_error == "raise":
            raise SweepFailed(result)
        warnings.warn(f"{len(failures)} of {len(points)} sweep points failed: {_failure_lines(failures)}",
                      SweepWarning, stacklevel=2)
    return result


def sweep_arguments(
    scenario: Scenario, vary: Mapping[str, Sequence[Any]], replications: int, seed: int, common_random_numbers: bool = True
) -> dict[str, Any]:
    """What identifies a sweep (stored in ``sweep.json``; its hash names the CLI's default folder)."""
    return {
        "scenario": scenario.to_dict(),
        # a list of [path, values] pairs: the order of the paths is the order of the grid
        "vary": json.loads(json.dumps([[p, list(v)] for p, v in vary.items()], default=str)),
        "replications": int(replications),
        "seed": int(seed),
        "common_random_numbers": bool(common_random_numbers),
    }


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def sweep(
    scenario: Scenario | str | os.PathLike[str],
    vary: Mapping[str, Sequence[Any]],
    replications: int | None = None,
    *,
    return_replications: bool = False,
    **kwargs: Any,
) -> pd.DataFrame | SweepResult:
    """The tidy summary of :func:`run_sweep` (one row per point and metric: the varied paths, then
    ``scope, key, metric, mean, ci_low, ci_high, n``). With ``return_replications=True``, the whole
    :class:`SweepResult` (``.summary``, ``.per_replication``, ``.failures``). Keyword arguments
    are those of :func:`run_sweep`: when points failed it raises :class:`SweepFailed` (the partial
    result is its ``.result``) unless ``on_error="record"``."""
    result = run_sweep(scenario, vary, replications, **kwargs)
    return result if return_replications else result.summary
