"""``compare`` (two scenarios on common random numbers: B - A with its paired interval)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from ..results.figures import FIGURES, figure
from .app import fail
from .args import check_force, check_metric, executor_option, expect_note, load_or_fail
from .run import MAIN_FIGURES

if TYPE_CHECKING:
    from ..comparison import Comparison, Difference

__all__ = ["compare_cmd", "compare_lines", "difference_text", "clear_sentence", "pairing_line"]

GROUP_FIGURES: tuple[str, ...] = ("staffed_agents", "agent_occupancy")
"""The figures ``compare`` prints for a ``group:NAME`` scope."""


def difference_text(metric: str, x: float) -> str:
    """A signed difference in the figure's unit: ``"-2.3 pp"`` (percentage points) for a rate,
    ``"+4.1 s"`` for a time, ``"+0.05"`` for a ratio, ``"+12"`` for a count; ``"-"`` for NaN."""
    if x != x:
        return "-"
    unit = FIGURES[metric].unit if metric in FIGURES else ""
    x += 0.0  # -0.0 -> 0.0
    if unit == "%":
        return f"{100 * x:+.1f} pp"
    if unit == "s":
        return f"{x:+.1f} s"
    if unit == "per transfer":
        return f"{x:+.2f}"
    return f"{x:+,.1f}" if abs(x) < 100 else f"{x:+,.0f}"


def _interval_text(metric: str, lo: float, hi: float) -> str:
    if lo != lo:
        return "[-]"
    return f"[{difference_text(metric, lo)}, {difference_text(metric, hi)}]"


def _shown(c: Comparison, scope: str, metrics: Sequence[str] | None) -> list[tuple[str, Difference]]:
    kind = scope.partition(":")[0]
    out = []
    for name in metrics or (GROUP_FIGURES if kind == "group" else MAIN_FIGURES):
        try:
            out.append((name, c.metric(name, scope)))
        except KeyError:  # a figure this scope does not have (arrivals per target)
            continue
    return out


def compare_lines(c: Comparison, scope: str, metrics: Sequence[str] | None = None) -> list[str]:
    """The table of one scope: figure (in words), A, B, and B - A with its paired interval."""
    rows = []
    for name, d in _shown(c, scope, metrics):
        info = figure(name)
        rows.append((info.label, info.text(d.a), info.text(d.b),
                     f"{difference_text(name, d.difference)} {_interval_text(name, d.ci_low, d.ci_high)}"))
    if not rows:
        return [scope, "  (none of these figures exists for this scope)"]
    pct = f"{100 * c.level:g} %"
    head = ("figure", "A", "B", f"B - A [paired {pct} CI]")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
    lines = [f"{scope}"] + [f"  {r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}"
                            for r in [head, *rows]]
    return lines


def clear_sentence(c: Comparison, scopes: Sequence[str], metrics: Sequence[str] | None = None) -> str:
    """One sentence: which of the shown differences are clear (the paired interval excludes 0)."""
    pct = f"{100 * c.level:g} %"
    if c.replications < 2:
        return "With 1 replication no interval can be estimated, so no difference can be called clear; use -r 2 or more."
    parts, shown, found = [], 0, 0
    for scope in scopes:
        rows = _shown(c, scope, metrics)
        shown += len(rows)
        clear = [f"{figure(name).label} {'higher' if d.difference > 0 else 'lower'} "
                 f"({difference_text(name, d.difference)})" for name, d in rows if d.clear]
        found += len(clear)
        if clear:
            parts.append(f"{scope}: {', '.join(clear)}")
    if not shown:
        return ("None of these figures exists in these scopes (agent_occupancy and staffed_agents are per "
                "group: --scope group:NAME).")
    if not found:
        return (f"No difference is clear: every {pct} interval includes 0 (more replications narrow them, "
                "or the change makes no difference to these figures).")
    rest = "; the others could be chance" if found < shown else ""
    return f"Clear differences in B (the {pct} interval excludes 0): {'; '.join(parts)}{rest}."


def pairing_line(c: Comparison, scopes: Sequence[str], metrics: Sequence[str] | None = None) -> str | None:
    """What the pairing buys, on the first shown figure whose intervals differ: the paired interval's
    width next to the unpaired (Welch) one's."""
    for scope in scopes:
        rows = sorted(_shown(c, scope, metrics), key=lambda r: r[0] != "transfer_abandonment_rate")
        for name, d in rows:
            paired, unpaired = d.ci_high - d.ci_low, d.unpaired_ci_high - d.unpaired_ci_low
            if paired > 0 and unpaired > 0:
                w = lambda x: difference_text(name, x).lstrip("+")  # noqa: E731
                where = "" if scope == "overall" else f" ({scope})"
                return (f"Pairing: the interval of {figure(name).label}{where} is {w(paired)} wide; "
                        f"unpaired (independent runs, Welch) it would be {w(unpaired)}.")
    return None


def compare_cmd(
    a: Path = typer.Argument(..., metavar="A.toml", help="Scenario A, the reference (TOML file)."),
    b: Path = typer.Argument(..., metavar="B.toml", help="Scenario B, the variant (TOML file)."),
    replications: Optional[int] = typer.Option(None, "--replications", "-r", min=1,
                                               help="Of each scenario (default: A's)."),
    seed: Optional[int] = typer.Option(None, "--seed", "-s", min=0, help="The seed both run from (default: A's)."),
    scopes: Optional[list[str]] = typer.Option(
        None, "--scope", help="overall | service:NAME | target:NAME | group:NAME; repeat for several (default overall)."),
    metrics: Optional[list[str]] = typer.Option(None, "--metric", "-m",
                                                help="Figures to print (default: the main ones)."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole comparison as JSON."),
    executor: str = typer.Option("processes", "--executor", help="processes (every core) or serial."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=1, help="Processes (default: one per CPU)."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress",
                                            help="Progress bar (default: on a terminal)."),
    force: bool = typer.Option(False, "--force", help="Run even above the work bounds of docs/limits.md."),
) -> None:
    """Compare two scenarios on common random numbers: B - A per figure, with its paired 95 % interval.

    Example: transfer-sim compare scenarios/peak-hour.toml more-tech.toml -r 10 --scope target:tech
    """
    from ..comparison import ComparisonFailed, check_scope, compare
    from ..errors import TransferSimError
    from ..experiments import ExperimentError
    from ..results.figures import REPORTED
    from ..scenario import ScenarioError
    from ..workload import estimate_work

    for name in metrics or ():
        check_metric(name, "--metric", REPORTED)
    ex = executor_option(executor, None)
    sa, sb = load_or_fail(a), load_or_fail(b)
    try:
        wanted = [check_scope(scope, sa, sb) for scope in scopes or ["overall"]]
    except TransferSimError as err:  # ScopeError, UnknownScope
        fail(f"--scope: {err}")
    n = replications or sa.simulation.replications
    for sc in (sa, sb):
        check_force(estimate_work(sc, n), force, "this comparison")
    expect_note(estimate_work(sa, 2 * n), 1 if ex == "serial" else (workers or os.cpu_count() or 1))
    try:
        c = compare(sa, sb, replications, seed=seed, progress=progress, executor=ex, workers=workers, force=force)
    except ComparisonFailed as err:  # a replication failed to run: not bad input
        fail(str(err), code=1)
    except (ScenarioError, ExperimentError) as err:
        fail(str(err))
    if as_json:
        typer.echo(json.dumps(c.to_dict(), default=str))
        return
    typer.echo(f"A = {c.a} ({a}), B = {c.b} ({b}): {c.replications} replications of each from seed {c.seed}, "
               "on common random numbers")
    for scope in wanted:
        typer.echo("")
        for line in compare_lines(c, scope, metrics):
            typer.echo(line)
    typer.echo("")
    typer.echo(clear_sentence(c, wanted, metrics))
    pairing = pairing_line(c, wanted, metrics)
    if pairing:
        typer.echo(pairing)
    for note in c.notes:
        typer.echo(f"note: {note}")
