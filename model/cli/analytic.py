"""``validate`` (the simulator against Erlang A and M/M/n+D) and ``estimate`` (the analytic
approximation of a scenario)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from ..results.figures import FIGURES, percent
from .app import fail
from .args import load_or_fail

if TYPE_CHECKING:
    import pandas as pd

    from ..scenario import Scenario

__all__ = ["validate_cmd", "estimate_cmd", "format_estimate"]


def validate_cmd(
    fast: bool = typer.Option(False, "--fast", help="Only the default subset (one case per regime and stage)."),
    replications: int = typer.Option(20, "--replications", "-r", min=2, help="Replications per case."),
    seed: int = typer.Option(20240601, "--seed", "-s", min=0, help="Base seed of the random streams."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=1, help="Processes (default: one per CPU)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write validation.csv and validation.png here."),
) -> None:
    """Check the simulator against Erlang A, M/M/n+D(+exp) and Cobham's priority queue: analytic vs
    simulated figures, 99 % CI.

    Exits 1 when any case fails (the analytic value outside the CI, or the CI too wide).
    """
    import sys
    import time

    from tqdm.auto import tqdm

    from ..validation import CASES, FAST_CASES, LEVEL, NARROW_RULE, format_table, validate, write

    cases = FAST_CASES if fast else CASES
    start = time.perf_counter()
    with tqdm(total=len(cases) * replications, desc="validate", unit="rep", disable=not sys.stderr.isatty(),
              leave=False) as bar:
        df = validate(cases, replications=replications, seed=seed, workers=workers,
                      progress=lambda done, total: bar.update(1))
    elapsed = time.perf_counter() - start
    typer.echo(f"{len(cases)} cases x {replications} replications, seed {seed}, {elapsed:.0f} s; "
               f"rates per minute, D in minutes; {100 * LEVEL:g} % t interval over replications")
    typer.echo("queue: Erlang A (M/M/n+M), queue_abandonment_rate; "
               "transfer: M/M/n+D (theta -) or M/M/n+(D,exp), transfer_abandonment_rate (as reported by run); "
               "priority: Cobham's non-preemptive M/M/n, wait_mean per service (minutes), one row per class")
    typer.echo(f"pass: analytic inside the CI and {NARROW_RULE}")
    typer.echo(format_table(df))
    failed = int((df["verdict"] != "pass").sum())
    if out is not None:
        for path in write(df, out):
            typer.echo(f"wrote {path}")
    if failed:
        typer.secho(f"{failed} of {len(df)} rows failed ({len(cases)} cases)", err=True, fg=typer.colors.RED)
        raise typer.Exit(1)
    typer.echo(f"all {len(df)} rows of the {len(cases)} cases pass")


def estimate_cmd(
    scenario: Path = typer.Argument(..., help="Scenario file (TOML)."),
    by: Optional[str] = typer.Option(
        None, "--by", help="One estimate per clock interval of this length (15m, 30m, 1h, ...: whole minutes "
        "dividing 24 h), from its arrival rate and staffing."),
    simulate: bool = typer.Option(
        False, "--simulate", help="Also simulate the scenario and show the simulated figures (95 % CI) next to "
        "the analytic ones (per interval with --by)."),
    replications: Optional[int] = typer.Option(None, "--replications", "-r", min=1,
                                               help="With --simulate; default: the scenario's."),
    seed: Optional[int] = typer.Option(None, "--seed", "-s", min=0,
                                       help="With --simulate; default: the scenario's."),
    force: bool = typer.Option(False, "--force", help="With --simulate: run even above the work bounds of "
                               "docs/limits.md."),
    target: Optional[str] = typer.Option(
        None, "--target", help='Instead: the agents each group needs to meet this, e.g. "queue_abandonment_rate<=5%", '
        '"transfer_abandonment_rate<=5%", "service_level>=80%" (per interval with --by).'),
) -> None:
    """Analytic approximation of each group's queue and transfer abandonment for a scenario (per interval
    of the day with --by; next to a simulation with --simulate; the agents required with --target)."""
    from ..estimate_intervals import check_interval
    from ..estimate_required import parse_target
    from ..validation import estimate

    goal = None
    if target is not None:
        try:
            goal = parse_target(target)
        except ValueError as err:
            fail(f"--target: {err}")
        if simulate:
            fail("--target and --simulate do not go together")
    sc = load_or_fail(scenario)
    step = None
    if by is not None:
        try:
            step = check_interval(by)
        except ValueError as err:
            fail(f"--by {by}: {err}")
    if goal is not None:
        _required(sc, scenario, goal, step)
        return
    try:
        df = estimate(sc, by=step)
    except (ValueError, ArithmeticError) as err:
        fail(f"cannot estimate {scenario}: {err}", code=1)
    length = "" if step is None else (f"{step / 3600:g} h" if step % 3600 == 0 else f"{step / 60:g} min")
    per = "" if step is None else f", per {length} interval of the clock"
    typer.echo(f"{sc.name}: analytic estimate per group{per} (not a simulation)")
    typer.echo(_with_agents(sc, format_estimate(df), df, step).rename(columns=ESTIMATE_WORDS).to_string(index=False))
    note = next((a for a in df.attrs["assumptions"] if a.startswith("Averaged")), None)
    if note is not None:
        typer.echo(f"note: {note}")
    typer.echo("assumptions:")
    for a in df.attrs["assumptions"]:
        if a != note:
            typer.echo(f"  - {a}")
    if simulate:
        _simulate_next_to(sc, df, step, replications, seed, force)


ESTIMATE_WORDS = {
    "servers": "chat slots",
    "handle_mean_s": "handle time (s)",
    "entry_per_hour": "new contacts/h",
    "transfers_in_per_hour": "transfers in/h",
    "offered_erlangs": "offered load (erlangs)",
    "rho": "load per slot",
    "queue_model": "queue formula",
    "queue_p_abandon": FIGURES["queue_abandonment_rate"].label,
    "queue_wait_mean_s": FIGURES["wait_mean"].label + " (s)",
    "transfer_model": "transfer formula",
    "transfer_timeout_s": "transfer timeout (s)",
    "transfer_p_abandon": FIGURES["transfer_abandonment_rate"].label,
}
"""The estimate's columns as ``transfer-sim estimate`` heads them: in words, as a planner reads them
(the frame of :func:`model.estimate.estimate` keeps its short names for code)."""


def format_estimate(df: pd.DataFrame) -> pd.DataFrame:
    """The estimate as text columns: rates with one decimal, probabilities as percentages, ``-`` for none."""
    import math

    def num(fmt: str) -> Callable[[float], str]:
        return lambda x: "-" if x != x else ("inf" if math.isinf(x) else format(x, fmt))

    shown = df.copy()
    for col in ("entry_per_hour", "transfers_in_per_hour"):
        shown[col] = shown[col].map(num(".1f"))
    shown["servers"] = shown["servers"].map(lambda x: f"{x:.1f}".removesuffix(".0"))
    shown["offered_erlangs"] = shown["offered_erlangs"].map(num(".2f"))
    shown["rho"] = shown["rho"].map(num(".2f"))
    shown["handle_mean_s"] = shown["handle_mean_s"].map(num("g"))
    shown["transfer_timeout_s"] = shown["transfer_timeout_s"].map(num("g"))
    if "queue_wait_mean_s" in shown:
        shown["queue_wait_mean_s"] = shown["queue_wait_mean_s"].map(num(".1f"))
    for col in ("queue_p_abandon", "transfer_p_abandon"):
        shown[col] = shown[col].map(percent)
    return shown


def _with_agents(sc: Scenario, shown: pd.DataFrame, df: pd.DataFrame, step: float | None) -> pd.DataFrame:
    """``shown`` with a column ``agents`` before ``servers`` (chat slots): slots / max_concurrent where that
    is a whole number, else the time-average agents on shift (a group's; 1 or 0 for ``agent:NAME``)."""
    from ..estimate_intervals import agents_on_shift
    from ..lifecycle import agent_target

    on_shift = agents_on_shift(sc, step)
    per = {g.name: g.max_concurrent for g in sc.groups} | {agent_target(a.name): a.max_concurrent for a in sc.agents}
    labels = df["interval"] if "interval" in df.columns else [""] * len(df)
    agents = []
    for label, group, slots in zip(labels, df["group"], df["servers"]):
        whole = slots / per[group]
        if abs(whole - round(whole)) < 1e-9:
            agents.append(str(round(whole)))
        else:
            n = on_shift.get((label, group), whole)
            agents.append(f"{n:.1f}".removesuffix(".0"))
    out = shown.copy()
    out.insert(list(out.columns).index("servers"), "agents", agents)
    return out


def _required(sc: Scenario, path: Path, goal: object, step: float | None) -> None:
    """Print the agents required per group (and interval) for ``goal``."""
    import math

    from ..estimate_required import agents_required

    try:
        df = agents_required(sc, goal, by=step)  # type: ignore[arg-type]
    except (ValueError, ArithmeticError) as err:
        fail(f"cannot estimate {path}: {err}", code=1)
    column = next(c for c in df.columns if c.startswith("predicted"))
    shown = df.copy()

    def count(x: float) -> str:
        return "-" if x != x else str(int(x))

    shown["agents required"] = df["agents required"].map(count)
    shown["chat slots"] = df["chat slots"].map(count)
    shown["offered load (erlangs)"] = df["offered load (erlangs)"].map(lambda x: "-" if x != x else f"{x:.2f}")
    shown[column] = df[column].map(percent)
    shown["agents now"] = df["agents now"].map(lambda x: f"{x:.1f}".removesuffix(".0"))
    if not (df["note"] != "").any():
        shown = shown.drop(columns="note")
    per = "" if step is None else (f", per {step / 3600:g} h interval of the clock" if step % 3600 == 0
                                   else f", per {step / 60:g} min interval of the clock")
    typer.echo(f"{sc.name}: agents required per group for {df.attrs['target']}{per} "
               "(analytic estimate, not a simulation; other groups as staffed)")
    typer.echo(shown.to_string(index=False))
    if step is None and any(math.floor(n + 1e-9) != n for n in df["agents now"]):
        typer.echo("note: staffing averaged over the window and rounded down; use --by 1h for one row per hour.")


def _simulate_next_to(sc: Scenario, df: pd.DataFrame, step: float | None, replications: int | None,
                      seed: int | None, force: bool) -> None:
    """Simulate ``sc`` (per interval when ``step``) and print the analytic and simulated figures side by
    side."""
    import sys

    from tqdm.auto import tqdm

    from ..estimate_intervals import agents_on_shift, compare
    from ..results.figures import figure
    from ..sim import simulate
    from ..workload import estimate_work
    from .args import check_force, expect_note

    n = replications or sc.simulation.replications
    work = estimate_work(sc, n, keep_events=False, timeline_step=300.0)
    check_force(work, force, "this simulation")
    expect_note(work)
    with tqdm(total=n, desc=sc.name, unit="rep", disable=not sys.stderr.isatty(), leave=False) as bar:
        result = simulate(sc, seed=seed, replications=n, keep_events=False, interval=step,
                          progress=lambda done: bar.update(1), force=True)
    simulated = result.metrics if step is None else result.intervals
    table = compare(df, simulated, agents_on_shift(sc, step))
    shown = table.drop(columns=["ci_low", "ci_high", "n"])
    shown["analytic"] = [figure(f).text(x) for f, x in zip(table["figure"], table["analytic"])]
    shown["simulated"] = [figure(f).text(x) for f, x in zip(table["figure"], table["simulated"])]
    shown["95 % CI"] = ["-" if lo != lo else f"{figure(f).text(lo)} - {figure(f).text(hi)}"
                        for f, lo, hi in zip(table["figure"], table["ci_low"], table["ci_high"])]
    typer.echo(f"analytic vs simulated ({result.replications} replications, seed {result.seed}; "
               f"{'per interval, ' if step is not None else ''}simulated mean and its 95 % CI)")
    typer.echo(shown.to_string(index=False))
