"""``whatif``: one self-contained HTML page with a slider per varied setting (docs/whatif.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from .app import fail
from .args import check_force, expect_note, load_or_fail, oserror_text, parse_interval, writable_folder

__all__ = ["whatif_cmd"]


def whatif_cmd(
    scenario: Path = typer.Argument(..., help="Scenario TOML file."),
    vary: list[str] = typer.Option(
        ..., "--vary", "-v", metavar="PATH=V1,V2,...",
        help="A scenario path and its values (V1,V2,... or LOW..HIGH or LOW..HIGH:STEP), as in sweep; "
             "repeat for more sliders.",
    ),
    replications: Optional[int] = typer.Option(None, "--replications", "-r", min=1,
                                               help="Per point (default: the scenario's)."),
    seed: Optional[int] = typer.Option(None, "--seed", "-s", min=0,
                                       help="The one seed of every point (default: the scenario's)."),
    by: Optional[str] = typer.Option(None, "--by", help="Also chart each figure per interval of the clock, "
                                     "e.g. 1h, 30m (whole minutes dividing 24 h)."),
    scopes: Optional[list[str]] = typer.Option(
        None, "--scope", metavar="SCOPE",
        help="Show this scope besides overall: service:NAME, target:NAME or group:NAME; repeat. "
             "Default: every transfer target and group.",
    ),
    out: Path = typer.Option(..., "--out", "-o", metavar="DIR", help="Write DIR/index.html and DIR/whatif.csv."),
    force: bool = typer.Option(False, "--force", help="Replace an earlier what-if page in DIR, and run even "
                               "above the work bounds of docs/limits.md."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=1, help="Processes (default: one per CPU)."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress",
                                            help="Progress bar (default: on a terminal)."),
) -> None:
    """Write an interactive what-if page: a slider per varied setting, every point simulated beforehand.

    Example: transfer-sim whatif scenarios/peak-hour.toml --vary services.support.transfer_timeout=30,60,120
    --vary groups.tech.agents=2..4 -r 4 --by 1h --out reports/whatif
    """
    from ..experiments import ExperimentError, SweepFailed, parse_vary
    from ..experiments.grid import normalise_vary
    from ..results.result import describe_folder, folder_kind
    from ..scenario import ScenarioError
    from ..whatif import WhatIfFailed, whatif
    from ..whatif.grid import check_points, check_scopes, is_whatif_folder
    from ..workload import estimate_sweep_work

    step = None if by is None else parse_interval(by, "--by")
    kind = folder_kind(out)
    if kind == "file":
        fail(f"--out {out} is a file, not a folder; give a folder path")
    if kind is not None:
        if not is_whatif_folder(out):
            fail(f"--out {out} holds {describe_folder(out)}; 'whatif --out' writes into a new or empty folder "
                 "(or over an earlier what-if page with --force)")
        if not force:
            fail(f"--out {out} already holds a what-if page (index.html, whatif.csv); use --force to replace it")
    writable_folder(out, "--out")
    sc = load_or_fail(scenario)
    try:
        grid = normalise_vary(parse_vary(vary))
        total = check_points(grid)
    except ExperimentError as err:
        fail(str(err) if str(err).startswith("--vary") else f"--vary: {err}")
    try:
        for path, values in grid.items():
            for v in values:
                sc.with_changes({path: v})
    except ScenarioError as err:
        fail(f"--vary: {err}")
    try:
        chosen = check_scopes(sc, scopes)
    except ExperimentError as err:
        fail(f"--scope: {err}")
    n = replications or sc.simulation.replications
    work = estimate_sweep_work(sc, grid, n)
    check_force(work, force, "this what-if page")
    typer.echo(f"what-if: {total} point{'s' if total != 1 else ''} x {n} replications -> {out}", err=True)
    expect_note(work, workers or os.cpu_count() or 1)
    try:
        page = whatif(sc, grid, n, seed=seed, by=step, scopes=chosen[1:], out=out, progress=progress,
                      workers=workers, force=True)
    except (SweepFailed, WhatIfFailed) as err:
        fail(f"{err}; nothing was written", code=1)
    except (ScenarioError, ExperimentError) as err:
        fail(str(err))
    except KeyboardInterrupt:
        typer.secho(f"interrupted: nothing was written to {out}", err=True, fg=typer.colors.YELLOW)
        raise typer.Exit(130)
    except OSError as err:
        fail(f"{oserror_text(err, final=out)}; {out} was left as it was", code=1)
    typer.echo(f"wrote {out}/index.html and {out}/whatif.csv ({page.points} points x {page.replications} "
               f"replications, seed {page.seed})")
