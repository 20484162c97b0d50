"""The backtest per service (contact type): observed against simulated, interval by interval, for each
service the log and the run both have, when there are several.

Why: contact types that share agents do not share their fate (issue 18). A scenario can match the
day's overall abandonment within a point while one type is hours off; the per-service rows of
:attr:`Backtest.table` (``scope == "service"``) hold the comparison, and this module sets the types
side by side: a frame per figure (:func:`per_service`), the CLI's lines (:func:`service_lines`) and a
chart with one panel per figure and a colour per service (:func:`services_chart`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from ..charts.style import PALETTE, colour, new_figure, style
from ..results.figures import figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .compare import Backtest

__all__ = ["service_keys", "per_service", "service_lines", "services_chart"]

_MARK = "*"


def service_keys(bt: Backtest) -> list[str]:
    """The services compared on their own (in the log and in the run), sorted; ``[]`` with fewer
    than two (one service's rows repeat the overall ones)."""
    t = bt.table
    keys = sorted(set(map(str, t.loc[t["scope"] == "service", "key"])))
    return keys if len(keys) > 1 else []


def per_service(bt: Backtest, metric: str) -> pd.DataFrame:
    """One figure per interval (rows, in run order) and service: columns ``(service, observed)``,
    ``(service, simulated)``, ``(service, outside)``; empty when fewer than two services are compared.
    ``KeyError`` naming the compared figures for a figure the backtest does not have."""
    t = bt.table
    if metric not in set(t["metric"]):
        raise KeyError(f"no figure {metric!r} in this backtest; compared: {', '.join(dict.fromkeys(t['metric']))}")
    keys = service_keys(bt)
    if not keys:
        return pd.DataFrame()
    sel = t[(t["scope"] == "service") & (t["metric"] == metric)]
    wide = sel.pivot(index="interval", columns="key", values=["observed", "simulated", "outside"])
    wide = wide.swaplevel(axis=1).sort_index(axis=1, level=0, sort_remaining=False)
    wide = wide[[(k, c) for k in keys for c in ("observed", "simulated", "outside") if (k, c) in wide.columns]]
    order = [i for i in bt.order if i in wide.index] or sorted(wide.index)
    return wide.reindex(order)


def service_lines(bt: Backtest) -> list[str]:
    """What ``backtest`` prints per service: per figure, a line per interval with ``observed /
    simulated`` of each service and ``*`` where the observed value is outside the prediction
    interval; nothing with fewer than two services."""
    keys = service_keys(bt)
    if not keys:
        return []
    width = max(18, *(len(k) + 2 for k in keys))
    lines = [f"per service (observed / simulated; {_MARK} = outside the prediction interval)"]
    for metric in dict.fromkeys(bt.table.loc[bt.table["scope"] == "service", "metric"]):
        frame = per_service(bt, metric)
        info = figure(metric)
        lines.append(f"{info.label.split(' (')[0]}")
        lines.append(f"  {'interval':<9}" + "".join(f"{k:>{width}}" for k in keys))
        for interval, r in frame.iterrows():
            cells = []
            for k in keys:
                o, s, out = r.get((k, "observed")), r.get((k, "simulated")), r.get((k, "outside"))
                text = "-" if _missing(o) and _missing(s) else f"{info.text(o)} / {info.text(s)}"
                flag = not _missing(out) and bool(out)
                cells.append(f"{text}{_MARK if flag else ' '}")
            lines.append(f"  {interval:<9}" + "".join(f"{c:>{width}}" for c in cells))
    return lines


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def services_chart(bt: Backtest) -> Figure:
    """One panel per compared figure: each service's simulated mean (line, with the prediction
    interval as a light band) and its observed values (dots; a cross where outside). ``ValueError``
    with fewer than two services compared."""
    keys = service_keys(bt)
    if not keys:
        raise ValueError("fewer than two services compared: nothing to set side by side")
    metrics = list(dict.fromkeys(bt.table.loc[bt.table["scope"] == "service", "metric"]))
    order = bt.order or sorted(set(bt.table["interval"]))
    x = np.arange(len(order))
    with style():
        fig = new_figure(9.0, 2.3 * len(metrics) + 0.6)
        axes = fig.subplots(len(metrics), 1, sharex=True, squeeze=False)[:, 0]
        for ax, metric in zip(axes, metrics):
            t = bt.table[(bt.table["scope"] == "service") & (bt.table["metric"] == metric)]
            info = figure(metric)
            for i, k in enumerate(keys):
                rows = t[t["key"] == k].set_index("interval").reindex(order)
                c = colour(i)
                ax.fill_between(x, rows["pi_low"].to_numpy(float), rows["pi_high"].to_numpy(float), color=c,
                                alpha=0.12, lw=0)
                ax.plot(x, rows["simulated"].to_numpy(float), color=c, lw=2, label=f"{k}: simulated")
                out = rows["outside"].fillna(False).astype(bool).to_numpy()
                obs = rows["observed"].to_numpy(float)
                ax.plot(x[~out], obs[~out], "o", color=c, ms=4, label=f"{k}: observed")
                if out.any():
                    ax.plot(x[out], obs[out], "X", color=PALETTE[5], ms=7, mec=c)
            ax.set_ylabel(f"{info.label.split(' (')[0]}\n({info.unit})")
            if info.is_proportion:
                ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            ax.set_ylim(bottom=0)
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize="small")
        every = max(1, math.ceil(len(order) / 12))
        axes[-1].set_xticks(range(0, len(order), every), [order[i] for i in range(0, len(order), every)])
        axes[-1].set_xlabel("interval (start, clock time)")
        axes[0].set_title("Backtest per service: observed (dots; a cross when outside) against simulated "
                          "(line, prediction interval shaded)")
    return fig
