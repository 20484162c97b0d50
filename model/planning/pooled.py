"""An interval's rate over all simulated days pooled, with a ratio-estimator confidence interval.

Why not the mean of the daily rates (what :attr:`SimulationResult.intervals` reports): in an hour
with one or two transfers a day, each day's rate is 0 % or 50 % or 100 %, their mean weighs a day
with one transfer like a day with twenty, and days without a transfer drop out. A supervisor's
"5 % of transfers abandoned at 23:00" means lost over requested across many days: ``R = Σy / Σx``
over the replications. Its interval is the delta-method one for a ratio of means (the classical
ratio estimator of simulation output analysis): with ``d_i = y_i - R x_i`` over the ``n``
replications, ``se(R) = sqrt(Σ d_i² / (n (n - 1))) / x̄`` and ``R ± t(n-1) se``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["PER_INTERVAL_PARTS", "pooled_rate", "ratio_interval", "wide_intervals"]

PER_INTERVAL_PARTS: dict[str, tuple[tuple[str, ...], str]] = {
    # rate: (counts adding up to its numerator, the count its denominator is read from)
    "transfer_abandonment_rate": (("transfer_expired", "abandoned_transfer"), "transfers_requested"),
    "queue_abandonment_rate": (("abandoned_queue", "dissuaded"), "arrivals"),
    "service_level": ((), "arrivals"),  # numerator: the rate times arrivals (its own denominator)
}
"""How each plannable rate is pooled from the per-interval counts of one replication."""


def ratio_interval(y: np.ndarray, x: np.ndarray, level: float) -> tuple[float, float, float]:
    """``(R, lo, hi)`` of ``R = Σy / Σx`` over replications, clipped to [0, 1]; NaN when ``Σx = 0``.
    One replication (or ``level`` 0) gives ``lo = hi = R``."""
    n, sx = len(x), float(np.sum(x))
    if n == 0 or sx <= 0:
        return (math.nan,) * 3  # type: ignore[return-value]
    r = float(np.sum(y)) / sx
    if n < 2 or level <= 0:
        return r, r, r
    d = y - r * x
    se = math.sqrt(float(np.sum(d * d)) / (n * (n - 1))) / (sx / n)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * se
    return r, max(0.0, r - half), min(1.0, r + half)


def wide_intervals(per_replication_intervals: pd.DataFrame) -> pd.DataFrame:
    """Per-replication interval rows as one row per ``(interval, scope, key, replication)`` and one
    column per metric (what :func:`pooled_rate` reads)."""
    return per_replication_intervals.pivot_table(index=["interval", "scope", "key", "replication"],
                                                 columns="metric", values="value", aggfunc="first")


def pooled_rate(wide: pd.DataFrame, label: str, scope: tuple[str, str], metric: str,
                level: float) -> tuple[float, float, float] | None:
    """``metric`` in interval ``label`` at ``scope`` pooled over the replications, ``(R, lo, hi)``;
    ``None`` when nothing was counted there (no such contacts: the target does not bind)."""
    try:
        rows = wide.loc[(label, scope[0], scope[1])]
    except KeyError:
        return None
    parts, den_name = PER_INTERVAL_PARTS[metric]
    if den_name not in rows or metric not in rows:
        return None
    rate = rows[metric].to_numpy(float)
    base = rows[den_name].fillna(0.0).to_numpy(float)
    if parts:
        y = sum(rows[p].fillna(0.0).to_numpy(float) for p in parts)
        # the denominator excludes what was still open at the horizon: exact as y / rate where y > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where((y > 0) & (rate > 0), y / rate, base)
    else:
        x = base
        y = np.where(np.isnan(rate), 0.0, rate) * x
    out = ratio_interval(np.asarray(y, float), np.asarray(x, float), level)
    return None if out[0] != out[0] else out
