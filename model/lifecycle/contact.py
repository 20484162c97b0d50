"""One contact driven through the lifecycle on a virtual clock: the reference model that
notebooks, the conformance suite and other implementations' tests use."""

from __future__ import annotations

from typing import Any, Literal

from statemachine.exceptions import TransitionNotAllowed

from .chart import EVENTS, TransferLifecycle, due_timer
from .compiled import COMPILED, refusal_reason
from .data import ContactData
from .rules import RESERVED_DATA, EventNotAllowed, SimTime, TransferRules


class Contact:
    """One contact driven through the lifecycle on a virtual clock.

    ``send(event, now=t, **data)`` first moves the clock to ``t``, firing any timer due at or
    before ``t`` (timers due at an instant fire before events sent at that instant), then takes
    the event. A refused event raises :class:`EventNotAllowed` and changes nothing.

    A timer of length 0 is due at the instant it starts, so it fires at once: on arrival (a
    ``dissuasion_timeout`` of 0) or right after the event that starts it (a ``transfer_timeout``
    of 0 after ``request_transfer``). The state read at any time is therefore the state after
    every timer due by then, and ``advance`` to the current time changes nothing.
    :attr:`fired` lists the timers fired, with their times.

    Args:
        rules: the service's timeouts, policy and target membership.
        now: the arrival time (the dissuasion timer starts here).
        engine: ``"chart"`` runs the python-statemachine ``StateChart`` (the formal reference);
            ``"compiled"`` runs :data:`~model.lifecycle.COMPILED`; both give the same behaviour.
        auto_timers: fire due timers on ``advance``/``send`` (off when the driver sends timer
            events itself, as the simulation does).
    """

    def __init__(
        self,
        rules: TransferRules | None = None,
        now: SimTime = 0.0,
        engine: Literal["chart", "compiled"] = "chart",
        auto_timers: bool = True,
    ) -> None:
        self.data = ContactData(rules, now)
        self.data.now = now
        self.auto_timers = auto_timers
        self.engine = engine
        self._chart = (
            TransferLifecycle(model=self.data, state_field="chart_state") if engine == "chart" else None
        )
        self.fired: list[tuple[SimTime, str]] = []
        """Every timer event this contact's clock fired, with its time, in order."""
        self._fire_due(now)  # a dissuasion timer of length 0 fires as the contact arrives

    # read-only views of the data
    @property
    def state(self) -> str:
        return self.data.state

    @property
    def now(self) -> SimTime:
        return self.data.now

    def due_timer(self, now: SimTime) -> str | None:
        """The timer event due at or before ``now`` in the current state, if any."""
        timer = due_timer(self.data, now)
        return None if timer is None else timer.event

    def advance(self, now: SimTime) -> list[tuple[SimTime, str]]:
        """Move the clock to ``now``; return the timer events fired, with their times."""
        if now < self.data.now:
            raise ValueError(f"time cannot go back: {now} < {self.data.now}")
        fired = self._fire_due(now)
        self.data.now = now
        return fired

    def _fire_due(self, until: SimTime) -> list[tuple[SimTime, str]]:
        """Fire (when :attr:`auto_timers`) every timer due at or before ``until``, each at its
        deadline; return them with their times."""
        fired: list[tuple[SimTime, str]] = []
        if self.auto_timers:
            while (timer := due_timer(self.data, until)) is not None:
                at = timer.deadline_of(self.data)
                self.data.now = at
                self._take(timer.event, {"now": at})
                fired.append((at, timer.event))
        self.fired += fired
        return fired

    def send(self, event: str, now: SimTime | None = None, **data: Any) -> str:
        """Advance to ``now`` (default: the current time), then take ``event``; return the state
        at that instant (after a timer of length 0 that the event started has fired)."""
        self.advance(self.data.now if now is None else now)
        data["now"] = self.data.now
        self._take(event, data)
        self._fire_due(self.data.now)  # a timer of length 0 is due at the instant it starts
        return self.state

    def _take(self, event: str, data: dict[str, Any]) -> str:
        if "target" in data:
            data["to"] = data.pop("target")
        reserved = RESERVED_DATA & data.keys()
        if reserved:
            raise ValueError(f"event data may not use the names {sorted(reserved)} (reserved by the statechart)")
        if event not in EVENTS:
            raise EventNotAllowed(event, self.state, f"unknown event; events are {', '.join(EVENTS)}")
        if self._chart is None:
            return COMPILED.send(self.data, event, **data)
        try:
            self._chart.send(event, **data)
        except TransitionNotAllowed:
            raise EventNotAllowed(event, self.state, refusal_reason(self.data, event, data)) from None
        return self.state
