"""How each reported figure is shown: one record per metric, the only place that says it.

Why: the CLI, the charts and the HTML report all print the same figures. Each record here gives a
metric's unit, its short label, one plain-words sentence a supervisor understands (the meaning of
LIFECYCLE.md, "What is measured"), which direction is better, how a value becomes text and, where
charts draw it in a colour of its own, that colour. Adding a metric to the results means adding one
record here (``tests/test_figures.py`` fails until it exists); nothing else has a dict of labels,
units, formats or colours.

The records are called "figures", LIFECYCLE.md's word for a reported number; the class is
:class:`FigureInfo` so that it never reads like matplotlib's ``Figure`` in the chart modules.

What is computed (counts, rates, which figures are proportions) stays in :mod:`.metrics`: this
module names a proportion's unit ``%``, and ``tests/test_figures.py`` checks that these are exactly
:data:`.metrics.PROPORTIONS` (the figures whose intervals are clipped to [0, 1]).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from ..errors import TransferSimError
from .metrics import METRICS, SERVICE_LEVEL_SECONDS

__all__ = [
    "Better",
    "FigureInfo",
    "FIGURES",
    "GROUP_METRICS",
    "RATE_FORMS",
    "RateError",
    "REPORTED",
    "better_direction",
    "count",
    "figure",
    "parse_rate",
    "percent",
    "ratio",
    "seconds",
]

Better = Literal["lower", "higher"]

GROUP_METRICS: tuple[str, ...] = ("agent_occupancy", "staffed_agents")
"""The figures reported per agent group (``scope == "group"``) rather than per service or target."""

REPORTED: tuple[str, ...] = (*METRICS, *GROUP_METRICS)
"""Every metric name a result carries, in LIFECYCLE.md's order."""


# -- values as text ---------------------------------------------------------------------------------

def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def percent(x: float | None) -> str:
    """A proportion as ``"12.3 %"``, clipped to 0-100 % (a rounding error never shows as -0.0 %
    or 100.1 %); ``"-"`` when there is no value (NaN or ``None``)."""
    if _missing(x):
        return "-"
    return f"{100 * min(max(float(x), 0.0), 1.0) + 0.0:.1f} %"


def seconds(x: float | None) -> str:
    """A time as ``"45.2 s"``; ``"-"`` when there is no value."""
    if _missing(x):
        return "-"
    return f"{float(x) + 0.0:.1f} s"


def count(x: float | None) -> str:
    """A count (a mean over replications): ``"12.5"`` under 100, ``"1,234"`` from 100 on;
    ``"-"`` when there is no value."""
    if _missing(x):
        return "-"
    x = float(x) + 0.0
    return f"{x:,.1f}" if abs(x) < 100 else f"{x:,.0f}"


def ratio(x: float | None) -> str:
    """A ratio such as rejects per transfer, as ``"0.25"``; ``"-"`` when there is no value."""
    if _missing(x):
        return "-"
    return f"{float(x) + 0.0:.2f}"


_FORMATS: dict[str, Callable[[float | None], str]] = {"%": percent, "s": seconds, "per transfer": ratio}


# -- the record ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FigureInfo:
    """How one metric is shown.

    Attributes:
        name: the metric's name in results (``METRICS``, ``agent_occupancy``).
        unit: ``"%"`` for a proportion, ``"s"`` for a time, ``"per transfer"`` for a ratio, or what
            a count counts (``"contacts"``, ``"transfers"``).
        label: a short label for a legend, an axis or a table (lower case).
        definition: one sentence in plain words.
        better: ``"lower"`` or ``"higher"`` is better; ``None`` when neither (arrivals, occupancy).
        of: what a proportion or a ratio is taken over (``"transfer requests"``, ``"contacts"``);
            ``None`` for counts and times.
        colour: the colour charts draw this figure in (a hex of the Okabe-Ito palette), or ``None``
            when charts take the next colour of the palette.
    """

    name: str
    unit: str
    label: str
    definition: str
    better: Better | None
    of: str | None = None
    colour: str | None = None

    @property
    def is_proportion(self) -> bool:
        """Whether the value lies in [0, 1] and is shown as a percentage."""
        return self.unit == "%"

    @property
    def format(self) -> Callable[[float | None], str]:
        """The function that turns a value of this figure into text (``"-"`` for no value)."""
        return _FORMATS.get(self.unit, count)

    def text(self, value: float | None) -> str:
        """``value`` as text in this figure's unit, e.g. ``"12.3 %"``, ``"45.0 s"``, ``"1,234"``."""
        return self.format(value)

    @property
    def axis_label(self) -> str:
        """An axis or colour-bar label with the unit: ``"share of transfer requests (%)"`` for a
        proportion, ``"mean time to join (s)"`` for a time, the label itself for a count or a ratio
        (it names what is counted)."""
        if self.is_proportion:
            return f"share of {self.of} (%)" if self.of else f"{self.label} (%)"
        if self.unit == "s":
            return f"{self.label} (s)"
        return self.label


def _share(name: str, label: str, of: str, definition: str, better: Better | None,
           colour: str | None = None) -> FigureInfo:
    return FigureInfo(name, "%", label, definition, better, of, colour)


def _count(name: str, unit: str, label: str, definition: str, better: Better | None,
           colour: str | None = None) -> FigureInfo:
    return FigureInfo(name, unit, label, definition, better, None, colour)


def _ratio(name: str, label: str, definition: str, better: Better | None) -> FigureInfo:
    return FigureInfo(name, "per transfer", label, definition, better, "transfer requests")


def _time(name: str, label: str, definition: str, better: Better | None) -> FigureInfo:
    return FigureInfo(name, "s", label, definition, better)


_SL = f"{SERVICE_LEVEL_SECONDS:g} s"

_TABLE: tuple[FigureInfo, ...] = (
    _count("arrivals", "contacts", "arrivals",
           "Contacts that arrived after the warm-up.", None),
    _count("completed", "contacts", "completed",
           "Contacts whose conversation ended normally.", "higher", colour="#009E73"),
    _count("abandoned_queue", "contacts", "abandoned in queue",
           "Contacts whose customer left while waiting for a first agent.", "lower", colour="#E69F00"),
    _count("dissuaded", "contacts", "dissuaded",
           "Contacts turned away because they waited in the queue longer than the dissuasion timeout.",
           "lower", colour="#F0E442"),
    _count("abandoned_transfer", "contacts", "abandoned during transfer",
           "Contacts whose customer left while a transfer was waiting for an agent to join.", "lower",
           colour="#CC79A7"),
    _count("transfer_expired", "contacts", "transfer expired",
           "Contacts whose transfer timed out before any agent joined (the guide's \"abandoned\").", "lower",
           colour="#D55E00"),
    _count("transfers_requested", "transfers", "transfers requested",
           "Transfers that agents asked for.", None),
    _count("transfers_accepted", "transfers", "transfers joined (accepted)",
           "Transfers that a receiving agent accepted, joining the conversation.", "higher", colour="#009E73"),
    _share("transfer_abandonment_rate", "transfer abandonment (expired or abandoned)", "transfer requests",
           "Share of transfer requests lost before an agent joined: the transfer timer ran out, or the customer "
           "left.", "lower", colour="#0072B2"),
    _share("transfer_success_rate", "transfer success (joined)", "transfer requests",
           "Share of transfer requests that an agent accepted.", "higher", colour="#009E73"),
    _share("queue_abandonment_rate", "queue abandonment", "contacts",
           "Share of contacts that left, or were dissuaded, while waiting for a first agent.", "lower"),
    _share("abandonment_rate", "contacts not completed", "contacts",
           "Share of contacts that did not end normally (left or dissuaded in the queue, left during or "
           "expired in a transfer).", "lower"),
    _share("service_level", "service level (assigned within threshold)", "contacts",
           "Share of contacts assigned to a first agent within the service's service-level threshold "
           f"(default {_SL}) of arriving.", "higher", colour="#56B4E9"),
    _time("wait_mean", "mean wait in queue",
          "Average time a contact waited in the queue before its first agent took it (assigned contacts only).",
          "lower"),
    _share("transfer_service_level", f"transfers joined within {_SL}", "transfer requests",
           f"Share of transfer requests that an agent joined within {_SL} of the request.", "higher"),
    _ratio("rejects_per_transfer", "rejects per transfer",
           "How many times, on average, a receiving agent rejected a transfer request.", "lower"),
    _ratio("offers_per_transfer", "offers per transfer",
           "How many times, on average, a transfer request was offered to an agent.", "lower"),
    _time("time_to_join_mean", "mean time to join",
           "Average time from a transfer request until an agent accepted it (joined transfers only).", "lower"),
    _time("time_to_join_p50", "median time to join",
           "Half of the joined transfers were joined within this time.", "lower"),
    _time("time_to_join_p90", "time to join, 90th percentile",
           "Nine in ten joined transfers were joined within this time.", "lower"),
    _time("time_to_join_p95", "time to join, 95th percentile",
           "Nineteen in twenty joined transfers were joined within this time.", "lower"),
    _share("agent_occupancy", "agent occupancy", "chat slots on shift",
           "Share of the group's staffed chat-slot time spent in conversations (slots count while their agent "
           "is on shift, or still finishing chats after the shift ended).", None),
    _count("staffed_agents", "agents", "agents on shift",
           "Average number of the group's agents on shift (its rota: a staffing profile, named agents' shifts).",
           None),
)

FIGURES: Mapping[str, FigureInfo] = MappingProxyType({f.name: f for f in _TABLE})
"""Every reported metric's record, by name, in LIFECYCLE.md's order (read-only)."""


def figure(name: str) -> FigureInfo:
    """The record of metric ``name``; a ``KeyError`` naming the known metrics when there is none."""
    try:
        return FIGURES[name]
    except (KeyError, TypeError):
        raise KeyError(f"no figure {name!r}; known: {', '.join(FIGURES)}") from None


def better_direction(metric: str) -> Better | None:
    """``"higher"`` or ``"lower"`` is better for ``metric``; ``None`` for a neutral or unknown name."""
    info = FIGURES.get(metric)
    return None if info is None else info.better


# -- rates as typed ---------------------------------------------------------------------------------

RATE_FORMS = "a rate is a fraction (0.05) or a percent (5%)"


class RateError(TransferSimError, ValueError):
    """A rate typed in a form that cannot be read (not a number, above 100 %, 5 without %)."""


def parse_rate(text: str | float, option: str | None = None) -> float:
    """A proportion as typed: ``"5%"``, ``"5 %"`` and ``"0.05"`` are all 0.05.

    A bare number above 1 is refused rather than guessed (``"5"`` could be 5 % or a mistake), as are
    values below 0 or above 100 %, NaN and infinities. The :class:`RateError` names ``option``
    (``"--target 5: a rate is a fraction (0.05) or a percent (5%)"``). The one reader of a typed
    rate: the CLI's targets build on it.
    """
    raw = str(text).strip()
    shown = raw or repr(raw)
    lead = f"{option} {shown}" if option else shown
    percent_ = raw.endswith("%")
    body = raw[:-1].strip() if percent_ else raw
    try:
        value = float(body)
    except ValueError:
        raise RateError(f"{lead}: not a number; {RATE_FORMS}") from None
    if not math.isfinite(value):
        raise RateError(f"{lead}: not a finite number; {RATE_FORMS}")
    if not percent_ and value > 1:
        raise RateError(f"{lead}: {RATE_FORMS}")
    if percent_:
        value /= 100.0
    if not 0.0 <= value <= 1.0:
        raise RateError(f"{lead}: a rate lies from 0 to 1 (0 % to 100 %); {RATE_FORMS}")
    return value + 0.0  # -0.0 -> 0.0
