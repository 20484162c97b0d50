"""``sweep`` (a scenario over a grid of changes) and ``tune`` (the smallest setting that meets a target)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from .app import fail
from .args import (check_force, check_metric, check_scope_in, check_scope_text, executor_option, expect_note,
                   folder_kind_of, load_or_fail, oserror_text, parse_target)

if TYPE_CHECKING:
    from ..experiments import SweepResult, TuneResult
    from ..scenario import Scenario

__all__ = ["SWEEP_METRICS", "sweep_cmd", "tune_cmd", "sweep_lines", "tune_lines"]

SWEEP_METRICS: tuple[str, ...] = ("transfer_abandonment_rate", "transfer_success_rate", "time_to_join_mean")
"""The figures ``sweep`` prints for each scope when no ``--metric`` is given."""


def _cell(name: str, mean: float, lo: float, hi: float) -> str:
    from ..results.figures import figure

    info = figure(name)
    return f"{info.text(mean)} [{info.text(lo)}, {info.text(hi)}]" if mean == mean else "-"


def sweep_lines(result: SweepResult, sc: Scenario, scopes: list[str] | None, metrics: list[str],
                target: float | None) -> list[str]:
    """What ``sweep`` prints: per scope (given, else derived from what was varied), which scope and
    why, a table of ``metrics`` (mean [95 % range]) and the occupancy of the groups it concerns at
    every point, then the answer: the cheapest point meeting ``target``, or the closest."""
    import pandas as pd

    from ..report.answers import cost_groups, sweep_answer
    from ..report.build import sweep_scopes
    from ..results.scopes import scope_text, scope_words

    summary = result.summary
    if not len(summary):
        return ["no point of the sweep has figures (see the failed points below)"]
    chosen = sweep_scopes(summary, scopes)
    why = "as given" if scopes else f"derived from --vary {', '.join(result.params)}; --scope chooses another"
    lines: list[str] = []
    for kind, key in chosen:
        lines.append(f"\n{scope_words(kind, key)} ({scope_text(kind, key)}, {why}): mean [95 % range] over "
                     f"{result.replications} simulated runs per point")
        table = summary[(summary.scope == kind) & (summary.key.astype(str) == key)]
        cols = {}
        for name in metrics:
            at = table[table.metric == name]
            if len(at):
                cols[name] = at.set_index(result.params)
        for g in cost_groups(result.params, sc, kind, key):
            at = summary[(summary.scope == "group") & (summary.key.astype(str) == g) & (summary.metric == "agent_occupancy")]
            if len(at):
                cols[f"occupancy {g}"] = at.set_index(result.params).assign(metric="agent_occupancy")
        if not cols:
            lines.append(f"  no {', '.join(metrics)} for {scope_text(kind, key)}")
            continue
        frame = pd.DataFrame({c: [_cell(str(r.metric), r.mean, r.ci_low, r.ci_high) for r in f.itertuples()]
                              for c, f in cols.items()}, index=next(iter(cols.values())).index)
        lines.append(frame.reset_index().to_string(index=False))
        lines += [f"answer: {a}" for a in sweep_answer(summary, sc, kind, key, target=target)]
    return lines



def sweep_cmd(
    scenario: Path = typer.Argument(..., metavar="SCENARIO", help="Scenario TOML file."),
    vary: list[str] = typer.Option(
        ..., "--vary", "-v", metavar="PATH=V1,V2,...",
        help="A scenario path and its values (V1,V2,... or LOW..HIGH or LOW..HIGH:STEP); repeat for a grid.",
    ),
    replications: Optional[int] = typer.Option(None, "--replications", "-r", min=1, metavar="N",
                                               help="Simulated runs per point (default: the scenario's)."),
    seed: Optional[int] = typer.Option(None, "--seed", "-s", min=0, metavar="SEED",
                                       help="Base seed (default: the scenario's)."),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", metavar="DIR",
        help="Store folder (Parquet per point; rerun to resume). Default: reports/sweeps/<scenario>-<hash of the arguments>.",
    ),
    scopes: Optional[list[str]] = typer.Option(
        None, "--scope", metavar="SCOPE",
        help="Whose figures to show: overall, service:NAME, target:NAME or group:NAME; repeat for several. "
             "Default: from what is varied (groups.tech.agents -> target:tech), else overall.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    executor: str = typer.Option("processes", "--executor", metavar="KIND", help="processes (every core) or serial."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", metavar="ADDRESS",
                                            help="Run on this Dask scheduler (tcp://host:8786)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=1, metavar="N",
                                          help="Processes (default: one per CPU)."),
    independent: bool = typer.Option(False, "--independent-seeds",
                                     help="A seed per point instead of common random numbers."),
    metrics: Optional[list[str]] = typer.Option(None, "--metric", "-m", metavar="NAME",
                                                help="Metrics to print per scope (default: transfer figures)."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress",
                                            help="Progress bar with ETA (default: on a terminal)."),
    report: bool = typer.Option(False, "--report", help="Also write the HTML report into the store folder."),
    target: Optional[str] = typer.Option(None, "--target", metavar="RATE",
                                         help="Target transfer abandonment rate, 5% or 0.05: the cheapest point "
                                              "meeting it is recommended (printed and in the report)."),
    force: bool = typer.Option(False, "--force", help="Run even above the work bounds of docs/limits.md."),
) -> None:
    """Run a scenario over a grid of changes, with common random numbers; resumable.

    Prints, for each scope, the figures at every point and, with --target, the
    cheapest point that meets it (or the closest, when none does).

    \b
    Example: how many tech agents and what timeout keep transfers to tech
    at or under 5 %?
      transfer-sim sweep scenarios/peak-hour.toml \\
        --vary groups.tech.agents=2,3,4,5 \\
        --vary services.support.transfer_timeout=30,60,120 \\
        -r 6 --target 5% --report
    """
    import json

    from ..experiments import ExperimentError, SweepResult, parse_vary, run_sweep
    from ..experiments.grid import check_grid_size
    from ..experiments.store import arguments_hash
    from ..experiments.sweeps import sweep_arguments
    from ..workload import estimate_sweep_work, grid_ends
    from ..results.metrics import METRICS
    from ..scenario import ScenarioError, load_scenario

    for name in metrics or ():
        check_metric(name, "--metric", METRICS)
    goal = None if target is None else parse_target(target, "transfer_abandonment_rate")
    for text in scopes or ():
        check_scope_text(text)
    ex = executor_option(executor, scheduler)
    try:
        sc = load_scenario(scenario)
        grid = parse_vary(vary)
        total = check_grid_size(grid)
        n = replications or sc.simulation.replications
        s = sc.simulation.seed if seed is None else seed
        for text in scopes or ():
            check_scope_in(sc, text)
        for path, values in grid.items():  # a bad path or value: one line, before anything is printed
            for v in (values if len(values) <= 200 else grid_ends(values)):
                sc.with_changes({path: v})
        work = estimate_sweep_work(sc, grid, n)
        check_force(work, force, "this sweep")
        if out is None:
            digest = arguments_hash(sweep_arguments(sc, grid, n, s, not independent))
            out = Path("reports") / "sweeps" / f"{scenario.stem}-{digest[:12]}"
        kind = folder_kind_of(out)
        if kind == "file":
            fail(f"--out {out} is a file, not a folder; give a folder path")
        if kind not in (None, "sweep"):
            from ..results.result import describe_folder

            fail(f"--out {out} holds {describe_folder(out)}; 'sweep --out' writes into a new or empty folder, "
                 "or resumes the sweep stored there")
        typer.echo(f"sweep: {total} points x {n} replications -> {out}", err=True)
        expect_note(work, 1 if ex == "serial" else (workers or os.cpu_count() or 1))
        result: SweepResult = run_sweep(
            sc, grid, n, seed=s, out=out, executor=ex, workers=workers, progress=progress,
            common_random_numbers=not independent, on_error="record", force=force,
        )
    except (ScenarioError, ExperimentError) as err:
        fail(str(err))
    except KeyboardInterrupt:
        stored = len(list((Path(out) / "points").glob("*.parquet"))) if out is not None else 0
        typer.secho(f"interrupted: {stored} points stored in {out}; run the same command again to resume",
                    err=True, fg=typer.colors.YELLOW)
        raise typer.Exit(130)
    except OSError as err:
        fail(f"{oserror_text(err, final=out)}; the points stored so far are kept in {out}: "
             "free space or fix the folder, then run the same command again to resume", code=1)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), default=str))
    else:
        for line in sweep_lines(result, sc, scopes, list(metrics or SWEEP_METRICS), goal):
            typer.echo(line)
        typer.echo(f"\nwrote {out}/summary.parquet, summary.csv, points/")
    if report:
        from ..report import build_report

        try:
            typer.echo(f"wrote {build_report(sc, out, sweep=result.summary, target=goal, failures=result.failures, scopes=scopes)}")
        except OSError as err:
            fail(f"{oserror_text(err, final=out)}; the sweep itself is stored in {out}", code=1)
    for f in result.failures:
        typer.secho(f"failed point {f['point']} {f['params']}: {f['error']}", err=True, fg=typer.colors.RED)
    if result.failures:
        typer.secho(f"{len(result.failures)} of {total} points failed (see {out}/failures.json); "
                    "the others are stored", err=True, fg=typer.colors.RED)
        raise typer.Exit(1)


def tune_cmd(
    scenario: Path = typer.Argument(..., metavar="SCENARIO", help="Scenario TOML file."),
    metric: str = typer.Option(..., "--metric", "-m", metavar="NAME", help="e.g. transfer_abandonment_rate"),
    target: str = typer.Option(..., "--target", "-t", metavar="VALUE",
                               help="The threshold to meet with 95 % confidence: 5% or 0.05 for a rate."),
    param: str = typer.Option(..., "--param", "-p", metavar="PATH", help="Scenario path, e.g. groups.tech.agents"),
    range_: str = typer.Option(..., "--range", metavar="LOW..HIGH", help="Values to search, e.g. 1..10."),
    scope: Optional[str] = typer.Option(
        None, "--scope", metavar="SCOPE",
        help="overall, service:NAME, target:NAME or group:NAME. Default: from --param (groups.tech.agents -> "
             "target:tech when tech receives transfers), else overall; printed either way."),
    direction: Optional[str] = typer.Option(None, "--direction", metavar="lower|higher",
                                            help="Which is better (default: from the metric)."),
    replications: Optional[int] = typer.Option(None, "--replications", "-r", min=1, metavar="N",
                                               help="Simulated runs per setting (default: the scenario's)."),
    seed: Optional[int] = typer.Option(None, "--seed", "-s", min=0, metavar="SEED",
                                       help="Base seed (default: the scenario's)."),
    grid: int = typer.Option(7, "--grid", min=2, metavar="N", help="Points of the coarse grid before bisection."),
    resolution: Optional[float] = typer.Option(None, "--resolution", metavar="STEP",
                                               help="Precision of the answer (default 1)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="DIR",
                                       help="Write explored.parquet, explored.csv and tune.json here."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    executor: str = typer.Option("processes", "--executor", metavar="KIND", help="processes (every core) or serial."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", metavar="ADDRESS",
                                            help="Run on this Dask scheduler (tcp://host:8786)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=1, metavar="N",
                                          help="Processes (default: one per CPU)."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress",
                                            help="Progress bars (default: on a terminal)."),
    report: bool = typer.Option(False, "--report", help="Also write the HTML report (into --out, or reports/<name>-tune/)."),
    force: bool = typer.Option(False, "--force", help="Run even above the work bounds of docs/limits.md."),
) -> None:
    """Find the smallest setting of --param that meets --target with 95 % confidence.

    Prints the scope it read and why, the settings it tried, the answer (or,
    when none meets, the closest) and the agent occupancy there.

    \b
    Example: how many tech agents keep transfers to tech at or under 5 %?
      transfer-sim tune scenarios/peak-hour.toml \\
        --metric transfer_abandonment_rate --target 5% \\
        --param groups.tech.agents --range 1..10
    """
    import json

    from ..experiments import ExperimentError, TuneFailed, tune
    from ..experiments.grid import parse_range
    from ..results.metrics import METRICS
    from ..results.result import describe_folder
    from ..scenario import ScenarioError
    from ..workload import estimate_work, heaviest_variant

    check_metric(metric, "--metric", [*METRICS, "agent_occupancy"])
    goal = parse_target(target, metric)
    ex = executor_option(executor, scheduler)
    if scope is not None:
        check_scope_text(scope)
    try:
        lo, hi, _ = parse_range(range_)
    except ExperimentError as err:
        fail(str(err))
    if resolution is not None and not (math.isfinite(resolution) and resolution > 0):
        fail(f"--resolution must be a finite number > 0, got {resolution}")
    if out is not None and folder_kind_of(out) not in (None, "tune"):
        fail(f"--out {out} holds {describe_folder(out)}; 'tune --out' writes into a new or empty folder "
             "(or over an earlier tuning's output)")
    sc = load_or_fail(scenario)
    n = replications or sc.simulation.replications
    steps = math.ceil(math.log2(max((hi - lo) / (resolution or 1), 1))) if hi > lo else 0
    worst = heaviest_variant(sc, {param: [lo, hi]}, n)
    work = estimate_work(worst, n, grid + steps)
    check_force(work, force, "this tuning")
    expect_note(work, 1 if ex == "serial" else (workers or os.cpu_count() or 1))
    try:
        result = tune(
            sc, metric, goal, param, range_, scope=scope, direction=direction,
            replications=replications, seed=seed, grid=grid,
            resolution=(int(resolution) if resolution is not None and float(resolution).is_integer() else resolution),
            executor=ex, workers=workers, progress=progress, force=force,
        )
    except TuneFailed as err:  # a setting failed to simulate: not bad input
        fail(str(err), code=1)
    except (ScenarioError, ExperimentError) as err:
        fail(str(err))
    except OSError as err:
        fail(f"cannot run: {err}", code=1)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), default=str))
    else:
        for line in tune_lines(result):
            typer.echo(line)
    if out is not None:
        try:
            result.to_files(out)
        except OSError as err:
            fail(f"{oserror_text(err, final=out)}; the result above was not stored", code=1)
        if not as_json:
            typer.echo(f"wrote {out}/explored.parquet, explored.csv, tune.json")
    if report:
        from ..report import build_report

        frame = result.explored[[param, "mean", "ci_low", "ci_high", "n"]].assign(
            scope=result.scope, key=result.key, metric=metric
        )
        folder = out if out is not None else Path("reports") / f"{sc.name}-tune"
        try:
            index = build_report(sc, folder, sweep=frame, tune=result.to_dict(), target=goal)
        except OSError as err:
            fail(f"{oserror_text(err, final=folder)}; the result above is not in a report", code=1)
        if not as_json:
            typer.echo(f"wrote {index}")


def tune_lines(result: TuneResult) -> list[str]:
    """What ``tune`` prints: the scope it read and why, the settings tried (mean [95 % range], whether
    each meets), ``recommended PATH = X: reason`` or ``none: reason``, then the answer in words with
    the agent-hours and occupancy at the recommended (or closest) setting."""
    import pandas as pd

    from ..report.answers import tune_answer
    from ..results.figures import figure
    from ..results.scopes import scope_text, scope_words

    info = figure(result.metric)
    where = scope_text(result.scope, result.key)
    lines = [f"scope: {scope_words(result.scope, result.key)} ({where}, {result.scope_reason})",
             f"{result.metric} ({where}; {result.direction} is better; {result.replications} simulated runs per "
             f"setting, seed {result.seed}) explored over {result.param}:"]
    ex = result.explored
    table = pd.DataFrame({
        result.param: ex[result.param],
        result.metric: [_cell(result.metric, *r) for r in ex[["mean", "ci_low", "ci_high"]].itertuples(index=False)],
        f"meets {info.text(result.target) if info.is_proportion else result.target}": ex["meets"].map({True: "yes", False: "no"}),
        "stage": ex["stage"],
    })
    lines.append(table.to_string(index=False))
    lines.append(f"\nrecommended {result.param} = {result.recommended}: {result.reason}" if result.found
                 else f"\nnone: {result.reason}")
    lines += [f"answer: {a}" for a in tune_answer(result.to_dict())]
    return lines
