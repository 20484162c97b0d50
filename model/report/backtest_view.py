"""The report's backtest section: when a run folder holds a backtest (``backtest --out``, by default
``RUN_DIR/backtest/``), the report shows its chart and, per figure, the whole-day error, the mean
absolute error over intervals and the intervals outside the prediction interval (docs/backtest.md);
with several services, each service's lines too and their chart.

Why here: the backtest writes its own files next to a run; the report only reads them back, so a
report built before a backtest simply has no such section.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

import pandas as pd

from ..results.figures import figure

__all__ = ["backtest_view"]


def _text(metric: str, x: float) -> str:
    return "-" if x != x else figure(metric).text(x)


def backtest_view(run_dir: str | Path) -> dict[str, Any] | None:
    """``{"lines", "src", "file", "services_src", "services_file"}`` for the report, or ``None`` when the folder has no backtest."""
    d = Path(run_dir) / "backtest"
    summary_path = d / "backtest_summary.csv"
    if not summary_path.exists():
        return None
    s = pd.read_csv(summary_path, keep_default_na=False, na_values=[""])
    lines = []
    scopes = ["overall", "target"] + (["service"] if s.loc[s["scope"] == "service", "key"].nunique() > 1 else [])
    for r in s[s["scope"].isin(scopes)].itertuples(index=False):
        where = {"overall": "", "target": f" (transfers to {r.key})", "service": f" (service {r.key})"}[r.scope]
        points = r.unit == "points"
        err = "-" if r.error != r.error else (f"{r.error:+.1f} points" if points else f"{r.error:+.1f} {r.unit}")
        outside = int(r.outside) if not (isinstance(r.outside, float) and math.isnan(r.outside)) else 0
        listed = f" ({r.outside_intervals})" if outside and isinstance(r.outside_intervals, str) else ""
        lines.append(f"{figure(r.metric).label.capitalize()}{where}: observed {_text(r.metric, r.observed)}, "
                     f"simulated {_text(r.metric, r.simulated)}, error {err}; {outside} of {int(r.intervals)} "
                     f"intervals outside the prediction interval{listed}.")
    png, by_service = d / "backtest.png", d / "backtest_services.png"
    return {"lines": lines, "src": _src(png), "file": f"backtest/{png.name}" if png.exists() else "",
            "services_src": _src(by_service),
            "services_file": f"backtest/{by_service.name}" if by_service.exists() else ""}


def _src(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii") if png.exists() else ""
