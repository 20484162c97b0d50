"""The arrival profile per service: contacts per hour in each clock interval, averaged over the days.

Why: a scenario's Poisson profile is a step function of the clock; its steps are the log's mean
arrival rate in each interval over the days that cover that interval (:class:`~.legs.Grid`), with
an exact Poisson 95 % interval on each rate so a reader sees how well it is known.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .legs import Grid

__all__ = ["ARRIVAL_COLUMNS", "arrival_rates"]

ARRIVAL_COLUMNS = ("service", "interval", "start", "contacts", "days", "rate_per_hour", "low", "high")


def arrival_rates(contacts: pd.DataFrame, grid: Grid) -> pd.DataFrame:
    """Per service and clock interval: ``contacts`` counted, ``days`` covering it, ``rate_per_hour``
    and its exact Poisson 95 % interval (``low``, ``high``); NaN rates where no day covers it."""
    days = grid.days()
    hours = grid.step / 3600.0
    rows = []
    for service, sub in contacts.groupby("service", sort=True):
        k = (np.floor(sub["arrived"].to_numpy(float) / grid.step).astype(np.int64)) % grid.per_day
        counts = np.bincount(k, minlength=grid.per_day)
        for i in range(grid.per_day):
            n, d = int(counts[i]), int(days[i])
            exposure = d * hours
            low = stats.chi2.ppf(0.025, 2 * n) / 2 if n else 0.0
            high = stats.chi2.ppf(0.975, 2 * n + 2) / 2
            rate = n / exposure if d else np.nan
            rows.append((str(service), i, grid.label(i), n, d, rate, low / exposure if d else np.nan,
                         high / exposure if d else np.nan))
    return pd.DataFrame(rows, columns=list(ARRIVAL_COLUMNS))
