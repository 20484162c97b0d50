"""The ``transfer-sim`` command: one command, a subcommand per job."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Simulate and test the lifecycle of a contact transfer in a chat contact center.",
)


@app.callback()
def _root() -> None:
    """Simulate and test the lifecycle of a contact transfer in a chat contact center."""


def fail(message: str, code: int = 2) -> None:
    """Print ``message`` on stderr and exit non-zero (bad input is exit status 2)."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


@app.command("model")
def model_cmd(
    table: bool = typer.Option(False, "--table", help="Print the transition table."),
    diagram: Optional[Path] = typer.Option(
        None, "--diagram", metavar="FILE", help="Write the diagram: .svg, .png (Graphviz), .mmd, .md, .dot."
    ),
    mermaid: bool = typer.Option(False, "--mermaid", help="Print the diagram as Mermaid text."),
) -> None:
    """Show the formal statechart: its transition table and its diagram."""
    from .spec import DiagramUnavailable, transition_table, write_diagram
    from .spec import mermaid as mermaid_text

    if not (table or diagram or mermaid):
        table = True
    if table:
        typer.echo(transition_table().to_string(index=False))
    if mermaid:
        typer.echo(mermaid_text())
    if diagram is not None:
        try:
            written = write_diagram(diagram)
        except DiagramUnavailable as err:
            typer.secho(f"skipped: {err}", err=True, fg=typer.colors.YELLOW)
        except ValueError as err:
            fail(str(err))
        else:
            typer.echo(f"wrote {written}")


def load_or_fail(path: Path):  # -> Scenario
    """Load a scenario file, or exit 2 with the validation message (file, field, value, allowed)."""
    from .scenario import ScenarioError, load_scenario

    try:
        return load_scenario(path)
    except ScenarioError as err:
        fail(str(err))


def _percent(x: float) -> str:
    return "-" if x != x else f"{100 * x:.1f} %"


MAIN_FIGURES = (
    ("arrivals", "{:.0f}"),
    ("completed", "{:.0f}"),
    ("transfers_requested", "{:.0f}"),
    ("transfer_abandonment_rate", "%"),
    ("transfer_success_rate", "%"),
    ("transfer_service_level", "%"),
    ("time_to_join_mean", "{:.1f} s"),
    ("time_to_join_p90", "{:.1f} s"),
    ("queue_abandonment_rate", "%"),
    ("abandonment_rate", "%"),
)


def format_figures(result, scope: str, key: str, figures=MAIN_FIGURES) -> list[str]:
    """Readable lines ``name  mean  (lo - hi)`` for one scope/key of a result."""
    lines = []
    table = result.table(scope, key)
    for name, fmt in figures:
        if name not in table.index:
            continue
        mean, lo, hi = (float(table.loc[name, c]) for c in ("mean", "ci_low", "ci_high"))
        if fmt == "%":
            text = f"{_percent(mean):>9}  ({_percent(lo)} - {_percent(hi)})"
        else:
            text = f"{fmt.format(mean):>9}  ({fmt.format(lo)} - {fmt.format(hi)})" if mean == mean else "        -"
        lines.append(f"  {name:<28}{text}")
    return lines


@app.command("run")
def run_cmd(
    scenario: Path = typer.Argument(..., help="Scenario file (TOML)."),
    replications: Optional[int] = typer.Option(None, "--replications", "-r", min=1, help="Default: the scenario's."),
    seed: Optional[int] = typer.Option(None, "--seed", "-s", min=0, help="Default: the scenario's."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object instead of the table."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the event log (Parquet) and metrics (CSV) here."),
    keep_events: bool = typer.Option(True, "--keep-events/--no-events", help="Keep the event log (memory grows with it)."),
    report: bool = typer.Option(False, "--report", help="Also write the HTML report (and its PNGs) into "
                                "--out, or reports/<name>/ (data too) when --out is not given."),
) -> None:
    """Simulate a scenario over replications and print its figures with 95 % confidence intervals."""
    import sys

    from tqdm.auto import tqdm

    from .sim import simulate

    sc = load_or_fail(scenario)
    if report and out is None:
        out = Path("reports") / sc.name
    n = replications or sc.simulation.replications
    with tqdm(total=n, desc=sc.name, unit="rep", disable=not sys.stderr.isatty(), leave=False) as bar:
        result = simulate(sc, seed=seed, replications=n, keep_events=keep_events or out is not None,
                          progress=lambda done: bar.update(1))
    if out is not None:
        result.to_parquet(out)
    if json_out:
        typer.echo(result.to_json(indent=2))
        return
    typer.echo(f"{sc.name}: {result.replications} replications, seed {result.seed}, "
               f"horizon {sc.simulation.horizon / 3600:g} h after {sc.simulation.warmup / 60:g} min warm-up")
    typer.echo("mean (95 % CI over replications)")
    typer.echo("overall")
    for line in format_figures(result, "overall", "all"):
        typer.echo(line)
    for t in sorted(result.metrics.query("scope == 'target'").key.unique()):
        if result.metric("transfers_requested", "target", t)[0] > 0:
            typer.echo(f"transfers to {t}")
            for line in format_figures(result, "target", t):
                typer.echo(line)
    typer.echo("agent occupancy")
    for g in result.metrics.query("scope == 'group'").key.unique():
        mean, lo, hi = result.metric("agent_occupancy", "group", g)
        typer.echo(f"  {g:<28}{_percent(mean):>9}  ({_percent(lo)} - {_percent(hi)})")
    if out is not None:
        typer.echo(f"wrote {out}/ (events.parquet, transfers.parquet, metrics.csv, run.json)")
    if report:
        from .report import build_report

        typer.echo(f"wrote {build_report(result, out)}")


@app.command("report")
def report_cmd(
    results: Path = typer.Argument(..., help="A folder written by 'run --out' (or 'sweep --out')."),
    out: Optional[Path] = typer.Option(None, "--out", help="Report folder (default: reports/<scenario name>/)."),
    target: Optional[float] = typer.Option(None, "--target", min=0, max=1,
                                           help="Target transfer abandonment rate, e.g. 0.05 (drawn, and used to recommend)."),
) -> None:
    """Write a self-contained HTML report (charts embedded, no network needed) and its PNGs."""
    from .report import ReportError, build_report

    try:
        index = build_report(results, out, target=target)
    except ReportError as err:
        fail(str(err))
    typer.echo(f"wrote {index}")


@app.command("conform")
def conform_cmd(
    adapter: Optional[str] = typer.Option(
        None, "--adapter", metavar="SPEC", help="model | python:MODULE:CLASS | exec:COMMAND (JSON lines)."
    ),
    suite: Optional[Path] = typer.Option(None, "--suite", metavar="FILE", help="Run this JSON suite or case (default: generate from the model)."),
    write_suite: Optional[Path] = typer.Option(None, "--write-suite", metavar="FILE", help="Write the suite as JSON."),
    random: bool = typer.Option(False, "--random", help="Random mode: Hypothesis stateful testing, shrunk failures."),
    max_examples: int = typer.Option(200, "--max-examples", min=1, help="Random mode: timelines to try."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random mode: seed (default: repeatable)."),
    out: Path = typer.Option(Path("conformance-failure.json"), "--out", metavar="FILE", help="Random mode: where the minimal failing case is written."),
    timeout: float = typer.Option(10.0, "--timeout", help="exec adapter: seconds to wait for each reply."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Every case, every failure, uncovered goals."),
) -> None:
    """Check an implementation against the model with a generated conformance suite (docs/conformance.md)."""
    from .conformance.command import ConformUsageError, conform

    try:
        code = conform(adapter, suite, write_suite, random, max_examples, 25, seed, out, timeout, verbose, typer.echo)
    except ConformUsageError as err:
        fail(str(err))
    else:
        raise typer.Exit(code)


@app.command("validate")
def validate_cmd(
    fast: bool = typer.Option(False, "--fast", help="Only the default subset (one case per regime and stage)."),
    replications: int = typer.Option(20, "--replications", "-r", min=2, help="Replications per case."),
    seed: int = typer.Option(20240601, "--seed", "-s", min=0, help="Base seed of the random streams."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=1, help="Processes (default: one per CPU)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write validation.csv and validation.png here."),
) -> None:
    """Check the simulator against Erlang A and M/M/n+D(+exp): analytic vs simulated P(abandon), 99 % CI.

    Exits 1 when any case fails (the analytic value outside the CI, or the CI too wide).
    """
    import sys
    import time

    from tqdm.auto import tqdm

    from .validation import CASES, FAST_CASES, LEVEL, format_table, validate, write

    cases = FAST_CASES if fast else CASES
    start = time.perf_counter()
    with tqdm(total=len(cases) * replications, desc="validate", unit="rep", disable=not sys.stderr.isatty(),
              leave=False) as bar:
        df = validate(cases, replications=replications, seed=seed, workers=workers,
                      progress=lambda done, total: bar.update(1))
    elapsed = time.perf_counter() - start
    typer.echo(f"{len(cases)} cases x {replications} replications, seed {seed}, {elapsed:.0f} s; "
               f"rates per minute, D in minutes; {100 * LEVEL:g} % t interval over replications")
    typer.echo("queue: Erlang A (M/M/n+M), abandoned_queue / arrivals; "
               "transfer: M/M/n+D (theta -) or M/M/n+(D,exp), transfer_abandonment_rate")
    typer.echo("pass: analytic inside the CI and half-width < 10 % of it or < 0.005")
    typer.echo(format_table(df))
    failed = int((df["verdict"] != "pass").sum())
    if out is not None:
        for path in write(df, out):
            typer.echo(f"wrote {path}")
    if failed:
        typer.secho(f"{failed} of {len(df)} cases failed", err=True, fg=typer.colors.RED)
        raise typer.Exit(1)
    typer.echo(f"all {len(df)} cases pass")


@app.command("estimate")
def estimate_cmd(
    scenario: Path = typer.Argument(..., help="Scenario file (TOML)."),
) -> None:
    """Analytic approximation of each group's queue and transfer abandonment for a scenario."""
    import math

    from .validation import estimate

    sc = load_or_fail(scenario)
    try:
        df = estimate(sc)
    except (ValueError, ArithmeticError) as err:
        fail(f"cannot estimate {scenario}: {err}", code=1)
    typer.echo(f"{sc.name}: analytic estimate per group (not a simulation)")
    shown = df.copy()
    for col in ("entry_per_hour", "transfers_in_per_hour"):
        shown[col] = shown[col].map(lambda x: f"{x:.1f}")
    shown["offered_erlangs"] = shown["offered_erlangs"].map(lambda x: f"{x:.2f}")
    shown["rho"] = shown["rho"].map(lambda x: f"{x:.2f}")
    shown["handle_mean_s"] = shown["handle_mean_s"].map(lambda x: f"{x:g}")
    shown["transfer_timeout_s"] = shown["transfer_timeout_s"].map(lambda x: "-" if math.isnan(x) else f"{x:g}")
    for col in ("queue_p_abandon", "transfer_p_abandon"):
        shown[col] = shown[col].map(_percent)
    typer.echo(shown.to_string(index=False))
    typer.echo("assumptions:")
    for a in df.attrs["assumptions"]:
        typer.echo(f"  - {a}")


_SWEEP_METRICS = ["transfer_abandonment_rate", "transfer_success_rate", "time_to_join_mean"]


def _executor_option(executor: str, scheduler: Optional[str]) -> str:
    if scheduler:
        return scheduler if "://" in scheduler else f"tcp://{scheduler}"
    if executor not in ("processes", "serial"):
        fail(f"--executor must be 'processes' or 'serial' (use --scheduler ADDRESS for Dask), got {executor!r}")
    return executor


@app.command("sweep")
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
    target: Optional[float] = typer.Option(None, "--target", help="Target transfer abandonment rate drawn in the report."),
) -> None:
    """Run a scenario over a grid of changes, with common random numbers; resumable.

    Example: transfer-sim sweep scenarios/baseline.toml --vary services.support.transfer_timeout=30,45,60,90
    --vary groups.billing.agents=3..5 --replications 10
    """
    import json

    from .experiments import ExperimentError, SweepResult, parse_vary, run_sweep
    from .experiments.store import arguments_hash
    from .experiments.sweeps import grid_points, sweep_arguments
    from .scenario import ScenarioError, load_scenario

    ex = _executor_option(executor, scheduler)
    try:
        sc = load_scenario(scenario)
        grid = parse_vary(vary)
        n = replications or sc.simulation.replications
        s = sc.simulation.seed if seed is None else seed
        if out is None:
            digest = arguments_hash(sweep_arguments(sc, grid, n, s, not independent))
            out = Path("reports") / "sweeps" / f"{scenario.stem}-{digest[:12]}"
        total = len(grid_points(grid))
        typer.echo(f"sweep: {total} points x {n} replications -> {out}", err=True)
        result: SweepResult = run_sweep(
            sc, grid, n, seed=s, out=out, executor=ex, workers=workers, progress=progress,
            common_random_numbers=not independent,
        )
    except (ScenarioError, ExperimentError) as err:
        fail(str(err))
    except KeyboardInterrupt:
        stored = len(list((Path(out) / "points").glob("*.parquet"))) if out is not None else 0
        typer.secho(f"interrupted: {stored} points stored in {out}; run the same command again to resume",
                    err=True, fg=typer.colors.YELLOW)
        raise typer.Exit(130)
    except OSError as err:
        fail(f"cannot run the sweep: {err}")
    if as_json:
        typer.echo(json.dumps(result.to_dict(), default=str))
    else:
        for name in metrics or _SWEEP_METRICS:
            try:
                m = result.metric(name)
            except KeyError:
                continue
            m[name] = [f"{a:.4g} [{b:.4g}, {c:.4g}]" for a, b, c in zip(m["mean"], m["ci_low"], m["ci_high"])]
            typer.echo(f"\n{name} (overall, mean [95 % CI], {result.replications} replications)")
            typer.echo(m[[*result.params, name]].to_string(index=False))
        typer.echo(f"\nwrote {out}/summary.parquet, summary.csv, points/")
    if report:
        from .report import build_report

        typer.echo(f"wrote {build_report(sc, out, sweep=result.summary, target=target)}")
    for f in result.failures:
        typer.secho(f"failed point {f['point']} {f['params']}: {f['error']}", err=True, fg=typer.colors.RED)
    if result.failures:
        typer.secho(f"{len(result.failures)} of {total} points failed (see {out}/failures.json); "
                    "the others are stored", err=True, fg=typer.colors.RED)
        raise typer.Exit(1)


@app.command("tune")
def tune_cmd(
    scenario: Path = typer.Argument(..., help="Scenario TOML file."),
    metric: str = typer.Option(..., "--metric", "-m", help="e.g. transfer_abandonment_rate"),
    target: float = typer.Option(..., "--target", "-t", help="The threshold to meet with 95 % confidence."),
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
) -> None:
    """Find the smallest setting of --param that meets --target with 95 % confidence.

    Example: transfer-sim tune scenarios/baseline.toml --metric transfer_abandonment_rate --target 0.05
    --param services.support.transfer_timeout --range 10..300
    """
    import json

    from .experiments import ExperimentError, tune
    from .scenario import ScenarioError

    ex = _executor_option(executor, scheduler)
    try:
        result = tune(
            scenario, metric, target, param, range_, scope=scope, direction=direction,
            replications=replications, seed=seed, grid=grid,
            resolution=(int(resolution) if resolution is not None and float(resolution).is_integer() else resolution),
            executor=ex, workers=workers, progress=progress,
        )
    except (ScenarioError, ExperimentError) as err:
        fail(str(err))
    except OSError as err:
        fail(f"cannot run: {err}")
    if out is not None:
        result.to_files(out)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), default=str))
        return
    where = "overall" if result.scope == "overall" else f"{result.scope} {result.key}"
    typer.echo(f"{metric} ({where}; {result.direction} is better; {result.replications} replications, "
               f"seed {result.seed}) explored over {param}:")
    typer.echo(result.explored.to_string(index=False))
    if result.found:
        typer.echo(f"\nrecommended {param} = {result.recommended}: {result.reason}")
    else:
        typer.echo(f"\nnone: {result.reason}")
    if out is not None:
        typer.echo(f"wrote {out}/explored.parquet, explored.csv, tune.json")
    if report:
        from .report import build_report
        from .scenario import load_scenario

        sc = load_scenario(scenario)
        frame = result.explored[[param, "mean", "ci_low", "ci_high", "n"]].assign(
            scope=result.scope, key=result.key, metric=metric
        )
        folder = out if out is not None else Path("reports") / f"{sc.name}-tune"
        index = build_report(sc, folder, sweep=frame, tune=result.to_dict(), target=target)
        typer.echo(f"wrote {index}")


def main() -> None:  # pragma: no cover - console entry point
    app()
