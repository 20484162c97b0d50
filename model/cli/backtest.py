"""``backtest`` (a contact log against a run with intervals, per interval of the clock; docs/backtest.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from .app import fail
from .args import oserror_text, parse_interval, writable_folder

if TYPE_CHECKING:
    from ..backtesting import Backtest

__all__ = ["backtest_cmd", "backtest_lines"]

_MARK = "*"


def backtest_lines(bt: Backtest) -> list[str]:
    """What ``backtest`` prints: per figure (all contacts), a line per interval with observed,
    simulated (95 % CI), the prediction interval and ``*`` when outside it; with several services,
    the same per service side by side; then the summary and the notes."""
    from ..backtesting.chart import _every, _short, summary_lines, value_text
    from ..backtesting.services import service_lines

    t = bt.table[bt.table["scope"] == "overall"]
    lines = [f"backtest every {_every(bt.interval)} of the clock, {bt.days} day(s) of the log; "
             f"{_MARK} = observed outside the prediction interval (95 %, replication spread scaled to the log's days)"]
    rank = {s: i for i, s in enumerate(bt.order)}
    for metric, grp in t.groupby("metric", sort=False):
        lines.append(f"{_short(metric)}")
        lines.append(f"  {'interval':<9}{'observed':>10}  {'simulated (95 % CI)':<28}{'prediction interval':<22}")
        for r in grp.sort_values("interval", key=lambda c: c.map(rank)).itertuples(index=False):
            sim = f"{value_text(metric, r.simulated)} ({value_text(metric, r.ci_low)} - {value_text(metric, r.ci_high)})"
            pi = f"{value_text(metric, r.pi_low)} - {value_text(metric, r.pi_high)}"
            lines.append(f"  {r.interval:<9}{value_text(metric, r.observed):>10}  {sim:<28}{pi:<22}{_MARK if r.outside else ''}".rstrip())
    lines += service_lines(bt)
    lines.append("summary (error = simulated - observed; rates in percentage points)")
    lines += summary_lines(bt)
    lines += [f"note: {n}" for n in bt.notes]
    return lines


def backtest_cmd(
    log: Path = typer.Argument(..., help="The contact log (CSV or Parquet; docs/logs.md), e.g. a run's contacts.csv."),
    run_dir: Path = typer.Argument(..., help="A folder written by 'run --by ... --out'."),
    by: Optional[str] = typer.Option(None, "--by", help="Interval of the clock; default and only allowed value: the run's."),
    transfers: Optional[Path] = typer.Option(None, "--transfers", help="The transfers table (default: "
                                             "contact_transfers.csv beside the log, when there)."),
    columns: Optional[str] = typer.Option(None, "--columns", help="The log's own column names, e.g. "
                                          "arrived=q_start,answered=ser_start."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for backtest.csv, backtest_summary.csv, "
                                       "backtest.png and backtest.html (default: RUN_DIR/backtest/)."),
) -> None:
    """Compare a contact log (observed) with a run (simulated) per interval of the clock."""
    from ..backtesting import BacktestError, backtest, backtest_chart, backtest_html, service_keys, services_chart
    from ..charts.style import save_png
    from ..logs import LogError, read_log
    from ..results import SimulationResult
    from ..results.result import atomic_write, folder_kind

    step = None if by is None else parse_interval(by, "--by")
    if folder_kind(run_dir) != "run":
        fail(f"RUN_DIR {run_dir}: not a folder written by 'run --out' (no run.json)")
    if transfers is None and (log.parent / "contact_transfers.csv").is_file() and log.name == "contacts.csv":
        transfers = log.parent / "contact_transfers.csv"
    try:
        result = SimulationResult.from_parquet(run_dir)
    except (OSError, ValueError, KeyError) as err:
        fail(f"RUN_DIR {run_dir}: cannot be read ({err})")
    try:
        contact_log = read_log(log, columns=columns, transfers=transfers)
        bt = backtest(contact_log, result, by=step)
    except (LogError, BacktestError) as err:
        fail(str(err))
    for line in contact_log.cleaning.text():
        typer.echo(f"log: {line}", err=True)
    for line in backtest_lines(bt):
        typer.echo(line)
    folder = out if out is not None else run_dir / "backtest"
    if folder.exists() and not folder.is_dir():
        fail(f"--out {folder} is a file, not a folder; give a folder path")
    writable_folder(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        bt.to_csv(folder / "backtest.csv")
        summary = bt.summary.assign(outside_intervals=bt.summary["outside_intervals"].map(" ".join))
        atomic_write(folder / "backtest_summary.csv", lambda p: summary.to_csv(p, index=False))
        png = folder / "backtest.png"
        if len(bt.table):
            fig = backtest_chart(bt)
            atomic_write(png, lambda p: save_png(fig, p))
        by_service = folder / "backtest_services.png"
        if service_keys(bt):
            fig_s = services_chart(bt)
            atomic_write(by_service, lambda p: save_png(fig_s, p))
        elif by_service.exists():  # an earlier backtest's, of other services
            by_service.unlink()
        page = backtest_html(bt, png if png.exists() else None, title=f"Backtest of {run_dir.name}",
                             services_png=by_service if service_keys(bt) else None)
        atomic_write(folder / "backtest.html", lambda p: Path(p).write_text(page, encoding="utf-8"))
    except OSError as err:
        fail(oserror_text(err, final=folder), code=1)
    extra = ", backtest_services.png" if service_keys(bt) else ""
    typer.echo(f"wrote {folder}/ (backtest.csv, backtest_summary.csv, backtest.png{extra}, backtest.html)")
