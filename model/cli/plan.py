"""``plan``: the fewest agents per interval and group meeting every target, and the settings to use."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer

from .app import fail
from .args import load_or_fail, oserror_text

__all__ = ["plan_cmd"]


def _pairs(targets: list[str], scopes: list[str]) -> list[tuple[str, str]]:
    if not scopes:
        return [(t, "overall") for t in targets]
    if len(scopes) == 1:
        return [(t, scopes[0]) for t in targets]
    if len(scopes) != len(targets):
        fail(f"--scope: give one scope for all targets or one per --target, in order; got {len(targets)} "
             f"targets and {len(scopes)} scopes")
    return list(zip(targets, scopes))


def _pct(x: float) -> str:
    return "-" if x != x else f"{100 * x:.1f} %"


def plan_cmd(
    scenario: Path = typer.Argument(..., help="Scenario TOML file."),
    target: list[str] = typer.Option(
        ..., "--target", "-t", metavar="FIGURE<=VALUE",
        help='A target, e.g. "transfer_abandonment_rate<=5%" or "service_level>=80%"; repeat for several.'),
    scope: Optional[list[str]] = typer.Option(
        None, "--scope", metavar="SCOPE",
        help="Where each target is asked: overall, service:NAME, target:GROUP, group:NAME "
             "(one for all targets, or one per --target in order; default overall)."),
    out: Path = typer.Option(..., "--out", "-o", metavar="DIR",
                             help="Folder for plan.csv, plan.toml, options.csv and report.html."),
    by: str = typer.Option("1h", "--by", metavar="INTERVAL", help="Staffing changes every INTERVAL (1h, 30m...)."),
    hours: Optional[str] = typer.Option(None, "--hours", metavar="HH:MM-HH:MM",
                                        help="Clock hours the targets hold in (default all day)."),
    vary: Optional[list[str]] = typer.Option(
        None, "--vary", "-v", metavar="PATH=V1,V2,...",
        help="A setting to choose jointly with the staffing, e.g. services.support.transfer_timeout=30,60,120."),
    agent_hour_cost: Optional[float] = typer.Option(None, "--agent-hour-cost", metavar="COST",
                                                    help="Cost of one agent-hour."),
    lost_transfer_cost: Optional[float] = typer.Option(None, "--lost-transfer-cost", metavar="COST",
                                                       help="Cost of one lost transfer."),
    replications: Optional[int] = typer.Option(None, "--replications", "-r", min=1,
                                               help="Simulated days per staffing (default: the scenario's)."),
    seed: Optional[int] = typer.Option(None, "--seed", "-s", min=0, help="Base seed (default: the scenario's)."),
    confidence: float = typer.Option(0.95, "--confidence", metavar="LEVEL",
                                     help="A target is met when this interval's bound meets it; 0: the mean."),
    min_agents: int = typer.Option(0, "--min-agents", min=0, help="Fewest agents of a planned group in an interval."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=1, help="Processes (default: one per CPU)."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress",
                                            help="Progress bar (default: on a terminal)."),
    force: bool = typer.Option(False, "--force", help="Replace an earlier plan in --out."),
) -> None:
    """The fewest agents per interval and group that meet every target, and the settings to use.

    Example:

      transfer-sim plan scenarios/peak-hour.toml
        --target "transfer_abandonment_rate<=5%" --scope target:tech
        --hours 08:00-18:00 --vary services.support.transfer_timeout=30,60,120
        --agent-hour-cost 30 --lost-transfer-cost 4 --out reports/plan
    """
    from ..experiments import ExperimentError, parse_vary
    from ..planning import PlanError, plan
    from ..planning.output import _check_out

    sc = load_or_fail(scenario)
    try:
        changes = parse_vary(vary) if vary else None
    except ExperimentError as err:
        fail(f"--vary: {err}")
    try:
        _check_out(out, force)
    except PlanError as err:
        fail(f"--out: {err}")
    try:
        result = plan(sc, _pairs(target, scope or []), by=by, hours=hours, vary=changes,
                      agent_hour_cost=agent_hour_cost, lost_transfer_cost=lost_transfer_cost,
                      replications=replications, seed=seed, confidence=confidence, min_agents=min_agents,
                      workers=workers, progress=progress)
    except PlanError as err:
        fail(str(err))
    typer.echo(result.answer)
    typer.echo("")
    table = result.table[result.table.planned]
    from ..planning.plan import figure_column
    from ..planning.words import figure_words

    heads = {figure_column(t): figure_words(t) for t in result.targets}
    cols = list(heads)
    header = f"{'interval':<9}{'group':<14}{'agents':>7}{'on shift':>9}{'occupancy':>11}"
    header += "".join(f"  {heads[c][:34]:>34}" for c in cols)
    typer.echo(header)
    for _, r in table.iterrows():
        line = (f"{r['interval']:<9}{str(r['group'])[:13]:<14}{int(r['agents']):>7}{r['staffed_agents']:>9.1f}"
                f"{_pct(r['agent_occupancy']):>11}")
        for c in cols:
            m, lo, hi = r[c], r[f"{c} ci_low"], r[f"{c} ci_high"]
            text = "-" if m != m or math.isnan(m) else f"{_pct(m)} ({_pct(lo)}-{_pct(hi)})"
            line += f"  {text:>34}"
        typer.echo(line)
    try:
        where = result.write(out, force=force)
    except PlanError as err:
        fail(f"--out: {err}")
    except OSError as err:
        fail(oserror_text(err, final=out), code=1)
    typer.echo(f"\nwrote {where}/plan.csv, plan.toml (run it: transfer-sim run {where}/plan.toml --by {by}), "
               f"options.csv and report.html")
