"""Two scenarios compared on common random numbers: ``compare(a, b)`` -> :class:`Comparison`.

Why paired: both scenarios run replications ``0 .. R-1`` from the same seed, and the engine's random
streams are keyed only by ``(seed, replication, purpose, name)`` (:mod:`model.sim.streams`), so
replication ``i`` of ``a`` and of ``b`` see the same customers. The per-replication difference
``b_i - a_i`` then carries the effect of the change and little of the dice: its t interval (paired)
is narrower than the interval of the difference of two independent means (Welch, unpaired), which
is given beside it so the analyst sees what the pairing buys.

Where it runs: the ``2 x R`` replications are independent work items, sent in chunks through the
sweeps' runners (:func:`model.experiments.executors.make_runner`: a process pool on every core by
default, ``"serial"``, or Dask). ``run_sweep`` itself does not fit: it runs one scenario over a grid
of changes, and two scenario files need not be changes of one scenario.

Scopes that only one scenario has (a group ``b`` adds, a service ``a`` drops) cannot be paired:
the comparison is restricted to the scopes both have, :attr:`Comparison.unmatched` lists the others
(and a note says so); asking :meth:`Comparison.metric` for such a scope is an error naming the
scenario that lacks it.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from .errors import TransferSimError
from .experiments.executors import ExecutorSpec, Runner, guarded, make_runner
from .experiments.grid import ExperimentError
from .results.intervals import IntervalRow, per_interval_rows
from .results.metrics import confidence_interval
from .results.result import ReplicationRow, per_replication_rows
from .results.scopes import UnknownScope, parse_scope, scope_text, select_scope
from .scenario import Scenario, as_scenario
from .sim import run_replication

__all__ = ["compare", "Comparison", "Difference", "ComparisonFailed", "COLUMNS", "INTERVAL_COLUMNS", "compare_chunk",
           "check_scope", "scopes_of", "welch_interval"]

COLUMNS = ["scope", "key", "metric", "a", "b", "difference", "ci_low", "ci_high",
           "unpaired_ci_low", "unpaired_ci_high", "n"]
"""The columns of :attr:`Comparison.table`."""

INTERVAL_COLUMNS = ["interval", *COLUMNS]
"""The columns of :attr:`Comparison.intervals`."""

_KEYS = ["scope", "key", "metric"]


class ComparisonFailed(TransferSimError):
    """A replication of one of the scenarios failed to run (not bad input: a bug, or a worker process
    that died); the message names the scenario, the replications and the reason."""


class Difference(NamedTuple):
    """One figure of a :class:`Comparison`: means over the ``n`` paired replications, ``b - a``, its
    paired interval and the unpaired (Welch) interval for reference (NaN with fewer than 2 pairs)."""

    a: float
    b: float
    difference: float
    ci_low: float
    ci_high: float
    unpaired_ci_low: float
    unpaired_ci_high: float
    n: int

    @property
    def clear(self) -> bool:
        """Whether the paired interval excludes 0 (False when it is NaN)."""
        return bool(self.ci_low > 0 or self.ci_high < 0)


@dataclass
class Comparison:
    """The answer of :func:`compare`: ``b`` against ``a``, figure by figure.

    Attributes:
        a, b: the two scenarios' names.
        seed, replications, level: the run (both scenarios use the same seed and replications).
        table: tidy :data:`COLUMNS`: per scope (``overall``/``service``/``target``/``group``), key and
            metric, the means of ``a`` and ``b`` over the ``n`` replications where both have a value,
            ``difference = b - a``, its paired interval ``ci_low, ci_high`` and the unpaired (Welch)
            ``unpaired_ci_low, unpaired_ci_high``. Differences are not clipped: they may be negative.
        per_replication: ``replication, scope, key, metric, a, b, difference`` (the pairs behind the table).
        intervals: with ``by=``, :data:`INTERVAL_COLUMNS` (the same per interval of the clock); else ``None``.
        interval: the seconds of each interval (``None`` without ``by``).
        unmatched: the scopes only one scenario has, e.g. ``["group:vip (only in b)"]``: left out.
        notes: sentences on what the numbers cannot say (one replication, scopes left out, a seed not used).
    """

    a: str
    b: str
    seed: int
    replications: int
    level: float
    table: pd.DataFrame
    per_replication: pd.DataFrame
    intervals: pd.DataFrame | None = None
    interval: float | None = None
    unmatched: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def _where(self, scope: str, key: str | None, frame: pd.DataFrame) -> tuple[str, str]:
        kind, name = parse_scope(scope, key)
        text = scope_text(kind, name)
        lonely = [u for u in self.unmatched if u.split(" (")[0] == text]
        if lonely:
            raise UnknownScope(f"{text} is {lonely[0].split(' (')[1].rstrip(')')}: a comparison needs it in both scenarios")
        return select_scope(frame, text, what="this comparison")

    def metric(self, name: str, scope: str = "overall", key: str | None = None) -> Difference:
        """One figure, e.g. ``metric("transfer_abandonment_rate", "target:tech").difference`` (scopes
        as :mod:`model.results.scopes` reads them). A scope the comparison lacks raises
        :class:`~model.results.scopes.UnknownScope` (saying which scenario has it, or listing the
        scopes of the comparison); an unknown figure a ``KeyError``."""
        t = self.table
        kind, key = self._where(scope, key, t)
        rows = t[(t.scope == kind) & (t.key == key) & (t.metric == name)]
        if rows.empty:
            known = ", ".join(t[(t.scope == kind) & (t.key == key)].metric)
            raise KeyError(f"no metric {name!r} for {scope_text(kind, key)}; its metrics: {known}")
        r = rows.iloc[0]
        return Difference(*(float(r[c]) for c in COLUMNS[3:-1]), int(r["n"]))

    def by_interval(self, name: str, scope: str = "overall", key: str | None = None) -> pd.DataFrame:
        """One figure per interval of the clock, indexed by ``interval`` (``"HH:MM"``), with the
        columns ``a, b, difference, ci_low, ci_high, unpaired_ci_low, unpaired_ci_high, n``.
        Needs ``compare(..., by="1h")``."""
        iv = self.intervals
        if iv is None:
            raise ValueError("this comparison has no intervals: compare(..., by=\"1h\") gives them")
        kind, key = self._where(scope, key, iv)
        rows = iv[(iv.scope == kind) & (iv.key == key) & (iv.metric == name)]
        if rows.empty:
            raise KeyError(f"no metric {name!r} per interval for {scope_text(kind, key)}")
        return rows.set_index("interval")[COLUMNS[3:]]

    def clear(self) -> pd.DataFrame:
        """The rows of :attr:`table` whose paired interval excludes 0."""
        t = self.table
        return t[(t.ci_low > 0) | (t.ci_high < 0)]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (NaN as ``None``): the run, ``unmatched``, ``notes``, ``table`` (a list of rows)
        and, with intervals, ``intervals``; what ``transfer-sim compare --json`` prints."""
        def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                    for r in frame.astype(object).to_dict("records")]

        out: dict[str, Any] = {"a": self.a, "b": self.b, "seed": self.seed, "replications": self.replications,
                               "level": self.level, "unmatched": self.unmatched, "notes": self.notes,
                               "table": rows(self.table)}
        if self.intervals is not None:
            out["interval_seconds"] = self.interval
            out["intervals"] = rows(self.intervals)
        return out


# -- the work item (module level: it is pickled to worker processes) ---------------------------------

def compare_chunk(scenario: Scenario, seed: int, replications: Sequence[int],
                  interval: float | None) -> tuple[list[ReplicationRow], list[IntervalRow]]:
    """Run ``replications`` of ``scenario`` from ``seed``: the per-replication rows ``simulate`` keeps
    (:func:`~model.results.result.per_replication_rows`) and, with ``interval``, the per-interval rows."""
    services = [s.name for s in scenario.services]
    targets = list(scenario.targets())
    groups = [g.name for g in scenario.groups]
    rows: list[ReplicationRow] = []
    iv_rows: list[IntervalRow] = []
    for i in replications:
        o = run_replication(scenario, seed, i, keep_events=False, timeline_step=None, interval=interval)
        rows.extend(per_replication_rows(o.replication, o.by_service, o.by_target, o.occupancy, o.staffed))
        if o.intervals is not None:
            iv_rows.extend(per_interval_rows(o.replication, o.intervals, services, targets, groups))
    return rows, iv_rows


def _run(scenarios: dict[str, Scenario], seed: int, n: int, interval: float | None, executor: ExecutorSpec,
         workers: int | None, progress: bool | None) -> dict[str, tuple[list[ReplicationRow], list[IntervalRow]]]:
    from tqdm.auto import tqdm

    runner = make_runner(executor, workers)
    own = not isinstance(executor, Runner)
    per = 1 if runner.kind == "serial" else math.ceil(n / min(n, max(1, runner.workers)))
    chunks = [tuple(range(lo, min(lo + per, n))) for lo in range(0, n, per)]
    got: dict[str, dict[int, tuple[list[ReplicationRow], list[IntervalRow]]]] = {w: {} for w in scenarios}
    bar = tqdm(total=len(scenarios) * n, desc="compare", unit="rep", file=sys.stderr, dynamic_ncols=True,
               disable=None if progress is None else not progress)
    futures: dict[Any, tuple[str, int]] = {}
    try:
        for which, sc in scenarios.items():
            for c, reps in enumerate(chunks):
                futures[runner.submit(guarded, compare_chunk, sc, seed, reps, interval)] = (which, c)
        for fut in runner.completed(list(futures)):
            which, c = futures[fut]
            try:
                tag, value = fut.result()
            except Exception as err:  # broad: a broken pool or a result that does not unpickle; named below
                tag, value = "error", runner.describe(err)
            if tag == "error":
                reps = chunks[c]
                raise ComparisonFailed(f"scenario {which} ({scenarios[which].name}) failed in replications "
                                       f"{reps[0]}..{reps[-1]}: {value['error']}")
            got[which][c] = value
            bar.update(len(chunks[c]))
    except BaseException:  # broad: cleanup then re-raise; Ctrl-C too must not leave calls queued
        runner.cancel(list(futures))
        raise
    finally:
        bar.close()
        if own:
            runner.close()
    return {w: ([r for c in sorted(parts) for r in parts[c][0]], [r for c in sorted(parts) for r in parts[c][1]])
            for w, parts in got.items()}


# -- pairing -------------------------------------------------------------------------------------------

def welch_interval(a: np.ndarray, b: np.ndarray, level: float) -> tuple[float, float]:
    """The Welch (unpaired, unequal variances) t interval of ``mean(b) - mean(a)``; NaN with fewer
    than 2 values on a side; the point itself when neither side varies."""
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return (math.nan, math.nan)
    va, vb = float(a.var(ddof=1)) / na, float(b.var(ddof=1)) / nb
    diff = float(b.mean() - a.mean())
    se = math.sqrt(va + vb)
    if se == 0:
        return (diff, diff)
    df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    half = float(stats.t.ppf(0.5 + level / 2, df)) * se
    return (diff - half, diff + half)


def _paired(a: pd.DataFrame, b: pd.DataFrame, keys: list[str], level: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-replication pairs (inner join: scopes in both) and their summary rows, in ``a``'s order."""
    pairs = a.rename(columns={"value": "a"}).merge(b.rename(columns={"value": "b"}), on=["replication", *keys],
                                                   how="inner", sort=False)
    pairs["difference"] = pairs["b"] - pairs["a"]
    rows = []
    for group, grp in pairs.groupby(keys, sort=False):
        both = grp[grp["a"].notna() & grp["b"].notna()]
        x, y, d = (both[c].to_numpy(dtype=float) for c in ("a", "b", "difference"))
        n = len(d)
        if n >= 2:
            diff, lo, hi, _ = confidence_interval(d.tolist(), level)
            ulo, uhi = welch_interval(x, y, level)
        else:  # one pair (or none): no spread, no interval
            diff = float(d.mean()) if n else math.nan
            lo = hi = ulo = uhi = math.nan
        means = (float(x.mean()), float(y.mean())) if n else (math.nan, math.nan)
        rows.append((*group, *means, diff, lo, hi, ulo, uhi, n))
    return pairs, pd.DataFrame(rows, columns=[*keys, *COLUMNS[3:]])


def _scopes(frame: pd.DataFrame) -> set[str]:
    return {"overall" if s == "overall" else f"{s}:{k}" for s, k in zip(frame.scope, frame.key)}


def scopes_of(scenario: Scenario) -> list[str]:
    """The scopes a run of ``scenario`` has, as typed: ``overall``, ``service:NAME``, ``target:NAME``
    (groups and ``agent:NAME``), ``group:NAME``."""
    return ["overall", *(scope_text("service", s.name) for s in scenario.services),
            *(scope_text("target", t) for t in scenario.targets()),
            *(scope_text("group", g.name) for g in scenario.groups)]


def check_scope(scope: str, a: Scenario, b: Scenario) -> str:
    """``scope`` as written everywhere (``"overall"``, ``"target:tech"``) when both scenarios have it,
    so a caller can refuse a scope before anything runs. Raises ``ScopeError`` (not a scope) or
    :class:`~model.results.scopes.UnknownScope` naming the scenario that lacks it, or the scopes both have."""
    text = scope_text(*parse_scope(scope))
    in_a, in_b = text in scopes_of(a), text in scopes_of(b)
    if in_a and in_b:
        return text
    if in_a or in_b:
        which, sc = ("a", a) if in_a else ("b", b)
        raise UnknownScope(f"{text} is only in {which} ({sc.name}): a comparison needs it in both scenarios")
    both = [x for x in scopes_of(a) if x in scopes_of(b)]
    raise UnknownScope(f"no scope {text} in either scenario; both have: {', '.join(both)}")


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ExperimentError(f"{what} must be a whole number, got {value!r}")
    return int(value)


def compare(
    a: Scenario | str | os.PathLike[str],
    b: Scenario | str | os.PathLike[str],
    replications: int | None = None,
    *,
    seed: int | None = None,
    by: str | float | None = None,
    level: float = 0.95,
    progress: bool | None = None,
    executor: ExecutorSpec = "processes",
    workers: int | None = None,
    force: bool = False,
) -> Comparison:
    """Run ``a`` and ``b`` (scenarios or TOML paths) on common random numbers and compare them.

    Args:
        replications: of each (default ``a``'s ``simulation.replications``); at least 1, and 2 or
            more for an interval (with 1 every interval is NaN and a note says why).
        seed: the one seed both run from (default ``a``'s ``simulation.seed``).
        by: also compare per interval of the clock (``"1h"``, ``"30m"``, seconds): :attr:`Comparison.intervals`.
        level: of every interval (default 0.95).
        progress: a ``tqdm.auto`` bar; ``None`` shows it only on a terminal.
        executor, workers: where the replications run, as for :func:`model.experiments.run_sweep`
            (``"processes"`` on every core by default, ``"serial"``, a Dask client or address).
        force: run even when the estimated work exceeds the bounds of docs/limits.md.

    Raises ``ExperimentError`` (bad arguments), ``ScenarioError`` (a bad scenario file),
    ``WorkTooLarge``, or :class:`ComparisonFailed` (a replication failed to run).
    """
    sa, sb = as_scenario(a), as_scenario(b)
    n = sa.simulation.replications if replications is None else _count(replications, "replications")
    if n < 1:
        raise ExperimentError(f"replications must be >= 1 (2 or more for an interval), got {n}")
    s = sa.simulation.seed if seed is None else _count(seed, "seed")
    if s < 0:
        raise ExperimentError(f"seed must be >= 0, got {s}")
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ExperimentError(f"level must be a number between 0 and 1 (such as 0.95), got {level!r}")
    step = None
    if by is not None:
        from .sim.intervals import interval_seconds

        try:
            step = interval_seconds(by)
        except ValueError as err:
            raise ExperimentError(f"by: {err}") from None
    from .workload import check_work, estimate_work

    for which, sc in (("a", sa), ("b", sb)):
        check_work(estimate_work(sc, n), force, what=f"scenario {which} of this comparison", override="force=True")
    runs = _run({"a": sa, "b": sb}, s, n, step, executor, workers, progress)

    columns = ["replication", *_KEYS, "value"]
    frames = {w: pd.DataFrame(rows, columns=columns) for w, (rows, _) in runs.items()}
    pairs, table = _paired(frames["a"], frames["b"], _KEYS, level)
    only_a, only_b = _scopes(frames["a"]) - _scopes(frames["b"]), _scopes(frames["b"]) - _scopes(frames["a"])
    unmatched = [f"{x} (only in a)" for x in sorted(only_a)] + [f"{x} (only in b)" for x in sorted(only_b)]
    intervals = None
    if step is not None:
        iv = {w: pd.DataFrame(r, columns=["replication", "interval", *_KEYS, "value"]) for w, (_, r) in runs.items()}
        _, intervals = _paired(iv["a"], iv["b"], ["interval", *_KEYS], level)
        intervals = intervals.sort_values("interval", kind="stable", ignore_index=True)
    return Comparison(sa.name, sb.name, s, n, float(level), table, pairs, intervals, step, unmatched,
                      _notes(sa, sb, n, seed, replications, unmatched))


def _notes(sa: Scenario, sb: Scenario, n: int, seed: int | None, replications: int | None,
           unmatched: list[str]) -> list[str]:
    notes = []
    if n == 1:
        notes.append("with 1 replication no spread can be estimated: every interval is NaN; "
                     "run 2 or more (10 or more for useful intervals)")
    if unmatched:
        notes.append(f"left out, in only one scenario: {', '.join(unmatched)}")
    if seed is None and sa.simulation.seed != sb.simulation.seed:
        notes.append(f"both ran from a's seed {sa.simulation.seed} (common random numbers); "
                     f"b's own seed {sb.simulation.seed} was not used")
    if replications is None and sa.simulation.replications != sb.simulation.replications:
        notes.append(f"both ran a's {n} replications; b's file asks for {sb.simulation.replications}")
    return notes

