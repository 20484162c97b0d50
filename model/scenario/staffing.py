"""Staffing over the day: a group's step profile of agents on shift, a named agent's shifts, and when
each agent comes on and goes off shift in simulated time.

Why apart from the models: the scenario validates and keeps the data; the simulation needs each
agent's on/off times, the estimate and the report the number on shift at a clock time. One
definition of "who is on shift when" serves all three.

Semantics (LIFECYCLE.md, *Staffing over the day*; the decisions are in docs/simulation.md):

- A step profile ``[["HH:MM", value], ...]`` (strictly increasing times) is a step function over
  the 24 h clock, repeated every day, each step holding until the next one; when the first entry
  is later than ``00:00`` the last entry's value holds from midnight (the day *wraps*). Arrival
  profiles and staffing profiles share this reading (:func:`clock_steps`).
- Anonymous agent ``i`` (``<group>-<i>``, 1-based) of a group with a staffing profile is on shift
  whenever the profile's value is at least ``i``: when the profile steps down, the highest-numbered
  agents go off shift first, and a step up brings the same agents back (*decision*).
- A named agent's ``shifts = [["08:00", "16:30"], ...]`` are clock windows ``[start, end)``; an end
  earlier than its start crosses midnight. Without ``shifts`` an agent works all day.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, Strict, field_validator

from ._base import Int, LaxList, StrictModel
from .durations import Clock, parse_clock

__all__ = ["DAY", "clock_steps", "StaffingProfile", "Shifts", "check_shifts"]

DAY = 86400.0


def clock_steps(entries: Sequence[tuple[str, float]]) -> tuple[list[float], list[float]]:
    """``(starts, values)`` of a clock step profile, covering one day from 00:00 (wrap applied).

    ``entries`` are ``("HH:MM", value)`` with strictly increasing times (checked by the models).
    """
    starts = [parse_clock(c) for c, _ in entries]
    values = [v for _, v in entries]
    if starts[0] > 0:  # wrap: the last step holds from midnight
        starts.insert(0, 0.0)
        values.insert(0, values[-1])
    return starts, values


def check_increasing(entries: Sequence[tuple[str, object]], value: str) -> None:
    """Refuse an empty profile or one whose times are not strictly increasing (``ValueError``);
    ``value`` names what each entry's number is, for the message."""
    if not entries:
        raise ValueError(f'a profile needs at least one ["HH:MM", {value}] entry')
    last = -1.0
    for i, (clock, _) in enumerate(entries):
        sec = parse_clock(clock)
        if sec <= last:
            raise ValueError(f"times must be strictly increasing (entry {i}: {clock!r} after {entries[i - 1][0]!r})")
        last = sec


class StaffingProfile(StrictModel):
    """A group's anonymous agents on shift by time of day: ``{ profile = [["00:00", 2], ["08:00", 6]] }``.

    Why a step profile: a rota is a number of agents per period of the day, as arrivals are a
    rate per period; both read the same way (see the module docstring).
    """

    profile: LaxList[Annotated[tuple[Clock, Annotated[Int, Field(ge=0)]], Strict(False)]]

    @field_validator("profile")
    @classmethod
    def _check(cls, profile: list[tuple[str, int]]) -> list[tuple[str, int]]:
        check_increasing(profile, "agents")
        return profile

    @property
    def peak(self) -> int:
        """The most agents on shift at once: the number of anonymous agents the group has."""
        return max(n for _, n in self.profile)

    def at(self, clock: float) -> int:
        """Agents on shift at clock seconds ``clock`` (any day)."""
        starts, values = clock_steps(self.profile)
        return int(values[bisect_right(starts, clock % DAY) - 1])

    def shifts_of(self, i: int) -> "Shifts":
        """The on-shift windows of anonymous agent ``i`` (1-based): where the profile is >= ``i``."""
        starts, values = clock_steps(self.profile)
        bounds = [*starts, DAY]
        return Shifts.from_windows([(bounds[k], bounds[k + 1]) for k, v in enumerate(values) if v >= i])


def check_shifts(shifts: Sequence[tuple[str, str]]) -> None:
    """Refuse an empty shift list, a shift whose end equals its start, or overlapping shifts."""
    if not shifts:
        raise ValueError("give at least one [start, end] shift, or leave shifts out for an agent on shift all day")
    seen: list[tuple[float, float, int]] = []
    for i, (a, b) in enumerate(shifts):
        start, end = parse_clock(a), parse_clock(b)
        if start == end:
            raise ValueError(f"shift {i} ({a!r} to {b!r}) is empty: its end must differ from its start "
                             "(an end earlier than the start crosses midnight)")
        for lo, hi in Shifts.split(start, end):
            for lo2, hi2, j in seen:
                if lo < hi2 and lo2 < hi:
                    raise ValueError(f"shift {i} ({a!r} to {b!r}) overlaps shift {j} "
                                     f"({shifts[j][0]!r} to {shifts[j][1]!r})")
            seen.append((lo, hi, i))


@dataclass(frozen=True)
class Shifts:
    """When one agent is on shift: disjoint clock windows ``[start, end)`` within one day, in
    seconds after midnight, sorted and merged; repeated every day."""

    windows: tuple[tuple[float, float], ...]

    @staticmethod
    def split(start: float, end: float) -> list[tuple[float, float]]:
        """A shift from clock ``start`` to ``end`` as windows within one day (crossing midnight: two)."""
        return [(start, end)] if end > start else [(start, DAY), (0.0, end)]

    @classmethod
    def from_windows(cls, windows: Sequence[tuple[float, float]]) -> "Shifts":
        """Sorted, merged windows (touching windows become one)."""
        merged: list[list[float]] = []
        for lo, hi in sorted(w for w in windows if w[1] > w[0]):
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        return cls(tuple((lo, hi) for lo, hi in merged))

    @classmethod
    def from_clock(cls, shifts: Sequence[tuple[str, str]] | None) -> "Shifts":
        """From a named agent's ``shifts`` (``None``: all day)."""
        if shifts is None:
            return ALL_DAY
        return cls.from_windows([w for a, b in shifts for w in cls.split(parse_clock(a), parse_clock(b))])

    @property
    def all_day(self) -> bool:
        """On shift around the clock."""
        return self.windows == ((0.0, DAY),)

    @property
    def hours_per_day(self) -> float:
        """Hours on shift in one day."""
        return sum(hi - lo for lo, hi in self.windows) / 3600.0

    def on_at(self, clock: float) -> bool:
        """On shift at clock seconds ``clock`` (any day)."""
        c = clock % DAY
        return any(lo <= c < hi for lo, hi in self.windows)

    def changes(self, start_clock: float, end: float) -> tuple[bool, list[tuple[float, bool]]]:
        """``(on at t = 0, [(t, on), ...])``: the simulated times in ``(0, end)`` at which the agent
        comes on (``True``) or goes off (``False``) shift, simulated 0 being clock ``start_clock``."""
        on0 = self.on_at(start_clock)
        if self.all_day or not self.windows:
            return on0, []
        edges: list[tuple[float, bool]] = []
        day0 = math.floor(start_clock / DAY)
        day = day0
        while (day - day0 - 1) * DAY < end + DAY:
            for lo, hi in self.windows:
                edges.append((day * DAY + lo - start_clock, True))
                edges.append((day * DAY + hi - start_clock, False))
            day += 1
        out: list[tuple[float, bool]] = []
        state = on0
        for t, on in sorted(edges):  # at one instant an end (False) sorts before a start (True)
            if 0.0 < t < end and on != state:
                out.append((t, on))
                state = on
        # a window ending at midnight and one starting there are merged: drop off/on pairs at one instant
        merged: list[tuple[float, bool]] = []
        for t, on in out:
            if merged and merged[-1][0] == t:
                merged.pop()
                continue
            merged.append((t, on))
        return on0, merged

    def on_time(self, start_clock: float, t0: float, t1: float) -> float:
        """Seconds on shift within simulated ``[t0, t1]``."""
        on, changes = self.changes(start_clock, t1)
        total, last = 0.0, 0.0
        for t, now_on in changes:
            if on:
                total += max(0.0, t - max(last, t0))
            last, on = t, now_on
        if on:
            total += max(0.0, t1 - max(last, t0))
        return total


ALL_DAY = Shifts(((0.0, DAY),))
