"""Named random streams: one seeded numpy generator per purpose.

A stream is identified by ``(seed, replication, purpose, name)`` and nothing else, so adding a
group, changing a timeout or drawing more handle times never shifts another purpose's draws.
That is what makes common random numbers work across the points of a sweep.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from functools import partial
from itertools import chain

import numpy as np

PURPOSES: tuple[str, ...] = (
    "arrivals",
    "patience",
    "transfer_patience",
    "handle_time",
    "transfer_choice",
    "accept_delay",
    "reject",
    "routing",
)

BLOCK = 4096


def stream(seed: int, replication: int, purpose: str, name: str = "") -> np.random.Generator:
    """The generator for one purpose (and one service or group ``name``) of one replication."""
    key = (replication, PURPOSES.index(purpose), zlib.crc32(name.encode()))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=key)))


def derived_seed(seed: int, name: str) -> int:
    """A seed of its own for ``name`` under ``seed``: independent runs that share a base seed
    (the cases of a validation grid) must not draw the same numbers, or their errors correlate."""
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(zlib.crc32(name.encode()),))
    return int(ss.generate_state(1, np.uint32)[0])


def uniform_sampler(rng: np.random.Generator) -> Callable[[], float]:
    """One U(0,1) draw per call, drawn from ``rng`` in blocks (fast in the hot path)."""
    return block_sampler(lambda: rng.random(BLOCK))


def exponential_sampler(rng: np.random.Generator, mean: float) -> Callable[[], float]:
    """One exponential draw of ``mean`` per call, drawn in blocks."""
    return block_sampler(lambda: rng.exponential(mean, BLOCK))


def block_sampler(draw_block: Callable[[], np.ndarray]) -> Callable[[], float]:
    """Hand out the values of successive blocks one at a time, as Python floats (a call costs
    about one ``next()``: the blocks are chained by a C-level iterator)."""
    blocks = iter(lambda: draw_block().tolist(), None)  # never ends
    return partial(next, chain.from_iterable(blocks))
