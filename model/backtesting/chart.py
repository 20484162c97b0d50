"""The backtest drawn and written: observed against simulated per interval, with the simulation's
95 % CI and the wider prediction interval as bands (one panel per figure), and a small
self-contained HTML page (the chart embedded, the summary, the notes, the table).

Why a page of its own: ``backtest --out`` writes next to a run without rebuilding its report; the
page is one file a supervisor opens (docs/backtest.md).
"""

from __future__ import annotations

import base64
import html
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from ..charts.style import PALETTE, new_figure, style
from ..results.figures import figure

if TYPE_CHECKING:
    from .compare import Backtest

__all__ = ["backtest_chart", "backtest_html", "value_text", "summary_lines"]


def value_text(metric: str, x: float) -> str:
    """A value as its figure record writes it (``"12.3 %"``, ``"45.2 s"``, ``"12.5"``)."""
    return figure(metric).text(x)


def _every(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds % 3600 == 0 else f"{seconds / 60:g} min"


def _short(metric: str) -> str:
    return figure(metric).label.split(" (")[0]


def summary_lines(bt: Backtest, scope: str | None = None) -> list[str]:
    """One line per figure (and scope/key): whole-day observed and simulated, the overall error,
    the mean absolute error over intervals and the intervals outside the prediction interval."""
    out = []
    s = bt.summary
    if scope is not None:
        s = s[s["scope"] == scope]
    elif s[s["scope"] == "service"]["key"].nunique() == 1:  # one service: its lines repeat the overall ones
        s = s[s["scope"] != "service"]
    for r in s.itertuples(index=False):
        where = "" if r.scope == "overall" else f" [{r.scope} {r.key}]"
        unit = "points" if r.unit == "points" else r.unit
        err = "-" if r.error != r.error else f"{r.error:+.1f} {unit}"
        mae = "-" if r.mae != r.mae else f"{r.mae:.1f} {unit}"
        listed = f": {', '.join(r.outside_intervals)}" if r.outside else ""
        out.append(f"  {_short(r.metric)}{where}: observed {value_text(r.metric, r.observed)}, simulated "
                   f"{value_text(r.metric, r.simulated)}, error {err}; mean abs. error over intervals {mae}; "
                   f"{r.outside} of {r.intervals} intervals outside{listed}")
    return out


def backtest_chart(bt: Backtest, scope: str = "overall", key: str = "all") -> Figure:
    """One panel per compared figure: observed (black dots, red where outside the prediction
    interval), simulated mean (line), its 95 % CI (dark band) and the prediction interval (light band)."""
    t = bt.table[(bt.table["scope"] == scope) & (bt.table["key"] == key)]
    metrics = list(dict.fromkeys(t["metric"]))
    order = bt.order or sorted(set(t["interval"]))
    with style():
        fig = new_figure(9.0, 2.3 * max(1, len(metrics)) + 0.6)
        axes = fig.subplots(max(1, len(metrics)), 1, sharex=True, squeeze=False)[:, 0]
        x = np.arange(len(order))
        for ax, metric in zip(axes, metrics):
            rows = t[t["metric"] == metric].set_index("interval").reindex(order)
            info = figure(metric)
            c = info.colour or PALETTE[0]
            ax.fill_between(x, rows["pi_low"], rows["pi_high"], color=c, alpha=0.15, lw=0,
                            label="prediction interval (95 %)", step=None)
            ax.fill_between(x, rows["ci_low"], rows["ci_high"], color=c, alpha=0.35, lw=0, label="95 % CI (simulated mean)")
            ax.plot(x, rows["simulated"], color=c, lw=2, label="simulated")
            out = rows["outside"].fillna(False).astype(bool).to_numpy()
            ax.plot(x[~out], rows["observed"].to_numpy(float)[~out], "o", color=PALETTE[7], ms=5, label="observed")
            if out.any():
                ax.plot(x[out], rows["observed"].to_numpy(float)[out], "X", color=PALETTE[5], ms=8,
                        label="observed, outside")
            ax.set_ylabel(f"{_short(metric)}\n({info.unit})")
            if metric in ("queue_abandonment_rate", "service_level", "transfer_abandonment_rate"):
                ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            ax.set_ylim(bottom=0)
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize="small")
        every = max(1, math.ceil(len(order) / 12))
        axes[-1].set_xticks(range(0, len(order), every), [order[i] for i in range(0, len(order), every)])
        axes[-1].set_xlabel("interval (start, clock time)")
        where = "all contacts" if scope == "overall" else f"{scope} {key}"
        axes[0].set_title(f"Backtest: observed vs simulated, {where}")
    return fig


def _embedded(png: str | os.PathLike[str] | None, alt: str) -> list[str]:
    if png is None or not Path(png).exists():
        return []
    data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
    return [f"<img alt='{html.escape(alt)}' style='max-width:100%' src='data:image/png;base64,{data}'>"]


def _service_table(bt: Backtest) -> list[str]:
    """Per interval and figure, each service's observed / simulated (outside marked), as HTML rows."""
    from .services import per_service, service_keys

    keys = service_keys(bt)
    if not keys:
        return []
    esc = html.escape
    parts = ["<h2>Per interval and service (observed / simulated)</h2><table><tr><th>interval</th><th>figure</th>"
             + "".join(f"<th>{esc(k)}</th>" for k in keys) + "</tr>"]
    for metric in dict.fromkeys(bt.table.loc[bt.table["scope"] == "service", "metric"]):
        for interval, r in per_service(bt, metric).iterrows():
            cells = []
            for k in keys:
                o, s, out = (r.get((k, c)) for c in ("observed", "simulated", "outside"))
                mark = " class='out'" if isinstance(out, (bool, np.bool_)) and out else ""
                cells.append(f"<td{mark}>{value_text(metric, o)} / {value_text(metric, s)}</td>")
            parts.append(f"<tr><td>{esc(str(interval))}</td><td>{esc(_short(metric))}</td>{''.join(cells)}</tr>")
    parts.append("</table>")
    return parts


def backtest_html(bt: Backtest, png: str | os.PathLike[str] | None, title: str = "Backtest",
                  services_png: str | os.PathLike[str] | None = None) -> str:
    """A self-contained page: the chart (embedded), the summary, the notes and the table; with
    several services, their chart (``services_png``) and a table of each service per interval."""
    esc = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
             "th{background:#eee}.out{color:#D55E00;font-weight:bold}</style></head><body>",
             f"<h1>{esc(title)}: observed vs simulated</h1>",
             f"<p>Every {_every(bt.interval)} of the clock over {bt.days} day(s) of the log. An interval is "
             "<em>outside</em> when the observed value falls outside the prediction interval (the simulation's "
             "replication spread scaled to the log's days; docs/backtest.md).</p>"]
    parts += _embedded(png, "observed vs simulated per interval")
    parts += _embedded(services_png, "observed vs simulated per interval and service")
    parts.append("<h2>Summary</h2><ul>")
    parts += [f"<li>{esc(line.strip())}</li>" for line in summary_lines(bt)]
    parts.append("</ul>")
    if bt.notes:
        parts.append("<h2>Not compared</h2><ul>" + "".join(f"<li>{esc(n)}</li>" for n in bt.notes) + "</ul>")
    parts.append("<h2>Per interval (all contacts)</h2><table><tr><th>interval</th><th>figure</th><th>observed</th>"
                 "<th>simulated (95 % CI)</th><th>prediction interval</th><th>error</th><th></th></tr>")
    t = bt.table[bt.table["scope"] == "overall"]
    for r in t.itertuples(index=False):
        mark = "<td class='out'>outside</td>" if r.outside else "<td></td>"
        err = "-" if r.error != r.error else f"{r.error:+.1f} {r.unit}"
        parts.append(f"<tr><td>{esc(r.interval)}</td><td>{esc(_short(r.metric))}</td><td>{value_text(r.metric, r.observed)}</td>"
                     f"<td>{value_text(r.metric, r.simulated)} ({value_text(r.metric, r.ci_low)} - "
                     f"{value_text(r.metric, r.ci_high)})</td><td>{value_text(r.metric, r.pi_low)} - "
                     f"{value_text(r.metric, r.pi_high)}</td><td>{esc(err)}</td>{mark}</tr>")
    parts.append("</table>")
    parts += _service_table(bt)
    parts.append("<p>Every scope (services, transfer targets) is in backtest.csv.</p></body></html>")
    return "\n".join(parts)
