"""Sweeps: a scenario x a grid of changes x replications, with common random numbers.

Every point of a sweep runs replications ``0 .. R-1`` from the same seed, and the engine's streams
are keyed only by ``(seed, replication, purpose, name)`` (``model.sim.streams``): replication ``i``
of every point sees the same arrivals, patience, handle times... The difference between two points
is then the effect of the change, not of the dice (common random numbers).

The unit of work is a chunk of replications of one point; a point is stored (Parquet, atomically)
as soon as all its replications are in, so an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import json
import math
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..results.metrics import summarise
from ..results.result import per_replication_rows
from ..sim import run_replication
from .executors import ExecutorSpec, Runner, make_runner
from .grid import ExperimentError, column_values, grid_points, normalise_vary
from .store import SweepStore

__all__ = ["sweep", "run_sweep", "sweep_arguments", "SweepResult", "SweepWarning", "SUMMARY_COLUMNS", "REPLICATION_COLUMNS"]

SUMMARY_COLUMNS = ["scope", "key", "metric", "mean", "ci_low", "ci_high", "n"]
"""The columns after the varied paths in :attr:`SweepResult.summary`."""

REPLICATION_COLUMNS = ["replication", "scope", "key", "metric", "value"]
"""The columns after the varied paths in :attr:`SweepResult.per_replication`."""


class SweepWarning(UserWarning):
    """Some points of a sweep failed; the others are in the result."""


@dataclass
class SweepResult:
    """A finished (or partly failed) sweep.

    Attributes:
        vary: the varied paths and their values, in grid order (first path outermost).
        replications: replications per point.
        seed: the seed every point used (common random numbers), or the base of per-point seeds.
        summary: tidy, one column per varied path, then ``scope, key, metric, mean, ci_low,
            ci_high, n`` (95 % t interval over replications).
        per_replication: tidy, one column per varied path, then ``replication, scope, key, metric, value``.
        failures: one dict per failed point: ``point``, ``params``, ``error``, ``traceback``.
        out: the store folder, or ``None``.
    """

    vary: dict[str, list[Any]]
    replications: int
    seed: int
    summary: pd.DataFrame
    per_replication: pd.DataFrame
    failures: list[dict[str, Any]] = field(default_factory=list)
    out: Path | None = None
    common_random_numbers: bool = True

    @property
    def params(self) -> list[str]:
        """The varied paths (the first columns of both frames)."""
        return list(self.vary)

    def metric(self, name: str, scope: str = "overall", key: str = "all") -> pd.DataFrame:
        """One figure across the grid: the varied paths then ``mean, ci_low, ci_high, n``."""
        s = self.summary
        sel = s[(s.scope == scope) & (s.key == key) & (s.metric == name)]
        if sel.empty:
            raise KeyError(f"no metric {name!r} for {scope} {key!r} in this sweep")
        return sel[[*self.params, "mean", "ci_low", "ci_high", "n"]].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """The CLI's JSON shape: arguments, ``summary`` records (NaN as ``None``) and ``failures``."""
        recs = self.summary.astype(object).where(self.summary.notna(), None).to_dict(orient="records")
        return {
            "vary": self.vary,
            "replications": self.replications,
            "seed": self.seed,
            "common_random_numbers": self.common_random_numbers,
            "out": None if self.out is None else str(self.out),
            "points": len(grid_points(self.vary)),
            "summary": recs,
            "failures": [{k: v for k, v in f.items() if k != "traceback"} for f in self.failures],
        }

    @classmethod
    def from_dir(cls, directory: str | os.PathLike[str]) -> SweepResult:
        """Read a sweep store back (the points stored so far; failures as recorded)."""
        store = SweepStore(directory)
        args = store.arguments()
        vary = {path: values for path, values in args["vary"]}
        points = grid_points(vary)
        frames = [store.read_point(pid) for pid in _point_ids(len(points)) if pid in store.done()]
        per_rep = _concat(frames, list(vary), REPLICATION_COLUMNS)
        return cls(
            vary=vary,
            replications=args["replications"],
            seed=args["seed"],
            summary=_summary(per_rep, list(vary)),
            per_replication=per_rep,
            failures=store.read_failures(),
            out=Path(directory),
            common_random_numbers=args.get("common_random_numbers", True),
        )


# -- the work items (module level: they are pickled to processes and Dask workers) ---------------
def run_chunk(scenario: Any, seed: int, replications: Sequence[int]) -> list[tuple[Any, ...]]:
    """Run ``replications`` of ``scenario`` from ``seed``; tidy per-replication rows."""
    rows: list[tuple[Any, ...]] = []
    for i in replications:
        o = run_replication(scenario, seed, i, keep_events=False, timeline_step=None)
        rows.extend(per_replication_rows(o.replication, o.by_service, o.by_target, o.occupancy))
    return rows


def _point_ids(n: int) -> list[str]:
    width = max(4, len(str(n - 1)))
    return [f"p{i:0{width}d}" for i in range(n)]


def point_seed(seed: int, index: int, common: bool) -> int:
    """The seed of point ``index``: the sweep's seed (common random numbers) or one of its own."""
    if common:
        return int(seed)
    return int(np.random.SeedSequence(entropy=[int(seed), 0x5EED, index]).generate_state(1)[0])


def _point_frame(params: dict[str, Any], rows: list[tuple[Any, ...]], columns: dict[str, Any]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=REPLICATION_COLUMNS)
    df = df.sort_values("replication", kind="stable", ignore_index=True)
    for pos, path in enumerate(params):
        df.insert(pos, path, [columns[path]] * len(df))
    return _normalise(df, list(params), REPLICATION_COLUMNS)


def _normalise(df: pd.DataFrame, params: list[str], tail: list[str]) -> pd.DataFrame:
    """One dtype per column, whether the frame was just computed or read back from Parquet."""
    df = df[[*params, *tail]].reset_index(drop=True)
    for col in ("scope", "key", "metric"):
        df[col] = df[col].astype("str")
    for col in ("replication", "n"):
        if col in df:
            df[col] = df[col].astype("int64")
    for col in ("value", "mean", "ci_low", "ci_high"):
        if col in df:
            df[col] = df[col].astype("float64")
    return df


def _concat(frames: list[pd.DataFrame], params: list[str], tail: list[str]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=[*params, *tail])
    return _normalise(pd.concat(frames, ignore_index=True), params, tail)


def _summary(per_rep: pd.DataFrame, params: list[str], level: float = 0.95) -> pd.DataFrame:
    if per_rep.empty:
        return pd.DataFrame(columns=[*params, *SUMMARY_COLUMNS])
    parts = []
    for values, grp in per_rep.groupby(params, sort=False, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        s = summarise(grp[REPLICATION_COLUMNS], level)
        for pos, (path, v) in enumerate(zip(params, values)):
            s.insert(pos, path, [v] * len(s))
        parts.append(s)
    return _normalise(pd.concat(parts, ignore_index=True), params, SUMMARY_COLUMNS)


def _load(scenario: Any) -> Any:
    if isinstance(scenario, (str, os.PathLike)):
        from ..scenario import load_scenario

        return load_scenario(scenario)
    return scenario


def _chunks(n_points: int, replications: int, workers: int, chunk_size: int | None) -> list[range]:
    if chunk_size is None:
        # enough items to keep every worker busy (about 4 per worker), never more than R per point
        per_point = min(replications, max(1, math.ceil(4 * workers / max(1, n_points))))
        chunk_size = math.ceil(replications / per_point)
    size = max(1, int(chunk_size))
    return [range(a, min(a + size, replications)) for a in range(0, replications, size)]


def run_sweep(
    scenario: Any,
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
            Running again with the same arguments computes only the points not stored yet; other
            arguments on the same folder are an error.
        executor: ``"processes"`` (every core), ``"serial"``, a Dask ``Client`` or scheduler address,
            or a ``concurrent.futures`` executor.
        workers: processes for ``"processes"`` (default ``os.cpu_count()``).
        progress: a ``tqdm.auto`` bar with ETA; ``None`` shows it only on a terminal.
        common_random_numbers: ``False`` gives every point its own seed (to measure what CRN buys).
        chunk_size: replications per work item (default: enough items for every worker).
        on_point: called after each point is stored with ``{"point", "params", "done", "total"}``
            (or ``"error"`` for a failed point); an exception raised there stops the sweep.
    """
    sc = _load(scenario)
    vary = normalise_vary(vary)
    params = list(vary)
    points = grid_points(vary)
    ids = _point_ids(len(points))
    n = int(sc.simulation.replications if replications is None else replications)
    if n < 1:
        raise ExperimentError(f"replications must be >= 1, got {n}")
    seed = int(sc.simulation.seed if seed is None else seed)
    scenarios = [sc.with_changes(p) for p in points]  # ScenarioError here, before anything runs
    columns = {path: dict(zip(map(_key, vals), column_values(vals))) for path, vals in vary.items()}
    point_columns = [{path: columns[path][_key(p[path])] for path in params} for p in points]

    store = None
    done: set[str] = set()
    if out is not None:
        store = SweepStore(out)
        store.open(sweep_arguments(sc, vary, n, seed, common_random_numbers))
        done = store.done() & set(ids)
    todo = [i for i, pid in enumerate(ids) if pid not in done]

    frames: dict[int, pd.DataFrame] = {}
    failures: list[dict[str, Any]] = []
    runner = make_runner(executor, workers)
    own_runner = not isinstance(executor, Runner)
    chunks = _chunks(len(todo), n, runner.workers, chunk_size)
    bar = None
    futures: dict[Any, tuple[int, int]] = {}
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
        for i in todo:
            s = point_seed(seed, i, common_random_numbers)
            for c, reps in enumerate(chunks):
                futures[runner.submit(run_chunk, scenarios[i], s, tuple(reps))] = (i, c)
        got: dict[int, dict[int, list[tuple[Any, ...]]]] = {i: {} for i in todo}
        failed: set[int] = set()
        finished = len(done)
        pending = set(futures)
        for fut in runner.completed(list(futures)):
            pending.discard(fut)
            i, c = futures[fut]
            if i in failed:
                continue
            try:
                rows = fut.result()
            except Exception as err:
                failed.add(i)
                rest = [f for f in pending if futures[f][0] == i]
                runner.cancel(rest)
                failure = {
                    "point": ids[i],
                    "params": points[i],
                    "error": f"{type(err).__name__}: {err}",
                    "traceback": "".join(traceback.format_exception(err)),
                }
                failures.append(failure)
                if store is not None:
                    store.write_failures(failures)
                if bar is not None:
                    bar.update(sum(len(chunks[futures[f][1]]) for f in rest) + len(chunks[c]))
                if on_point is not None:
                    on_point({"point": ids[i], "params": points[i], "error": failure["error"],
                              "done": finished, "total": len(points)})
                continue
            got[i][c] = rows
            bar.update(len(chunks[c]))
            if len(got[i]) < len(chunks):
                continue
            all_rows = [r for k in sorted(got[i]) for r in got[i].pop(k)]
            frame = _point_frame(point_columns[i], all_rows, point_columns[i])
            if store is not None:
                store.write_point(ids[i], frame)
            frames[i] = frame
            finished += 1
            bar.set_postfix_str(f"points {finished}/{len(points)}" + (f", failed {len(failures)}" if failures else ""))
            if on_point is not None:
                on_point({"point": ids[i], "params": points[i], "done": finished, "total": len(points)})
    except BaseException:
        runner.cancel([f for f in futures])
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
    per_rep = _concat(all_frames, params, REPLICATION_COLUMNS)
    summary = _summary(per_rep, params, level)
    if store is not None:
        store.write_failures(failures)
        store.write_summary(summary)
    if failures:
        lines = "; ".join(f"{f['params']}: {f['error']}" for f in failures)
        warnings.warn(f"{len(failures)} of {len(points)} sweep points failed: {lines}", SweepWarning, stacklevel=2)
    return SweepResult(
        vary=vary,
        replications=n,
        seed=seed,
        summary=summary,
        per_replication=per_rep,
        failures=failures,
        out=None if out is None else Path(out),
        common_random_numbers=bool(common_random_numbers),
    )


def sweep_arguments(
    scenario: Any, vary: Mapping[str, Sequence[Any]], replications: int, seed: int, common_random_numbers: bool = True
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
    scenario: Any,
    vary: Mapping[str, Sequence[Any]],
    replications: int | None = None,
    *,
    return_replications: bool = False,
    **kwargs: Any,
) -> pd.DataFrame | SweepResult:
    """The tidy summary of :func:`run_sweep` (one row per point and metric: the varied paths, then
    ``scope, key, metric, mean, ci_low, ci_high, n``). With ``return_replications=True``, the whole
    :class:`SweepResult` (``.summary``, ``.per_replication``, ``.failures``). Keyword arguments
    are those of :func:`run_sweep`."""
    result = run_sweep(scenario, vary, replications, **kwargs)
    return result if return_replications else result.summary
