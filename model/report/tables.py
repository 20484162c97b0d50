"""The report's tables: the figures of a run (a row per figure, a column per scope), agent
occupancy, the sweep (a row per point), the tuning, and what each figure means.

Which figures each table shows is chosen here; how a figure is written (unit, format, meaning)
is its record in :mod:`model.results.figures`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..charts.frames import number, param_columns
from ..results.figures import figure
from .headline import transfer_targets
from .words import FAILED, value_text

if TYPE_CHECKING:
    from ..results import SimulationResult

__all__ = ["TABLE_FIGURES", "SWEEP_FIGURES", "figures_table", "occupancy_rows", "glossary", "sweep_table",
           "tune_rows"]

TABLE_FIGURES: tuple[str, ...] = (
    "arrivals", "completed", "transfers_requested", "transfers_accepted",
    "transfer_abandonment_rate", "transfer_success_rate", "transfer_service_level",
    "time_to_join_mean", "time_to_join_p90", "queue_abandonment_rate",
    "abandonment_rate", "rejects_per_transfer", "offers_per_transfer",
)
"""The figures of a run's table, in this order."""

SWEEP_FIGURES: tuple[str, ...] = ("transfer_abandonment_rate", "transfer_success_rate", "time_to_join_p90")
"""The figures of the sweep table, per point (those the sweep frame has; a tuning has one)."""

def _interval(name: str, mean: float, lo: float, hi: float) -> str:
    info = figure(name)
    return f"{info.text(mean)} ({info.text(lo)} – {info.text(hi)})"


def _column(result: SimulationResult, scope: str, key: str) -> dict[str, str]:
    table = result.table(scope, key)
    return {name: _interval(name, *(float(table.loc[name, c]) for c in ("mean", "ci_low", "ci_high")))
            for name in TABLE_FIGURES if name in table.index}


def figures_table(result: SimulationResult) -> dict[str, Any]:
    """One table: a row per figure, a column per scope ("All contacts", then each transfer target,
    most transfers first); each cell "mean (low – high)", blank where the scope has no such figure."""
    columns = [("All contacts", _column(result, "overall", "all"))]
    columns += [(f"Transfers to {t}", _column(result, "target", t)) for t in transfer_targets(result)]
    names = list(columns[0][1])
    return {
        "title": "Figures, mean (95 % CI)",
        "header": ["figure"] + [c for c, _ in columns],
        "rows": [[n] + [cells.get(n, "") for _, cells in columns] for n in names],
        "definitions": {n: figure(n).definition for n in names},
    }


def occupancy_rows(result: SimulationResult) -> list[dict[str, str]]:
    """Agent occupancy per group: ``group``, ``mean``, ``ci`` (``"61.0 % – 64.2 %"``)."""
    m = result.metrics
    occ = m[(m.scope == "group") & (m.metric == "agent_occupancy")]
    info = figure("agent_occupancy")
    return [{"group": str(r.key), "mean": info.text(r.mean), "ci": f"{info.text(r.ci_low)} – {info.text(r.ci_high)}"}
            for r in occ.itertuples()]


def glossary(names: Sequence[str]) -> list[dict[str, str]]:
    """``name``, ``label``, ``definition`` of each figure named (unknown names are left out)."""
    from ..results.figures import FIGURES

    return [{"name": n, "label": FIGURES[n].label, "definition": FIGURES[n].definition}
            for n in dict.fromkeys(names) if n in FIGURES]


def _who(scope: str, key: str) -> str:
    return {"target": key, "overall": "all contacts"}.get(scope, f"{scope} {key}")


def sweep_table(frame: pd.DataFrame, key: str | None, failures: Sequence[Mapping[str, Any]] | None = None,
                *, scope: str = "target") -> tuple[list[str], list[list[str]]]:
    """The sweep table: a row per point (the varied values, then the figures of ``SWEEP_FIGURES``
    the frame has - else its own - for ``scope``/``key``); a failed point's figures read "failed"."""
    params = param_columns(frame)
    present = set(frame["metric"]) if len(frame) else set()
    wanted = [m for m in SWEEP_FIGURES if m in present] or list(dict.fromkeys(frame["metric"]))
    header = params + ([f"{m} ({_who(scope, key)})" for m in wanted] if key else ["result"])
    rows = _sweep_rows(frame, key, params, wanted, scope) if key else []
    failed = [f for f in failures or [] if all(p in (f.get("params") or {}) for p in params)]
    if not failed:
        return header, rows
    keyed = [(tuple(r[: len(params)]), r) for r in rows]
    keyed += [(tuple(value_text(f["params"][p]) for p in params),
               [value_text(f["params"][p]) for p in params] + [FAILED] * (len(header) - len(params)))
              for f in failed]

    def order(item: tuple[tuple[str, ...], list[str]]) -> tuple[Any, ...]:
        out = []
        for v in item[0]:
            x = number(v)
            out.append((0, x, "") if x == x else (1, 0.0, v))
        return tuple(out)

    return header, [r for _, r in sorted(keyed, key=order)]


def _sweep_rows(frame: pd.DataFrame, key: str, params: list[str], wanted: list[str], scope: str) -> list[list[str]]:
    sel = frame[(frame.scope == scope) & (frame.key.astype(str) == key) & (frame.metric.isin(wanted))]
    rows = []
    for values, g in sel.groupby(params, sort=True, observed=True):
        values = values if isinstance(values, tuple) else (values,)
        cells = [value_text(v) for v in values]
        by = g.set_index("metric")
        for m in wanted:
            if m not in by.index:
                cells.append("-")
                continue
            r = by.loc[m]
            cells.append(_interval(m, r["mean"], r["ci_low"], r["ci_high"]))
        rows.append(cells)
    return rows


def tune_rows(tune: Mapping[str, Any] | pd.DataFrame | object | None) -> list[tuple[str, str]]:
    """A tuning's outcome as ``(field, value)`` rows (a mapping, a frame, or an object's fields)."""
    if tune is None:
        return []
    if isinstance(tune, pd.DataFrame):
        return [(str(i), ", ".join(f"{k}={v}" for k, v in r.items())) for i, r in tune.iterrows()]
    data = tune if isinstance(tune, Mapping) else getattr(tune, "__dict__", {"result": tune})
    return [(str(k), str(v)) for k, v in data.items() if not str(k).startswith("_")]
