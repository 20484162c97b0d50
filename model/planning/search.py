"""The search for the fewest agents per cell that meet every target, confirmed by simulation.

From the analytic start (:func:`.staffing.start_cells`) each round simulates the whole day with the
current cells, on the same seed and replications every time (common random numbers: two staffings
are compared on the same customers), and judges every target in every planned interval by the side
of its confidence interval that must meet it (the upper bound of an abandonment rate), the rate
pooled over the simulated days (:mod:`.pooled`):

1. **Repair**: while some (target, interval) fails, add an agent in that interval to the groups of
   the target that fail it themselves (else to the one doing worst).
2. **Trim**: then take an agent from every cell not yet known to be tight; keep the cuts if every
   target still holds; else put back the cuts in the failing intervals and the ones just before
   (a queue carries over), mark them tight and check again.

3. **Confirm**: simulate the result on fresh days (another seed) and repair there (agents only
   added): choosing the cheapest staffing that passes on one set of days flatters it; the fresh
   days' figures are free of that choice and are the ones reported.

Each round is one simulation of all replications, run in parallel on a :class:`Runner`. When a cell
reaches :func:`.staffing.cell_cap` or its figure stops moving while agents are added, no staffing
meets that target at this setting; the search stops and says what came closest.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from ..experiments.executors import Runner
from ..results.intervals import summarise_intervals
from ..results.metrics import summarise
from ..scenario import Scenario
from ..sim.run import combine, run_replication
from .pooled import pooled_rate, wide_intervals
from .staffing import Cells, cell_cap, staffed_scenario
from .targets import PlanTarget

__all__ = ["Evaluation", "Search", "search", "run_chunk", "confirm_seed"]

MAX_ROUNDS = 60
STALL = 3  # agents added to a cell without its figure moving before the target is called out of reach


def confirm_seed(seed: int) -> int:
    """The seed of the fresh days a plan is checked on: derived from the search's, never equal to it."""
    import numpy as np

    return int(np.random.SeedSequence(entropy=[int(seed), 0xC0F1]).generate_state(1)[0])


def run_chunk(scenario: Scenario, seed: int, replications: Sequence[int], step: float) -> list[object]:
    """Replications of ``scenario`` with per-interval figures, no event log (module level: pickled)."""
    return [run_replication(scenario, seed, i, keep_events=False, timeline_step=None, interval=step)
            for i in replications]


@dataclass
class Evaluation:
    """One staffing simulated: its cells, figures (whole run and per interval) and judgement."""

    cells: Cells
    scenario: Scenario
    metrics: pd.DataFrame  # scope, key, metric, mean, ci_low, ci_high, n at the plan's confidence
    intervals: pd.DataFrame  # interval, scope, key, metric, mean, ci_low, ci_high, n
    per_replication_intervals: pd.DataFrame  # replication, interval, scope, key, metric, value
    wide: pd.DataFrame  # the per-replication interval rows, one column per metric (pooled figures)
    failing: list[tuple[PlanTarget, str]]  # (target, interval) not met
    worst: dict[tuple[int, str], tuple[float, float, float]]  # (target index, interval) -> mean, lo, hi

    @property
    def meets(self) -> bool:
        return not self.failing


@dataclass
class Search:
    """The search at one setting (a scenario with the varied settings applied)."""

    scenario: Scenario
    targets: Sequence[PlanTarget]
    labels: Sequence[str]
    step: float
    seed: int
    replications: int
    confidence: float
    runner: Runner
    min_agents: int = 0
    on_round: Callable[[str], None] | None = None
    evaluations: int = 0
    notes: list[str] = field(default_factory=list)

    def evaluate(self, cells: Cells, seed: int | None = None) -> Evaluation:
        """Simulate ``cells`` (all replications, in parallel; the search's seed unless ``seed``) and
        judge every target in every interval."""
        seed = self.seed if seed is None else seed
        sc = staffed_scenario(self.scenario, cells, self.step)
        if seed != sc.simulation.seed:
            sc = sc.with_changes({"simulation.seed": seed})
        workers = max(1, self.runner.workers)
        reps = list(range(self.replications))
        chunks = [reps[i::workers] for i in range(workers) if reps[i::workers]]
        futures = [self.runner.submit(run_chunk, sc, seed, c, self.step) for c in chunks]
        for _ in self.runner.completed(futures):
            pass
        outputs = [o for f in futures for o in f.result()]
        result = combine(sc, seed, outputs)  # type: ignore[arg-type]
        iv = summarise_intervals(result.per_replication_intervals, self.confidence)  # type: ignore[arg-type]
        metrics = summarise(result.per_replication, self.confidence)
        wide = wide_intervals(result.per_replication_intervals)  # type: ignore[arg-type]
        failing, worst = [], {}
        for ti, t in enumerate(self.targets):
            for label in self.labels:
                figures = [f for s in t.checks
                           if (f := pooled_rate(wide, label, s, t.metric, self.confidence)) is not None]
                if not figures:
                    continue  # no such contacts in this interval: nothing to meet
                key = (lambda f: t.bound(*f)) if t.target.op == "<=" else (lambda f: -t.bound(*f))
                w = max(figures, key=key)
                worst[(ti, label)] = w
                if not t.target.met(t.bound(*w)):
                    failing.append((t, label))
        self.evaluations += 1
        return Evaluation(dict(cells), sc, metrics, iv, result.per_replication_intervals,  # type: ignore[arg-type]
                          wide, failing, worst)

    def _say(self, text: str) -> None:
        if self.on_round is not None:
            self.on_round(text)

    def _stalled(self, t: PlanTarget, label: str, figure: tuple[float, float, float], bound: float) -> str:
        text = (f"{t} at {label}: adding agents no longer changes it (stays at {100 * bound:.3g} %): what is "
                "still lost does not wait for an agent (customers leaving while an agent accepts, a timer "
                "shorter than the accept delay, transfers to named agents off shift)")
        mean = figure[0]
        if self.confidence and t.target.met(mean) and mean != t.target.value:
            half = abs(bound - mean)
            days = math.ceil(self.replications * (half / abs(t.target.value - mean)) ** 2 * 1.2)
            text += (f"; its mean, {100 * mean:.3g} %, meets the target but the interval from "
                     f"{self.replications} simulated days is too wide: more replications narrow it "
                     f"(about {days} would do if the mean holds: -r {days})")
        return text

    def _groups_to_grow(self, ev: Evaluation, t: PlanTarget, label: str) -> list[str]:
        failing, scores = [], {}
        for g in t.groups:
            figures = [f for s in t.group_checks(self.scenario, g)
                       if (f := pooled_rate(ev.wide, label, s, t.metric, self.confidence))]
            if not figures:
                continue
            bounds = [t.bound(*f) for f in figures]
            b = max(bounds) if t.target.op == "<=" else min(bounds)
            scores[g] = b if t.target.op == "<=" else -b
            if not t.target.met(b):
                failing.append(g)
        if failing:
            return failing
        return [max(scores, key=scores.__getitem__)] if scores else list(t.groups)

    def run(self, start: Cells) -> tuple[Evaluation, bool]:
        """The fewest-agents cells meeting every target (``True``), or the closest found (``False``).

        The cells found on the search's days are then simulated on fresh days (:func:`confirm_seed`)
        and repaired there too (agents only added), so the plan does not rest on the luck of the days
        it was chosen on; the evaluation returned is the fresh days' one."""
        self._caps = {c: cell_cap(n) for c, n in start.items()}
        ev, met = self._repair(self.evaluate(start), self.seed)
        if not met:
            return ev, False
        ev = self._trim(ev)
        self._say("checking on fresh days")
        return self._repair(self.evaluate(ev.cells, confirm_seed(self.seed)), confirm_seed(self.seed))

    def _repair(self, ev: Evaluation, seed: int) -> tuple[Evaluation, bool]:
        cells = dict(ev.cells)
        history: dict[tuple[int, str], list[float]] = {}
        while not ev.meets:
            if self.evaluations >= MAX_ROUNDS:
                self.notes.append(f"stopped after {MAX_ROUNDS} simulations without meeting every target")
                return ev, False
            self._say(f"adding agents: {len(ev.failing)} target-intervals short")
            grow: set[tuple[str, str]] = set()
            for t, label in ev.failing:
                ti = self.targets.index(t)
                h = history.setdefault((ti, label), [])
                h.append(t.bound(*ev.worst[(ti, label)]))
                if len(h) > STALL and abs(h[-1] - h[-1 - STALL]) < 1e-9:
                    self.notes.append(self._stalled(t, label, ev.worst[(ti, label)], h[-1]))
                    return ev, False
                grow.update((g, label) for g in self._groups_to_grow(ev, t, label))
            at_cap = [c for c in grow if cells.get(c, self.min_agents) >= self._caps.get(c, cell_cap(0))]
            if at_cap:
                g, label = sorted(at_cap)[0]
                self.notes.append(f"{g} at {label} reached {cells[(g, label)]} agents and a target still fails")
                return ev, False
            for c in grow:
                cells[c] = cells.get(c, self.min_agents) + 1
            ev = self.evaluate(cells, seed)
        return ev, True

    def _trim(self, ev: Evaluation) -> Evaluation:
        tight: set[tuple[str, str]] = set()
        order = list(self.labels)
        while True:
            cuts = [c for c, n in ev.cells.items() if n > self.min_agents and c not in tight]
            if not cuts or self.evaluations >= MAX_ROUNDS:
                return ev
            self._say(f"trying {len(cuts)} fewer agents")
            trial = dict(ev.cells)
            for c in cuts:
                trial[c] -= 1
            t_ev = self.evaluate(trial)
            if t_ev.meets:
                ev = t_ev
                continue
            bad = {label for _, label in t_ev.failing}
            cut_labels = {c[1] for c in cuts}
            # a failing interval with no cut of its own fails for the cut just before it (a queue carries over)
            near = bad | {order[order.index(b) - 1] for b in bad - cut_labels if order.index(b) > 0}
            back = [c for c in cuts if c[1] in near]
            for c in back:
                trial[c] += 1
            tight.update(back)
            if not back or len(back) == len(cuts):
                tight.update(cuts)
                continue
            t_ev = self.evaluate(trial)
            if t_ev.meets:
                ev = t_ev
            else:
                tight.update(cuts)


def search(scenario: Scenario, targets: Sequence[PlanTarget], labels: Sequence[str], step: float, start: Cells,
           *, seed: int, replications: int, confidence: float, runner: Runner, min_agents: int = 0,
           on_round: Callable[[str], None] | None = None) -> tuple[Evaluation, bool, Search]:
    """Run a :class:`Search` from ``start``; ``(evaluation, met, search)``."""
    s = Search(scenario, targets, labels, step, seed, replications, confidence, runner, min_agents, on_round)
    ev, met = s.run(start)
    return ev, met, s
