"""Figures per interval of the clock (``result.intervals``, LIFECYCLE.md "What is measured", "Per
interval"): the rows ``run --by`` prints and the report shows, the worst interval, the hour-by-hour
chart, and queue abandonment over the day for the day chart.

Why one module: the CLI, the report and the day chart read the same tidy frame and must name the
same worst interval; reading it once here keeps them alike. Labels, units and formats stay the
records of :mod:`model.results.figures`.

Intervals are shown in run order: from the first one after the warm-up, round the clock (a night
shift from 22:00 reads 22:00, 23:00, 00:00, ...). A run longer than a day adds the same hour of
every day together (:mod:`model.sim.intervals`), so each interval appears once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from ..lifecycle import FINAL_STATES
from ..results.figures import figure
from ..results.metrics import QUEUE_ENDS
from ..scenario.staffing import DAY
from .style import PALETTE, colour, new_figure, style

if TYPE_CHECKING:
    from ..results import SimulationResult

__all__ = ["INTERVAL_FIGURES", "WORST_BY", "QUEUE_ENDS", "IntervalRow", "interval_step", "interval_rows",
           "worst_interval", "span_text", "intervals_chart", "queue_abandonment_over_day"]


INTERVAL_FIGURES: tuple[str, ...] = ("arrivals", "queue_abandonment_rate", "transfer_abandonment_rate",
                                     "service_level")
"""The figures (of all contacts) shown per interval, besides each group's staffing."""

WORST_BY: tuple[str, ...] = ("queue_abandonment_rate", "transfer_abandonment_rate")
"""The figures whose worst interval is named: the first is "the worst interval"."""

Triple = tuple[float, float, float]
_NONE: Triple = (math.nan, math.nan, math.nan)


@dataclass(frozen=True)
class IntervalRow:
    """One interval: its start ``"HH:MM"``, its span in words, the figures of all contacts
    (``(mean, ci_low, ci_high)`` by name) and the agents on shift per group."""

    start: str
    span: str
    figures: dict[str, Triple]
    staffed: dict[str, Triple]

    def get(self, name: str) -> Triple:
        """``(mean, ci_low, ci_high)`` of an overall figure (NaNs when the interval has none)."""
        return self.figures.get(name, _NONE)


def _minutes(label: str) -> int:
    h, m = str(label).split(":")
    return int(h) * 60 + int(m)


def _clock(minutes: float) -> str:
    minutes = int(round(minutes)) % 1440
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def interval_step(intervals: pd.DataFrame) -> float | None:
    """The interval length in seconds, read off the start times (the greatest common divisor of
    their gaps round the clock); ``None`` with a single interval, whose length cannot be told.
    For results written before ``SimulationResult.interval`` was kept; prefer that when set."""
    starts = sorted({_minutes(x) for x in intervals["interval"]})
    if len(starts) < 2:
        return None
    gaps = [b - a for a, b in zip(starts, starts[1:])] + [1440 - starts[-1] + starts[0]]
    return 60.0 * math.gcd(*gaps)


def span_text(start: str, step: float | None) -> str:
    """``"12:00-13:00"`` (the end at ``24:00`` for the day's last interval); ``"from 12:00"``
    when the length is unknown."""
    if step is None:
        return f"from {start}"
    end = _minutes(start) + step / 60.0
    return f"{start}-{'24:00' if end == 1440 else _clock(end)}"


def _run_start(scenario: Any) -> float | None:
    sim = getattr(scenario, "simulation", None)
    if sim is None:
        return None
    return (float(sim.start_seconds) + float(sim.warmup)) % DAY


def interval_rows(result: SimulationResult, step: float | None = None) -> list[IntervalRow]:
    """The intervals of ``result`` in run order (see the module docstring); empty without intervals.

    ``step`` is the interval length in seconds when known (``run --by``); otherwise it is read
    off the start times (:func:`interval_step`).
    """
    iv = result.intervals
    if iv is None or len(iv) == 0:
        return []
    step = step if step is not None else (result.interval or interval_step(iv))
    first = _run_start(result.scenario)
    span = step or 0.0

    def run_order(s: str) -> tuple[float, str]:
        # how long after the run's first counted instant the interval ends (the one holding it first)
        return ((_minutes(s) * 60 + span - first - 1e-6) % DAY if first is not None else 0.0), s

    starts = sorted(set(map(str, iv["interval"])), key=run_order)
    overall = iv[(iv["scope"] == "overall") & (iv["metric"].isin(INTERVAL_FIGURES))]
    groups = iv[(iv["scope"] == "group") & (iv["metric"] == "staffed_agents")]
    order = [str(g.name) for g in getattr(result.scenario, "groups", [])]
    order += [g for g in dict.fromkeys(map(str, groups["key"])) if g not in order]

    def triples(frame: pd.DataFrame, by: str) -> dict[str, dict[str, Triple]]:
        out: dict[str, dict[str, Triple]] = {}
        for r in frame.itertuples(index=False):
            out.setdefault(str(r.interval), {})[str(getattr(r, by))] = (float(r.mean), float(r.ci_low),
                                                                        float(r.ci_high))
        return out

    figs, staffed = triples(overall, "metric"), triples(groups, "key")
    return [IntervalRow(s, span_text(s, step), figs.get(s, {}),
                        {g: staffed[s][g] for g in order if g in staffed.get(s, {})}) for s in starts]


def worst_interval(rows: Sequence[IntervalRow], metric: str) -> IntervalRow | None:
    """The interval with the highest mean of ``metric`` (the first in run order on a tie);
    ``None`` when no interval has a value above 0 (nothing was lost, or nothing arrived)."""
    valued = [r for r in rows if r.get(metric)[0] == r.get(metric)[0]]
    if not valued:
        return None
    worst = max(valued, key=lambda r: r.get(metric)[0])
    return worst if worst.get(metric)[0] > 0 else None


def _ticks(ax: Any, labels: Sequence[str]) -> None:
    every = max(1, math.ceil(len(labels) / 12))
    ax.set_xticks(range(0, len(labels), every), [labels[i] for i in range(0, len(labels), every)])


def intervals_chart(result: SimulationResult, step: float | None = None) -> Figure:
    """Per interval, in run order: arrivals (bars, mean with its 95 % interval), agents on shift
    per group (the rota), and queue and transfer abandonment of all contacts with 95 % bands;
    the worst interval for queue abandonment is shaded. ``ValueError`` without intervals."""
    rows = interval_rows(result, step)
    if not rows:
        raise ValueError("this result has no per-interval figures (run with --by, or simulate(interval=...))")
    x = np.arange(len(rows))
    labels = [r.start for r in rows]

    def series(name: str) -> np.ndarray:
        return np.array([r.get(name) for r in rows], dtype=float).reshape(len(rows), 3)

    with style():
        fig = new_figure(9.0, 8.0)
        top, mid, low = fig.subplots(3, 1, sharex=True)
        arr = series("arrivals")
        info = figure("arrivals")
        err = np.vstack([arr[:, 0] - arr[:, 1], arr[:, 2] - arr[:, 0]])
        top.bar(x, arr[:, 0], color=PALETTE[4], width=0.8, label=f"{info.label} (mean)")
        top.errorbar(x, arr[:, 0], yerr=np.nan_to_num(np.clip(err, 0, None)), fmt="none", ecolor="0.3",
                     lw=1, capsize=2, label="95 % range")
        top.set_ylabel(f"{info.label}\n({info.unit} per interval)")
        top.set_title("Per interval of the clock (mean over replications)")
        staffed = figure("staffed_agents")
        for i, g in enumerate(dict.fromkeys(g for r in rows for g in r.staffed)):
            y = [r.staffed.get(g, _NONE)[0] for r in rows]
            mid.stairs(y, np.arange(len(rows) + 1) - 0.5, color=colour(i), lw=2, label=g, baseline=None)
        mid.set_ylabel(f"{staffed.label}\n(mean, {staffed.unit})")
        mid.yaxis.set_major_locator(MaxNLocator(integer=True))
        for k, name in enumerate(WORST_BY):
            info = figure(name)
            s = series(name)
            c = info.colour or PALETTE[1 + k]
            low.plot(x, s[:, 0], color=c, lw=2, marker="o", ms=4, label=info.label)
            low.fill_between(x, s[:, 1], s[:, 2], color=c, alpha=0.2, lw=0, label=f"95 % range ({info.label.split(' (')[0]})")
        worst = worst_interval(rows, WORST_BY[0])
        if worst is not None:
            i = rows.index(worst)
            for ax in (top, mid, low):
                ax.axvspan(i - 0.5, i + 0.5, color="0.8", alpha=0.5, lw=0, zorder=0,
                           label=f"worst for {figure(WORST_BY[0]).label}" if ax is low else None)
        low.set_ylabel("share (%)\n(contacts; transfer requests)")
        low.yaxis.set_major_formatter(PercentFormatter(1.0))
        low.set_ylim(0, 1.02)
        low.set_xlabel("interval (start, clock time)")
        _ticks(low, labels)
        top.set_ylim(bottom=0)
        mid.set_ylim(bottom=0)
        for ax, title in ((top, None), (mid, "group"), (low, None)):
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, title=title)
    return fig


def queue_abandonment_over_day(result: SimulationResult) -> tuple[pd.DataFrame, str] | None:
    """Queue abandonment of all contacts over the simulated day, for the day chart: a frame of
    ``start, end`` (seconds of simulated time) and ``mean, ci_low, ci_high``, and where it comes from.

    Taken from ``result.intervals`` when the run has them (they need no event log and carry the
    figure's own 95 % intervals); otherwise counted per clock hour from the event log (contacts by
    the hour of their arrival, over those that ended, as the figure is defined); ``None`` when the
    run has neither (``keep_events=False`` without ``interval=``).
    """
    sc = result.scenario
    sim = getattr(sc, "simulation", None)
    if sim is None:
        return None
    clock0, warm = float(sim.start_seconds), float(sim.warmup)
    end = warm + float(sim.horizon)
    name = WORST_BY[0]
    iv = result.intervals
    if iv is not None and len(iv):
        step = result.interval or interval_step(iv) or (end - warm)
        sel = iv[(iv["scope"] == "overall") & (iv["metric"] == name)]
        by = {str(r.interval): (float(r.mean), float(r.ci_low), float(r.ci_high)) for r in sel.itertuples()}
        rows = []
        t = math.floor((clock0 + warm) / step) * step - clock0  # the start of the interval holding the warm-up's end
        while t < end:
            values = by.get(_clock((clock0 + t) / 60.0), _NONE)
            rows.append((max(t, warm), min(t + step, end), *values))
            t += step
        return pd.DataFrame(rows, columns=["start", "end", "mean", "ci_low", "ci_high"]), f"per {_step_text(step)} interval"
    ev = result.events
    if ev is None or len(ev) == 0:
        return None
    return _from_events(ev, clock0, warm, end, result.replications), "per clock hour, from the event log"


def _step_text(step: float) -> str:
    return f"{step / 3600:g} h" if step % 3600 == 0 else f"{step / 60:g} min"


def _from_events(ev: pd.DataFrame, clock0: float, warm: float, end: float, replications: int) -> pd.DataFrame:
    from ..results.metrics import summarise

    arrived = ev[ev["from_state"].isna() & (ev["time"] >= warm)][["replication", "contact", "time"]]
    final = ev[ev["to_state"].astype(str).isin(FINAL_STATES)][["replication", "contact", "to_state"]]
    c = arrived.merge(final, on=["replication", "contact"], how="inner")
    c["hour"] = np.floor((clock0 + c["time"]) / 3600.0).astype(int)
    c["lost"] = c["to_state"].astype(str).isin(QUEUE_ENDS)
    first, last = math.floor((clock0 + warm) / 3600.0), math.ceil((clock0 + end) / 3600.0)
    per = c.groupby(["replication", "hour"])["lost"].agg(["sum", "count"]).reset_index()
    full = pd.MultiIndex.from_product([range(replications), range(first, last)], names=["replication", "hour"])
    per = per.set_index(["replication", "hour"]).reindex(full).reset_index()
    per["value"] = per["sum"] / per["count"]  # NaN where no contact ended
    tidy = per.assign(scope="overall", key=per["hour"], metric=WORST_BY[0])
    summary = summarise(tidy[["replication", "scope", "key", "metric", "value"]])
    summary["start"] = np.maximum(summary["key"].astype(float) * 3600.0 - clock0, warm)
    summary["end"] = np.minimum((summary["key"].astype(float) + 1) * 3600.0 - clock0, end)
    return summary[["start", "end", "mean", "ci_low", "ci_high"]].reset_index(drop=True)
