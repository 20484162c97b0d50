"""The ``transfer-sim`` command group: one line ``error: ...`` for every refusal, never a traceback.

The subcommands live in the modules of this package by concern and are registered, in the order
``--help`` lists them, by :mod:`.main`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

__all__ = ["app", "fail"]

# the click that typer runs on (typer >= 0.2x vendors its own copy as typer._click)
_click_exceptions = sys.modules[typer.BadParameter.__module__]


class _OneLineErrors(TyperGroup):
    """The command group: a usage error (a bad option value, a missing argument) and any error
    transfer-sim raises on purpose print one line ``error: ...`` on stderr and exit 2, never a
    traceback or a framed usage block."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        from ..errors import TransferSimError

        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _click_exceptions.NoArgsIsHelpError as err:
            err.show()
            sys.exit(err.exit_code)
        except _click_exceptions.ClickException as err:
            message = " ".join(err.format_message().split())
            where = getattr(getattr(err, "ctx", None), "command_path", None)
            hint = f" (see '{where} --help')" if where else ""
            _error_line(f"{message}{hint}")
            sys.exit(err.exit_code)
        except typer.Abort:
            _error_line("aborted")
            sys.exit(1)
        except TransferSimError as err:
            _error_line(str(err))
            sys.exit(2)
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    no_args_is_help=True,
    add_completion=False,
    # plain help (click's formatter): at 80 columns rich's option panels squeeze the help column so
    # narrow that the scenario paths one has to type are broken up; examples keep their own lines
    rich_markup_mode=None,
    help="Simulate and test the lifecycle of a contact transfer in a chat contact center.",
)


def _error_line(message: str) -> None:
    """``error: ...`` on stderr; a message of several problems (a scenario with three mistakes)
    gives one such line per problem, so each line stands alone in a log."""
    for line in str(message).splitlines() or [""]:
        typer.secho(f"error: {line}", err=True, fg=typer.colors.RED)


@app.callback()
def _root() -> None:
    """Simulate and test the lifecycle of a contact transfer in a chat contact center."""


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``message`` on stderr and exit non-zero (bad input is exit status 2; a failure to
    write, such as a full disk, is 1)."""
    _error_line(message)
    raise typer.Exit(code)
