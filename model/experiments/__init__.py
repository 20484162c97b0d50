"""Experiments: sweeps over scenario changes and tuning, on every core or a Dask cluster.

``sweep``/``run_sweep`` run a grid of changes (dotted scenario paths) with common random numbers
and an optional resumable Parquet store; a point that fails is recorded and never stops the others
(``SweepFailed`` carries the partial result; ``on_error="record"`` returns it); ``tune`` finds the
smallest setting that meets a target with 95 % confidence. See docs/experiments.md.
"""

from .executors import Runner, WorkerDied, make_runner
from .grid import ExperimentError, parse_range, parse_values, parse_vary
from .sweeps import SweepFailed, SweepResult, SweepWarning, run_sweep, sweep
from .tuning import TuneFailed, TuneResult, tune

__all__ = [
    "ExperimentError",
    "Runner",
    "SweepFailed",
    "SweepResult",
    "SweepWarning",
    "TuneFailed",
    "TuneResult",
    "WorkerDied",
    "make_runner",
    "parse_range",
    "parse_values",
    "parse_vary",
    "run_sweep",
    "sweep",
    "tune",
]
