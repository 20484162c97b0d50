"""The chart flattened once into a lookup table for the simulation's hot path.

Building one ``StateChart`` per simulated contact would cost far more than the simulation
itself; :class:`CompiledLifecycle` runs the very same guards and actions from the table
:func:`~model.lifecycle.transition_table` derives from the chart. Tests prove the two equivalent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from statemachine import StateChart

from .chart import TransferLifecycle, transition_table
from .data import CLAUSES, ContactData, failed_clause
from .rules import EventNotAllowed

_Test = tuple[Callable[[ContactData, Any], bool], "str | None", Any]  # (clause test, its event-data item, default)
_Candidate = tuple[str, tuple[_Test, ...], tuple[Callable[..., None], ...], tuple[str, ...]]


class CompiledLifecycle:
    """``(leaf state, event) -> candidate transitions`` with their guard and action methods.

    Candidates are ordered as the chart selects them (see :func:`~model.lifecycle.transition_table`);
    the first whose guards all hold is taken. Each guard is unrolled into its clauses' tests
    (:data:`~model.lifecycle.CLAUSES`), the very predicates the chart's guard methods run, one
    call each instead of one per guard plus one per clause.
    """

    def __init__(self, chart: type[StateChart] = TransferLifecycle) -> None:
        self.chart = chart
        self.table: dict[str, dict[str, list[_Candidate]]] = {
            state: {
                event: [
                    (row.target, tuple((c.test, c.arg, c.default) for g in row.guards for c in CLAUSES[g]),
                     tuple(getattr(ContactData, a) for a in row.actions), row.guards)
                    for row in rows
                ]
                for event, rows in by_event.items()
            }
            for state, by_event in transition_table(chart).items()
        }

    def allowed(self, state: str) -> frozenset[str]:
        """Events with at least one transition out of ``state`` (guards not evaluated)."""
        return frozenset(self.table[state])

    def send(self, data: ContactData, event: str, /, **kwargs: Any) -> str:
        """Take ``event`` on ``data``; return the new leaf state or raise :class:`EventNotAllowed`."""
        state = data.state
        candidates = self.table[state].get(event)
        if candidates is None:
            raise EventNotAllowed(event, state, "no transition")
        for target, guards, actions, _ in candidates:
            for test, arg, default in guards:
                if not test(data, kwargs.get(arg, default)):  # type: ignore[arg-type]
                    break
            else:
                for a in actions:
                    a(data, **kwargs)
                data.chart_state = target
                return target
        raise EventNotAllowed(event, state, refusal_reason(data, event, kwargs, candidates))


def refusal_reason(
    data: ContactData,
    event: str,
    kwargs: Mapping[str, Any],
    candidates: list[_Candidate] | None = None,
) -> str:
    """Name the guards that failed for ``event``, each with its first failing clause."""
    if candidates is None:
        candidates = COMPILED.table[data.state].get(event)
        if candidates is None:
            return "no transition"
    failed = {}
    for *_, guards in candidates:
        for g in guards:
            clause = failed_clause(g, data, dict(kwargs))
            if clause is not None:
                failed[g] = clause.text
    if not failed:
        return "guard failed"
    return "guard failed: " + ", ".join(f"{g} [{failed[g]}: false]" for g in sorted(failed))


COMPILED = CompiledLifecycle()
"""The compiled form of :class:`TransferLifecycle`, built once at import."""
