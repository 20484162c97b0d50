"""The what-if page: the data of a :class:`~.grid.WhatIf` laid out for the template, and the page.

Why apart from the grid: what a figure's text is (``"4.2 %"``, ``"95 % CI 3.1 - 5.3 %"``) is decided
here, once, in Python, with the figures' own formats (:mod:`model.results.figures`); the page's
script only looks texts up, so what it shows is exactly what ``whatif.csv`` says, formatted as the
report and the CLI format it. Numbers are embedded for the charts only.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..experiments.tuning import parse_scope
from ..results.figures import FIGURES, FigureInfo
from .grid import WHOLE_RUN
from .words import figure_label, glossary, scope_title, setting_label, setting_texts, value_at

if TYPE_CHECKING:
    from .grid import WhatIf

__all__ = ["TEMPLATE", "ACCENT", "page_data", "figure_text", "ci_text", "render"]

TEMPLATE = "template.html.j2"
"""The Jinja2 template of the page, beside this module."""

ACCENT = "#0072B2"
"""The colour of a figure that has none of its own (the Okabe-Ito blue)."""

CHART_DIGITS = 4
"""Significant digits of the numbers embedded for the charts per interval (pixels need no more)."""


def _num(x: float, digits: int | None = None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return float(f"{x:.{digits}g}") if digits else float(x)


def figure_text(info: FigureInfo, mean: float) -> str:
    """The headline text of a figure: ``"4.2 %"``, ``"31.5 s"``; ``"-"`` without a value."""
    return info.text(mean)


def ci_text(info: FigureInfo, mean: float, lo: float, hi: float, n: int) -> str:
    """The text beside a figure: ``"95 % CI 3.1 - 5.3 %"``; why there is none otherwise."""
    if not math.isfinite(mean):
        return "no data at this setting"
    if n < 2 or not (math.isfinite(lo) and math.isfinite(hi)):
        return "no 95 % CI: one replication"
    low = info.text(lo).removesuffix(f" {info.unit}")
    return f"95 % CI {low} - {info.text(hi)}"


def page_data(w: WhatIf) -> dict[str, Any]:
    """Everything the page shows, as plain data (embedded as JSON; the template lays out its start).

    ``params``: per slider its path, label, value texts and starting index (the scenario's own
    value when it is on the grid, else the first). ``figures``: per headline figure its scope,
    metric, labels and unit. ``values[point][figure] = [mean, lo, hi]`` and
    ``texts[point][figure] = [text, ci text]``, points in grid order (first path outermost).
    ``intervals``: ``None``, or the intervals' ``starts``, ``spans`` and
    ``values[point][figure][interval] = [mean, lo, hi]``.
    """
    from ..charts.intervals import span_text

    sc = w.scenario
    params = []
    for path, values in w.vary.items():
        own = value_at(sc, path)
        start = next((j for j, v in enumerate(values) if value_at(sc.with_changes({path: v}), path) == own), 0)
        params.append({"path": path, "label": setting_label(path), "texts": setting_texts(sc, path, values),
                       "start": start})
    figures = []
    for scope, metric in w.figures():
        kind, key = parse_scope(scope)
        info = FIGURES[metric]
        figures.append({"scope": scope, "metric": metric, "label": figure_label(metric),
                        "title": scope_title(kind, key), "unit": info.unit, "axis": info.axis_label,
                        "colour": info.colour or ACCENT})
    slot = {(f["scope"], f["metric"]): j for j, f in enumerate(figures)}
    starts = list(w.starts)
    at = {s: k for k, s in enumerate(starts)}
    empty = [None, None, None]
    values = [[list(empty) for _ in figures] for _ in range(w.points)]
    texts = [[["-", "no data at this setting"] for _ in figures] for _ in range(w.points)]
    per_interval = [[[list(empty) for _ in starts] for _ in figures] for _ in range(w.points)]
    for r in w.frame.itertuples(index=False):
        j = slot[(r.scope, r.metric)]
        if r.interval == WHOLE_RUN:
            info = FIGURES[r.metric]
            values[r.point][j] = [_num(r.mean), _num(r.ci_low), _num(r.ci_high)]
            texts[r.point][j] = [figure_text(info, r.mean), ci_text(info, r.mean, r.ci_low, r.ci_high, r.n)]
        else:
            per_interval[r.point][j][at[r.interval]] = [_num(x, CHART_DIGITS) for x in (r.mean, r.ci_low, r.ci_high)]
    intervals = None
    if starts:
        intervals = {"starts": starts, "spans": [span_text(s, w.interval) for s in starts], "values": per_interval}
    return {"scenario": sc.name, "replications": w.replications, "seed": w.seed, "params": params,
            "figures": figures, "values": values, "texts": texts, "intervals": intervals}


def _by_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return "hour" if seconds == 3600 else (f"{seconds / 3600:g} h" if seconds % 3600 == 0 else f"{seconds / 60:g} min")


def render(w: WhatIf) -> str:
    """The page as one HTML string; the same :class:`~.grid.WhatIf` gives the same bytes."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    data = page_data(w)
    start = sum(p["start"] * math.prod(len(q["texts"]) for q in data["params"][k + 1:])
                for k, p in enumerate(data["params"]))
    cards: dict[str, list[dict[str, Any]]] = {}
    for j, f in enumerate(data["figures"]):
        kind = parse_scope(f["scope"])[0]
        title = "Agent occupancy" if kind == "group" else f["title"]
        label = f["title"].removeprefix("Group ") if kind == "group" else f["label"]
        cards.setdefault(title, []).append({**f, "index": j, "row_label": label, "text": data["texts"][start][j][0],
                                            "ci": data["texts"][start][j][1]})
    blob = json.dumps(data, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    blob = blob.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    env = Environment(loader=FileSystemLoader(Path(__file__).parent), autoescape=select_autoescape(["html", "j2"]),
                      keep_trailing_newline=True)
    return env.get_template(TEMPLATE).render(
        name=w.scenario.name, replications=w.replications, seed=w.seed, points=w.points,
        params=data["params"], cards=cards, glossary=glossary(w.scenario, w.replications),
        by=_by_text(w.interval), has_intervals=data["intervals"] is not None, data_json=blob,
    )
