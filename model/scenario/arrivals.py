"""Contact arrivals of a service: Poisson (flat or a daily profile) or constant-gap.

Why: the simulation needs the rate at any simulated time (for thinning or per-segment gaps),
its maximum, and the expected volume; the scenario keeps the data and these helpers.

Profile semantics (decision): ``[["HH:MM", rate_per_hour], ...]`` with strictly increasing times is a
step function over the 24 h clock, repeated every day; each step holds until the next one. If the
first entry is later than ``00:00`` the day *wraps*: the last entry's rate holds from midnight until
the first entry. Simulated time ``t = 0`` is the clock time ``simulation.start``.

Demand scaling (decision): ``scale`` multiplies every rate (``rate_per_hour``, each profile entry)
wherever a rate is read here, so the engine, the estimate and the work bounds all see the scaled
demand; the random draws are the same, only their rate changes (``scale = 1`` changes nothing).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Annotated, Any, Literal

from pydantic import (Field, PrivateAttr, SerializerFunctionWrapHandler, Strict, ValidationInfo,
                      field_validator, model_serializer, model_validator)

from ._base import LaxList, Real, StrictModel
from .durations import Clock
from .staffing import DAY, check_increasing, clock_steps
from .errors import refuse

__all__ = ["Arrivals", "DAY"]


class Arrivals(StrictModel):
    """``kind="poisson"`` with ``rate_per_hour`` *or* ``profile``; ``kind="constant"`` with ``rate_per_hour``.

    Why: the simulator draws gaps from these rates (per second) by thinning or per segment.
    """

    kind: Literal["poisson", "constant"] = "poisson"
    rate_per_hour: Annotated[Real, Field(gt=0)] | None = None
    #: a TOML array per entry; a tuple from Python works too (the pair's items are strict)
    profile: LaxList[Annotated[tuple[Clock, Annotated[Real, Field(ge=0)]], Strict(False)]] | None = None
    #: multiplies every rate: 1.2 is 20 % more contacts ("+20 % volume"), 0.5 half as many
    scale: Real = 1.0

    #: clock seconds at simulated t = 0; set by the Scenario from ``simulation.start``
    _start: float = PrivateAttr(default=0.0)
    _steps_data: tuple[list[float], list[float], list[float]] | None = PrivateAttr(default=None)

    @field_validator("profile")
    @classmethod
    def _check_profile(cls, profile: list[tuple[str, float]] | None) -> list[tuple[str, float]] | None:
        if profile is None:
            return None
        check_increasing(profile, "rate_per_hour")
        if not any(rate > 0 for _, rate in profile):
            raise ValueError("a profile needs at least one rate > 0")
        if not math.isfinite(sum(rate * 24.0 for _, rate in profile)):
            raise refuse("out of range: the expected contacts of a day overflow",
                         "rates whose daily total is a finite number")
        return [(c, float(r)) for c, r in profile]

    @field_validator("rate_per_hour")
    @classmethod
    def _gap_in_range(cls, rate: float | None) -> float | None:
        if rate is not None and not (3600.0 / rate < math.inf and rate * 24.0 < math.inf):
            raise refuse("out of range: the gap between contacts (3600 / rate_per_hour) or a day's "
                         "expected contacts overflows", "a rate with 3600 / rate and rate * 24 finite")
        return rate

    @field_validator("scale")
    @classmethod
    def _scale_in_range(cls, scale: float, info: ValidationInfo) -> float:
        allowed = "a number > 0 that multiplies the arrival rate, e.g. 1.2 for 20 % more contacts"
        if not scale > 0:
            raise refuse("must be > 0", allowed)
        rates = [info.data.get("rate_per_hour") or 0.0, *(r for _, r in info.data.get("profile") or [])]
        top = max(rates) * scale
        if not (top * 24.0 < math.inf and (top == 0 or 3600.0 / top < math.inf)):
            raise refuse("out of range: the scaled rate (rate x scale), its day's contacts or its gap "
                         "3600 / (rate x scale) overflows", f"{allowed}, with rate x scale x 24 finite")
        return scale

    @model_serializer(mode="wrap")
    def _omit_unit_scale(self, handler: SerializerFunctionWrapHandler) -> Any:
        # scale 1 is the unset option: left out, so the data of a scenario (and the hash naming a
        # stored sweep) is what it was before the field existed
        data = handler(self)
        if self.scale == 1.0 and isinstance(data, dict):
            data.pop("scale", None)
        return data

    @model_validator(mode="after")
    def _one_source(self) -> "Arrivals":
        if self.kind == "constant" and self.profile is not None:
            raise ValueError("kind 'constant' takes rate_per_hour only, not a profile")
        if (self.rate_per_hour is None) == (self.profile is None):
            if self.kind == "poisson":
                raise ValueError("give exactly one of rate_per_hour or profile")
            raise ValueError("give rate_per_hour")
        return self

    # -- the step function over one day ------------------------------------------------------------
    def model_post_init(self, __context: object) -> None:
        if self.profile is not None:
            starts, per_hour = clock_steps(self.profile)
            rates = [r * self.scale / 3600.0 for r in per_hour]
            cum = [0.0]
            for i in range(1, len(starts)):
                cum.append(cum[-1] + rates[i - 1] * (starts[i] - starts[i - 1]))
            self._steps_data = (starts, rates, cum)

    def _steps(self) -> tuple[list[float], list[float], list[float]]:
        """(starts, rates per second, cumulative arrivals at each start) covering one clock day from 00:00."""
        assert self._steps_data is not None
        return self._steps_data

    def _clock_integral(self, clock: float) -> float:
        """Expected arrivals from clock 00:00 of day 0 to absolute clock seconds ``clock``."""
        starts, rates, cum = self._steps()
        day_total = cum[-1] + rates[-1] * (DAY - starts[-1])
        days, rem = divmod(clock, DAY)
        i = bisect_right(starts, rem) - 1
        return days * day_total + cum[i] + rates[i] * (rem - starts[i])

    # -- public helpers ----------------------------------------------------------------------------
    def rate_at(self, t: float) -> float:
        """Arrival rate in contacts per second at simulated time ``t`` (``t = 0`` is ``simulation.start``)."""
        if self.profile is None:
            assert self.rate_per_hour is not None
            return self.rate_per_hour * self.scale / 3600.0
        starts, rates, _ = self._steps()
        return rates[bisect_right(starts, (self._start + t) % DAY) - 1]

    def next_change(self, t: float) -> float:
        """The first simulated time after ``t`` at which the rate may change (``inf`` for a flat rate)."""
        if self.profile is None:
            return math.inf
        starts, _, _ = self._steps()
        clock = self._start + t
        day, rem = divmod(clock, DAY)
        i = bisect_right(starts, rem)
        nxt = starts[i] if i < len(starts) else DAY
        return day * DAY + nxt - self._start

    @property
    def max_rate(self) -> float:
        """The highest rate in contacts per second (the bound for thinning)."""
        if self.profile is None:
            assert self.rate_per_hour is not None
            return self.rate_per_hour * self.scale / 3600.0
        return max(r for _, r in self.profile) * self.scale / 3600.0

    def expected_arrivals(self, t0: float, t1: float) -> float:
        """Expected number of arrivals in simulated time ``[t0, t1]``."""
        if self.profile is None:
            return self.rate_at(0.0) * (t1 - t0)
        return self._clock_integral(self._start + t1) - self._clock_integral(self._start + t0)

    def mean_rate(self, horizon_seconds: float) -> float:
        """Average rate (contacts per second) over simulated ``[0, horizon_seconds]``."""
        if horizon_seconds <= 0:
            return self.rate_at(0.0)
        return self.expected_arrivals(0.0, horizon_seconds) / horizon_seconds

    @property
    def mean_gap(self) -> float | None:
        """For a flat rate: the mean seconds between contacts, 3600 / (rate_per_hour x scale) (the
        exact gap for ``kind="constant"``); None for a profile."""
        if self.rate_per_hour is None:
            return None
        return 3600.0 / (self.rate_per_hour * self.scale)

    @property
    def interarrival(self) -> float | None:
        """For ``kind="constant"``: the fixed gap 3600 / (rate_per_hour x scale) seconds; otherwise None."""
        if self.kind != "constant":
            return None
        return self.mean_gap
