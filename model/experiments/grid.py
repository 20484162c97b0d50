"""The points of a sweep: parsing ``PATH=V1,V2,...`` and ``A..B`` ranges, and the grid itself.

Why: the CLI and the API meet here, so ``--vary groups.billing.agents=3..5`` and
``vary={"groups.billing.agents": [3, 4, 5]}`` mean exactly the same grid.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import TransferSimError

__all__ = [
    "ExperimentError", "parse_scalar", "parse_values", "parse_vary", "parse_range", "range_count", "grid_points",
    "grid_size", "MAX_RANGE_VALUES", "MAX_GRID_POINTS",
]

MAX_RANGE_VALUES = 100_000
"""Most values one ``LOW..HIGH[:STEP]`` range may stand for (docs/limits.md); counted before expanding."""

MAX_GRID_POINTS = 100_000
"""Most points a sweep grid may have (docs/limits.md); counted, never built, before refusing."""


class ExperimentError(TransferSimError, ValueError):
    """Unusable experiment arguments (a vary list, a range, a scope, a store that holds another sweep)."""


def parse_scalar(text: str) -> Any:
    """``"3"`` -> 3, ``"0.5"`` -> 0.5, ``"true"`` -> True, ``"45s"`` -> ``"45s"`` (durations stay text,
    the scenario parses them), JSON objects and lists as JSON."""
    t = text.strip()
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    if t in ("true", "false", "null") or t[:1] in "{[\"":
        try:
            return json.loads(t)
        except ValueError:
            pass
    return t


def _number(text: str) -> int | float:
    v = parse_scalar(text)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ExperimentError(f"not a number: {text!r}")
    return v


def parse_range(text: str) -> tuple[int | float, int | float, int | float | None]:
    """``"10..300"`` -> (10, 300, None); ``"10..300:30"`` -> (10, 300, 30) (the step)."""
    body, _, step = text.partition(":")
    lo, sep, hi = body.partition("..")
    if not sep:
        raise ExperimentError(f"a range is written LOW..HIGH (optionally LOW..HIGH:STEP), got {text!r}")
    a, b = _number(lo), _number(hi)
    for x in (a, b):
        if not math.isfinite(x):
            raise ExperimentError(f"the ends of a range must be finite numbers, got {text!r}")
    if b < a:
        raise ExperimentError(f"empty range {text!r}: {b} < {a}")
    s = _number(step) if step else None
    if s is not None and not (s > 0 and math.isfinite(s)):
        raise ExperimentError(f"the step of a range must be a finite number > 0, got {text!r}")
    return a, b, s


def range_count(a: int | float, b: int | float, s: int | float) -> int:
    """How many values ``a, a + s, ...`` up to ``b`` (tolerance 1e-9 steps), computed, not listed."""
    q = (b - a) / s + 1e-9
    if not math.isfinite(q) or q >= 2**62:
        return 2**62
    return int(math.floor(q)) + 1


def parse_values(text: str) -> list[Any]:
    """``"30,45,60"``, ``"3..5"`` (integers, step 1) or ``"30..90:15"`` into a list of values."""
    t = text.strip()
    if ".." in t and "," not in t and not t.startswith(("{", "[")):
        a, b, s = parse_range(t)
        if s is None:
            if not (isinstance(a, int) and isinstance(b, int)):
                raise ExperimentError(f"a range of non-integers needs a step (LOW..HIGH:STEP), got {text!r}")
            s = 1
        n = range_count(a, b, s)
        if n > MAX_RANGE_VALUES:
            raise ExperimentError(
                f"the range {text.strip()!r} has {n:,} values; the limit is {MAX_RANGE_VALUES:,} values per range "
                "(docs/limits.md): give a larger step (LOW..HIGH:STEP)"
            )
        vals = [a + k * s for k in range(n)]
        return [int(v) if isinstance(v, float) and v.is_integer() and isinstance(s, int) else v for v in vals]
    if t.startswith("["):
        v = json.loads(t)
        if isinstance(v, list):
            return v
    return [parse_scalar(x) for x in t.split(",") if x.strip() != ""]


def parse_vary(items: Sequence[str]) -> dict[str, list[Any]]:
    """CLI ``--vary PATH=VALUES`` items into the ``vary`` mapping (order kept)."""
    vary: dict[str, list[Any]] = {}
    for item in items:
        path, sep, values = item.partition("=")
        path = path.strip()
        if not sep or not path:
            raise ExperimentError(f"--vary takes PATH=V1,V2,... (or PATH=LOW..HIGH), got {item!r}")
        if path in vary:
            raise ExperimentError(f"--vary {path} given twice")
        vary[path] = parse_values(values)
        if not vary[path]:
            raise ExperimentError(f"--vary {path}: no values to try; give PATH=V1,V2,... or PATH=LOW..HIGH")
    return vary


def normalise_vary(vary: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """Check ``vary`` (non-empty, every path a non-empty list without repeats) and copy it."""
    if not vary:
        raise ExperimentError("nothing to vary: give at least one path and its values")
    out: dict[str, list[Any]] = {}
    for path, values in vary.items():
        if not isinstance(path, str) or not path:
            raise ExperimentError(f"a varied path must be a dotted string, got {path!r}")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            values = [values] if isinstance(values, (str, bytes)) else list(values)
        vals = list(values)
        if not vals:
            raise ExperimentError(f"{path}: no values to try")
        keys = [json.dumps(v, sort_keys=True, default=str) for v in vals]
        dup = [v for v, k in zip(vals, keys) if keys.count(k) > 1]
        if dup:
            raise ExperimentError(f"{path}: value {dup[0]!r} listed twice")
        out[path] = vals
    return out


def grid_size(vary: Mapping[str, Sequence[Any]]) -> int:
    """How many points the grid of ``vary`` has (the product of the lengths), without building it."""
    return math.prod(len(v) for v in vary.values())


def check_grid_size(vary: Mapping[str, Sequence[Any]]) -> int:
    """:func:`grid_size`, or :class:`ExperimentError` above :data:`MAX_GRID_POINTS` points."""
    n = grid_size(vary)
    if n > MAX_GRID_POINTS:
        sizes = " x ".join(f"{len(v):,}" for v in vary.values())
        raise ExperimentError(
            f"this grid has {n:,} points ({sizes} values); the limit is {MAX_GRID_POINTS:,} points per sweep "
            "(docs/limits.md): vary fewer values, or split the sweep"
        )
    return n


def grid_points(vary: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The cartesian product, first path outermost: ``[{path: value, ...}, ...]``.

    Refuses (:class:`ExperimentError`) a grid above :data:`MAX_GRID_POINTS` points before building it.
    """
    check_grid_size(vary)
    paths = list(vary)
    return [dict(zip(paths, combo)) for combo in itertools.product(*(vary[p] for p in paths))]


def column_values(values: Sequence[Any]) -> list[Any]:
    """Values as one Parquet-friendly column: numbers, bools or text stay; a mix becomes text."""
    vals = list(values)
    if all(isinstance(v, bool) for v in vals):
        return vals
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return vals
    if all(isinstance(v, str) for v in vals):
        return vals
    return [v if isinstance(v, str) else json.dumps(v, sort_keys=True) for v in vals]
