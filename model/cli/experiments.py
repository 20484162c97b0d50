"""``sweep`` (a scenario over a grid of changes) and ``tune`` (the smallest setting that meets a target)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Optional

import typer

from .app import fail
from .args import check_force, check_metric, executor_option, expect_note, folder_kind_of, load_or_fail, oserror_text, parse_target

__all__ = ["SWEEP_METRICS", "sweep_cmd", "tune_cmd"]

SWEEP_METRICS: tuple[str, ...] = ("transfer_abandonment_rate", "transfer_success_rate", "time_to_join_mean")
"""The overall figures ``sweep`` prints when no ``--metric`` is given."""


def sweep_cmd(
    scenario: Path = typer.Argument(..., help="Scenario TOML file."),
    vary: list[str] = typer.Option(
        ..., "--vary", "-v", metavar="PATH=V1,V2,...",
        help="A scenario path and its values (V1,V2,... or LOW..HIGH or LOW..HIGH:STEP); repeat for a grid.",
    ),
    replications: Optional[int] = typer.Option(None, "--replications", "-r", min=1,
                                               help="Per point (default: the scenario's)."),
    seed: Optional[int] = typer.Option(None, "--seed", "-s", min=0, help="Base seed (default: the scenario's)."),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", metavar="DIR",
        help="Store folder (Parquet per point; rerun to resume). Default: reports/sweeps/<scenario>-<hash of the arguments>.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    executor: str = typer.Option("processes", "--executor", help="processes (every core) or serial."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", metavar="ADDRESS",
                                            help="Run on this Dask scheduler (tcp://host:8786)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=1, help="Processes (default: one per CPU)."),
    independent: bool = typer.Option(False, "--independent-seeds",
                                     help="A seed per point instead of common random numbers."),
    metrics: Optional[list[str]] = typer.Option(None, "--metric", "-m",
                                                help="Overall metrics to print (default: transfer figures)."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress",
                                            help="Progress bar with ETA (default: on a terminal)."),
    report: bool = typer.Option(False, "--report", help="Also write the HTML report into the store folder."),
    target: Optional[str] = typer.Option(None, "--target",
                                         help="Target transfer abandonment rate drawn in the report, e.g. 0.05 or 5%."),
    force: bool = typer.Option(False, "--force", help="Run even above the work bounds of docs/limits.md."),
) -> None:
    """Run a scenario over a grid of changes, with common random numbers; resumable.

    Example: transfer-sim sweep scenarios/baseline.toml --vary services.support.transfer_timeout=30,45,60,90
    --vary groups.billing.agents=3..5 --replications 10
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
    ex = executor_option(executor, scheduler)
    try:
        sc = load_scenario(scenario)
        grid = parse_vary(vary)
        total = check_grid_size(grid)
        n = replications or sc.simulation.replications
        s = sc.simulation.seed if seed is None else seed
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
        for name in metrics or SWEEP_METRICS:
            try:
                m = result.metric(name)
            except KeyError:
                continue
            m[name] = [f"{a:.4g} [{b:.4g}, {c:.4g}]" for a, b, c in zip(m["mean"], m["ci_low"], m["ci_high"])]
            typer.echo(f"\n{name} (overall, mean [95 % CI], {result.replications} replications)")
            typer.echo(m[[*result.params, name]].to_string(index=False))
        typer.echo(f"\nwrote {out}/summary.parquet, summary.csv, points/")
    if report:
        from ..report import build_report

        try:
            typer.echo(f"wrote {build_report(sc, out, sweep=result.summary, target=goal, failures=result.failures)}")
        except OSError as err:
            fail(f"{oserror_text(err, final=out)}; the sweep itself is stored in {out}", code=1)
    for f in result.failures:
        typer.secho(f"failed point {f['point']} {f['params']}: {f['error']}", err=True, fg=typer.colors.RED)
    if result.failures:
        typer.secho(f"{len(result.failures)} of {total} points failed (see {out}/failures.json); "
                    "the others are stored", err=True, fg=typer.colors.RED)
        raise typer.Exit(1)


def tune_cmd(
    scenario: Path = typer.Argument(..., help="Scenario TOML file."),
    metric: str = typer.Option(..., "--metric", "-m", help="e.g. transfer_abandonment_rate"),
    target: str = typer.Option(..., "--target", "-t",
                               help="The threshold to meet with 95 % confidence, e.g. 0.05 or 5% for a rate."),
    param: str = typer.Option(..., "--param", "-p", help="Scenario path, e.g. groups.billing.agents"),
    range_: str = typer.Option(..., "--range", metavar="LOW..HIGH", help="Values to search, e.g. 10..300."),
    scope: str = typer.Option("overall", "--scope", help="overall | service:NAME | target:NAME | group:NAME"),
    direction: Optional[str] = typer.Option(None, "--direction",
                                            help="lower | higher is better (default: from the metric)."),
    replications: Optional[int] = typer.Option(None, "--replications", "-r", min=1,
                                               help="Per setting (default: the scenario's)."),
    seed: Optional[int] = typer.Option(None, "--seed", "-s", min=0, help="Base seed (default: the scenario's)."),
    grid: int = typer.Option(7, "--grid", min=2, help="Points of the coarse grid before bisection."),
    resolution: Optional[float] = typer.Option(None, "--resolution", help="Precision of the answer (default 1)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="DIR",
                                       help="Write explored.parquet, explored.csv and tune.json here."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    executor: str = typer.Option("processes", "--executor", help="processes (every core) or serial."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", metavar="ADDRESS",
                                            help="Run on this Dask scheduler (tcp://host:8786)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=1, help="Processes (default: one per CPU)."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress",
                                            help="Progress bars (default: on a terminal)."),
    report: bool = typer.Option(False, "--report", help="Also write the HTML report (into --out, or reports/<name>-tune/)."),
    force: bool = typer.Option(False, "--force", help="Run even above the work bounds of docs/limits.md."),
) -> None:
    """Find the smallest setting of --param that meets --target with 95 % confidence.

    Example: transfer-sim tune scenarios/baseline.toml --metric transfer_abandonment_rate --target 0.05
    --param services.support.transfer_timeout --range 10..300
    """
    import json

    from ..experiments import ExperimentError, TuneFailed, tune
    from ..experiments.grid import parse_range
    from ..experiments.tuning import parse_scope
    from ..results.metrics import METRICS
    from ..results.result import describe_folder
    from ..scenario import ScenarioError
    from ..workload import estimate_work, heaviest_variant

    check_metric(metric, "--metric", [*METRICS, "agent_occupancy"])
    goal = parse_target(target, metric)
    ex = executor_option(executor, scheduler)
    try:
        parse_scope(scope)
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
        where = "overall" if result.scope == "overall" else f"{result.scope} {result.key}"
        typer.echo(f"{metric} ({where}; {result.direction} is better; {result.replications} replications, "
                   f"seed {result.seed}) explored over {param}:")
        typer.echo(result.explored.to_string(index=False))
        if result.found:
            typer.echo(f"\nrecommended {param} = {result.recommended}: {result.reason}")
        else:
            typer.echo(f"\nnone: {result.reason}")
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
