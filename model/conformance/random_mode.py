"""Random mode: Hypothesis stateful testing of the model and an implementation together.

A :class:`~hypothesis.stateful.RuleBasedStateMachine` picks a configuration, then takes a move at
every step, drawn (weighted) from :data:`.random_walk.MOVES` and made concrete from what the
reference model says about its state: events it takes (the transfer going round: rejects, offer
timeouts and withdraws followed by re-offers, offers to every eligible agent and one of several
holders answering), events it refuses (a ``close`` while ``routing``, an ``accept`` after
expiry, an offer to an agent that rejected), events that end the contact, and advances to
exactly a pending timer's deadline, just before or after it, or part way. One rule draws the
move, rather than a rule per move: Hypothesis's swarm testing switches whole rules off for an
example, and with rules per move finding a bug took about twice as many timelines.

Every step runs on the reference model and on the implementation, and what each observes is
compared. When a contact has ended, the walk goes on with a new contact in the same timeline.
A disagreement is cut to the failing contact's own timeline, then to a 1-minimal one
(:func:`_minimize`), and returned as a JSON case (the model's observations as its expectations)
that the runner replays. Hypothesis's own shrinking is off: it replayed whole timelines for
seconds and found cases no shorter. The coverage goals the walk reached (:mod:`.goals`) are
reported as for a suite.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, seed as hypothesis_seed, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from ..lifecycle import FINAL_STATES, Contact
from . import random_walk as walk
from .adapters import Adapter, AdapterError
from .goals import CONFIGS, Goal, Tracer, with_expectations
from .runner import CaseResult, run_case
from .suite_format import SCHEMA, SCHEMA_VERSION

__all__ = ["RandomResult", "random_check", "walk_coverage", "DEFAULT_MAX_EXAMPLES", "DEFAULT_MAX_STEPS"]

DEFAULT_MAX_EXAMPLES = 300
"""Timelines a default run tries (the CLI's ``--max-examples``): with the default seed it finds
every bug of the example implementations (tests/test_conformance_random.py), and runs in a few
seconds against the JavaScript example."""
DEFAULT_MAX_STEPS = 25
"""Steps of each timeline after the first arrival (the CLI's ``--max-steps``)."""

_INDEX = st.integers(0, 255)
"""Which of the model's candidates a move takes (spread over events first, see :func:`.random_walk.pick`)."""


@dataclass
class RandomResult:
    """Outcome of :func:`random_check`.

    ``case`` is the minimal failing timeline as a case (``None`` when everything agreed) and
    ``replay`` the runner's result on it (its first difference). ``examples`` counts the
    timelines run (up to the first disagreement when one was found) and ``contacts`` the
    contacts driven in them; ``coverage`` is what the walk reached, per dimension, in the shape
    of :func:`~model.conformance.suite.suite_coverage`.
    """

    passed: bool
    max_examples: int
    case: dict[str, Any] | None = None
    replay: CaseResult | None = None
    message: str = ""
    examples: int = 0
    contacts: int = 0
    coverage: dict[str, dict[str, Any]] = field(default_factory=dict)

    def suite(self) -> dict[str, Any] | None:
        """The failing case wrapped as a one-case suite (what ``--out`` writes)."""
        if self.case is None:
            return None
        return {"schema": SCHEMA, "version": SCHEMA_VERSION, "cases": [self.case]}


class _Disagreement(AssertionError):
    pass


def _machine(adapter: Adapter, configs: Mapping[str, Mapping[str, Any]], record: dict[str, Any]) -> type:
    names = sorted(configs)
    goals: set[Goal] = record.setdefault("goals", set())

    class ConformanceMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.model: Tracer | None = None
            self.steps: list[dict[str, Any]] = []
            self.config: dict[str, Any] = {}
            self.sends: list[walk.Send] = []
            self.timer_ended = False

        @initialize(name=st.sampled_from(names))
        def arrive(self, name: str) -> None:
            self.config = copy.deepcopy(dict(configs[name]))
            self.sends = walk.sends_for(self.config)
            record["examples"] = record.get("examples", 0) + 1
            self._new_contact()

        @rule(move=st.sampled_from(walk.MOVES), i=_INDEX, kind=st.sampled_from(walk.DEADLINE_KINDS))
        def step(self, move: str, i: int, kind: str) -> None:
            """One move of the walk (:func:`.random_walk.plan`), or a new contact after an ended one."""
            if self._restarted(move):
                return
            for planned in walk.plan(move, self._m, self.config, self.sends, i, kind):
                taken = walk.concrete(planned, self._m, self.config)
                if isinstance(taken, float):
                    self._advance(taken)
                else:
                    self._send(taken)

        def teardown(self) -> None:
            self._do(adapter.dispose)  # a failing dispose is the implementation's failure too

        # -- helpers ------------------------------------------------------------------------
        @property
        def _m(self) -> Contact:
            """The reference model's contact (what the moves read)."""
            assert self.model is not None
            return self.model.contact

        def _new_contact(self) -> None:
            if self.model is not None:
                self._do(adapter.dispose)
            self.model = Tracer(self.config)
            self.steps = []
            self.timer_ended = False
            record["contacts"] = record.get("contacts", 0) + 1
            goals.update(self.model.start())
            self._do(lambda: adapter.create(copy.deepcopy(self.config)))
            self._check(None)

        def _restarted(self, move: str) -> bool:
            """Once the contact has ended, a ``wrong`` move still sends it an event (all are
            refused: an ``accept`` after ``abandoned_transfer``), and so does the first step after
            a timer ended it (an ``accept`` after expiry); any other move starts a new contact
            instead, so that no step of a timeline is spent on a finished one."""
            if self._m.state not in FINAL_STATES:
                return False
            if move == "wrong" or self.timer_ended:
                self.timer_ended = False
                return False
            self._new_contact()
            return True

        def _send(self, send: walk.Send | None) -> None:
            assert self.model is not None and send is not None
            event, data = send
            self.steps.append({"send": event, "data": copy.deepcopy(data)})
            refused, reached = self.model.send(event, data)
            goals.update(reached)
            taken = self._do(lambda: adapter.send(event, copy.deepcopy(data)))
            self._check(refused, observed_refused=not taken)

        def _advance(self, seconds: float) -> None:
            assert self.model is not None
            self.steps.append({"advance": seconds})
            goals.update(self.model.advance(seconds))
            self.timer_ended = self._m.state in FINAL_STATES
            self._do(lambda: adapter.advance(seconds))
            self._check(None)

        def _case(self) -> dict[str, Any]:
            return _make_case(self.config, self.steps)

        def _fail(self, message: str) -> _Disagreement:
            record["case"] = self._case()
            if "found" not in record:  # the first disagreement: what the walk had done until then
                record["found"] = (record.get("examples", 0), record.get("contacts", 0), set(goals))
            return _Disagreement(message)

        def _do(self, call: Any) -> Any:
            try:
                return call()
            except AdapterError as err:
                raise self._fail(f"adapter error: {err}") from None
            except Exception as err:  # broad on purpose: whatever the implementation raises (Python adapter)
                raise self._fail(f"implementation raised {type(err).__name__}: {err}") from None

        def _check(self, refused: bool | None, observed_refused: bool | None = None) -> None:
            assert self.model is not None
            expected = self.model.observation()
            observed = self._do(adapter.read)
            if refused is not None:
                expected["refused"] = refused
                observed["refused"] = observed_refused
            diffs = {k: (v, observed.get(k)) for k, v in expected.items() if v != observed.get(k)}
            if diffs:
                raise self._fail("; ".join(f"{k}: expected {e!r}, observed {o!r}" for k, (e, o) in diffs.items()))

    return ConformanceMachine


def walk_coverage(goals: set[Goal]) -> dict[str, dict[str, Any]]:
    """Coverage of the goals a walk reached, per dimension, as
    :func:`~model.conformance.suite.suite_coverage` reports a suite's (goals the generator finds
    unreachable in its configurations are marked so)."""
    from .suite import coverage_of, default_suite

    return coverage_of(goals, default_suite()["generator"].get("unreachable") or {})


def _make_case(config: Mapping[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
    """A case from a timeline: the model's observations as the expectations."""
    return {
        "id": "random-minimal",
        "title": f"minimal failing timeline found by the random mode ({len(steps)} steps)",
        "config": copy.deepcopy(dict(config)),
        "steps": with_expectations(config, steps),
    }


def _minimize(adapter: Adapter, case: dict[str, Any]) -> dict[str, Any]:
    """Shrink a failing timeline: drop single steps, and join two advances in a row into one,
    while the case still fails, to a 1-minimal timeline (removing any one step makes it pass).
    Each pass keeps its place after a removal, so a pass is one replay per step."""
    config = case["config"]
    steps = [s for s in case["steps"] if "expect" not in s]

    def fails(trial: list[dict[str, Any]]) -> bool:
        return not run_case(adapter, _make_case(config, trial)).passed

    changed = True
    while changed:
        changed = False
        i = 0
        while i < len(steps):
            trial = steps[:i] + steps[i + 1 :]
            if fails(trial):
                steps, changed = trial, True
            else:
                i += 1
        i = 0
        while i < len(steps) - 1:
            if "advance" in steps[i] and "advance" in steps[i + 1]:
                trial = steps[:i] + [{"advance": steps[i]["advance"] + steps[i + 1]["advance"]}] + steps[i + 2 :]
                if fails(trial):
                    steps, changed = trial, True
                    continue
            i += 1
    return _make_case(config, steps)


@contextmanager
def _same_walk_in_every_process() -> Iterator[None]:
    """Hide from Hypothesis the literals it collects in the source of the local modules loaded.

    Hypothesis (recent versions) now and then draws a constant found in the project's loaded modules;
    the CLI and pytest load different ones, and an edit of any literal anywhere would change a
    derandomized run. Without them a seed is the same walk in every process. This is private
    Hypothesis API: where it is missing, nothing is hidden (a run is then repeatable within one
    kind of process only)."""
    try:
        from hypothesis.internal.conjecture import providers

        original, cache, empty = providers._get_local_constants, providers.CONSTANTS_CACHE, providers.Constants()
    except (ImportError, AttributeError):
        yield
        return
    providers._get_local_constants = lambda: empty
    cache.cache.clear()  # allowed constants computed with the local ones
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.cache.clear()


def random_check(
    adapter: Adapter,
    *,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    max_steps: int = DEFAULT_MAX_STEPS,
    seed: int | None = None,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
) -> RandomResult:
    """Drive the model and ``adapter`` together on random timelines; shrink a disagreement;
    report the coverage goals the walk reached (until the disagreement, when one was found).

    Args:
        adapter: the implementation under test.
        max_examples: how many random timelines Hypothesis tries.
        max_steps: the steps of a timeline after its first arrival (a new contact arrives when
            one has ended, within the same timeline).
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
        phases=(Phase.explicit, Phase.generate),  # no Hypothesis shrinking: _minimize is as short, far faster
        derandomize=seed is None,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        print_blob=False,
    )
    try:
        with _same_walk_in_every_process():
            run_state_machine_as_test(machine, settings=opts)
    except Exception as err:  # broad on purpose: a recorded disagreement becomes the result, anything else re-raises
        case = record.get("case")
        if case is None:
            raise
        examples, contacts, reached = record["found"]
        coverage = walk_coverage(reached)
        case = _minimize(adapter, case)
        replay = run_case(adapter, case)
        message = str(err).splitlines()[0] if str(err) else ""
        return RandomResult(False, max_examples, case, replay, message, examples, contacts, coverage)
    return RandomResult(
        True, max_examples, examples=record.get("examples", 0), contacts=record.get("contacts", 0),
        coverage=walk_coverage(record.get("goals", set())),
    )
