"""The ``transfer-sim`` command: one command, a subcommand per job."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperGroup

# the click that typer runs on (typer >= 0.2x vendors its own copy as typer._click)
_click_exceptions = sys.modules[typer.BadParameter.__module__]


class _OneLineErrors(TyperGroup):
    """The command group: a usage error (a bad option value, a missing argument) and any error
    transfer-sim raises on purpose print one line ``error: ...`` on stderr and exit 2, never a
    traceback or a framed usage block."""

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        from .errors import TransferSimError

        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _click_exceptions.NoArgsIsHelpError as err:
            err.show()
            sys.exit(err.exit_code)
        except _click_exceptions.ClickException as err:
            message = " ".join(err.format_message().split())
            where = getattr(getattr(err, "ctx", None), "command_path", None)
            hint = f" (see '{where} --help')" if where else ""
            _error_line(f"{message}{hint}")
            sys.exit(err.exit_code)
        except typer.Abort:
            _error_line("aborted")
            sys.exit(1)
        except TransferSimError as err:
            _error_line(str(err))
            sys.exit(2)
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    no_args_is_help=True,
    add_completion=False,
    help="Simulate and test the lifecycle of a contact transfer in a chat contact center.",
)


def _error_line(message: str) -> None:
    """``error: ...`` on stderr; a message of several problems (a scenario with three mistakes)
    gives one such line per problem, so each line stands alone in a log."""
    for line in str(message).splitlines() or [""]:
        typer.secho(f"error: {line}", err=True, fg=typer.colors.RED)


@app.callback()
def _root() -> None:
    """Simulate and test the lifecycle of a contact transfer in a chat contact center."""


def fail(message: str, code: int = 2) -> None:
    """Print ``message`` on stderr and exit non-zero (bad input is exit status 2; a failure to
    write, such as a full disk, is 1)."""
    _error_line(message)
    raise typer.Exit(code)


# -- shared argument checks -------------------------------------------------------------------------
def parse_target(text: Any, metric: str, option: str = "--target") -> float:
    """A target for ``metric`` as typed: ``0.05`` or ``5%`` (a percentage is read as /100).

    Refuses NaN and infinities, and values outside the metric's range: a proportion
    (``results.metrics.PROPORTIONS``: rates, service levels, occupancy) must lie in [0, 1], any
    other figure (counts, times, per-transfer ratios) must be >= 0. Exits 2 with one line naming
    ``option`` and the allowed range.
    """
    from .results.metrics import PROPORTIONS

    raw = str(text).strip()
    percent = raw.endswith("%")
    body = raw[:-1].strip() if percent else raw
    proportion = metric in PROPORTIONS
    allowed = ("a proportion from 0 to 1, e.g. 0.05 or 5%" if proportion
               else "a number >= 0 (not a percentage)")
    try:
        value = float(body)
    except ValueError:
        fail(f"{option} for {metric} must be {allowed}; got {raw!r}")
    if not math.isfinite(value):
        fail(f"{option} must be a finite number: for {metric}, {allowed}; got {raw!r}")
    if percent:
        if not proportion:
            fail(f"{option} {raw} is a percentage, but {metric} is not a proportion: give {allowed}")
        value /= 100.0
    if value < 0 or (proportion and value > 1):
        fail(f"{option} for {metric} must be {allowed}; got {raw!r}")
    return value + 0.0  # -0.0 -> 0.0


def check_metric(name: str, option: str, allowed: Any) -> str:
    """``name`` if it is one of ``allowed``, else exit 2 listing them."""
    allowed = list(allowed)
    if name not in allowed:
        fail(f"{option} {name!r} is not a metric; allowed: {', '.join(allowed)}")
    return name


def _check_force(work: Any, force: bool, what: str) -> None:
    from .workload import WorkTooLarge, check_work

    try:
        check_work(work, force, what=what)
    except WorkTooLarge as err:
        fail(str(err))


def _expect(work: Any, parallel: int = 1) -> None:
    """One line on stderr when the work is expected to take more than ~10 s (also without a terminal)."""
    from .workload import PROGRESS_NOTE_SECONDS, format_seconds

    seconds = work.seconds / max(1, parallel)
    if seconds > PROGRESS_NOTE_SECONDS:
        typer.echo(f"{format_seconds(seconds)} expected (~{work.events:.2g} events"
                   f"{f' on {parallel} processes' if parallel > 1 else ''})", err=True)


def _oserror(err: OSError, tmp: Path | None = None, final: Path | None = None) -> str:
    """``cannot write PATH: REASON`` naming the final path (not a hidden temporary one)."""
    name = err.filename if err.filename is not None else (final if final is not None else "?")
    name = str(name)
    if tmp is not None and final is not None and name.startswith(str(tmp)):
        name = str(final) + name[len(str(tmp)):]
    reason = err.strerror or str(err) or type(err).__name__
    return f"cannot write {name}: {reason}"


def _writable_folder(out: Path, option: str = "--out") -> None:
    """Exit 2 when ``out`` cannot become a folder: an ancestor is a file, or is not writable."""
    p = out.absolute()
    for anc in [p, *p.parents]:
        if anc.exists():
            if not anc.is_dir():
                fail(f"{option} {out}: {anc} is a file, not a folder")
            if anc != p and not os.access(anc, os.W_OK | os.X_OK):
                fail(f"{option} {out}: cannot write into {anc} (permission denied)")
            return


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


def _check_run_out(out: Path, force: bool, option: str = "--out") -> None:
    """``run --out D``: D must be new, an empty folder, or (with ``force``) an earlier run's output."""
    from .results.result import describe_folder, folder_kind

    kind = folder_kind(out)
    if kind == "file":
        fail(f"{option} {out} is a file, not a folder; give a folder path")
    if kind == "run" and not force:
        fail(f"{option} {out} already holds an earlier run's output (run.json); use --force to replace it")
    if kind not in (None, "run"):
        fail(f"{option} {out} holds {describe_folder(out)}; 'run --out' writes into a new or empty folder "
             "(or over an earlier run's output with --force)")
    _writable_folder(out, option)


def _run_lines(result: Any, sc: Any, json_out: bool) -> list[str]:
    if json_out:
        return [result.to_json(indent=2)]
    lines = [f"{sc.name}: {result.replications} replications, seed {result.seed}, "
             f"horizon {sc.simulation.horizon / 3600:g} h after {sc.simulation.warmup / 60:g} min warm-up",
             "mean (95 % CI over replications)", "overall"]
    lines += format_figures(result, "overall", "all")
    for t in sorted(result.metrics.query("scope == 'target'").key.unique()):
        if result.metric("transfers_requested", "target", t)[0] > 0:
            lines.append(f"transfers to {t}")
            lines += format_figures(result, "target", t)
    lines.append("agent occupancy")
    for g in result.metrics.query("scope == 'group'").key.unique():
        mean, lo, hi = result.metric("agent_occupancy", "group", g)
        lines.append(f"  {g:<28}{_percent(mean):>9}  ({_percent(lo)} - {_percent(hi)})")
    return lines


def write_run(result: Any, out: Path, report: bool = False) -> Path | None:
    """Write a run's output (and its report) as a whole: into a hidden temporary folder next to
    ``out``, then renamed into place (an earlier output there is swapped out). A crash or a full
    disk leaves the earlier ``out`` (or none) and, after SIGKILL only, a hidden ``.NAME.part-PID``
    that the next run next to it removes. Returns the report's index.html (in ``out``) or ``None``."""
    import shutil

    from .results.result import replace_folder, temp_folder

    tmp = temp_folder(out)
    try:
        result.to_parquet(tmp)
        index = None
        if report:
            from .report import build_report

            index = out / build_report(result, tmp).relative_to(tmp)
        replace_folder(tmp, out)
        return index
    except OSError as err:
        name = str(err.filename) if err.filename is not None else str(out)
        if name.startswith(str(tmp)):
            name = str(out) + name[len(str(tmp)):]
        raise OSError(err.errno, err.strerror or str(err), name) from err
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@app.command("run")
def run_cmd(
    scenario: Path = typer.Argument(..., help="Scenario file (TOML)."),
    replications: Optional[int] = typer.Option(None, "--replications", "-r", min=1, help="Default: the scenario's."),
    seed: Optional[int] = typer.Option(None, "--seed", "-s", min=0, help="Default: the scenario's."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object instead of the table."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the event log (Parquet) and metrics (CSV) into "
                                       "this new folder, as a whole (docs/limits.md)."),
    keep_events: bool = typer.Option(True, "--keep-events/--no-events", help="Keep the event log (memory grows with it)."),
    report: bool = typer.Option(False, "--report", help="Also write the HTML report (and its PNGs) into "
                                "--out, or reports/<name>/ (data too) when --out is not given."),
    force: bool = typer.Option(False, "--force", help="Replace an earlier run's output in --out, and run even "
                               "above the work bounds of docs/limits.md."),
) -> None:
    """Simulate a scenario over replications and print its figures with 95 % confidence intervals."""
    from tqdm.auto import tqdm

    from .sim import simulate
    from .workload import estimate_work

    sc = load_or_fail(scenario)
    default_out = report and out is None
    if default_out:
        out = Path("reports") / sc.name
    if out is not None:
        # the default report folder is this command's own: an earlier run there is replaced
        _check_run_out(out, force or default_out)
    n = replications or sc.simulation.replications
    keep = keep_events or out is not None
    work = estimate_work(sc, n, keep_events=keep, timeline_step=300.0)
    _check_force(work, force, "this run")
    _expect(work)
    with tqdm(total=n, desc=sc.name, unit="rep", disable=not sys.stderr.isatty(), leave=False) as bar:
        result = simulate(sc, seed=seed, replications=n, keep_events=keep,
                          progress=lambda done: bar.update(1), force=True)
    lines = _run_lines(result, sc, json_out)
    index = None
    if out is not None:
        try:
            index = write_run(result, out, report)
        except OSError as err:
            for line in lines:  # the figures are never lost
                typer.echo(line)
            fail(f"{_oserror(err)}; {out} was left as it was (the figures are above)", code=1)
    for line in lines:
        typer.echo(line)
    if json_out:
        return
    if out is not None:
        typer.echo(f"wrote {out}/ (events.parquet, transfers.parquet, metrics.csv, run.json)")
    if index is not None:
        typer.echo(f"wrote {index}")


@app.command("report")
def report_cmd(
    results: Path = typer.Argument(..., help="A folder written by 'run --out' (or 'sweep --out')."),
    out: Optional[Path] = typer.Option(None, "--out", help="Report folder (default: reports/<scenario name>/)."),
    target: Optional[str] = typer.Option(None, "--target",
                                         help="Target transfer abandonment rate, e.g. 0.05 or 5% (drawn, and used to recommend)."),
) -> None:
    """Write a self-contained HTML report (charts embedded, no network needed) and its PNGs."""
    from .report import ReportError, build_report

    goal = None if target is None else parse_target(target, "transfer_abandonment_rate")
    try:
        index = build_report(results, out, target=goal)
    except ReportError as err:
        fail(str(err))
    except OSError as err:
        fail(_oserror(err, final=out), code=1)
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

    from .validation import CASES, FAST_CASES, LEVEL, NARROW_RULE, format_table, validate, write

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
               "transfer: M/M/n+D (theta -) or M/M/n+(D,exp), transfer_abandonment_rate (as reported by run)")
    typer.echo(f"pass: analytic inside the CI and {NARROW_RULE}")
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


def folder_kind_of(path: Path) -> str | None:
    from .results.result import folder_kind

    return folder_kind(path)


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
    target: Optional[str] = typer.Option(None, "--target",
                                         help="Target transfer abandonment rate drawn in the report, e.g. 0.05 or 5%."),
    force: bool = typer.Option(False, "--force", help="Run even above the work bounds of docs/limits.md."),
) -> None:
    """Run a scenario over a grid of changes, with common random numbers; resumable.

    Example: transfer-sim sweep scenarios/baseline.toml --vary services.support.transfer_timeout=30,45,60,90
    --vary groups.billing.agents=3..5 --replications 10
    """
    import json

    from .experiments import ExperimentError, SweepResult, parse_vary, run_sweep
    from .experiments.grid import check_grid_size
    from .experiments.store import arguments_hash
    from .experiments.sweeps import sweep_arguments
    from .workload import estimate_sweep_work, grid_ends
    from .results.metrics import METRICS
    from .scenario import ScenarioError, load_scenario

    for name in metrics or ():
        check_metric(name, "--metric", METRICS)
    goal = None if target is None else parse_target(target, "transfer_abandonment_rate")
    ex = _executor_option(executor, scheduler)
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
        _check_force(work, force, "this sweep")
        if out is None:
            digest = arguments_hash(sweep_arguments(sc, grid, n, s, not independent))
            out = Path("reports") / "sweeps" / f"{scenario.stem}-{digest[:12]}"
        kind = folder_kind_of(out)
        if kind == "file":
            fail(f"--out {out} is a file, not a folder; give a folder path")
        if kind not in (None, "sweep"):
            from .results.result import describe_folder

            fail(f"--out {out} holds {describe_folder(out)}; 'sweep --out' writes into a new or empty folder, "
                 "or resumes the sweep stored there")
        typer.echo(f"sweep: {total} points x {n} replications -> {out}", err=True)
        _expect(work, 1 if ex == "serial" else (workers or os.cpu_count() or 1))
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
        fail(f"{_oserror(err, final=out)}; the points stored so far are kept in {out}: "
             "free space or fix the folder, then run the same command again to resume", code=1)
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

        try:
            typer.echo(f"wrote {build_report(sc, out, sweep=result.summary, target=goal, failures=result.failures)}")
        except OSError as err:
            fail(f"{_oserror(err, final=out)}; the sweep itself is stored in {out}", code=1)
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

    from .experiments import ExperimentError, TuneFailed, tune
    from .experiments.grid import parse_range
    from .experiments.tuning import parse_scope
    from .results.metrics import METRICS
    from .results.result import describe_folder
    from .scenario import ScenarioError
    from .workload import estimate_work, heaviest_variant

    check_metric(metric, "--metric", [*METRICS, "agent_occupancy"])
    goal = parse_target(target, metric)
    ex = _executor_option(executor, scheduler)
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
    _check_force(work, force, "this tuning")
    _expect(work, 1 if ex == "serial" else (workers or os.cpu_count() or 1))
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
            fail(f"{_oserror(err, final=out)}; the result above was not stored", code=1)
        if not as_json:
            typer.echo(f"wrote {out}/explored.parquet, explored.csv, tune.json")
    if report:
        from .report import build_report

        frame = result.explored[[param, "mean", "ci_low", "ci_high", "n"]].assign(
            scope=result.scope, key=result.key, metric=metric
        )
        folder = out if out is not None else Path("reports") / f"{sc.name}-tune"
        try:
            index = build_report(sc, folder, sweep=frame, tune=result.to_dict(), target=goal)
        except OSError as err:
            fail(f"{_oserror(err, final=folder)}; the result above is not in a report", code=1)
        if not as_json:
            typer.echo(f"wrote {index}")


def main() -> None:  # pragma: no cover - console entry point
    app()
