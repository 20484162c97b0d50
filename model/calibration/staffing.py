"""Staffing per group and clock interval, estimated from the agents' activity alone.

The estimator (docs/calibrate.md): an agent is on shift while it holds a chat, and across an idle
gap of at most :data:`IDLE_GAP` seconds between two of its chats (an agent waiting for the next
chat is still signed in; a longer gap is taken as a break or the end of a shift). For each agent
of a group its chats (its legs) are merged into such presence spans; the staffing of an interval
is the present agent-seconds in it over the interval's length, averaged over the days covering
it. Legs whose agent the log does not name (a transfer joined by "someone in billing") count as
chat-seconds / the group's ``max_concurrent``. The written profile rounds that to the nearest
whole agent, at least 1 in an interval with any activity.

Why this estimator: it never looks at waits or abandonment (the figures a backtest compares), and
its bias has known directions: it misses an agent's idle time before its first chat and after its
last chat of a shift, and shifts where it took no chat at all (low, mostly at quiet times, when
staffing does not bind); it counts a break shorter than the gap as presence and a chat held past
the end of a shift (high). Two figures are kept for comparison, not written: ``busy_agents`` (the
gap 0: agents holding at least one chat; low by all idle time) and ``seen_agents`` (distinct
agents with a chat in the interval; high: a minute of chat counts a whole interval).

``max_concurrent`` per group is the most chats one agent of the group held at once in the log
(1 when no agent is named); it cannot see chats an agent took through transfers it is not named in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .legs import Grid

__all__ = ["IDLE_GAP", "STAFFING_COLUMNS", "max_concurrent", "staffing"]

IDLE_GAP = 900.0
"""Seconds of idle time between two chats of an agent still counted as on shift (15 minutes)."""

STAFFING_COLUMNS = ("group", "interval", "start", "days", "present_agents", "busy_agents", "unnamed_agents", "seen_agents", "written")


def _spans(legs: pd.DataFrame, gap: float) -> pd.DataFrame:
    """Each (group, agent)'s legs merged into disjoint spans: chats overlapping or apart by at most ``gap``."""
    d = legs.sort_values(["group", "agent", "start"], kind="stable")[["group", "agent", "start", "end"]]
    if d.empty:
        return d
    key = d["group"].astype(str) + "\x00" + d["agent"].astype(str)
    reach = d.groupby(key, sort=False)["end"].cummax()
    prev = reach.groupby(key, sort=False).shift(1)
    block = (prev.isna() | (d["start"] > prev + gap)).cumsum()
    return d.groupby(block).agg(group=("group", "first"), agent=("agent", "first"), start=("start", "min"),
                                end=("end", "max"))


def max_concurrent(legs: pd.DataFrame) -> dict[str, int]:
    """Per group, the most chats one named agent held at once (ends before starts at a tie)."""
    d = legs.dropna(subset=["agent", "end"])
    out: dict[str, int] = {}
    if d.empty:
        return out
    ev = pd.concat([d.assign(t=d["start"], delta=1), d.assign(t=d["end"], delta=-1)])
    ev = ev.sort_values(["group", "agent", "t", "delta"], kind="stable")
    ev["held"] = ev.groupby(["group", "agent"], sort=False)["delta"].cumsum()
    for g, m in ev.groupby("group")["held"].max().items():
        out[str(g)] = max(1, int(m))
    return out


def staffing(legs: pd.DataFrame, grid: Grid, groups: list[str], concurrent: dict[str, int],
             exclude: frozenset[str] = frozenset()) -> pd.DataFrame:
    """Per group and clock interval (:data:`STAFFING_COLUMNS`): present and busy agents (named),
    agent-equivalents of unnamed legs, agents seen, and the whole number written (present + unnamed). ``exclude``: agents written as named
    agents of their own (their activity is not anonymous staffing)."""
    closed = legs.dropna(subset=["end"])
    days = grid.days().astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        per = np.where(days > 0, 1.0 / (days * grid.step), np.nan)
        seen_per = np.where(days > 0, 1.0 / days, np.nan)
    rows = []
    for g in groups:
        mine = closed[closed["group"] == g]
        named = mine[mine["agent"].notna() & ~mine["agent"].isin(exclude)]
        unnamed = mine[mine["agent"].isna()]
        zero = np.zeros(grid.per_day)
        spans = _spans(named, IDLE_GAP)
        present = grid.spread(spans["start"].to_numpy(), spans["end"].to_numpy()) * per if len(spans) else zero
        spans = _spans(named, 0.0)
        busy = grid.spread(spans["start"].to_numpy(), spans["end"].to_numpy()) * per if len(spans) else zero
        other = grid.spread(unnamed["start"].to_numpy(), unnamed["end"].to_numpy()) * per / concurrent.get(g, 1)
        seen = grid.touched(named["start"].to_numpy(), named["end"].to_numpy(), named["agent"].astype(str).to_numpy()) * seen_per
        total = np.nan_to_num(present) + np.nan_to_num(other)
        written = np.floor(total + 0.5).astype(int)
        written = np.where(total > 0, np.maximum(written, 1), written)
        for k in range(grid.per_day):
            rows.append((g, k, grid.label(k), int(days[k]), present[k], busy[k], other[k], seen[k], int(written[k])))
    return pd.DataFrame(rows, columns=list(STAFFING_COLUMNS))
