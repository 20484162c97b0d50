"""Random mode: Hypothesis stateful testing of the model and an implementation together.

A :class:`~hypothesis.stateful.RuleBasedStateMachine` picks a configuration, then sends events
(from the generator's data palette) and advances the clock (by a second, or to just before, at
or just after the pending deadline), running every step on the reference model and on the
implementation and comparing what each observes. Hypothesis shrinks a disagreement to a minimal
sequence of steps; that sequence is returned as a JSON case (the model's observations as its
expectations) which the runner replays.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Verbosity, seed as hypothesis_seed, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from ..lifecycle import EVENTS, FINAL_STATES, TIMER_EVENTS, allowed_events, transitions
from .adapters import Adapter, AdapterError
from .goals import CONFIGS, EPSILON, PALETTE, Tracer, with_expectations
from .runner import CaseResult, run_case
from .suite_format import SCHEMA, SCHEMA_VERSION

__all__ = ["RandomResult", "random_check"]

_SENDS: list[tuple[str, dict[str, Any]]] = [(e, d) for e, datas in PALETTE.items() for d in datas]
_ENDING = frozenset(e for e in EVENTS if all(r.target in FINAL_STATES for r in transitions() if r.event == e))
"""Events that always end the contact (``close``, ``customer_leave``, ...)."""
_NOT_PROGRESS = TIMER_EVENTS | _ENDING
_ADVANCES = ("1 s", "just before the deadline", "at the deadline", "just after the deadline")


@dataclass
class RandomResult:
    """Outcome of :func:`random_check`.

    ``case`` is the minimal failing timeline as a case (``None`` when everything agreed) and
    ``replay`` the runner's result on it (its first difference).
    """

    passed: bool
    max_examples: int
    case: dict[str, Any] | None = None
    replay: CaseResult | None = None
    message: str = ""

    def suite(self) -> dict[str, Any] | None:
        """The failing case wrapped as a one-case suite (what ``--out`` writes)."""
        if self.case is None:
            return None
        return {"schema": SCHEMA, "version": SCHEMA_VERSION, "cases": [self.case]}


class _Disagreement(AssertionError):
    pass


def _machine(adapter: Adapter, configs: Mapping[str, Mapping[str, Any]], record: dict[str, Any]) -> type:
    names = sorted(configs)

    class ConformanceMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.model: Tracer | None = None
            self.steps: list[dict[str, Any]] = []
            self.config: dict[str, Any] = {}

        @initialize(name=st.sampled_from(names))
        def arrive(self, name: str) -> None:
            self.config = copy.deepcopy(dict(configs[name]))
            self.model = Tracer(self.config)
            self.steps = []
            self._do(lambda: adapter.create(self.config))
            self._check(None)

        @rule(i=st.integers(0, len(_SENDS) - 1))
        def send(self, i: int) -> None:
            """Any event, any palette data (mostly refusals)."""
            self._send(*_SENDS[i])

        @rule(i=st.integers(0, 63))
        def send_enabled(self, i: int) -> None:
            """An event that moves the contact on from its current state (keeps the walk going):
            the ending events (``close``, ``customer_leave``) and the timers are left to ``send``."""
            assert self.model is not None
            enabled = allowed_events(self.model.contact.state)
            choices = [(e, d) for e, d in _SENDS if e in enabled and e not in _NOT_PROGRESS]
            if choices:
                self._send(*choices[i % len(choices)])

        def _send(self, event: str, data: dict[str, Any]) -> None:
            assert self.model is not None
            step = {"send": event, "data": copy.deepcopy(data)}
            self.steps.append(step)
            refused, _ = self.model.send(event, data)
            taken = self._do(lambda: adapter.send(event, copy.deepcopy(data)))
            self._check(refused, observed_refused=not taken)

        @rule(kind=st.sampled_from(_ADVANCES))
        def advance(self, kind: str) -> None:
            m = self.model
            assert m is not None
            seconds = 1.0
            deadlines = m.deadlines
            offset = {"just before the deadline": -EPSILON, "at the deadline": 0.0, "just after the deadline": EPSILON}
            if kind in offset:
                ahead = [d + offset[kind] - m.now for d in deadlines if d + offset[kind] - m.now > 0]
                if ahead:
                    seconds = min(ahead)
            step = {"advance": seconds}
            self.steps.append(step)
            m.advance(seconds)
            self._do(lambda: adapter.advance(seconds))
            self._check(None)

        def teardown(self) -> None:
            self._do(adapter.dispose)  # a failing dispose is the implementation's failure too

        # -- helpers ------------------------------------------------------------------------
        def _case(self) -> dict[str, Any]:
            return _make_case(self.config, self.steps)

        def _do(self, call: Any) -> Any:
            try:
                return call()
            except AdapterError as err:
                record["case"] = self._case()
                raise _Disagreement(f"adapter error: {err}") from None
            except Exception as err:  # broad on purpose: whatever the implementation raises (Python adapter)
                record["case"] = self._case()
                raise _Disagreement(f"implementation raised {type(err).__name__}: {err}") from None

        def _check(self, refused: bool | None, observed_refused: bool | None = None) -> None:
            assert self.model is not None
            expected = self.model.observation()
            observed = self._do(adapter.read)
            if refused is not None:
                expected["refused"] = refused
                observed["refused"] = observed_refused
            diffs = {k: (v, observed.get(k)) for k, v in expected.items() if v != observed.get(k)}
            if diffs:
                record["case"] = self._case()
                raise _Disagreement(
                    "; ".join(f"{k}: expected {e!r}, observed {o!r}" for k, (e, o) in diffs.items())
                )

    return ConformanceMachine


def _make_case(config: Mapping[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
    """A case from a timeline: the model's observations as the expectations."""
    return {
        "id": "random-minimal",
        "title": f"minimal failing timeline found by the random mode ({len(steps)} steps)",
        "config": copy.deepcopy(dict(config)),
        "steps": with_expectations(config, steps),
    }


def _minimize(adapter: Adapter, case: dict[str, Any]) -> dict[str, Any]:
    """Finish Hypothesis's shrinking: drop single steps while the case still fails (to a
    1-minimal timeline: removing any one step makes it pass)."""
    steps = [s for s in case["steps"] if "expect" not in s]
    changed = True
    while changed:
        changed = False
        for i in range(len(steps)):
            trial = steps[:i] + steps[i + 1 :]
            candidate = _make_case(case["config"], trial)
            if not run_case(adapter, candidate).passed:
                steps = trial
                changed = True
                break
        for i in range(len(steps) - 1):  # one advance instead of two in a row
            if not changed and "advance" in steps[i] and "advance" in steps[i + 1]:
                trial = steps[:i] + [{"advance": steps[i]["advance"] + steps[i + 1]["advance"]}] + steps[i + 2 :]
                if not run_case(adapter, _make_case(case["config"], trial)).passed:
                    steps = trial
                    changed = True
    return _make_case(case["config"], steps)


def random_check(
    adapter: Adapter,
    *,
    max_examples: int = 100,
    max_steps: int = 25,
    seed: int | None = None,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
) -> RandomResult:
    """Drive the model and ``adapter`` together on random timelines; shrink a disagreement.

    Args:
        adapter: the implementation under test.
        max_examples: how many random timelines Hypothesis tries.
        max_steps: the longest timeline (steps after the arrival).
        seed: a seed for a different exploration; ``None`` is derandomized (repeatable).
        configs: the configurations to draw from (default: the generator's).
    """
    record: dict[str, Any] = {}
    machine = _machine(adapter, dict(CONFIGS if configs is None else configs), record)
    if seed is not None:
        machine = hypothesis_seed(seed)(machine)
    opts = settings(
        max_examples=max_examples,
        stateful_step_count=max_steps,
        deadline=None,
        database=None,
        derandomize=seed is None,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        print_blob=False,
    )
    try:
        run_state_machine_as_test(machine, settings=opts)
    except Exception as err:  # broad on purpose: a recorded disagreement becomes the result, anything else re-raises
        case = record.get("case")
        if case is None:
            raise
        case = _minimize(adapter, case)
        replay = run_case(adapter, case)
        return RandomResult(False, max_examples, case, replay, str(err).splitlines()[0] if str(err) else "")
    return RandomResult(True, max_examples)
