"""Numbers and settings in words, as the report writes them: percentages with their interval,
durations in the unit a person would say, a sweep value as typed."""

from __future__ import annotations

from typing import Any

from ..results.figures import FigureInfo, percent

__all__ = ["FAILED", "target_name", "pct", "pct_ci", "value_ci", "seconds_text", "duration_text", "value_text", "target_text",
           "agents_text"]

FAILED = "failed"
"""The word a failed point's cells carry, in the heat map, on the line chart and in the table."""


def target_name(key: str) -> str:
    """A transfer target as said: ``"tech"``, and ``"agent:anna"`` as ``"the agent anna"``."""
    return f"the agent {key[6:]}" if str(key).startswith("agent:") else str(key)


def pct(x: float | None) -> str:
    """A proportion as a bare percentage, ``"7.2"`` (clipped to 0-100); ``"-"`` without a value."""
    return percent(x).removesuffix(" %")


def pct_ci(mean: float, lo: float, hi: float) -> str:
    """``7.2 % (6.5–7.9 %)``, the interval clipped to 0–100 %."""
    if mean != mean:
        return "- (no data)"
    return f"{pct(mean)} % ({pct(lo)}–{pct(hi)} %)"


def value_ci(info: FigureInfo, mean: float, lo: float, hi: float) -> str:
    """A figure with its interval in its own unit: :func:`pct_ci` for a proportion, else
    ``12.3 s (10.1 s–14.5 s)``."""
    if info.is_proportion:
        return pct_ci(mean, lo, hi)
    if mean != mean:
        return "- (no data)"
    return f"{info.text(mean)} ({info.text(lo)}–{info.text(hi)})"


def seconds_text(x: float) -> str:
    """A timeout as said: ``"60 s"``, ``"2 min"`` (whole minutes from 2 min)."""
    x = float(x)
    if x >= 120 and x % 60 == 0:
        return f"{x / 60:g} min"
    return f"{x:g} s"


def duration_text(x: float | None) -> str:
    """A duration in the largest whole unit: ``"8 h"``, ``"30 min"``, ``"45 s"``; ``"none"`` for ``None``."""
    if x is None:
        return "none"
    x = float(x)
    if x >= 3600 and x % 3600 == 0:
        return f"{x / 3600:g} h"
    if x >= 60 and x % 60 == 0:
        return f"{x / 60:g} min"
    return f"{x:g} s"


def value_text(v: Any) -> str:
    """A sweep value as typed: ``90`` not ``90.0``, text as it is."""
    return f"{v:g}" if isinstance(v, float) else str(v)


def target_text(info: FigureInfo, target: float) -> str:
    """A target of ``info``: ``"5 %"`` for a proportion (as typed, no rounding), else its format."""
    return f"{100 * target:g} %" if info.is_proportion else info.text(target)


def agents_text(agents: Any, *, steps: bool = False) -> str:
    """A group's anonymous agents as said: ``"3"``, or for a staffing profile its range ``"2-6"``
    (with ``steps``: ``"2-6 (rota: 00:00 2, 09:00 6, 11:00 3)"``)."""
    profile = getattr(agents, "profile", None)
    if profile is None:
        return str(agents)
    counts = [int(n) for _, n in profile]
    span = f"{min(counts)}-{max(counts)}" if min(counts) != max(counts) else str(counts[0])
    return f"{span} (rota: {', '.join(f'{c} {n}' for c, n in profile)})" if steps else span
