"""Building the report: one self-contained ``index.html`` (charts embedded as data URIs, inline CSS,
no network) and the charts as PNG files beside it.

Why: a supervisor opens one file and reads the answer first, in plain words, then the scenario,
the charts and the tables. Everything in it is computed from a :class:`SimulationResult` and,
for experiments, from the tidy sweep frame (see :mod:`model.charts.frames`).

A sweep whose points failed says so first ("N of M points failed"), marks each failed point
"failed" in the heat map (a grey hatched cell), on the line chart and in the table, and lists the
failed points with their reasons under the charts: a blank cell is never left unexplained.
"""

from __future__ import annotations

import base64
import datetime as _dt
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.figure import Figure

from .. import charts
from ..charts.frames import default_key, number, numeric, param_columns
from ..charts.intervals import intervals_chart
from ..results.figures import figure
from .failures import failed_heatmap, failed_line, failed_rows, failures_headline
from .headline import headline, sweep_headline, timeout_path, tune_headline
from .intervals import interval_view
from .loading import ReportError, load_failures, load_results
from .scenario_rows import scenario_rows, scenario_value
from .tables import figures_table, glossary, occupancy_rows, sweep_table, tune_rows
from .words import FAILED, target_text

if TYPE_CHECKING:
    from ..results import SimulationResult
    from ..scenario import Scenario

__all__ = ["TEMPLATE", "build_report"]

TEMPLATE = "template.html.j2"
"""The Jinja2 template of the page, beside this module."""

_LOST = "transfer_abandonment_rate"


def _embed(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _is_result(x: object) -> bool:
    return hasattr(x, "metrics") and hasattr(x, "scenario")


def build_report(
    result_or_dir: SimulationResult | Scenario | str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    sweep: pd.DataFrame | None = None,
    tune: Mapping[str, Any] | pd.DataFrame | None = None,
    target: float | None = None,
    failures: list[dict[str, Any]] | None = None,
    points: int | None = None,
) -> Path:
    """Write ``out_dir/index.html`` (self-contained) and the charts as PNGs beside it; return the
    path of ``index.html``.

    Args:
        result_or_dir: a :class:`~model.results.SimulationResult`, a folder written by
            ``run --out`` or ``sweep --out``, or (with ``sweep``) the swept :class:`Scenario`.
        out_dir: default ``reports/<scenario name>/``.
        sweep: a tidy sweep frame (varied paths, then ``scope, key, metric, mean, ci_low, ci_high, n``);
            a tuning's explored curve has one scope, key and metric.
        tune: the outcome of a tuning (``TuneResult.to_dict()``, or a frame), shown as a table; its
            recommendation opens the answer.
        target: the target of the figure reported (e.g. ``0.05``; the transfer abandonment rate,
            or the tuned metric): drawn and used to recommend.
        failures: the sweep's failed points (``SweepResult.failures``: dicts with ``point``,
            ``params``, ``error``); default, for a sweep folder, its ``failures.json``. The report
            says "N of M points failed" first, marks each failed point "failed" in the heat map,
            the line chart and the table, and lists the points with their reasons under the charts.
        points: how many points the sweep has (M); default from the folder's ``sweep.json``, else
            the points in ``sweep`` plus the failed ones.
    """
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    result: SimulationResult | None = None
    scenario: Scenario | None = None
    backtest = None
    if isinstance(result_or_dir, (str, os.PathLike)):
        from .backtest_view import backtest_view

        backtest = backtest_view(result_or_dir)
        loaded, frame = load_results(result_or_dir)
        if frame is not None:
            scenario, sweep = loaded, frame if sweep is None else sweep  # type: ignore[assignment]
            stored, total = load_failures(result_or_dir)
            failures = stored if failures is None else failures
            points = total if points is None else points
        else:
            result = loaded  # type: ignore[assignment]
    elif _is_result(result_or_dir):
        result = result_or_dir  # type: ignore[assignment]
    else:
        scenario = result_or_dir  # type: ignore[assignment]
    if result is not None:
        scenario = result.scenario
    if result is None and sweep is None:
        raise ReportError("nothing to report: give a result, a results folder, or a scenario with a sweep frame")
    name = getattr(scenario, "name", None) or "report"
    out = Path(out_dir) if out_dir is not None else Path("reports") / str(name)
    out.mkdir(parents=True, exist_ok=True)

    figures: list[dict[str, str]] = []

    def add(slug: str, title: str, caption: str, make: Callable[[], Figure],
            into: list[dict[str, str]] = figures) -> None:
        try:
            fig = make()
        except (ValueError, KeyError) as err:  # the data cannot give this chart: say why in its place
            into.append({"slug": slug, "title": title, "caption": f"Not drawn: {err}", "src": "", "file": ""})
            return
        path = charts.save_png(fig, out / f"{slug}.png")
        into.append({"slug": slug, "title": title, "caption": caption, "src": _embed(path), "file": path.name})

    answer: list[str] = []
    sweep_key = None
    scope = "target"
    metric = _LOST
    tuning = tune if isinstance(tune, Mapping) else None
    failures = [dict(f) for f in failures or []]
    if failures and sweep is not None:
        if points is None:
            params_ = param_columns(sweep)
            have = len(sweep[params_].drop_duplicates()) if params_ and len(sweep) else 0
            points = have + len(failures)
        answer.append(failures_headline(failures, points))
    if tuning is not None:
        answer += tune_headline(tuning)
    if sweep is not None and len(sweep):
        # a sweep reports transfers per target; a tuning may explore any one scope and metric
        scope = "target" if (sweep["scope"] == "target").any() else str(sweep["scope"].iloc[0])
        metrics_in = list(dict.fromkeys(sweep["metric"]))
        metric = _LOST if _LOST in metrics_in else metrics_in[0]
        also = "transfer_success_rate" if "transfer_success_rate" in metrics_in else None
        sweep_key = default_key(sweep, scope, metric="transfers_requested")
        # a tuning's own recommendation is already said: the comparison alone, then
        answer += sweep_headline(sweep, scenario, None if tuning is not None else target, sweep_key,
                                 scope=scope, metric=metric)
        params = param_columns(sweep)
        xpath = timeout_path(sweep) or params[0]
        fixed = {p: scenario_value(scenario, p) for p in params if p != xpath} if scenario is not None else None
        if fixed:
            fixed = {p: v for p, v in fixed.items() if v is not None and (numeric(sweep[p]) == number(v)).any()}
        recommended = tuning.get("recommended") if tuning is not None else None
        failed_note = " Grey, marked \u201cfailed\u201d: points that failed (listed below)." if failures else ""
        add("sweep", "Transfer outcome across the sweep" if figure(metric).of == "transfer requests"
            else f"{figure(metric).label.capitalize()} across the settings explored",
            "Mean over replications with its 95 % confidence band; dashed: the target; dotted: the "
            "smallest setting that meets it with 95 % confidence." + failed_note,
            lambda: failed_line(charts.sweep_chart(sweep, xpath, metric=metric, also=also, scope=scope,
                                                   key=sweep_key, target=target, recommended=recommended,
                                                   fixed=fixed),
                                sweep, failures, xpath, metric=metric, scope=scope, key=sweep_key, fixed=fixed))
        if len(params) >= 2:
            ypath = [p for p in params if p != xpath][0]
            add("heatmap", "Two settings at once",
                f"{figure(metric).label.capitalize()} for every pair of settings (mean over replications)."
                + failed_note,
                lambda: failed_heatmap(sweep, failures, xpath, ypath, metric=metric, scope=scope, key=sweep_key,
                                       target=target, fixed=None))
    per_interval = interval_view(result) if result is not None else None
    if result is not None:
        answer += headline(result, target)
        if per_interval is not None:
            answer += per_interval["worst"][:1]
            per_interval["figures"] = []
            queue, lost = figure("queue_abandonment_rate").label, figure(_LOST).label.split(" (")[0]
            add("intervals", per_interval["title"],
                f"Mean over replications per interval of the clock, in run order: {figure('arrivals').label} with "
                f"their 95 % interval, {figure('staffed_agents').label} per group (the rota), and {queue} and "
                f"{lost} with their 95 % bands (a contact counts in the interval it arrived in, a transfer in the "
                f"one it was requested in). Shaded: the worst interval for {queue}.",
                lambda: intervals_chart(result), into=per_interval["figures"])
        if result.transfers is not None:
            add("time_to_join", "How long a transfer takes to be joined",
                "Cumulative share of all transfer requests joined by a given time; the curve levels off at "
                "the share that joins at all, since expired or abandoned transfers never join.",
                lambda: charts.time_to_join_cdf(result))
        add("outcomes", "How contacts and transfers end",
            "Left: every contact by the entry group of its service. Right: every transfer request by "
            "its target group.", lambda: charts.outcomes_chart(result))
        add("timeline", "Over the simulated day",
            "Mean over replications, sampled every few minutes; the grey band is the warm-up, not counted. "
            f"{figure('queue_abandonment_rate').label.capitalize()} is per interval of the run when it has them, "
            "else per clock hour from the event log. Chat slots on shift follow the rota; occupancy goes above "
            "100 % while agents whose shift ended finish their chats.",
            lambda: charts.timeline_chart(result))
    add("statechart", "The transfer lifecycle",
        "The statechart every simulated contact follows (states and events of LIFECYCLE.md).",
        charts.statechart_chart)

    tables = [figures_table(result)] if result is not None else []
    occupancy = occupancy_rows(result) if result is not None else []
    if sweep_key or (failures and sweep is not None):
        sweep_header, sweep_rows = sweep_table(sweep, sweep_key, failures, scope=scope)
    else:
        sweep_header, sweep_rows = [], []
    shown = [n for t in tables for n in t["definitions"]]
    shown += ["agent_occupancy"] if occupancy else []
    shown += per_interval["names"] if per_interval is not None else []
    shown += [metric] if sweep is not None and len(sweep) else []
    slugs = [f["slug"] for f in figures]
    failed_after = "heatmap" if "heatmap" in slugs else ("sweep" if "sweep" in slugs else None)

    env = Environment(loader=FileSystemLoader(Path(__file__).parent), autoescape=select_autoescape(["html", "j2"]))
    html = env.get_template(TEMPLATE).render(
        name=name,
        answer=answer,
        scenario=scenario_rows(scenario) if scenario is not None and hasattr(scenario, "simulation") else None,
        run={"replications": result.replications, "seed": result.seed} if result is not None else None,
        figures=figures,
        tables=tables,
        intervals=per_interval,
        backtest=backtest,
        occupancy=occupancy,
        sweep_header=sweep_header,
        sweep_rows=sweep_rows,
        failed_points=failed_rows(failures),
        failed_after=failed_after,
        failed_word=FAILED,
        tune_rows=tune_rows(tune),
        glossary=glossary(shown),
        target=None if target is None else
        f"{figure(metric).label.split(' (')[0]}: {target_text(figure(metric), target)}",
        generated=_dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
    )
    index = out / "index.html"
    tmp = index.with_name(".index.html.part")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(index)
    return index
