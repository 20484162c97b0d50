"""Failed sweep points in the report: said first, listed with their reasons, and marked "failed"
on the line chart and in the heat map (a grey hatched cell), so a blank is never left unexplained."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.patches
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..charts.frames import hold, number, numeric, param_columns, select
from .answers import setting_words
from .words import FAILED

__all__ = ["failures_headline", "failed_rows", "failed_heatmap", "failed_line"]


def failures_headline(failures: Sequence[Mapping[str, Any]], points: int | None) -> str:
    """"2 of 12 points failed: ..." (the first sentence of a report on a sweep with failed points)."""
    n = len(failures)
    total = f"{n} of {points}" if points else f"{n}"
    return (f"{total} point{'s' if (points or n) != 1 else ''} failed: "
            f"{'they are' if n != 1 else 'it is'} marked \u201c{FAILED}\u201d in the charts and tables, "
            "and the reasons are listed under the charts; the figures below leave "
            f"{'them' if n != 1 else 'it'} out.")


def failed_rows(failures: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """One dict per failed point for the template: ``point``, ``params`` (text), ``error``."""
    out = []
    for f in failures:
        values = f.get("params") or {}
        text = setting_words(values, "at") if values else "-"
        text = text[:1].upper() + text[1:]
        out.append({"point": str(f.get("point", "")), "params": text, "error": str(f.get("error", ""))})
    return out


def _same(a: Any, b: Any) -> bool:
    """Whether a sweep value (as stored in the frame) and a failed point's value are the same setting."""
    x, y = number(a), number(b)
    if x == x and y == y:
        return x == y
    return str(a) == str(b)


def _in_slice(values: Mapping[str, Any], held: Mapping[str, Any]) -> bool:
    return all(k in values and _same(values[k], v) for k, v in held.items())


def _grey_cell(ax: Axes, c: float, r: float) -> None:
    ax.add_patch(matplotlib.patches.Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor="#d9d9d9", edgecolor="#7f7f7f",
                                              hatch="///", lw=0.8, zorder=4))
    ax.text(c, r, FAILED, ha="center", va="center", color="#333333", fontsize=9, fontweight="bold", zorder=5,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "#d9d9d9", "edgecolor": "none"})


def failed_heatmap(sweep: pd.DataFrame, failures: Sequence[Mapping[str, Any]], x: str, y: str, *, metric: str,
                   scope: str, key: str, target: float | None, fixed: Mapping[str, Any] | None) -> Figure:
    """:func:`model.charts.heatmap_chart`, with every failed point of the slice drawn as a grey
    hatched cell reading "failed" (the point has no row in the frame: without this its cell would be
    blank, or its row or column missing)."""
    from .. import charts

    params = param_columns(sweep)
    sel = sweep[(sweep["metric"] == metric) & (sweep["scope"] == scope) & (sweep["key"].astype(str) == str(key))]
    fill = float(sel["mean"].mean()) if len(sel) and sel["mean"].notna().any() else 0.0
    extra = []
    for f in failures:
        values = f.get("params") or {}
        if not all(p in values for p in params):
            continue
        row = {p: values[p] for p in params}
        # a placeholder so the cell exists; it is covered by the grey "failed" cell below
        row.update(scope=scope, key=key, metric=metric, mean=fill, ci_low=math.nan, ci_high=math.nan, n=0)
        extra.append(row)
    frame = sweep
    if extra:
        add = pd.DataFrame(extra)
        for p in params:  # the frame's own column types (text stays text)
            if sweep[p].dtype == object:
                add[p] = add[p].map(lambda v: v if isinstance(v, str) else json.dumps(v, sort_keys=True))
        frame = pd.concat([sweep, add], ignore_index=True)
    fig = charts.heatmap_chart(frame, x, y, metric=metric, scope=scope, key=key, target=target, fixed=fixed)
    if not extra:
        return fig
    shown, held = hold(select(frame, metric, scope, key), params, [x, y], fixed)
    xs = sorted(set(numeric(shown[x]).dropna()))
    ys = sorted(set(numeric(shown[y]).dropna()))
    ax = fig.axes[0]
    marked = 0
    for f in failures:
        values = f.get("params") or {}
        if x not in values or y not in values or not _in_slice(values, held):
            continue
        vx, vy = number(values[x]), number(values[y])
        if vx in xs and vy in ys:
            c, r = xs.index(vx), ys.index(vy)
            for t in list(ax.texts):  # the placeholder's number: not a result
                if tuple(t.get_position()) == (c, r):
                    t.remove()
            _grey_cell(ax, c, r)
            marked += 1
    if marked:
        ax.set_title(ax.get_title() + f"\n(grey, hatched: {marked} point{'s' if marked != 1 else ''} failed)")
    return fig


def failed_line(fig: Figure, sweep: pd.DataFrame, failures: Sequence[Mapping[str, Any]], xpath: str, *,
                metric: str, scope: str, key: str, fixed: Mapping[str, Any] | None) -> Figure:
    """Mark, on the sweep's line chart, the settings of ``xpath`` whose point failed (a grey dotted
    line and the word "failed")."""
    params = param_columns(sweep)
    _, held = hold(select(sweep, metric, scope, key), params, [xpath], fixed)
    ax = fig.axes[0]
    marked = False
    for f in failures:
        values = f.get("params") or {}
        if xpath not in values or not _in_slice(values, held):
            continue
        vx = number(values[xpath])
        if vx != vx:
            continue
        ax.axvline(vx, color="#7f7f7f", ls=(0, (1, 2)), lw=2, zorder=1,
                   label=None if marked else f"{FAILED} (no result)")
        ax.text(vx, 0.5, FAILED, rotation=90, ha="right", va="center", color="#555555", fontsize=9,
                transform=ax.get_xaxis_transform())
        marked = True
    if marked:
        ax.legend(loc="best", frameon=False)
    return fig
