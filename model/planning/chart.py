"""The plan's picture: per planned group, the agents per interval, and each target's figure per
interval with its confidence interval against the target line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from ..charts.style import MARK_COLOUR, TARGET_COLOUR, colour, new_figure, style
from .plan import figure_column

if TYPE_CHECKING:
    from .plan import Plan

__all__ = ["plan_chart"]


def plan_chart(plan: Plan) -> Figure:
    """Two panels per planned group, interval by interval: the recommended agents (bars, the planned
    intervals solid) with agents on shift including named agents; and each target's figure (mean
    with its interval) against its target."""
    groups = plan.groups
    with style():
        fig = new_figure(9.0, 3.6 * len(groups) + 0.4)
        axes = fig.subplots(2 * len(groups), 1, sharex=True, squeeze=False)[:, 0]
        for gi, g in enumerate(groups):
            t = plan.table[plan.table.group == g].reset_index(drop=True)
            x = np.arange(len(t))
            ax = axes[2 * gi]
            alpha = [1.0 if p else 0.35 for p in t["planned"]]
            for xi, a, n in zip(x, alpha, t["agents"]):
                ax.bar(xi, n, color=colour(0), alpha=a, width=0.8)
            ax.step(x, t["staffed_agents"], where="mid", color=MARK_COLOUR, lw=1.2,
                    label="agents on shift, named agents included")
            ax.bar([], [], color=colour(0), label="planned agents (pale: not planned)")
            ax.set_ylabel("agents")
            ax.set_ylim(0, 1.45 * max(1.0, float(t["agents"].max()), float(t["staffed_agents"].max())))
            ax.set_title(f"{g}: agents per interval")
            ax.legend(loc="upper left", frameon=False)
            ax2 = axes[2 * gi + 1]
            for ti, tg in enumerate(plan.targets):
                if g not in tg.groups:
                    continue
                col = figure_column(tg)
                m = 100 * t[col].to_numpy(float)
                lo, hi = 100 * t[f"{col} ci_low"].to_numpy(float), 100 * t[f"{col} ci_high"].to_numpy(float)
                ax2.errorbar(x, m, yerr=[np.clip(m - lo, 0, None), np.clip(hi - m, 0, None)], fmt="o",
                             color=colour(ti + 1), capsize=3, label=f"{tg.metric.replace('_', ' ')} ({tg.scope})")
                ax2.axhline(100 * tg.target.value, color=TARGET_COLOUR, ls="--", lw=1.2,
                            label=f"target {tg.target.op.replace('<=', '≤').replace('>=', '≥')} "
                                  f"{100 * tg.target.value:g} %")
            top = max([100 * tg.target.value for tg in plan.targets if g in tg.groups] or [1.0])
            highs = [100 * float(np.nanmax(t[f"{figure_column(tg)} ci_high"].to_numpy(float)))
                     for tg in plan.targets if g in tg.groups and t[figure_column(tg)].notna().any()]
            ax2.set_ylabel("%")
            ax2.set_ylim(0, 1.6 * max([top, *highs]))
            ax2.set_title(f"{g}: figures per interval (bars: {100 * plan.confidence:g} % interval)"
                          if plan.confidence else f"{g}: figures per interval (mean)")
            ax2.legend(loc="upper left", frameon=False, fontsize=8.5)
        labels = list(plan.table[plan.table.group == groups[0]]["interval"])
        axes[-1].set_xticks(np.arange(len(labels)), labels, rotation=60)
        axes[-1].set_xlabel("interval starting at")
    return fig
