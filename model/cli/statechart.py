"""``model`` (the formal statechart: table and diagram) and ``conform`` (check an implementation
against it with a generated suite)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import fail

__all__ = ["model_cmd", "conform_cmd"]


def model_cmd(
    table: bool = typer.Option(False, "--table", help="Print the transition table."),
    diagram: Optional[Path] = typer.Option(
        None, "--diagram", metavar="FILE", help="Write the diagram: .svg, .png (Graphviz), .mmd, .md, .dot."
    ),
    mermaid: bool = typer.Option(False, "--mermaid", help="Print the diagram as Mermaid text."),
) -> None:
    """Show the formal statechart: its transition table and its diagram."""
    from ..spec import DiagramUnavailable, transition_table, write_diagram
    from ..spec import mermaid as mermaid_text

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



def conform_cmd(
    adapter: Optional[str] = typer.Option(
        None, "--adapter", metavar="SPEC", help="model | python:MODULE:CLASS | exec:COMMAND (JSON lines)."
    ),
    suite: Optional[Path] = typer.Option(None, "--suite", metavar="FILE", help="Run this JSON suite or case (default: generate from the model)."),
    write_suite: Optional[Path] = typer.Option(None, "--write-suite", metavar="FILE", help="Write the suite as JSON."),
    random: bool = typer.Option(False, "--random", help="Random mode: Hypothesis stateful testing, shrunk failures."),
    max_examples: int = typer.Option(300, "--max-examples", min=1, help="Random mode: timelines to try."),
    max_steps: int = typer.Option(25, "--max-steps", min=1, help="Random mode: steps of each timeline (a new contact "
                                  "arrives when one has ended)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random mode: seed (default: repeatable)."),
    out: Path = typer.Option(Path("conformance-failure.json"), "--out", metavar="FILE", help="Random mode: where the minimal failing case is written."),
    timeout: float = typer.Option(5.0, "--step-timeout", "--timeout", min=0.01, metavar="SECONDS",
                                  help="exec adapter: seconds to wait for each reply; a program that takes longer "
                                       "is stopped, that case fails, and it is started again for the next."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Every case, every failure, uncovered goals."),
    trace: Optional[Path] = typer.Option(
        None, "--trace", metavar="FILE", help="Check a recorded trace (JSON lines, e.g. from 'run --out DIR --trace') "
                                            "against the model instead of driving an adapter."),
) -> None:
    """Check an implementation against the model with a generated conformance suite, or check a
    recorded trace with --trace (docs/conformance.md)."""
    from ..conformance.command import ConformUsageError, conform

    if trace is not None:
        _conform_trace(trace, verbose, adapter is not None or suite is not None or write_suite is not None or random)
    try:
        code = conform(adapter, suite, write_suite, random, max_examples, max_steps, seed, out, timeout, verbose, typer.echo)
    except ConformUsageError as err:
        fail(str(err))
    else:
        raise typer.Exit(code)


def _conform_trace(path: Path, verbose: bool, other_mode: bool) -> None:
    """``conform --trace FILE``: exit 0 when every contact follows the model, 1 if not, 2 on a bad file."""
    from ..conformance.trace import TraceError, conform_trace

    if other_mode:
        fail("--trace checks a recorded trace against the model; it takes no --adapter, --suite, --write-suite "
             "or --random")
    try:
        code = conform_trace(path, verbose, typer.echo)
    except TraceError as err:
        fail(str(err))
    raise typer.Exit(code)
