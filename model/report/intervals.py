"""The report's view per interval of the clock (a run with ``result.intervals``, from ``run --by``
or ``simulate(interval=...)``): its title, the worst interval in words, and a small table.

The rows, their order (run order) and which interval is worst come from
:mod:`model.charts.intervals`, as ``run --by`` prints them; how each figure is written is its
record in :mod:`model.results.figures`. A run without intervals has no such section.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..charts.intervals import INTERVAL_FIGURES, WORST_BY, IntervalRow, interval_rows, interval_step, worst_interval
from ..results.figures import figure
from .words import value_ci

if TYPE_CHECKING:
    from ..results import SimulationResult

__all__ = ["interval_title", "worst_sentences", "interval_table", "interval_view"]


def interval_title(step: float | None) -> str:
    """``"Hour by hour"`` for 1 h intervals, ``"Every 15 min"``, ``"Every 2 h"``; ``"By interval
    of the clock"`` when the length is unknown."""
    if step is None:
        return "By interval of the clock"
    if step == 3600:
        return "Hour by hour"
    return f"Every {step / 3600:g} h" if step % 3600 == 0 else f"Every {step / 60:g} min"


def _short(name: str) -> str:
    return figure(name).label.split(" (")[0]


def worst_sentences(rows: Sequence[IntervalRow]) -> list[str]:
    """The worst interval in words, for queue abandonment, then for transfer abandonment when
    any transfer ended: "The worst interval is 12:00-13:00: queue abandonment 31.2 % (26.0–36.4 %)."
    (or that no interval lost a contact that way)."""
    out = []
    for i, name in enumerate(WORST_BY):
        has = [r for r in rows if r.get(name)[0] == r.get(name)[0]]
        if not has:
            if i == 0:
                out.append(f"No interval has a {_short(name)} figure (no contact ended after the warm-up).")
            continue
        worst = worst_interval(rows, name)
        if worst is None:
            out.append(f"{_short(name).capitalize()} is {figure(name).text(0.0)} in every interval.")
        else:
            lead = "The worst interval" if i == 0 else "For transfers, the worst interval"
            out.append(f"{lead} is {worst.span}: {_short(name)} {value_ci(figure(name), *worst.get(name))}.")
    return out


def interval_table(rows: Sequence[IntervalRow]) -> dict[str, Any]:
    """``{"title", "header", "rows"}``: a row per interval (its span, arrivals, the agents on shift
    of each group, then queue and transfer abandonment and service level as "mean (low – high)")."""
    groups = list(dict.fromkeys(g for r in rows for g in r.staffed))
    staffed = figure("staffed_agents")
    rates = [n for n in INTERVAL_FIGURES if n != "arrivals"]
    header = ["interval", figure("arrivals").label] + [f"{staffed.label}: {g}" for g in groups]
    header += [_short(n) for n in rates]
    body = []
    for r in rows:
        cells = [r.span, figure("arrivals").text(r.get("arrivals")[0])]
        cells += [staffed.text(r.staffed[g][0]) if g in r.staffed else "-" for g in groups]
        for n in rates:
            mean, lo, hi = r.get(n)
            info = figure(n)
            cells.append(f"{info.text(mean)} ({info.text(lo)} – {info.text(hi)})" if mean == mean else "-")
        body.append(cells)
    return {"title": "Per interval, mean (95 % CI)", "header": header, "rows": body}


def interval_view(result: SimulationResult) -> dict[str, Any] | None:
    """What the template's per-interval section shows (``title``, ``worst``, ``table``, ``names``:
    the figures it uses, for the glossary), or ``None`` when the run has no intervals."""
    iv = result.intervals
    if iv is None or len(iv) == 0:
        return None
    rows = interval_rows(result)
    if not rows:
        return None
    return {"title": interval_title(result.interval or interval_step(iv)), "worst": worst_sentences(rows),
            "table": interval_table(rows), "names": [*INTERVAL_FIGURES, "staffed_agents"]}
