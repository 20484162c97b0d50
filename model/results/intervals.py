"""Figures per interval of the clock, as tidy rows: one replication's, and their summary over
replications (the frame ``SimulationResult.intervals``).

Why apart from :mod:`.result`: the per-interval rows have their own shape (an ``interval`` column)
and their own source (:class:`~model.sim.intervals.IntervalOutput`); the figures are still formed
by :class:`~.metrics.Tally` and summarised by :func:`~.metrics.summarise`, as the whole run's are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from .metrics import TARGET_METRICS, Tally, summarise

if TYPE_CHECKING:
    from ..sim.intervals import IntervalOutput

__all__ = ["IntervalRow", "INTERVAL_COLUMNS", "per_interval_rows", "summarise_intervals"]


IntervalRow = tuple[int, str, str, str, str, float]
"""One figure of one replication in one interval: ``(replication, interval, scope, key, metric, value)``."""

INTERVAL_COLUMNS = ["interval", "scope", "key", "metric", "mean", "ci_low", "ci_high", "n"]
"""The columns of :attr:`SimulationResult.intervals`."""


def per_interval_rows(replication: int, out: IntervalOutput, services: Sequence[str], targets: Sequence[str],
                      groups: Sequence[str]) -> list[IntervalRow]:
    """Tidy per-interval rows of one replication: every service, the overall, every target and
    every group, in every interval the run covered (clock order)."""
    from ..sim.intervals import IntervalOutput, interval_label

    rows: list[IntervalRow] = []
    for k in out.covered:
        label = interval_label(k, out.step)
        contact, transfer = Tally(0.0), Tally(0.0)
        for name in services:
            for metric, value in out.figures("service", name, k).items():
                rows.append((replication, label, "service", name, metric, value))
            contact.merge(out.contact.get((name, k), Tally(0.0)))
            transfer.merge(out.transfer.get((name, k), Tally(0.0)))
        overall = IntervalOutput(out.step, [k], {("all", k): contact}, {("all", k): transfer}, {}, {}, {})
        for metric, value in overall.figures("service", "all", k).items():
            rows.append((replication, label, "overall", "all", metric, value))
        for name in targets:
            figures = out.figures("target", name, k)
            for metric in TARGET_METRICS:
                rows.append((replication, label, "target", name, metric, figures[metric]))
        for g in groups:
            rows.append((replication, label, "group", g, "staffed_agents", out.staffed.get((g, k), math.nan)))
            rows.append((replication, label, "group", g, "agent_occupancy", out.occupancy.get((g, k), math.nan)))
    return rows


def summarise_intervals(per_replication: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Tidy :data:`INTERVAL_COLUMNS` from per-replication interval rows (as :func:`summarise`,
    per interval)."""
    if per_replication.empty:
        return pd.DataFrame(columns=INTERVAL_COLUMNS)
    parts = []
    for interval, grp in per_replication.groupby("interval", sort=True):
        part = summarise(grp.drop(columns="interval"), level)
        part.insert(0, "interval", interval)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)[INTERVAL_COLUMNS]
