"""When the next customer of a service arrives: flat Poisson, constant, or a daily step profile."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .streams import exponential_sampler

if TYPE_CHECKING:
    from ..scenario import Service

INF = math.inf


def gap_sampler(service: Service, rng: np.random.Generator, end: float) -> Callable[[float], float]:
    """``gap(now)``: seconds from ``now`` to the service's next arrival (``inf``: none before ``end``).

    Every draw comes from ``rng``, the service's ``arrivals`` stream.
    """
    arr = service.arrivals
    if arr.kind == "constant":
        gap = arr.mean_gap  # 3600 / (rate_per_hour x scale)
        return lambda now: gap
    if arr.profile is None:
        if arr.rate_per_hour > 0:
            flat = exponential_sampler(rng, arr.mean_gap)
            return lambda now: flat()
        return lambda now: INF
    if arr.max_rate <= 0:
        return lambda now: INF

    def profile_gap(now: float) -> float:
        # A piecewise-constant rate, step by step: an exponential gap at the current step's rate;
        # if it crosses the next step, restart there (the exponential forgets). Exact, and its
        # cost is one draw per step crossed; thinning against the day's highest rate would cost
        # (highest / current rate) draws per arrival, without bound for a tiny rate at night.
        t = now
        while t < end:
            rate = arr.rate_at(t)
            change = arr.next_change(t)
            if not change > t:  # rounding exactly at a step boundary
                change = math.nextafter(t, INF)
            if rate > 0:
                arrival = t + rng.exponential(1.0 / rate)
                if arrival < change:
                    return arrival - now
            t = change
        return INF

    return profile_gap
