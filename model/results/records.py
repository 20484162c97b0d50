"""The rows the engine records, as named records next to the column lists they fill.

The engine appends one :class:`EventRow` per transition, one :class:`TransferRow` per transfer
request (when it ends, or ``open`` at the horizon) and one :class:`TimelineRow` per group and
sample; :mod:`model.sim.run` turns them into the frames of a
:class:`~model.results.result.SimulationResult`, whose columns are these fields with the
replication number in front.
"""

from __future__ import annotations

from typing import NamedTuple


class EventRow(NamedTuple):
    """One transition of one contact (``from_state`` is ``None`` for the arrival)."""

    time: float
    contact: int
    service: str
    event: str
    from_state: str | None
    to_state: str
    agent: str | None  # offers to several agents: their names joined by ","
    group: str | None
    target: str | None


class TransferRow(NamedTuple):
    """One transfer request and how it ended (``outcome``: the final state, ``accepted``,
    ``returned``, or ``open`` at the horizon)."""

    contact: int
    service: str
    group: str
    target: str
    requested_at: float
    outcome: str
    ended_at: float
    time_to_join: float  # NaN unless accepted
    offers: int
    rejects: int
    counted: bool


class TimelineRow(NamedTuple):
    """One group at one sample time."""

    time: float
    group: str
    waiting_transfers: int  # transfers aimed at the group, not yet ended
    busy_slots: int
    slots: int
    arrivals: int  # new contacts entering through the group since the last sample


EVENT_COLUMNS: list[str] = ["replication", *EventRow._fields]
TRANSFER_COLUMNS: list[str] = ["replication", *TransferRow._fields]
TIMELINE_COLUMNS: list[str] = ["replication", *TimelineRow._fields]

__all__ = ["EventRow", "TransferRow", "TimelineRow", "EVENT_COLUMNS", "TRANSFER_COLUMNS", "TIMELINE_COLUMNS"]
