"""A contact log cut into legs (one agent's or group's part of a conversation) and the log's clock grid.

Why: handle time, transfer probabilities and staffing are properties of a group, while a log row
is a contact that may have passed through several groups. A contact's first leg runs from
``answered`` to the ``requested`` time of its first transfer (or to ``ended``); after an accepted
transfer the next leg runs from ``joined`` to the next request (or ``ended``) and belongs to the
target's group (a target ``agent:NAME``: that agent's group in the log rows). A transfer that
expired or that the customer left ends the contact's legs. Without a transfer table, each served
contact is one leg ``answered -> ended`` (transfers, if any, are folded into it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..logs import DAY, ContactLog

__all__ = ["LEG_COLUMNS", "Grid", "make_grid", "entry_groups", "agent_groups", "legs_of"]

LEG_COLUMNS = ("contact_id", "service", "group", "agent", "start", "end", "target")
"""A leg: its group and agent (missing when the log does not say who joined), start and end
(NaN while open at the log's end), and the transfer target that ended it (missing: it closed)."""


@dataclass(frozen=True)
class Grid:
    """The clock intervals of length ``step`` seconds and, for each, on how many days the log covers it.

    The log covers the whole intervals from the one holding its first arrival to the one holding its
    last arrival; an interval of the clock day covered on no day has ``days`` 0.
    """

    step: float
    first: int  # absolute interval index (since the first day's midnight) of the first arrival
    last: int

    @property
    def per_day(self) -> int:
        """Intervals in a day."""
        return int(round(DAY / self.step))

    def days(self) -> np.ndarray:
        """Days covering each clock interval (an array of :attr:`per_day` counts)."""
        k = np.arange(self.first, self.last + 1) % self.per_day
        return np.bincount(k, minlength=self.per_day)

    def label(self, k: int) -> str:
        """``"HH:MM"`` of clock interval ``k``."""
        minutes = int(round(k * self.step / 60))
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    def spread(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Seconds of the spans ``[start, end)`` in each clock interval, summed over the covered days
        (time outside the covered intervals is left out)."""
        s = np.asarray(starts, float)
        e = np.asarray(ends, float)
        ok = np.isfinite(s) & np.isfinite(e) & (e > s)
        s, e = s[ok], e[ok]
        out = np.zeros(self.per_day)
        if not len(s):
            return out
        k0 = np.floor(s / self.step).astype(np.int64)
        k1 = np.floor(np.nextafter(e, -np.inf) / self.step).astype(np.int64)
        reps = k1 - k0 + 1
        idx = np.repeat(np.arange(len(s)), reps)
        k = k0[idx] + (np.arange(len(idx)) - np.repeat(np.cumsum(reps) - reps, reps))
        lo = np.maximum(s[idx], k * self.step)
        hi = np.minimum(e[idx], (k + 1) * self.step)
        inside = (k >= self.first) & (k <= self.last)
        np.add.at(out, k[inside] % self.per_day, (hi - lo)[inside])
        return out

    def touched(self, starts: np.ndarray, ends: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """For each clock interval, the distinct ``keys`` (agents) with a span in it, summed over the days."""
        s = np.asarray(starts, float)
        e = np.asarray(ends, float)
        ok = np.isfinite(s) & np.isfinite(e) & (e >= s)
        s, e, keys = s[ok], e[ok], np.asarray(keys)[ok]
        out = np.zeros(self.per_day)
        if not len(s):
            return out
        k0 = np.floor(s / self.step).astype(np.int64)
        k1 = np.maximum(k0, np.floor(np.nextafter(e, -np.inf) / self.step).astype(np.int64))
        reps = k1 - k0 + 1
        idx = np.repeat(np.arange(len(s)), reps)
        k = k0[idx] + (np.arange(len(idx)) - np.repeat(np.cumsum(reps) - reps, reps))
        pairs = pd.DataFrame({"k": k, "key": keys[idx]})
        pairs = pairs[(pairs.k >= self.first) & (pairs.k <= self.last)].drop_duplicates()
        np.add.at(out, pairs["k"].to_numpy() % self.per_day, 1.0)
        return out


def make_grid(contacts: pd.DataFrame, step: float) -> Grid:
    """The grid of ``contacts`` (a clean log's frame) for intervals of ``step`` seconds."""
    arrived = contacts["arrived"].to_numpy(float)
    return Grid(step, int(math.floor(arrived.min() / step)), int(math.floor(arrived.max() / step)))


def entry_groups(contacts: pd.DataFrame) -> dict[str, str]:
    """Each service's entry group: the group most of its contacts queued for or were answered in
    (the service's own name when the log names no group)."""
    out = {}
    for service, rows in contacts.groupby("service", sort=True):
        groups = rows["group"].dropna()
        out[str(service)] = str(groups.value_counts().index[0]) if len(groups) else str(service)
    return out


def agent_groups(contacts: pd.DataFrame) -> dict[str, str]:
    """Each agent's group: the one it answered most contacts in."""
    rows = contacts.dropna(subset=["agent"])
    rows = rows.assign(group=rows["group"].fillna(rows["service"]))
    if rows.empty:
        return {}
    counts = rows.groupby(["agent", "group"]).size().reset_index(name="n")
    counts = counts.sort_values(["agent", "n", "group"], ascending=[True, False, True])
    first = counts.drop_duplicates("agent")
    return {str(a): str(g) for a, g in zip(first["agent"], first["group"], strict=True)}


def legs_of(log: ContactLog) -> tuple[pd.DataFrame, list[str]]:
    """The legs of the served contacts of ``log`` (:data:`LEG_COLUMNS`) and notes on what was assumed."""
    notes: list[str] = []
    c = log.contacts
    entry = entry_groups(c)
    group = c["group"].astype(object).where(c["group"].notna(), c["service"].map(entry))
    served = c[c["served"]].assign(group=group[c["served"]])
    tr = log.transfers
    if tr is None or tr.empty:
        if tr is None:
            notes.append("no transfer table: each served contact is one leg answered -> ended in the group that "
                         "answered it (any transfers are folded into that group's handle time)")
        legs = pd.DataFrame({"contact_id": served["contact_id"], "service": served["service"].astype(str),
                             "group": served["group"].astype(str), "agent": served["agent"].astype(object),
                             "start": served["answered"], "end": served["ended"], "target": None})
        return legs.reset_index(drop=True), notes
    groups_of_agent = agent_groups(c)
    moved = set(tr["contact_id"])
    plain = served[~served["contact_id"].isin(moved)]
    rows = [pd.DataFrame({"contact_id": plain["contact_id"], "service": plain["service"].astype(str),
                          "group": plain["group"].astype(str), "agent": plain["agent"].astype(object),
                          "start": plain["answered"], "end": plain["ended"], "target": None})]
    info = served[served["contact_id"].isin(moved)].set_index("contact_id")
    unknown_agents: dict[str, int] = {}
    extra = []
    for cid, ts in tr[tr["contact_id"].isin(info.index)].groupby("contact_id", sort=False):
        me = info.loc[cid]
        g, agent, start = str(me["group"]), me["agent"], float(me["answered"])
        alive = True
        for t in ts.itertuples(index=False):
            target = str(t.target)
            extra.append((cid, str(me["service"]), g, agent, start, float(t.requested), target))
            if t.outcome != "accepted" or not np.isfinite(t.joined):
                alive = False
                break
            if target.startswith("agent:"):
                name = target[len("agent:"):]
                if name not in groups_of_agent:
                    unknown_agents[name] = unknown_agents.get(name, 0) + 1
                    alive = False
                    break
                g, agent = groups_of_agent[name], name
            else:  # a group: the joining agent when the log names it (the transfers' optional agent column)
                joined_by = getattr(t, "agent", None)
                g, agent = target, (str(joined_by) if isinstance(joined_by, str) and joined_by else None)
            start = float(t.joined)
        if alive:
            extra.append((cid, str(me["service"]), g, agent, start, float(me["ended"]), None))
    for name, n in sorted(unknown_agents.items()):
        notes.append(f"transfer target agent:{name} never answered a contact in the log, so its group is unknown: "
                     f"the {n} leg(s) after those transfers are left out")
    if extra:
        rows.append(pd.DataFrame(extra, columns=list(LEG_COLUMNS)))
    legs = pd.concat(rows, ignore_index=True)
    legs["agent"] = legs["agent"].astype(object).where(legs["agent"].notna(), None)
    return legs, notes
