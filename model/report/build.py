"""Building the report: one self-contained ``index.html`` (charts embedded as data URIs, inline CSS,
no network) and the charts as PNG files beside it.

Why: a supervisor opens one file and reads the answer first, in one or two plain sentences (what to
set, what it achieves with its 95 % range, what it costs in agent-hours and occupancy), then the
evidence: the scenario, the charts, the tables, a glossary of every figure shown, and the
statechart in an appendix. Everything is computed from a :class:`SimulationResult` and, for
experiments, from the tidy sweep frame (see :mod:`model.charts.frames`).

Which figures the answer is about is a *scope* (:mod:`model.results.scopes`): given (``scopes=``,
``--scope``), else for a sweep derived from what was varied (``groups.tech.agents`` ->
``target:tech``; otherwise all contacts), for a tuning the one it read, for a run every transfer
target. A sweep whose points failed says so right after the answer, marks each failed point
"failed" in the heat map, on the line chart and in the table, and lists them with their reasons.
"""

from __future__ import annotations

import base64
import datetime as _dt
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.figure import Figure

from .. import charts
from ..charts.frames import number, numeric, param_columns
from ..charts.intervals import intervals_chart
from ..results.figures import figure
from ..results.scopes import derive_scopes, parse_scope, select_scope
from .answers import best_point, cost_groups, sweep_answer, sweep_points, tune_answer, whose
from .failures import failed_heatmap, failed_line, failed_rows, failures_headline
from .glossary import glossary
from .headline import headline, sweep_headline, timeout_path
from .intervals import interval_view
from .loading import ReportError, load_failures, load_results
from .scenario_rows import scenario_rows, scenario_value
from .services import longest_wait, service_names, services_chart, services_table
from .tables import figures_table, occupancy_rows, sweep_table, tune_facts, tune_table
from .words import FAILED, target_text

if TYPE_CHECKING:
    from ..results import SimulationResult
    from ..scenario import Scenario

__all__ = ["TEMPLATE", "build_report", "sweep_scopes"]

TEMPLATE = "template.html.j2"
"""The Jinja2 template of the page, beside this module."""

_LOST = "transfer_abandonment_rate"


def _embed(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _is_result(x: object) -> bool:
    return hasattr(x, "metrics") and hasattr(x, "scenario")


def sweep_scopes(frame: pd.DataFrame, scopes: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """The scopes a sweep report (and ``sweep``'s output) is about: ``scopes`` as given, each checked
    against the frame (:class:`~model.results.scopes.UnknownScope` lists those it has), else derived
    from the varied paths and the targets that received transfers."""
    if scopes:
        return [select_scope(frame, s, what="this sweep") for s in dict.fromkeys(scopes)]
    sel = frame[(frame.scope == "target") & (frame.metric == "transfers_requested") & (frame["mean"] > 0)]
    return [parse_scope(s) for s in derive_scopes(param_columns(frame), sorted(set(sel.key.astype(str))))]


def build_report(
    result_or_dir: SimulationResult | Scenario | str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    sweep: pd.DataFrame | None = None,
    tune: Mapping[str, Any] | pd.DataFrame | None = None,
    target: float | None = None,
    failures: list[dict[str, Any]] | None = None,
    points: int | None = None,
    scopes: Sequence[str] | None = None,
) -> Path:
    """Write ``out_dir/index.html`` (self-contained) and the charts as PNGs beside it; return the
    path of ``index.html``.

    Args:
        result_or_dir: a :class:`~model.results.SimulationResult`, a folder written by
            ``run --out`` or ``sweep --out``, or (with ``sweep``) the swept :class:`Scenario`.
        out_dir: default ``reports/<scenario name>/``.
        sweep: a tidy sweep frame (varied paths, then ``scope, key, metric, mean, ci_low, ci_high, n``);
            a tuning's explored curve has one scope, key and metric.
        tune: the outcome of a tuning (``TuneResult.to_dict()``): its answer opens the page, the
            settings it tried and how it searched are tables in words.
        target: the target of the figure reported (``0.05``: the transfer abandonment rate, or the
            tuned metric): judged in the answer, which recommends the cheapest setting meeting it.
        failures: the sweep's failed points (``SweepResult.failures``); default, for a sweep folder,
            its ``failures.json``. Said after the answer, marked "failed" in the charts and the
            table, listed with their reasons under the charts.
        points: how many points the sweep has; default from the folder's ``sweep.json``.
        scopes: the scopes the answer is about (``"target:tech"``, ...); default as the module says.
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
    tuning = tune if isinstance(tune, Mapping) and "param" in tune else None
    if scopes:  # an unknown scope is refused before anything is written
        if result is not None:
            for s in scopes:
                select_scope(result.metrics, s)
        elif sweep is not None and tuning is None:
            sweep_scopes(sweep, scopes)
    name = getattr(scenario, "name", None) or "report"
    out = Path(out_dir) if out_dir is not None else Path("reports") / str(name)
    out.mkdir(parents=True, exist_ok=True)
    page = _Page(out)
    failures = [dict(f) for f in failures or []]
    metric = str(tuning["metric"]) if tuning is not None else _LOST
    sweep_tables: list[dict[str, Any]] = []
    shown: list[str] = []
    runs = result.replications if result is not None else (int(tuning["replications"]) if tuning else _runs(sweep))
    if sweep is not None and len(sweep):
        metric = str(sweep["metric"].iloc[0]) if tuning is not None else metric
        chosen = ([(str(tuning["scope"]), str(tuning["key"]))] if tuning is not None
                  else sweep_scopes(sweep, scopes))
        if tuning is not None:
            page.answer += tune_answer(tuning)
        for i, (kind, key) in enumerate(chosen):
            if tuning is None:
                page.answer += sweep_answer(sweep, scenario, kind, key, metric=metric, target=target)
            sweep_tables.append(_sweep_part(page, sweep, scenario, kind, key, metric, target, failures,
                                            tuning, suffix="" if i == 0 else f"-{i + 1}"))
        if failures:
            if points is None:
                params_ = param_columns(sweep)
                points = len(sweep[params_].drop_duplicates()) + len(failures) if params_ else len(failures)
            page.answer.append(failures_headline(failures, points))
        kind, key = chosen[0]
        if tuning is None and metric == _LOST and kind == "target":
            best, _ = best_point(sweep_points(sweep, scenario, kind, key, metric, target), figure(metric).better)
            page.evidence += sweep_headline(sweep, scenario, None, key, scope=kind, metric=metric,
                                            fixed=best.setting if best is not None else None)[:2]
        shown += [metric, "agent_occupancy"] + [i for t in sweep_tables for i in t["ids"]]
    elif failures and sweep is not None:
        page.answer.append(failures_headline(failures, points or len(failures)))
    per_interval = interval_view(result) if result is not None else None
    if result is not None:
        page.answer += headline(result, target, scopes)
        waits = longest_wait(result)
        page.answer += [waits] if waits else []
        if per_interval is not None:
            page.answer += per_interval["worst"][:1]
            per_interval["figures"] = []
            _interval_chart(page, result, per_interval)
            _services_chart(page, result, per_interval)
        _run_charts(page, result)
    page.add("statechart", "The transfer lifecycle",
             "The states and events every simulated contact goes through (LIFECYCLE.md).",
             charts.statechart_chart, into=page.appendix)

    tables = [figures_table(result)] if result is not None else []
    side = services_table(result) if result is not None else None
    tables += [side] if side is not None else []
    occupancy = occupancy_rows(result) if result is not None else []
    shown += [n for t in tables for n in t["ids"]] + (["agent_occupancy"] if occupancy else [])
    shown += per_interval["names"] if per_interval is not None else []
    slugs = [f["slug"] for f in page.figures]
    failed_after = "heatmap" if "heatmap" in slugs else ("sweep" if "sweep" in slugs else None)

    env = Environment(loader=FileSystemLoader(Path(__file__).parent), autoescape=select_autoescape(["html", "j2"]))
    html = env.get_template(TEMPLATE).render(
        name=name,
        answer=page.answer + page.evidence,
        lead=2,  # the answer proper: what to set (or what the settings give) and what it costs
        scenario=scenario_rows(scenario) if scenario is not None and hasattr(scenario, "simulation") else None,
        runs=runs,
        seed=result.seed if result is not None else (tuning.get("seed") if tuning else None),
        figures=page.figures,
        appendix=page.appendix,
        tables=tables,
        intervals=per_interval,
        backtest=backtest,
        occupancy=occupancy,
        sweep_tables=sweep_tables if (sweep_tables and tuning is None) else [],
        failed_points=failed_rows(failures),
        failed_after=failed_after,
        failed_word=FAILED,
        tune_table=tune_table(tuning),
        tune_facts=tune_facts(tuning),
        glossary=glossary(shown, scenario if hasattr(scenario, "services") else None, runs),
        target=None if target is None else
        f"{figure(metric).label.split(' (')[0]} {target_text(figure(metric), target)}",
        generated=_dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
    )
    index = out / "index.html"
    tmp = index.with_name(".index.html.part")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(index)
    return index


class _Page:
    """What the page collects while it is built: the answer and the evidence sentences, the charts
    (each drawn, saved as a PNG beside the page and embedded) and the appendix."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.answer: list[str] = []
        self.evidence: list[str] = []
        self.figures: list[dict[str, str]] = []
        self.appendix: list[dict[str, str]] = []

    def add(self, slug: str, title: str, caption: str, make: Callable[[], Figure],
            into: list[dict[str, str]] | None = None) -> None:
        target = self.figures if into is None else into
        try:
            fig = make()
        except (ValueError, KeyError) as err:  # the data cannot give this chart: say why in its place
            target.append({"slug": slug, "title": title, "caption": f"Not drawn: {err}", "src": "", "file": ""})
            return
        path = charts.save_png(fig, self.out / f"{slug}.png")
        target.append({"slug": slug, "title": title, "caption": caption, "src": _embed(path), "file": path.name})


def _runs(sweep: pd.DataFrame | None) -> int | None:
    if sweep is None or not len(sweep) or "n" not in sweep:
        return None
    return int(sweep["n"].max())


def _sweep_part(page: _Page, sweep: pd.DataFrame, scenario: Scenario | None, kind: str, key: str, metric: str,
                target: float | None, failures: list[dict[str, Any]], tuning: Mapping[str, Any] | None,
                suffix: str) -> dict[str, Any]:
    """The line chart, the heat map (two settings or more) and the table of one scope of a sweep."""
    params = param_columns(sweep)
    info = figure(metric)
    xpath = timeout_path(sweep) or params[0]
    best, meets = (best_point(sweep_points(sweep, scenario, kind, key, metric, target), info.better)
                   if target is not None else (None, False))
    held = dict(best.setting) if best is not None else {
        p: scenario_value(scenario, p) for p in params} if scenario is not None else {}
    fixed = {p: v for p, v in held.items() if p != xpath and v is not None and isinstance(v, (int, float, str))
             and (numeric(sweep[p]) == number(v)).any()} or None
    recommended = (tuning.get("recommended") if tuning is not None else
                   (best.setting[xpath] if best is not None and meets else None))
    who = whose(info, kind, key)
    also = "transfer_success_rate" if info.name == _LOST and "transfer_success_rate" in set(sweep["metric"]) else None
    failed_note = " Grey, marked \u201cfailed\u201d: points that failed (listed below)." if failures else ""
    title = ("How transfers end across the sweep" if info.of == "transfer requests" and tuning is None
             else f"{info.label.capitalize()} across the settings explored")
    page.add(f"sweep{suffix}", f"{title}: {who}",
             "Mean over the simulated runs with its 95 % range as a band; dashed: the target; dotted: the "
             "cheapest setting that meets it with 95 % confidence." + failed_note,
             lambda: failed_line(charts.sweep_chart(sweep, xpath, metric=metric, also=also, scope=kind, key=key,
                                                    target=target, recommended=recommended, fixed=fixed),
                                 sweep, failures, xpath, metric=metric, scope=kind, key=key, fixed=fixed))
    if len(params) >= 2:
        ypath = [p for p in params if p != xpath][0]
        page.add(f"heatmap{suffix}", f"Two settings at once: {who}",
                 f"{info.label.capitalize()} for every pair of settings (mean over the simulated runs)." + failed_note,
                 lambda: failed_heatmap(sweep, failures, xpath, ypath, metric=metric, scope=kind, key=key,
                                        target=target, fixed=fixed))
    return sweep_table(sweep, key, failures, scope=kind, target=target,
                       groups=cost_groups(params, scenario, kind, key))


def _interval_chart(page: _Page, result: SimulationResult, view: dict[str, Any]) -> None:
    queue, lost = figure("queue_abandonment_rate").label, figure(_LOST).label.split(" (")[0]
    page.add("intervals", view["title"], f"Mean over the simulated runs per interval of the clock, in run order: "
             f"{figure('arrivals').label} with their 95 % range, {figure('staffed_agents').label} per group (the "
             f"rota), and {queue} and {lost} with their 95 % bands (a contact counts in the interval it arrived in, "
             f"a transfer in the one it was requested in). Shaded: the worst interval for {queue}.",
             lambda: intervals_chart(result), into=view["figures"])


def _services_chart(page: _Page, result: SimulationResult, view: dict[str, Any]) -> None:
    if not service_names(result):
        return
    wait, level = figure("wait_mean").label, figure("service_level").label.split(" (")[0]
    page.add("services", "Services side by side", f"Per interval of the clock, in run order: the {wait} and the "
             f"{level} of each service, mean over the simulated runs with its 95 % band (a contact counts in the "
             "interval it arrived in).", lambda: services_chart(result), into=view["figures"])


def _run_charts(page: _Page, result: SimulationResult) -> None:
    if result.transfers is not None:
        page.add("time_to_join", "How long a transfer takes to be joined",
                 "Cumulative share of all transfer requests joined by a given time; the curve levels off at "
                 "the share that joins at all, since transfers lost to the timer or to the customer never join. "
                 "The legend counts requests per simulated run.",
                 lambda: charts.time_to_join_cdf(result))
    page.add("outcomes", "How contacts and transfers end",
             "Left: every contact by the entry group of its service. Right: every transfer request by "
             "its target group.", lambda: charts.outcomes_chart(result))
    page.add("timeline", "Over the simulated day",
             "Mean over the simulated runs; the grey band is the warm-up, not counted. Transfers waiting and "
             f"{figure('queue_abandonment_rate').label} are per interval of the clock. Chat slots on shift follow "
             "the rota; occupancy goes above 100 % while agents whose shift ended finish their chats.",
             lambda: charts.timeline_chart(result))

