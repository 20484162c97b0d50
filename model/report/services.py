"""The report's services side by side: when a scenario has more than one service, a table with a
column per service, the service that waits longest in words and, for a run with intervals, a chart
of mean wait and service level per service and interval.

Why: services that share agents do not share their fate. With priorities (issue 18) the
lowest-priority service can starve while the overall figures look fine; one column per service, and a
sentence naming the one that waits longest, makes that visible. Labels, units and formats are the
figures' records (:mod:`model.results.figures`); which figures are shown is chosen here.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.ticker import PercentFormatter

from ..charts.intervals import interval_rows
from ..charts.style import colour, new_figure, style
from ..results.figures import figure
from .words import seconds_text, value_ci

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..results import SimulationResult

__all__ = ["SERVICE_FIGURES", "CHART_FIGURES", "service_names", "services_table", "longest_wait", "services_chart"]

SERVICE_FIGURES: tuple[str, ...] = ("arrivals", "queue_abandonment_rate", "service_level", "wait_mean",
                                    "transfer_abandonment_rate")
"""The figures of the services table, in this order."""

CHART_FIGURES: tuple[str, ...] = ("wait_mean", "service_level")
"""The figures of the per-interval chart, one panel each."""

_WAIT = "wait_mean"


def service_names(result: SimulationResult) -> list[str]:
    """The run's services in the scenario's order (those its metrics have), or ``[]`` with fewer than two."""
    m = result.metrics
    have = list(dict.fromkeys(map(str, m.loc[m.scope == "service", "key"])))
    order = [str(s.name) for s in getattr(result.scenario, "services", [])]
    names = [s for s in order if s in have] + [s for s in have if s not in order]
    return names if len(names) > 1 else []


def _priority(result: SimulationResult, name: str) -> int:
    """A service's priority (0 for a scenario format without priorities)."""
    for s in getattr(result.scenario, "services", []):
        if str(s.name) == name:
            return int(getattr(s, "priority", 0) or 0)
    return 0


def _threshold(result: SimulationResult, name: str) -> float | None:
    for s in getattr(result.scenario, "services", []):
        if str(s.name) == name:
            return float(s.service_level_threshold)
    return None


def _header(result: SimulationResult, names: list[str]) -> list[str]:
    shown = any(_priority(result, n) for n in names)
    return [f"{n} (priority {_priority(result, n)})" if shown else n for n in names]


def _triple(result: SimulationResult, name: str, key: str) -> tuple[float, float, float]:
    m = result.metrics
    row = m[(m.scope == "service") & (m.key.astype(str) == key) & (m.metric == name)]
    if row.empty:
        return (math.nan, math.nan, math.nan)
    r = row.iloc[0]
    return float(r["mean"]), float(r["ci_low"]), float(r["ci_high"])


def _cell(name: str, t: tuple[float, float, float]) -> str:
    info = figure(name)
    mean, lo, hi = t
    return "-" if mean != mean else f"{info.text(mean)} ({info.text(lo)} – {info.text(hi)})"


def _level_label(result: SimulationResult, names: list[str]) -> str | None:
    """The service level's label with its threshold in seconds when every service has the same one."""
    thresholds = {_threshold(result, n) for n in names}
    if len(thresholds) != 1 or None in thresholds:
        return None
    return figure("service_level").label.replace("threshold", seconds_text(thresholds.pop()))  # type: ignore[arg-type]


def services_table(result: SimulationResult) -> dict[str, Any] | None:
    """``{"title", "header", "ids", "rows", "definitions"}``: a row per figure of
    :data:`SERVICE_FIGURES` (its label; the service level's with its threshold), a column per service
    ("mean (low – high)"); ``None`` with fewer than two services. Rows no service has are left out."""
    names = service_names(result)
    if not names:
        return None
    rows, ids = [], []
    thresholds = {n: _threshold(result, n) for n in names}
    same = _level_label(result, names)
    for metric in SERVICE_FIGURES:
        values = {n: _triple(result, metric, n) for n in names}
        if all(v[0] != v[0] for v in values.values()):
            continue
        label = figure(metric).label
        cells = [_cell(metric, values[n]) for n in names]
        if metric == "service_level":
            if same is not None:
                label = same
            else:
                cells = [c if thresholds[n] is None else f"{c} within {seconds_text(thresholds[n])}"
                         for n, c in zip(names, cells)]
        rows.append([label, *cells])
        ids.append(metric)
    return {"title": "Services side by side, mean (95 % range)", "header": ["figure", *_header(result, names)],
            "ids": ids, "rows": rows, "definitions": {n: figure(n).definition for n in ids}}


def longest_wait(result: SimulationResult) -> str | None:
    """The service whose customers wait longest in the queue, in one sentence with its 95 % range,
    against the service that waits least, and whether the ranges overlap (so the gap may be chance);
    ``None`` with fewer than two services or no waits."""
    names = service_names(result)
    waits = {n: _triple(result, _WAIT, n) for n in names}
    waits = {n: t for n, t in waits.items() if t[0] == t[0]}
    if len(waits) < 2:
        return None
    worst = max(waits, key=lambda n: waits[n][0])
    best = min(waits, key=lambda n: waits[n][0])
    info = figure(_WAIT)
    w, b = waits[worst], waits[best]

    def who(n: str) -> str:
        p = _priority(result, n)
        return f"{n} (priority {p})" if any(_priority(result, x) for x in names) else n

    times = f", {w[0] / b[0]:.1f} times as long" if b[0] > 0 and w[0] >= 1.5 * b[0] else ""
    sure = ("; the 95 % ranges overlap, so the gap may be chance" if w[1] <= b[2]
            else "; the 95 % ranges do not overlap")
    level = ""
    sl = {n: _triple(result, "service_level", n) for n in names}
    if all(v[0] == v[0] for v in sl.values()) and min(sl, key=lambda n: sl[n][0]) == worst:
        info_sl = figure("service_level")
        level = f", and its {info_sl.label.split(' (')[0]} is the lowest ({info_sl.text(sl[worst][0])})"
    return (f"Of the {len(names)} services, {who(worst)} waits longest: {info.label} "
            f"{value_ci(info, *w)}, against {value_ci(info, *b)} for {who(best)}{times}{sure}{level}.")


def services_chart(result: SimulationResult) -> Figure:
    """Per interval of the clock, in run order: the mean wait and the service level of each service
    with their 95 % bands (one panel per figure of :data:`CHART_FIGURES`). ``ValueError`` without
    intervals or with fewer than two services."""
    names = service_names(result)
    rows = interval_rows(result)
    iv = result.intervals
    if not rows or iv is None:
        raise ValueError("this result has no per-interval figures (run with --by, or simulate(interval=...))")
    if not names:
        raise ValueError("one service only: nothing to set side by side")
    labels = [r.start for r in rows]
    x = np.arange(len(labels))
    sel = iv[iv.scope == "service"]
    with style():
        fig = new_figure(9.0, 2.8 * len(CHART_FIGURES) + 0.6)
        axes = fig.subplots(len(CHART_FIGURES), 1, sharex=True, squeeze=False)[:, 0]
        for ax, metric in zip(axes, CHART_FIGURES):
            info = figure(metric)
            for i, n in enumerate(names):
                s = sel[(sel.key.astype(str) == n) & (sel.metric == metric)].set_index("interval").reindex(labels)
                ax.plot(x, s["mean"].to_numpy(float), color=colour(i), lw=2, marker="o", ms=3, label=n)
                ax.fill_between(x, s["ci_low"].to_numpy(float), s["ci_high"].to_numpy(float), color=colour(i),
                                alpha=0.18, lw=0)
            ax.set_ylabel(info.axis_label)
            if info.is_proportion:
                ax.yaxis.set_major_formatter(PercentFormatter(1.0))
                ax.set_ylim(0, 1.02)
            else:
                ax.set_ylim(bottom=0)
            ax.set_title((_level_label(result, names) if metric == "service_level" else None) or info.label)
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, title="service")
        every = max(1, math.ceil(len(labels) / 12))
        axes[-1].set_xticks(range(0, len(labels), every), [labels[i] for i in range(0, len(labels), every)])
        axes[-1].set_xlabel("interval (start, clock time)")
    return fig
