"""``calibrate``: a scenario read off a contact log (docs/calibrate.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import fail
from .args import oserror_text

__all__ = ["calibrate_cmd"]


def calibrate_cmd(
    log: Path = typer.Argument(..., help="Contact log (.csv, .tsv, .parquet) in the log format (docs/logs.md)."),
    out: Path = typer.Option(..., "--out", help="Write the calibrated scenario (commented TOML) here."),
    interval: str = typer.Option("1h", "--interval", help="Profile step: 15m, 30m, 1h, ... (whole minutes "
                                 "dividing 24 h)."),
    transfers: Optional[Path] = typer.Option(None, "--transfers", help="The log's transfer table "
                                             "(contact_id, requested, joined, target, outcome)."),
    columns: Optional[str] = typer.Option(None, "--columns", help="Map the log's column names: "
                                          "arrived=q_start,answered=ser_start,..., and the optional "
                                          "contact type and priority: service=queue_type,priority=prio."),
    transfer_timeout: Optional[float] = typer.Option(None, "--transfer-timeout", min=0,
                                                     help="Seconds; default: the median of the expired transfers, "
                                                     "or 60 s."),
    report: Optional[Path] = typer.Option(None, "--report", help="Also write calibration.html (each fit against "
                                          "its data) in this folder."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
) -> None:
    """Calibrate a scenario from a contact log: arrival profile, handle times, patience (Kaplan-Meier),
    staffing from agent activity, transfer probabilities; every number commented with its source.
    A service column gives a service per contact type (its own profile, patience and handle time),
    a priority column each type's priority."""
    from ..calibration import calibrate
    from ..logs import read_log
    from ..results.result import atomic_write

    from ..sim.intervals import interval_seconds

    try:
        interval_seconds(interval)
    except ValueError as err:
        fail(f"--interval {interval}: {err}")
    if out.exists() and not force:
        fail(f"--out {out}: exists; give --force to overwrite it")
    if out.exists() and out.is_dir():
        fail(f"--out {out}: is a folder; give a file name such as scenario.toml")
    if not out.parent.exists():
        fail(f"--out {out}: folder {out.parent} does not exist")
    cal = calibrate(read_log(log, columns=columns, transfers=transfers), interval, name=out.stem,
                    transfer_timeout=transfer_timeout)
    try:
        atomic_write(out, lambda tmp: Path(tmp).write_text(cal.toml(), encoding="utf-8"))
        page = None if report is None else _report(cal, report)
    except OSError as err:
        fail(oserror_text(err), code=1)
    typer.echo(f"{log}: {len(cal.log.contacts):,} contacts over {cal.log.days} day(s); cleaning:"
               + ("" if cal.log.cleaning.lines else " nothing to fix"))
    for line in cal.log.cleaning.text():
        typer.echo(f"  {line}")
    typer.echo("fitted:")
    for key, fit in cal.fits.items():
        what = fit.chosen or "left out"
        typer.echo(f"  {key}: {what} (n = {fit.n}, {fit.events} complete)")
    if cal.priorities:
        typer.echo("priorities: " + ", ".join(f"{s} {p}" for s, (p, _) in sorted(cal.priorities.items())))
    groups = cal.staffing.groupby("group")["written"].max()
    typer.echo("staffing (peak written): " + ", ".join(f"{g} {int(n)}" for g, n in groups.items()))
    for note in cal.notes:
        typer.echo(f"note: {note}")
    typer.echo(f"wrote {out}")
    if page is not None:
        typer.echo(f"wrote {page}")


def _report(cal, folder: Path) -> Path:  # noqa: ANN001 - a Calibration, imported lazily
    from ..calibration.report import write_report

    return write_report(cal, folder)
