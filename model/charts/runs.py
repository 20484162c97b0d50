"""Charts of one run (a :class:`~model.results.SimulationResult`): the time to join a transfer, how
contacts and transfers end, and the simulated day.

The ways a contact ends are the lifecycle's final states (:data:`model.lifecycle.FINAL_STATES`),
in the chart's order; their labels and colours are their records in :mod:`model.results.figures`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from ..lifecycle import FINAL_STATES, STATES, TRANSFERRING, is_agent_target, transitions
from ..results.figures import figure
from ..results.outcomes import OUTCOME_FIGURES, OUTCOMES, transfer_outcomes
from .style import MARK_COLOUR, colour, new_figure, style

if TYPE_CHECKING:
    from ..results import SimulationResult
    from ..scenario import Scenario

__all__ = ["CONTACT_ENDS", "TRANSFER_ENDS", "timeouts_by_target", "time_to_join_cdf", "outcomes_chart",
           "timeline_chart", "waiting_per_interval"]

CONTACT_ENDS: tuple[str, ...] = tuple(s for s in STATES if s in FINAL_STATES)
"""How a contact ends: the final states, in the lifecycle's order (each is also a count in results)."""

TRANSFER_ENDS: tuple[str, ...] = (
    "transfers_accepted",
    *(s for s in CONTACT_ENDS
      if any(t.target == s and (t.source in TRANSFERRING or t.source == "transferring") for t in transitions())),
)
"""How a transfer request ends: joined, or one of the final states a transfer can end in."""


def timeouts_by_target(result: SimulationResult) -> dict[str, float]:
    """The transfer timeout that applies to transfers to each target (from the requesting service);
    under ``"*"`` the one timeout of all services when they share it."""
    sc = result.scenario
    by_service = {s.name: float(s.transfer_timeout) for s in sc.services}
    out: dict[str, float] = {}
    tr = result.transfers
    if tr is not None and len(tr):
        for (target, service), _ in tr.groupby(["target", "service"], observed=True):
            out.setdefault(str(target), by_service.get(str(service), math.nan))
    values = set(by_service.values())
    if len(values) == 1:
        only = values.pop()
        out = {k: only for k in out} or out
        out.setdefault("*", only)
    return out


def time_to_join_cdf(result: SimulationResult, *, targets: Sequence[str] | None = None,
                     counted_only: bool = True) -> Figure:
    """Distribution of the time to join, per transfer target, as a CDF over *all* transfer requests:
    expired or abandoned transfers never join, so each curve levels off at that target's success rate.
    The transfer timeout is drawn as a vertical line."""
    tr = result.transfers
    if tr is None:
        raise ValueError("this result has no transfers table (run with keep_events=True)")
    if counted_only and "counted" in tr.columns:
        tr = tr[tr["counted"].astype(bool)]
    tr = tr[tr["outcome"].astype(str) != "open"]
    names = [str(t) for t in (targets or sorted(tr["target"].astype(str).unique()))]
    timeouts = timeouts_by_target(result)
    with style():
        fig = new_figure()
        ax = fig.add_subplot()
        xmax = 0.0
        for i, name in enumerate(names):
            rows = tr[tr["target"].astype(str) == name]
            if rows.empty:
                continue
            joined = np.sort(rows.loc[rows["outcome"].astype(str) == "accepted", "time_to_join"].to_numpy(float))
            n = len(rows)
            share = len(joined) / n
            x = np.concatenate([[0.0], joined])
            y = np.arange(len(x)) / n
            t_out = timeouts.get(name, timeouts.get("*", math.nan))
            end = t_out if t_out == t_out else (joined[-1] if len(joined) else 1.0)
            x = np.append(x, max(end, x[-1]) * 1.15)
            y = np.append(y, share)
            runs = max(1, int(result.replications))
            per_run = f"about {n / runs:,.0f} per simulated run" if runs > 1 else f"{n} in the simulated run"
            ax.step(x, y, where="post", color=colour(i), lw=2,
                    label=f"to {name}: {100 * share:.1f} % of requests join ({per_run})")
            xmax = max(xmax, x[-1])
        drawn = set()
        for name in names:
            t_out = timeouts.get(name, timeouts.get("*", math.nan))
            if t_out == t_out and t_out not in drawn:
                drawn.add(t_out)
                ax.axvline(t_out, color=MARK_COLOUR, ls="--", lw=1.3, label=f"transfer timeout {t_out:g} s")
        ax.set_xlim(0, xmax or 1)
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel("time to join: request to accept (s)")
        ax.set_ylabel("share of all transfer requests joined (%)\n(expired/abandoned never join)")
        ax.set_title("Time to join a transfer, by target group (CDF)")
        if ax.get_legend_handles_labels()[0]:  # no transfers, no curve: no empty legend box
            ax.legend(loc="lower right", frameon=False)
    return fig


def _counts(result: SimulationResult, scope: str, metrics: Sequence[str]) -> pd.DataFrame:
    m = result.metrics
    sel = m[(m["scope"] == scope) & (m["metric"].isin(metrics))]
    return sel.pivot_table(index="key", columns="metric", values="mean", aggfunc="mean").reindex(columns=metrics)


def outcomes_chart(result: SimulationResult) -> Figure:
    """How contacts end, stacked, as shares: left, every contact by the entry group of its service
    (one bar segment per final state of the lifecycle); right, every transfer request by its target
    group: joined, returned to the sender (policy ``return``), timer expired, customer left
    (:mod:`model.results.outcomes`)."""
    ends = list(CONTACT_ENDS)
    entry = {s.name: s.entry_group for s in result.scenario.services}
    by_service = _counts(result, "service", ends).fillna(0.0)
    by_service.index = [f"{entry.get(str(k), k)}\n({k})" if len(entry) > 1 else str(entry.get(str(k), k))
                        for k in by_service.index]
    tends = list(OUTCOMES)
    requested = _counts(result, "target", ["transfers_requested"]).fillna(0.0)
    by_target = pd.DataFrame(
        {t: {k: v[0] for k, v in transfer_outcomes(result.per_replication, "target", str(t)).items()}
         for t in requested.index[requested["transfers_requested"] > 0]}, index=tends).T.fillna(0.0)
    with style():
        fig = new_figure(10.5, 4.6)
        axes = fig.subplots(1, 2, width_ratios=[1, 1])
        for ax, table, cols, title, unit in (
            (axes[0], by_service, ends, "How contacts end, by entry group", "contacts"),
            (axes[1], by_target, tends, "How transfers end, by target group", "transfer requests"),
        ):
            totals = table[cols].sum(axis=1).replace(0, np.nan)
            shares = table[cols].div(totals, axis=0).fillna(0.0)
            left = np.zeros(len(shares))
            ypos = np.arange(len(shares))
            for col in cols:
                info = OUTCOME_FIGURES.get(col) or figure(col)
                vals = shares[col].to_numpy(float)
                ax.barh(ypos, vals, left=left, color=info.colour, edgecolor="white", lw=0.5, label=info.label,
                        height=0.6)
                for y, (l, v) in enumerate(zip(left, vals)):
                    if v >= 0.06:
                        ax.text(l + v / 2, y, f"{100 * v:.0f} %", ha="center", va="center", fontsize=9,
                                color="black")
                left += vals
            ax.set_yticks(ypos, [str(i) for i in shares.index])
            ax.set_xlim(0, 1)
            ax.xaxis.set_major_formatter(PercentFormatter(1.0))
            ax.set_xlabel(f"share of {unit} (%, mean over replications)")
            ax.set_ylabel("entry group" if unit == "contacts" else "target group")
            ax.set_title(title)
            ax.grid(axis="y", visible=False)
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    return fig


def _transfer_targets(sc: Scenario) -> set[str]:
    return {r.to for g in sc.groups for r in g.transfers if not is_agent_target(r.to)}


def timeline_chart(result: SimulationResult) -> Figure:
    """Over the simulated day (clock hours from ``simulation.start``), mean over replications.

    From the top: transfers waiting per target group (the mean per interval of the run's ``--by``,
    else per hour, or per 15 min for a run shorter than 4 h: :func:`waiting_per_interval`); queue abandonment of all contacts (with its
    95 % band: from ``result.intervals`` when the run has them, else per clock hour from the event
    log, else a note saying neither was kept; see :func:`.intervals.queue_abandonment_over_day`);
    agent occupancy per group (busy over on-shift chat slots: above 100 % while agents whose shift
    ended finish their chats); chat slots on shift per group (the rota, as sampled); arrivals per
    hour. ``fig.axes`` keeps the first three panels' older order: waiting, occupancy, arrivals,
    then slots on shift and queue abandonment.
    """
    from .intervals import queue_abandonment_over_day

    tl = result.timeline
    if tl is None or len(tl) == 0:
        raise ValueError("this result has no timeline (run with a timeline_step)")
    sc = result.scenario
    start = float(sc.simulation.start_seconds)
    warm = float(sc.simulation.warmup)
    tl = tl.copy()
    tl["group"] = tl["group"].astype(str)
    mean = tl.groupby(["time", "group"], observed=True)[["waiting_transfers", "busy_slots", "slots", "arrivals"]].mean()
    mean = mean.reset_index()
    step = float(np.median(np.diff(np.sort(tl["time"].unique())))) if tl["time"].nunique() > 1 else 300.0
    mean["hour"] = (start + mean["time"]) / 3600.0
    groups = list(dict.fromkeys(str(g.name) for g in sc.groups)) or sorted(mean["group"].unique())
    groups = [g for g in groups if g in set(mean["group"])]
    width = float(result.interval or (3600.0 if sc.simulation.warmup + sc.simulation.horizon >= 4 * 3600 else 900.0))
    per_interval = waiting_per_interval(tl, start, width)
    with style():
        fig = new_figure(9.0, 11.5)
        grid = fig.add_gridspec(5, 1)
        # created in the older order (waiting, occupancy, arrivals), placed top to bottom as:
        # waiting, queue abandonment, occupancy, slots on shift, arrivals (which carries the time axis)
        waiting = fig.add_subplot(grid[0])
        occupancy = fig.add_subplot(grid[2], sharex=waiting)
        arrivals_ax = fig.add_subplot(grid[4], sharex=waiting)
        slots = fig.add_subplot(grid[3], sharex=waiting)
        lost = fig.add_subplot(grid[1], sharex=waiting)
        axes = [waiting, occupancy, arrivals_ax, slots, lost]
        targets = _transfer_targets(sc)
        occupancy_top: list[float] = []
        for i, g in enumerate(groups):
            d = mean[mean["group"] == g].sort_values("hour")
            c = colour(i)
            if g in targets or d["waiting_transfers"].any():
                x, y = per_interval[g] if g in per_interval else ([], [])
                waiting.step(x, y, where="post", color=c, lw=1.8, label=g)
            occ = d["busy_slots"] / d["slots"].replace(0, np.nan)
            occupancy_top += [v * 1.05 for v in occ if v == v]
            occupancy.plot(d["hour"], occ, color=c, lw=1.8, label=g)
            slots.step(d["hour"], d["slots"], where="post", color=c, lw=1.8, label=g)
            if d["arrivals"].any():
                arrivals_ax.plot(d["hour"], d["arrivals"] * 3600.0 / step, color=c, lw=1.8, label=g)
        _queue_abandonment(lost, queue_abandonment_over_day(result), start)
        waiting.set_ylabel(f"transfers waiting\n(mean per {_span_words(width)})")
        waiting.set_title("Over the simulated day (mean over the simulated runs)")
        occupancy.set_ylabel(f"{figure('agent_occupancy').label}\n(% of chat slots busy)")
        occupancy.yaxis.set_major_formatter(PercentFormatter(1.0))
        # above 100 % while agents whose shift ended finish their chats (their slots are off shift)
        top = max(1.05, float(np.nanmax(occupancy_top))) if occupancy_top else 1.05
        occupancy.set_ylim(0, top)
        slots.set_ylabel("chat slots on shift\n(the rota)")
        arrivals_ax.set_ylabel("new contacts\n(per hour)")
        arrivals_ax.set_xlabel("time of day (h)")
        for ax in axes:
            ax.set_ylim(bottom=0)
            if ax is not arrivals_ax:
                ax.tick_params(labelbottom=False)
            if warm > 0:
                ax.axvspan(start / 3600.0, (start + warm) / 3600.0, color="0.85", alpha=0.6, lw=0,
                           label="warm-up (not counted)" if ax is waiting else None)
            if ax.get_legend_handles_labels()[0]:  # e.g. no transfer target: nothing waits, no legend
                title = {id(waiting): "target group", id(arrivals_ax): "entry group", id(lost): None}.get(id(ax), "group")
                ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, title=title)
    return fig


def waiting_per_interval(timeline: pd.DataFrame, start: float, width: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per group, the mean number of transfers waiting in each interval of ``width`` seconds (over
    the samples in it and the replications), as step coordinates in clock hours: ``x`` the
    interval edges (one more than the values), ``y`` the means with the last repeated. A sample is a
    moment; a mean per interval shows the load without every momentary spike."""
    tl = timeline.assign(_bin=(np.floor(timeline["time"].to_numpy(float) / width) * width))
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for g, d in tl.groupby(tl["group"].astype(str), observed=True):
        m = d.groupby("_bin")["waiting_transfers"].mean().sort_index()
        x = (start + np.append(m.index.to_numpy(float), m.index[-1] + width)) / 3600.0
        out[str(g)] = (x, np.append(m.to_numpy(float), m.iloc[-1]))
    return out


def _span_words(width: float) -> str:
    return "hour" if width == 3600 else f"{width / 3600:g} h" if width % 3600 == 0 else f"{width / 60:g} min"


def _queue_abandonment(ax: Axes, found: tuple[pd.DataFrame, str] | None, start: float) -> None:
    """Queue abandonment of all contacts as steps over the day with their 95 % band, or a note."""
    info = figure("queue_abandonment_rate")
    ax.set_ylabel(f"{info.label}\n(% of contacts)")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(0, 1.02)
    if found is None:
        ax.text(0.5, 0.5, "not available: keep the event log, or run with --by 1h", transform=ax.transAxes,
                ha="center", va="center", color="0.35")
        return
    frame, source = found
    x = (start + frame[["start", "end"]].to_numpy(float).ravel()) / 3600.0
    c = info.colour or colour(1)
    ax.plot(x, np.repeat(frame["mean"].to_numpy(float), 2), color=c, lw=1.8, label=f"all contacts, {source}")
    ax.fill_between(x, np.repeat(frame["ci_low"].to_numpy(float), 2), np.repeat(frame["ci_high"].to_numpy(float), 2),
                    color=c, alpha=0.2, lw=0, label="95 % range")
