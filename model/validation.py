"""The simulator against the formulas of :mod:`model.analytic`, and analytic estimates of a scenario.

Two stages are validated, each on a grid of parameter sets (:data:`CASES`) covering light
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

Both figures are read from the rows users read (:func:`model.results.result.per_replication_rows`,
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

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .scenario import Scenario

__all__ = [
    "CASES",
    "COLUMNS",
    "ESTIMATE_ASSUMPTIONS",
    "ESTIMATE_COLUMNS",
    "Case",
    "FAST_CASES",
    "analytic_value",
    "build_scenario",
    "estimate",
    "fast_cases",
    "validate",
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
    """

    stage: str  # "queue" | "transfer"
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

    @property
    def rho(self) -> float:
        return self.lam / (self.n * self.mu)

    @property
    def model(self) -> str:
        if self.stage == "queue":
            return f"M/M/{self.n}+M"
        return f"M/M/{self.n}+D" if self.theta is None else f"M/M/{self.n}+(D,exp)"

    @property
    def metric(self) -> str:
        """The reported figure compared with the analytic P(abandon) (a name of ``model.results.metrics``)."""
        return "queue_abandonment_rate" if self.stage == "queue" else "transfer_abandonment_rate"

    @property
    def scope(self) -> tuple[str, str]:
        """Where :attr:`metric` is read in the per-replication rows: ``(scope, key)``."""
        return ("overall", "all") if self.stage == "queue" else ("target", "target")


def _q(name: str, regime: str, n: int, lam: float, mu: float, theta: float, horizon: float, fast: bool = False) -> Case:
    return Case("queue", name, regime, n, lam, mu, theta, None, horizon, fast=fast)


def _t(name: str, regime: str, n: int, lam: float, mu: float, timeout: float, theta: float | None, horizon: float,
       fast: bool = False) -> Case:
    return Case("transfer", name, regime, n, lam, mu, theta, timeout, horizon, fast=fast)


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
)
"""The whole grid: 9 queue-stage and 9 transfer-stage parameter sets."""

FAST_CASES: tuple[Case, ...] = tuple(c for c in CASES if c.fast)
"""The default subset: one light, one critical and one overloaded case per stage."""


def fast_cases() -> tuple[Case, ...]:
    return FAST_CASES


def analytic_value(case: Case) -> float:
    """P(abandon) of the case's queueing model (:mod:`model.analytic`)."""
    from .analytic import erlang_a, mmn_d, mmn_d_exp

    if case.stage == "queue":
        assert case.theta is not None
        return erlang_a(case.n, case.lam, case.mu, case.theta).p_abandon
    assert case.timeout is not None
    if case.theta is None:
        return mmn_d(case.n, case.lam, case.mu, case.timeout).p_abandon
    return mmn_d_exp(case.n, case.lam, case.mu, case.timeout, case.theta).p_abandon


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


def _replication_value(args: tuple[Case, int, int]) -> tuple[float, dict[str, float]]:
    """Run one replication of a case: the simulated figure and a few diagnostics.

    The figure is the one a user reads: the case's :attr:`Case.metric` at :attr:`Case.scope` in
    the replication's :func:`~model.results.result.per_replication_rows` (what
    :class:`~model.results.result.SimulationResult` summarises), not a ratio recomputed here.
    """
    from .results.result import per_replication_rows
    from .sim import run_replication

    case, seed, rep = args
    own = case_seed(case, seed)
    sc = build_scenario(case, own)
    out = run_replication(sc, own, rep, keep_events=False, timeline_step=None)
    rows = per_replication_rows(rep, out.by_service, out.by_target, out.occupancy)
    scope, key = case.scope
    found = [v for (_, s_, k, m, v) in rows if s_ == scope and k == key and m == case.metric]
    if len(found) != 1:
        raise LookupError(f"{case.name}: {len(found)} rows of {case.metric!r} at {scope} {key!r}")
    value = float(found[0])
    s = out.by_service["chat"].counts
    diag = {"arrivals": float(s["arrivals"])}
    if case.stage != "queue":
        diag["front_queue_abandoned"] = float(s["abandoned_queue"])
        diag["transfers_requested"] = float(out.by_target["target"].counts["transfers_requested"])
    return value, diag


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
    """Simulate each case over ``replications`` and compare with its analytic P(abandon).

    ``cases`` defaults to the whole grid :data:`CASES` (pass :data:`FAST_CASES` for the subset).
    ``workers`` > 1 (or ``None``: one per CPU) runs replications in that many processes; results
    do not depend on it (replication ``i`` always uses the streams of ``(seed, i)``).
    ``progress(done, total)`` is called after each replication.

    Returns one row per case with :data:`COLUMNS` (rates per minute, timeout in minutes).
    """
    from .results.metrics import confidence_interval

    cases = list(CASES if cases is None else cases)
    if replications < 2:
        raise ValueError("validation needs replications >= 2 for a confidence interval")
    tasks = [(c, seed, r) for c in cases for r in range(replications)]
    if workers is None:
        workers = os.cpu_count() or 1
    values: list[tuple[float, dict[str, float]]] = []
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
        per_rep = [v for v, _ in values[k * replications : (k + 1) * replications]]
        mean, lo, hi, _ = confidence_interval(per_rep, level)
        half = (hi - lo) / 2.0
        analytic = analytic_value(c)
        rows.append((c.stage, c.name, c.regime, c.n, c.lam, c.mu, c.theta, c.timeout, c.metric,
                     analytic, mean, lo, hi, half, _verdict(analytic, lo, hi, half)))
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.attrs.update({"replications": replications, "seed": seed, "level": level})
    return df


def format_table(df: pd.DataFrame) -> str:
    """The validation table as text: parameters, analytic, simulated mean and CI, verdict."""
    def fmt(x: Any) -> str:
        return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:g}"

    out = pd.DataFrame({
        "stage": df["stage"],
        "case": df["case"],
        "regime": df["regime"],
        "n": df["n"],
        "lam": df["lam"].map(fmt),
        "mu": df["mu"].map(fmt),
        "theta": df["theta"].map(fmt),
        "D": df["timeout"].map(fmt),
        "rho": (df["lam"] / (df["n"] * df["mu"])).map(lambda x: f"{x:.2f}"),
        "analytic": df["analytic"].map(lambda x: f"{x:.5f}"),
        "sim_mean": df["sim_mean"].map(lambda x: f"{x:.5f}"),
        "99% CI": [f"[{lo:.5f}, {hi:.5f}]" for lo, hi in zip(df["ci_low"], df["ci_high"])],
        "half_width": df["half_width"].map(lambda x: f"{x:.5f}"),
        "verdict": df["verdict"],
    })
    return out.to_string(index=False)


def plot(df: pd.DataFrame) -> Figure:
    """A matplotlib Figure: analytic (marker) vs simulated mean with its 99 % CI (error bar), per case."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    stages = [s for s in ("queue", "transfer") if s in set(df["stage"])] or sorted(set(df["stage"]))
    fig, axes = plt.subplots(len(stages), 1, figsize=(10, 3.6 * len(stages)), squeeze=False)
    titles = {"queue": "queue stage: Erlang A, P(abandon) = queue_abandonment_rate",
              "transfer": "transfer stage: M/M/n+D and M/M/n+(D,exp), transfer_abandonment_rate"}
    for ax, stage in zip(axes[:, 0], stages):
        d = df[df["stage"] == stage].reset_index(drop=True)
        x = range(len(d))
        # plain arrays: matplotlib calls float() on a one-row Series, which pandas deprecates
        err = [(d["sim_mean"] - d["ci_low"]).to_numpy(), (d["ci_high"] - d["sim_mean"]).to_numpy()]
        ax.errorbar([i + 0.1 for i in x], d["sim_mean"].to_numpy(), yerr=err, fmt="o", capsize=4, color="tab:blue",
                    label="simulated mean, 99 % CI")
        ax.scatter([i - 0.1 for i in x], d["analytic"], marker="x", s=60, color="tab:red", zorder=3,
                   label="analytic")
        for i, v in enumerate(d["verdict"]):
            if v != "pass":
                ax.annotate("FAIL", (i, d["sim_mean"][i]), color="red", xytext=(5, 5), textcoords="offset points")
        ax.set_xticks(list(x))
        ax.set_xticklabels(d["case"], rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("P(abandon)")
        ax.set_title(titles.get(stage, stage), fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def write(df: pd.DataFrame, directory: str | os.PathLike[str]) -> list[str]:
    """Write ``validation.csv`` and ``validation.png`` into ``directory``; returns the paths."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    csv = d / "validation.csv"
    df.to_csv(csv, index=False)
    fig = plot(df)
    png = d / "validation.png"
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return [str(csv), str(png)]


def cases_frame(cases: Sequence[Case] | None = None) -> pd.DataFrame:
    """The grid as a frame (one row per case, its fields plus rho and the model name)."""
    cases = list(CASES if cases is None else cases)
    df = pd.DataFrame([asdict(c) for c in cases])
    df["rho"] = [c.rho for c in cases]
    df["model"] = [c.model for c in cases]
    return df
