"""Charts of simulation results: each function takes results and returns a matplotlib ``Figure``.

Why: the report, notebooks and the CLI draw the same pictures from the same frames
(``SimulationResult`` and the tidy sweep frame of :mod:`model.experiments`), with one style:
labelled axes with units, sizes readable in a report, and the colour-blind-safe Okabe-Ito palette.

Figures are built with :class:`matplotlib.figure.Figure` (not ``pyplot``), so building many of them in
a loop leaks nothing and works without a display; in a notebook the returned figure displays itself.

Sweep frames: one column per varied scenario path (e.g. ``services.support.transfer_timeout``), then
``scope, key, metric, mean, ci_low, ci_high, n``.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

if not os.environ.get("DISPLAY") and "matplotlib.pyplot" not in sys.modules and "ipykernel" not in sys.modules:
    matplotlib.use("Agg")

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

__all__ = [
    "PALETTE",
    "OUTCOME_COLOURS",
    "SWEEP_COLUMNS",
    "style",
    "param_columns",
    "recommended_setting",
    "sweep_chart",
    "time_to_join_cdf",
    "outcomes_chart",
    "timeline_chart",
    "heatmap_chart",
    "statechart_chart",
    "save_png",
]

#: Okabe & Ito (2008), safe for the common colour-vision deficiencies; the one palette of all charts.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
)

#: How a contact (or a transfer) ends, with its label and colour.
OUTCOME_COLOURS: dict[str, tuple[str, str]] = {
    "completed": ("completed", "#009E73"),
    "abandoned_queue": ("abandoned in queue", "#E69F00"),
    "dissuaded": ("dissuaded", "#F0E442"),
    "abandoned_transfer": ("abandoned during transfer", "#CC79A7"),
    "transfer_expired": ("transfer expired", "#D55E00"),
    "transfers_accepted": ("joined (accepted)", "#009E73"),
}

#: The columns of a sweep frame after the varied paths.
SWEEP_COLUMNS: tuple[str, ...] = ("scope", "key", "metric", "mean", "ci_low", "ci_high", "n")

_RATE_LABELS = {
    "transfer_abandonment_rate": "transfer abandonment (expired or abandoned)",
    "transfer_success_rate": "transfer success (joined)",
    "queue_abandonment_rate": "queue abandonment",
    "abandonment_rate": "contacts not completed",
    "transfer_service_level": "transfers joined within 20 s",
    "agent_occupancy": "agent occupancy",
}

_RC = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9.5,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": matplotlib.cycler(color=list(PALETTE)),
    "figure.dpi": 100,
    "savefig.dpi": 120,
    "savefig.bbox": "tight",
}


def style() -> Any:
    """The chart style as a context manager: ``with style(): ...`` (every function here uses it)."""
    return matplotlib.rc_context(_RC)


def _figure(w: float = 8.0, h: float = 4.8) -> Figure:
    return Figure(figsize=(w, h), layout="constrained")


def _colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


# -- sweep frames ---------------------------------------------------------------------------------

def param_columns(frame: pd.DataFrame) -> list[str]:
    """The varied scenario paths of a sweep frame (every column that is not a summary column)."""
    return [c for c in frame.columns if c not in SWEEP_COLUMNS and c not in ("point", "replications", "seed")]


def _numeric(values: pd.Series) -> pd.Series:
    """Sweep values as numbers; durations written as text (``"45s"``) become seconds."""
    out = pd.to_numeric(values, errors="coerce")
    if out.isna().any():
        from .scenario.durations import parse_duration

        def conv(v: Any) -> float:
            try:
                return float(v)
            except (TypeError, ValueError):
                try:
                    return parse_duration(v)
                except Exception:
                    return math.nan

        out = values.map(conv).astype(float)
    return out


def _param_label(path: str) -> str:
    leaf = path.split(".")[-1]
    owner = path.split(".")[-2] if path.count(".") >= 2 else ""
    nice = {
        "transfer_timeout": "transfer timeout (s)",
        "dissuasion_timeout": "dissuasion timeout (s)",
        "offer_timeout": "offer timeout (s)",
        "agents": "agents",
        "max_concurrent": "chats per agent",
        "reject_probability": "reject probability",
        "probability": "transfer probability",
    }.get(leaf, leaf.replace("_", " "))
    return f"{owner} {nice}".strip()


def _rate_label(metric: str) -> str:
    return _RATE_LABELS.get(metric, metric.replace("_", " "))


def _select(frame: pd.DataFrame, metric: str, scope: str, key: str | None) -> pd.DataFrame:
    sel = frame[(frame["metric"] == metric) & (frame["scope"] == scope)]
    if key is not None:
        sel = sel[sel["key"].astype(str) == str(key)]
    if sel.empty:
        raise ValueError(f"the sweep frame has no {metric!r} for scope {scope!r}" + (f" key {key!r}" if key else ""))
    return sel


def _default_key(frame: pd.DataFrame, scope: str, metric: str = "transfers_requested") -> str:
    """The key of ``scope`` with the most transfers (or the first one)."""
    sel = frame[(frame["scope"] == scope) & (frame["metric"] == metric)]
    if sel.empty:
        sel = frame[frame["scope"] == scope]
        if sel.empty:
            raise ValueError(f"the sweep frame has no rows of scope {scope!r}")
        return str(sel["key"].iloc[0])
    return str(sel.groupby("key", observed=True)["mean"].mean().idxmax())


def _hold(sel: pd.DataFrame, params: Sequence[str], free: Sequence[str],
          fixed: dict[str, Any] | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Keep the rows where every varied path not in ``free`` is at its ``fixed`` value (default: its
    first value); returns the rows and the values held."""
    held: dict[str, Any] = {}
    for other in params:
        if other in free:
            continue
        value = (fixed or {}).get(other, sel[other].iloc[0])
        v = float(_numeric(pd.Series([value])).iloc[0])
        sel = sel[_numeric(sel[other]) == v] if v == v else sel[sel[other] == value]
        held[other] = value
    if sel.empty:
        raise ValueError(f"no sweep rows with {held}")
    return sel, held


def _held_text(held: dict[str, Any]) -> str:
    return ", ".join(f"{_param_label(k).split(' (')[0]} = {v:g}" if isinstance(v, (int, float)) else
                     f"{_param_label(k).split(' (')[0]} = {v}" for k, v in held.items())


def recommended_setting(
    frame: pd.DataFrame,
    param: str | None = None,
    *,
    target: float,
    metric: str = "transfer_abandonment_rate",
    scope: str = "target",
    key: str | None = None,
    fixed: dict[str, Any] | None = None,
) -> Any:
    """The smallest value of ``param`` whose upper 95 % bound of ``metric`` is at or below ``target``
    (``None`` when no value reaches it). Other varied paths are held at ``fixed`` (default: their
    first value)."""
    params = param_columns(frame)
    param = param or params[0]
    key = key or _default_key(frame, scope)
    sel, _ = _hold(_select(frame, metric, scope, key), params, [param], fixed)
    sel = sel.assign(_x=_numeric(sel[param])).sort_values("_x")
    ok = sel[sel["ci_high"].clip(lower=0) <= target]
    return None if ok.empty else ok[param].iloc[0]


def sweep_chart(
    frame: pd.DataFrame,
    param: str | None = None,
    *,
    metric: str = "transfer_abandonment_rate",
    also: str | None = "transfer_success_rate",
    scope: str = "target",
    key: str | None = None,
    target: float | None = None,
    recommended: Any = None,
    fixed: dict[str, Any] | None = None,
) -> Figure:
    """Transfer abandonment (and success) against the swept parameter, with 95 % CI bands.

    Args:
        frame: a sweep frame (see the module's doc).
        param: the varied path on the x axis (default: the first).
        fixed: values at which the other varied paths are held (default: their first value; the
            title says which).
        metric, also: the rates drawn (``also=None`` draws one).
        scope, key: whose figures (default: the transfer target with the most transfers).
        target: the target rate of ``metric``: a horizontal dashed line.
        recommended: the setting to mark; by default, when ``target`` is given, the smallest value
            whose upper bound meets it (:func:`recommended_setting`).
    """
    params = param_columns(frame)
    if not params:
        raise ValueError("the sweep frame has no varied parameter column")
    param = param or params[0]
    key = key if key is not None else _default_key(frame, scope)
    if recommended is None and target is not None:
        recommended = recommended_setting(frame, param, target=target, metric=metric, scope=scope, key=key,
                                          fixed=fixed)
    with style():
        fig = _figure()
        ax = fig.add_subplot()
        for i, m in enumerate([metric] + ([also] if also else [])):
            sel, held = _hold(_select(frame, m, scope, key), params, [param], fixed)
            sel = sel.assign(_x=_numeric(sel[param])).sort_values("_x")
            x = sel["_x"].to_numpy(float)
            c = _colour(i if i == 0 else 2)
            ax.fill_between(x, sel["ci_low"].clip(0, 1), sel["ci_high"].clip(0, 1), color=c, alpha=0.22,
                            linewidth=0, label=f"95 % CI ({_rate_label(m).split(' (')[0]})")
            ax.plot(x, sel["mean"], marker="o", color=c, lw=2, label=_rate_label(m))
        if target is not None:
            ax.axhline(target, color=PALETTE[5], ls="--", lw=1.5, label=f"target {100 * target:g} %")
        if recommended is not None:
            rx = float(_numeric(pd.Series([recommended])).iloc[0])
            ax.axvline(rx, color=PALETTE[7], ls=":", lw=1.5, label=f"recommended: {recommended:g}"
                       if isinstance(recommended, (int, float)) else f"recommended: {recommended}")
        ax.set_xlabel(_param_label(param))
        ax.set_ylabel("share of transfer requests (%)")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylim(bottom=0)
        who = f"transfers to {key}" if scope == "target" else (f"{scope} {key}" if scope != "overall" else "all")
        title = f"Transfer outcome against {_param_label(param).split(' (')[0]} ({who})"
        if held:
            title += f"\nat {_held_text(held)}"
        ax.set_title(title)
        ax.legend(loc="best", frameon=False)
    return fig


def heatmap_chart(
    frame: pd.DataFrame,
    x: str | None = None,
    y: str | None = None,
    *,
    metric: str = "transfer_abandonment_rate",
    scope: str = "target",
    key: str | None = None,
    target: float | None = None,
    fixed: dict[str, Any] | None = None,
) -> Figure:
    """A two-parameter sweep as a heat map (e.g. timeout x staff), each cell labelled with its mean;
    with ``target``, cells whose upper 95 % bound meets it are outlined."""
    params = param_columns(frame)
    if len(params) < 2 and (x is None or y is None):
        raise ValueError(f"a heat map needs two varied parameters, the frame has {params}")
    x = x or params[0]
    y = y or [p for p in params if p != x][0]
    key = key if key is not None else _default_key(frame, scope)
    sel, held = _hold(_select(frame, metric, scope, key), params, [x, y], fixed)
    sel = sel.copy()
    sel["_x"] = _numeric(sel[x])
    sel["_y"] = _numeric(sel[y])
    grid = sel.pivot_table(index="_y", columns="_x", values="mean", aggfunc="mean").sort_index()
    upper = sel.pivot_table(index="_y", columns="_x", values="ci_high", aggfunc="mean").reindex_like(grid)
    is_rate = metric.endswith("_rate") or metric in ("agent_occupancy", "transfer_service_level")
    with style():
        fig = _figure(7.5, 5.0)
        ax = fig.add_subplot()
        ax.grid(False)
        data = grid.to_numpy(float)
        im = ax.imshow(data, origin="lower", aspect="auto", cmap="viridis",
                       vmin=0, vmax=max(np.nanmax(data), 1e-9) if is_rate else None)
        ax.set_xticks(range(grid.shape[1]), [f"{v:g}" for v in grid.columns])
        ax.set_yticks(range(grid.shape[0]), [f"{v:g}" for v in grid.index])
        ax.set_xlabel(_param_label(x))
        ax.set_ylabel(_param_label(y))
        norm = im.norm
        for (r, c), v in np.ndenumerate(data):
            if np.isnan(v):
                continue
            dark = norm(v) < 0.6
            ax.text(c, r, f"{100 * v:.1f} %" if is_rate else f"{v:.3g}", ha="center", va="center",
                    color="white" if dark else "black", fontsize=9)
            if target is not None and upper.iloc[r, c] <= target:
                ax.add_patch(matplotlib.patches.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False,
                                                          ec=PALETTE[1], lw=2.5))
        cb = fig.colorbar(im, ax=ax)
        cb.set_label(_rate_label(metric) + (" (%)" if is_rate else ""))
        if is_rate:
            cb.ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        who = f"transfers to {key}" if scope == "target" else f"{scope} {key}"
        title = f"{_rate_label(metric).capitalize()}, {who}"
        if held:
            title += f" at {_held_text(held)}"
        if target is not None:
            title += f"\n(outlined: upper 95 % bound at or below {100 * target:g} %)"
        ax.set_title(title)
    return fig


# -- single runs ----------------------------------------------------------------------------------

def _timeouts_by_target(result: Any) -> dict[str, float]:
    """The transfer timeout that applies to transfers to each target (from the requesting service)."""
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


def time_to_join_cdf(result: Any, *, targets: Sequence[str] | None = None, counted_only: bool = True) -> Figure:
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
    timeouts = _timeouts_by_target(result)
    with style():
        fig = _figure()
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
            ax.step(x, y, where="post", color=_colour(i), lw=2,
                    label=f"to {name}: {100 * share:.1f} % of {n} requests join"
                    + (f" ({result.replications} replications)" if result.replications > 1 else ""))
            xmax = max(xmax, x[-1])
        drawn = set()
        for i, name in enumerate(names):
            t_out = timeouts.get(name, timeouts.get("*", math.nan))
            if t_out == t_out and t_out not in drawn:
                drawn.add(t_out)
                ax.axvline(t_out, color=PALETTE[7], ls="--", lw=1.3, label=f"transfer timeout {t_out:g} s")
        ax.set_xlim(0, xmax or 1)
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel("time to join: request to accept (s)")
        ax.set_ylabel("share of all transfer requests joined (%)\n(expired/abandoned never join)")
        ax.set_title("Time to join a transfer, by target group (CDF)")
        ax.legend(loc="lower right", frameon=False)
    return fig


def _counts(result: Any, scope: str, metrics: Sequence[str]) -> pd.DataFrame:
    m = result.metrics
    sel = m[(m["scope"] == scope) & (m["metric"].isin(metrics))]
    return sel.pivot_table(index="key", columns="metric", values="mean", aggfunc="mean").reindex(columns=metrics)


def outcomes_chart(result: Any) -> Figure:
    """How contacts end, stacked, as shares: left, every contact by the entry group of its service
    (completed, abandoned in queue, dissuaded, abandoned during transfer, transfer expired); right,
    every transfer request by its target group (joined, abandoned during transfer, expired)."""
    ends = ["completed", "abandoned_queue", "dissuaded", "abandoned_transfer", "transfer_expired"]
    entry = {s.name: s.entry_group for s in result.scenario.services}
    by_service = _counts(result, "service", ends).fillna(0.0)
    by_service.index = [f"{entry.get(str(k), k)}\n({k})" if len(entry) > 1 else str(entry.get(str(k), k))
                        for k in by_service.index]
    tends = ["transfers_accepted", "abandoned_transfer", "transfer_expired"]
    by_target = _counts(result, "target", tends + ["transfers_requested"]).fillna(0.0)
    by_target = by_target[by_target["transfers_requested"] > 0]
    with style():
        fig = _figure(10.5, 4.6)
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
                label, colour = OUTCOME_COLOURS[col]
                vals = shares[col].to_numpy(float)
                ax.barh(ypos, vals, left=left, color=colour, edgecolor="white", lw=0.5, label=label, height=0.6)
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


def _transfer_targets(sc: Any) -> set[str]:
    return {r.to for g in sc.groups for r in g.transfers if not r.to.startswith("agent:")}


def timeline_chart(result: Any) -> Figure:
    """Over the simulated day (clock hours from ``simulation.start``), mean over replications:
    transfers waiting per target group, agent occupancy per group, and arrivals per hour."""
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
    with style():
        fig = _figure(9.0, 8.0)
        axes = fig.subplots(3, 1, sharex=True)
        targets = _transfer_targets(sc)
        for i, g in enumerate(groups):
            d = mean[mean["group"] == g].sort_values("hour")
            c = _colour(i)
            if g in targets or d["waiting_transfers"].any():
                axes[0].plot(d["hour"], d["waiting_transfers"], color=c, lw=1.8, label=g)
            occ = d["busy_slots"] / d["slots"].replace(0, np.nan)
            axes[1].plot(d["hour"], occ, color=c, lw=1.8, label=g)
            if d["arrivals"].any():
                axes[2].plot(d["hour"], d["arrivals"] * 3600.0 / step, color=c, lw=1.8, label=g)
        axes[0].set_ylabel("transfers waiting\n(contacts)")
        axes[0].set_title("Over the simulated day (mean over replications)")
        axes[1].set_ylabel("agent occupancy\n(% of chat slots busy)")
        axes[1].yaxis.set_major_formatter(PercentFormatter(1.0))
        axes[1].set_ylim(0, 1.05)
        axes[2].set_ylabel("new contacts\n(per hour)")
        axes[2].set_xlabel("time of day (h)")
        for ax in axes:
            ax.set_ylim(bottom=0)
            if warm > 0:
                ax.axvspan(start / 3600.0, (start + warm) / 3600.0, color="0.85", alpha=0.6, lw=0,
                           label="warm-up (not counted)" if ax is axes[0] else None)
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, title="group"
                      if ax is not axes[0] else "target group")
        axes[2].get_legend().set_title("entry group")
    return fig


def statechart_chart() -> Figure:
    """The transfer lifecycle's statechart: the Graphviz drawing when ``dot`` is installed,
    else the Mermaid text with a note saying why."""
    from .spec import DiagramUnavailable, mermaid, write_diagram

    with style():
        with tempfile.TemporaryDirectory() as tmp:
            try:
                png = write_diagram(Path(tmp) / "statechart.png")
            except DiagramUnavailable as err:
                text = mermaid()
                lines = text.count("\n") + 1
                fig = _figure(9.0, max(4.0, 0.17 * lines + 1.0))
                ax = fig.add_subplot()
                ax.axis("off")
                ax.text(0.0, 1.0, text, family="monospace", fontsize=8, va="top", ha="left",
                        transform=ax.transAxes)
                ax.set_title(f"Transfer lifecycle (Mermaid text; image unavailable: {str(err).split(':')[0]}; "
                             "install Graphviz to draw it)", fontsize=10)
                return fig
            import matplotlib.image as mpimg

            img = mpimg.imread(png)
        h, w = img.shape[:2]
        scale = min(12.0 / (w / 100), 9.0 / (h / 100), 1.0)
        fig = _figure(max(4.0, w / 100 * scale), max(3.0, h / 100 * scale + 0.5))
        ax = fig.add_subplot()
        ax.imshow(img)
        ax.axis("off")
        ax.set_title("Transfer lifecycle (statechart)")
    return fig


def save_png(fig: Figure, path: str | os.PathLike[str], dpi: int = 120) -> Path:
    """Write ``fig`` as a PNG (parents created) and return the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with style():
        fig.savefig(p, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return p
