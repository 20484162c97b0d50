"""Figures per interval of the clock (LIFECYCLE.md, *What is measured*, "Per interval").

Why apart from the engine: the engine counts each event once, overall; when a run is asked for
per-interval figures it also hands each counted event to :class:`Intervals`, which files it under
the interval of the clock it belongs to. A contact counts in the interval of its arrival, a
transfer in the interval of its ``request_transfer``; an interval is a time of day, so a run of
several days adds the same hour of every day together. Staffing and occupancy are read from the
agents' books at every interval boundary.

Contact figures (arrivals, outcomes, queue abandonment, service level, wait) of a service are
taken from the contacts that arrived in the interval; its transfer figures from the transfers
requested in the interval. So every rate has a numerator and a denominator from the same set.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simpy.events import URGENT

from ..lifecycle import FINAL_STATES
from ..results.metrics import PER_CONTACT, Tally
from ..scenario.durations import parse_duration
from ..scenario.staffing import DAY

if TYPE_CHECKING:
    from ..scenario import Scenario
    from .engine import Replication, SimContact

__all__ = ["Intervals", "IntervalOutput", "interval_seconds", "interval_label", "INTERVAL_EXAMPLES"]

INTERVAL_EXAMPLES = "a whole number of minutes that divides 24 h, such as 15m, 30m, 1h, 2h"
_FINAL = frozenset(FINAL_STATES)


def interval_seconds(value: Any) -> float:
    """Seconds of an interval length (``"15m"``, ``"1h"``, ``3600``): a whole number of minutes
    that divides the 24 h clock, so every day is cut the same way. ``ValueError`` otherwise."""
    try:
        seconds = parse_duration(value)
    except ValueError as err:
        raise ValueError(f"{err}; got {value!r}; allowed: {INTERVAL_EXAMPLES}") from None
    minutes = seconds / 60.0
    if minutes != int(minutes) or 1440 % int(minutes):
        raise ValueError(f"an interval must be {INTERVAL_EXAMPLES}; got {value!r}")
    return seconds


def interval_label(k: int, step: float) -> str:
    """The start clock time ``"HH:MM"`` of interval ``k`` of length ``step`` seconds."""
    minutes = int(k * step // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass
class IntervalOutput:
    """What one replication produced per interval ``k`` (0 = the interval starting at 00:00)."""

    step: float
    covered: list[int]  # the intervals the run (after the warm-up) reached, in clock order
    contact: dict[tuple[str, int], Tally]  # (service, k): contacts that arrived in k
    transfer: dict[tuple[str, int], Tally]  # (service, k): transfers requested in k
    target: dict[tuple[str, int], Tally]  # (target, k): transfers requested in k
    staffed: dict[tuple[str, int], float]  # (group, k): mean agents on shift
    occupancy: dict[tuple[str, int], float]  # (group, k): slot time in use / staffed slot time

    def figures(self, scope: str, key: str, k: int) -> dict[str, float]:
        """The figures of one service (``scope="service"``) or target in interval ``k``."""
        if scope == "target":
            return self.target.get((key, k), Tally(0.0)).figures()
        contact = self.contact.get((key, k), Tally(0.0)).figures()
        transfer = self.transfer.get((key, k), Tally(0.0)).figures()
        return {m: (contact if m in PER_CONTACT else transfer)[m] for m in contact}


class Intervals:
    """Per-interval tallies and staffing books of one replication (see the module docstring)."""

    def __init__(self, scenario: Scenario, step: float, max_ttj: float, warmup: float, end: float) -> None:
        self.step = step
        self.count_per_day = int(round(DAY / step))
        self.clock0 = scenario.simulation.start_seconds
        self.max_ttj = max_ttj
        self.threshold = {s.name: float(s.service_level_threshold) for s in scenario.services}
        self.contact: dict[tuple[str, int], Tally] = {}
        self.transfer: dict[tuple[str, int], Tally] = {}
        self.target: dict[tuple[str, int], Tally] = {}
        self.warmup, self.end = warmup, end
        # the segments between interval boundaries after the warm-up: [bounds[i], bounds[i + 1]]
        first = (math.floor((self.clock0 + warmup) / step) + 1) * step - self.clock0
        inner = []
        t = first
        while t < end:
            inner.append(t)
            t = (math.floor((self.clock0 + t) / step + 0.5) + 1) * step - self.clock0
        self.bounds = [warmup, *inner, end] if end > warmup else [warmup]
        self.books: dict[str, list[tuple[float, float]]] = {g.name: [] for g in scenario.groups}

    def index(self, t: float) -> int:
        """The interval of simulated time ``t``."""
        k = int(((self.clock0 + t) % DAY) // self.step)
        return k if k < self.count_per_day else self.count_per_day - 1

    def _tally(self, table: dict[tuple[str, int], Tally], key: str, k: int, threshold: float = 0.0) -> Tally:
        tally = table.get((key, k))
        if tally is None:
            tally = table[(key, k)] = Tally(self.max_ttj, threshold)
        return tally

    # -- counting (called by the engine for counted contacts) --------------------------------------
    def arrived(self, c: SimContact) -> None:
        """A counted contact arrived."""
        self._tally(self.contact, c.service, self.index(c.arrived_at), self.threshold[c.service]).counts["arrivals"] += 1

    def count(self, c: SimContact, count: str, per_target: bool, now: float, n: int) -> None:
        """File one count of the engine's (:data:`~model.sim.engine.COUNTED`) under its interval."""
        tallies = []
        if per_target:
            k = self.index(c.transfer_requested_at)  # type: ignore[arg-type]
            tallies = [self._tally(self.transfer, c.service, k), self._tally(self.target, c.target, k)]  # type: ignore[arg-type]
        if not per_target or count in _FINAL:
            s = c.service
            tallies.append(self._tally(self.contact, s, self.index(c.arrived_at), self.threshold[s]))
        for t in tallies:
            if count == "joined":
                t.joined(now - c.transfer_requested_at)  # type: ignore[operator]
            elif count == "assigned":
                t.assigned(now - c.arrived_at)
            else:
                t.counts[count] += n

    # -- staffing books ----------------------------------------------------------------------------
    def schedule(self, rep: Replication) -> None:
        """Read the agents' books at every interval boundary of the run."""
        for t in self.bounds[1:-1]:
            rep._at(t, self._boundary, rep, URGENT)

    def _boundary(self, ev: Any) -> None:
        rep = ev._value
        self._read_books(rep, rep.env._now)

    def _read_books(self, rep: Replication, now: float) -> None:
        rep.pool.close_books(now)
        for g in self.books:
            self.books[g].append(rep.pool.books(g))

    def close(self, rep: Replication) -> IntervalOutput:
        """After the run (the books closed at its end): the per-interval output, with the contacts
        and transfers still open at the horizon counted as such (rates are over those that ended)."""
        for tally in self.contact.values():
            cnt = tally.counts
            cnt["open"] = cnt["arrivals"] - sum(cnt[k] for k in FINAL_STATES)
        for tally in (*self.transfer.values(), *self.target.values()):
            cnt = tally.counts
            ended = sum(cnt[k] for k in ("transfers_accepted", "transfer_expired", "abandoned_transfer",
                                          "transfers_returned"))
            cnt["transfers_open"] = cnt["transfers_requested"] - ended
        self.books = {g: [*rows, rep.pool.books(g)] for g, rows in self.books.items()}
        segments = list(zip(self.bounds, self.bounds[1:]))
        ks = [self.index(t0) for t0, _ in segments]
        on = self._on_shift_seconds(rep, segments)
        staffed: dict[tuple[str, int], float] = {}
        occupancy: dict[tuple[str, int], float] = {}
        for g, rows in self.books.items():
            members = rep.members[g]
            dur: dict[int, float] = {}
            on_slots: dict[int, float] = {}
            on_agents: dict[int, float] = {}
            area: dict[int, float] = {}
            overtime: dict[int, float] = {}
            prev = (0.0, 0.0)
            for i, (k, (t0, t1)) in enumerate(zip(ks, segments)):
                a, o = rows[i]
                dur[k] = dur.get(k, 0.0) + (t1 - t0)
                area[k] = area.get(k, 0.0) + a - prev[0]
                overtime[k] = overtime.get(k, 0.0) + o - prev[1]
                on_agents[k] = on_agents.get(k, 0.0) + sum(on[m.name][i] for m in members)
                on_slots[k] = on_slots.get(k, 0.0) + sum(m.slots * on[m.name][i] for m in members)
                prev = (a, o)
            for k in dur:
                staffed[(g, k)] = on_agents[k] / dur[k] if dur[k] > 0 else math.nan
                denominator = on_slots[k] + overtime[k]
                occupancy[(g, k)] = area[k] / denominator if denominator > 0 else math.nan
        covered = sorted(set(ks))
        return IntervalOutput(self.step, covered, self.contact, self.transfer, self.target, staffed, occupancy)

    def _on_shift_seconds(self, rep: Replication, segments: list[tuple[float, float]]) -> dict[str, list[float]]:
        """Per agent, its seconds on shift within each segment."""
        starts = [t0 for t0, _ in segments]
        out: dict[str, list[float]] = {}
        for name, (on0, changes) in rep.shift_changes.items():
            secs = [0.0] * len(segments)
            for lo, hi in _on_spans(on0, changes, self.end):
                lo, hi = max(lo, self.warmup), min(hi, self.end)
                i = max(bisect_right(starts, lo) - 1, 0)
                while i < len(segments) and segments[i][0] < hi:
                    t0, t1 = segments[i]
                    secs[i] += max(0.0, min(hi, t1) - max(lo, t0))
                    i += 1
            out[name] = secs
        return out


def _on_spans(on0: bool, changes: list[tuple[float, bool]], end: float) -> Iterator[tuple[float, float]]:
    """The spans ``[start, end)`` of simulated time an agent is on shift."""
    start = 0.0 if on0 else None
    for t, on in changes:
        if on:
            start = t
        elif start is not None:
            yield start, t
            start = None
    if start is not None:
        yield start, end
