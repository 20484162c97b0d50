"""Experiments: sweeps over scenario changes and tuning, on every core or a Dask cluster.

``sweep``/``run_sweep`` run a grid of changes (dotted scenario paths) with common random numbers
and an optional resumable Parquet store; ``tune`` finds the smallest setting that meets a target
with 95 % confidence. See docs/experiments.md.
"""

from .executors import Runner, make_runner
from .grid import ExperimentError, parse_range, parse_values, parse_vary
from .sweeps import SweepResult, SweepWarning, run_sweep, sweep
from .tuning import TuneResult, tune

__all__ = [
    "ExperimentError",
    "Runner",
    "SweepResult",
    "SweepWarning",
    "TuneResult",
    "make_runner",
    "parse_range",
    "parse_values",
    "parse_vary",
    "run_sweep",
    "sweep",
    "tune",
]
