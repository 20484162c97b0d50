"""Running a scenario: replications one after the other, combined into a :class:`SimulationResult`."""

from __future__ import annotations

import os
from collections.abc import Callable

import pandas as pd

from ..results.records import EVENT_COLUMNS, TIMELINE_COLUMNS, TRANSFER_COLUMNS
from ..results.intervals import per_interval_rows
from ..results.result import SimulationResult, per_replication_rows
from ..scenario import Scenario, as_scenario
from .engine import Replication, ReplicationOutput
from .intervals import interval_seconds

__all__ = ["simulate", "run_replication", "combine"]


def run_replication(
    scenario: Scenario, seed: int, replication: int, keep_events: bool = True, timeline_step: float | None = 300.0,
    interval: float | None = None,
) -> ReplicationOutput:
    """Run replication ``replication`` of ``scenario`` with the streams of ``(seed, replication)``
    (``interval``: seconds of the clock intervals to count figures in, or ``None``)."""
    return Replication(scenario, seed, replication, keep_events=keep_events, timeline_step=timeline_step,
                       interval=interval).run()


def simulate(
    scenario: Scenario | str | os.PathLike[str],
    seed: int | None = None,
    replications: int | None = None,
    keep_events: bool = True,
    timeline_step: float | None = 300.0,
    progress: bool | Callable[[int], None] = False,
    force: bool = False,
    interval: str | float | None = None,
) -> SimulationResult:
    """Simulate ``scenario`` (a :class:`~model.scenario.Scenario` or a path to a TOML file).

    Args:
        seed: base seed (default: the scenario's ``simulation.seed``); replication ``i`` draws
            from the named streams of ``(seed, i)``, so results are reproducible bit for bit.
        replications: how many (default: the scenario's ``simulation.replications``).
        keep_events: keep the event log and the transfers table; ``False`` keeps memory flat
            (metrics are counted as the run goes).
        timeline_step: seconds between samples of the timeline (``None``: no timeline).
        progress: show a ``tqdm.auto`` bar, or a callback given the replications done.
        force: run even when the estimated work exceeds the bounds of docs/limits.md (otherwise
            :class:`~model.workload.WorkTooLarge` is raised before anything runs).
        interval: also give every figure per interval of the clock (``"15m"``, ``"1h"``, or
            seconds; a whole number of minutes dividing 24 h) in ``result.intervals``.
    """
    sc = as_scenario(scenario)
    step = None if interval is None else interval_seconds(interval)
    seed = sc.simulation.seed if seed is None else int(seed)
    n = sc.simulation.replications if replications is None else int(replications)
    if n < 1:
        raise ValueError(f"replications must be >= 1, got {n}")
    from ..workload import check_work, estimate_work

    check_work(estimate_work(sc, n, keep_events=keep_events, timeline_step=timeline_step), force,
               what="this simulation", override="force=True")
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc=f"{sc.name}", unit="rep")
    outputs = []
    for i in range(n):
        outputs.append(run_replication(sc, seed, i, keep_events, timeline_step, step))
        if bar is not None:
            bar.update(1)
        elif callable(progress):
            progress(i + 1)
    if bar is not None:
        bar.close()
    return combine(sc, seed, outputs)


def combine(scenario: Scenario, seed: int, outputs: list[ReplicationOutput]) -> SimulationResult:
    """Build a :class:`SimulationResult` from replication outputs (in replication order)."""
    outputs = sorted(outputs, key=lambda o: o.replication)
    rows = []
    for o in outputs:
        rows.extend(per_replication_rows(o.replication, o.by_service, o.by_target, o.occupancy, o.staffed))
    per_rep = pd.DataFrame(rows, columns=["replication", "scope", "key", "metric", "value"])
    per_interval = None
    if outputs and all(o.intervals is not None for o in outputs):
        services = [s.name for s in scenario.services]
        targets = list(scenario.targets())
        groups = [g.name for g in scenario.groups]
        iv_rows = [r for o in outputs for r in per_interval_rows(o.replication, o.intervals, services, targets, groups)]  # type: ignore[arg-type]
        per_interval = pd.DataFrame(iv_rows, columns=["replication", "interval", "scope", "key", "metric", "value"])
    events = transfers = None
    if all(o.events is not None for o in outputs):
        events = _frame(outputs, "events", EVENT_COLUMNS, sort=["replication", "time"])
        transfers = _frame(outputs, "transfers", TRANSFER_COLUMNS)
    timeline = _frame(outputs, "timeline", TIMELINE_COLUMNS)
    step = outputs[0].intervals.step if per_interval is not None else None  # type: ignore[union-attr]
    return SimulationResult(scenario, seed, len(outputs), per_rep, events, transfers, timeline, per_interval, step)


_CATEGORIES = {"service", "event", "from_state", "to_state", "agent", "group", "target", "outcome"}


def _frame(outputs: list[ReplicationOutput], attr: str, columns: list[str], sort: list[str] | None = None) -> pd.DataFrame:
    parts = []
    for o in outputs:
        recs = getattr(o, attr) or []
        df = pd.DataFrame.from_records(recs, columns=columns[1:])
        df.insert(0, "replication", o.replication)
        parts.append(df)
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    if sort:
        # lazily found queue exits are recorded late: restore time order, stable otherwise
        df = df.sort_values(sort, kind="stable", ignore_index=True)
    for col in _CATEGORIES & set(df.columns):
        df[col] = df[col].astype("category")
    return df
