"""The ``transfer-sim`` command: one command, a subcommand per job."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Simulate and test the lifecycle of a contact transfer in a chat contact center.",
)


@app.callback()
def _root() -> None:
    """Simulate and test the lifecycle of a contact transfer in a chat contact center."""


def fail(message: str, code: int = 2) -> None:
    """Print ``message`` on stderr and exit non-zero (bad input is exit status 2)."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


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


def main() -> None:  # pragma: no cover - console entry point
    app()
