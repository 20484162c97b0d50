"""The simulator against the formulas of :mod:`model.analytic`, and analytic estimates of a scenario.

Three stages are validated on a grid of parameter sets (:data:`CASES`); the first two cover light
(rho ~ 0.5), critical (rho ~ 1) and overloaded (rho ~ 1.3) traffic with 1 to 50 agents:

* ``queue`` - Erlang A (M/M/n+M). One service, one group of ``n`` single-chat agents, Poisson
  arrivals, exponential handle time (rate ``mu``) and exponential patience (rate ``theta``), no
  transfers. Simulated figure per replication: the reported ``queue_abandonment_rate`` (scope
  overall), i.e. ``(abandoned_queue + dissuaded) / arrivals`` over the contacts that ended; these
  scenarios have no dissuasion, so it is Erlang A's P(abandon).
* ``transfer`` - M/M/n+D, or M/M/n+min(D, Exp(theta)) when ``theta`` is set. A front line that
  never queues (one agent with far more chat slots than its offered load can ever fill, short
  exponential handle time: an M/M/inf stage whose output is again Poisson with rate ``lam``)
  transfers every contact (probability 1) to a target group of ``n`` single-chat agents in
  broadcast mode, with no accept delay, no rejects and no transfer rules of its own. An accepted
  contact occupies its target agent for the target's exponential handle time (rate ``mu``), then
  closes: the target group is the n-server queue, ``transfer_timeout = D`` its deterministic
  patience and ``transfer_patience`` (exponential, rate ``theta``) the customer's. Simulated
  figure per replication: the reported ``transfer_abandonment_rate`` of the target (scope ``target``).
* ``priority`` - Cobham's non-preemptive priority M/M/n with equal service rates
  (:func:`model.analytic.priority_waits`), light (rho 0.5) and heavy (rho 0.9) load. One service
  per class (``class1`` the highest, ``"priority"`` = number of classes - class index + 1), Poisson
  arrivals at ``classes`` (rates per minute), one group of ``n`` single-chat agents with exponential
  handle time (rate ``mu``), no patience, no transfers. Simulated figures per replication: each
  service's reported ``wait_mean`` (scope ``service``) in minutes, one row per class (case
  ``NAME:classK``). ``wait_mean`` is over the contacts assigned by the horizon: those still waiting
  then are left out, which biases it down by about E[W^2] / (2 horizon), under 1 % here.

Every figure is read from the rows users read (:func:`model.results.result.per_replication_rows`,
which :class:`~model.results.result.SimulationResult` summarises), not recomputed from raw counts,
so a wrong formula in :mod:`model.results.metrics` makes validation fail.

Units: rates per **minute**, ``timeout`` in **minutes** (the scenarios are built in seconds).

A case passes when the analytic value lies inside the 99 % Student-t interval over replications
of the simulated figure, and that interval is narrow enough to mean something: half-width below
10 % of the analytic value, or, for a rare outcome (analytic value below 1 %), below 25 % of it
(see :data:`MAX_REL_HALF_WIDTH_RARE`). There is no absolute floor: inside the interval and
narrow together mean the simulated mean is within 10 % (25 % when rare) of the analytic value.

:func:`estimate` turns a scenario into per-group analytic approximations (see
:data:`ESTIMATE_ASSUMPTIONS`); it lives in :mod:`model.estimate` and is importable from here too.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from .estimate import ESTIMATE_ASSUMPTIONS, ESTIMATE_COLUMNS, estimate
from .validation_output import format_table, plot, write

if TYPE_CHECKING:
    from .scenario import Scenario

__all__ = [
    "CASES",
    "COLUMNS",
    "ESTIMATE_ASSUMPTIONS",
    "ESTIMATE_COLUMNS",
    "Case",
    "FAST_CASES",
    "analytic_value",
    "analytic_values",
    "build_scenario",
    "estimate",
    "fast_cases",
    "format_table",
    "plot",
    "validate",
    "write",
]

LEVEL = 0.99
"""Confidence level of the interval compared against the analytic value."""

MAX_REL_HALF_WIDTH = 0.10
"""The interval is narrow enough when its half-width is < 10 % of the analytic value."""

RARE = 0.01
MAX_REL_HALF_WIDTH_RARE = 0.25
"""For a rare outcome (analytic value < :data:`RARE`) the half-width may reach 25 % of the value.

Why not an absolute floor: the former "or < 0.005" could not fail for a light case whose analytic
value is 0.0003 (an interval 18 times the value passed, so a simulator off by a factor of ten
passed too). A bound relative to the value keeps its meaning at every scale: inside the interval
and half-width < 25 % means the simulated mean is within 25 % of the analytic value, which still
catches a missing or doubled term of a formula. Why 25 % and not 10 % there: with a few
abandonments per replication the relative spread of their count is large (about 1/sqrt(count)),
and 10 % would take roughly ten times the run length of those cases for no extra insight; the
light cases' horizons are chosen so that 25 % is met with a margin at the default seed.
"""

NARROW_RULE = "half-width < 10 % of the analytic value (< 25 % of it when the value is below 0.01)"
"""The rule above in words, for printing next to the verdicts."""

DEFAULT_REPLICATIONS = 20
DEFAULT_SEED = 20240601

COLUMNS = [
    "stage", "case", "regime", "n", "lam", "mu", "theta", "timeout", "metric",
    "analytic", "sim_mean", "ci_low", "ci_high", "half_width", "verdict",
]

FRONT_HANDLE_SECONDS = 1.0
"""Mean (exponential) handle time of the transfer stage's front line: short, so it is cheap."""


@dataclass(frozen=True)
class Case:
    """One parameter set. Rates per minute, ``timeout`` (D) in minutes, ``horizon``/``warmup`` in minutes.

    ``theta`` is the patience rate (queue stage: required; transfer stage: ``None`` for M/M/n+D).
    ``timeout`` is only used by the transfer stage. ``fast`` marks the default subset.
    ``classes``: the priority stage's arrival rate per class, highest priority first (sum ``lam``).
    ``large``: takes tens of seconds; the test suite runs it only with ``TRANSFER_SIM_SLOW=1``.
    """

    stage: str  # "queue" | "transfer" | "priority"
    name: str
    regime: str  # "light" | "critical" | "overloaded"
    n: int
    lam: float
    mu: float
    theta: float | None
    timeout: float | None
    horizon: float
    warmup: float = 100.0
    fast: bool = False
    classes: tuple[float, ...] = ()
    large: bool = False

    @property
    def rho(self) -> float:
        return self.lam / (self.n * self.mu)

    @property
    def model(self) -> str:
        if self.stage == "priority":
            return f"M/M/{self.n} priority ({len(self.classes)} classes)"
        if self.stage == "queue":
            return f"M/M/{self.n}+M"
        return f"M/M/{self.n}+D" if self.theta is None else f"M/M/{self.n}+(D,exp)"

    @property
    def metric(self) -> str:
        """The reported figure compared with the analytic value (a name of ``model.results.metrics``)."""
        names = {"queue": "queue_abandonment_rate", "priority": "wait_mean"}
        return names.get(self.stage, "transfer_abandonment_rate")

    @property
    def scope(self) -> tuple[str, str]:
        """Where :attr:`metric` is read in the per-replication rows: ``(scope, key)`` (the first
        class's service for the priority stage; :attr:`scopes` lists them all)."""
        return self.scopes[0]

    @property
    def scopes(self) -> list[tuple[str, str]]:
        """``(scope, key)`` of every figure compared: one per class for the priority stage."""
        if self.stage == "priority":
            return [("service", f"class{k + 1}") for k in range(len(self.classes))]
        return [("overall", "all") if self.stage == "queue" else ("target", "target")]


def _q(name: str, regime: str, n: int, lam: float, mu: float, theta: float, horizon: float, fast: bool = False) -> Case:
    return Case("queue", name, regime, n, lam, mu, theta, None, horizon, fast=fast)


def _t(name: str, regime: str, n: int, lam: float, mu: float, timeout: float, theta: float | None, horizon: float,
       fast: bool = False) -> Case:
    return Case("transfer", name, regime, n, lam, mu, theta, timeout, horizon, fast=fast)


def _p(name: str, regime: str, n: int, classes: tuple[float, ...], horizon: float, fast: bool = False,
       large: bool = False) -> Case:
    return Case("priority", name, regime, n, sum(classes), 1.0, None, None, horizon, fast=fast, classes=classes,
                large=large)


CASES: tuple[Case, ...] = (
    # queue stage: Erlang A (M/M/n+M)
    _q("q1-n1-light", "light", 1, 0.5, 1.0, 0.5, 8000, fast=True),
    _q("q2-n1-critical", "critical", 1, 1.0, 1.0, 1.0, 8000),
    _q("q3-n1-over", "overloaded", 1, 1.3, 1.0, 2.0, 6000),
    _q("q4-n10-light", "light", 10, 5.0, 1.0, 1.0, 2000),
    _q("q5-n10-critical", "critical", 10, 10.0, 1.0, 0.5, 2000, fast=True),
    _q("q6-n10-over", "overloaded", 10, 13.0, 1.0, 0.25, 2000),
    # q7 and t7: P(abandon) ~ 3e-4 and 7e-4, a few abandonments per 1000 minutes; their horizons
    # (8000, from 1500 and 1000) make the 99 % interval meet the 25 % rule with a margin
    _q("q7-n20-light", "light", 20, 10.0, 1.0, 1.0, 8000),
    _q("q8-n50-critical", "critical", 50, 50.0, 1.0, 2.0, 800),
    _q("q9-n50-over", "overloaded", 50, 65.0, 1.0, 0.5, 600, fast=True),
    # transfer stage: M/M/n+D and M/M/n+min(D, Exp)
    _t("t1-n1-light", "light", 1, 0.5, 1.0, 0.5, None, 8000),
    _t("t2-n1-critical", "critical", 1, 1.0, 1.0, 1.0, 0.5, 8000),
    _t("t3-n1-over", "overloaded", 1, 1.3, 1.0, 2.0, None, 6000),
    _t("t4-n5-light", "light", 5, 2.5, 1.0, 0.25, 1.0, 3000, fast=True),
    _t("t5-n10-critical", "critical", 10, 10.0, 1.0, 0.5, None, 2000, fast=True),
    _t("t6-n10-over", "overloaded", 10, 13.0, 1.0, 1.0, None, 2000),
    _t("t7-n20-light", "light", 20, 10.0, 1.0, 0.1, None, 8000),
    _t("t8-n50-critical", "critical", 50, 50.0, 1.0, 0.2, 2.0, 800),
    _t("t9-n50-over", "overloaded", 50, 65.0, 1.0, 0.5, 1.0, 600, fast=True),
    # priority stage: Cobham (non-preemptive priority M/M/n), mean wait per class in minutes. At
    # rho 0.9 the lowest class's wait needs ~2 million contacts for a half-width near 6 % of it
    # (about 1.5 at 10 %): tens of seconds, hence large (tests: TRANSFER_SIM_SLOW=1 only)
    _p("p1-2c-light", "light", 2, (0.5, 0.5), 10000),
    _p("p2-2c-heavy", "heavy", 10, (4.5, 4.5), 10000, large=True),
    _p("p3-3c-light", "light", 2, (0.3, 0.3, 0.4), 10000, fast=True),
    _p("p4-3c-heavy", "heavy", 10, (3.0, 3.0, 3.0), 14000, large=True),
)
"""The whole grid: 9 queue-stage, 9 transfer-stage and 4 priority-stage parameter sets."""

FAST_CASES: tuple[Case, ...] = tuple(c for c in CASES if c.fast)
"""The default subset: one light, one critical and one overloaded case per stage (the priority
stage: its heavy three-class case)."""


def fast_cases() -> tuple[Case, ...]:
    return FAST_CASES


def analytic_value(case: Case) -> float:
    """P(abandon) of the case's queueing model (:mod:`model.analytic`); for the priority stage
    the first class's mean wait (:func:`analytic_values` gives every class's)."""
    from .analytic import erlang_a, mmn_d, mmn_d_exp

    if case.stage == "priority":
        return analytic_values(case)[0]
    if case.stage == "queue":
        assert case.theta is not None
        return erlang_a(case.n, case.lam, case.mu, case.theta).p_abandon
    assert case.timeout is not None
    if case.theta is None:
        return mmn_d(case.n, case.lam, case.mu, case.timeout).p_abandon
    return mmn_d_exp(case.n, case.lam, case.mu, case.timeout, case.theta).p_abandon


def analytic_values(case: Case) -> tuple[float, ...]:
    """The analytic value of each figure of :attr:`Case.scopes`: Cobham's mean wait per class (in
    minutes) for the priority stage, else :func:`analytic_value`'s P(abandon)."""
    if case.stage == "priority":
        from .analytic import priority_waits

        return priority_waits(case.n, case.classes, case.mu).mean_wait
    return (analytic_value(case),)


def _front_slots(lam_per_min: float) -> int:
    """Chat slots for the transfer stage's front line: its offered load plus a margin so wide that
    P(all busy) < 1e-15 (the number busy is Poisson with mean = the load)."""
    from scipy import stats

    load = lam_per_min / 60.0 * FRONT_HANDLE_SECONDS
    k = int(stats.poisson.isf(1e-15, load)) + 10
    return max(k, 20)


def build_scenario(case: Case, seed: int = DEFAULT_SEED, replications: int = DEFAULT_REPLICATIONS) -> Scenario:
    """The scenario of ``case`` (built with :func:`model.scenario.scenario_from_dict`; seconds inside)."""
    from .scenario import scenario_from_dict

    sim = {"horizon": case.horizon * 60.0, "warmup": case.warmup * 60.0, "replications": replications, "seed": seed}
    arrivals = {"kind": "poisson", "rate_per_hour": case.lam * 60.0}
    handle = {"kind": "exponential", "mean": 60.0 / case.mu}
    if case.stage == "priority":
        k = len(case.classes)
        services = [{"name": f"class{i + 1}", "entry_group": "agents", "priority": k - i,
                     "arrivals": {"kind": "poisson", "rate_per_hour": lam * 60.0}}
                    for i, lam in enumerate(case.classes)]
        return scenario_from_dict({
            "name": case.name, "simulation": sim, "services": services,
            "groups": [{"name": "agents", "agents": case.n, "max_concurrent": 1, "handle_time": handle}]})
    if case.stage == "queue":
        assert case.theta is not None
        data: dict[str, Any] = {
            "name": case.name,
            "simulation": sim,
            "services": [{"name": "chat", "entry_group": "agents", "arrivals": arrivals,
                          "patience": {"kind": "exponential", "mean": 60.0 / case.theta}}],
            "groups": [{"name": "agents", "agents": case.n, "max_concurrent": 1, "handle_time": handle}],
        }
        return scenario_from_dict(data)
    if case.stage != "transfer":
        raise ValueError(f"unknown stage {case.stage!r}")
    assert case.timeout is not None
    service: dict[str, Any] = {"name": "chat", "entry_group": "front", "arrivals": arrivals,
                               "transfer_timeout": case.timeout * 60.0}
    if case.theta is not None:
        service["transfer_patience"] = {"kind": "exponential", "mean": 60.0 / case.theta}
    data = {
        "name": case.name,
        "simulation": sim,
        "services": [service],
        "groups": [
            {"name": "front", "agents": 1, "max_concurrent": _front_slots(case.lam),
             "handle_time": {"kind": "exponential", "mean": FRONT_HANDLE_SECONDS},
             "transfers": [{"to": "target", "probability": 1.0}]},
            {"name": "target", "agents": case.n, "max_concurrent": 1, "handle_time": handle,
             "offer_mode": "broadcast", "reject_probability": 0.0},
        ],
    }
    return scenario_from_dict(data)


def case_seed(case: Case, seed: int = DEFAULT_SEED) -> int:
    """The seed ``case`` runs with under the base ``seed``: each case its own random streams, so
    that the cases of the grid are independent checks rather than one draw read eighteen times."""
    from .sim.streams import derived_seed

    return derived_seed(seed, case.name)


def _replication_value(args: tuple[Case, int, int]) -> tuple[tuple[float, ...], dict[str, float]]:
    """Run one replication of a case: the simulated figures and a few diagnostics.

    The figures are the ones a user reads: the case's :attr:`Case.metric` at each of
    :attr:`Case.scopes` in the replication's :func:`~model.results.result.per_replication_rows`
    (what :class:`~model.results.result.SimulationResult` summarises), not a ratio recomputed
    here; a wait in minutes, as the case's rates.
    """
    from .results.result import per_replication_rows
    from .sim import run_replication

    case, seed, rep = args
    own = case_seed(case, seed)
    sc = build_scenario(case, own)
    out = run_replication(sc, own, rep, keep_events=False, timeline_step=None)
    rows = per_replication_rows(rep, out.by_service, out.by_target, out.occupancy)
    values = []
    for scope, key in case.scopes:
        found = [v for (_, s_, k, m, v) in rows if s_ == scope and k == key and m == case.metric]
        if len(found) != 1:
            raise LookupError(f"{case.name}: {len(found)} rows of {case.metric!r} at {scope} {key!r}")
        values.append(float(found[0]) / (60.0 if case.metric == "wait_mean" else 1.0))
    diag = {"arrivals": float(sum(t.counts["arrivals"] for t in out.by_service.values()))}
    if case.stage == "priority":
        return tuple(values), diag
    s = out.by_service["chat"].counts
    if case.stage != "queue":
        diag["front_queue_abandoned"] = float(s["abandoned_queue"])
        diag["transfers_requested"] = float(out.by_target["target"].counts["transfers_requested"])
    return tuple(values), diag


def max_half_width(analytic: float) -> float:
    """The widest half-width that still passes for ``analytic`` (:data:`MAX_REL_HALF_WIDTH`, or
    :data:`MAX_REL_HALF_WIDTH_RARE` below :data:`RARE`); no absolute floor."""
    rel = MAX_REL_HALF_WIDTH_RARE if analytic < RARE else MAX_REL_HALF_WIDTH
    return rel * analytic


def _verdict(analytic: float, lo: float, hi: float, half: float) -> str:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "fail: no interval"
    if hi <= lo:
        return "fail: no variation across replications"
    narrow = half < max_half_width(analytic)
    inside = lo <= analytic <= hi
    if inside and narrow:
        return "pass"
    if not inside:
        return "fail: outside CI" + ("" if narrow else ", CI too wide")
    return "fail: CI too wide"


def validate(
    cases: Iterable[Case] | None = None,
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = DEFAULT_SEED,
    workers: int | None = 1,
    level: float = LEVEL,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Simulate each case over ``replications`` and compare with its analytic P(abandon) (priority
    stage: Cobham's mean wait per class).

    ``cases`` defaults to the whole grid :data:`CASES` (pass :data:`FAST_CASES` for the subset).
    ``workers`` > 1 (or ``None``: one per CPU) runs replications in that many processes; results
    do not depend on it (replication ``i`` always uses the streams of ``(seed, i)``).
    ``progress(done, total)`` is called after each replication.

    Returns one row per figure with :data:`COLUMNS` (rates per minute, timeout and waits in minutes):
    one per case, one per class (``case`` = ``NAME:classK``, ``lam`` the total) for the priority stage.
    """
    from .results.metrics import confidence_interval

    cases = list(CASES if cases is None else cases)
    if replications < 2:
        raise ValueError("validation needs replications >= 2 for a confidence interval")
    tasks = [(c, seed, r) for c in cases for r in range(replications)]
    if workers is None:
        workers = os.cpu_count() or 1
    values: list[tuple[tuple[float, ...], dict[str, float]]] = []
    total = len(tasks)
    if workers > 1 and total > 1:
        with ProcessPoolExecutor(max_workers=min(workers, total)) as pool:
            for i, v in enumerate(pool.map(_replication_value, tasks, chunksize=1)):
                values.append(v)
                if progress:
                    progress(i + 1, total)
    else:
        for i, t in enumerate(tasks):
            values.append(_replication_value(t))
            if progress:
                progress(i + 1, total)
    rows = []
    for k, c in enumerate(cases):
        reps = [v for v, _ in values[k * replications : (k + 1) * replications]]
        for i, ((_, key), analytic) in enumerate(zip(c.scopes, analytic_values(c))):
            mean, lo, hi, _ = confidence_interval([v[i] for v in reps], level)
            half = (hi - lo) / 2.0
            name = f"{c.name}:{key}" if c.stage == "priority" else c.name
            rows.append((c.stage, name, c.regime, c.n, c.lam, c.mu, c.theta, c.timeout, c.metric,
                         analytic, mean, lo, hi, half, _verdict(analytic, lo, hi, half)))
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.attrs.update({"replications": replications, "seed": seed, "level": level})
    return df


def cases_frame(cases: Sequence[Case] | None = None) -> pd.DataFrame:
    """The grid as a frame (one row per case, its fields plus rho and the model name)."""
    cases = list(CASES if cases is None else cases)
    df = pd.DataFrame([asdict(c) for c in cases])
    df["rho"] = [c.rho for c in cases]
    df["model"] = [c.model for c in cases]
    return df
