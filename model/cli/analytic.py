"""``validate`` (the simulator against Erlang A and M/M/n+D) and ``estimate`` (the analytic
approximation of a scenario)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..results.figures import percent
from .app import fail
from .args import load_or_fail

__all__ = ["validate_cmd", "estimate_cmd"]


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

    from ..validation import CASES, FAST_CASES, LEVEL, NARROW_RULE, format_table, validate, write

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


def estimate_cmd(
    scenario: Path = typer.Argument(..., help="Scenario file (TOML)."),
) -> None:
    """Analytic approximation of each group's queue and transfer abandonment for a scenario."""
    import math

    from ..validation import estimate

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
        shown[col] = shown[col].map(percent)
    typer.echo(shown.to_string(index=False))
    typer.echo("assumptions:")
    for a in df.attrs["assumptions"]:
        typer.echo(f"  - {a}")
