"""``run`` (simulate a scenario and print its figures) and ``report`` (the HTML report of a folder)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from ..results.figures import figure
from .app import fail
from .args import check_force, expect_note, load_or_fail, oserror_text, parse_target, writable_folder

if TYPE_CHECKING:
    from ..results import SimulationResult
    from ..scenario import Scenario

__all__ = ["MAIN_FIGURES", "figure_line", "format_figures", "check_run_out", "run_lines", "write_run", "run_cmd",
           "report_cmd"]


MAIN_FIGURES: tuple[str, ...] = (
    "arrivals",
    "completed",
    "transfers_requested",
    "transfer_abandonment_rate",
    "transfer_success_rate",
    "transfer_service_level",
    "time_to_join_mean",
    "time_to_join_p90",
    "queue_abandonment_rate",
    "abandonment_rate",
)
"""The figures ``run`` prints per scope, in this order (each written as its record in
:mod:`model.results.figures` says)."""


def figure_line(name: str, mean: float, lo: float, hi: float, *, label: str | None = None) -> str:
    """``  name   mean  (lo - hi)``: one figure, its 95 % interval in the same unit; ``-`` alone
    when there is no mean (e.g. no transfer joined). ``label`` replaces the name on the left."""
    info = figure(name)
    text = f"{info.text(mean):>9}  ({info.text(lo)} - {info.text(hi)})" if mean == mean else f"{'-':>9}"
    return f"  {label or name:<28}{text}"


def format_figures(result: SimulationResult, scope: str, key: str,
                   figures: Sequence[str] = MAIN_FIGURES) -> list[str]:
    """Readable lines ``name  mean  (lo - hi)`` for one scope/key of a result (figures the scope
    does not have, such as arrivals per target, are left out)."""
    table = result.table(scope, key)
    return [figure_line(name, *(float(table.loc[name, c]) for c in ("mean", "ci_low", "ci_high")))
            for name in figures if name in table.index]


def check_run_out(out: Path, force: bool, option: str = "--out") -> None:
    """``run --out D``: D must be new, an empty folder, or (with ``force``) an earlier run's output."""
    from ..results.result import describe_folder, folder_kind

    kind = folder_kind(out)
    if kind == "file":
        fail(f"{option} {out} is a file, not a folder; give a folder path")
    if kind == "run" and not force:
        fail(f"{option} {out} already holds an earlier run's output (run.json); use --force to replace it")
    if kind not in (None, "run"):
        fail(f"{option} {out} holds {describe_folder(out)}; 'run --out' writes into a new or empty folder "
             "(or over an earlier run's output with --force)")
    writable_folder(out, option)


def run_lines(result: SimulationResult, sc: Scenario, json_out: bool) -> list[str]:
    """What ``run`` prints: the JSON, or the figures overall, per transfer target and occupancy."""
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
    lines.append(figure("agent_occupancy").label)
    for g in result.metrics.query("scope == 'group'").key.unique():
        lines.append(figure_line("agent_occupancy", *result.metric("agent_occupancy", "group", g), label=str(g)))
    return lines


def write_run(result: SimulationResult, out: Path, report: bool = False) -> Path | None:
    """Write a run's output (and its report) as a whole: into a hidden temporary folder next to
    ``out``, then renamed into place (an earlier output there is swapped out). A crash or a full
    disk leaves the earlier ``out`` (or none) and, after SIGKILL only, a hidden ``.NAME.part-PID``
    that the next run next to it removes. Returns the report's index.html (in ``out``) or ``None``."""
    import shutil

    from ..results.result import replace_folder, temp_folder

    tmp = temp_folder(out)
    try:
        result.to_parquet(tmp)
        index = None
        if report:
            from ..report import build_report

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

    from ..sim import simulate
    from ..workload import estimate_work

    sc = load_or_fail(scenario)
    default_out = report and out is None
    if default_out:
        out = Path("reports") / sc.name
    if out is not None:
        # the default report folder is this command's own: an earlier run there is replaced
        check_run_out(out, force or default_out)
    n = replications or sc.simulation.replications
    keep = keep_events or out is not None
    work = estimate_work(sc, n, keep_events=keep, timeline_step=300.0)
    check_force(work, force, "this run")
    expect_note(work)
    with tqdm(total=n, desc=sc.name, unit="rep", disable=not sys.stderr.isatty(), leave=False) as bar:
        result = simulate(sc, seed=seed, replications=n, keep_events=keep,
                          progress=lambda done: bar.update(1), force=True)
    lines = run_lines(result, sc, json_out)
    index = None
    if out is not None:
        try:
            index = write_run(result, out, report)
        except OSError as err:
            for line in lines:  # the figures are never lost
                typer.echo(line)
            fail(f"{oserror_text(err)}; {out} was left as it was (the figures are above)", code=1)
    for line in lines:
        typer.echo(line)
    if json_out:
        return
    if out is not None:
        typer.echo(f"wrote {out}/ (events.parquet, transfers.parquet, metrics.csv, run.json)")
    if index is not None:
        typer.echo(f"wrote {index}")


def report_cmd(
    results: Path = typer.Argument(..., help="A folder written by 'run --out' (or 'sweep --out')."),
    out: Optional[Path] = typer.Option(None, "--out", help="Report folder (default: reports/<scenario name>/)."),
    target: Optional[str] = typer.Option(None, "--target",
                                         help="Target transfer abandonment rate, e.g. 0.05 or 5% (drawn, and used to recommend)."),
) -> None:
    """Write a self-contained HTML report (charts embedded, no network needed) and its PNGs."""
    from ..report import ReportError, build_report

    goal = None if target is None else parse_target(target, "transfer_abandonment_rate")
    try:
        index = build_report(results, out, target=goal)
    except ReportError as err:
        fail(str(err))
    except OSError as err:
        fail(oserror_text(err, final=out), code=1)
    typer.echo(f"wrote {index}")
