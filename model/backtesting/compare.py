"""Observed (a contact log) against simulated (a run with intervals), per interval of the clock.

Why: a scenario is only as good as its fit to what happened. The backtest reads a log
(:func:`model.logs.read_log`), forms the figures of LIFECYCLE.md "What is measured" from it with
*the same definitions* as :mod:`model.results.metrics`, and sets them next to a run's figures per
interval (docs/backtest.md).

Definitions (observed), per interval of the clock (a contact in the interval of its arrival, a
transfer in the interval of its request, as :mod:`model.sim.intervals` counts):

- ``arrivals``: the mean count per day, over the days that cover the interval (a day covers the
  intervals from its first arrival's to its last arrival's or transfer request's);
- ``queue_abandonment_rate``: not served (``served == False``) among the contacts that ended;
- ``service_level``: answered within the service's ``service_level_threshold`` among arrivals;
- ``wait_mean``: mean wait of the served contacts;
- ``transfer_abandonment_rate``: (``expired`` + ``customer_left``) / transfers requested.

Rates are *pooled* over days: numerator and denominator are summed over the days, then divided.

The fair comparison: the simulation's CI is for its mean over ``n`` replications; the observed value
over ``D`` days has its own noise. ``outside`` tests the observed value against the prediction
interval ``mean +- t(n-1) * sd_rep * sqrt(1/n + d/D)`` (``sd_rep`` the replications' spread, ``d``
days per replication), which holds a fresh D-day observation of the simulated process 95 % of the
time. The plain CI and ``outside_ci`` are kept beside it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import TransferSimError
from ..logs import DAY
from ..results.metrics import PROPORTIONS, SERVICE_LEVEL_SECONDS

if TYPE_CHECKING:
    from ..logs import ContactLog
    from ..results import SimulationResult

__all__ = ["COMPARED", "TABLE_COLUMNS", "SUMMARY_COLUMNS", "BacktestError", "Backtest", "observed", "backtest",
           "days_per_run"]

COMPARED: tuple[str, ...] = ("arrivals", "queue_abandonment_rate", "service_level", "wait_mean",
                             "transfer_abandonment_rate")
"""The figures a backtest compares, in this order."""

TRANSFER_FIGURES = frozenset({"transfer_abandonment_rate"})
LEVEL = 0.95
TOLERANCE = 1e-9  # an observed value this close to a bound is inside

TABLE_COLUMNS = ["interval", "metric", "scope", "key", "observed", "simulated", "ci_low", "ci_high", "pi_low",
                 "pi_high", "n", "days", "error", "unit", "outside_ci", "outside"]
SUMMARY_COLUMNS = ["metric", "scope", "key", "observed", "simulated", "error", "unit", "mae", "intervals",
                   "outside", "outside_intervals"]
OBSERVED_COLUMNS = ["interval", "scope", "key", "metric", "observed", "numerator", "denominator", "days"]


class BacktestError(TransferSimError, ValueError):
    """A backtest that cannot be made (a run without intervals, another interval length)."""


def _unit(metric: str) -> str:
    return "points" if metric in PROPORTIONS else ("s" if metric == "wait_mean" else "contacts per day")


def _label(k: int, step: float) -> str:
    minutes = int(k * step // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _thresholds(contacts: pd.DataFrame, threshold: float | Mapping[str, float]) -> pd.Series:
    if isinstance(threshold, Mapping):
        return contacts["service"].astype(str).map(lambda s: float(threshold.get(s, SERVICE_LEVEL_SECONDS)))
    return pd.Series(float(threshold), index=contacts.index)


def _figures(contacts: pd.DataFrame, transfers: pd.DataFrame | None, keys: list[str]) -> list[tuple]:
    """``(key values..., scope, key, metric, numerator, denominator)`` pooled over whatever rows are
    given, grouped by ``keys`` (e.g. ``["k"]``): per service, overall, per transfer target."""
    rows: list[tuple] = []
    c = contacts.assign(
        ended_=contacts["ended"].notna(),
        lost_=(~contacts["served"]) & contacts["ended"].notna(),
        within_=contacts["served"] & (contacts["wait"] <= contacts["threshold_"] + TOLERANCE),
        served_wait_=contacts["wait"].where(contacts["served"], 0.0),
        one_=1,
    )
    for scope, by in (("service", [*keys, "service"]), ("overall", keys)):
        g = c.groupby(by, sort=True, dropna=False)[["one_", "ended_", "lost_", "within_", "served", "served_wait_"]].sum()
        for idx, r in g.iterrows():
            idx = idx if isinstance(idx, tuple) else (idx,)
            head, key = (idx[:-1], str(idx[-1])) if scope == "service" else (idx, "all")
            rows += [(*head, scope, key, "arrivals", float(r["one_"]), math.nan),
                     (*head, scope, key, "queue_abandonment_rate", float(r["lost_"]), float(r["ended_"])),
                     (*head, scope, key, "service_level", float(r["within_"]), float(r["one_"])),
                     (*head, scope, key, "wait_mean", float(r["served_wait_"]), float(r["served"]))]
    if transfers is not None and len(transfers):
        t = transfers.assign(lost_=transfers["outcome"].isin(["expired", "customer_left"]).astype(int), one_=1)
        for scope, by in (("service", [*keys, "service"]), ("overall", keys), ("target", [*keys, "target"])):
            g = t.groupby(by, sort=True, dropna=False)[["lost_", "one_"]].sum()
            for idx, r in g.iterrows():
                idx = idx if isinstance(idx, tuple) else (idx,)
                head, key = (idx, "all") if scope == "overall" else (idx[:-1], str(idx[-1]))
                rows.append((*head, scope, key, "transfer_abandonment_rate", float(r["lost_"]), float(r["one_"])))
    return rows


def _prepare(log: ContactLog, step: float, threshold: float | Mapping[str, float],
             services: Sequence[str] | None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    c = log.contacts
    if services is not None:
        c = c[c["service"].astype(str).isin([str(s) for s in services])]
    count = int(round(DAY / step))
    c = c.assign(k=np.minimum((c["clock"].to_numpy(float) // step).astype(int), count - 1),
                 service=c["service"].astype(str))
    c = c.assign(threshold_=_thresholds(c, threshold))
    tr = log.transfers
    if tr is not None:
        service = c.set_index("contact_id")["service"]
        tr = tr[tr["contact_id"].isin(service.index)]
        clock = tr["requested"].to_numpy(float) % DAY
        tr = tr.assign(k=np.minimum((clock // step).astype(int), count - 1),
                       service=tr["contact_id"].map(service).astype(str), target=tr["target"].astype(str),
                       outcome=tr["outcome"].astype(str))
    return c, tr


def _coverage(c: pd.DataFrame, tr: pd.DataFrame | None) -> dict[int, int]:
    """Per interval ``k``, how many days cover it: from the interval of the day's first arrival to
    that of its last arrival or transfer request."""
    if c.empty:
        return {}
    seen = c[["day", "k"]]
    if tr is not None and len(tr):
        seen = pd.concat([seen, pd.DataFrame({"day": (tr["requested"].to_numpy(float) // DAY).astype(int),
                                              "k": tr["k"].to_numpy(int)})], ignore_index=True)
    span = seen.groupby("day")["k"].agg(["min", "max"])
    days: dict[int, int] = {}
    for lo, hi in zip(span["min"], span["max"]):
        for k in range(int(lo), int(hi) + 1):
            days[k] = days.get(k, 0) + 1
    return days


def observed(log: ContactLog, interval: float, *, service_level_threshold: float | Mapping[str, float] = SERVICE_LEVEL_SECONDS,
             services: Sequence[str] | None = None) -> pd.DataFrame:
    """The observed figures of ``log`` per interval of ``interval`` seconds of the clock, over its days.

    Tidy :data:`OBSERVED_COLUMNS`: ``interval`` ``"HH:MM"``, ``scope`` (``service``, ``overall``,
    ``target``), ``key``, ``metric`` (:data:`COMPARED`), ``observed``, and what it rests on:
    ``numerator``, ``denominator`` (summed over days: rates are pooled) and ``days`` (the days
    covering the interval: from a day's first arrival to its last arrival or transfer request). ``arrivals`` is the mean count per covering day. Only intervals some
    day covers appear. ``service_level_threshold``: seconds, or per service (others: 20 s).
    """
    c, tr = _prepare(log, float(interval), service_level_threshold, services)
    days = _coverage(c, tr)
    rows = _figures(c, tr, ["k"])
    frame = pd.DataFrame(rows, columns=["k", "scope", "key", "metric", "numerator", "denominator"])
    # intervals a day covers with no arrival at all: zero arrivals there, not a missing figure
    arr = frame[frame["metric"] == "arrivals"]
    present = set(zip(arr["k"], arr["scope"], arr["key"]))
    keys = {(s, k) for s, k in zip(frame["scope"], frame["key"]) if s != "target"} or {("overall", "all")}
    zero = [(k, s, key, "arrivals", 0.0, math.nan) for k in days for s, key in keys if (k, s, key) not in present]
    if zero:
        frame = pd.concat([frame, pd.DataFrame(zero, columns=frame.columns)], ignore_index=True)
    frame = frame[frame["k"].isin(list(days))]
    frame["days"] = frame["k"].map(days).astype(int)
    arrivals = frame["metric"] == "arrivals"
    frame["denominator"] = np.where(arrivals, frame["days"], frame["denominator"])
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["observed"] = np.where(frame["denominator"] > 0, frame["numerator"] / frame["denominator"], math.nan)
    frame = frame.sort_values(["k", "scope", "key", "metric"], kind="stable")
    frame["interval"] = [_label(int(k), float(interval)) for k in frame["k"]]
    return frame[OBSERVED_COLUMNS].reset_index(drop=True)


def days_per_run(result: SimulationResult) -> int:
    """Days of the clock one replication spans (as :func:`model.logs.contacts_log` numbers them)."""
    sim = getattr(result.scenario, "simulation", None)
    if sim is None:
        return 1
    return max(1, math.ceil((float(sim.start_seconds) + float(sim.warmup) + float(sim.horizon)) / DAY))


@dataclass
class Backtest:
    """What :func:`backtest` returns: ``table`` (:data:`TABLE_COLUMNS`, a row per interval, metric,
    scope and key), ``summary`` (:data:`SUMMARY_COLUMNS`, a row per metric, scope and key),
    ``notes`` (what could not be compared, and why), the ``interval`` length in seconds and the
    log's ``days``."""

    table: pd.DataFrame
    summary: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    interval: float = 3600.0
    days: int = 0
    order: list[str] = field(default_factory=list)  # the intervals in run order

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write :attr:`table` as CSV (atomically: a temporary name, then renamed)."""
        from ..results.result import atomic_write

        atomic_write(path, lambda p: self.table.to_csv(p, index=False))
        return Path(path)

    def outside(self, metric: str, scope: str = "overall", key: str = "all") -> list[str]:
        """The intervals where ``metric`` falls outside the prediction interval."""
        t = self.table
        sel = t[(t.metric == metric) & (t.scope == scope) & (t.key == key) & t.outside]
        return list(sel["interval"])


def _step_of(result: SimulationResult) -> float:
    iv = result.intervals
    if iv is None:
        raise BacktestError("the run has no per-interval figures: run it with --by (e.g. 'transfer-sim run "
                            "SCENARIO --by 1h --out DIR') or simulate(..., interval='1h')")
    if result.interval:
        return float(result.interval)
    from ..charts.intervals import interval_step

    step = interval_step(iv)
    if step is None:
        raise BacktestError("the run's interval length is unknown (a single interval): run it again with --by")
    return step


def _run_order(labels: Sequence[str], result: SimulationResult) -> list[str]:
    sim = getattr(result.scenario, "simulation", None)
    first = 0.0 if sim is None else (float(sim.start_seconds) + float(sim.warmup)) % DAY

    def key(s: str) -> tuple[float, str]:
        h, m = s.split(":")
        return ((int(h) * 3600 + int(m) * 60 - first) % DAY, s)

    # an interval holding the run's first instant starts before it: it comes first
    return sorted(labels, key=lambda s: key(s) if key(s)[0] < DAY - 1e-6 else (-1.0, s))


def _prediction(values: np.ndarray, n_reps: int, days: float, d: int, metric: str) -> tuple[float, float]:
    """The interval a fresh ``days``-day observation of the simulated process falls in 95 % of the time."""
    x = values[~np.isnan(values)]
    n = len(x)
    if n < 2 or days <= 0:
        return math.nan, math.nan
    half = float(stats.t.ppf(0.5 + LEVEL / 2, n - 1) * x.std(ddof=1) * math.sqrt(1.0 / n + d / days))
    lo, hi = float(x.mean()) - half, float(x.mean()) + half
    return max(lo, 0.0), (min(hi, 1.0) if metric in PROPORTIONS else hi)


def backtest(log: ContactLog, result: SimulationResult, *, by: float | str | None = None,
             services: Sequence[str] | None = None) -> Backtest:
    """Compare ``log`` (observed) with ``result`` (a run with intervals) per interval of the clock.

    ``by`` (seconds or ``"1h"``) defaults to the run's interval; another length is refused
    (:class:`BacktestError`): the run's figures cannot be re-cut, run again with that ``--by``.
    See the module docstring and docs/backtest.md for the definitions and the prediction interval.
    """
    from ..sim.intervals import interval_seconds

    step = _step_of(result)
    if by is not None:
        want = interval_seconds(by)
        if abs(want - step) > 1e-9:
            raise BacktestError(f"--by {_dur(want)} differs from the run's interval ({_dur(step)}); the run's figures "
                                f"cannot be re-cut: backtest --by {_dur(step)} (or omit --by), or run again with --by {_dur(want)}")
    notes: list[str] = []
    sc = result.scenario
    svc = getattr(sc, "services", None)
    if svc is not None:
        threshold: float | dict[str, float] = {s.name: float(s.service_level_threshold) for s in svc}
    else:
        threshold = SERVICE_LEVEL_SECONDS
        notes.append(f"the run carries no scenario: service level of the log at the default {SERVICE_LEVEL_SECONDS:g} s")
    d = days_per_run(result)
    if d > 1:
        notes.append(f"a replication spans {d} days of the clock: simulated arrivals are per day (divided by {d})")
    iv, pri = result.intervals, result.per_replication_intervals
    assert iv is not None
    obs = observed(log, step, service_level_threshold=threshold, services=services)
    days = int(log.contacts["day"].nunique()) if len(log.contacts) else 0
    if log.contacts.empty:
        notes.append("the log has no contacts: nothing to compare")
    sim_keys = set(zip(iv["scope"], iv["key"]))
    sim_intervals = set(map(str, iv["interval"]))
    log_intervals = set(obs["interval"])
    if extra := sorted(log_intervals - sim_intervals):
        notes.append(f"the log covers intervals the run does not: {', '.join(extra)} (not compared)")
    if missing := sorted(sim_intervals - log_intervals) if len(obs) else []:
        notes.append(f"the run covers intervals the log does not: {', '.join(_run_order(missing, result))} (not compared)")
    for scope in ("service", "target"):
        unknown = sorted(set(obs.loc[obs.scope == scope, "key"]) - {k for s, k in sim_keys if s == scope})
        if unknown:
            notes.append(f"the log has {scope}(s) the run does not: {', '.join(unknown)} (not compared on their own)")
    compared = list(COMPARED)
    if log.transfers is None:
        compared.remove("transfer_abandonment_rate")
        notes.append("no transfer table (--transfers): transfer figures not compared")
    elif obs[obs.metric == "transfer_abandonment_rate"].empty:
        compared.remove("transfer_abandonment_rate")
        notes.append("the transfer table holds no transfer of the log's contacts: transfer figures not compared")

    sim = iv[iv["metric"].isin(compared) & iv["scope"].isin(["service", "overall", "target"])]
    per_rep = {}
    if pri is not None:
        for key, grp in pri[pri["metric"].isin(compared)].groupby(["interval", "scope", "key", "metric"], sort=False):
            per_rep[tuple(map(str, key))] = grp["value"].to_numpy(float)
    merged = sim.merge(obs, on=["interval", "scope", "key", "metric"], how="inner")
    rows = []
    for r in merged.itertuples(index=False):
        scale = d if r.metric == "arrivals" else 1
        mean, lo, hi = r.mean / scale, r.ci_low / scale, r.ci_high / scale
        values = per_rep.get((str(r.interval), r.scope, str(r.key), r.metric), np.array([])) / scale
        pi_lo, pi_hi = _prediction(values, int(r.n), float(r.days), d, r.metric)
        o = float(r.observed)
        both = o == o and mean == mean
        err = (mean - o) * (100.0 if r.metric in PROPORTIONS else 1.0) if both else math.nan
        out_ci = bool(both and (o < lo - TOLERANCE or o > hi + TOLERANCE))
        out_pi = bool(both and pi_lo == pi_lo and (o < pi_lo - TOLERANCE or o > pi_hi + TOLERANCE))
        rows.append((str(r.interval), r.metric, r.scope, str(r.key), o, mean, lo, hi, pi_lo, pi_hi, int(r.n),
                     int(r.days), err, _unit(r.metric), out_ci, out_pi))
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    order = _run_order(sorted(set(table["interval"])), result)
    if len(table):
        rank = {s: i for i, s in enumerate(order)}
        mrank = {m: i for i, m in enumerate(COMPARED)}
        srank = {"overall": 0, "service": 1, "target": 2}
        table = table.sort_values(by=["metric", "scope", "key", "interval"],
                                  key=lambda col: col.map(mrank) if col.name == "metric" else
                                  col.map(srank) if col.name == "scope" else
                                  col.map(rank) if col.name == "interval" else col).reset_index(drop=True)
    if len(table) and not (table["pi_low"] == table["pi_low"]).any():
        notes.append("fewer than 2 replications: no prediction interval, so no interval is marked outside")
    summary = _summary(table, log, result, step, threshold, services, d, days, order)
    return Backtest(table, summary, notes, step, days, order)


def _summary(table: pd.DataFrame, log: ContactLog, result: SimulationResult, step: float,
             threshold: Any, services: Sequence[str] | None, d: int, days: int, order: list[str]) -> pd.DataFrame:
    """Per metric, scope and key: whole-day observed (over the compared intervals) against the run's
    whole-run figure, the mean absolute error over intervals and the intervals outside."""
    rows = []
    if table.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    c, tr = _prepare(log, step, threshold, services)
    ks = {k for k in range(int(round(DAY / step))) if _label(k, step) in set(table["interval"])}
    c = c[c["k"].isin(ks)]
    if tr is not None:
        tr = tr[tr["k"].isin(ks)]
    whole = {(s, k, m): (num, den) for _, s, k, m, num, den in _figures(c.assign(all_=0), tr.assign(all_=0) if tr is not None else None, ["all_"])}
    sim = _simulated_over(result, set(table["interval"]), d)
    for (metric, scope, key), grp in table.groupby(["metric", "scope", "key"], sort=False):
        num, den = whole.get((scope, key, metric), (math.nan, math.nan))
        if metric == "arrivals":
            den = days
        o = num / den if den else math.nan
        s = sim.get((scope, key, metric), math.nan)
        err = (s - o) * (100.0 if metric in PROPORTIONS else 1.0)
        errors = grp["error"].dropna()
        outside = [i for i in order if i in set(grp.loc[grp["outside"], "interval"])]
        rows.append((metric, scope, key, o, s, err, _unit(metric), float(errors.abs().mean()) if len(errors) else math.nan,
                     int(len(errors)), len(outside), outside))
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


#: the simulated count each compared rate is taken over, per interval (its denominator, near enough:
#: contacts or transfers still open at the horizon aside)
_WEIGHTS: dict[str, tuple[str, ...]] = {
    "queue_abandonment_rate": ("arrivals",),
    "service_level": ("arrivals",),
    "wait_mean": ("arrivals", "-abandoned_queue", "-dissuaded"),
    "transfer_abandonment_rate": ("transfers_requested",),
}


def _simulated_over(result: SimulationResult, labels: set[str], d: int) -> dict[tuple[str, str, str], float]:
    """The run's figures over the compared intervals only (so hours the log does not cover do not
    count): arrivals per day summed over them; each rate the mean of its interval values weighted by
    the simulated count it is taken over (:data:`_WEIGHTS`)."""
    iv = result.intervals
    if iv is None:
        return {}
    iv = iv[iv["interval"].astype(str).isin(labels)]
    means = {(str(sc), str(k), str(m), str(i)): float(v)
             for sc, k, m, i, v in zip(iv["scope"], iv["key"], iv["metric"], iv["interval"], iv["mean"])}
    out: dict[tuple[str, str, str], float] = {}
    for (scope, key, metric), grp in iv.groupby(["scope", "key", "metric"], sort=False):
        scope, key, metric = str(scope), str(key), str(metric)
        if metric == "arrivals":
            out[(scope, key, metric)] = float(grp["mean"].sum()) / d
        elif metric in _WEIGHTS:
            num = den = 0.0
            for interval, value in zip(grp["interval"].astype(str), grp["mean"]):
                w = sum((-1.0 if n.startswith("-") else 1.0) * means.get((scope, key, n.lstrip("-"), interval), 0.0)
                        for n in _WEIGHTS[metric])
                if value == value and w > 0:
                    num += float(value) * w
                    den += w
            out[(scope, key, metric)] = num / den if den else math.nan
    return out


def _dur(seconds: float) -> str:
    return f"{seconds / 3600:g}h" if seconds % 3600 == 0 else f"{seconds / 60:g}m"
