"""The ``transfer-sim`` command with its subcommands registered, in the order ``--help`` lists them."""

from __future__ import annotations

from .analytic import estimate_cmd, validate_cmd
from .app import app
from .backtest import backtest_cmd
from .calibrate import calibrate_cmd
from .compare import compare_cmd
from .experiments import sweep_cmd, tune_cmd
from .plan import plan_cmd
from .run import report_cmd, run_cmd
from .statechart import conform_cmd, model_cmd
from .whatif import whatif_cmd

__all__ = ["app", "main"]

for _name, _command in (
    ("model", model_cmd),
    ("run", run_cmd),
    ("report", report_cmd),
    ("conform", conform_cmd),
    ("validate", validate_cmd),
    ("estimate", estimate_cmd),
    ("sweep", sweep_cmd),
    ("tune", tune_cmd),
    ("whatif", whatif_cmd),
    ("compare", compare_cmd),
    ("plan", plan_cmd),
    ("calibrate", calibrate_cmd),
    ("backtest", backtest_cmd),
):
    app.command(_name)(_command)


def main() -> None:  # pragma: no cover - console entry point
    """Run the command line (what the console script does)."""
    app()
