"""``run`` (simulate a scenario and print its figures) and ``report`` (the HTML report of a folder)."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from ..results.figures import FigureInfo, figure
from .app import fail
from .args import (check_force, check_scope_text, expect_note, load_or_fail, oserror_text, parse_interval,
                   parse_target, writable_folder)

if TYPE_CHECKING:
    from ..charts.intervals import IntervalRow
    from ..results import SimulationResult
    from ..scenario import Scenario

__all__ = ["MAIN_FIGURES", "figure_line", "format_figures", "outcome_lines", "check_run_out", "run_lines", "interval_lines",
           "worst_line", "write_run", "run_cmd", "report_cmd"]


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
    "service_level",
    "wait_mean",
)
"""The figures ``run`` prints per scope, in this order (each written as its record in
:mod:`model.results.figures` says)."""


SERVICE_FIGURES: tuple[str, ...] = ("arrivals", "queue_abandonment_rate", "service_level", "wait_mean",
                                    "transfers_requested", "transfer_abandonment_rate")
"""The figures ``run`` prints per service when a scenario has several (side by side in the report)."""


def figure_line(name: str, mean: float, lo: float, hi: float, *, label: str | None = None,
                info: FigureInfo | None = None) -> str:
    """``  name   mean  (lo - hi)``: one figure, its 95 % interval in the same unit; ``-`` alone
    when there is no mean (e.g. no transfer joined). ``label`` replaces the name on the left;
    ``info`` is the record to format with (default: the figure's own)."""
    info = info or figure(name)
    text = f"{info.text(mean):>9}  ({info.text(lo)} - {info.text(hi)})" if mean == mean else f"{'-':>9}"
    return f"  {label or name:<28}{text}"


def format_figures(result: SimulationResult, scope: str, key: str,
                   figures: Sequence[str] = MAIN_FIGURES) -> list[str]:
    """Readable lines ``name  mean  (lo - hi)`` for one scope/key of a result (figures the scope
    does not have, such as arrivals per target, are left out)."""
    table = result.table(scope, key)
    return [figure_line(name, *(float(table.loc[name, c]) for c in ("mean", "ci_low", "ci_high")))
            for name in figures if name in table.index]


def outcome_lines(result: SimulationResult, kind: str, key: str) -> list[str]:
    """How the scope's transfer requests ended, as shares adding up to 100 %: successful, returned
    to the sender (policy ``return``), timer expired, customer left (:mod:`model.results.outcomes`)."""
    from ..results.outcomes import OUTCOME_FIGURES, transfer_outcomes

    shares = transfer_outcomes(result.per_replication, kind, key)
    if all(v[0] != v[0] for v in shares.values()):
        return []
    lines = ["  transfers ended as (share of requests):"]
    lines += [figure_line(name, *shares[name], label=f"  {info.label}", info=info)
              for name, info in OUTCOME_FIGURES.items()]
    return lines


def _with_outcomes(lines: list[str], result: SimulationResult, kind: str, key: str) -> list[str]:
    """``lines`` of one scope with its transfer outcomes after the transfer success line."""
    at = next((i + 1 for i, line in enumerate(lines) if line.split()[:1] == ["transfer_success_rate"]), len(lines))
    return lines[:at] + outcome_lines(result, kind, key) + lines[at:]


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


def run_lines(result: SimulationResult, sc: Scenario, json_out: bool, step: float | None = None,
              width: int | None = None) -> list[str]:
    """What ``run`` prints: the JSON, or the figures overall, per transfer target, occupancy and
    agents on shift per group, then (when run ``--by`` an interval of ``step`` seconds) the
    figures per interval and the worst interval (:func:`interval_lines`)."""
    if json_out:
        return [result.to_json(indent=2)]
    lines = [f"{sc.name}: {result.replications} replications, seed {result.seed}, "
             f"horizon {sc.simulation.horizon / 3600:g} h after {sc.simulation.warmup / 60:g} min warm-up",
             "mean (95 % CI over replications)", "overall"]
    lines += _with_outcomes(format_figures(result, "overall", "all"), result, "overall", "all")
    if len(sc.services) > 1:
        for svc in sc.services:
            priority = f" (priority {svc.priority})" if any(x.priority for x in sc.services) else ""
            lines.append(f"service {svc.name}{priority}")
            lines += format_figures(result, "service", svc.name, SERVICE_FIGURES)
    for t in sorted(result.metrics.query("scope == 'target'").key.unique()):
        if result.metric("transfers_requested", "target", t)[0] > 0:
            lines.append(f"transfers to {t}")
            lines += _with_outcomes(format_figures(result, "target", t), result, "target", t)
    staffed = figure("staffed_agents")
    lines.append(f"{figure('agent_occupancy').label}, {staffed.label}")
    for g in result.metrics.query("scope == 'group'").key.unique():
        line = figure_line("agent_occupancy", *result.metric("agent_occupancy", "group", g), label=str(g))
        try:
            mean, lo, hi = result.metric("staffed_agents", "group", g)
        except KeyError:  # a result read back from before staffed_agents existed
            mean = lo = hi = math.nan
        lines.append(f"{line:<62}{staffed.text(mean):>6}  ({staffed.text(lo)} - {staffed.text(hi)})"
                     if mean == mean else line)
    if result.intervals is not None and not json_out:
        lines += interval_lines(result, step, width)
    return lines


def _bare(info: FigureInfo, x: float) -> str:
    """A value in ``info``'s format without its unit (``"26.0"`` for ``26.0 %``): the unit is said once."""
    return info.text(x).removesuffix(f" {info.unit}")


def _cell(name: str, values: tuple[float, float, float], ci: bool) -> str:
    info = figure(name)
    mean, lo, hi = values
    text = f"{info.text(mean):>7}"
    return f"{text} ({_bare(info, lo)}-{_bare(info, hi)})" if ci and mean == mean else text


def worst_line(rows: Sequence[IntervalRow], metric: str, lead: str = "worst interval") -> str:
    """``worst interval: 12:00-13:00, queue abandonment 31.2 % (26.0 - 36.4 %)``; ``none`` and
    why when no interval lost anything, or none has the figure."""
    from ..charts.intervals import worst_interval

    info = figure(metric)
    label = info.label.split(" (")[0]
    if not any(r.get(metric)[0] == r.get(metric)[0] for r in rows):
        return f"{lead}: none, no interval has a {label} figure"
    worst = worst_interval(rows, metric)
    if worst is None:
        return f"{lead}: none, {label} is {info.text(0.0)} in every interval"
    mean, lo, hi = worst.get(metric)
    return f"{lead}: {worst.span}, {label} {info.text(mean)} ({_bare(info, lo)} - {info.text(hi)})"


def interval_lines(result: SimulationResult, step: float | None = None, width: int | None = None) -> list[str]:
    """The figures per interval as a compact table (arrivals, agents on shift per group - their
    sum beyond three groups -, queue and transfer abandonment, service level), then the worst
    interval in words. 95 % intervals are shown where the table fits in ``width`` columns
    (default: the terminal's, 120 when not a terminal), dropped right to left otherwise."""
    import shutil

    from ..charts.intervals import INTERVAL_FIGURES, WORST_BY, interval_rows, interval_step

    rows = interval_rows(result, step)
    if not rows:
        return ["per interval: no interval after the warm-up"]
    step = step if step is not None else interval_step(result.intervals)  # type: ignore[arg-type]
    width = width or shutil.get_terminal_size((120, 24)).columns
    rates = [n for n in INTERVAL_FIGURES if figure(n).is_proportion]
    with_ci = set(rates)
    lines = _interval_table(rows, rates, with_ci)
    for name in reversed(rates):  # drop the intervals right to left until the table fits
        if max(map(len, lines)) <= width:
            break
        with_ci.discard(name)
        lines = _interval_table(rows, rates, with_ci)
    every = f"every {_duration(step)}" if step is not None else "per interval"
    ci_note = ("mean (95 % CI over replications)" if with_ci == set(rates) else
               "mean (95 % CI over replications where the width allows; all in --json and intervals.csv)"
               if with_ci else "mean over replications (95 % CIs: a wider terminal, --json or intervals.csv)")
    lines.insert(0, f"{every} of the clock: {ci_note}")
    lines.append(worst_line(rows, WORST_BY[0]))
    if any(r.get(WORST_BY[1])[0] == r.get(WORST_BY[1])[0] for r in rows):
        lines.append(worst_line(rows, WORST_BY[1], "worst interval for transfers"))
    return lines


def _interval_table(rows: Sequence[IntervalRow], rates: Sequence[str], with_ci: set[str]) -> list[str]:
    """The table of :func:`interval_lines`: header lines, then a line per interval."""
    arrivals, staffed = figure("arrivals"), figure("staffed_agents")
    groups = list(dict.fromkeys(g for r in rows for g in r.staffed))
    per_group = len(groups) <= 3
    cols: list[tuple[str, list[str], str]] = [
        ("interval", [r.span for r in rows], "<"),
        (arrivals.label, [arrivals.text(r.get("arrivals")[0]) for r in rows], ">")]
    if per_group:
        cols += [(g, [staffed.text(r.staffed.get(g, (math.nan,) * 3)[0]) for r in rows], ">") for g in groups]
    else:  # a named agent in two groups counts in both: a sum of groups, not a head count
        cols.append((f"{staffed.label}, sum of groups",
                     [staffed.text(sum(v[0] for v in r.staffed.values())) for r in rows], ">"))
    cols += [(figure(n).label.split(" (")[0], [_cell(n, r.get(n), n in with_ci) for r in rows], "<")
             for n in rates]
    cell_widths = [max(len(c) for c in cells) for _, cells, _ in cols]
    # rate headers wider than their cells are all split over two lines, so they read alike
    split = any(len(h) > w for (h, _, _), w in zip(cols[-len(rates):], cell_widths[-len(rates):]))
    heads = [_header(h, 0 if split and i >= len(cols) - len(rates) else w)
             for i, ((h, _, _), w) in enumerate(zip(cols, cell_widths))]
    widths = [max(len(a), len(b), w) for (a, b), w in zip(heads, cell_widths)]

    def line(texts: Sequence[str]) -> str:
        return "  " + "  ".join(f"{t:{a}{w}}" for t, (_, _, a), w in zip(texts, cols, widths)).rstrip()

    out = [x for x in (line([h[0] for h in heads]), line([h[1] for h in heads])) if x.strip()]
    if per_group and groups:
        out.insert(0, " " * (2 + widths[0] + 2 + widths[1] + 2) + staffed.label)
    return out + [line([cells[i] for _, cells, _ in cols]) for i in range(len(rows))]


def _header(text: str, width: int) -> tuple[str, str]:
    """A column header as two lines: ``("", text)`` when it is no wider than the column's cells,
    else split at the space that makes it narrowest (``("transfer", "abandonment")``)."""
    if len(text) <= width or " " not in text:
        return "", text
    cuts = [i for i, ch in enumerate(text) if ch == " "]
    i = min(cuts, key=lambda c: max(c, len(text) - c - 1))
    return text[:i], text[i + 1:]


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds % 3600 == 0 else f"{seconds / 60:g} min"


def write_run(result: SimulationResult, out: Path, report: bool = False, trace: bool = False) -> Path | None:
    """Write a run's output (and its report) as a whole: into a hidden temporary folder next to
    ``out``, then renamed into place (an earlier output there is swapped out). A crash or a full
    disk leaves the earlier ``out`` (or none) and, after SIGKILL only, a hidden ``.NAME.part-PID``
    that the next run next to it removes. Returns the report's index.html (in ``out``) or ``None``."""
    from ..results.result import folder_written

    with folder_written(out) as tmp:
        result.to_parquet(tmp)
        if result.events is not None:  # the simulator's own log, in the contact-log format (docs/logs.md)
            from ..logs import contacts_log
            from ..results.result import atomic_write

            contacts, transfers = contacts_log(result)
            atomic_write(tmp / "contacts.csv", lambda p: contacts.to_csv(p, index=False))
            atomic_write(tmp / "contact_transfers.csv", lambda p: transfers.to_csv(p, index=False))
        if trace:  # the event log as recorded traces, for 'conform --trace' (docs/conformance.md)
            from ..conformance.sim_trace import write_traces

            write_traces(result, tmp)
        index = None
        if report:
            from ..report import build_report

            index = out / build_report(result, tmp).relative_to(tmp)
    return index


def run_cmd(
    scenario: Path = typer.Argument(..., metavar="SCENARIO", help="Scenario file (TOML)."),
    replications: Optional[int] = typer.Option(None, "--replications", "-r", min=1, metavar="N",
                                               help="Simulated runs (default: the scenario's)."),
    seed: Optional[int] = typer.Option(None, "--seed", "-s", min=0, metavar="SEED", help="Default: the scenario's."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object instead of the table."),
    out: Optional[Path] = typer.Option(None, "--out", metavar="DIR", help="Write the event log (Parquet) and metrics (CSV) into "
                                       "this new folder, as a whole (docs/limits.md)."),
    keep_events: bool = typer.Option(True, "--keep-events/--no-events", help="Keep the event log (memory grows with it)."),
    trace: bool = typer.Option(False, "--trace", help="With --out: also write the event log as a recorded trace "
                               "(DIR/trace.jsonl) that 'conform --trace' checks against the model."),
    report: bool = typer.Option(False, "--report", help="Also write the HTML report (and its PNGs) into "
                                "--out, or reports/<name>/ (data too) when --out is not given."),
    force: bool = typer.Option(False, "--force", help="Replace an earlier run's output in --out, and run even "
                               "above the work bounds of docs/limits.md."),
    by: Optional[str] = typer.Option(None, "--by", metavar="INTERVAL", help="Also give the figures per interval of the clock, e.g. "
                                     "1h, 30m, 15m (whole minutes dividing 24 h): a table, the worst "
                                     "interval, intervals.csv with --out."),
) -> None:
    """Simulate a scenario over replications and print its figures with 95 % confidence intervals."""
    from tqdm.auto import tqdm

    from ..sim import simulate
    from ..workload import estimate_work

    step = None if by is None else parse_interval(by, "--by")
    sc = load_or_fail(scenario)
    default_out = report and out is None
    if default_out:
        out = Path("reports") / sc.name
    if trace and out is None:
        fail("--trace writes the trace into the run's folder: give --out DIR")
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
                          progress=lambda done: bar.update(1), force=True, interval=step)
    lines = run_lines(result, sc, json_out, step)
    index = None
    if out is not None:
        try:
            index = write_run(result, out, report, trace)
        except OSError as err:
            for line in lines:  # the figures are never lost
                typer.echo(line)
            fail(f"{oserror_text(err)}; {out} was left as it was (the figures are above)", code=1)
    for line in lines:
        typer.echo(line)
    if json_out:
        return
    if out is not None:
        extra = " intervals.csv," if result.intervals is not None else ""
        logs = " contacts.csv, contact_transfers.csv," if result.events is not None else ""
        why = "" if result.events is not None else "; no contacts.csv: the event log was not kept"
        typer.echo(f"wrote {out}/ (events.parquet, transfers.parquet, metrics.csv,{extra}{logs} run.json){why}")
    if trace and out is not None:
        from ..conformance.sim_trace import trace_files

        for name, services in trace_files(sc).items():
            typer.echo(f"wrote {out / name} (the event log as a trace of {', '.join(services)}; "
                       f"check it: transfer-sim conform --trace {out / name})")
    if index is not None:
        typer.echo(f"wrote {index}")


def report_cmd(
    results: Path = typer.Argument(..., metavar="FOLDER", help="A folder written by 'run --out' or 'sweep --out'."),
    out: Optional[Path] = typer.Option(None, "--out", metavar="DIR",
                                       help="Report folder (default: reports/<scenario name>/)."),
    target: Optional[str] = typer.Option(None, "--target", metavar="RATE",
                                         help="Target transfer abandonment rate, 5% or 0.05: judged in the answer; "
                                              "for a sweep, the cheapest point meeting it is recommended."),
    scopes: Optional[list[str]] = typer.Option(
        None, "--scope", metavar="SCOPE",
        help="Whose figures the answer is about: overall, service:NAME, target:NAME or group:NAME; repeat for "
             "several. Default: a sweep's from what it varied, a run's every transfer target."),
) -> None:
    """Write a self-contained HTML report (charts embedded, no network needed) and its PNGs.

    The page opens with the answer (what to set, what it achieves, what it
    costs in agent-hours and occupancy), then the evidence and a glossary.

    \b
    Example:
      transfer-sim report reports/sweeps/peak --target 5% --scope target:tech
    """
    from ..report import ReportError, build_report

    goal = None if target is None else parse_target(target, "transfer_abandonment_rate")
    for text in scopes or ():
        check_scope_text(text)
    try:
        index = build_report(results, out, target=goal, scopes=scopes)
    except ReportError as err:
        fail(str(err))
    except OSError as err:
        fail(oserror_text(err, final=out), code=1)
    typer.echo(f"wrote {index}")
