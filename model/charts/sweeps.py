"""Charts of a sweep frame (see :mod:`.frames`): a figure against one varied setting, with its 95 %
confidence band, and two settings at once as a heat map.

Labels, units, number formats and colours of the figures drawn come from their records in
:mod:`model.results.figures`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.patches
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from ..results.figures import FigureInfo, figure
from .frames import default_key, held_text, hold, number, numeric, param_columns, param_label, recommended_setting, select
from .style import MARK_COLOUR, PALETTE, TARGET_COLOUR, colour, new_figure, style

__all__ = ["sweep_chart", "heatmap_chart"]


def _short(info: FigureInfo) -> str:
    """The label without its parenthesis: ``"transfer abandonment"``."""
    return info.label.split(" (")[0]


def _who(scope: str, key: str) -> str:
    if scope == "target":
        return f"transfers to {key}"
    return "all contacts" if scope == "overall" else f"{scope} {key}"


def _target_text(info: FigureInfo, target: float) -> str:
    """``"5 %"`` for a proportion (as typed: no rounding to one decimal), else the figure's format."""
    return f"{100 * target:g} %" if info.is_proportion else info.text(target)


def _setting_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def _line_colours(infos: list[FigureInfo]) -> list[str]:
    """Each figure's own colour; the palette's (blue, then green) when it has none or two share one."""
    own = [i.colour for i in infos]
    if None in own or len(set(own)) < len(own):
        return [colour(0 if n == 0 else 2) for n in range(len(infos))]
    return own  # type: ignore[return-value]


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
    fixed: Mapping[str, Any] | None = None,
) -> Figure:
    """Transfer abandonment (and success) against the swept parameter, with 95 % CI bands.

    Args:
        frame: a sweep frame (see :mod:`.frames`).
        param: the varied path on the x axis (default: the first).
        fixed: values at which the other varied paths are held (default: their first value; the
            title says which).
        metric, also: the figures drawn (``also=None`` draws one); any metric of the frame.
        scope, key: whose figures (default: the transfer target with the most transfers).
        target: the target value of ``metric``: a horizontal dashed line.
        recommended: the setting to mark; by default, when ``target`` is given, the smallest value
            that meets it with 95 % confidence (:func:`~.frames.recommended_setting`).
    """
    params = param_columns(frame)
    if not params:
        raise ValueError("the sweep frame has no varied parameter column")
    param = param or params[0]
    key = key if key is not None else default_key(frame, scope)
    names = [metric] + ([also] if also else [])
    for name in names:  # a metric the frame lacks is a ValueError, like a missing scope or key
        select(frame, name, scope, key)
    infos = [figure(m) for m in names]
    if recommended is None and target is not None:
        recommended = recommended_setting(frame, param, target=target, metric=metric, scope=scope, key=key,
                                          fixed=fixed)
    shares = all(i.is_proportion for i in infos)
    with style():
        fig = new_figure()
        ax = fig.add_subplot()
        held: dict[str, Any] = {}
        for info, c in zip(infos, _line_colours(infos)):
            sel, held = hold(select(frame, info.name, scope, key), params, [param], fixed)
            sel = sel.assign(_x=numeric(sel[param])).sort_values("_x")
            x = sel["_x"].to_numpy(float)
            top = 1 if info.is_proportion else None
            ax.fill_between(x, sel["ci_low"].clip(0, top), sel["ci_high"].clip(0, top), color=c, alpha=0.22,
                            linewidth=0, label=f"95 % range ({_short(info)})")
            ax.plot(x, sel["mean"], marker="o", color=c, lw=2, label=info.label)
        if target is not None:
            ax.axhline(target, color=TARGET_COLOUR, ls="--", lw=1.5, label=f"target {_target_text(infos[0], target)}")
        if recommended is not None:
            ax.axvline(number(recommended), color=MARK_COLOUR, ls=":", lw=1.5,
                       label=f"recommended: {_setting_text(recommended)}")
        ax.set_xlabel(param_label(param))
        if len({i.axis_label for i in infos}) == 1:
            ax.set_ylabel(infos[0].axis_label)
        else:
            ax.set_ylabel("share (%)" if shares else " / ".join(i.axis_label for i in infos))
        if shares:
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylim(bottom=0)
        what = "Transfer outcome" if shares and infos[0].of == "transfer requests" else _short(infos[0]).capitalize()
        title = f"{what} against {param_label(param).split(' (')[0]} ({_who(scope, key)})"
        if held:
            title += f"\nat {held_text(held)}"
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
    fixed: Mapping[str, Any] | None = None,
) -> Figure:
    """A two-parameter sweep as a heat map (e.g. timeout x staff), each cell labelled with its mean;
    with ``target``, cells that meet it with 95 % confidence are outlined."""
    params = param_columns(frame)
    if len(params) < 2 and (x is None or y is None):
        raise ValueError(f"a heat map needs two varied parameters, the frame has {params}")
    x = x or params[0]
    y = y or [p for p in params if p != x][0]
    key = key if key is not None else default_key(frame, scope)
    sel, held = hold(select(frame, metric, scope, key), params, [x, y], fixed)
    info = figure(metric)
    sel = sel.copy()
    sel["_x"] = numeric(sel[x])
    sel["_y"] = numeric(sel[y])
    grid = sel.pivot_table(index="_y", columns="_x", values="mean", aggfunc="mean").sort_index()
    bound = "ci_low" if info.better == "higher" else "ci_high"
    edge = sel.pivot_table(index="_y", columns="_x", values=bound, aggfunc="mean").reindex_like(grid)
    with style():
        fig = new_figure(7.5, 5.0)
        ax = fig.add_subplot()
        ax.grid(False)
        data = grid.to_numpy(float)
        im = ax.imshow(data, origin="lower", aspect="auto", cmap="viridis",
                       vmin=0, vmax=max(np.nanmax(data), 1e-9) if info.is_proportion else None)
        ax.set_xticks(range(grid.shape[1]), [f"{v:g}" for v in grid.columns])
        ax.set_yticks(range(grid.shape[0]), [f"{v:g}" for v in grid.index])
        ax.set_xlabel(param_label(x))
        ax.set_ylabel(param_label(y))
        norm = im.norm
        for (r, c), v in np.ndenumerate(data):
            if np.isnan(v):
                continue
            dark = norm(v) < 0.6
            ax.text(c, r, info.text(v), ha="center", va="center", color="white" if dark else "black", fontsize=9)
            b = edge.iloc[r, c]
            if target is not None and (b >= target if info.better == "higher" else b <= target):
                ax.add_patch(matplotlib.patches.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False,
                                                          ec=PALETTE[1], lw=2.5))
        cb = fig.colorbar(im, ax=ax)
        cb.set_label(f"{info.label} (%)" if info.is_proportion else info.axis_label)
        if info.is_proportion:
            cb.ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        title = f"{info.label.capitalize()}, {_who(scope, key)}"
        if held:
            title += f" at {held_text(held)}"
        if target is not None:
            bound_words = "lower 95 % bound at or above" if info.better == "higher" else "upper 95 % bound at or below"
            title += f"\n(outlined: {bound_words} {_target_text(info, target)})"
        ax.set_title(title)
    return fig
