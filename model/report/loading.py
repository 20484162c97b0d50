"""Reading what a report is built from: a run folder (``run --out``) or a sweep folder
(``sweep --out``) with its scenario and its failed points."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import TransferSimError

if TYPE_CHECKING:
    from ..results import SimulationResult
    from ..scenario import Scenario

__all__ = ["ReportError", "load_results", "load_failures"]


class ReportError(TransferSimError, ValueError):
    """The results cannot be reported (a folder that holds no results, a sweep without its scenario)."""


def load_results(directory: str | os.PathLike[str]) -> tuple[SimulationResult | Scenario, pd.DataFrame | None]:
    """``(result or scenario, sweep frame or None)`` from a folder written by ``run --out`` or
    ``sweep --out``."""
    d = Path(directory)
    if not d.is_dir():
        raise ReportError(f"{d} is not a folder of results (written by 'transfer-sim run --out' or 'sweep --out')")
    if (d / "run.json").exists():
        from ..results.result import SimulationResult

        return SimulationResult.from_parquet(d), None
    if (d / "summary.parquet").exists():
        frame = pd.read_parquet(d / "summary.parquet")
        scenario = _sweep_scenario(d)
        return scenario, frame
    raise ReportError(f"{d} holds neither run.json (from 'run --out') nor summary.parquet (from 'sweep --out')")


def load_failures(directory: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], int | None]:
    """``(failed points, points in the grid)`` of a sweep folder: ``failures.json`` (empty when none
    failed) and the size of the grid from ``sweep.json`` (``None`` when it cannot tell)."""
    from ..experiments.store import SweepStore

    store = SweepStore(directory)
    try:
        failures = store.read_failures()
    except (OSError, ValueError) as err:
        raise ReportError(f"cannot read {Path(directory) / 'failures.json'}: {err}") from err
    return failures, store.total_points()


def _sweep_scenario(d: Path) -> Scenario:
    meta_path = d / "sweep.json"
    if not meta_path.exists():
        raise ReportError(f"{d} holds summary.parquet but no sweep.json: cannot tell which scenario was swept")
    meta = json.loads(meta_path.read_text())
    args = meta.get("arguments", meta)
    sc = args.get("scenario") if isinstance(args, Mapping) else None
    from ..scenario import load_scenario, scenario_from_dict

    if isinstance(sc, Mapping):
        return scenario_from_dict(dict(sc))
    if isinstance(sc, str) and Path(sc).exists():
        return load_scenario(sc)
    raise ReportError(f"{meta_path} does not name the swept scenario (looked for 'scenario' in its arguments)")
