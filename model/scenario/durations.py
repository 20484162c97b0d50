"""Durations ("45s", "5m", "1h30m", 90) and clock times ("08:30"), always stored as float seconds.

Why: files speak in units, the simulation only in seconds (``SimTime = float``).
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Annotated, Any

from pydantic import BeforeValidator

__all__ = ["parse_duration", "parse_clock", "Duration", "NonNegativeDuration"]

_UNIT = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
#: ASCII digits only: ``\d`` (and ``float()``) would also take other scripts' digits, e.g. "٦٠٠"
_NUM = r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+"
_DURATION_RE = re.compile(rf"^(?:({_NUM})d)?(?:({_NUM})h)?(?:({_NUM})m)?(?:({_NUM})s)?$")
_PLAIN_RE = re.compile(rf"^[+-]?(?:{_NUM})$")
_CLOCK_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


def parse_duration(value: Any, *, allow_zero: bool = False) -> float:
    """Seconds from a number of seconds or a string like ``"90"``, ``"45s"``, ``"5m"``, ``"8h"``, ``"1h30m"``.

    Units ``d``, ``h``, ``m``, ``s`` in that order, each at most once, decimals allowed (``"1.5h"``).
    Raises ``ValueError`` for bad syntax and for durations <= 0 (or < 0 with ``allow_zero``).
    """
    if isinstance(value, bool):
        raise ValueError("a duration must be a number of seconds or a string like '45s', '5m', '1h30m'")
    if isinstance(value, numbers.Real):  # int, float, numpy's numbers (bool is refused above)
        try:
            seconds = float(value)
        except OverflowError:  # an integer beyond any float
            raise ValueError("a duration must be finite (this number is too large)") from None
    elif isinstance(value, str):
        text = value.strip().replace(" ", "").lower()
        if _PLAIN_RE.fullmatch(text):
            seconds = float(text)
        else:
            match = _DURATION_RE.fullmatch(text) if text else None
            if match is None or not any(match.groups()):
                raise ValueError(
                    "a duration must be a number of seconds or a string like '45s', '5m', '8h', '1h30m'"
                )
            seconds = sum(float(g) * u for g, u in zip(match.groups(), _UNIT.values()) if g is not None)
    else:
        raise ValueError("a duration must be a number of seconds or a string like '45s', '5m', '1h30m'")
    if not math.isfinite(seconds):
        raise ValueError("a duration must be finite")
    if allow_zero and seconds < 0:
        raise ValueError("a duration must be >= 0")
    if not allow_zero and seconds <= 0:
        raise ValueError("a duration must be > 0")
    return seconds


def parse_clock(value: Any) -> float:
    """Seconds after midnight from a clock time ``"HH:MM"`` (00:00 .. 23:59). Raises ``ValueError``."""
    match = _CLOCK_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError("a clock time must be 'HH:MM' between '00:00' and '23:59'")
    return int(match.group(1)) * 3600.0 + int(match.group(2)) * 60.0


def _positive(value: Any) -> float:
    return parse_duration(value)


def _non_negative(value: Any) -> float:
    return parse_duration(value, allow_zero=True)


def _clock(value: Any) -> str:
    parse_clock(value)
    return value.strip()


#: a duration > 0, in seconds
Duration = Annotated[float, BeforeValidator(_positive)]
#: a duration >= 0, in seconds
NonNegativeDuration = Annotated[float, BeforeValidator(_non_negative)]
#: a clock time "HH:MM", kept as text
Clock = Annotated[str, BeforeValidator(_clock)]
