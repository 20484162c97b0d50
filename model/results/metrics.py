"""The figures of LIFECYCLE.md: what is counted, how rates are formed, how replications combine.

The engine only counts (:class:`Tally`), as the run goes, so metrics need no event log
(``keep_events=False`` keeps memory flat); every rate and time figure is defined here, once.
Tests check the counts against the event log when it is kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import stats

from ..lifecycle import FINAL_STATES

COUNTS: tuple[str, ...] = (
    "arrivals",
    *FINAL_STATES,  # completed, abandoned_queue, dissuaded, abandoned_transfer, transfer_expired
    "transfers_requested",
    "transfers_accepted",
    "transfers_returned",
    "offers",
    "rejects",
    "withdrawals",
    "joined_within_service_level",
    "assigned",
    "assigned_within_service_level",
    "open",
    "transfers_open",
)
"""What the engine counts, per service and per transfer target (contacts arrived after warm-up)."""

QUEUE_ENDS: tuple[str, ...] = ("abandoned_queue", "dissuaded")
"""The outcomes ``queue_abandonment_rate`` counts: the contacts lost before a first agent."""

SERVICE_LEVEL_SECONDS = 20.0
"""The ``x`` of ``transfer_service_level(x)``: share of transfers joined within x seconds."""

TTJ_BIN = 0.01
"""Resolution (s) of the time-to-join histogram used for its quantiles; the mean is exact."""

RATE_METRICS: tuple[str, ...] = (
    "transfer_abandonment_rate",
    "transfer_success_rate",
    "queue_abandonment_rate",
    "abandonment_rate",
    "service_level",
    "wait_mean",
    "transfer_service_level",
    "rejects_per_transfer",
    "offers_per_transfer",
    "time_to_join_mean",
    "time_to_join_p50",
    "time_to_join_p90",
    "time_to_join_p95",
)

METRICS: tuple[str, ...] = (*COUNTS[: COUNTS.index("transfers_accepted") + 1], *RATE_METRICS)
"""The metric names of results, in LIFECYCLE.md's order (``agent_occupancy`` is per group)."""

PER_CONTACT: frozenset[str] = frozenset(
    {"arrivals", "completed", "abandoned_queue", "dissuaded", "queue_abandonment_rate", "abandonment_rate",
     "service_level", "wait_mean"}
)
TARGET_METRICS: tuple[str, ...] = tuple(m for m in METRICS if m not in PER_CONTACT)
"""The metrics that mean something per transfer target (arrivals do not)."""


class Tally:
    """Counts for one service or one transfer target in one replication; memory is bounded."""

    __slots__ = ("counts", "ttj_sum", "ttj_hist", "wait_sum", "service_level_threshold")

    def __init__(self, max_time_to_join: float = 3600.0, service_level_threshold: float = SERVICE_LEVEL_SECONDS) -> None:
        self.counts = dict.fromkeys(COUNTS, 0)
        self.ttj_sum = 0.0
        self.ttj_hist = np.zeros(int(math.ceil(max_time_to_join / TTJ_BIN)) + 2, dtype=np.int64)
        self.wait_sum = 0.0
        self.service_level_threshold = service_level_threshold

    def assigned(self, wait: float) -> None:
        """Record one contact assigned to its first agent after ``wait`` seconds in the queue."""
        c = self.counts
        c["assigned"] += 1
        if wait <= self.service_level_threshold:
            c["assigned_within_service_level"] += 1
        self.wait_sum += wait

    def joined(self, time_to_join: float) -> None:
        """Record one accepted transfer and its time to join."""
        c = self.counts
        c["transfers_accepted"] += 1
        if time_to_join <= SERVICE_LEVEL_SECONDS:
            c["joined_within_service_level"] += 1
        self.ttj_sum += time_to_join
        i = int(time_to_join / TTJ_BIN)
        hist = self.ttj_hist
        hist[i if i < len(hist) else -1] += 1

    def merge(self, other: Tally) -> None:
        """Add ``other``'s counts into this one (overall = sum of services)."""
        for k, v in other.counts.items():
            self.counts[k] += v
        self.ttj_sum += other.ttj_sum
        self.wait_sum += other.wait_sum
        n = max(len(self.ttj_hist), len(other.ttj_hist))
        if len(self.ttj_hist) < n:
            self.ttj_hist = np.pad(self.ttj_hist, (0, n - len(self.ttj_hist)))
        self.ttj_hist[: len(other.ttj_hist)] += other.ttj_hist

    def quantile(self, q: float) -> float:
        """Time-to-join quantile from the histogram (bin midpoint), NaN without joins."""
        total = int(self.ttj_hist.sum())
        if total == 0:
            return math.nan
        i = int(np.searchsorted(np.cumsum(self.ttj_hist), q * total, side="left"))
        return (i + 0.5) * TTJ_BIN

    def figures(self) -> dict[str, float]:
        """The LIFECYCLE.md figures of this tally (rates NaN where the denominator is 0)."""
        c = self.counts

        def ratio(num: float, den: float) -> float:
            return num / den if den else math.nan

        # Contacts (and transfers) still open at the horizon have no outcome yet: rates are over
        # those that ended, so a short horizon does not read as abandonment.
        req = c["transfers_requested"] - c["transfers_open"]
        ended = c["arrivals"] - c["open"]
        out: dict[str, float] = {k: float(c[k]) for k in METRICS if k in c}
        out["transfer_abandonment_rate"] = ratio(c["transfer_expired"] + c["abandoned_transfer"], req)
        out["transfer_success_rate"] = ratio(c["transfers_accepted"], req)
        out["queue_abandonment_rate"] = ratio(sum(c[k] for k in QUEUE_ENDS), ended)
        out["abandonment_rate"] = ratio(ended - c["completed"], ended)
        out["service_level"] = ratio(c["assigned_within_service_level"], c["arrivals"])
        out["wait_mean"] = ratio(self.wait_sum, c["assigned"])
        out["transfer_service_level"] = ratio(c["joined_within_service_level"], req)
        out["rejects_per_transfer"] = ratio(c["rejects"], req)
        out["offers_per_transfer"] = ratio(c["offers"], req)
        out["time_to_join_mean"] = ratio(self.ttj_sum, c["transfers_accepted"])
        out["time_to_join_p50"] = self.quantile(0.50)
        out["time_to_join_p90"] = self.quantile(0.90)
        out["time_to_join_p95"] = self.quantile(0.95)
        return out


def confidence_interval(values: Iterable[float], level: float = 0.95) -> tuple[float, float, float, int]:
    """Mean and Student-t interval over replications, ignoring NaN; ``(mean, lo, hi, n)``.

    With one replication the interval is the point itself (no spread can be estimated).
    """
    x = np.asarray([v for v in values if not (isinstance(v, float) and math.isnan(v))], dtype=float)
    n = len(x)
    if n == 0:
        return (math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return (mean, mean, mean, 1)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return (mean, mean - half, mean + half, n)


PROPORTIONS: frozenset[str] = frozenset(
    {
        "transfer_abandonment_rate",
        "transfer_success_rate",
        "queue_abandonment_rate",
        "abandonment_rate",
        "transfer_service_level",
        "service_level",
        "agent_occupancy",
    }
)


def summarise(per_replication: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Tidy ``scope, key, metric, mean, ci_low, ci_high, n`` from per-replication values.

    Every figure is non-negative and proportions lie in [0, 1]: the t interval is clipped to that
    range (a rate near 0 would otherwise show a negative lower bound).
    """
    rows = []
    for (scope, key, metric), grp in per_replication.groupby(["scope", "key", "metric"], sort=False):
        mean, lo, hi, n = confidence_interval(grp["value"].tolist(), level)
        if n:
            lo = max(lo, 0.0)
            if metric in PROPORTIONS:
                hi = min(hi, 1.0)
        rows.append((scope, key, metric, mean, lo, hi, n))
    return pd.DataFrame(rows, columns=["scope", "key", "metric", "mean", "ci_low", "ci_high", "n"])
